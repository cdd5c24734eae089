// The people panel (people.js) is drawn anew at every change of anyone's microphone,
// camera or role. A moderator moving through it with the keyboard (a participant's menu
// button, an entry of the open menu) keeps the focus on the same control across a
// redraw; before, the focused button went with the old list and the focus fell back to
// the start of the page whenever someone in the meeting muted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';

const doc = installMiniDOM();
const { renderPeople } = await import('../static/js/people.js');
const { participantActions } = await import('../static/js/moderator.js');

const list = doc.createElement('ul');
doc.body.append(list);
const people = (annMic) => [
  { id: 'p-me', name: 'Mia', role: 'moderator', media: {}, self: true },
  { id: 'p-ann', name: 'Ann', role: 'participant', media: { mic: annMic } },
  { id: 'p-bob', name: 'Bob', role: 'participant', media: {} },
];
const draw = (annMic) => renderPeople(list, people(annMic), { moderator: true, actions: (p) => participantActions(p, () => {}) });
const menuButton = (id) => list.querySelector(`.participant-menu[data-participant-id="${id}"]`);

test('the focused menu button keeps the focus when the list is drawn anew', () => {
  draw(false);
  menuButton('p-bob').focus();
  const before = doc.activeElement;
  draw(true); // Ann unmutes
  assert.notEqual(doc.activeElement, before, 'the list was not drawn anew');
  assert.equal(doc.activeElement, menuButton('p-bob'), 'the focus left Bob\'s menu button');
});

test('the focused entry of an open menu keeps the focus; a disabled one hands it to the menu button', () => {
  draw(false);
  menuButton('p-ann').click(); // opens Ann's menu, the focus on its first entry
  const entry = (action) => list.querySelector(`.person-actions button[data-action="${action}"]`);
  assert.equal(doc.activeElement, entry('mute_microphone'));
  entry('send_to_lobby').focus();
  draw(true);
  assert.equal(doc.activeElement, entry('send_to_lobby'), 'the focus left the menu entry');
  // Ann shares her screen and stops: "Stop screen share" turns disabled under the focus.
  renderPeople(list, people(true).map((p) => (p.id === 'p-ann' ? { ...p, media: { screen: true } } : p)), { moderator: true, actions: (p) => participantActions(p, () => {}) });
  entry('stop_screen_share').focus();
  draw(true);
  assert.equal(doc.activeElement, menuButton('p-ann'));
});
