// Simulcast on the publishing side: the camera is sent in three RID layers (quarter,
// half and full size) on one RTCRtpSender, so the one E2EE transform of that sender
// covers every layer. The server says which layers some subscriber needs (`encodings`,
// PROTOCOL.md); the others are paused with setParameters, so an unwatched layer costs
// no uplink. No DOM here: web/jstest/layers.test.mjs drives it with a fake sender.

/**
 * CAMERA_LAYERS are the camera's sendEncodings (the protocol's RIDs q, h, f). The full
 * layer keeps the cap the single camera stream had. Chromium sends only q and h from a
 * 640×480 camera (it drops layers below its minimum sizes); that is fine, the server
 * sees two layers.
 */
export const CAMERA_LAYERS = Object.freeze([
  Object.freeze({ rid: 'q', scaleResolutionDownBy: 4 }),
  Object.freeze({ rid: 'h', scaleResolutionDownBy: 2 }),
  Object.freeze({ rid: 'f', maxBitrate: 1_200_000 }),
]);

/** sendEncodings returns fresh copies for addTransceiver (browsers may keep what they get). */
export function sendEncodings(layers) {
  return layers.map((e) => ({ ...e }));
}

/** parseActive reads an `encodings` payload: {source, active: [rid]} or null if malformed. */
export function parseActive(payload) {
  if (!payload || typeof payload !== 'object') return null;
  const { source, active } = payload;
  if (typeof source !== 'string' || !Array.isArray(active) || active.length > 16) return null;
  if (!active.every((r) => typeof r === 'string')) return null;
  return { source, active: [...new Set(active)] };
}

/**
 * LayerSwitch sets which encodings of one sender are active. Calls are serialised: a
 * change that comes while setParameters runs waits for it, and only the newest waiting
 * one is applied (the latest wins). RIDs the sender does not have are ignored; a sender
 * without RID encodings (single layer) is left alone. A setParameters that fails (the
 * sender was busy renegotiating) is tried again by retry().
 */
export class LayerSwitch {
  /** @param {{getParameters: () => object, setParameters: (p: object) => Promise<void>}} sender */
  constructor(sender) {
    this.sender = sender;
    this.next = null; // Set of RIDs waiting to be applied
    this.failed = null; // Set of RIDs whose setParameters failed
    this.running = null; // the promise of the loop, while it runs
    this.closed = false;
  }

  /** set makes exactly the RIDs in rids active; it resolves once that (or a newer set) applied. */
  set(rids) {
    if (this.closed) return Promise.resolve();
    this.next = new Set(rids);
    this.failed = null;
    if (!this.running) {
      this.running = this._run().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  /** retry applies again a set whose setParameters failed (after a negotiation). */
  retry() {
    if (this.failed && !this.next) return this.set(this.failed);
    return this.running || Promise.resolve();
  }

  close() {
    this.closed = true;
    this.next = null;
  }

  async _run() {
    while (this.next && !this.closed) {
      const want = this.next;
      this.next = null;
      let params;
      try {
        params = this.sender.getParameters();
      } catch {
        this.failed = want;
        continue;
      }
      const encodings = params && Array.isArray(params.encodings) ? params.encodings : [];
      if (encodings.length < 2 || !encodings.every((e) => e && typeof e.rid === 'string' && e.rid)) continue;
      let changed = false;
      for (const e of encodings) {
        const on = want.has(e.rid);
        if (e.active !== on) {
          e.active = on;
          changed = true;
        }
      }
      if (!changed) continue;
      try {
        await this.sender.setParameters(params);
      } catch {
        // Only the newest wish is worth a retry; a newer one may already wait.
        if (!this.next) this.failed = want;
      }
    }
  }
}
