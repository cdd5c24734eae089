// Key schedule of Conclave's E2EE (e2ee/FORMAT.md), on WebCrypto only: meeting
// keys from the secret, X25519 identities with HMAC tags, pairwise wrapping
// keys, media key wrapping, the ratchet and frame keys. No DOM, no top-level
// await: usable from the page, a worker and Node 20.
import { E2EEError } from './errors.js';
import { concat, decode, encode, toBytes } from './b64.js';

export const LABEL = 'conclave/v1';
export const KEY_SIZE = 32;
export const IV_SIZE = 12;
export const KEY_INDEX_COUNT = 256; // key indexes are a full byte and wrap after 255
export const RING_SIZE = 16; // keys a receiver keeps per sender: the last 16 indexes installed
export const MAX_RATCHET = 16; // ratchet steps past its current key a ring follows by itself
export const MIN_SECRET_SIZE = 16;
export const COUNTER_SIZE = 8; // a key envelope's counter, big-endian
/** MAX_KEY_COUNTER is the largest key counter (Number.MAX_SAFE_INTEGER, 2^53 − 1). */
export const MAX_KEY_COUNTER = Number.MAX_SAFE_INTEGER;
export const WRAPPED_SIZE = IV_SIZE + COUNTER_SIZE + 1 + KEY_SIZE + 16; // a key envelope without a name
export const MAX_NAME_BYTES = 200; // the longest display name a key envelope carries (FORMAT.md, "Names")
export const MAX_WRAPPED_SIZE = WRAPPED_SIZE + MAX_NAME_BYTES;

const utf8 = new TextEncoder();
const X25519 = { name: 'X25519' };
const AES = { name: 'AES-GCM', length: 256 };
const HMAC = { name: 'HMAC', hash: 'SHA-256', length: 256 }; // without length: 512 bits

/** subtle returns WebCrypto's SubtleCrypto or throws 'unsupported' (insecure context). */
export function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new E2EEError('unsupported', 'WebCrypto is not available (not a secure context?)');
  return s;
}

/** randomBytes returns n random bytes. */
export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/**
 * MAX_ID_BYTES is the longest participant id, in UTF-8 bytes (FORMAT.md, "Participant
 * ids"). The server makes "p-" and 16 hex digits, and takes no longer id in anything a
 * client sends (signaling/PROTOCOL.md: a recipient, a `view` entry, a `resume`), so a
 * longer one is a lying server's: refused like any malformed id. It bounds what the page
 * keeps per id, the 20,000 dead ids above all (roster.js, MAX_DEAD_IDS).
 */
export const MAX_ID_BYTES = 64;

/**
 * validId: a participant id is a non-empty, well-formed string without NUL, of at most
 * MAX_ID_BYTES bytes of UTF-8. Ids are bound as their UTF-8 bytes (TextEncoder), which
 * writes every lone surrogate as U+FFFD: "p-x\uD800", "p-x\uDC00" and "p-x\uFFFD" would
 * be three members to the roster and one id in every tag, salt and AAD, so a lying
 * server could replay one member as another.
 */
export function validId(id) {
  // The length first: a long string is refused before it is scanned.
  return typeof id === 'string' && id !== '' && id.length <= MAX_ID_BYTES && utf8Length(id) <= MAX_ID_BYTES
    && !id.includes('\0') && !LONE_SURROGATE.test(id);
}

/**
 * utf8Length is the UTF-8 length of s without encoding it (validId runs for every
 * frame): a surrogate counts 2, so a pair counts the 4 bytes of its character.
 */
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
  }
  return n;
}

// A UTF-16 code unit D800–DFFF outside a pair (String.prototype.isWellFormed, which not
// every browser the page serves has).
const LONE_SURROGATE = /\p{Cs}/u;

function checkId(...ids) {
  if (!ids.every(validId)) throw new E2EEError('bad-id', 'invalid participant id');
}

function checkSize(bytes, size, what) {
  if (bytes.length !== size) throw new E2EEError('bad-input', `${what} must be ${size} bytes`);
  return bytes;
}

