// Every change names the revision of the settings it was based on (PROTOCOL.md, "Two
// moderators at once"): a password the one shown when typing began, a removal the one
// shown when Remove was pressed. Two moderators who set a password at once were both
// told "saved", and a password typed while another moderator's came replaced it unseen;
// the refusal (settings_changed) now shows what holds and says so.
//
// A change begun before the page's connection dropped, or before a new session of it,
// keeps the revision it was begun on; while the page reconnects, the panel sends nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, dropSocket } from './media-standins.mjs';
import { tick } from './harness.mjs';
import { node, shown, t, SETTINGS, current, meeting, type, updates } from './settings-page.mjs';

test('every change names the revision of the settings shown (none when the server names none)', async (t0) => {
  // A server older than revisions: no revision.
  const old = await meeting(t0);
  let from = sent.length;
  node('setting-lock').checked = true;
  node('setting-lock').dispatch('change');
  await tick(2);
  assert.deepEqual(updates(from)[0].payload, { locked: true });
  old.session.end();

  await meeting(t0, { settingsRevision: 4 });
  from = sent.length;
  node('setting-lock').checked = true;
  node('setting-lock').dispatch('change');
  await tick(2);
  const [lock] = updates(from);
  assert.deepEqual(lock && lock.payload, { locked: true, revision: 4 });
  serverSays('settings', { settings: { ...SETTINGS, locked: true }, revision: 5, changed: ['locked'] }, lock.id);
  await tick(2);
  from = sent.length;
  node('setting-chat').checked = false;
  node('setting-chat').dispatch('change');
  await tick(2);
  assert.deepEqual(updates(from)[0].payload, { chat: false, revision: 5 });
});

test('a password typed while another moderator set one does not replace it unseen', async (t0) => {
  const { session, panel } = await meeting(t0, { settingsRevision: 4 });
  shown.length = 0;
  node('setting-password').value = 'Stollen';
  node('setting-password').dispatch('input');
  // Another moderator's new password comes while this one types.
  serverSays('settings', { settings: { ...SETTINGS, passwordRequired: true }, revision: 5, changed: ['password'] });
  await tick(2);
  assert.ok(shown.includes(t('settings.password.changed-elsewhere')), `another moderator's password was not told: ${shown}`);
  assert.equal(node('setting-password-state').dataset.set, 'true');
  node('setting-password').value = 'Stollen 3';
  node('setting-password').dispatch('input');
  let from = sent.length;
  node('setting-password-save').click();
  await tick(2);
  const [msg] = updates(from);
  assert.deepEqual(msg && msg.payload, { password: 'Stollen 3', revision: 4 }, 'the password is not based on the settings shown when typing began');
  serverSays('error', { code: 'settings_changed', message: 'no', settings: { ...SETTINGS, passwordRequired: true }, revision: 5, fields: ['password'] }, msg.id);
  await tick(2);
  assert.ok(shown.includes(t('settings.password.refused.changed')), `the refusal was not explained: ${shown}`);
  assert.ok(!shown.includes(t('settings.password.saved')));
  assert.equal(node('setting-password').value, 'Stollen 3', 'the password typed is gone');
  assert.equal(panel.pending, null);
  // Set again, knowing the other's: based on what the panel shows now.
  from = sent.length;
  node('setting-password-save').click();
  await tick(2);
  const [again] = updates(from);
  assert.deepEqual(again && again.payload, { password: 'Stollen 3', revision: 5 });
  serverSays('settings', { settings: { ...SETTINGS, passwordRequired: true }, revision: 6, changed: ['password'] }, again.id);
  await tick(2);
  assert.ok(shown.includes(t('settings.password.saved')));
  assert.equal(session.settingsRevision, 6);
  // Its own password is not told as another's.
  assert.equal(shown.filter((x) => x === t('settings.password.changed-elsewhere')).length, 1);
});

test('a refusal that comes before the other moderator\'s settings shows them', async (t0) => {
  const { session } = await meeting(t0, { settingsRevision: 7 });
  shown.length = 0;
  const msg = await type('Flöz');
  assert.deepEqual(msg.payload, { password: 'Flöz', revision: 7 });
  serverSays('error', { code: 'settings_changed', message: 'no', settings: { ...SETTINGS, passwordRequired: true }, revision: 8, fields: ['password'] }, msg.id);
  await tick(2);
  assert.equal(session.settingsRevision, 8);
  assert.equal(session.settings.passwordRequired, true);
  assert.equal(node('setting-password-state').dataset.set, 'true', 'the panel does not show the password in force');
  assert.ok(shown.includes(t('settings.password.refused.changed')), `${shown}`);
  assert.ok(!shown.includes(t('settings.password.saved')));
  // A refused switch says why, too.
  shown.length = 0;
  const from = sent.length;
  node('setting-lock').checked = true;
  node('setting-lock').dispatch('change');
  await tick(2);
  const [lock] = updates(from);
  assert.equal(lock.payload.revision, 8);
  serverSays('error', { code: 'settings_changed', message: 'no', settings: { ...SETTINGS, passwordRequired: true }, revision: 9, fields: ['locked'] }, lock.id);
  await tick(2);
  assert.ok(shown.includes(t('refused.settings-changed')), `${shown}`);
  assert.equal(node('setting-lock').checked, false, 'the switch still shows the refused change');
});

