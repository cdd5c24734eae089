// Just enough of the DOM for chat.js in Node tests: elements that hold children,
// classes and data (chat-lines.test.mjs, chat-order.test.mjs).
export class FakeElement {
  constructor(tag) {
    this.tag = tag;
    this.children = [];
    this.parent = null;
    this.dataset = {};
    this.attributes = {};
    this._text = '';
    this.className = '';
    this.style = {};
    this.scrollHeight = 0;
    this.scrollTop = 0;
    this.clientHeight = 0;
  }
  // As the DOM's: the text of the element and its children; setting it drops the children.
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(''); }
  set textContent(v) { this.children = []; this._text = String(v); }
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
  replaceChildren(...nodes) { this.children = []; this._text = ''; this.append(...nodes); }
  remove() { if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this); this.parent = null; }
  setAttribute(k, v) { if (k === 'class') this.className = String(v); else this.attributes[k] = v; }
  removeAttribute(k) { delete this.attributes[k]; }
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
