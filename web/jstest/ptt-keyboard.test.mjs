// Push-to-talk (push-to-talk.js) and the keyboard: while muted, Space held on the page
// talks, but Space on a focused control is that control's: it presses a button and ticks
// a switch (the settings, "hide own video"), which a keyboard has no other key for. Before,
// a muted keyboard user could not press a focused button with Space nor tick a switch at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

const handlers = {};
document.addEventListener = (type, fn) => { handlers[type] = fn; };
globalThis.Element = class {
  constructor(tagName, attrs = {}) { this.tagName = tagName; this.attrs = attrs; this.isContentEditable = false; }
  getAttribute(name) { return Object.hasOwn(this.attrs, name) ? this.attrs[name] : null; }
  hasAttribute(name) { return Object.hasOwn(this.attrs, name); }
};
const qs = document.querySelector;
document.querySelector = (sel) => (sel === 'dialog[open]' ? null : qs(sel));
const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Controls } = await import('../static/js/controls.js');
const { PushToTalk, operable } = await import('../static/js/push-to-talk.js');
const { setSingleKeys } = await import('../static/js/shortcuts.js');

function key(type, target) {
  const event = { type, code: 'Space', key: ' ', repeat: false, target, ctrlKey: false, metaKey: false, altKey: false, prevented: false };
  event.preventDefault = () => { event.prevented = true; };
  handlers[type](event);
  return event;
}

test('which focused elements the space bar belongs to', () => {
  const on = (tag, attrs) => operable({ target: new Element(tag, attrs) });
  for (const [tag, attrs] of [['BUTTON'], ['INPUT', { type: 'checkbox' }], ['INPUT', { type: 'radio' }], ['SELECT'], ['SUMMARY'], ['A', { href: '/' }], ['DIV', { role: 'button' }], ['SPAN', { role: 'switch' }]]) {
    assert.equal(on(tag, attrs), true, `${tag} ${JSON.stringify(attrs || {})}`);
  }
  for (const [tag, attrs] of [['BODY'], ['DIV'], ['H1', { tabindex: '-1' }], ['A'], ['MAIN', { 'aria-label': 'x' }]]) {
    assert.equal(on(tag, attrs), false, `${tag} ${JSON.stringify(attrs || {})}`);
  }
});

test('Space on a focused button or switch is left to it; on the page it talks', { timeout: 10000 }, async (t) => {
  const media = new LocalMedia();
  await media.acquire({ mic: true, camera: false });
  media.setMicMuted(true);
  let session = null;
  const controls = new Controls({ media, grid: gridStandIn(), session: () => session });
  session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
  t.after(() => session.end());
  session.start();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, participants: [] });
  await tick(10);
  new PushToTalk({ media, controls, session: () => session, canUnmute: () => true, unmuted() {} });

  for (const target of [new Element('BUTTON'), new Element('INPUT', { type: 'checkbox', role: 'switch' }), new Element('A', { href: '/privacy' })]) {
    const down = key('keydown', target);
    assert.equal(down.prevented, false, `Space on a focused ${target.tagName} was taken from it`);
    assert.equal(media.micOn, false, `Space on a focused ${target.tagName} unmuted`);
    assert.equal(key('keyup', target).prevented, false);
  }

  const body = new Element('BODY');
  assert.equal(key('keydown', body).prevented, true);
  assert.equal(media.micOn, true, 'Space held on the page did not talk');
  key('keyup', body);
  await eventually(() => media.micMuted, 'the microphone muted again');

  // A button the mouse clicked (the microphone button itself, or the one the page focuses
  // after a click on Join) has the focus too, but no keyboard brought it there: Space
  // talks. Left to the button, nothing talked while Space was held and the button's click
  // on keyup turned the microphone on for good (Chromium: a click on keyup unless the
  // keydown's default was prevented).
  const mic = new Element('BUTTON', { id: 'btn-mic' });
  handlers.pointerdown?.({ target: mic });
  handlers.focusin?.({ target: mic });
  assert.equal(key('keydown', mic).prevented, true, 'Space on a button focused by a click was left to the button');
  assert.equal(media.micOn, true, 'Space held on a clicked button did not talk');
  assert.equal(key('keyup', mic).prevented, true);
  await eventually(() => media.micMuted, 'the microphone muted again');
  // Tab to the next control: the keyboard's place, Space is the control's again.
  const next = new Element('BUTTON', { id: 'btn-camera' });
  handlers.keydown({ type: 'keydown', code: 'Tab', key: 'Tab', target: mic, ctrlKey: false, metaKey: false, altKey: false, preventDefault() {} });
  handlers.focusin?.({ target: next });
  assert.equal(key('keydown', next).prevented, false, 'Space on a button reached with Tab was taken from it');
  assert.equal(media.micOn, false);
  key('keyup', next);

  // One-key shortcuts turned off (the shortcuts dialog's switch, WCAG 2.1.4): Space on
  // the page is Space (speech input saying "space" must not open the microphone).
  setSingleKeys(false);
  t.after(() => setSingleKeys(true));
  assert.equal(key('keydown', body).prevented, false, 'Space was taken with one-key shortcuts off');
  assert.equal(media.micOn, false, 'Space held talked with one-key shortcuts off');
  key('keyup', body);
  setSingleKeys(true);
  assert.equal(key('keydown', body).prevented, true, 'Space did not talk once one-key shortcuts were on again');
  assert.equal(media.micOn, true);
  key('keyup', body);
  await eventually(() => media.micMuted, 'the microphone muted again');
});
