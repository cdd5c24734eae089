// A moderator's new meeting password (settings.js) is "saved" when the server says so:
// the `settings` answering its update_settings (its ref, signaling/PROTOCOL.md). The
// page said "Password saved" as it sent the password, before the server hashed it, and
// also when the server then refused it (too many new passwords, too long, no longer a
// moderator). Another moderator's change arriving meanwhile is no confirmation; a
// refusal says why and leaves the password typed; a session that ends unanswered says
// that the password may not be set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, noop, dropSocket } from './media-standins.mjs';
import { tick } from './harness.mjs';
import { node, shown, t, sessionUI, SETTINGS, meeting, type, remove, roleTo, refuseNotAllowed, updates } from './settings-page.mjs';

test('"Password saved" comes with the server\'s answer to it, not when it is sent', async (t0) => {
  const { panel } = await meeting(t0);
  shown.length = 0;
  const msg = await type('Bergwerk 7');
  assert.deepEqual(msg && msg.payload, { password: 'Bergwerk 7' });
  assert.ok(!shown.includes(t('settings.password.saved')), 'saved before the server said anything');
  assert.equal(node('setting-password-save').disabled, true, 'Save can be pressed again while the first is unanswered');
  assert.equal(node('setting-password-save').dataset.pending, 'true');
  // A second press, or Enter in the field, meanwhile sends nothing.
  const count = () => sent.filter((m) => m.type === 'update_settings').length;
  const before = count();
  node('setting-password-save').click();
  node('setting-password').dispatch('keydown', { key: 'Enter' });
  await tick(2);
  assert.equal(count(), before, 'a second new password was sent while the first was unanswered');

  // Another moderator locks the meeting meanwhile: its settings answer nothing of ours.
  serverSays('settings', { settings: { ...SETTINGS, locked: true } });
  await tick(2);
  assert.ok(!shown.includes(t('settings.password.saved')), 'another moderator\'s change was taken for the confirmation');
  assert.equal(panel.pending, msg.id);

  serverSays('settings', { settings: { ...SETTINGS, locked: true, passwordRequired: true } }, msg.id);
  await tick(2);
  assert.ok(shown.includes(t('settings.password.saved')), `the confirmation said nothing: ${shown}`);
  assert.equal(node('setting-password').value, '', 'the saved password stays in the field');
  assert.equal(node('setting-password-save').disabled, true); // the field is empty
  assert.equal(node('setting-password-save').dataset.pending, undefined);
});

test('Remove waits for the answer to a new password, as Save does', async (t0) => {
  await meeting(t0);
  const msg = await type('Bergwerk 7');
  assert.ok(msg, 'no new password sent');
  // The server refuses a second change of the password from this session before the
  // first is answered: Remove cannot ask for one meanwhile.
  assert.equal(node('setting-password-clear').disabled, true, 'Remove can be pressed while the new password is unanswered');
  serverSays('settings', { settings: { ...SETTINGS, passwordRequired: true } }, msg.id);
  await tick(2);
  assert.equal(node('setting-password-clear').disabled, false, 'Remove stays off after the answer');
});

