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
// The checks (checkSafety, checkLive) are the properties the key schedule promises
// (e2ee/FORMAT.md): every current member reads every other's frames and chat, verifies
// every other, shows no warning; a newcomer (or a resumed page) never gets a key its
// sender had when it heard of it; a key in use after a member left is not one that
// member holds or can ratchet to.
import { mock } from 'node:test';
import './wall-step.mjs'; // the key schedule's spans (performance.now) on the mock clock too

import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { UNREADABLE } from '../static/js/e2ee/session-chat.js';
import { MediaRings } from '../static/js/e2ee/media-rings.js';
import { MissingReports } from '../static/js/e2ee/key-requests.js';
import { CAMERA, VP8 } from '../static/js/e2ee/frame.js';
import { ratchet } from '../static/js/e2ee/keys.js';
import { decryptChat } from '../static/js/e2ee/chat-keys.js';

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

const hex = (b) => Buffer.from(b).toString('hex');
const ROTATE_DELAY_MS = 300; // session-keys.js: a rotated key is used this long after it is sent
const E2EE_QUEUE = 128; // PROTOCOL.md: relayed key messages beyond this many waiting are dropped
const FRAME = Uint8Array.from([0x31, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]); // a VP8 delta frame

/** A Page is one page's session in the meeting: one connection, one SessionKeys. */
class Page {
  constructor(sim, id, epoch, { sends }) {
    this.sim = sim;
    this.id = id;
    this.epoch = epoch; // 0 for a join; each resume of the id is a new page, one higher
    this.name = `${id}#${epoch}`;
    this.sends = sends; // opens a publish connection (startSending) after the welcome
    this.alive = true;
    this.started = false;
    this.publishing = false;
    this.inbox = []; // server -> page, in order
    this.outbox = []; // page -> server, in order
    this.participants = new Set(); // session-roster.js: this.participants
    this.departed = new Set(); // session-roster.js: this.departed
    this.rings = new MediaRings(); // the worker's key state
    this.rings.setSelf(id);
    this.wq = Promise.resolve(); // the worker's message queue
    this.sendingRaw = null; // the own key the worker encrypts with
    this.ownHist = []; // every own key the schedule made, in order: hex
    this.heard = new Map(); // page name -> this.ownHist.length when this page heard of that page's arrival
    this.knows = new Set(); // the names of the pages this page has heard of (welcome, joined, resumed)
    this.heardLeft = new Map(); // id -> {seq, t} when this page heard that id left
    this.installed = []; // every key this page's worker was given, and the earlier keys given for chat only (past): {pid, raw (hex), past}
    this.framesUsed = []; // {t, raw} of the frames this page sent
    this.chatsUsed = []; // {t, raw} of the chat texts this page sent
    this.warnMax = 0;
    this.trace = [];
    this.sent = {}; // how many key messages of each kind this page sent
    const media = {
      setOwnKey: (index, raw) => {
        const r = raw.slice();
        this.sendingRaw = hex(r);
        this.trace.push(`${Date.now() % 100000} use #${this.ownHist.lastIndexOf(hex(r))} idx ${index}`);
        this._worker(() => this.rings.setOwn(index, r));
      },
      setPeerKey: (pid, index, raw, counter) => {
        const r = raw.slice();
        this.installed.push({ pid, raw: hex(r) });
        this.trace.push(`${Date.now() % 100000} key of ${pid} idx ${index}`);
        this._worker(() => this.rings.setPeer(pid, index, r, counter));
      },
      forget: (pid) => this._worker(() => this.rings.forget(pid)),
    };
    this.reports = new MissingReports((m) => {
      if (!this.alive) return;
      if (m.t === 'missing-key') this.keys.keyMissing(m.pid);
      else this.keys.keyDecoded(m.pid);
    });
    const keys = new SessionKeys({
      meeting: sim.meeting,
      media,
      name: this.name,
      sending: false, // session-e2ee.js: until the publish connection opens
      send: (to, data) => {
        if (!this.alive) return;
        sim.activity++;
        const t = JSON.parse(data).t;
        this.sent[t] = (this.sent[t] || 0) + 1;
        this.outbox.push(to ? { type: 'e2ee', to, data } : { type: 'e2ee', data });
      },
      sendBatch: (envelopes) => {
        if (!this.alive) return;
        sim.activity++;
        this.sent.batch = (this.sent.batch || 0) + 1;
        this.outbox.push({ type: 'e2ee_batch', envelopes });
      },
    });
    // The safety code (a PBKDF2 of 2^17 rounds per roster change) is left out: the
    // verified rosters are compared instead (checkLive), which is what it is computed from.
    keys.codes = { update() {}, current: () => '', code: '', pending: Promise.resolve() };
    let own = null;
    Object.defineProperty(keys, 'own', {
      get: () => own,
      set: (v) => {
        own = v;
        if (v) {
          const h = hex(v.raw);
          this.ownHist.push(h);
          this.trace.push(`${Date.now() % 100000} own #${this.ownHist.length - 1} idx ${v.index} sending=${keys.sending} pendingLeave=${keys.pendingLeave}`);
          sim.maker.set(h, { page: this, at: this.ownHist.length - 1 });
        }
      },
    });
    const run = keys._run.bind(keys);
    keys._run = (fn) => {
      sim.activity++;
      return run(fn);
    };
    // Keys that only open chat (a sender's earlier keys: FORMAT.md, "Chat (version 3)")
    // count as installed too: checkSafety looks at every key a page was given.
    this.chatInstalled = []; // {pid, raw (hex), past}
    const setKey = keys.chatKeys.setKey.bind(keys.chatKeys);
    keys.chatKeys.setKey = (pid, index, raw, opts) => {
      if (pid !== id) {
        const rec = { pid, raw: hex(raw), past: !!(opts && opts.past) };
        this.chatInstalled.push(rec);
        if (rec.past) this.installed.push({ pid, raw: rec.raw, past: true });
      }
      return setKey(pid, index, raw, opts);
    };
    const tryOpen = keys.chatKeys.tryOpen.bind(keys.chatKeys);
    keys.chatKeys.tryOpen = (...args) => {
      sim.activity++;
      return sim.track(tryOpen(...args));
    };
    this.keys = keys;
  }

