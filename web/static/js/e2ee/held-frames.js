// A receiver's held run: the video frames of one sender that failed for want of a key,
// from the last keyframe among them on, kept briefly in case the key comes. Used by the
// media worker (worker.js).
//
// Why: a newcomer's first keyframe of a sender often arrives a few milliseconds before
// the sender's key does (the keyframe is asked for when the subscription starts, the key
// travels its own way: the sender's ratchet, the wrap, the server, the unwrap). Dropped,
// it leaves the newcomer decrypting delta frames it cannot decode until the next
// keyframe, which the publisher's throttle may hold back half a second. Held, it is
// decrypted once the key is there, with the frames after it, and the picture starts
// then.
//
// Nothing here decrypts or passes on anything: the worker decrypts a held frame as any
// other, under the key ring of the sender it was received from, and passes on only what
// authenticates. A run is bounded in frames and in age, belongs to one sender, and is
// let go as soon as it cannot be needed: a keyframe or a delta frame of that sender
// decrypts, or the receiver carries another sender.

/** MAX_FRAMES is the most frames a run holds (a keyframe and what follows it). */
export const MAX_FRAMES = 30;
/** MAX_AGE_MS is how long after its keyframe a run is kept. */
export const MAX_AGE_MS = 1000;

export class HeldRun {
  constructor() {
    this.frames = [];
    this.pid = undefined;
    this.since = 0;
  }

  get size() {
    return this.frames.length;
  }

  /**
   * failed notes a video frame of pid that failed for want of a key at now (ms): a
   * keyframe starts a new run, a delta frame joins the run it follows (frames after a
   * run is full are not kept: the run could not be decoded to its end anyway).
   */
  failed(frame, keyframe, pid, now) {
    if (keyframe) {
      this.frames = [frame];
      this.pid = pid;
      this.since = now;
      return;
    }
    if (this.frames.length === 0) return;
    if (pid !== this.pid || this.frames.length >= MAX_FRAMES) {
      this.clear();
      return;
    }
    this.frames.push(frame);
  }

  /**
   * usable says whether the run may still be decrypted for pid (the sender the
   * receiver carries now) at now; the caller lets it go (clear) when not.
   */
  usable(pid, now) {
    return this.frames.length > 0 && pid === this.pid && now - this.since <= MAX_AGE_MS;
  }

  clear() {
    this.frames = [];
    this.pid = undefined;
    this.since = 0;
  }
}
