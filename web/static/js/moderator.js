// What a moderator can do to a participant, as menu entries for people.js, and the
// words for refusals. The server checks every power; this only offers them.
//
// What a moderator is told of its own action ("Muted Ann") waits for the server's
// `done` naming that message (its ref, signaling/PROTOCOL.md; Confirmations): said as
// it was sent, it came before the server agreed, and a refusal (no longer a moderator,
// the person gone) followed it with the opposite.
//
// Test hooks: [data-action="<action>"][data-participant-id="<id>"], action one of
// mute_microphone, ask_unmute, mute_camera, stop_screen_share (disabled unless that
// person shares), make_presenter (disabled for moderators) / remove_presenter
// (presenters), make_moderator / remove_moderator, send_to_lobby, remove (asks with
// #confirm-ok).

import { toast } from './dom.js';
import { confirmAction } from './confirm.js';
import { t } from './i18n.js';
import { sentence } from './e2ee-names.js';
import { clipName } from './clipped.js';

/** MODERATOR_TYPES are the messages only moderators may send. */
export const MODERATOR_TYPES = new Set([
  'admit', 'deny', 'admit_all', 'deny_all', 'send_to_lobby', 'remove', 'set_role', 'update_settings',
  'mute', 'ask_unmute', 'stop_screen_share', 'end_meeting',
  'mute_all', 'lower_hand', 'lower_all_hands', // modctl
]);

/**
 * Confirmations holds what a moderator is to be told of its own actions ({key, params}
 * of the catalogue, by the id of the message sent) until the server says each is done
 * (`done`, its ref). An `error` naming one instead is explained where every refusal is
 * (rules.js refused) and the text is forgotten; so are those of a session that ended
 * (modctl.js attach: the next session's message ids start again).
 */
export class Confirmations {
  constructor() {
    this.pending = new Map(); // message id -> {key, params}
  }

  /** expect keeps said ({key, params}) for the message id (null: nothing was sent). */
  expect(id, said) {
    if (id === null || id === undefined || !said) return;
    this.pending.set(id, said);
    if (this.pending.size > 100) this.pending.delete(this.pending.keys().next().value); // never answered
  }

  /** done: the server carried out the message ref; what it did is said now. */
  done(ref) {
    const said = this.pending.get(ref);
    if (!said) return;
    this.pending.delete(ref);
    // A long name is shown clipped ("Muted Maximilian Alexander von Hohen…"), read whole.
    const { params = {} } = said;
    const shown = typeof params.name === 'string' ? { ...params, name: clipName(params.name) } : params;
    toast(t(said.key, params), { shown: t(said.key, shown) });
  }

  /** forget: the message ref was refused (or will never be answered). */
  forget(ref) {
    this.pending.delete(ref);
  }

  reset() {
    this.pending.clear();
  }
}

/**
 * participantActions lists the menu entries for one participant.
 * send(type, payload, said) sends a moderator message; said ({key, params}) is what the
 * moderator is told once the server says it is done (Confirmations). Each label is a
 * catalogue key.
 * settings() gives the meeting's settings as they are when an entry is chosen: the
 * question before "Remove" says whether the person can come back (not while the
 * meeting is locked; straight back with the link while the waiting room is off; else
 * by knocking, if a moderator lets them in).
 *
 * Each entry keeps its place whatever the participant's own media does: an entry that
 * does not apply now is there, disabled. The open menu is drawn again at every update
 * of the participant, and the participant chooses its media: when "Stop screen share"
 * came and went with its sharing, a participant flipping its share five times a second
 * moved "Make moderator" under the moderator's pointer.
 */
export function participantActions(person, send, settings = () => null) {
  const id = person.id;
  const media = person.media || {};
  const role = person.role || 'participant';
  const item = (action, label, run, danger = false, disabled = false) => ({ action, label, run, danger, disabled });
  // Said of the person by name, or while the name is a placeholder ("…") as "this
  // person" ("Muted this person", "Remove this person?"): e2ee-names.js sentence.
  const said = (key) => sentence(key, person, t);
  const say = (key) => { const s = said(key); return t(s.key, s.params); };
  const setRole = (to, note) => () => send('set_role', { participantId: id, role: to }, said(note));

  const ask = item('ask_unmute', 'moderator.ask-unmute', () => send('ask_unmute', { participantId: id }, said('moderator.asked-unmute')));
  const mute = item('mute_microphone', 'moderator.mute', () => send('mute', { participantId: id, source: 'microphone' }, said('moderator.muted')));
  const out = [mute, ask];
  out.push(item('mute_camera', 'controls.camera.turn-off', () => send('mute', { participantId: id, source: 'camera' }, said('moderator.camera-off'))));
  out.push(item('stop_screen_share', 'moderator.stop-share', () => send('stop_screen_share', { participantId: id }, said('moderator.share-stopped')), false, !media.screen));
  if (role === 'presenter') out.push(item('remove_presenter', 'moderator.remove-presenter', setRole('participant', 'moderator.removed-presenter')));
  else out.push(item('make_presenter', 'moderator.make-presenter', setRole('presenter', 'moderator.made-presenter'), false, role === 'moderator'));
  if (role === 'moderator') out.push(item('remove_moderator', 'moderator.remove-moderator', setRole('participant', 'moderator.removed-moderator')));
  else out.push(item('make_moderator', 'moderator.make-moderator', setRole('moderator', 'moderator.made-moderator')));
  out.push(item('send_to_lobby', 'moderator.send-to-lobby', () => send('send_to_lobby', { participantId: id }, said('moderator.sent-to-lobby'))));
  out.push(item('remove', 'moderator.remove', async () => {
    const ok = await confirmAction({
      title: say('moderator.remove.title'),
      text: say(removeText(settings() || {})),
      ok: t('moderator.remove.ok'),
    });
    if (ok) send('remove', { participantId: id });
  }, true));
  return out;
}

function removeText({ lobby = true, locked = false }) {
  if (locked) return 'moderator.remove.text-locked';
  return lobby ? 'moderator.remove.text' : 'moderator.remove.text-no-lobby';
}

/** refusalText explains an `error` not_allowed / unknown_participant for a message type. */
export function refusalText(code, type, { moderator }) {
  if (code === 'unknown_participant') return t('refused.unknown-participant');
  if (code === 'meeting_full') return t('refused.meeting-full');
  if (code === 'rate_limited') return t('refused.too-fast');
  if (code === 'settings_changed') return t('refused.settings-changed');
  if (code === 'change_pending') return t('refused.change-pending'); // a removal of the password
  if (type === 'set_role' && moderator) return t('refused.last-moderator');
  if (MODERATOR_TYPES.has(type)) return t(moderator ? 'refused.server' : 'refused.moderators-only');
  if (type === 'chat') return t('refused.chat-off');
  return t('refused.other');
}
