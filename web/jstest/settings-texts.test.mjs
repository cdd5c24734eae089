// What the settings panel says of the meeting's password (settings.js): of a meeting
// without one, by its waiting room and its lock, in the panel and in Remove's
// confirmation, also while that is open; and that a settings notice is read out once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent } from './media-standins.mjs';
import { tick } from './harness.mjs';
import { liveRegion } from './live-region.mjs';
import { node, shown, t, SETTINGS, current, meeting, updates } from './settings-page.mjs';

// removeConfirmText presses Remove and returns what its confirmation says, cancelled.
async function removeConfirmText() {
  node('setting-password-clear').click();
  await tick(1);
  const text = node('confirm-text').textContent;
  node('confirm-cancel').click();
  await tick(1);
  return text;
}

// removedElsewhere: another moderator's change comes that removed the password
// (settings without one, at revision); shown then holds only what the page showed of it.
async function removedElsewhere(settings, revision) {
  shown.length = 0;
  serverSays('settings', { settings, revision, changed: ['password'] });
  await tick(2);
}

// Without a password, the link alone lets people ask to join only while the waiting room
// is on; with it off they are straight in, which the panel's texts said otherwise.
test('what the panel says of a meeting without a password follows its waiting room', async (t0) => {
  const OPEN = { ...SETTINGS, lobby: false };
  await meeting(t0, { settingsRevision: 1, settings: { ...OPEN, passwordRequired: true } });
  node('confirm-dialog').open = false;
  assert.equal(await removeConfirmText(), t('settings.password.remove.text-no-lobby'), 'Remove says people ask to join');
  // Another moderator removes it.
  await removedElsewhere(OPEN, 2);
  assert.ok(shown.includes(t('settings.password.removed-elsewhere-no-lobby')), `${shown}`);
  assert.ok(!shown.includes(t('settings.password.removed-elsewhere')), 'told that people ask to join');
  assert.equal(node('setting-password-state').textContent, t('settings.password.none-no-lobby'));
  // The waiting room turned on: now the link lets people ask.
  serverSays('settings', { settings: SETTINGS, revision: 3, changed: ['lobby'] });
  await tick(2);
  assert.equal(node('setting-password-state').textContent, t('settings.password.none'));
  serverSays('settings', { settings: { ...SETTINGS, passwordRequired: true }, revision: 4, changed: ['password'] });
  await tick(2);
  assert.equal(await removeConfirmText(), t('settings.password.remove.text'));
  await removedElsewhere(SETTINGS, 5);
  assert.ok(shown.includes(t('settings.password.removed-elsewhere')), `${shown}`);
});

test('while the meeting is locked, what the panel says of no password is what holds once it is unlocked', async (t0) => {
  // Locked, nobody new can join or ask with the link: "the link alone lets people ask
  // to join" (or join at once) was untrue then.
  const LOCKED = { ...SETTINGS, locked: true };
  await meeting(t0, { settingsRevision: 1, settings: { ...LOCKED, passwordRequired: true } });
  node('confirm-dialog').open = false;
  assert.equal(await removeConfirmText(), t('settings.password.remove.text-locked'), 'Remove says people can ask to join now');
  await removedElsewhere(LOCKED, 2);
  assert.ok(shown.includes(t('settings.password.removed-elsewhere-locked')), `${shown}`);
  assert.equal(node('setting-password-state').textContent, t('settings.password.none-locked'));
  // Unlocked: the link lets people ask now.
  serverSays('settings', { settings: SETTINGS, revision: 3, changed: ['locked'] });
  await tick(2);
  assert.equal(node('setting-password-state').textContent, t('settings.password.none'));
  // Locked again, with the waiting room off.
  const OPEN_LOCKED = { ...LOCKED, lobby: false };
  serverSays('settings', { settings: OPEN_LOCKED, revision: 4, changed: ['locked', 'lobby'] });
  await tick(2);
  assert.equal(node('setting-password-state').textContent, t('settings.password.none-no-lobby-locked'));
  serverSays('settings', { settings: { ...OPEN_LOCKED, passwordRequired: true }, revision: 5, changed: ['password'] });
  await tick(2);
  assert.equal(await removeConfirmText(), t('settings.password.remove.text-no-lobby-locked'));
  await removedElsewhere(OPEN_LOCKED, 6);
  assert.ok(shown.includes(t('settings.password.removed-elsewhere-no-lobby-locked')), `${shown}`);
  // Each says it holds once the meeting is unlocked.
  for (const key of ['none-locked', 'none-no-lobby-locked', 'remove.text-locked', 'remove.text-no-lobby-locked',
    'removed-elsewhere-locked', 'removed-elsewhere-no-lobby-locked']) {
    assert.match(t(`settings.password.${key}`), /unlocked/, key);
  }
});

