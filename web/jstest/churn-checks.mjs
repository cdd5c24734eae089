// The checks of the churn simulation (churn-sim.mjs), what the key schedule promises
// (e2ee/FORMAT.md): problems, what keeps the live members from reading each other now,
// and checkSafety, that no page got a key from before its sender heard of it and that
// nothing went out under a key a member that left holds or can ratchet to. Sim extends
// SimChecks: methods only, on the Sim's pages and records.
import { CAMERA, VP8 } from '../static/js/e2ee/frame.js';
import { ratchet } from '../static/js/e2ee/keys.js';
import { hex } from './churn-page.mjs';

const ROTATE_DELAY_MS = 300; // rotations.js: a rotated key is used this long after it is sent
export const FRAME = Uint8Array.from([0x31, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]); // a VP8 delta frame

/** SimChecks is the checks of Sim (see above): methods only. */
export class SimChecks {
  /** pairs are the live pages' ordered pairs. */
  pairs() {
    const live = this.live().filter((p) => p.started);
    const out = [];
    for (const r of live) for (const s of live) if (r !== s) out.push([r, s]);
    return out;
  }

  /** readsFrames: r decrypts a frame s encrypts now. */
  async readsFrames(r, s) {
    if (!s.rings.canEncrypt()) return false;
    const frame = await s.rings.encrypt(FRAME, VP8, CAMERA);
    try {
      await r.rings.decrypt(s.id, frame, VP8);
      return true;
    } catch {
      return false;
    }
  }

  /** problems lists what keeps the live members from reading each other now ([] when none). */
  async problems({ frames = true } = {}) {
    const out = [];
    const pubOf = new Map(this.live().map((p) => [p.id, p.keys.identity && hex(p.keys.identity.publicKey)]));
    for (const r of this.live()) {
      const w = r.keys.warnings();
      if (w.count) out.push(`${r.name}: warnings ${JSON.stringify(w.kinds)}`);
      const entries = r.keys._codeEntries().map((e) => `${e.id}=${hex(e.pub)}`).sort().join(',');
      const want = [...pubOf].map(([id, pub]) => `${id}=${pub}`).sort().join(',');
      if (entries !== want) out.push(`${r.name}: verified roster differs (safety code): ${entries.length} vs ${want.length}`);
    }
    for (const [r, s] of this.pairs()) {
      const st = r.keys.stateOf(s.id);
      if (st !== 'verified') out.push(`${r.name} sees ${s.name} ${st}`);
      if (r.keys.waitingForKeys(s.id)) out.push(`${r.name} waits for keys of ${s.name}`);
      if (frames && s.publishing && !(await this.readsFrames(r, s))) out.push(`${r.name} cannot read ${s.name}'s frames (index ${s.keys.keyIndex})`);
    }
    return out;
  }

  /**
   * checkSafety: (a) no page got a key its sender had made before it heard of that
   * page's arrival (a join or a resume); (b) no frame or chat text a page sent after it
   * heard that a member left (frames: after the rotation's delay) went under a key that
   * member held, or can ratchet to.
   */
  async checkSafety() {
    const out = [];
    for (const n of this.pages) {
      for (const { pid, raw } of n.installed) {
        const made = this.maker.get(raw);
        if (!made) {
          out.push(`${n.name} installed a key of ${pid} nobody made`);
          continue;
        }
        const heard = made.page.heard.get(n.name);
        if (heard !== undefined && made.at < heard) out.push(`${n.name} got ${made.page.name}'s key #${made.at}, made before ${made.page.name} heard of it (#${heard})`);
      }
    }
    // Which own keys of a page are a ratchet of the one before (not a rotation).
    const chains = new Map();
    for (const s of this.pages) {
      const isRatchet = [false];
      for (let i = 1; i < s.ownHist.length; i++) {
        isRatchet.push(hex(await ratchet(Buffer.from(s.ownHist[i - 1], 'hex'))) === s.ownHist[i]);
      }
      chains.set(s, isRatchet);
    }
    // reach(s, h, k): s's k-th key follows from its h-th by ratchets alone.
    const reach = (s, h, k) => {
      if (h > k) return false;
      const r = chains.get(s);
      for (let i = h + 1; i <= k; i++) if (!r[i]) return false;
      return true;
    };
    for (const s of this.pages) {
      for (const [gone, { t, seq, order }] of s.heardLeft) {
        const held = [];
        for (const d of this.pages) {
          if (d.id !== gone) continue;
          for (const { raw } of d.installed) {
            const made = this.maker.get(raw);
            if (made && made.page === s) held.push(made.at);
          }
        }
        if (!held.length) continue;
        const used = [
          ...s.framesUsed.filter((f) => f.t >= t + ROTATE_DELAY_MS + 100).map((f) => ['frame', f]),
          ...s.chatsUsed.filter((c) => c.order > order && c.raw).map((c) => ['chat', c]),
        ];
        for (const [what, u] of used) {
          const at = s.ownHist.lastIndexOf(u.raw);
          if (held.some((h) => reach(s, h, at))) out.push(`${s.name}'s ${what} at ${u.t} went under key #${at}, which ${gone} (left at ${t}, seq ${seq}) can follow`);
        }
      }
    }
    return out;
  }
}