  _worker(fn) {
    this.sim.activity++;
    this.wq = this.wq.then(fn).catch(() => {});
  }

  /** deliver hands one server message to the page, as session.js's handlers do. */
  deliver(msg) {
    const { keys } = this;
    if (msg.type !== 'e2ee' && msg.type !== 'chat') this.trace.push(`${Date.now() % 100000} got ${msg.type} ${msg.id || msg.name || ''}`);
    switch (msg.type) {
      case 'welcome':
        this.started = true;
        // session-join.js _welcome: the key schedule first, then the roster.
        this.sim.track(keys.start(this.id, msg.ids).then(() => {
          if (this.sends && this.alive) this.startSending();
        }));
        for (const id of msg.ids) this._listed(id);
        for (const name of msg.names) this.knows.add(name);
        break;
      case 'joined': // session-roster.js _participant(p, true)
        if (this.departed.has(msg.id)) {
          keys.peerJoined(msg.id);
          break;
        }
        if (this.participants.has(msg.id)) break;
        this.heard.set(msg.name, this.ownHist.length);
        this.knows.add(msg.name);
        keys.peerJoined(msg.id);
        this._listed(msg.id);
        break;
      case 'resumed': // _participantResumed
        if (this.departed.has(msg.id)) {
          // Only a lying server resumes an id that left (0ab46f7): the key schedule
          // counts it (departed-rejoin), which an honest run must never show.
          keys.peerResumed(msg.id);
          break;
        }
        if (!this.participants.has(msg.id)) break;
        this.heard.set(msg.name, this.ownHist.length);
        this.knows.add(msg.name);
        keys.peerResumed(msg.id);
        break;
      case 'left': // _participantLeft
        if (!this.participants.has(msg.id)) break;
        this.participants.delete(msg.id);
        this.departed.add(msg.id);
        this.heardLeft.set(msg.id, { seq: this.ownHist.length, t: Date.now(), order: this.sim.order++ });
        keys.peerLeft(msg.id);
        this.rings.route(msg.id, null, null);
        break;
      case 'e2ee':
        this.trace.push(`${Date.now() % 100000} e2ee from ${msg.from} ${JSON.parse(msg.data).t}`);
        keys.receive(msg.from, msg.data);
        break;
      case 'chat': {
        const st = keys.chatKeys.senders.get(msg.from);
        const rec = { cipher: msg.text, from: msg.from, sent: msg.sent, to: this, at: Date.now(), text: null, openedAt: null, held: st ? `newest ${st.newest} [${st.order}]` : 'none' };
        this.trace.push(`${Date.now() % 100000} chat from ${msg.from} held ${rec.held}`);
        this.sim.chats.push(rec);
        keys.decryptChat(msg.from, msg.text).then((text) => {
          rec.text = text;
          rec.openedAt = Date.now();
        });
        break;
      }
      default:
        throw new Error(`unknown message ${msg.type}`);
    }
  }

