// A moderator's new meeting password (settings.js) is "saved" when the server says so:
// the `settings` answering its update_settings (its ref, signaling/PROTOCOL.md). The
// page said "Password saved" as it sent the password, before the server hashed it, and
// also when the server then refused it (too many new passwords, too long, no longer a
// moderator). Another moderator's change arriving meanwhile is no confirmation; a
// refusal says why and leaves the password typed; a session that ends unanswered says
// that the password may not be set.
//
// Every change names the revision of the settings it was based on (PROTOCOL.md, "Two
// moderators at once"): a password the one shown when typing began, a removal the one
// shown when Remove was pressed. Two moderators who set a password at once were both
// told "saved", and a password typed while another moderator's came replaced it unseen;
// the refusal (settings_changed) now shows what holds and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown, dropSocket } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';
import { liveRegion } from './live-region.mjs';

// The settings panel's elements, one per id, keeping their listeners and values.
const nodes = new Map();
const node = (id) => {
  if (!nodes.has(id)) {
    const listeners = {};
    nodes.set(id, {
      id, value: '', disabled: false, hidden: false, checked: false, textContent: '', dataset: {}, attributes: {},
      classList: { add() {}, remove() {}, toggle() {} },
      addEventListener: (type, f) => { listeners[type] = f; },
      dispatch: (type, e = {}) => listeners[type] && listeners[type]({ preventDefault() {}, ...e }),
      click() { if (!this.disabled && listeners.click) listeners.click({}); },
      setAttribute(k, v) { this.attributes[k] = String(v); }, removeAttribute(k) { delete this.attributes[k]; },
      showModal() { this.open = true; }, close() { this.open = false; }, // #confirm-dialog
      focus() { document.activeElement = this; },
    });
  }
  return nodes.get(id);
};
document.querySelector = (sel) => node(sel.replace(/^#/, ''));
const shown = captureShown();

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { SettingsPanel } = await import('../static/js/settings.js');
const { MeetingRules } = await import('../static/js/rules.js');
const { t } = await import('../static/js/i18n.js');
const { sessionUI } = await import('../static/js/meeting-session-ui.js');

const SETTINGS = { lobby: true, locked: false, screenShare: false, unmute: true, chat: true, passwordRequired: false };

/**
 * meeting joins a session as moderator; panel: the page's panel, kept from an earlier
 * session (a resume); more(panel): more of the session's ui.
 */
let current = null; // the page's session (meeting.js): a kept panel sends through the newest
async function meeting(t0, welcome = {}, kept = null, more = () => ({})) {
  let session = null;
  const media = new LocalMedia();
  const panel = kept || new SettingsPanel({ send: (type, p) => (current ? current.moderate(type, p) : null) });
  // As meeting.js's join: what the earlier session sent is unanswered.
  if (kept) kept.forgetPending();
  const rules = new MeetingRules({ media, controls: () => noop, chat: noop, session: () => session, settingsPanel: panel,
    roleApplied: () => panel.setEnabled(session.isModerator) }); // applyRole
  session = new Session({ meetingId: 'm1', name: 'Mo', media, grid: gridStandIn(), chat: noop,
    // As meeting-session-ui.js and meeting.js wire them.
    ui: uiStandIn({
      joined: () => {
        panel.setEnabled(session.isModerator); // applyRole
        panel.welcomed(session.settingsEpoch);
        if (session.isModerator) panel.missed(session.passwordRevision, session.settings);
        panel.render(session.settings, session.settingsRevision);
      },
      settingsChanged: (old, now, ref, changed) => { rules.settingsChanged(old, now, changed, ref); panel.confirmed(ref); },
      refused: (code, type, ref) => rules.refused(code, type, ref),
      roleChanged: (old, now) => rules.roleChanged(old, now),
      // Dropped: the page reconnects (reconnect.js) and applyRole runs for no joined session.
      dropped: () => {
        panel.setEnabled(!session.ended && session.isModerator);
        return true;
      },
      ...more(panel),
    }) });
  current = session;
  t0.after(() => { session.end(); media.stopAll(); });
  const from = sent.length;
  session.start();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-mo', e2ee: false, role: 'moderator', participants: [], settings: SETTINGS, ...welcome });
  await eventually(() => session.joined, 'joined');
  return { session, panel };
}

/** type puts a password into the field and presses Save; it returns the update_settings sent. */
async function type(password) {
  const from = sent.length;
  node('setting-password').value = password;
  node('setting-password').dispatch('input');
  node('setting-password-save').click();
  await tick(2);
  return sent.slice(from).find((m) => m.type === 'update_settings');
}

/**
 * remove empties the field, presses Remove and confirms it; it returns the
 * update_settings sent, which must be the removal asked on revision 2 (the meetings of
 * the tests that use it).
 */
async function remove() {
  node('setting-password').value = '';
  node('setting-password').dispatch('input');
  node('setting-password-clear').click();
  await tick(1);
  const from = sent.length;
  node('confirm-ok').click();
  await tick(2);
  const removal = sent.slice(from).find((m) => m.type === 'update_settings');
  assert.deepEqual(removal?.payload, { password: '', revision: 2 });
  return removal;
}

/** roleTo: the server tells the page that its moderator is now role (participant_updated). */
async function roleTo(role) {
  serverSays('participant_updated', { participant: { id: 'p-mo', role } });
  await tick(2);
}

/** refuseNotAllowed: the server refuses msg as not_allowed, saying message. */
async function refuseNotAllowed(msg, message = 'only moderators may do that') {
  serverSays('error', { code: 'not_allowed', message }, msg.id);
  await tick(2);
}

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

/** updates returns the update_settings sent since from. */
const updates = (from) => sent.slice(from).filter((m) => m.type === 'update_settings');

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
