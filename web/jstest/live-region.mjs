// A stand-in for one of the page's live regions (#live, #live-alert) for the tests that
// give the page no DOM of its own (dom.js announce and announceAlert find the region by
// its id, and only write its textContent): it keeps the text last written, and records
// each text written that is not empty, what a screen reader reads out (a region emptied
// is not read).

/**
 * liveRegion is such a region. said lists the texts it was given that were not empty,
 * in order (pass a list to record into one that other stand-ins share); onWrite, when
 * given, is told of every write, an emptied region too.
 */
export function liveRegion({ said = [], onWrite = null } = {}) {
  let text = '';
  return {
    said,
    get textContent() { return text; },
    set textContent(value) {
      text = String(value);
      if (onWrite) onWrite(text);
      if (text) said.push(text);
    },
  };
}