  _listed(id) {
    this.participants.add(id);
    this.rings.route(id, id, CAMERA); // the subscribe offer's route: receiver `id` carries id's camera
  }

  startSending() {
    if (this.publishing || this.opening) return;
    this.opening = true;
    this.trace.push(`${Date.now() % 100000} startSending`);
    this.sim.track(this.keys.startSending().then(() => {
      if (this.alive) this.publishing = true;
    }));
  }

  /** chat sends a text as session.js does: encrypted in order, then sent. */
  chat() {
    const sent = { from: this, t: Date.now(), order: this.sim.order++, raw: null, knows: new Set(this.knows) };
    this.sim.track(this.keys.encryptChat(`hello from ${this.name}`).then(async (cipher) => {
      if (!this.alive) return;
      this.sim.activity++;
      // Sent at once, as session.js does, before the key schedule's next step sends anything.
      this.outbox.push({ type: 'chat', text: cipher, sent });
      sent.verified = new Set(this.keys.verified());
      sent.index = this.keys.own && this.keys.own.index;
      this.chatsUsed.push(sent);
      // The key it went under: the own key that opens it.
      const hist = [...this.ownHist];
      for (let i = hist.length - 1; i >= 0; i--) {
        try {
          await decryptChat(Buffer.from(hist[i], 'hex'), this.id, cipher);
          sent.raw = hist[i];
          break;
        } catch {
          // not this one
        }
      }
    }, () => {}));
  }

  die() {
    if (!this.alive) return;
    this.warnMax = Math.max(this.warnMax, this.keys.warnings().count);
    this.alive = false;
    this.inbox = [];
    this.outbox = [];
    this.keys.close();
  }
}

