// The own media key of a session (e2ee/FORMAT.md, "Media keys and the ratchet"), the
// part of SessionKeys (session-keys.js) that changes it: the roster changes since the
// last flush applied to it (a ratchet for joins, a rotation for a leave, sent to the
// members by member-keys.js), the rotation a page without media puts off until it
// sends (startSending), and the key outgoing frames and the own chat texts use.
//
// SessionKeys extends SessionChat (session-chat.js), which extends this class, which
// extends MemberKeys; the state is SessionKeys' (its constructor), and so is the queue
// of steps (_run) a flush runs in.

import { newMediaKey, ratchet, nextIndex } from './keys.js';
import { MemberKeys } from './member-keys.js';

/** OwnKeys is the own key schedule of SessionKeys (see above): methods only. */
export class OwnKeys extends MemberKeys {
  /** keyIndex is the index of the key outgoing frames use, -1 before there is one. */
  get keyIndex() {
    return this.using ? this.using.index : -1;
  }

  _scheduleFlush() {
    // A join whose identity was being tagged when close() came ends here: a flush set
    // now would outlive the close (close clears only the one waiting then).
    if (this.closed || this.flushTimer !== null) return;
    // Joins and leaves that arrive together are handled together (one rotation).
    this.flushTimer = this.clock.setTimeout(() => {
      this.flushTimer = null;
      this._run(() => this._flush());
    }, 0);
  }

  _clearFlush() {
    if (this.flushTimer !== null) this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  /**
   * _flush applies the roster changes since the last flush to the own media key. A leave
   * rotates only with rotate (the key is about to be used, or media goes out); until then
   * joins ratchet a key one who left could follow, which nothing is sent under.
   */
  async _flush({ rotate = this.sending } = {}) {
    this._clearFlush();
    const left = this.pendingLeave && rotate;
    if (!this.own || (!left && this.pendingJoins.size === 0)) return;
    const joined = [...this.pendingJoins];
    this.pendingJoins.clear();
    if (left) {
      this.pendingLeave = false;
      // Rotation: a fresh key the one who left never sees, sent to every verified member.
      const next = { index: nextIndex(this.own.index), raw: newMediaKey(), seq: ++this.ownCount };
      this.own = next;
      await this._sendKeys(this.verified());
      if (this.closed) return; // close() cleared the timers already
      // Used once its receivers had time to get it (rotations.js).
      this.rotations.add(next);
    } else {
      // Ratchet: members follow by themselves; newcomers get the new key once verified.
      const raw = await ratchet(this.own.raw);
      if (this.closed) return; // no own key after close
      const next = { index: nextIndex(this.own.index), raw, seq: ++this.ownCount };
      this.own = next;
      this.rotations.clear(); // the newest key is in use from now on
      this._useOwn(next);
      await this._sendKeys(joined);
    }
    this._changed();
  }

  /**
   * startSending: media is about to go out for the first time (the page opens its publish
   * connection). The rotation that leaves since the start put off happens now, and this
   * resolves with the rotated key in use for outgoing frames, so that no frame goes out
   * under a key one who left holds or can ratchet to. It is used at once, not after
   * ROTATE_DELAY_MS: nothing is being sent that a receiver could miss a moment of, and its
   * key messages are on the websocket before the connection that will carry the first
   * frame is even offered (a receiver without it yet holds those frames: held-frames.js).
   */
  startSending() {
    this.sending = true;
    return this._run(async () => {
      await this._flush();
      if (this.closed || !this.own || this.using === this.own) return;
      this.rotations.clear();
      this._useOwn(this.own);
    });
  }

  /** rotateTimers: the rotations waiting to be used, timer -> key (tests look at it). */
  get rotateTimers() {
    return this.rotations.timers;
  }

  _useOwn(key) {
    this.using = key;
    this.media.setOwnKey(key.index, key.raw);
    this.chatKeys.setKey(this.selfId, key.index, key.raw);
    this.onChange();
  }

}
