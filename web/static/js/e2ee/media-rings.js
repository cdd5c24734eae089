// The media key state of one page's E2EE worker: the own key ring and id, every
// other participant's key ring, and which participant each receiver carries
// (e2ee/FORMAT.md, "Frame format"). No DOM and no worker globals, so Node tests
// drive it directly; worker.js only wires streams and messages to it.
//
// Every frame is bound to its sender's id and its track's source. A receiver decrypts
// only with the ring of the participant its route names, under that id and the source
// the route names: a frame the server forwards under another participant's track, or
// under another track of the same participant (a camera as a screen share), fails
// there, and a junk frame costs one decryption (plus at most one ratchet guess of that
// ring), never one per sender.
import { KeyRing, validSource } from './frame.js';
import { E2EEError } from './errors.js';
import { validId } from './keys.js';

export class MediaRings {
  #own = new KeyRing();
  #selfId = null;
  #rings = new Map(); // pid -> KeyRing
  #routes = new Map(); // receiver slot -> {pid, source}

  /** setSelf sets the own participant id (from `welcome`), which outgoing frames are bound to. */
  setSelf(pid) {
    if (!validId(pid)) throw new E2EEError('bad-id', 'invalid own participant id');
    this.#selfId = pid;
  }

  /** setOwn installs the own media key (index, raw) as the current one. */
  async setOwn(index, raw) {
    await this.#own.set(index, raw);
  }

  /** setPeer installs a key of participant pid (counter: its envelope's, KeyRing.set). */
  async setPeer(pid, index, raw, counter) {
    if (!validId(pid)) throw new E2EEError('bad-id', 'invalid participant id');
    let ring = this.#rings.get(pid);
    if (!ring) {
      ring = new KeyRing();
      this.#rings.set(pid, ring);
    }
    await ring.set(index, raw, { counter });
  }

  /**
   * forget drops pid's keys; its routes stay. A resumed member keeps its id, and the
   * route of its new receiver may already be here when the forget of its old keys
   * arrives (the page posts a route once per receiver): a route to an id without keys
   * decrypts nothing until its new keys come.
   */
  forget(pid) {
    const ring = this.#rings.get(pid);
    if (ring) ring.clear();
    this.#rings.delete(pid);
  }

  /**
   * route says that receiver `slot` now carries participant pid's track of source (no
   * pid, or a source that is none of a track's: nobody's, its frames are dropped).
   */
  route(slot, pid, source) {
    if (pid && validSource(source)) this.#routes.set(slot, { pid, source });
    else this.#routes.delete(slot);
  }

  /** senderOf returns the participant receiver `slot` carries, or undefined. */
  senderOf(slot) {
    return this.#routes.get(slot)?.pid;
  }

  /** canEncrypt: both the own id and a current own key are known. */
  canEncrypt() {
    return this.#selfId !== null && this.#own.currentIndex >= 0;
  }

  /** encrypt encrypts an outgoing frame of the own track of source; it throws without id or key. */
  async encrypt(data, kind, source) {
    if (this.#selfId === null) throw new E2EEError('unknown-key', 'own id not known yet');
    return this.#own.encrypt(this.#selfId, data, kind, source);
  }

  /**
   * decrypt opens a frame received on `slot` as the routed participant's track of the
   * routed source, with that participant's ring only. It throws when the route or its
   * keys are unknown, or the frame fails (the caller drops it).
   */
  async decrypt(slot, data, kind) {
    const route = this.#routes.get(slot);
    const ring = route === undefined ? undefined : this.#rings.get(route.pid);
    if (!ring) throw new E2EEError('unknown-key', 'no sender known for this receiver');
    return ring.decrypt(route.pid, data, kind, route.source);
  }
}
