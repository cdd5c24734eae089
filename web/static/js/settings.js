// The meeting's settings: the moderators' panel (each switch sends
// `update_settings`; what is shown is always the last `settings` message), and
// what a change means for everyone else.
//
// Test hooks: checkboxes #setting-lock, #setting-lobby, #setting-screenshare,
// #setting-unmute, #setting-chat; #setting-password with #setting-password-save
// (and #setting-password-clear); #btn-end-meeting (asks with #confirm-ok);
// #setting-attempts, the count of wrong passwords tried (`access_attempts`).
//
// A new password is saved when the server says so: the `settings` that answers its
// `update_settings` (its ref, signaling/PROTOCOL.md) says "Password saved"; an `error`
// answering it says why not, and the password typed stays in the field to try again.
// Meanwhile #setting-password-save is disabled with data-pending="true". (The page said
// "saved" as it sent the password, before the server hashed it, which it may refuse.)
// Save and Remove wait for the answer to a new password and to a removal alike: the
// server takes one change of the password from a session at a time.
//
// Every change names the revision of the settings it was based on (PROTOCOL.md, "Two
// moderators at once"): a switch the one shown when it was flipped, a new password the
// one shown when the moderator began to type it, a removal the one shown when Remove was
// pressed, before its confirmation. The server refuses one that would undo another
// moderator's change since (settings_changed); the panel then shows what holds and says
// so, and the typed password stays, to be set again knowingly on the new revision. Two
// moderators setting a password at once were both told "Password saved", and a password
// typed while another moderator's came replaced it unseen. Another moderator's new or
// removed password is told (changedByOther), also when it came while this page was
// reconnecting (missed): the one this moderator handed out no longer opens the meeting.
//
// The panel is usable only for a joined moderator's session (setEnabled, from meeting.js
// applyRole, which runs at every welcome and at a drop). Under the "Reconnecting…"
// overlay, which stops the mouse but not the keyboard, its controls are disabled: what
// it shows is the settings from before the drop, nothing it would send goes (no session
// is joined), and a confirmation open at the drop (Remove, End the meeting) is cancelled
// there (held-roster.js hold).
//
// Revisions count within one meeting, and a new session of the page (a knock, not a
// resume: newSession) may come into a new meeting of the room. A password begun, or a
// removal asked, in an earlier session is based on the meeting's first revision then:
// compared with the new meeting's revisions, its old one let it replace unseen a
// password another moderator had set there before this page's welcome. The welcome's
// settingsEpoch names the meeting (welcomed): in the same one, what was begun keeps
// its revision; based on the first, the page's own password change of its earlier
// session refused it as another moderator's.
//
// A notice shown as a toast is read out by it (#toasts-polite, a live region) and is
// not also announced: a screen reader said it twice.

import { $, toast } from './dom.js';
import { confirmAction, retell } from './confirm.js';
import { setAttr, setText, t } from './i18n.js';

// The revision of a meeting's settings as its room gave them (PROTOCOL.md, "Two
// moderators at once"): every change made in the meeting comes after it.
const FIRST_REVISION = 1;

// checkbox id -> settings field
const SWITCHES = {
  'setting-lock': 'locked',
  'setting-lobby': 'lobby',
  'setting-screenshare': 'screenShare',
  'setting-unmute': 'unmute',
  'setting-chat': 'chat',
};

