// The settings panel's page for the Node tests of settings.js (settings-password,
// settings-revision, settings-texts): the panel's elements as stand-ins, a moderator's
// session joined with the panel wired as the page wires it, and the helpers those tests
// type, remove and refuse with.
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

// The settings panel's elements, one per id, keeping their listeners and values.
const nodes = new Map();
export const node = (id) => {
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
export const shown = captureShown();

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { SettingsPanel } = await import('../static/js/settings.js');
const { MeetingRules } = await import('../static/js/rules.js');
export const { t } = await import('../static/js/i18n.js');
export const { sessionUI } = await import('../static/js/meeting-session-ui.js');

export const SETTINGS = { lobby: true, locked: false, screenShare: false, unmute: true, chat: true, passwordRequired: false };

/**
 * meeting joins a session as moderator; panel: the page's panel, kept from an earlier
 * session (a resume); more(panel): more of the session's ui.
 */
export let current = null; // the page's session (meeting.js): a kept panel sends through the newest
export async function meeting(t0, welcome = {}, kept = null, more = () => ({})) {
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
export async function type(password) {
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
export async function remove() {
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
export async function roleTo(role) {
  serverSays('participant_updated', { participant: { id: 'p-mo', role } });
  await tick(2);
}

/** refuseNotAllowed: the server refuses msg as not_allowed, saying message. */
export async function refuseNotAllowed(msg, message = 'only moderators may do that') {
  serverSays('error', { code: 'not_allowed', message }, msg.id);
  await tick(2);
}

/** updates returns the update_settings sent since from. */
export const updates = (from) => sent.slice(from).filter((m) => m.type === 'update_settings');
