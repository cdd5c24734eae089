// A deterministic simulation of an end-to-end encrypted meeting under churn, with an
// HONEST server (signaling/PROTOCOL.md): pages (SessionKeys as session-e2ee.js and
// session-roster.js wire it, a media worker's key state, media-rings.js, and its
// missing-key reports) joined through a server that keeps each connection's messages in
// order but interleaves connections at random, announces joins, leaves and resumes as
// the real one does (participant_joined before the newcomer's first message, its
// welcome's roster, participant_resumed, participant_left after the leaver's last
// relayed message), drops what is meant for a parked or departed member, drops a
// connection's queues when it breaks, drops relayed key messages beyond 128 waiting,
// and holds each member to its key-message budget.
//
// Time is the node:test mock clock (setTimeout and Date): the key schedule's timers
// (its flush, the rotation's delay, identity asks, key requests, chat waits) run only
// when the simulation moves time on. Messages are handed to a page in bursts, without
// waiting in between (a page whose key queue is busy gets several before it handles
// any), and everything is let run to rest before the server reads again: what each page
// sends depends only on the order of what it got, so a seed gives one run, whatever the
// speed of WebCrypto.
//
// The checks (checkSafety, problems: churn-checks.mjs) are the properties the key
// schedule promises (e2ee/FORMAT.md): every current member reads every other's frames
// and chat, verifies every other, shows no warning; a newcomer (or a resumed page) never
// gets a key its sender had when it heard of it; a key in use after a member left is not
// one that member holds or can ratchet to.
//
// This file is the server, its clock and its steps (Sim); a page is churn-page.mjs's
// Page, and a random schedule played to its end churn-schedule.mjs's runSchedule.
import { mock } from 'node:test';
import './wall-step.mjs'; // the key schedule's spans (performance.now) on the mock clock too

import { MeetingCrypto } from '../static/js/e2ee/session-keys.js';
import { CAMERA, VP8 } from '../static/js/e2ee/frame.js';
import { Page } from './churn-page.mjs';
import { FRAME, SimChecks } from './churn-checks.mjs';

/** prng is mulberry32: a seeded generator of numbers in [0, 1). */
export function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const E2EE_QUEUE = 128; // PROTOCOL.md: relayed key messages beyond this many waiting are dropped

/** Sim is the honest server and the pages, on the mock clock. */
export class Sim extends SimChecks {
  constructor(seed, meeting, opts = {}) {
    super();
    this.rnd = prng(seed);
    this.meeting = meeting;
    this.opts = { sendShare: 0.6, budget: true, ...opts };
    this.members = new Map(); // id -> {page (null: parked), epoch, tokens, refilled}
    this.gone = new Set(); // ids that left
    this.pages = []; // every page ever made
    this.next = 1;
    this.activity = 0;
    this.order = 0; // counts the calls into pages, to order a chat against a leave heard at the same moment
    this.pending = new Set();
    this.maker = new Map(); // hex key -> {page, at}: who made a key, as its at-th own key
    this.chats = []; // every chat text a page got: {from, sent, to, text}
    this.log = [];
    this.errors = [];
  }

  static async create(seed, opts) {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
    const meeting = await MeetingCrypto.fromSecret(new Uint8Array(16).fill(7));
    return new Sim(seed, meeting, opts);
  }

  close() {
    for (const p of this.pages) if (p.alive) p.keys.close();
    mock.timers.reset();
  }

  pick(list) {
    return list[Math.floor(this.rnd() * list.length)];
  }

  track(promise) {
    const p = Promise.resolve(promise).catch(() => {});
    this.pending.add(p);
    p.then(() => this.pending.delete(p));
    return promise;
  }

  live() {
    return this.pages.filter((p) => p.alive);
  }

  note(what) {
    this.log.push(`${Date.now() - 1_700_000_000_000}ms ${what}`);
  }

  // ------------------------------------------------------------ the server

  /** admit makes a new member: participant_joined to everyone, then its welcome. */
  admit({ sends = this.rnd() < this.opts.sendShare } = {}) {
    const id = `p-${this.next++}`;
    const page = new Page(this, id, 0, { sends });
    this.pages.push(page);
    const ids = [...this.members.keys()];
    for (const m of this.members.values()) if (m.page) m.page.inbox.push({ type: 'joined', id, name: page.name });
    const size = this.members.size + 1;
    this.members.set(id, { page, epoch: 0, tokens: 20 + 4 * size, refilled: Date.now() });
    page.inbox.push({ type: 'welcome', ids, names: this.names(ids) });
    this.note(`join ${id}${sends ? ' (sends)' : ''}`);
    return page;
  }

  /** leave takes a member out (a leave it sent, a removal, a grace that ran out). */
  removeMember(id, why) {
    const m = this.members.get(id);
    if (!m) return;
    if (m.page) m.page.die();
    this.members.delete(id);
    this.gone.add(id);
    for (const o of this.members.values()) if (o.page) o.page.inbox.push({ type: 'left', id });
    this.note(`${why} ${id}`);
  }

  /** drop breaks a member's connection: the server reads `read` more of its messages, the rest is lost. */
  drop(id, read) {
    const m = this.members.get(id);
    if (!m || !m.page) return;
    for (let i = 0; i < read && m.page.outbox.length; i++) this.handle(m.page, m.page.outbox.shift());
    if (!m.page || !this.members.has(id)) return; // the read took it out (its leave)
    m.page.die();
    m.page = null;
    this.note(`drop ${id}`);
  }

