// What a moderator can do to a participant, as menu entries for people.js, and the
// words for refusals. The server checks every power; this only offers them.
//
// Test hooks: [data-action="<action>"][data-participant-id="<id>"], action one of
// ask_unmute, mute_microphone, mute_camera, stop_screen_share (only while that
// person shares), make_presenter (participants) / remove_presenter (presenters),
// make_moderator / remove_moderator, send_to_lobby, remove (asks with #confirm-ok).

import { toast } from './dom.js';
import { confirmAction } from './confirm.js';

/** MODERATOR_TYPES are the messages only moderators may send. */
export const MODERATOR_TYPES = new Set([
  'admit', 'deny', 'admit_all', 'send_to_lobby', 'remove', 'set_role', 'update_settings',
  'mute', 'ask_unmute', 'stop_screen_share', 'end_meeting',
  'mute_all', 'lower_hand', 'lower_all_hands', // modctl
]);

/**
 * participantActions lists the menu entries for one participant.
 * send(type, payload) sends a moderator message.
 */
export function participantActions(person, send) {
  const id = person.id;
  const name = person.name || 'Guest';
  const media = person.media || {};
  const role = person.role || 'participant';
  const item = (action, label, run, danger = false) => ({ action, label, run, danger });
  const setRole = (to, note) => () => {
    send('set_role', { participantId: id, role: to });
    toast(note);
  };

  const ask = item('ask_unmute', 'Ask to unmute', () => {
    send('ask_unmute', { participantId: id });
    toast(`Asked ${name} to unmute`);
  });
  const mute = item('mute_microphone', 'Mute microphone', () => {
    send('mute', { participantId: id, source: 'microphone' });
    toast(`Muted ${name}`);
  });
  const out = media.mic ? [mute, ask] : [ask, mute];
  out.push(item('mute_camera', 'Turn off camera', () => {
    send('mute', { participantId: id, source: 'camera' });
    toast(`Turned off ${name}'s camera`);
  }));
  if (media.screen) {
    out.push(item('stop_screen_share', 'Stop screen share', () => {
      send('stop_screen_share', { participantId: id });
      toast(`Stopped ${name}'s screen share`);
    }));
  }
  if (role === 'participant') out.push(item('make_presenter', 'Make presenter', setRole('presenter', `${name} can now share the screen`)));
  if (role === 'presenter') out.push(item('remove_presenter', 'Remove presenter', setRole('participant', `${name} is no longer a presenter`)));
  if (role === 'moderator') out.push(item('remove_moderator', 'Remove moderator', setRole('participant', `${name} is no longer a moderator`)));
  else out.push(item('make_moderator', 'Make moderator', setRole('moderator', `${name} is now a moderator`)));
  out.push(item('send_to_lobby', 'Send back to waiting room', () => {
    send('send_to_lobby', { participantId: id });
    toast(`${name} was sent back to the waiting room`);
  }));
  out.push(item('remove', 'Remove from meeting', async () => {
    const ok = await confirmAction({
      title: `Remove ${name}?`,
      text: `${name} will leave the meeting at once. They can ask to join again; a moderator has to let them in.`,
      ok: 'Remove',
    });
    if (ok) send('remove', { participantId: id });
  }, true));
  return out;
}

/** refusalText explains an `error` not_allowed / unknown_participant for a message type. */
export function refusalText(code, type, { moderator }) {
  if (code === 'unknown_participant') return 'That person is no longer in the meeting or the waiting room.';
  if (code === 'meeting_full') return 'The meeting is full: nobody more can be let in until someone leaves.';
  if (type === 'set_role' && moderator) return 'That role change is not possible: a meeting always keeps at least one moderator.';
  if (MODERATOR_TYPES.has(type)) return moderator ? 'The server did not allow that.' : 'Only moderators can do that.';
  if (type === 'chat') return 'Chat is turned off.';
  return 'That is not allowed in this meeting.';
}
