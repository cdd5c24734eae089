// A moderator's menu for a participant (moderator.js participantActions): what the
// participant does with its own media never moves an entry, so a participant flipping
// its screen share or microphone cannot slide "Make moderator" or "Remove" under the
// moderator's pointer; an entry that does not apply now is there, disabled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';

const element = () => new Proxy({ hidden: false, dataset: {}, classList: { add() {}, remove() {}, toggle() {} } }, {
  get: (target, key) => (key in target ? target[key] : () => {}),
});
globalThis.document = {
  querySelectorAll: () => [], querySelector: () => element(), getElementById: () => null,
  addEventListener() {}, removeEventListener() {}, createElement: () => element(),
  createTextNode: () => ({}), documentElement: element(), body: element(),
};
globalThis.window = { localStorage, sessionStorage, addEventListener() {}, removeEventListener() {} };

const { participantActions, refusalText } = await import('../static/js/moderator.js');
const { t } = await import('../static/js/i18n.js');

const menuOf = (role, media) => participantActions({ id: 'p-1', name: 'Ida', role, media }, () => {});
const everyMedia = [];
for (const mic of [false, true]) for (const camera of [false, true]) for (const screen of [false, true]) everyMedia.push({ mic, camera, screen });

test('the entries keep their places whatever the participant does with its media', () => {
  for (const role of ['participant', 'presenter', 'moderator']) {
    const places = menuOf(role, everyMedia[0]).map((e) => e.action);
    for (const media of everyMedia) {
      assert.deepEqual(menuOf(role, media).map((e) => e.action), places, `${role} ${JSON.stringify(media)}`);
    }
  }
});

test('an entry that does not apply is there, disabled', () => {
  const byAction = (entries) => Object.fromEntries(entries.map((e) => [e.action, e]));
  assert.equal(byAction(menuOf('participant', { screen: false })).stop_screen_share.disabled, true);
  assert.equal(byAction(menuOf('participant', { screen: true })).stop_screen_share.disabled, false);
  assert.equal(byAction(menuOf('moderator', {})).make_presenter.disabled, true);
  const sent = [];
  const presenter = byAction(participantActions({ id: 'p-1', role: 'presenter', media: {} }, (type, p) => sent.push([type, p])));
  assert.equal(presenter.make_presenter, undefined);
  presenter.remove_presenter.run();
  assert.deepEqual(sent, [['set_role', { participantId: 'p-1', role: 'participant' }]]);
});

test('a change of settings refused for coming too fast says so', () => {
  assert.equal(refusalText('rate_limited', 'update_settings', { moderator: true }), t('refused.too-fast'));
  assert.notEqual(t('refused.too-fast'), 'refused.too-fast');
  assert.equal(refusalText('not_allowed', 'update_settings', { moderator: false }), t('refused.moderators-only'));
});

// The question before "Remove" says whether the person can come back. It promised that
// "a moderator has to let them in" whatever the settings: with the waiting room off a
// removed pupil reloads the link and is back at once, and a teacher who trusted the
// question removed them without first locking the meeting or turning the waiting room on.
test('the question before Remove says what the settings let the removed person do', async () => {
  const { MiniElement } = await import('./mini-dom.mjs');
  const nodes = new Map();
  const saved = globalThis.document.querySelector;
  globalThis.document.querySelector = (sel) => {
    if (!nodes.has(sel)) {
      const n = new MiniElement('div');
      n.showModal = () => { n.open = true; };
      n.close = () => { n.open = false; };
      n.focus = () => {};
      nodes.set(sel, n);
    }
    return nodes.get(sel);
  };
  try {
    const asked = async (settings) => {
      const entries = participantActions({ id: 'p-1', name: 'Ida', role: 'participant', media: {} }, () => {}, () => settings);
      const answer = entries.find((e) => e.action === 'remove').run();
      const text = nodes.get('#confirm-text').textContent;
      nodes.get('#confirm-cancel').click();
      await answer;
      return text;
    };
    assert.equal(await asked({ lobby: true, locked: false }), t('moderator.remove.text', { name: 'Ida' }));
    assert.equal(await asked({ lobby: false, locked: false }), t('moderator.remove.text-no-lobby', { name: 'Ida' }));
    assert.equal(await asked({ lobby: true, locked: true }), t('moderator.remove.text-locked', { name: 'Ida' }));
    assert.equal(await asked({ lobby: false, locked: true }), t('moderator.remove.text-locked', { name: 'Ida' }));
    assert.match(t('moderator.remove.text-no-lobby', { name: 'Ida' }), /waiting room is off/);
  } finally {
    globalThis.document.querySelector = saved;
  }
});
