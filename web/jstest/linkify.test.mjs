// The chat link parser (linkify.js): only http(s) addresses become links, the text
// is never changed, and sentence punctuation stays outside the link.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MAX_LINKS, linkify, safeHref } from '../static/js/linkify.js';

const links = (text) => linkify(text).filter((s) => s.href).map((s) => [s.text, s.href]);
const joined = (text) => linkify(text).map((s) => s.text).join('');

test('http and https addresses become links, the rest stays text', () => {
  assert.deepEqual(linkify('see https://example.org/a?b=1#c now'), [
    { text: 'see ' },
    { text: 'https://example.org/a?b=1#c', href: 'https://example.org/a?b=1#c' },
    { text: ' now' },
  ]);
  assert.deepEqual(links('HTTP://Example.ORG and http://x.test:8080/p'), [
    ['HTTP://Example.ORG', 'http://example.org/'],
    ['http://x.test:8080/p', 'http://x.test:8080/p'],
  ]);
  assert.deepEqual(linkify('no link here'), [{ text: 'no link here' }]);
  assert.deepEqual(linkify(''), []);
});

test('other schemes are never links, however they are written', () => {
  for (const text of [
    'javascript:alert(1)',
    'JavaScript:alert(document.cookie)',
    ' javascript://example.org/%0aalert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    'ftp://example.org/x',
    'mailto:a@example.org',
    'java\u0000script:alert(1)',
    'xhttps://example.org',
    'https:/example.org',
    'https://',
  ]) {
    assert.deepEqual(links(text), [], text);
    assert.equal(joined(text), text, text);
  }
  // Only the http(s) part of a nested address can be a link.
  assert.deepEqual(links('blob:https://example.org/0000'), [['https://example.org/0000', 'https://example.org/0000']]);
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('data:text/plain,x'), null);
  assert.equal(safeHref('https://example.org'), 'https://example.org/');
});

test('a javascript: address inside an http one stays part of the http link only', () => {
  assert.deepEqual(links('https://example.org/?next=javascript:alert(1)'), [
    ['https://example.org/?next=javascript:alert(1)', 'https://example.org/?next=javascript:alert(1)'],
  ]);
});

test('sentence punctuation ends the link, balanced brackets stay in it', () => {
  assert.deepEqual(links('Read https://example.org/doc.'), [['https://example.org/doc', 'https://example.org/doc']]);
  assert.deepEqual(links('(see https://example.org/x), then'), [['https://example.org/x', 'https://example.org/x']]);
  assert.deepEqual(links('https://example.org/wiki/Foo_(bar)!'), [
    ['https://example.org/wiki/Foo_(bar)', 'https://example.org/wiki/Foo_(bar)'],
  ]);
  assert.deepEqual(links('"https://example.org/q?x=1"'), [['https://example.org/q?x=1', 'https://example.org/q?x=1']]);
});

test('markup and quotes never reach the address', () => {
  assert.deepEqual(links('<a href="https://example.org">x</a>'), [['https://example.org', 'https://example.org/']]);
  assert.deepEqual(links('https://example.org/<script>'), [['https://example.org/', 'https://example.org/']]);
  const text = 'a https://example.org/"onmouseover="alert(1) b';
  assert.equal(joined(text), text);
  for (const [, href] of links(text)) assert.ok(!href.includes('"'), href);
});

test('the text is kept exactly, links and all', () => {
  for (const text of ['x https://a.test y https://b.test/c. z', '日本 https://例え.jp/パス 終', 'tab\thttps://a.test\nnext line']) {
    assert.equal(joined(text), text);
  }
  assert.deepEqual(links('日本 https://例え.jp/パス 終').map(([t]) => t), ['https://例え.jp/パス']);
});

test('too long an address stays text', () => {
  const long = `https://example.org/${'a'.repeat(3000)}`;
  assert.deepEqual(links(long), []);
  assert.equal(joined(long), long);
});

test('random messages: text kept, every link http(s) and free of quotes, brackets and spaces', () => {
  // A fixed-seed generator (xorshift32), so a failure replays the same way.
  let seed = 0x9e3779b9;
  const next = () => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed;
  };
  const parts = ['https://', 'http://', 'HTTPS://', 'javascript:', 'data:', 'a', 'é', '.', ',', ')', '(', '"', "'", '<', '>', ' ',
    '\n', '/', '?', '#', '%', '@', ':', 'example.org', 'x.test', '\u00a0', '\u200b', '\u2028', '日本', '\u0000', '[', ']'];
  for (let i = 0; i < 5000; i++) {
    let text = '';
    const n = next() % 24;
    for (let k = 0; k < n; k++) text += parts[next() % parts.length];
    const segs = linkify(text);
    assert.equal(segs.map((s) => s.text).join(''), text, JSON.stringify(text));
    for (const s of segs) {
      if (!s.href) continue;
      assert.match(s.href, /^https?:\/\/[^\s"'<>`]+$/u, JSON.stringify(text));
      assert.equal(safeHref(s.href), s.href);
    }
  }
});

test('a message makes at most MAX_LINKS links; the addresses after them stay text', () => {
  const text = Array.from({ length: MAX_LINKS + 5 }, (_, i) => `https://h${i}.test/`).join(' ');
  const got = linkify(text);
  assert.equal(got.filter((s) => s.href).length, MAX_LINKS);
  assert.equal(got.map((s) => s.text).join(''), text);
  assert.equal(got.at(-1).href, undefined);
});

test('a bidi control ends an address, and a link is laid out left to right whatever comes before it', async () => {
  // An override before a link reversed the address shown, not the one it goes to:
  // "\u202Ehttps://x.example/moc.knab.www//:sptth" was seen as "https://www.bank.com/elpmaxe.x//:sptth".
  // A control inside an address would reorder the rest of it as shown.
  for (const c of ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e',
    '\u2066', '\u2067', '\u2068', '\u2069', '\ufeff']) {
    const text = `see https://x.example/a${c}moc.knab.www//:sptth`;
    assert.deepEqual(links(text), [['https://x.example/a', 'https://x.example/a']], `U+${c.codePointAt(0).toString(16)}`);
    assert.equal(joined(text), text);
  }
  await import('./page-globals.mjs');
  const { installMiniDOM } = await import('./mini-dom.mjs');
  installMiniDOM();
  const { linkNodes } = await import('../static/js/linkify.js');
  const nodes = linkNodes('\u202ehttps://x.example/moc.knab.www//:sptth and more');
  const [a] = nodes.filter((n) => n.tagName === 'A');
  assert.equal(a.href, 'https://x.example/moc.knab.www//:sptth');
  assert.equal(a.getAttribute('dir'), 'ltr', 'the link is not isolated from the override before it');
  assert.equal(a.rel, 'noopener noreferrer', 'the page opened gets no handle on this one');
});