// Remove's confirmation picks its text by the lock and the waiting room; one open when
// another moderator changed them kept saying what no longer held.
test('Remove\'s confirmation, open while the lock or the waiting room changes, says what holds now', async (t0) => {
  const PROTECTED = { ...SETTINGS, passwordRequired: true };
  await meeting(t0, { settingsRevision: 1, settings: PROTECTED });
  node('confirm-dialog').open = false;
  node('setting-password-clear').click();
  await tick(1);
  assert.equal(node('confirm-text').textContent, t('settings.password.remove.text'));
  serverSays('settings', { settings: { ...PROTECTED, locked: true }, revision: 2, changed: ['locked'] });
  await tick(2);
  assert.equal(node('confirm-text').textContent, t('settings.password.remove.text-locked'), 'the open confirmation says people can ask to join now');
  serverSays('settings', { settings: { ...PROTECTED, locked: true, lobby: false }, revision: 3, changed: ['lobby'] });
  await tick(2);
  assert.equal(node('confirm-text').textContent, t('settings.password.remove.text-no-lobby-locked'));
  // Confirmed: based on the settings it was asked on, as before.
  let from = sent.length;
  node('confirm-ok').click();
  await tick(2);
  assert.deepEqual(updates(from)[0]?.payload, { password: '', revision: 1 });
  // Another question in its place is not retold.
  node('setting-password-clear').click();
  await tick(1);
  node('btn-end-meeting').click();
  await tick(1);
  serverSays('settings', { settings: PROTECTED, revision: 4, changed: ['locked', 'lobby'] });
  await tick(2);
  assert.equal(node('confirm-text').textContent, t('settings.end.text'));
  from = sent.length;
  node('confirm-cancel').click();
  await tick(2);
  assert.deepEqual(updates(from), []);
});

// A toast is read out as it comes (#toasts-polite is a live region), and announcing it
// too had a screen reader say it twice.
test('a settings notice is read out once, by its toast', async (t0) => {
  const byId = document.getElementById;
  let spoken = 0; // writes to the live region #live
  const live = liveRegion({ onWrite: () => { spoken++; } });
  document.getElementById = (id) => (id === 'live' ? live : byId(id));
  t0.after(() => { document.getElementById = byId; });
  await meeting(t0, { settingsRevision: 1, settings: { ...SETTINGS, passwordRequired: true } });
  shown.length = 0;
  spoken = 0;
  serverSays('settings', { settings: SETTINGS, revision: 2, changed: ['password'] });
  await tick(2);
  assert.deepEqual(shown, [t('settings.password.removed-elsewhere')]);
  assert.equal(spoken, 0, 'another moderator\'s removal was announced besides its toast');
  // A participant's news of a change, the same.
  current.end();
  await meeting(t0, { role: 'participant', settingsRevision: 2 });
  shown.length = 0;
  spoken = 0;
  serverSays('settings', { settings: { ...SETTINGS, chat: false }, revision: 3 });
  await tick(2);
  assert.deepEqual(shown, [t('settings.news.chat-off')]);
  assert.equal(spoken, 0, 'the news was announced besides its toast');
});
