// Just enough of the DOM for chat.js in Node tests: elements that hold children,
// classes and data (chat-lines.test.mjs, chat-order.test.mjs).
export class FakeElement {
  constructor(tag) {
    this.tag = tag;
    this.children = [];
    this.parent = null;
    this.dataset = {};
    this.attributes = {};
    this.textContent = '';
    this.className = '';
    this.style = {};
    this.scrollHeight = 0;
    this.scrollTop = 0;
    this.clientHeight = 0;
  }
  get classList() {
    const names = () => this.className.split(/\s+/).filter(Boolean);
    return {
      contains: (c) => names().includes(c),
      remove: (c) => { this.className = names().filter((n) => n !== c).join(' '); },
      add: (c) => { if (!names().includes(c)) this.className = [...names(), c].join(' '); },
      toggle() {},
    };
  }
  append(...nodes) { for (const n of nodes) { n.parent = this; this.children.push(n); } }
  prepend(...nodes) { for (const n of nodes.reverse()) { n.parent = this; this.children.unshift(n); } }
  replaceChildren(...nodes) { this.children = []; this.append(...nodes); }
  remove() { if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this); this.parent = null; }
  setAttribute(k, v) { this.attributes[k] = v; }
  addEventListener() {}
  querySelectorAll() { return []; }
  querySelector() { return null; }
}

/** fakeDocument is a `document` whose elements are FakeElements. */
export function fakeDocument() {
  return {
    createElement: (tag) => new FakeElement(tag), createTextNode: (text) => ({ textContent: text }),
    querySelectorAll: () => [], querySelector: () => null, getElementById: () => null,
    documentElement: new FakeElement('html'), body: new FakeElement('body'), addEventListener() {},
  };
}
