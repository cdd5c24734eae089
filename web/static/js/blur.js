// Background blur: the camera picture with the background blurred and the person
// sharp, computed in this browser before anything is encoded or encrypted.
//
//   camera track → <video> → input canvas → MediaPipe Selfie Segmentation (WebAssembly +
//   WebGL, served from /static/vendor/selfie-segmentation/, nothing from elsewhere)
//   → mask → output canvas (person sharp over a blurred copy) → canvas.captureStream()
//   → the returned track, which the caller publishes like the camera (the E2EE
//   transform stays on the sender).
//
// API for the rest of the client (media.js uses it for every camera track; device
// switching can call it the same way):
//
//   applyBlur(track) → Promise<track>
//     With blur off (the device preference), resolves to `track` itself. With blur on,
//     resolves to a new, processed video track once its first blurred frame is drawn.
//     Stopping the returned track stops the work and the camera track behind it; if the
//     camera track ends, the returned track ends too. If the runtime cannot load or
//     segment, `track` is stopped (the camera goes off) and the promise rejects with a
//     BlurUnavailableError whose message tells the person: never is an unblurred
//     picture sent while they believe it is blurred.
//   blurEnabled() / setBlurEnabled(on)  the preference, remembered on this device.
//
// Work is bounded: at most MAX_WIDTH pixels wide, FPS frames a second, one frame in the
// segmenter at a time, and nothing runs while no blurred track is live.

import { devicePreference, setDevicePreference } from './storage.js';
import { t } from './i18n.js';
import { scriptURL } from './script-urls.js';

const RUNTIME = '/static/vendor/selfie-segmentation/';
const MAX_WIDTH = 640;
const FPS = 15;
const SEGMENT_WIDTH = 256; // the model's input width
const MAX_PAUSE_MS = 1000;
const BLUR_RATIO = 1 / 45; // blur radius relative to the picture's width (≈14 px at 640)

/** BlurUnavailableError: blur could not run, so the camera was kept off. */
export class BlurUnavailableError extends Error {
  constructor(cause) {
    super(t('blur.unavailable'));
    this.name = 'BlurUnavailableError';
    this.cause = cause;
  }
}

/** blurEnabled reports whether this device wants the background blurred. */
export function blurEnabled() {
  return devicePreference('blur') === 'on';
}

/** setBlurEnabled remembers the choice on this device (off is the default: forgotten). */
export function setBlurEnabled(on) {
  setDevicePreference('blur', on ? 'on' : null);
}

/** applyBlur returns the track to send for the camera track `track` (see the header). */
export async function applyBlur(track) {
  if (!track || track.kind !== 'video' || !blurEnabled()) return track;
  try {
    // No time limit: on a machine without a GPU the first frame (which also compiles
    // the model) can take a minute, and until it is there nothing is sent at all.
    const segmenter = await loadSegmenter();
    const pipeline = new BlurPipeline(track, segmenter);
    return await pipeline.start().catch((err) => {
      pipeline.close();
      throw err;
    });
  } catch (err) {
    track.stop();
    throw new BlurUnavailableError(err);
  }
}

// ---- the runtime: loaded once per page, on first use ----

let loading = null; // Promise<Segmenter>, reset after a failure so that a later try loads again