test('a new password waits for the answer to a removal, as Remove waits for a new password\'s', async (t0) => {
  const { panel } = await meeting(t0, { settingsRevision: 2, settings: { ...SETTINGS, passwordRequired: true } });
  shown.length = 0;
  node('setting-password-clear').click();
  await tick(1);
  let from = sent.length;
  node('confirm-ok').click();
  await tick(2);
  const [removal] = updates(from);
  assert.deepEqual(removal?.payload, { password: '', revision: 2 });
  // The server refuses a second change of the password from this session before the
  // first is answered (change_pending).
  from = sent.length;
  assert.equal(await type('Bergwerk 10'), undefined, 'a new password was sent while the removal was unanswered');
  node('setting-password').dispatch('keydown', { key: 'Enter' });
  await tick(2);
  assert.deepEqual(updates(from), [], 'a new password was sent by Enter while the removal was unanswered');
  assert.equal(node('setting-password-save').disabled, true, 'Save can be pressed while the removal is unanswered');
  assert.equal(node('setting-password-clear').disabled, true, 'Remove can be pressed while the removal is unanswered');
  serverSays('settings', { settings: SETTINGS, revision: 3 }, removal.id);
  await tick(2);
  assert.ok(!shown.some((s) => s === t('settings.password.saved')), `${shown}`);
  assert.equal(node('setting-password').value, 'Bergwerk 10', 'the password typed meanwhile is gone');
  const msg = await type('Bergwerk 10');
  assert.deepEqual(msg?.payload, { password: 'Bergwerk 10', revision: 2 }); // typing began on revision 2

  // A refused removal, or one whose session ended unanswered, frees the panel too.
  serverSays('settings', { settings: { ...SETTINGS, passwordRequired: true }, revision: 4 }, msg.id);
  await tick(2);
  for (const end of [
    (id) => serverSays('error', { code: 'settings_changed', message: 'no', settings: SETTINGS, revision: 5, fields: ['password'] }, id),
    () => panel.forgetPending(),
  ]) {
    node('setting-password-clear').click();
    await tick(1);
    from = sent.length;
    node('confirm-ok').click();
    await tick(2);
    const [again] = updates(from);
    assert.ok(again, 'no removal sent');
    assert.equal(node('setting-password-clear').disabled, true);
    end(again.id);
    await tick(2);
    assert.equal(node('setting-password-clear').disabled, false, 'Remove stays off after the answer');
    serverSays('settings', { settings: { ...SETTINGS, passwordRequired: true }, revision: 6 + from });
    await tick(2);
  }
});

test('a refused new password says why and stays typed, to be tried again', async (t0) => {
  await meeting(t0);
  for (const [code, key] of [
    ['rate_limited', 'settings.password.refused.too-fast'],
    ['change_pending', 'settings.password.refused.pending'],
    ['invalid_field', 'settings.password.refused.invalid'],
    ['internal', 'settings.password.refused'],
  ]) {
    shown.length = 0;
    const msg = await type('Bergwerk 8');
    serverSays('error', { code, message: 'no' }, msg.id);
    await tick(2);
    assert.ok(shown.includes(t(key)), `${code}: ${shown}`);
    assert.ok(!shown.includes(t('settings.password.saved')), `${code}: said saved`);
    assert.equal(node('setting-password').value, 'Bergwerk 8', `${code}: the password typed is gone`);
    assert.equal(node('setting-password-save').disabled, false, `${code}: Save stays off`);
    assert.equal(document.activeElement, node('setting-password'));
  }
});

// A change of the password whose sender is made a moderator no more while it waits is
// refused (not_allowed), also when the sender is a moderator again by then (PROTOCOL.md,
// "Two moderators at once"). The page said "only moderators can change it" to a
// moderator: it says now that the demotion cancelled the change, and that it can be made
// again. Refused while the sender is still demoted, the old text holds.
test('a change of the password refused for a demotion undone since says so, not "only moderators can change it"', async (t0) => {
  await meeting(t0, { settingsRevision: 2, settings: { ...SETTINGS, passwordRequired: true } });
  const refuse = async (msg) => {
    shown.length = 0;
    await refuseNotAllowed(msg);
  };
  const notAllowed = t('settings.password.refused.not-allowed');

  // Made a participant while the new password waits, and refused so.
  let msg = await type('Bergwerk 12');
  await roleTo('participant');
  assert.equal(node('setting-password-save').disabled, true, 'the panel is usable by a participant');
  await refuse(msg);
  assert.ok(shown.includes(notAllowed), `refused while a participant: ${shown}`);

  // A moderator again; made a participant and a moderator again while the next one waits.
  await roleTo('moderator');
  msg = await type('Bergwerk 13');
  await roleTo('participant');
  await roleTo('moderator');
  await refuse(msg);
  assert.ok(!shown.includes(notAllowed), `a moderator was told that only moderators can change it: ${shown}`);
  assert.deepEqual(shown, [t('settings.password.refused.demoted')]);
  assert.equal(node('setting-password').value, 'Bergwerk 13', 'the password typed is gone');
  assert.equal(node('setting-password-save').disabled, false, 'Save stays off');

  // A removal likewise ("the server did not allow that" said nothing of why).
  const removal = await remove();
  await roleTo('participant');
  await roleTo('moderator');
  await refuse(removal);
  assert.deepEqual(shown, [t('settings.password.remove.refused-demoted')]);
  assert.equal(node('setting-password-clear').disabled, false, 'Remove stays off');
  for (const key of ['settings.password.refused.demoted', 'settings.password.remove.refused-demoted']) assert.notEqual(t(key), key);
});