export class SettingsPanel {
  /** @param {{send(type: string, payload?: object): string|null}} opts */
  constructor({ send }) {
    this.send = send;
    this.settings = null;
    this.pending = null; // the id of the update_settings with a new password not yet answered
    this.removal = null; // the id of the update_settings removing the password, not yet answered
    this.roleLost = false; // the panel was disabled while the change of the password under way waited: a demotion (refused), or a drop (forgetPending)
    this.revision = 0; // the revision of the settings shown (0: the server names none)
    this.typedOn = null; // the revision shown when the password in the field was begun
    this.enabled = true; // setEnabled: a joined moderator's session (off from the start below)
    this.sessions = 0; // newSession: how many sessions of the page came before this one
    this.removing = null; // Remove's confirmation while it is open (render retells it)
    this.epoch = ''; // the settingsEpoch of the last welcome: the meeting the revisions count in
    this.before = null; // newSession: what the earlier session had begun, until the welcome says where it is
    for (const [id, field] of Object.entries(SWITCHES)) {
      const box = $(`#${id}`);
      box.addEventListener('change', () => {
        if (this._update({ [field]: box.checked }, this.revision) === null) this.render(this.settings);
      });
    }
    const input = $('#setting-password');
    const save = $('#setting-password-save');
    input.addEventListener('input', () => {
      if (input.value.trim() === '') this.typedOn = null;
      else if (this.typedOn === null) this.typedOn = this.revision;
      this._renderSave();
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this._savePassword();
      }
    });
    save.addEventListener('click', () => this._savePassword());
    $('#setting-password-clear').addEventListener('click', async () => {
      if (!this.enabled) return;
      const shown = this.revision; // a password set while the dialog is open is not removed
      const session = this.sessions;
      const question = confirmAction({
        title: t('settings.password.remove.title'),
        text: t(withoutPassword(this.settings).remove),
        ok: t('settings.password.remove'),
      });
      this.removing = question;
      const ok = await question;
      if (this.removing === question) this.removing = null;
      if (!ok) return;
      const id = this._update({ password: '' }, session === this.sessions ? shown : FIRST_REVISION);
      if (id === null || id === undefined) return;
      this.removal = id;
      this.roleLost = false;
      this._renderSave();
    });
    $('#btn-end-meeting').addEventListener('click', async () => {
      if (!this.enabled) return;
      const ok = await confirmAction({
        title: t('settings.end.title'),
        text: t('settings.end.text'),
        ok: t('settings.end.ok'),
      });
      // Confirmed while the session reconnects: no session is there to end it for.
      if (ok && this.enabled) this.send('end_meeting');
    });
    this.setEnabled(false);
  }

  /**
   * setEnabled makes the panel's controls usable (on: the session is joined and this
   * page a moderator in it) or disabled (a session not joined: reconnecting, before a
   * welcome). The password typed stays, with the revision it was begun on.
   */
  setEnabled(on) {
    this.enabled = !!on;
    // A demotion ends the change of the password under way, however soon it is undone.
    if (!this.enabled && (this.pending || this.removal)) this.roleLost = true;
    for (const id of [...Object.keys(SWITCHES), 'setting-password', 'btn-end-meeting']) {
      $(`#${id}`).disabled = !this.enabled;
    }
    this._renderSave();
  }

  /**
   * newSession: the page knocks with a new session, not a resume of its membership, and
   * may come into a new meeting of the room, whose revisions are not comparable with
   * the ones shown before. A password typed, or a removal asked, before is based on the
   * meeting's first revision: a password another moderator set or removed there
   * clashes, at worst a needless refusal, after which it is set again knowingly. The
   * new session's welcome may say it is the same meeting (welcomed).
   */
  newSession() {
    this.before ??= { typedOn: this.typedOn, sessions: this.sessions };
    this.sessions++;
    if (this.typedOn !== null) this.typedOn = FIRST_REVISION;
  }

  /**
   * welcomed takes every welcome's settingsEpoch, before the panel renders it. After a
   * new session, the same epoch as the last welcome's is the same meeting: a password
   * typed, or a removal asked, in the earlier session keeps the revision it was based
   * on. An empty epoch (a server that names none) is never the same.
   */
  welcomed(epoch) {
    const before = this.before;
    this.before = null;
    if (before && epoch && epoch === this.epoch) {
      if (this.typedOn !== null) this.typedOn = before.typedOn;
      this.sessions = before.sessions;
    }
    this.epoch = epoch || '';
  }

  /**
   * render shows the settings object of the last `settings` message and its revision
   * (kept when not given); Remove's confirmation, if open, says what holds under them.
   */
  render(settings, revision = this.revision) {
    if (!settings) return;
    this.settings = settings;
    this.revision = revision;
    retell(this.removing, t(withoutPassword(settings).remove));
    for (const [id, field] of Object.entries(SWITCHES)) $(`#${id}`).checked = !!settings[field];
    const has = !!settings.passwordRequired;
    setText($('#setting-password-state'), has ? 'settings.password.is-set' : withoutPassword(settings).none);
    $('#setting-password-state').dataset.set = has ? 'true' : 'false';
    setText($('#setting-password-save'), has ? 'rooms.edit' : 'settings.password.set');
    $('#setting-password-clear').hidden = !has;
    setAttr($('#setting-password'), 'placeholder', has ? 'settings.password.new' : 'settings.password');
    $('#setting-lobby-note').hidden = settings.lobby;
  }

  /** showAttempts shows how many wrong passwords were tried at this meeting. */
  showAttempts(count) {
    const line = $('#setting-attempts');
    const first = line.hidden && count > 0;
    setText(line, 'settings.attempts', { count });
    line.hidden = !(count > 0);
    if (first) toast(t('settings.attempts.toast'), { timeout: 8000 });
  }

  /**
   * changedByOther takes the fields another moderator's change changed (`settings`
   * without a ref) and says when it set or removed the password.
   */
  changedByOther(changed, settings) {
    if (!changed.includes('password')) return;
    // The toast is its one read-out (announced too, it was said twice).
    toast(t(settings.passwordRequired ? 'settings.password.changed-elsewhere' : withoutPassword(settings).removed), { timeout: 10000 });
  }

  /**
   * missed takes a resumed welcome's passwordRevision (0: none), before the panel shows
   * its settings: another moderator's password change the page missed while it
   * reconnected is told, as changedByOther tells one that comes. A replaced password
   * looks like the one before.
   */
  missed(passwordRevision, settings) {
    if (this.revision > 0 && passwordRevision > this.revision) this.changedByOther(['password'], settings);
  }

  /**
   * _update sends update_settings based on revision (none to a server that names none);
   * its id, or null.
   */
  _update(payload, revision) {
    if (!this.enabled) return null;
    return this.send('update_settings', revision > 0 && this.revision > 0 ? { ...payload, revision } : payload);
  }

  _savePassword() {
    const input = $('#setting-password');
    const value = input.value.trim();
    if (!value || this.pending || this.removal) return;
    const id = this._update({ password: value }, this.typedOn ?? this.revision);
    if (id === null || id === undefined) return;
    this.pending = id;
    this.roleLost = false;
    this._renderSave();
  }

  _renderSave() {
    // One change of the password at a time from a session: the server refuses another
    // that names the password before the first is answered (change_pending), so Save
    // and Remove each wait for the answer to a new password and to a removal.
    const busy = !!this.pending || !!this.removal;
    const save = $('#setting-password-save');
    save.disabled = !this.enabled || busy || $('#setting-password').value.trim() === '';
    $('#setting-password-clear').disabled = !this.enabled || busy;
    if (this.pending) save.dataset.pending = 'true';
    else delete save.dataset.pending;
  }

  /** confirmed takes the ref of a `settings` message: the answer to a new password. */
  confirmed(ref) {
    if (ref && ref === this.removal) {
      this.removal = null; // the settings shown say it is removed
      this._renderSave();
      return;
    }
    if (!ref || ref !== this.pending) return;
    this.pending = null;
    $('#setting-password').value = '';
    this.typedOn = null;
    this._renderSave();
    toast(t('settings.password.saved'), { kind: 'success', timeout: 6000 });
  }

  /**
   * refused takes an `error` answering an update_settings (its ref and code); true when
   * it answered a change of the password, which it then explains (a new password stays
   * typed), or leaves to the end screen that follows (below).
   *
   * A change of the password is refused as not_allowed also when its sender was made a
   * moderator no more while it waited and a moderator again before the server came to it
   * (PROTOCOL.md, "Two moderators at once": a demotion ends the changes under way,
   * however soon it is undone). The page then is a moderator (this.enabled: the role
   * changes came before the refusal), and "only moderators can change it" was said to
   * one: it says that the change was cancelled by the demotion, and that it can be made
   * again. That is said only where the panel was disabled while the change waited
   * (roleLost: the demotion came, as a participant_updated, before the refusal).
   *
   * Refused so to a page still a moderator's that saw no demotion, the change was ended
   * by the meeting's end, or by its moderator's removal or return to the waiting room,
   * while it waited: nothing else refuses it so, and the bye that says which follows
   * (the server may send the refusal first). Nothing is said of it: "Password not saved:
   * only moderators can change it." (or "The server did not allow that." for a
   * removal), an assertive toast, was read out just before "The meeting has ended",
   * true but noise, and the end screen is what the person needs to hear.
   */
  refused(ref, code) {
    if (!ref || (ref !== this.removal && ref !== this.pending)) return false;
    const notAllowed = code === 'not_allowed' && this.enabled;
    const demotedMeanwhile = notAllowed && this.roleLost;
    const endsMeanwhile = notAllowed && !this.roleLost;
    if (ref === this.removal) {
      this.removal = null;
      this._renderSave();
      if (endsMeanwhile) return true; // the bye's screen says why
      if (!demotedMeanwhile) return false; // said as before, as any refused change of the settings
      toast(t('settings.password.remove.refused-demoted'), { kind: 'error', timeout: 10000 });
      return true;
    }
    this.pending = null;
    // Refused for another moderator's password: the panel shows it now (rules.js
    // rendered the settings first); set again, the typed one replaces it knowingly.
    if (code === 'settings_changed') this.typedOn = this.revision;
    this._renderSave();
    if (endsMeanwhile) return true; // the bye's screen says why; the password stays typed
    const key = demotedMeanwhile ? 'settings.password.refused.demoted' : PASSWORD_REFUSED[code] || 'settings.password.refused';
    toast(t(key), { kind: 'error', timeout: code === 'settings_changed' || demotedMeanwhile ? 12000 : 8000 });
    $('#setting-password').focus();
    return true;
  }

  /**
   * sentBack: the person was sent back to the waiting room, to knock again as a
   * participant, with a change of the password unanswered. It is theirs to follow no
   * more (the server refused it, whether or not that refusal came before the bye), and
   * the join that knocks again (forgetPending) would say "The connection dropped before
   * the server confirmed the new password" over the waiting room: false, and of a
   * meeting they no longer moderate.
   */
  sentBack() {
    this.pending = null;
    this.removal = null;
    this.roleLost = false;
    this._renderSave();
  }

  /**
   * forgetPending: the session that sent a new password ended before the server
   * answered (a dropped connection, a new session). Whether it was saved, the next
   * welcome's settings show; the person is told to look, not that it was saved.
   */
  forgetPending() {
    if (this.removal) {
      this.removal = null; // whether it was removed, the next welcome's settings show
      this._renderSave();
    }
    if (!this.pending) return;
    this.pending = null;
    this._renderSave();
    toast(t('settings.password.unconfirmed'), { kind: 'error', timeout: 8000 });
  }
}

