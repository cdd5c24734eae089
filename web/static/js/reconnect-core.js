// The pure parts of reconnect.js (no DOM), for web/jstest: the kept secret's format
// and the backoff between attempts.

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

