// The invitation a host copies for a new meeting: title, time, the participant link and
// the privacy notice link, and never the password (it goes through another channel;
// the text only says that one is needed).
//
// Test hooks (landing page): #invitation-title, #invitation-time (inputs), #invitation
// (the text), #copy-invitation, #invitation-password-hint.

/**
 * invitationText makes the text. title and time are what the host typed (optional),
 * link the participant link, privacy the notice link ('' for none), withPassword
 * whether the meeting needs a password.
 */
export function invitationText({ title = '', time = '', link, privacy = '', withPassword = false }) {
  const lines = [title.trim() || 'You are invited to a video meeting'];
  if (time.trim()) lines.push(`When: ${time.trim()}`);
  lines.push('', 'Join in your browser (no account or app needed):', link);
  if (withPassword) lines.push('', 'The meeting has a password; you will get it separately.');
  if (privacy) lines.push('', `Privacy notice: ${privacy}`);
  return lines.join('\n');
}