test('a removal confirmed after another moderator set a password names the settings it was asked on', async (t0) => {
  await meeting(t0, { settingsRevision: 2, settings: { ...SETTINGS, passwordRequired: true } });
  shown.length = 0;
  node('setting-password-clear').click();
  await tick(1);
  assert.equal(node('confirm-dialog').open, true);
  serverSays('settings', { settings: { ...SETTINGS, passwordRequired: true }, revision: 3, changed: ['password'] });
  await tick(2);
  const from = sent.length;
  node('confirm-ok').click();
  await tick(2);
  assert.deepEqual(updates(from)[0]?.payload, { password: '', revision: 2 });
  // Another moderator's removal is told.
  serverSays('settings', { settings: SETTINGS, revision: 4, changed: ['password'] });
  await tick(2);
  assert.ok(shown.includes(t('settings.password.removed-elsewhere')), `${shown}`);
});

test('a moderator back from a drop is told of the password another moderator set meanwhile', async (t0) => {
  const PROTECTED = { ...SETTINGS, passwordRequired: true };
  const first = await meeting(t0, { settingsRevision: 3, settings: PROTECTED });
  shown.length = 0;
  first.session.end(); // the connection dropped; another moderator replaces the password
  const back = { resumed: true, name: 'Mo', settings: PROTECTED };
  await meeting(t0, { ...back, settingsRevision: 5, passwordRevision: 4 }, first.panel);
  assert.ok(shown.includes(t('settings.password.changed-elsewhere')), `the password replaced during the drop was not told: ${shown}`);
  // A password change the page had shown before its drop is not told again.
  shown.length = 0;
  await meeting(t0, { ...back, settingsRevision: 6, passwordRevision: 4 }, first.panel);
  assert.ok(!shown.includes(t('settings.password.changed-elsewhere')), `${shown}`);
  // Removed meanwhile.
  await meeting(t0, { ...back, settings: SETTINGS, settingsRevision: 8, passwordRevision: 7 }, first.panel);
  assert.ok(shown.includes(t('settings.password.removed-elsewhere')), `${shown}`);
});

// Under the "Reconnecting…" overlay (which stops the mouse, not the keyboard) no session
// is joined: the panel's controls were usable from the keyboard, showing the settings from
// before the drop, and Remove or End meeting asked their confirmation for nothing.
test('while the session reconnects, the settings panel cannot be used', async (t0) => {
  const PROTECTED = { ...SETTINGS, passwordRequired: true };
  const first = await meeting(t0, { settingsRevision: 3, settings: PROTECTED });
  const controls = ['setting-lock', 'setting-lobby', 'setting-screenshare', 'setting-unmute', 'setting-chat',
    'setting-password', 'setting-password-save', 'setting-password-clear', 'btn-end-meeting'];
  node('setting-password').value = 'Kaue 5';
  node('setting-password').dispatch('input'); // begun on revision 3
  assert.equal(node('setting-password-save').disabled, false);
  dropSocket();
  await tick(2);
  for (const id of controls) assert.equal(node(id).disabled, true, `#${id} can be used while reconnecting`);
  const from = sent.length;
  node('confirm-dialog').open = false;
  node('setting-password-clear').click();
  node('btn-end-meeting').click();
  node('setting-password-save').click();
  node('setting-password').dispatch('keydown', { key: 'Enter' });
  await tick(2);
  assert.equal(node('confirm-dialog').open, false, 'a confirmation was asked while reconnecting');
  assert.deepEqual(sent.slice(from).map((m) => m.type), []);
  assert.equal(node('setting-password').value, 'Kaue 5', 'the typed password is lost');

  // The resume's welcome: the panel is usable again, and the password typed before the
  // drop is based on the revision it was begun on.
  await meeting(t0, { resumed: true, name: 'Mo', settings: PROTECTED, settingsRevision: 4 }, first.panel);
  for (const id of controls) assert.equal(node(id).disabled, false, `#${id} is still disabled after the resume`);
  const msg = await type('Kaue 5');
  assert.deepEqual(msg && msg.payload, { password: 'Kaue 5', revision: 3 });
});

test('a confirmation answered while the session reconnects sends nothing', async (t0) => {
  await meeting(t0, { settingsRevision: 2, settings: { ...SETTINGS, passwordRequired: true } });
  node('setting-password-clear').click();
  await tick(1);
  assert.equal(node('confirm-dialog').open, true);
  dropSocket();
  await tick(2);
  const from = sent.length;
  node('confirm-ok').click();
  await tick(2);
  assert.deepEqual(sent.slice(from).map((m) => m.type), []);
});