/**
 * withoutPassword gives the keys of what the panel says of a meeting without a password
 * (none: the panel's line, remove: Remove's confirmation, removed: another moderator's
 * removal). With the waiting room off the link lets people straight in, not ask to join;
 * while the meeting is locked it lets nobody new in (nor ask), so the texts say what
 * holds once it is unlocked. The line follows the settings shown (render).
 */
function withoutPassword(settings) {
  const noLobby = !!settings && !settings.lobby;
  const locked = !!settings && !!settings.locked;
  return WITHOUT_PASSWORD[`${noLobby ? 'no-lobby' : 'lobby'}${locked ? '-locked' : ''}`];
}

const WITHOUT_PASSWORD = {
  lobby: {
    none: 'settings.password.none',
    remove: 'settings.password.remove.text',
    removed: 'settings.password.removed-elsewhere',
  },
  'no-lobby': {
    none: 'settings.password.none-no-lobby',
    remove: 'settings.password.remove.text-no-lobby',
    removed: 'settings.password.removed-elsewhere-no-lobby',
  },
  'lobby-locked': {
    none: 'settings.password.none-locked',
    remove: 'settings.password.remove.text-locked',
    removed: 'settings.password.removed-elsewhere-locked',
  },
  'no-lobby-locked': {
    none: 'settings.password.none-no-lobby-locked',
    remove: 'settings.password.remove.text-no-lobby-locked',
    removed: 'settings.password.removed-elsewhere-no-lobby-locked',
  },
};

/** PASSWORD_REFUSED: what a refused new password says, by the error's code. */
const PASSWORD_REFUSED = {
  rate_limited: 'settings.password.refused.too-fast',
  change_pending: 'settings.password.refused.pending',
  invalid_field: 'settings.password.refused.invalid',
  not_allowed: 'settings.password.refused.not-allowed',
  settings_changed: 'settings.password.refused.changed',
};

/**
 * settingsNews lists what a participant should be told about a change of
 * settings (moderators see the panel instead). sharing: the participant's screen share
 * is on and this change ends it, which the news about screen sharing then says.
 */
export function settingsNews(old, now, role, { sharing = false } = {}) {
  const news = [];
  if (old.chat !== now.chat) news.push(t(now.chat ? 'settings.news.chat-on' : 'settings.news.chat-off'));
  if (role === 'participant' && old.screenShare !== now.screenShare) {
    news.push(t(now.screenShare ? 'settings.news.share-on' : sharing ? 'settings.news.share-ended' : 'settings.news.share-off'));
  }
  return news;
}
