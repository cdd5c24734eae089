// One page of the churn simulation (churn-sim.mjs): its SessionKeys wired as
// session-e2ee.js and session-roster.js wire it, a media worker's key state
// (media-rings.js) and its missing-key reports, and the record of what it made, used,
// installed and heard that the simulation's checks (churn-checks.mjs) read.
import { SessionKeys } from '../static/js/e2ee/session-keys.js';
import { MediaRings } from '../static/js/e2ee/media-rings.js';
import { MissingReports } from '../static/js/e2ee/key-requests.js';
import { CAMERA } from '../static/js/e2ee/frame.js';
import { decryptChat } from '../static/js/e2ee/chat-keys.js';

export const hex = (b) => Buffer.from(b).toString('hex');

/** A Page is one page's session in the meeting: one connection, one SessionKeys. */
export class Page {
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