  /** resume brings a parked member back on a new page: its welcome, participant_resumed to the others. */
  resume(id, { sends = this.rnd() < this.opts.sendShare } = {}) {
    const m = this.members.get(id);
    if (!m || m.page) return null;
    m.epoch++;
    const page = new Page(this, id, m.epoch, { sends });
    this.pages.push(page);
    m.page = page;
    const ids = [...this.members.keys()].filter((x) => x !== id);
    page.inbox.push({ type: 'welcome', ids, names: this.names(ids) });
    for (const [oid, o] of this.members) if (oid !== id && o.page) o.page.inbox.push({ type: 'resumed', id, name: page.name });
    this.note(`resume ${id}#${m.epoch}${sends ? ' (sends)' : ''}`);
    return page;
  }

  /** names are the current pages' names of members ids (none for a parked one). */
  names(ids) {
    return ids.map((id) => this.members.get(id).page).filter(Boolean).map((p) => p.name);
  }

  /** allow is a member's key-message budget: 20 + 4·N at once, 10 + 2·N a second. */
  allow(m) {
    if (!this.opts.budget) return true;
    const n = Math.max(2, this.members.size);
    const now = Date.now();
    m.tokens = Math.min(20 + 4 * n, m.tokens + ((now - m.refilled) / 1000) * (10 + 2 * n));
    m.refilled = now;
    if (m.tokens < 1) return false;
    m.tokens -= 1;
    return true;
  }

  relay(from, to, data) {
    const m = this.members.get(to);
    if (!m) {
      if (!this.gone.has(to)) this.errors.push(`${from} sent to ${to}, never a member`);
      return;
    }
    if (!m.page) return; // parked: dropped
    if (m.page.inbox.filter((x) => x.type === 'e2ee').length >= E2EE_QUEUE) {
      this.note(`queue full: ${from} -> ${to} dropped`);
      return;
    }
    m.page.inbox.push({ type: 'e2ee', from, data });
  }

  /** handle is the server reading one message of page's connection. */
  handle(page, msg) {
    const m = this.members.get(page.id);
    if (!m || m.page !== page) return;
    switch (msg.type) {
      case 'e2ee':
        if (!this.allow(m)) {
          this.note(`rate limited ${page.id}`);
          return;
        }
        if (msg.to) this.relay(page.id, msg.to, msg.data);
        else for (const id of this.members.keys()) if (id !== page.id) this.relay(page.id, id, msg.data);
        return;
      case 'e2ee_batch':
        if (!this.allow(m)) {
          this.note(`rate limited ${page.id}`);
          return;
        }
        for (const { to, data } of msg.envelopes) this.relay(page.id, to, data);
        return;
      case 'chat':
        for (const o of this.members.values()) if (o.page) o.page.inbox.push({ type: 'chat', from: page.id, text: msg.text, sent: msg.sent });
        return;
      case 'leave':
        this.removeMember(page.id, 'leave');
        return;
      default:
        throw new Error(`unknown client message ${msg.type}`);
    }
  }

  /** serve reads up to n messages of one connection that has some. */
  serve(n) {
    const ready = this.live().filter((p) => p.outbox.length);
    if (!ready.length) return false;
    const page = this.pick(ready);
    for (let i = 0; i < n && page.alive && page.outbox.length; i++) this.handle(page, page.outbox.shift());
    return true;
  }

  /** hand gives up to n waiting messages to one page, in order, without a pause between. */
  hand(n) {
    const ready = this.live().filter((p) => p.inbox.length);
    if (!ready.length) return false;
    const page = this.pick(ready);
    for (let i = 0; i < n && page.alive && page.inbox.length; i++) page.deliver(page.inbox.shift());
    return true;
  }

  // ------------------------------------------------------------ time

  /** rest lets every page run until nothing is left to do at this moment. */
  async rest() {
    for (let round = 0; ; round++) {
      if (round > 10000) throw new Error('no rest');
      const before = this.activity;
      const waits = [...this.pending];
      for (const p of this.pages) if (p.alive) waits.push(p.keys.queue, p.wq);
      await Promise.all(waits);
      mock.timers.tick(0);
      await Promise.all([...this.pending]);
      if (this.activity === before) return;
    }
  }

  /** advance moves the clock on by ms, in steps, letting everything rest at each. */
  async advance(ms, step = 50) {
    for (let left = ms; left > 0; left -= step) {
      mock.timers.tick(Math.min(step, left));
      await this.rest();
    }
  }

  /** frames: every publishing page sends a frame, every page that lists it decrypts it. */
  async frames() {
    const out = [];
    for (const s of this.live()) {
      if (!s.publishing || !s.rings.canEncrypt()) continue;
      const frame = await s.rings.encrypt(FRAME, VP8, CAMERA);
      s.framesUsed.push({ t: Date.now(), raw: s.sendingRaw });
      out.push([s, frame]);
    }
    for (const [s, frame] of out) {
      for (const r of this.live()) {
        if (r === s || !r.participants.has(s.id) || !s.alive) continue;
        try {
          await r.rings.decrypt(s.id, frame, VP8);
          r.reports.decoded(s.id);
        } catch (err) {
          if (err.code === 'unknown-key' || err.code === 'auth') r.reports.failed(s.id);
        }
      }
    }
    await this.rest();
  }

  /** flushAll delivers everything queued, both ways, in random order. */
  async flushAll() {
    for (let i = 0; i < 100000; i++) {
      const r = this.rnd();
      const did = r < 0.5 ? this.serve(1 + Math.floor(this.rnd() * 4)) || this.hand(1 + Math.floor(this.rnd() * 6))
        : this.hand(1 + Math.floor(this.rnd() * 6)) || this.serve(1 + Math.floor(this.rnd() * 4));
      // A millisecond a round: a backlog is not read in no time (the key budget refills).
      mock.timers.tick(1);
      await this.rest();
      if (!did) return;
    }
    throw new Error('flushAll: no end');
  }
}
