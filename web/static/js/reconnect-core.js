// The pure parts of reconnect.js (no DOM), for web/jstest: the kept secret's format,
// the kept microphone/camera state, and the backoff between attempts.

/** Backoff between attempts: quick at first, then every few seconds. */
const DELAYS_MS = [250, 1000, 2000, 3000];
/** parseResume reads the kept "<participant id>.<secret>" (null: none or malformed). */
export function parseResume(value) {
  if (typeof value !== 'string') return null;
  const dot = value.lastIndexOf('.');
  if (dot <= 0 || dot === value.length - 1) return null;
  const participantId = value.slice(0, dot);
  const secret = value.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(participantId) || !/^[A-Za-z0-9_-]{16,128}$/.test(secret)) return null;
  return { participantId, secret };
}

/** backoffMs is the wait before attempt n (0-based), with a little jitter. */
export function backoffMs(n, random = Math.random) {
  const base = DELAYS_MS[Math.min(n, DELAYS_MS.length - 1)];
  return Math.round(base * (0.8 + 0.4 * random()));
}


/** formatMedia is what a tab keeps of its own microphone and camera: "mic=1;camera=0". */
export function formatMedia({ mic, camera }) {
  return `mic=${mic ? 1 : 0};camera=${camera ? 1 : 0}`;
}

/**
 * parseMedia reads what formatMedia kept: {mic, camera}, or null when nothing (or
 * something else) was kept; then the page starts both as its link says.
 */
export function parseMedia(value) {
  const m = typeof value === 'string' && /^mic=([01]);camera=([01])$/.exec(value);
  return m ? { mic: m[1] === '1', camera: m[2] === '1' } : null;
}
