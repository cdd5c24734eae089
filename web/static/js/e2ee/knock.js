// Knock proofs (e2ee/FORMAT.md, "Knock proof"): the knocker answers the nonce the
// server drew for its knock with a fresh X25519 key pair and HMAC(KI, "conclave/v2
// knock" 0 nonce 0 ephPub); moderators' browsers check it, so the waiting list can say
// "Link verified" or "Wrong link". With the same key the knocker seals its display name
// to each moderator's lobby key whose tag verifies (FORMAT.md, "Names"): only those
// moderators read who knocks. The server passes everything on without being able to
// judge or open it. No DOM: usable from Node.
import { E2EEError } from './errors.js';
import { concat, decode, encode, toBytes } from './b64.js';
import {
  aesKey, generateIdentity, hkdf, randomBytes, subtle, validId, x25519, IV_SIZE, MAX_NAME_BYTES,
} from './keys.js';

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

function checkPub(pub) {
  const p = toBytes(pub);
  if (p.length !== 32) throw new E2EEError('bad-input', 'a public key must be 32 bytes');
  return p;
}

/** knockProof returns HMAC(KI, "conclave/v2 knock" 0 nonce 0 ephPub), 32 bytes; identityKey is KI (HMAC, sign). */
export async function knockProof(identityKey, nonce, ephPub) {
  return new Uint8Array(await subtle().sign('HMAC', identityKey, concat(PREFIX, checkNonce(nonce), Uint8Array.of(0), checkPub(ephPub))));
}

/** verifyKnockProof checks a proof (WebCrypto's HMAC verify compares in constant time). */
export async function verifyKnockProof(identityKey, nonce, ephPub, proof) {
  const n = toBytes(nonce);
  const e = toBytes(ephPub);
  const p = toBytes(proof);
  if (n.length !== KNOCK_NONCE_SIZE || e.length !== 32 || p.length !== KNOCK_PROOF_SIZE) return false;
  return subtle().verify('HMAC', identityKey, p, concat(PREFIX, n, Uint8Array.of(0), e));
}

// ---- knock names (e2ee/FORMAT.md, "Names") -----------------------------------

const NAME_AAD = new TextEncoder().encode('conclave/v2 knock name');
const MIN_SEALED = IV_SIZE + 16;
const MAX_SEALED = MIN_SEALED + MAX_NAME_BYTES;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** nameKey: HKDF(X25519(priv, pub), salt = nonce, info = "conclave/v2 knock" 0 moderatorId). */
async function nameKey(privateKey, pub, nonce, moderatorId) {
  if (!validId(moderatorId)) throw new E2EEError('bad-id', 'invalid participant id');
  return aesKey(await hkdf(await x25519(privateKey, checkPub(pub)), checkNonce(nonce), `conclave/v2 knock\0${moderatorId}`));
}

/** sealKnockName seals name to moderatorId's lobby key modPub: iv || AES-GCM(K, iv, utf8(name)). */
export async function sealKnockName(ephPrivateKey, modPub, nonce, moderatorId, name, iv = randomBytes(IV_SIZE)) {
  const n = new TextEncoder().encode(String(name));
  if (n.length > MAX_NAME_BYTES) throw new E2EEError('malformed', `a name of ${n.length} bytes, at most ${MAX_NAME_BYTES}`);
  const key = await nameKey(ephPrivateKey, modPub, nonce, moderatorId);
  const nonceIv = toBytes(iv);
  const ct = await subtle().encrypt({ name: 'AES-GCM', iv: nonceIv, additionalData: NAME_AAD }, key, n);
  return concat(nonceIv, new Uint8Array(ct));
}

/** openKnockName opens a name sealed to this moderator (its lobby key's private key). */
export async function openKnockName(modPrivateKey, ephPub, nonce, moderatorId, sealed) {
  const s = toBytes(sealed);
  if (s.length < MIN_SEALED || s.length > MAX_SEALED) throw new E2EEError('malformed', 'a sealed knock name has the wrong size');
  const key = await nameKey(modPrivateKey, ephPub, nonce, moderatorId);
  let pt;
  try {
    pt = await subtle().decrypt({ name: 'AES-GCM', iv: s.subarray(0, IV_SIZE), additionalData: NAME_AAD }, key, s.subarray(IV_SIZE));
  } catch {
    throw new E2EEError('auth', 'a sealed knock name failed authentication');
  }
  try {
    return strictUtf8.decode(pt);
  } catch {
    throw new E2EEError('malformed', 'a knock name is not UTF-8');
  }
}

/** The most lobby keys a knock seals its name to (a server cannot make it work without bound). */
const MAX_SEALED_NAMES = 32;

/**
 * answerKnock makes the `knock_proof` payload for a `lobby` message's knockNonce: a fresh
 * ephemeral key, the proof over nonce and key, and name sealed to each lobby key whose
 * tag verifies under KI (a key the server made up gets nothing). null for a bad nonce.
 */