// A new session of the page (a knock, not a resume) may come into a new meeting of the
// room, whose revisions count afresh: compared with them, a password typed in the last
// meeting could be taken as having seen a password another moderator set in the new
// one before this page's welcome, and replace it unseen.
test('a password typed, or a removal asked, before a new session is based on the first revision of the meeting it comes into', async (t0) => {
  const PROTECTED = { ...SETTINGS, passwordRequired: true };
  const first = await meeting(t0, { settingsRevision: 7, settings: PROTECTED });
  node('setting-password').value = 'Schacht';
  node('setting-password').dispatch('input'); // begun on revision 7 of the last meeting
  first.session.end(); // the meeting is over; the page knocks with a new session (meeting.js join)
  first.panel.newSession();
  // In the room's new meeting another moderator set a password before this page came in.
  await meeting(t0, { settings: PROTECTED, settingsRevision: 3 }, first.panel);
  let from = sent.length;
  node('setting-password-save').click();
  await tick(2);
  assert.deepEqual(updates(from)[0]?.payload, { password: 'Schacht', revision: 1 }, 'based on the last meeting\'s revision');
  serverSays('error', { code: 'settings_changed', message: 'no', settings: PROTECTED, revision: 3, fields: ['password'] }, updates(from)[0].id);
  await tick(2);

  // Begun on a revision lower than the new meeting's welcome, the same.
  node('setting-password').value = '';
  node('setting-password').dispatch('input');
  node('setting-password').value = 'Stempel';
  node('setting-password').dispatch('input'); // begun on revision 3 of that meeting
  node('confirm-dialog').open = false;
  node('setting-password-clear').click(); // Remove asked there too, left open
  await tick(1);
  assert.equal(node('confirm-dialog').open, true);
  current.end();
  first.panel.newSession();
  await meeting(t0, { settings: PROTECTED, settingsRevision: 5 }, first.panel);
  from = sent.length;
  node('setting-password-save').click();
  node('confirm-ok').click();
  await tick(2);
  assert.deepEqual(updates(from).map((m) => m.payload), [{ password: 'Stempel', revision: 1 }, { password: '', revision: 1 }]);
  // A resume stays in its meeting: what was begun there keeps its revision.
  serverSays('error', { code: 'internal', message: 'no' }, updates(from)[0].id);
  await tick(2);
  node('setting-password').value = '';
  node('setting-password').dispatch('input');
  serverSays('settings', { settings: PROTECTED, revision: 6 });
  await tick(2);
  node('setting-password').value = 'Förderturm';
  node('setting-password').dispatch('input'); // begun on revision 6
  current.end();
  await meeting(t0, { resumed: true, name: 'Mo', settings: PROTECTED, settingsRevision: 8 }, first.panel);
  assert.deepEqual((await type('Förderturm')).payload, { password: 'Förderturm', revision: 6 });
});

// A new session of the page in the same meeting (its resume failed, or the page
// reloaded without one, while another moderator kept the meeting going) was taken as
// one in a new meeting: a password begun, or a removal asked, before was based on
// revision 1, and the page's own password change of its earlier session, made under
// its old participant id, refused it as another moderator's ("settings_changed").
// The welcome's settingsEpoch says which meeting it is.
test('a password typed, or a removal asked, before a new session in the same meeting keeps its revision', async (t0) => {
  const PROTECTED = { ...SETTINGS, passwordRequired: true };
  const first = await meeting(t0, { settingsRevision: 7, settings: PROTECTED, settingsEpoch: 'epoch-a' });
  node('setting-password').value = 'Stollen';
  node('setting-password').dispatch('input'); // begun on revision 7
  node('confirm-dialog').open = false;
  node('setting-password-clear').click(); // Remove asked on revision 7, left open
  await tick(1);
  first.session.end(); // the page knocks with a new session (meeting.js join)
  first.panel.newSession();
  await meeting(t0, { settings: PROTECTED, settingsRevision: 7, settingsEpoch: 'epoch-a' }, first.panel);
  let from = sent.length;
  node('setting-password-save').click();
  node('confirm-ok').click();
  await tick(2);
  assert.deepEqual(updates(from).map((m) => m.payload), [{ password: 'Stollen', revision: 7 }, { password: '', revision: 7 }],
    'in the same meeting, based on the revision they were begun on');
  serverSays('error', { code: 'internal', message: 'no' }, updates(from)[0].id);
  await tick(2);

  // A new session in another meeting of the room: the first revision there.
  node('setting-password').value = '';
  node('setting-password').dispatch('input');
  node('setting-password').value = 'Flöz';
  node('setting-password').dispatch('input'); // begun on revision 7 of epoch-a
  current.end();
  first.panel.newSession();
  await meeting(t0, { settings: PROTECTED, settingsRevision: 2, settingsEpoch: 'epoch-b' }, first.panel);
  from = sent.length;
  node('setting-password-save').click();
  await tick(2);
  assert.deepEqual(updates(from)[0]?.payload, { password: 'Flöz', revision: 1 }, 'in another meeting, based on its first revision');
});