function hkdfParams(salt, info) {
  const s = typeof salt === 'string' ? utf8.encode(salt) : salt;
  return { name: 'HKDF', hash: 'SHA-256', salt: s, info: utf8.encode(info) };
}

async function hkdfBase(ikm) {
  return subtle().importKey('raw', toBytes(ikm), 'HKDF', false, ['deriveBits', 'deriveKey']);
}

/** hkdf returns HKDF-SHA-256(ikm, salt, info) as 32 bytes. */
export async function hkdf(ikm, salt, info) {
  const bits = await subtle().deriveBits(hkdfParams(salt, info), await hkdfBase(ikm), 256);
  return new Uint8Array(bits);
}

/** aesKey imports 32 raw bytes as a non-extractable AES-GCM key (a CryptoKey passes through). */
export async function aesKey(key) {
  if (!(key instanceof ArrayBuffer || ArrayBuffer.isView(key))) return key;
  const raw = checkSize(toBytes(key), KEY_SIZE, 'an AES key');
  return subtle().importKey('raw', raw, AES, false, ['encrypt', 'decrypt']);
}

// ---- meeting secret -------------------------------------------------------

/** newMeetingSecret returns a fresh 16-byte secret as base64url, for `#k=`. */
export function newMeetingSecret() {
  return encode(randomBytes(MIN_SECRET_SIZE));
}

/** parseMeetingSecret decodes the `k` value of the fragment; it refuses short secrets. */
export function parseMeetingSecret(text) {
  const secret = decode(text);
  if (secret.length < MIN_SECRET_SIZE) throw new E2EEError('bad-input', 'meeting secret too short');
  return secret;
}

function checkSecret(secret) {
  const s = toBytes(secret);
  if (s.length < MIN_SECRET_SIZE) throw new E2EEError('bad-input', 'meeting secret too short');
  return s;
}

/** meetingKeyBytes returns the raw {identity: KI, chat: KC} (for tests and vectors). */
export async function meetingKeyBytes(secret) {
  const s = checkSecret(secret);
  return { identity: await hkdf(s, LABEL, 'identity'), chat: await hkdf(s, LABEL, 'chat') };
}

/** meetingKeys derives non-extractable keys: identityKey (HMAC), chatKey (AES-GCM). */
export async function meetingKeys(secret) {
  const base = await hkdfBase(checkSecret(secret));
  const derive = (info, alg, usages) => subtle().deriveKey(hkdfParams(LABEL, info), base, alg, false, usages);
  return {
    identityKey: await derive('identity', HMAC, ['sign', 'verify']),
    chatKey: await derive('chat', AES, ['encrypt', 'decrypt']),
  };
}

// ---- identity ---------------------------------------------------------------

/** generateIdentity makes a session's X25519 key pair: {privateKey (CryptoKey), publicKey (32 bytes)}. */
export async function generateIdentity() {
  let pair;
  try {
    pair = await subtle().generateKey(X25519, false, ['deriveBits']);
  } catch (err) {
    throw new E2EEError('unsupported', `X25519 is not available: ${err?.name ?? err}`);
  }
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(await subtle().exportKey('raw', pair.publicKey)) };
}

const PKCS8_X25519 = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20);

/**
 * importIdentity imports a fixed 32-byte X25519 private key (known-answer tests):
 * WebCrypto has no raw private import, so it goes through PKCS #8, and the
 * public key is X25519(private, 9), the base point.
 */
export async function importIdentity(privateRaw) {
  const d = checkSize(toBytes(privateRaw), 32, 'an X25519 private key');
  const privateKey = await subtle().importKey('pkcs8', concat(PKCS8_X25519, d), X25519, false, ['deriveBits']);
  const base = new Uint8Array(32);
  base[0] = 9;
  const publicKey = await x25519(privateKey, base);
  return { privateKey, publicKey };
}

function tagInput(participantId, publicKey) {
  return concat(utf8.encode(`${LABEL} identity\0${participantId}\0`), publicKey);
}

