// Toasts and screen readers. A live region reads out what is added inside it; an element
// with role="status" or role="alert" is a live region of its own. #toasts was a polite
// live region and each toast one more inside it (status, alert for an error): nested
// live regions, whose additions NVDA and VoiceOver read out twice (the settings notices'
// announce() had been dropped for being a second read-out, 0aca2d9, and the toast still
// said itself twice). The standard shape: one live region per politeness, the toasts
// inside them plain. #toasts is a plain box of two, #toasts-polite and #toasts-alert
// (an error), on both pages that toast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';

const doc = installMiniDOM();
const { toast } = await import('../static/js/dom.js');

const LIVE_ROLES = new Set(['status', 'alert', 'log', 'marquee', 'timer']);
const liveness = (n) => n.getAttribute('aria-live') || (LIVE_ROLES.has(n.getAttribute('role')) ? n.getAttribute('role') : null);

/** regions lists the live regions from n up to the document, innermost first. */
function regions(n) {
  const out = [];
  for (; n && n !== doc.body; n = n.parentNode) if (liveness(n)) out.push(liveness(n));
  return out;
}

/** page builds a page's #toasts as its HTML has it, in the mini DOM. */
function page(file) {
  const html = readFileSync(new URL(`../static/${file}`, import.meta.url), 'utf8');
  const box = html.match(/<div id="toasts"[^>]*>([\s\S]*?)<\/div>\s*(?=<div id="audio-sink"|<\/body>)/);
  assert.ok(box, `${file} has no #toasts`);
  const attrs = (tag) => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const make = (tag) => {
    const n = doc.createElement('div');
    for (const [k, v] of Object.entries(attrs(tag))) n.setAttribute(k, v);
    return n;
  };
  const toasts = make(box[0].match(/<div[^>]*>/)[0]);
  for (const inner of box[1].match(/<div[^>]*>/g) || []) toasts.append(make(inner));
  doc.body.replaceChildren(toasts);
  return toasts;
}

for (const file of ['meeting.html', 'index.html']) {
  test(`${file}: a toast is in one live region, of its politeness, and is read out once`, () => {
    const box = page(file);
    assert.deepEqual(regions(box), [], '#toasts is a live region itself: what is in its regions is inside two');
    toast('Password saved', { kind: 'success' });
    toast('Could not copy the link', { kind: 'error' });
    toast('The chat is off');
    const items = box.querySelectorAll('.toast');
    assert.equal(items.length, 3);
    for (const item of items) {
      const want = item.classList.contains('toast-error') ? 'assertive' : 'polite';
      assert.deepEqual(regions(item), [want], `"${item.textContent}" is read out by ${JSON.stringify(regions(item))}`);
    }
  });
}
