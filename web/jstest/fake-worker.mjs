// FakeWorker stands for the E2EE media worker in Node, where there is none: importing
// this module makes it globalThis.Worker. It records what is posted to it and whether it
// was ended; say() delivers a message from the worker, fail() its error.
export class FakeWorker {
  static made = [];
  constructor(url, opts) {
    this.url = url;
    this.opts = opts;
    this.posted = [];
    this.terminated = false;
    this.onmessage = null;
    this.onerror = null;
    FakeWorker.made.push(this);
  }
  postMessage(msg) { this.posted.push(msg); }
  terminate() { this.terminated = true; }
  say(data) { if (this.onmessage) this.onmessage({ data }); }
  fail() { if (this.onerror) this.onerror({ preventDefault() {} }); }
}
globalThis.Worker = FakeWorker;
