// A side panel that fills a narrow screen (panel-cover.js; app.css at max-width 720px,
// also a 1280-pixel window at 400 % zoom) is modal: what is behind it is inert, so Tab
// and a screen reader's cursor stay in the panel, until it closes or the viewport
// widens; closed, the focus goes back to what opened it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';

const doc = installMiniDOM();
const { PanelCover } = await import('../static/js/panel-cover.js');

function node(tag, attrs = {}, ...children) {
  const n = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  n.append(...children);
  return n;
}

// The meeting page, in short.
const live = node('div', { id: 'live', 'aria-live': 'polite' });
const btnPeople = node('button', { id: 'btn-people' });
const topbar = node('header', { class: 'topbar' }, btnPeople);
const banner = node('div', { id: 'banner', role: 'status' });
const invite = node('div', { id: 'invite-card', role: 'status' }, node('button', { id: 'invite-copy' }));
const grid = node('main', { id: 'grid', tabindex: '-1' });
const chatClose = node('button', { id: 'chat-close' });
const chatInput = node('textarea', { id: 'chat-input' });
const chat = node('aside', { id: 'chat-panel' }, chatClose, chatInput);
const people = node('aside', { id: 'people-panel', hidden: '' }, node('button', { id: 'people-close' }));
const stage = node('div', { class: 'stage-wrap' }, grid, invite, chat, people);
const btnChat = node('button', { id: 'btn-chat' });
const controls = node('footer', { class: 'controls' }, btnChat);
const meeting = node('section', { id: 'meeting' }, topbar, banner, stage, controls);
const status = node('section', { id: 'status', 'aria-live': 'assertive' }, node('button', { id: 'btn-rejoin' }));
const dialog = node('dialog', { id: 'confirm-dialog' }, node('button', { id: 'confirm-ok' }));
// One live region per politeness, in a box that is none (dom.js toast), and the stack
// whose toasts are said through #live (dom.js quietToast), which reads nothing out.
const toasts = node('div', { id: 'toasts' }, node('div', { id: 'toasts-alert', 'aria-live': 'assertive' }),
  node('div', { id: 'toasts-polite', 'aria-live': 'polite' }), node('div', { id: 'toasts-quiet', 'aria-live': 'off' }));
doc.body.append(live, meeting, status, dialog, toasts);

/** A MediaQueryList the test narrows and widens. */
function viewport(matches) {
  const listeners = [];
  return {
    matches,
    addEventListener: (type, fn) => listeners.push(fn),
    set(m) { this.matches = m; for (const fn of listeners) fn({ matches: m }); },
  };
}

const behind = [topbar, grid, invite, controls, status];
const readable = [live, banner, toasts, dialog, chat, stage, meeting];
const inert = () => [...doc.body.descendants()].filter((n) => n.inert).map((n) => n.id || n.className);

test('a panel that covers a narrow screen makes the rest inert, and only while it does', () => {
  const query = viewport(true);
  const cover = new PanelCover({ root: doc.body, query });
  btnChat.focus();
  cover.show(chat, doc.activeElement);
  for (const n of behind) assert.equal(n.inert, true, `${n.id || n.className} is reachable behind the panel`);
  for (const n of readable) assert.ok(!n.inert, `${n.id || n.className} was made inert`);
  assert.equal(doc.body.dataset.panelCover, 'true');

  query.set(false); // the window widens (or the zoom goes back): the panel sits beside the meeting
  assert.deepEqual(inert(), [], 'a panel beside the meeting left things inert');
  query.set(true);
  assert.deepEqual(inert().sort(), ['controls', 'grid', 'invite-card', 'people-panel', 'status', 'topbar']);

  cover.show(null); // closed
  assert.deepEqual(inert(), [], 'the meeting stayed inert after the panel closed');
  assert.equal(doc.body.dataset.panelCover, undefined);
});

test('what was inert before stays so; a viewport that narrows moves the focus into the panel', () => {
  const query = viewport(false);
  const cover = new PanelCover({ root: doc.body, query });
  status.inert = true; // someone else's
  btnChat.focus();
  cover.show(chat, doc.activeElement);
  assert.deepEqual(inert(), ['status']);
  query.set(true);
  assert.ok(chat.contains(doc.activeElement), 'the focus stayed on a control now inert');
  cover.show(null);
  assert.equal(status.inert, true, 'an element made inert elsewhere was given back');
  status.inert = false;
});

test('closed, the focus goes back to the opener, else to the panel\'s button', () => {
  const query = viewport(true);
  const cover = new PanelCover({ root: doc.body, query });
  btnPeople.focus();
  cover.show(people, doc.activeElement);
  const opener = cover.opener;
  people.hidden = false; // open, as meeting-panels.js shows it: a hidden panel's button takes no focus
  people.querySelector('button').focus();
  assert.ok(people.contains(doc.activeElement), 'the focus is not in the open panel');
  people.hidden = true; // closed
  cover.show(null);
  cover.returnFocus(opener, btnChat);
  assert.equal(doc.activeElement, btnPeople, 'the focus did not go back to the opener');

  // Opened from the knock card, which is gone by the time the panel closes.
  const knock = node('button', { id: 'knock-view' });
  controls.append(knock);
  knock.focus();
  cover.show(chat, doc.activeElement);
  knock.hidden = true;
  const gone = cover.opener;
  cover.show(null);
  cover.returnFocus(gone, btnChat);
  assert.equal(doc.activeElement, btnChat);
  knock.remove();
});
