// Who speaks, as the server says in `speaking` (PROTOCOL.md, "Who speaks"): the server
// reads the audio level browsers send beside the (possibly end-to-end encrypted) audio
// and tells every member who speaks now, who dominates and who spoke last. This module
// only keeps that state; speaking-ui.js shows it. No DOM here, so node tests it.

/** MAX_IDS bounds each list taken from a message: no meeting is larger. */
export const MAX_IDS = 1000;

/**
 * parseSpeaking reads a `speaking` payload: {dominant, speaking, recent}, the lists of
 * participant ids without repeats, or null when the payload is malformed (then nothing
 * changes).
 */
export function parseSpeaking(p) {
  if (!p || typeof p !== 'object' || Array.isArray(p)) return null;
  const ids = (list) => {
    if (!Array.isArray(list) || list.length > MAX_IDS) return null;
    if (!list.every((id) => typeof id === 'string' && id !== '')) return null;
    return Array.from(new Set(list));
  };
  const speaking = ids(p.speaking === undefined ? [] : p.speaking);
  const recent = ids(p.recent === undefined ? [] : p.recent);
  const dominant = p.dominant === undefined ? '' : p.dominant;
  if (!speaking || !recent || typeof dominant !== 'string') return null;
  return { dominant, speaking, recent };
}

/** SpeakingState is the latest `speaking` of one session. */
export class SpeakingState {
  constructor() {
    this.reset();
  }

  /** reset forgets everything (a new session, or the meeting ended). */
  reset() {
    this.heard = false; // a `speaking` came: the server detects speakers
    this.dominant = '';
    this.speaking = new Set();
    this.recent = [];
  }

  /** update takes a payload; it reports whether anything shown changed. */
  update(payload) {
    const next = parseSpeaking(payload);
    if (!next) return false;
    const changed = !this.heard || next.dominant !== this.dominant
      || next.speaking.length !== this.speaking.size || next.speaking.some((id) => !this.speaking.has(id))
      || next.recent.join('\n') !== this.recent.join('\n');
    this.heard = true;
    this.dominant = next.dominant;
    this.speaking = new Set(next.speaking);
    this.recent = next.recent;
    return changed;
  }

  /** isSpeaking says whether a participant speaks now. */
  isSpeaking(id) {
    return this.speaking.has(id);
  }

  /** forget drops a participant that left (the server's next message agrees). */
  forget(id) {
    this.speaking.delete(id);
    this.recent = this.recent.filter((x) => x !== id);
    if (this.dominant === id) this.dominant = '';
  }
}
