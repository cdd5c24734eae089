// Knock proofs (e2ee/FORMAT.md, "Knock proof"): the knocker answers the nonce the
// server drew for its knock with HMAC(KI, "conclave/v2 knock" 0 nonce); moderators'
// browsers check it, so the waiting list can say "Link verified" or "Wrong link". The
// server passes both on without being able to judge them. No DOM: usable from Node.
import { E2EEError } from './errors.js';
import { concat, decode, encode, toBytes } from './b64.js';
import { subtle, validId } from './keys.js';

export const KNOCK_NONCE_SIZE = 32;
export const KNOCK_PROOF_SIZE = 32;
const FIELD_CHARS = 43;
const PREFIX = new TextEncoder().encode('conclave/v2 knock\0');

/** parseKnockField decodes a nonce or proof as it travels (43 characters, 32 bytes), or returns null. */
export function parseKnockField(text) {
  if (typeof text !== 'string' || text.length !== FIELD_CHARS) return null;
  try {
    const b = decode(text);
    return b.length === KNOCK_NONCE_SIZE ? b : null;
  } catch {
    return null;
  }
}

function checkNonce(nonce) {
  const n = toBytes(nonce);
  if (n.length !== KNOCK_NONCE_SIZE) throw new E2EEError('bad-input', 'a knock nonce must be 32 bytes');
  return n;
}

/** knockProof returns HMAC(KI, "conclave/v2 knock" 0 nonce), 32 bytes; identityKey is KI (HMAC, sign). */
export async function knockProof(identityKey, nonce) {
  return new Uint8Array(await subtle().sign('HMAC', identityKey, concat(PREFIX, checkNonce(nonce))));
}

/** verifyKnockProof checks a proof (WebCrypto's HMAC verify compares in constant time). */
export async function verifyKnockProof(identityKey, nonce, proof) {
  const n = toBytes(nonce);
  const p = toBytes(proof);
  if (n.length !== KNOCK_NONCE_SIZE || p.length !== KNOCK_PROOF_SIZE) return false;
  return subtle().verify('HMAC', identityKey, p, concat(PREFIX, n));
}

/** answerKnock makes the `knock_proof` field for a `lobby` message's knockNonce, or null for a bad nonce. */
export async function answerKnock(identityKey, knockNonce) {
  const nonce = parseKnockField(knockNonce);
  return nonce ? encode(await knockProof(identityKey, nonce)) : null;
}

const MAX_REMEMBERED = 2000;

/**
 * KnockChecker judges the waiting-list entries a moderator's page receives:
 * 'verified' (the proof is right for the entry's nonce), 'wrong' (it is not, a field is
 * malformed, or the nonce was shown before for another knocker: only a replaying
 * server does that), 'checking' (a nonce but no proof yet), or null (no nonce: a
 * meeting without end-to-end encryption). Results are cached per entry.
 */
export class KnockChecker {
  constructor(identityKey) {
    this.key = identityKey;
    this.owners = new Map(); // nonce -> the participant id it was first shown for
    this.results = new Map(); // id 0 nonce 0 proof -> promise of the verdict
  }

  /** check returns a promise of the entry's verdict; it never rejects. */
  check({ participantId, knockNonce, knockProof: proof }) {
    if (typeof knockNonce !== 'string' || knockNonce === '') return Promise.resolve(null);
    if (this.owners.size > MAX_REMEMBERED) this.owners.clear();
    const owner = this.owners.get(knockNonce);
    if (owner === undefined) this.owners.set(knockNonce, participantId);
    else if (owner !== participantId) return Promise.resolve('wrong');
    const nonce = parseKnockField(knockNonce);
    if (!nonce) return Promise.resolve('wrong');
    if (typeof proof !== 'string' || proof === '') return Promise.resolve('checking');
    const k = `${participantId}\0${knockNonce}\0${proof}`;
    let verdict = this.results.get(k);
    if (!verdict) {
      const p = parseKnockField(proof);
      verdict = p
        ? verifyKnockProof(this.key, nonce, p).then((ok) => (ok ? 'verified' : 'wrong'), () => 'wrong')
        : Promise.resolve('wrong');
      if (this.results.size > MAX_REMEMBERED) this.results.clear();
      this.results.set(k, verdict);
    }
    return verdict;
  }
}

/**
 * selfLinkWrong judges the tab's own link from Session.e2eeInfo(): true when it verified
 * nobody while someone it could not verify is there, not counting knockers this page
 * saw as "Wrong link" in its waiting list (knockWrong), and only once no identity is
 * still being checked (pending), so a right link never flashes the warning while its
 * first peer fails and the others are still on their way. Used by e2ee-self-link.js.
 */
export function selfLinkWrong(info) {
  if (!info || info.state !== 'on' || info.verified.length > 0 || info.pending > 0) return false;
  const known = new Set(info.knockWrong || []);
  return info.unverified.some((id) => !known.has(id));
}

// ---- lobby keys (e2ee/FORMAT.md, "Lobby keys") --------------------------------

const LOBBY_LABEL = 'conclave/v2 lobby key';
const utf8 = new TextEncoder();

function lobbyInput(moderatorId, pub) {
  return concat(utf8.encode(`${LOBBY_LABEL}\0${moderatorId}\0`), pub);
}

/** lobbyKeyTag returns HMAC(KI, "conclave/v2 lobby key" 0 moderatorId 0 pub), 32 bytes. */
export async function lobbyKeyTag(identityKey, moderatorId, pub) {
  if (!validId(moderatorId)) throw new E2EEError('bad-id', 'invalid participant id');
  const p = toBytes(pub);
  if (p.length !== 32) throw new E2EEError('bad-input', 'a public key must be 32 bytes');
  return new Uint8Array(await subtle().sign('HMAC', identityKey, lobbyInput(moderatorId, p)));
}

/** verifyLobbyKey checks a lobby key's tag (constant time); false for a bad id or size. */
export async function verifyLobbyKey(identityKey, moderatorId, pub, tag) {
  const p = toBytes(pub);
  const t = toBytes(tag);
  if (!validId(moderatorId) || p.length !== 32 || t.length !== 32) return false;
  return subtle().verify('HMAC', identityKey, t, lobbyInput(moderatorId, p));
}

/** lobbyKeyMessage makes a moderator's `lobby_key` payload from its session's public key. */
export async function lobbyKeyMessage(identityKey, moderatorId, pub) {
  return { pub: encode(pub), tag: encode(await lobbyKeyTag(identityKey, moderatorId, pub)) };
}

/**
 * judgeLobbyKeys tells a knocker what the moderators' lobby keys (a `lobby` message's
 * lobbyKeys) say of its own link: 'verified' when at least one verifies, 'wrong' when
 * there are keys and none does, null when there are none. Never rejects.
 */
export async function judgeLobbyKeys(identityKey, keys) {
  const list = Array.isArray(keys) ? keys.slice(0, 200) : [];
  if (list.length === 0) return null;
  for (const k of list) {
    if (!k || typeof k.from !== 'string') continue;
    const pub = parseKnockField(k.pub);
    const tag = parseKnockField(k.tag);
    try {
      if (pub && tag && await verifyLobbyKey(identityKey, k.from, pub, tag)) return 'verified';
    } catch {
      // a key that cannot be checked verifies nothing
    }
  }
  return 'wrong';
}
