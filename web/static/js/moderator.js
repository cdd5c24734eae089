// What a moderator can do to a participant, as menu entries for people.js, and the
// words for refusals. The server checks every power; this only offers them.
//
// Test hooks: [data-action="<action>"][data-participant-id="<id>"], action one of
// mute_microphone, ask_unmute, mute_camera, stop_screen_share (disabled unless that
// person shares), make_presenter (disabled for moderators) / remove_presenter
// (presenters), make_moderator / remove_moderator, send_to_lobby, remove (asks with
// #confirm-ok).

import { toast } from './dom.js';
import { confirmAction } from './confirm.js';
import { t } from './i18n.js';

/** MODERATOR_TYPES are the messages only moderators may send. */
export const MODERATOR_TYPES = new Set([
  'admit', 'deny', 'admit_all', 'send_to_lobby', 'remove', 'set_role', 'update_settings',
  'mute', 'ask_unmute', 'stop_screen_share', 'end_meeting',
  'mute_all', 'lower_hand', 'lower_all_hands', // modctl
]);

/**
 * participantActions lists the menu entries for one participant.
 * send(type, payload) sends a moderator message. Each label is a catalogue key.
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
  const name = person.name || t('common.guest');
  const media = person.media || {};
  const role = person.role || 'participant';
  const item = (action, label, run, danger = false, disabled = false) => ({ action, label, run, danger, disabled });
  const setRole = (to, note) => () => {
    send('set_role', { participantId: id, role: to });
    toast(t(note, { name }));
  };

  const ask = item('ask_unmute', 'moderator.ask-unmute', () => {
    send('ask_unmute', { participantId: id });
    toast(t('moderator.asked-unmute', { name }));
  });
  const mute = item('mute_microphone', 'moderator.mute', () => {
    send('mute', { participantId: id, source: 'microphone' });
    toast(t('moderator.muted', { name }));
  });
  const out = [mute, ask];
  out.push(item('mute_camera', 'controls.camera.turn-off', () => {
    send('mute', { participantId: id, source: 'camera' });
    toast(t('moderator.camera-off', { name }));
  }));
  out.push(item('stop_screen_share', 'moderator.stop-share', () => {
    send('stop_screen_share', { participantId: id });
    toast(t('moderator.share-stopped', { name }));
  }, false, !media.screen));
  if (role === 'presenter') out.push(item('remove_presenter', 'moderator.remove-presenter', setRole('participant', 'moderator.removed-presenter')));
  else out.push(item('make_presenter', 'moderator.make-presenter', setRole('presenter', 'moderator.made-presenter'), false, role === 'moderator'));
  if (role === 'moderator') out.push(item('remove_moderator', 'moderator.remove-moderator', setRole('participant', 'moderator.removed-moderator')));
  else out.push(item('make_moderator', 'moderator.make-moderator', setRole('moderator', 'moderator.made-moderator')));
  out.push(item('send_to_lobby', 'moderator.send-to-lobby', () => {
    send('send_to_lobby', { participantId: id });
    toast(t('moderator.sent-to-lobby', { name }));
  }));
  out.push(item('remove', 'moderator.remove', async () => {
    const ok = await confirmAction({
      title: t('moderator.remove.title', { name }),
      text: t(removeText(settings() || {}), { name }),
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
  if (type === 'set_role' && moderator) return t('refused.last-moderator');
  if (MODERATOR_TYPES.has(type)) return t(moderator ? 'refused.server' : 'refused.moderators-only');
  if (type === 'chat') return t('refused.chat-off');
  return t('refused.other');
}
