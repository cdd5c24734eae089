// A moderator's new meeting password (settings.js) is "saved" when the server says so:
// the `settings` answering its update_settings (its ref, signaling/PROTOCOL.md). The
// page said "Password saved" as it sent the password, before the server hashed it, and
// also when the server then refused it (too many new passwords, too long, no longer a
// moderator). Another moderator's change arriving meanwhile is no confirmation; a
// refusal says why and leaves the password typed; a session that ends unanswered says
// that the password may not be set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown, dropSocket } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

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

const SETTINGS = { lobby: true, locked: false, screenShare: false, unmute: true, chat: true, passwordRequired: false };

async function meeting(t0) {
  let session = null;
  const media = new LocalMedia();
  const panel = new SettingsPanel({ send: (type, p) => (session ? session.moderate(type, p) : null) });
  const rules = new MeetingRules({ media, controls: () => noop, chat: noop, session: () => session, settingsPanel: panel, roleApplied() {} });
  session = new Session({ meetingId: 'm1', name: 'Mo', media, grid: gridStandIn(), chat: noop,
    // As meeting.js wires them.
    ui: uiStandIn({
      settingsChanged: (old, now, ref) => { rules.settingsChanged(old, now); panel.confirmed(ref); },
      refused: (code, type, ref) => rules.refused(code, type, ref),
    }) });
  t0.after(() => { session.end(); media.stopAll(); });
  const from = sent.length;
  session.start();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-mo', e2ee: false, role: 'moderator', participants: [], settings: SETTINGS });
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

test('a refused new password says why and stays typed, to be tried again', async (t0) => {
  await meeting(t0);
  for (const [code, key] of [
    ['rate_limited', 'settings.password.refused.too-fast'],
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

test('a session that ends before the answer does not leave the new password "saving"', async (t0) => {
  const { panel } = await meeting(t0);
  shown.length = 0;
  await type('Bergwerk 9');
  dropSocket();
  panel.forgetPending(); // meeting.js: the next session's join
  assert.ok(shown.includes(t('settings.password.unconfirmed')), `${shown}`);
  assert.ok(!shown.includes(t('settings.password.saved')));
  assert.equal(node('setting-password-save').disabled, false);
});
