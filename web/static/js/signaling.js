// The websocket to the server: the JSON envelope of signaling/PROTOCOL.md,
// request ids, replies matched by `ref`, and dispatch by message type.

export const PROTOCOL_VERSION = 1;
// The end-to-end encryption format this page speaks (e2ee/FORMAT.md); an encrypted
// meeting refuses a join that names another (`e2ee_version`).
export const E2EE_VERSION = 6; // FORMAT.md version 2 with counters in the key envelopes (version 3), names in them, chat and frames of version 3 (signaling/PROTOCOL.md)

/** ProtocolError is an `error` message from the server. */
export class ProtocolError extends Error {
  constructor(payload = {}) {
    super(payload.message || payload.code || 'error');
    this.name = 'ProtocolError';
    this.code = payload.code || 'internal';
    this.payload = payload;
  }
}

/** wsURL is the same-origin websocket address of the signaling endpoint. */
export function wsURL(loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return scheme + '//' + loc.host + '/ws';
}

/**
 * How long a resume's websocket may take to open, on its first attempt after a drop.
 * The page asks for one only once the server answered its probe (reconnect-core.js
 * reachable), so one still opening after this is likely held on a path that stalled as
 * the attempt began (a NAT that lost the mapping, a proxy that stopped forwarding):
 * given up, the attempt fails as "unreachable" and the next one goes over a new
 * connection. The browser's own limit is far longer (Chromium 240 s,
 * net/websockets/websocket_stream.cc), longer than a resume's grace (60 s): a page whose
 * resume stalled so stayed at "Reconnecting…" for four minutes and came back to
 * "Disconnected". The bound counts from the page's request, before the TCP and TLS
 * handshakes (a new connection: a websocket does not share the page's), which a slow
 * link, a proxy, a loaded mobile network can take seconds over: each later attempt of
 * the same resume waits longer (openTimeoutMs), so that such a link, where every open
 * takes a little more than this, still comes back within the grace.
 */
export const OPEN_TIMEOUT_MS = 10000;

/**
 * The longest a websocket may take to open: a resume's later attempts, and a first
 * join, which has no grace to beat. Bounded there by OPEN_TIMEOUT_MS, an honest slow
 * link failed every join as "unreachable", and the person's "try again" failed alike.
 * Firefox's own bound is 20 s (network.websocket.timeout.open), Chromium's 240 s.
 */
export const OPEN_TIMEOUT_MAX_MS = 30000;

/** openTimeoutMs is the bound on the websocket of a resume's attempt n (0 the first after the drop). */
export function openTimeoutMs(n) {
  return Math.min(OPEN_TIMEOUT_MS * (Math.max(0, Math.floor(n)) + 1), OPEN_TIMEOUT_MAX_MS);
}

export class Signaling {
  constructor(url = wsURL()) {
    this.url = url;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.handlers = new Map(); // type -> [fn]
    this.closed = false;
    this.sentTypes = new Map(); // id -> type of the last few messages sent, to explain refusals
    /** onclose({code, reason, wasClean}) is called once when an open socket closes. */
    this.onclose = null;
    /** onreceive() is called for every message that arrives, whatever it holds (heartbeat.js). */
    this.onreceive = null;
  }

  /**
   * connect opens the websocket; it resolves when open and rejects if it cannot be
   * opened, or is not open within timeoutMs (a first join's OPEN_TIMEOUT_MAX_MS unless
   * told: a resume's attempt, openTimeoutMs).
   */
  connect(timeoutMs = OPEN_TIMEOUT_MAX_MS) {
    return new Promise((resolve, reject) => {
      let opened = false;
      const ws = new WebSocket(this.url);
      this.ws = ws;
      const timer = setTimeout(() => {
        // Given up now: its close event may come only after the browser's own limit.
        ws.onopen = null;
        ws.onmessage = null;
        ws.onclose = null;
        this.closed = true;
        ws.close();
        const err = new Error(`websocket not open within ${timeoutMs} ms`);
        err.closeCode = 1006;
        reject(err);
      }, timeoutMs);
      ws.onopen = () => {
        clearTimeout(timer);
        opened = true;
        resolve();
      };
      ws.onmessage = (event) => this._receive(event.data);
      ws.onerror = () => {}; // always followed by close, handled there
      ws.onclose = (event) => {
        clearTimeout(timer);
        this.closed = true;
        const err = new Error(`websocket closed (${event.code})`);
        err.closeCode = event.code;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        this.pending.clear();
        if (!opened) {
          reject(err); // connect() reports it; onclose is for a socket that was open
          return;
        }
        if (this.onclose) this.onclose({ code: event.code, reason: event.reason, wasClean: event.wasClean });
      };
    });
  }

  /** on registers a handler for a server message type. The handler gets (payload, envelope). */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
  }

  /** send sends a message and returns its id. */
  send(type, payload) {
    const id = String(this.nextId++);
    const envelope = { type, id };
    if (payload !== undefined) envelope.payload = payload;
    this.sentTypes.set(id, type);
    if (this.sentTypes.size > 200) this.sentTypes.delete(this.sentTypes.keys().next().value);
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(envelope));
    return id;
  }

  /** typeOf returns the type of a recently sent message by its id (an error's `ref`). */
  typeOf(id) {
    return id === undefined ? undefined : this.sentTypes.get(id);
  }

  /**
   * request sends a message and resolves with the payload of the reply that
   * carries its id in `ref`, or rejects with a ProtocolError.
   */
  request(type, payload, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      if (this.closed || !this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      const id = this.send(type, payload);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${type}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** close closes the websocket (normal closure). */
  close() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }

  _receive(data) {
    if (this.onreceive) this.onreceive();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // not ours to interpret; the server never sends this
    }
    if (!msg || typeof msg.type !== 'string') return;
    const payload = msg.payload || {};
    if (msg.ref !== undefined && this.pending.has(msg.ref)) {
      const p = this.pending.get(msg.ref);
      this.pending.delete(msg.ref);
      clearTimeout(p.timer);
      if (msg.type === 'error') p.reject(new ProtocolError(payload));
      else p.resolve(payload);
      return;
    }
    for (const fn of this.handlers.get(msg.type) || []) {
      try {
        fn(payload, msg);
      } catch (err) {
        console.error(`conclave: handling ${msg.type} failed`, err);
      }
    }
  }
}