// A moderator's change of the password is refused as not_allowed also when the meeting
// ends, or its moderator is removed or sent to the waiting room, while it waits, and
// the server may send that refusal before the bye that says so (the session's goroutine
// takes what is ready in either order). The page, a moderator's still and shown no
// demotion, said that a demotion had cancelled the change and that it could be made
// again, then showed "The meeting has ended". Only a demotion the page was told of
// while the change waited is said to be one; the next change starts afresh. Of the
// others nothing is said: the bye follows (below).
test('a change of the password refused while its moderator was not demoted is not said to be cancelled by a demotion', async (t0) => {
  await meeting(t0, { settingsRevision: 2, settings: { ...SETTINGS, passwordRequired: true } });
  const refuse = async (msg, message) => {
    shown.length = 0;
    await refuseNotAllowed(msg, message);
  };
  const demoted = [t('settings.password.refused.demoted'), t('settings.password.remove.refused-demoted')];
  const notDemoted = () => assert.ok(!shown.some((x) => demoted.includes(x)), `a moderator not demoted was told of a demotion: ${shown}`);

  // A demotion undone while a new password waits, said so.
  let msg = await type('Bergwerk 15');
  await roleTo('participant');
  await roleTo('moderator');
  await refuse(msg, 'only moderators may do that');
  assert.deepEqual(shown, [demoted[0]]);

  // The removal asked next is refused as the meeting ends (or its moderator is removed):
  // the bye says so next.
  msg = await remove();
  await refuse(msg, 'the meeting has ended');
  notDemoted();
  assert.deepEqual(shown, [], 'said before the bye');
  assert.equal(node('setting-password-clear').disabled, false, 'Remove stays off');

  // Again for a removal that waits through a demotion undone, and then a new password
  // that does not: said as before.
  msg = await remove();
  await roleTo('participant');
  await roleTo('moderator');
  await refuse(msg, 'only moderators may do that');
  assert.deepEqual(shown, [demoted[1]]);
  msg = await type('Bergwerk 16');
  await refuse(msg, 'the meeting has ended');
  notDemoted();
  assert.deepEqual(shown, [], 'said before the bye');
  assert.equal(node('setting-password').value, 'Bergwerk 16', 'the password typed is gone');
  assert.equal(node('setting-password-save').dataset.pending, undefined, 'still saving');
});