export async function answerKnock(identityKey, knockNonce, lobbyKeys = [], name = '') {
  const nonce = parseKnockField(knockNonce);
  if (!nonce) return null;
  const eph = await generateIdentity();
  const proof = await knockProof(identityKey, nonce, eph.publicKey);
  const names = [];
  for (const k of (Array.isArray(lobbyKeys) ? lobbyKeys : []).slice(0, 200)) {
    if (names.length >= MAX_SEALED_NAMES) break;
    if (!k || typeof k.from !== 'string' || names.some((x) => x.to === k.from)) continue;
    const pub = parseKnockField(k.pub);
    const tag = parseKnockField(k.tag);
    try {
      if (!pub || !tag || !(await verifyLobbyKey(identityKey, k.from, pub, tag))) continue;
      names.push({ to: k.from, sealed: encode(await sealKnockName(eph.privateKey, pub, nonce, k.from, name)) });
    } catch {
      // a key that cannot be used gets no name
    }
  }
  return { proof: encode(proof), eph: encode(eph.publicKey), names };
}

const MAX_REMEMBERED = 2000;

/**
 * MAX_NONCES bounds the knock nonces a moderator's page remembers with the knocker
 * each was first shown for (a few MB at most). They are never forgotten: a nonce shown
 * again for another knocker is a replay (FORMAT.md, "Knock proof"), and a memory the
 * server could flush with junk nonces would let it replay a real knocker's proof under
 * a bot's id. Once full, a nonce not seen before is judged wrong: the page fails
 * closed (a server that sends this many only refuses service).
 */
const MAX_NONCES = 20000;

/**
 * KnockChecker judges the waiting-list entries a moderator's page receives:
 * 'verified' (the proof is right for the entry's nonce), 'wrong' (it is not, a field is
 * malformed, or the nonce was shown before for another knocker: only a replaying
 * server does that, or the entry has no nonce at all), or 'checking' (a nonce but no
 * proof yet). Only an encrypted meeting's entries are checked, and there a real server
 * gives every knock a nonce: an entry without one is a server's, and counting it as no
 * verdict showed it without a word and let "Admit all" admit it. Results are cached
 * per entry.
 *
 * owners is what the checkers of this stay before it remembered, [[nonce, participant
 * id]] (ownerEntries: the page's own resume starts a new session, and with it a new
 * checker): a server that dropped the moderator's link must not get a fresh memory in
 * which a real knocker's proof, shown before the drop, verifies under a bot's id.
 */
export class KnockChecker {
  constructor(identityKey, owners = []) {
    this.key = identityKey;
    this.owners = new Map(); // nonce -> the participant id it was first shown for
    for (const entry of owners) {
      if (this.owners.size >= MAX_NONCES) break;
      if (!Array.isArray(entry) || !validId(entry[1]) || !parseKnockField(entry[0])) continue;
      if (!this.owners.has(entry[0])) this.owners.set(entry[0], entry[1]);
    }
    this.results = new Map(); // id 0 nonce 0 eph 0 proof -> promise of the verdict
    this.names = new Map(); // nonce 0 eph 0 sealed -> promise of the opened name
    this.moderator = null; // {privateKey, id} once setModerator ran
  }

  /** ownerEntries is every nonce remembered with its knocker, [[nonce, participant id]], for the next checker of this stay. */
  ownerEntries() {
    return [...this.owners];
  }

  /**
   * setModerator gives the checker this moderator's lobby key (its session's private
   * key) and id, so that name() can open names sealed to it.
   */
  setModerator(privateKey, moderatorId) {
    this.moderator = privateKey && validId(moderatorId) ? { privateKey, id: moderatorId } : null;
  }

  /**
   * name opens the knock name sealed to this moderator, only for an entry whose proof
   * verified (so the name is bound to the knock a link holder made): the name, or
   * undefined (none sealed to this moderator, not opened, or the link is not verified).
   * Never rejects.
   */
  async name(entry) {
    const { knockNonce, knockEph, knockName } = entry;
    if (!this.moderator || typeof knockName !== 'string' || !knockName) return undefined;
    if (await this.check(entry) !== 'verified') return undefined;
    const k = `${knockNonce}\0${knockEph}\0${knockName}`;
    let p = this.names.get(k);
    if (!p) {
      const { privateKey, id } = this.moderator;
      p = (async () => openKnockName(privateKey, decode(knockEph), decode(knockNonce), id, decode(knockName)))().catch(() => undefined);
      if (this.names.size > MAX_REMEMBERED) this.names.clear();
      this.names.set(k, p);
    }
    return p;
  }

  /** check returns a promise of the entry's verdict; it never rejects. */
  check({ participantId, knockNonce, knockProof: proof, knockEph }) {
    // An id no knocker can have (validId: at most the server's 64 bytes) is wrong, and
    // not remembered with the nonce, nor in the results' keys.
    if (!validId(participantId)) return Promise.resolve('wrong');
    const nonce = parseKnockField(knockNonce);
    if (!nonce) return Promise.resolve('wrong'); // not remembered: only well-formed nonces are
    const owner = this.owners.get(knockNonce);
    if (owner === undefined) {
      if (this.owners.size >= MAX_NONCES) return Promise.resolve('wrong');
      this.owners.set(knockNonce, participantId);
    } else if (owner !== participantId) return Promise.resolve('wrong');
    if (typeof proof !== 'string' || proof === '') return Promise.resolve('checking');
    const k = `${participantId}\0${knockNonce}\0${knockEph}\0${proof}`;
    let verdict = this.results.get(k);
    if (!verdict) {
      const p = parseKnockField(proof);
      const e = parseKnockField(knockEph);
      verdict = p && e
        ? verifyKnockProof(this.key, nonce, e, p).then((ok) => (ok ? 'verified' : 'wrong'), () => 'wrong')
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
