// Audio levels in the browser with WebAudio: the pre-join level meter and the
// active-speaker detection in the meeting (own microphone included). Nothing
// here is sent anywhere.

let context = null;
let users = 0; // level meters and sounds playing: the context runs only while there are any

/**
 * audioContext returns the page's single AudioContext, made on first use. It runs only
 * while something holds it (holdAudio): a running context renders, silence included,
 * as long as it lives, which costs a meeting's worth of CPU and battery for nothing
 * once the pre-join meter is gone and the server tells who speaks.
 */
function audioContext() {
  if (!context) {
    const Ctor = window.AudioContext || window.webkitAudioContext;
    if (!Ctor) return null;
    context = new Ctor();
    // Made before a gesture, the context may be refused to start until one comes.
    document.addEventListener('pointerdown', wake, true);
    document.addEventListener('keydown', wake, true);
  }
  return context;
}

// resume and suspend take effect later, in the order they were called: wake and
// releaseAudio call them whatever the state says now, so that a meter closed and another
// made at once (a new microphone) leaves the context running, not suspended under it.
function wake() {
  if (context && users > 0) context.resume().catch(() => {});
}

/** holdAudio returns the page's AudioContext (or null), running until releaseAudio. */
export function holdAudio() {
  const ctx = audioContext();
  if (!ctx) return null;
  users++;
  wake();
  return ctx;
}

/** releaseAudio lets a holdAudio go; the context is suspended when nobody holds it. */
export function releaseAudio() {
  if (users === 0) return;
  users--;
  if (users === 0 && context) context.suspend().catch(() => {});
}

/** LevelMeter reads the loudness (0..1, RMS) of one audio track. */
export class LevelMeter {
  constructor(track) {
    this.analyser = null;
    const ctx = track ? holdAudio() : null;
    if (!ctx) return;
    try {
      this.source = ctx.createMediaStreamSource(new MediaStream([track]));
      this.analyser = ctx.createAnalyser();
      this.analyser.fftSize = 512;
      this.analyser.smoothingTimeConstant = 0.2;
      this.buffer = new Float32Array(this.analyser.fftSize);
      this.source.connect(this.analyser);
    } catch (err) {
      releaseAudio();
      this.source = null;
      this.analyser = null;
      throw err;
    }
  }

  /** level returns the current RMS level, 0 when nothing is heard. */
  level() {
    if (!this.analyser) return 0;
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const v of this.buffer) sum += v * v;
    return Math.sqrt(sum / this.buffer.length);
  }

  close() {
    if (this.analyser) releaseAudio();
    if (this.source) this.source.disconnect();
    this.source = null;
    this.analyser = null;
  }
}

const TICK_MS = 100;
const THRESHOLD = 0.012; // RMS above which someone is taken to be speaking
const SWITCH_AFTER_MS = 300; // a new loudest speaker must hold this long
const RELEASE_AFTER_MS = 1200; // silence before the highlight goes away

/**
 * SpeakerDetector follows the levels of every participant's audio and reports
 * the active speaker (or null) through onChange(participantId).
 */
export class SpeakerDetector {
  constructor(onChange) {
    this.onChange = onChange;
    this.meters = new Map(); // key -> {participantId, meter, level}
    this.active = null;
    this.candidate = null;
    this.candidateSince = 0;
    this.lastHeard = 0;
    this.timer = null;
  }

  /** add starts following a track; key identifies it for remove. */
  add(key, participantId, track) {
    this.remove(key);
    this.meters.set(key, { participantId, meter: new LevelMeter(track), level: 0 });
    if (!this.timer) this.timer = setInterval(() => this._tick(), TICK_MS);
  }

  remove(key) {
    const entry = this.meters.get(key);
    if (!entry) return;
    entry.meter.close();
    this.meters.delete(key);
  }

  /** levelOf returns the smoothed level of a participant (0..1). */
  levelOf(participantId) {
    let max = 0;
    for (const e of this.meters.values()) if (e.participantId === participantId) max = Math.max(max, e.level);
    return max;
  }

  close() {
    for (const key of Array.from(this.meters.keys())) this.remove(key);
    clearInterval(this.timer);
    this.timer = null;
    this._set(null);
  }

  _tick() {
    const now = performance.now();
    let loudest = null;
    let loudestLevel = THRESHOLD;
    for (const e of this.meters.values()) {
      // Fast attack, slow release.
      const raw = e.meter.level();
      e.level = raw > e.level ? raw : e.level * 0.8 + raw * 0.2;
      if (e.level > loudestLevel) {
        loudest = e.participantId;
        loudestLevel = e.level;
      }
    }
    if (loudest) {
      this.lastHeard = now;
      if (loudest !== this.candidate) {
        this.candidate = loudest;
        this.candidateSince = now;
      }
      if (loudest !== this.active && (this.active === null || now - this.candidateSince >= SWITCH_AFTER_MS)) {
        this._set(loudest);
      }
    } else if (this.active !== null && now - this.lastHeard >= RELEASE_AFTER_MS) {
      this.candidate = null;
      this._set(null);
    }
  }

  _set(id) {
    if (id === this.active) return;
    this.active = id;
    if (this.onChange) this.onChange(id);
  }
}
