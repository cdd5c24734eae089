// Room keys from the host's room master secret `rk` (README "Rooms"): the host link
// carries #host=<host key>&rk=<secret>; rk never leaves the browser. For each room the
// browser derives, from rk and the room id it chose itself:
//   meeting secret  = first 16 bytes of HKDF-SHA-256(rk, "conclave/v1", "room key\0" id)
//                     (what #k= carries, e2ee/FORMAT.md)
//   moderator secret = HKDF-SHA-256(rk, "conclave/v1", "room moderator\0" id), 32 bytes
//                     (sent to the server as moderatorSecret; it keeps a keyed hash)
// The title is an "e1." name text under the meeting secret's chat key (MeetingCrypto),
// so everyone admitted with #k= could read it, and the server never can.
// Pure: no DOM, usable in Node for tests.
import { decode, encode } from './e2ee/b64.js';
import { LABEL, hkdf, randomBytes } from './e2ee/keys.js';
import { MeetingCrypto, parseSecret } from './e2ee/session-keys.js';
import { decryptText, NAME } from './e2ee/text.js';

export const ROOT_SIZE = 32;
export const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** newRoomId returns 128 random bits as 22 characters of unpadded base64url. */
export function newRoomId() {
  return encode(randomBytes(16));
}

/** newRootSecret returns a fresh room master secret (32 bytes, base64url). */
export function newRootSecret() {
  return encode(randomBytes(ROOT_SIZE));
}

/** parseRootSecret decodes rk, or returns null when it is not 32 bytes of base64url. */
export function parseRootSecret(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(text)) return null;
  try {
    const b = decode(text);
    return b.length === ROOT_SIZE ? b : null;
  } catch {
    return null;
  }
}

/** roomKeys derives {meetingSecret, moderatorSecret} (both base64url) for a room id. */
export async function roomKeys(rk, id) {
  const root = typeof rk === 'string' ? parseRootSecret(rk) : rk;
  if (!root || root.length !== ROOT_SIZE) throw new Error('bad room master secret');
  if (!ID_PATTERN.test(id)) throw new Error('bad room id');
  const key = await hkdf(root, LABEL, `room key\0${id}`);
  const mod = await hkdf(root, LABEL, `room moderator\0${id}`);
  return { meetingSecret: encode(key.subarray(0, 16)), moderatorSecret: encode(mod) };
}

/**
 * encryptTitle seals a title for the room. An empty title is sealed too: every room
 * made here carries a ciphertext, which tells later whether this rk is the room's.
 */
export async function encryptTitle(meetingSecret, title) {
  const t = String(title || '').trim();
  return (await MeetingCrypto.fromSecret(parseSecret(meetingSecret))).encryptName(t);
}

/**
 * decryptTitle opens a title; null when it does not decrypt (wrong or missing rk, or
 * a room made elsewhere with no title: then its links were not derived from rk).
 */
export async function decryptTitle(meetingSecret, cipher) {
  if (!cipher || !meetingSecret) return null;
  try {
    const { chatKey } = await MeetingCrypto.fromSecret(parseSecret(meetingSecret));
    return await decryptText(chatKey, NAME, '', cipher);
  } catch {
    return null;
  }
}

/**
 * roomLinks makes the two links in the landing page's format: participant
 * <origin>/m/<id>#k=<secret>, moderator …#k=<secret>&mod=<moderator secret>; a room
 * without E2EE carries no k.
 */
export function roomLinks(origin, id, { meetingSecret, moderatorSecret }, e2ee = true) {
  const base = `${origin}/m/${id}`;
  const k = e2ee && meetingSecret ? [`k=${meetingSecret}`] : [];
  return {
    participant: base + (k.length ? `#${k[0]}` : ''),
    moderator: `${base}#${[...k, `mod=${encodeURIComponent(moderatorSecret)}`].join('&')}`,
  };
}

/**
 * validHostKey tells whether key has the form the server takes for a host key (Go's
 * signaling.ParseHostKey, which `conclave room` applies too): an id of 1 to 64
 * characters of base64url, a dot, a secret of 1 to 256. The server refuses any other
 * unread; the cases both are tested with are signaling/testdata/hostkeys.json.
 */
export function validHostKey(key) {
  return typeof key === 'string' && /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,256}$/.test(key);
}

/**
 * parseHostFragment reads {host, rk, badHost} from #host=…&rk=… (other parts ignored).
 * A host key not of the server's form (validHostKey) is not taken: host is '' and
 * badHost true, so that the page asks for the key, saying the link's is not valid,
 * before any request, where the server would refuse it.
 */
export function parseHostFragment(hash) {
  const out = { host: '', rk: '', badHost: false };
  for (const part of String(hash || '').replace(/^#/, '').split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq);
    if (name !== 'host' && name !== 'rk') continue;
    let v = part.slice(eq + 1);
    try {
      v = decodeURIComponent(v);
    } catch { /* keep it raw */ }
    out[name] = v.trim();
  }
  if (out.host && !validHostKey(out.host)) {
    out.host = '';
    out.badHost = true;
  }
  return out;
}

/** hostLink makes the link a host bookmarks: <origin>/#host=<key>&rk=<rk>. */
export function hostLink(origin, host, rk) {
  return `${origin}/#host=${encodeURIComponent(host)}&rk=${rk}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** toLocalInput formats a Date for <input type="datetime-local"> in local time. */
export function toLocalInput(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** fromLocalInput reads a datetime-local value (local time) into RFC 3339 UTC, or '' when invalid. */
export function fromLocalInput(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(String(s || ''));
  if (!m) return '';
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}
