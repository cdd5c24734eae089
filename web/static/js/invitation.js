// The invitation a host copies for a new meeting: title, time, the participant link and
// the privacy notice link, and never the password (it goes through another channel;
// the text only says that one is needed). It is written in the language of the page:
// tr is i18n.js's t (a parameter, so that Node tests run it with a catalogue).
//
// Test hooks (landing page): #invitation-title, #invitation-time (inputs), #invitation
// (the text), #copy-invitation, #invitation-password-hint.

/**
 * invitationText makes the text. title and time are what the host typed (optional),
 * link the participant link, privacy the notice link ('' for none), withPassword
 * whether the meeting needs a password.
 */
export function invitationText({ title = '', time = '', link, privacy = '', withPassword = false }, tr) {
  const lines = [title.trim() || tr('invitation.default-title')];
  if (time.trim()) lines.push(tr('invitation.when', { time: time.trim() }));
  lines.push('', tr('invitation.join'), link);
  if (withPassword) lines.push('', tr('invitation.password'));
  if (privacy) lines.push('', tr('invitation.privacy', { link: privacy }));
  return lines.join('\n');
}