/** Sim is the honest server and the pages, on the mock clock. */
export class Sim {
  constructor(seed, meeting, opts = {}) {
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

  // ------------------------------------------------------------ checks

  /** pairs are the live pages' ordered pairs. */
  pairs() {
    const live = this.live().filter((p) => p.started);
    const out = [];
    for (const r of live) for (const s of live) if (r !== s) out.push([r, s]);
    return out;
  }

  /** readsFrames: r decrypts a frame s encrypts now. */
  async readsFrames(r, s) {
    if (!s.rings.canEncrypt()) return false;
    const frame = await s.rings.encrypt(FRAME, VP8, CAMERA);
    try {
      await r.rings.decrypt(s.id, frame, VP8);
      return true;
    } catch {
      return false;
    }
  }

  /** problems lists what keeps the live members from reading each other now ([] when none). */
  async problems({ frames = true } = {}) {
    const out = [];
    const pubOf = new Map(this.live().map((p) => [p.id, p.keys.identity && hex(p.keys.identity.publicKey)]));
    for (const r of this.live()) {
      const w = r.keys.warnings();
      if (w.count) out.push(`${r.name}: warnings ${JSON.stringify(w.kinds)}`);
      const entries = r.keys._codeEntries().map((e) => `${e.id}=${hex(e.pub)}`).sort().join(',');
      const want = [...pubOf].map(([id, pub]) => `${id}=${pub}`).sort().join(',');
      if (entries !== want) out.push(`${r.name}: verified roster differs (safety code): ${entries.length} vs ${want.length}`);
    }
    for (const [r, s] of this.pairs()) {
      const st = r.keys.stateOf(s.id);
      if (st !== 'verified') out.push(`${r.name} sees ${s.name} ${st}`);
      if (r.keys.waitingForKeys(s.id)) out.push(`${r.name} waits for keys of ${s.name}`);
      if (frames && s.publishing && !(await this.readsFrames(r, s))) out.push(`${r.name} cannot read ${s.name}'s frames (index ${s.keys.keyIndex})`);
    }
    return out;
  }

  /**
   * checkSafety: (a) no page got a key its sender had made before it heard of that
   * page's arrival (a join or a resume); (b) no frame or chat text a page sent after it
   * heard that a member left (frames: after the rotation's delay) went under a key that
   * member held, or can ratchet to.
   */
  async checkSafety() {
    const out = [];
    for (const n of this.pages) {
      for (const { pid, raw } of n.installed) {
        const made = this.maker.get(raw);
        if (!made) {
          out.push(`${n.name} installed a key of ${pid} nobody made`);
          continue;
        }
        const heard = made.page.heard.get(n.name);
        if (heard !== undefined && made.at < heard) out.push(`${n.name} got ${made.page.name}'s key #${made.at}, made before ${made.page.name} heard of it (#${heard})`);
      }
    }
    // Which own keys of a page are a ratchet of the one before (not a rotation).
    const chains = new Map();
    for (const s of this.pages) {
      const isRatchet = [false];
      for (let i = 1; i < s.ownHist.length; i++) {
        isRatchet.push(hex(await ratchet(Buffer.from(s.ownHist[i - 1], 'hex'))) === s.ownHist[i]);
      }
      chains.set(s, isRatchet);
    }
    // reach(s, h, k): s's k-th key follows from its h-th by ratchets alone.
    const reach = (s, h, k) => {
      if (h > k) return false;
      const r = chains.get(s);
      for (let i = h + 1; i <= k; i++) if (!r[i]) return false;
      return true;
    };
    for (const s of this.pages) {
      for (const [gone, { t, seq, order }] of s.heardLeft) {
        const held = [];
        for (const d of this.pages) {
          if (d.id !== gone) continue;
          for (const { raw } of d.installed) {
            const made = this.maker.get(raw);
            if (made && made.page === s) held.push(made.at);
          }
        }
        if (!held.length) continue;
        const used = [
          ...s.framesUsed.filter((f) => f.t >= t + ROTATE_DELAY_MS + 100).map((f) => ['frame', f]),
          ...s.chatsUsed.filter((c) => c.order > order && c.raw).map((c) => ['chat', c]),
        ];
        for (const [what, u] of used) {
          const at = s.ownHist.lastIndexOf(u.raw);
          if (held.some((h) => reach(s, h, at))) out.push(`${s.name}'s ${what} at ${u.t} went under key #${at}, which ${gone} (left at ${t}, seq ${seq}) can follow`);
        }
      }
    }
    return out;
  }
}

/**
 * runSchedule plays one random schedule of `steps` steps from seed on a meeting that
 * starts with `initial` members and has at most `max`, then stops the churn (every
 * parked member resumes or runs out of grace), lets it settle and checks. It returns
 * {problems (at the end), converged (ms after the churn stopped, or -1), safety,
 * chatLost, log}.
 */
export async function runSchedule(seed, { initial = 10, steps = 300, max = 30, weights = {} } = {}) {
  const sim = await Sim.create(seed);
  const w = { serve: 30, hand: 30, join: 5, leave: 3, remove: 2, drop: 3, resume: 4, expire: 1, chat: 4, send: 2, frames: 6, time: 10, ...weights };
  const total = Object.values(w).reduce((a, b) => a + b, 0);
  const rnd = () => sim.rnd();
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  try {
    for (let i = 0; i < initial; i++) sim.admit();
    await sim.flushAll();
    const connected = () => [...sim.members].filter(([, m]) => m.page && !m.page.leaving).map(([id]) => id);
    const parked = () => [...sim.members].filter(([, m]) => !m.page).map(([id]) => id);
    for (let step = 0; step < steps; step++) {
      let x = rnd() * total;
      const act = Object.keys(w).find((k) => (x -= w[k]) < 0) || 'time';
      switch (act) {
        case 'serve':
          sim.serve(int(1, 4));
          break;
        case 'hand':
          for (let k = int(1, 3); k > 0; k--) sim.hand(int(1, 6));
          break;
        case 'join':
          for (let k = int(1, 5); k > 0 && sim.members.size < max; k--) sim.admit();
          break;
        case 'leave': {
          const c = connected();
          if (c.length > 2) {
            const page = sim.members.get(sim.pick(c)).page;
            page.leaving = true;
            page.outbox.push({ type: 'leave' });
            sim.note(`${page.id} says leave`);
          }
          break;
        }
        case 'remove': {
          const c = [...sim.members.keys()];
          if (c.length > 2) sim.removeMember(sim.pick(c), 'remove');
          break;
        }
        case 'drop': {
          const c = connected();
          if (c.length > 2) {
            const id = sim.pick(c);
            sim.drop(id, int(0, sim.members.get(id).page.outbox.length));
          }
          break;
        }
        case 'resume': {
          const p = parked();
          if (p.length) sim.resume(sim.pick(p));
          else {
            // The server had not noticed the drop: the resume replaces the connection.
            const c = connected();
            if (c.length) {
              const id = sim.pick(c);
              sim.drop(id, int(0, sim.members.get(id).page.outbox.length));
              sim.resume(id);
            }
          }
          break;
        }
        case 'expire': {
          const p = parked();
          if (p.length) sim.removeMember(sim.pick(p), 'grace over');
          break;
        }
        case 'chat': {
          const c = sim.live().filter((p) => p.started);
          if (c.length) sim.pick(c).chat();
          break;
        }
        case 'send': {
          const c = sim.live().filter((p) => p.started && !p.publishing);
          if (c.length) sim.pick(c).startSending();
          break;
        }
        case 'frames':
          await sim.frames();
          break;
        default:
          // Mostly the server and the pages keep up with the clock; sometimes a backlog stays.
          if (rnd() < 0.7) await sim.flushAll();
          await sim.advance(int(1, 8) * 50);
      }
      await sim.rest();
    }
    // The churn stops: the parked come back or run out of grace.
    for (const id of parked()) {
      if (rnd() < 0.5) sim.resume(id);
      else sim.removeMember(id, 'grace over');
    }
    const stopped = Date.now();
    let problems = [];
    let converged = -1;
    for (let t = 0; t <= 60000; t += 250) {
      await sim.flushAll();
      await sim.frames();
      problems = await sim.problems();
      if (!problems.length) {
        converged = Date.now() - stopped;
        break;
      }
      await sim.advance(250);
    }
    // Chat both ways: every live page says something, everyone else reads it.
    const round = sim.chats.length;
    for (const p of sim.live()) p.chat();
    for (let t = 0; t < 12000; t += 250) {
      await sim.flushAll();
      await sim.advance(250);
    }
    await sim.flushAll();
    const finalChats = sim.chats.slice(round);
    for (const c of finalChats) {
      if (c.text === null || c.text === UNREADABLE) problems.push(`${c.to.name} cannot read ${c.sent.from.name}'s last chat (${c.text})`);
    }
    const want = sim.live().length * sim.live().length;
    if (finalChats.length !== want) problems.push(`${finalChats.length} of ${want} final chats arrived`);
    // Chat during the churn that should have opened: sender and receiver pages both
    // live at the end, and the sender had heard of the receiver's page when it wrote.
    const chatLost = sim.chats.slice(0, round).filter((c) => c.to.alive && c.sent.from.alive && c.to !== c.sent.from &&
      (c.text === null || c.text === UNREADABLE) && c.sent.knows.has(c.to.name));
    const safety = await sim.checkSafety();
    for (const p of sim.pages) p.warnMax = Math.max(p.warnMax, p.alive ? p.keys.warnings().count : 0);
    const warned = sim.pages.filter((p) => p.warnMax).map((p) => p.name);
    return { problems, converged, safety, chatLost, warned, errors: sim.errors, log: sim.log, pages: sim.pages.length, all: sim.pages, live: sim.live().length };
  } finally {
    sim.close();
  }
}