function loadSegmenter() {
  if (!loading) {
    loading = createSegmenter();
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

async function createSegmenter() {
  await loadScript(`${RUNTIME}selfie_segmentation.js`);
  if (typeof window.SelfieSegmentation !== 'function') throw new Error('runtime did not load');
  const seg = new window.SelfieSegmentation({ locateFile: runtimeFile });
  // Model 1 ("landscape", 256×144 input) suits a 16:9 camera and is the faster one.
  seg.setOptions({ modelSelection: 1, selfieMode: false });
  await seg.initialize();
  return new Segmenter(seg);
}

// runtimeFile is the runtime's locateFile. The runtime adds its WebAssembly glue (a .js
// file) as a <script> itself, with setAttribute("src", …): under the CSP's Trusted Types
// that must be a TrustedScriptURL, so a script is handed out as one (script-urls.js), and
// no "default" policy is needed that would let a string through. Its other files (the
// .wasm, the model, the graph) it fetches, for which the plain path is what it needs.
function runtimeFile(file) {
  const url = RUNTIME + file;
  return file.endsWith('.js') ? scriptURL(url) : url;
}

let scriptLoad = null;

// loadScript adds the runtime's loader, a classic script from this origin (the CSP
// allows script-src 'self'; the loader adds its WebAssembly glue the same way).
function loadScript(src) {
  if (!scriptLoad) {
    scriptLoad = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = scriptURL(src);
      s.async = true;
      s.addEventListener('load', () => resolve());
      s.addEventListener('error', () => reject(new Error('runtime script failed to load')));
      document.head.append(s);
    });
    scriptLoad.catch(() => {
      scriptLoad = null;
    });
  }
  return scriptLoad;
}

// Segmenter shares the one runtime between pipelines (two live at once for a moment
// when the camera restarts): frames go through it one at a time, each with its own
// results callback.
class Segmenter {
  constructor(seg) {
    this.seg = seg;
    this.queue = Promise.resolve();
  }

  /** segment runs image through the model; onMask(mask) is called with the result. */
  segment(image, onMask) {
    const run = this.queue.then(async () => {
      let got = false;
      this.seg.onResults((results) => {
        got = true;
        onMask(results.segmentationMask);
      });
      await this.seg.send({ image });
      if (!got) throw new Error('no segmentation result');
    });
    this.queue = run.catch(() => {});
    return run;
  }
}

// ---- one camera track being blurred ----

class BlurPipeline {
  constructor(source, segmenter) {
    this.source = source;
    this.segmenter = segmenter;
    this.closed = false;
    this.busy = false;
    this.video = document.createElement('video');
    this.video.muted = true;
    this.video.playsInline = true;
    this.input = document.createElement('canvas');
    this.output = document.createElement('canvas');
    this.thumb = document.createElement('canvas');
    this.small = document.createElement('canvas');
    this.nextAt = 0;
    this.ticker = null;
    this.track = null;
    this.onEnded = () => this.stopTrack();
  }

  /** start resolves with the output track after the first blurred frame is drawn. */
  async start() {
    // A camera that ends while this waits (unplugged, or stopped as the page closes)
    // would leave the video waiting for ever: give up then instead.
    // (A track the page stops fires no 'ended': the poll sees that one.)
    let poll = 0;
    let onEnded = null;
    const gone = () => this.source.readyState === 'ended' || this.closed;
    const ended = new Promise((_, reject) => {
      onEnded = () => reject(new Error('camera ended'));
      this.source.addEventListener('ended', onEnded, { once: true });
      poll = setInterval(() => {
        if (gone()) onEnded();
      }, 250);
    });
    try {
      // Ended before this began (while the runtime loaded), or while the first frame
      // was drawn: a blurred track of a camera that is gone would stay on, frozen,
      // its 'ended' never heard.
      if (gone()) throw new Error('camera ended');
      const track = await Promise.race([this._start(), ended]);
      if (gone()) {
        track.stop(); // and the work with it
        throw new Error('camera ended');
      }
      return track;
    } finally {
      clearInterval(poll);
      this.source.removeEventListener('ended', onEnded);
    }
  }

