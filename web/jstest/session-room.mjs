// The key-schedule tests' room (session-keys.test.mjs): a server relaying key messages
// between members' SessionKeys, on a fake clock where one is given, and what a test asks
// of a member: a frame under its key, whether another can read it, a chat text read on
// fake time (harness.mjs readChat), its safety code.
import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { CAMERA, KeyRing, VP8 } from '../static/js/e2ee/frame.js';
import { randomBytes, ratchet } from '../static/js/e2ee/keys.js';
import { decryptChat } from '../static/js/e2ee/chat-keys.js';
import { FakeMedia, KeyRelay } from './harness.mjs';

/**
 * Room is a server relaying key messages between members, in order. Its members' key
 * schedules are of class Keys, on clock when one is given (settle runs what is due on
 * it; nothing else moves it), else on the real one.
 */
export class Room extends KeyRelay {
  constructor({ clock = null, Keys = SessionKeys } = {}) {
    super();
    this.sent = []; // every message members sent: {from, type, to?, envelopes?}
    this.clock = clock;
    this.Keys = Keys;
  }
  /** sendBatch is the server's e2ee_batch: each envelope reaches its own recipient. */
  sendBatch(from, envelopes) {
    this.sent.push({ from, type: 'e2ee_batch', envelopes });
    for (const { to, data } of envelopes) this.relay(from, to, data);
  }
  send(from, to, data) {
    this.sent.push({ from, type: 'e2ee', to, t: JSON.parse(data).t });
    this.relay(from, to, data);
  }
  record(m, from, to, data) {
    m.log.push({ from, data });
  }
  /**
   * join admits a member; sending false is a page without a publish connection,
   * resumed a new page of a member that was there (the others hear participant_resumed).
   */
  async join(id, secret, { sending = true, resumed = false } = {}) {
    const meeting = await MeetingCrypto.fromSecret(secret);
    const media = new FakeMedia();
    const keys = new this.Keys({
      meeting, media, sending, ...(this.clock && { clock: this.clock }),
      send: (to, data) => this.send(id, to, data),
      sendBatch: (envelopes) => this.sendBatch(id, envelopes),
    });
    return this.admit(id, { id, keys, media, log: [] }, { resumed });
  }
}

/** threeMembers is a room where p-a, p-b and p-c joined with one secret and settled. */
export async function threeMembers() {
  const room = new Room();
  const secret = randomBytes(16);
  const a = await room.join('p-a', secret);
  const b = await room.join('p-b', secret);
  const c = await room.join('p-c', secret);
  await room.settle();
  return { room, a, b, c, secret };
}

/** frameOf encrypts a VP8 delta frame with a member's current own key. */
export async function frameOf(m) {
  const ring = new KeyRing();
  await ring.set(m.media.own.index, m.media.own.raw);
  return ring.encrypt(m.id, Uint8Array.from([0x31, 1, 2, 3, 4, 5, 6, 7, 8, 9]), VP8, CAMERA);
}

/** canRead: do the keys `reader` received from `sender` (ratcheting up to 8 steps) open its frames? */
export async function canRead(reader, senderId, frame) {
  const ring = new KeyRing();
  for (const { index, raw } of reader.media.received.get(senderId) || []) await ring.set(index, raw);
  try {
    await ring.decrypt(senderId, frame, VP8, CAMERA);
    return true;
  } catch {
    return false;
  }
}

/** chatReadable: does any key `reader` received from `sender`, or a ratchet of one, open text? */
export async function chatReadable(reader, senderId, text) {
  for (const { raw: first } of reader.media.received.get(senderId) || []) {
    let raw = first;
    for (let step = 0; step < 16; step++, raw = await ratchet(raw)) {
      try {
        await decryptChat(raw, senderId, text);
        return true;
      } catch {
        // not this one
      }
    }
  }
  return false;
}

/** codeOf waits for m's latest safety-code computation (a slow hash) and returns the code. */
export async function codeOf(m) {
  await m.keys.codePending;
  return m.keys.code;
}