// The meeting ends, or its moderator is removed or sent back to the waiting room, while
// a change of the password waits: the server refuses it (not_allowed) and says bye,
// the refusal first or not at all (the session's goroutine takes what is ready in
// either order; one after the bye is not read). The page said "Password not saved:
// only moderators can change it." (for a removal "The server did not allow that."), an
// assertive toast, right before the end screen, and sent back unrefused, "The
// connection dropped before the server confirmed the new password" (the next join's
// forgetPending) over the waiting room, to a participant now. The end screen, or the
// waiting room's, is the only thing said.
test('a change of the password ended by the meeting\'s end, a removal or a return to the waiting room says nothing before the screen that follows', async (t0) => {
  const WITH_PASSWORD = { settingsRevision: 2, settings: { ...SETTINGS, passwordRequired: true } };
  const screens = [];
  const ended = () => ({ failed: (kind) => screens.push(kind) });
  const bye = async (reason, code) => {
    serverSays('bye', { reason });
    dropSocket(code);
    await tick(2);
  };

  // The meeting ends while a new password waits.
  await meeting(t0, WITH_PASSWORD, null, ended);
  let msg = await type('Bergwerk 17');
  shown.length = 0;
  await refuseNotAllowed(msg, 'the meeting has ended');
  await bye('ended', 1000);
  assert.deepEqual(screens, ['ended']);
  assert.deepEqual(shown, [], 'said besides the end screen');

  // Removed while a removal waits.
  await meeting(t0, WITH_PASSWORD, null, ended);
  msg = await remove();
  shown.length = 0;
  await refuseNotAllowed(msg);
  await bye('removed', 4409);
  assert.deepEqual(screens, ['ended', 'removed']);
  assert.deepEqual(shown, [], 'said besides the end screen');

  // Sent back to the waiting room while a new password waits, its refusal after the
  // bye: the page knocks again as meeting-session-ui.js has it, its join forgetting
  // what the session before sent (meeting.js).
  let back = 0;
  await meeting(t0, WITH_PASSWORD, null, (panel) => ({
    sentToLobby: sessionUI({
      roster: noop, stopped: noop.stopped, forgetModeratorSecret: noop.forget, settingsPanel: panel, currentName: () => 'Mo',
      join: () => { back++; panel.forgetPending(); },
    }).sentToLobby,
  }));
  await type('Bergwerk 18');
  shown.length = 0;
  await bye('sent_to_lobby', 1000);
  assert.equal(back, 1, 'the page did not knock again');
  assert.deepEqual(shown, [], 'said over the waiting room');
  assert.equal(node('setting-password-save').dataset.pending, undefined, 'still saving');
});

// The page never sends a second change of the password before the first is answered
// (Save and Remove wait for each other), but a server that refuses one as still pending
// (change_pending) is told plainly: it fell back to "the server could not store it" for
// a new password and to "the server did not allow that" for a removal.
test('a change of the password refused as still pending says that an earlier one is not finished', async (t0) => {
  await meeting(t0, { settingsRevision: 2, settings: { ...SETTINGS, passwordRequired: true } });
  shown.length = 0;
  const msg = await type('Bergwerk 11');
  serverSays('error', { code: 'change_pending', message: 'no' }, msg.id);
  await tick(2);
  assert.ok(shown.includes(t('settings.password.refused.pending')), `a new password: ${shown}`);
  assert.equal(node('setting-password').value, 'Bergwerk 11', 'the password typed is gone');

  shown.length = 0;
  node('setting-password-clear').click();
  await tick(1);
  const from = sent.length;
  node('confirm-ok').click();
  await tick(2);
  const [removal] = updates(from);
  assert.deepEqual(removal?.payload, { password: '', revision: 2 });
  serverSays('error', { code: 'change_pending', message: 'no' }, removal.id);
  await tick(2);
  assert.ok(shown.includes(t('refused.change-pending')), `a removal: ${shown}`);
  assert.equal(node('setting-password-clear').disabled, false, 'Remove stays off after the answer');
  for (const key of ['settings.password.refused.pending', 'refused.change-pending']) assert.notEqual(t(key), key);
});

test('a session that ends before the answer does not leave the new password "saving"', async (t0) => {
  const { panel } = await meeting(t0);
  shown.length = 0;
  await type('Bergwerk 9');
  dropSocket();
  panel.forgetPending(); // meeting.js: the next session's join
  assert.ok(shown.includes(t('settings.password.unconfirmed')), `${shown}`);
  assert.ok(!shown.includes(t('settings.password.saved')));
  assert.equal(node('setting-password-save').dataset.pending, undefined); // disabled while reconnecting
});