/** identityTag returns HMAC(KI, "conclave/v1 identity" 0 id 0 P), 32 bytes. */
export async function identityTag(identityKey, participantId, publicKey) {
  checkId(participantId);
  const p = checkSize(toBytes(publicKey), 32, 'a public key');
  return new Uint8Array(await subtle().sign('HMAC', identityKey, tagInput(participantId, p)));
}

/** verifyIdentity checks a tag (WebCrypto's HMAC verify compares in constant time). */
export async function verifyIdentity(identityKey, participantId, publicKey, tag) {
  const p = toBytes(publicKey);
  const t = toBytes(tag);
  if (!validId(participantId) || p.length !== 32 || t.length !== 32) return false;
  return subtle().verify('HMAC', identityKey, t, tagInput(participantId, p));
}

// ---- pairwise wrapping key -------------------------------------------------

export async function x25519(privateKey, peerPublic) {
  const peer = checkSize(toBytes(peerPublic), 32, 'a public key');
  let shared;
  try {
    const pub = await subtle().importKey('raw', peer, X25519, true, []);
    shared = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: pub }, privateKey, 256));
  } catch (err) {
    // Engines throw OperationError for a low-order point (all-zero result).
    throw new E2EEError('malformed', `X25519 failed: ${err?.name ?? err}`);
  }
  if (shared.every((b) => b === 0)) throw new E2EEError('malformed', 'X25519 gave all zeros');
  return shared;
}

