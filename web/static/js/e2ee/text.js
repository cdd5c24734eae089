// The "e1." format under a link's chat key KC (e2ee/FORMAT.md, "Names"), used now
// only for room titles (rooms-keys.js, kind "name"); version 1 sent display names and
// chat texts in it, which version 2 no longer does (names travel in the key envelopes,
// chat texts under the senders' media keys, chat-keys.js):
//   "e1." || base64url(iv || AES-GCM(KC, iv, utf8(text), aad = "conclave/v1 " kind 0x00 senderId))
import { E2EEError } from './errors.js';
import { concat, decode, encode, toBytes } from './b64.js';
import { IV_SIZE, LABEL, aesKey, randomBytes, subtle, validId } from './keys.js';

export const CHAT = 'chat';
export const NAME = 'name';
export const PREFIX = 'e1.';

const utf8 = new TextEncoder();
// fatal: refuse invalid UTF-8 like Go does; ignoreBOM: keep a leading U+FEFF as text.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function aad(kind, senderId) {
  if (kind === CHAT) {
    if (!validId(senderId)) throw new E2EEError('bad-id', 'a chat message needs its sender id');
  } else if (kind === NAME) {
    if (senderId !== '') throw new E2EEError('bad-id', 'a name carries no sender id (use "")');
  } else {
    throw new E2EEError('bad-input', `unknown text kind ${kind}`);
  }
  return utf8.encode(`${LABEL} ${kind}\0${senderId}`);
}

/** encryptText encrypts text for kind 'chat' (senderId: own id) or 'name' (senderId ''). chatKey: CryptoKey or 32 bytes. */
export async function encryptText(chatKey, kind, senderId, text, iv = randomBytes(IV_SIZE)) {
  const additionalData = aad(kind, senderId);
  if (typeof text !== 'string') throw new E2EEError('bad-input', 'text must be a string');
  const nonce = toBytes(iv);
  if (nonce.length !== IV_SIZE) throw new E2EEError('bad-input', 'iv must be 12 bytes');
  const sealed = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData }, await aesKey(chatKey), utf8.encode(text));
  return PREFIX + encode(concat(nonce, sealed));
}

/** decryptText opens an "e1." string; for chat, senderId is the `from` id the server gave. */
export async function decryptText(chatKey, kind, senderId, s) {
  const additionalData = aad(kind, senderId);
  if (typeof s !== 'string' || !s.startsWith(PREFIX)) throw new E2EEError('malformed', 'not an e1. text');
  const sealed = decode(s.slice(PREFIX.length));
  if (sealed.length < IV_SIZE + 16) throw new E2EEError('too-short', 'text too short');
  const key = await aesKey(chatKey);
  let plain;
  try {
    plain = await subtle().decrypt({ name: 'AES-GCM', iv: sealed.subarray(0, IV_SIZE), additionalData }, key, sealed.subarray(IV_SIZE));
  } catch {
    throw new E2EEError('auth', 'text failed authentication');
  }
  try {
    return strictUtf8.decode(plain);
  } catch {
    throw new E2EEError('malformed', 'text is not valid UTF-8');
  }
}
