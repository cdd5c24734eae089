// What the link's secret gives (e2ee/FORMAT.md): the identity key KI, which tags each
// session's identity (session-keys.js), and the chat key KC, which opens only room
// titles ("e1.", rooms-keys.js) now: names travel inside the key envelopes (FORMAT.md,
// "Names"). session-keys.js exports these too, as before.

import { meetingKeys, parseMeetingSecret } from './keys.js';
import { encryptText, NAME, PREFIX } from './text.js';

/**
 * parseSecret decodes the `k` value of a link's fragment into the meeting secret
 * bytes, or throws (not canonical base64url, or shorter than 16 bytes).
 */
export function parseSecret(text) {
  return parseMeetingSecret(text);
}

/** MeetingCrypto holds what the link's secret gives: the identity and chat keys. */
export class MeetingCrypto {
  static async fromSecret(secret) {
    const { identityKey, chatKey } = await meetingKeys(secret);
    return new MeetingCrypto(identityKey, chatKey);
  }

  constructor(identityKey, chatKey) {
    this.identityKey = identityKey;
    this.chatKey = chatKey;
  }

  /** encryptName seals an "e1." text under the chat key (room titles: rooms-keys.js). */
  encryptName(name) {
    return encryptText(this.chatKey, NAME, '', name);
  }
}

/** isCiphertext tells an "e1." string from plain text. */
export function isCiphertext(s) {
  return typeof s === 'string' && s.startsWith(PREFIX);
}