function compareUtf8(a, b) {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** pairwiseKeyBytes returns KW as bytes (for tests); ids in either order. */
export async function pairwiseKeyBytes(privateKey, peerPublic, idA, idB) {
  checkId(idA, idB);
  if (idA === idB) throw new E2EEError('bad-id', 'a pair needs two ids');
  // Byte order of UTF-8, not JavaScript's UTF-16 order (they differ above U+FFFF).
  const [lo, hi] = compareUtf8(idA, idB) < 0 ? [idA, idB] : [idB, idA];
  return hkdf(await x25519(privateKey, peerPublic), utf8.encode(`${lo}\0${hi}`), `${LABEL} wrap`);
}

/** pairwiseKey returns KW as a non-extractable AES-GCM key for wrapKey/unwrapKey. */
export async function pairwiseKey(privateKey, peerPublic, idA, idB) {
  return aesKey(await pairwiseKeyBytes(privateKey, peerPublic, idA, idB));
}

// ---- wrapping media keys ---------------------------------------------------

// The key envelope's AAD label: version 3 of the envelope (FORMAT.md, "Pairwise wrapping
// key"; version 2, "conclave/v1 media-key", carried a key index only).
const WRAP_LABEL = 'conclave/v3 media-key';

function wrapAad(senderId, recipientId) {
  checkId(senderId, recipientId);
  return utf8.encode(`${WRAP_LABEL}\0${senderId}\0${recipientId}`);
}

/** keyIndexOf is a key counter's index in frames and chat texts: the counter mod 256. */
export function keyIndexOf(counter) {
  return counter % KEY_INDEX_COUNT;
}

/**
 * fitName cuts a display name to at most MAX_NAME_BYTES of UTF-8 at a character
 * boundary (a 64-character name may take 256 bytes), so that it fits a key envelope.
 */
export function fitName(name) {
  let out = '';
  let bytes = 0;
  for (const ch of String(name || '')) {
    const n = utf8.encode(ch).length;
    if (bytes + n > MAX_NAME_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * wrapKey returns iv || AES-GCM(KW, counter(8, big-endian) || past(1) || raw || utf8(name)):
 * 69 bytes plus the name's (at most 200 bytes; '' sends none). key is {counter (0 to
 * 2^53 − 1: the sender's key changes so far; the index is counter mod 256), raw, past
 * (an earlier key given for chat texts only, never the newest)}. kw: CryptoKey or 32 bytes.
 */
export async function wrapKey(kw, senderId, recipientId, { counter, raw, past = false }, name = '', iv = randomBytes(IV_SIZE)) {
  const additionalData = wrapAad(senderId, recipientId);
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new E2EEError('bad-input', 'a key counter must be 0 to 2^53 − 1');
  }
  const r = checkSize(toBytes(raw), KEY_SIZE, 'a raw media key');
  const nonce = checkSize(toBytes(iv), IV_SIZE, 'an iv');
  if (typeof name !== 'string') throw new E2EEError('bad-input', 'a name must be a string');
  const n = utf8.encode(name);
  if (n.length > MAX_NAME_BYTES) throw new E2EEError('malformed', `a name of ${n.length} bytes, at most ${MAX_NAME_BYTES}`);
  const head = new Uint8Array(COUNTER_SIZE + 1);
  const view = new DataView(head.buffer);
  view.setUint32(0, Math.floor(counter / 2 ** 32));
  view.setUint32(4, counter % 2 ** 32);
  head[COUNTER_SIZE] = past ? 1 : 0;
  const ct = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData }, await aesKey(kw), concat(head, r, n));
  return concat(nonce, ct);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * unwrapKey opens an envelope from senderId to recipientId: {counter, keyIndex, past,
 * raw, name}. A counter above 2^53 − 1, a past byte other than 0 or 1 and a name that
 * is not UTF-8 are refused ('malformed').
 */
export async function unwrapKey(kw, senderId, recipientId, wrapped) {
  const additionalData = wrapAad(senderId, recipientId);
  const w = toBytes(wrapped);
  if (w.length < WRAPPED_SIZE || w.length > MAX_WRAPPED_SIZE) {
    throw new E2EEError('malformed', `a key envelope must be ${WRAPPED_SIZE} to ${MAX_WRAPPED_SIZE} bytes`);
  }
  const key = await aesKey(kw);
  let pt;
  try {
    pt = new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: w.subarray(0, IV_SIZE), additionalData }, key, w.subarray(IV_SIZE)));
  } catch {
    throw new E2EEError('auth', 'wrapped key failed authentication');
  }
  const view = new DataView(pt.buffer, pt.byteOffset, COUNTER_SIZE);
  const high = view.getUint32(0);
  const counter = high * 2 ** 32 + view.getUint32(4);
  const past = pt[COUNTER_SIZE];
  if (high >= 2 ** 21 || past > 1) throw new E2EEError('malformed', 'a key envelope with a counter above 2^53 − 1 or a past byte above 1');
  const start = COUNTER_SIZE + 1;
  let name;
  try {
    name = strictUtf8.decode(pt.subarray(start + KEY_SIZE));
  } catch {
    throw new E2EEError('malformed', 'the name in a key envelope is not UTF-8');
  }
  return { counter, keyIndex: keyIndexOf(counter), past: past === 1, raw: pt.slice(start, start + KEY_SIZE), name };
}

// ---- media keys --------------------------------------------------------------

/** newMediaKey returns a fresh random 32-byte raw media key R. */
export function newMediaKey() {
  return randomBytes(KEY_SIZE);
}

/** nextIndex returns (i + 1) mod 256. */
export function nextIndex(i) {
  return (i + 1) % KEY_INDEX_COUNT;
}

/** ratchet returns R' = HKDF(R, "conclave/v1", "ratchet"); R cannot be computed from R'. */
export async function ratchet(raw) {
  return hkdf(checkSize(toBytes(raw), KEY_SIZE, 'a raw media key'), LABEL, 'ratchet');
}

/** frameKeyBytes returns KF = HKDF(R, "conclave/v1", "frame") as bytes (for tests). */
export async function frameKeyBytes(raw) {
  return hkdf(checkSize(toBytes(raw), KEY_SIZE, 'a raw media key'), LABEL, 'frame');
}

/** frameKey returns KF as a non-extractable AES-GCM CryptoKey (can be posted to a worker). */
export async function frameKey(raw) {
  const base = await hkdfBase(checkSize(toBytes(raw), KEY_SIZE, 'a raw media key'));
  return subtle().deriveKey(hkdfParams(LABEL, 'frame'), base, AES, false, ['encrypt', 'decrypt']);
}
