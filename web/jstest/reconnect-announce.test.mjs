// A drop is said once, at once; its end once. "Reconnecting…" went through the polite
// line (#live), after what a screen reader was saying and behind the page's other news,
// and the overlay, an assertive live region, starts hidden: shown, its text is not read
// (nothing in it changed), and read by some screen readers it would be said twice. The
// drop is said now by the assertive line (#live-alert, dom.js announceAlert), the
// overlay is no live region, and "You are back in the meeting" is said once, politely,
// and not at all when the connection dropped again before it was said.
import { test, mock } from 'node:test';
import './wall-step.mjs';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import './page-globals.mjs';
import { liveRegion } from './live-region.mjs';
import { withoutIsolates } from './mini-dom.mjs';

const regions = { live: liveRegion(), 'live-alert': liveRegion() };
const overlay = { hidden: true };
globalThis.document = {
  body: { dataset: {} }, documentElement: {},
  getElementById: (id) => regions[id] || null,
  querySelector: (sel) => (sel === '#reconnect-overlay' ? overlay : null),
  querySelectorAll: () => [], addEventListener() {}, removeEventListener() {},
};
globalThis.window = {
  localStorage, sessionStorage, addEventListener() {}, removeEventListener() {},
  fetch: async () => ({ ok: true, status: 200 }),
};
mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });

const { Reconnect } = await import('../static/js/reconnect.js');
const { t } = await import('../static/js/i18n.js');
const { announce } = await import('../static/js/dom.js');

/** pass lets ms go by in steps (a timer set by a timer runs only at a later tick). */
function pass(ms) {
  for (let i = 0; i < ms; i += 10) mock.timers.tick(10);
}

const DROP = `${t('reconnect.title')} ${t('reconnect.text')}`;
const BACK = t('reconnect.back');

function joinedPage() {
  const reconnect = new Reconnect({ attempt: () => {}, giveUp: () => assert.fail('gave up') });
  reconnect.remember('p-ann', 'y'.repeat(43));
  reconnect.joined();
  pass(10_000);
  regions.live.said.length = 0;
  regions['live-alert'].said.length = 0;
  return reconnect;
}

test('a drop is said once and at once by the assertive line, its end once by the polite one', () => {
  const reconnect = joinedPage();
  reconnect.dropped();
  pass(100);
  assert.equal(overlay.hidden, false);
  assert.deepEqual(regions['live-alert'].said, [DROP], 'the drop is said at once, over what is being read');
  assert.deepEqual(regions.live.said, [], 'the drop waited its turn on the polite line');
  reconnect.dropped(); // an attempt that failed: still the same drop
  pass(10_000);
  assert.deepEqual(regions['live-alert'].said, [DROP]);
  reconnect.joined();
  pass(10_000);
  assert.deepEqual(regions.live.said, [BACK]);
  assert.deepEqual(regions['live-alert'].said, [DROP]);
  reconnect._stop();
});

test('quick drops are each said; a "back" that a new drop overtook is not', () => {
  const reconnect = joinedPage();
  const news = withoutIsolates(t('chat.announce', { name: 'Bo', text: 'hi' })); // as heard (announcer.js)
  reconnect.dropped();
  pass(100);
  announce(news); // being read on the polite line: what comes now waits its turn
  pass(100);
  reconnect.joined(); // back, its "back" waiting on the polite line
  pass(500);
  reconnect.dropped(); // and dropped again before it was said
  pass(100);
  assert.deepEqual(regions['live-alert'].said, [DROP, DROP]);
  pass(10_000);
  assert.deepEqual(regions.live.said, [news], '"You are back" was said while the page was reconnecting');
  reconnect.joined();
  pass(10_000);
  assert.deepEqual(regions.live.said, [news, BACK]);
  reconnect._stop();
});

test('the overlay is no live region of its own; the assertive line is on the page', () => {
  const html = readFileSync(new URL('../static/meeting.html', import.meta.url), 'utf8');
  const tag = html.match(/<div id="reconnect-overlay"[^>]*>/)[0];
  assert.doesNotMatch(tag, /role="(status|alert)"/, 'the overlay is a live region: shown, said twice or not at all');
  assert.doesNotMatch(tag, /aria-live="(polite|assertive)"/, 'the overlay is a live region: shown, said twice or not at all');
  assert.match(html, /<div id="live-alert" class="sr-only" aria-live="assertive"><\/div>/);
});

test('the words of a drop do not outstay it: back, ended or left, #live-alert holds nothing, nor is written after', () => {
  const alert = regions['live-alert'];
  const reconnect = joinedPage();
  reconnect.dropped();
  pass(100);
  assert.equal(alert.textContent, DROP);
  reconnect.joined();
  assert.equal(alert.textContent, '', '"Reconnecting…" is still on the page, back in the meeting');
  reconnect.dropped();
  pass(100);
  assert.equal(reconnect.failed('ended'), false); // the meeting ended while away: the page says so
  assert.equal(alert.textContent, '', '"Reconnecting…" is still on the page, the meeting over');
  reconnect.remember('p-ann', 'y'.repeat(43));
  alert.said.length = 0;
  reconnect.dropped();
  reconnect.left(); // Leave pressed at once (the overlay stops the mouse, not the keyboard)
  pass(10_000);
  assert.deepEqual(alert.said, [], '"Reconnecting…" said after the person left');
  assert.equal(alert.textContent, '');
});