  async _start() {
    this.video.srcObject = new MediaStream([this.source]);
    await this.video.play();
    if (!this.video.videoWidth) {
      await new Promise((resolve) => this.video.addEventListener('loadedmetadata', resolve, { once: true }));
    }
    const w = Math.min(MAX_WIDTH, this.video.videoWidth);
    const h = 2 * Math.round((this.video.videoHeight * w) / this.video.videoWidth / 2);
    for (const c of [this.input, this.output]) {
      c.width = w;
      c.height = h;
    }
    this.thumb.width = 16;
    this.thumb.height = Math.max(1, Math.round((16 * h) / w));
    this.thumbCtx = this.thumb.getContext('2d');
    this.small.width = SEGMENT_WIDTH;
    this.small.height = 2 * Math.round((SEGMENT_WIDTH * h) / w / 2);
    this.smallCtx = this.small.getContext('2d');
    this.inCtx = this.input.getContext('2d');
    this.outCtx = this.output.getContext('2d');
    // The first frame is blurred before the track is handed out: the canvas starts
    // transparent, and nothing unblurred is ever drawn on it.
    await this.frame(true);
    if (this.closed) throw new Error('stopped');
    const track = this.output.captureStream(FPS).getVideoTracks()[0];
    if ('contentHint' in track) track.contentHint = 'motion';
    // Stopping the processed track (camera off, blur off, device switch) ends the
    // work and the camera behind it.
    const stop = track.stop.bind(track);
    track.stop = () => {
      this.close();
      stop();
    };
    this.track = track;
    this.source.addEventListener('ended', this.onEnded);
    this.ticker = new Worker(scriptURL('/static/js/blur-tick.js'));
    this.ticker.addEventListener('message', () => this.frame(false));
    this.ticker.postMessage({ fps: FPS });
    return track;
  }

  /** frame blurs the current camera picture; first: errors reject instead of freezing. */
  async frame(first) {
    if (this.busy || this.closed || performance.now() < this.nextAt) return;
    this.busy = true;
    const started = performance.now();
    try {
      const { width: w, height: h } = this.input;
      this.inCtx.drawImage(this.video, 0, 0, w, h);
      // The model sees 256×144 anyway: hand it that, not the full frame.
      this.smallCtx.drawImage(this.input, 0, 0, this.small.width, this.small.height);
      await this.segmenter.segment(this.small, (mask) => this.compose(mask));
    } catch (err) {
      if (first) throw err;
      // Later failures keep the last blurred frame on the canvas: the picture freezes
      // rather than showing the background.
    } finally {
      this.busy = false;
      // A slow machine (or no GPU) gets fewer blurred frames rather than a page that
      // stops answering: after each frame the page is left alone at least as long.
      // (Not after the first frame, which also compiles the model.)
      if (!first) this.nextAt = performance.now() + Math.min(MAX_PAUSE_MS, performance.now() - started);
    }
  }

  // compose draws the person (mask × frame) sharp over a blurred copy of the frame.
  compose(mask) {
    if (this.closed) return;
    const ctx = this.outCtx;
    const { width: w, height: h } = this.output;
    const r = Math.max(2, Math.round(w * BLUR_RATIO));
    ctx.save();
    ctx.globalCompositeOperation = 'copy';
    ctx.filter = 'none';
    ctx.drawImage(mask, 0, 0, w, h);
    ctx.globalCompositeOperation = 'source-in';
    ctx.drawImage(this.input, 0, 0, w, h);
    ctx.globalCompositeOperation = 'destination-over';
    ctx.filter = `blur(${r}px)`;
    ctx.drawImage(this.input, 0, 0, w, h);
    // The blur fades to transparent at the edges; behind it goes a tiny copy of the
    // frame stretched to full size (as blurry, in matching colours).
    ctx.filter = 'none';
    const { width: tw, height: th } = this.thumb;
    this.thumbCtx.drawImage(this.input, 0, 0, tw, th);
    ctx.drawImage(this.thumb, 0, 0, w, h);
    ctx.restore();
  }

  stopTrack() {
    if (this.track) this.track.stop();
    else this.close();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker) this.ticker.terminate();
    this.source.removeEventListener('ended', this.onEnded);
    this.source.stop();
    this.video.srcObject = null;
  }
}
