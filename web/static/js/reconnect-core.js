// The pure parts of reconnect.js (no DOM), for web/jstest: the kept secret's format,
// the kept microphone/camera state, the backoff between attempts, and the reachability
// probe that comes before each attempt.

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

/** How long the reachability probe may take: a dead network can leave a request hanging. */
export const PROBE_TIMEOUT_MS = 4000;

/**
 * reachable asks the server for a small file of its own (HEAD, never cached) and says
 * whether it answered. The attempts of a reconnect wait for it: a websocket that fails to
 * connect makes Firefox delay the next one to that server by seconds more each time (RFC
 * 6455 section 7.2.3), so a tab that tried every few seconds through a 20-second outage
 * came back four seconds after the network did; a probe costs nothing of the kind.
 * fetchFn is window.fetch (a fake in tests); any failure or non-2xx answer is "no".
 */
export async function reachable(fetchFn, url, timeoutMs = PROBE_TIMEOUT_MS) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetchFn(url, { method: 'HEAD', cache: 'no-store', credentials: 'omit', signal: abort.signal });
    return !!res && res.ok === true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
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
