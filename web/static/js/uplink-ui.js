// The page's side of uplink.js: a polite hint over the meeting while the browser sends
// the own camera or screen share in lower quality because the uplink (or the device)
// cannot keep up. The region stays in the page, empty while there is no hint, so that
// filling it is announced; it changes only when the hint does (uplink.js's hysteresis),
// so it is announced once, not at every reading. Text, not colour, says it.
//
// Test hook: #uplink-hint .uplink-hint-text[data-hint] (the key shown).

import { el } from './dom.js';
import { icon } from './icons.js';
import { setText } from './i18n.js';
import { UplinkHint } from './uplink.js';

/** hintPainter returns show(key|null), which fills or empties live (the polite region). */
export function hintPainter(live) {
  let line = null; // the hint's paragraph while shown
  let text = null; // its text
  return (key) => {
    if (!live) return;
    if (!key) {
      if (line) line.remove();
      line = text = null;
      return;
    }
    if (!line) {
      text = el('span');
      line = el('p', { class: 'uplink-hint-text' }, icon('alert'), text);
      live.append(line);
    }
    line.dataset.hint = key;
    setText(text, key);
  };
}

/** uplinkHint starts the hint for publisher's senders (session-join.js, with the publisher). */
export function uplinkHint(publisher, live, clock) {
  const hint = new UplinkHint({ read: () => publisher.qualityLimitation(), show: hintPainter(live), clock,
    starts: () => publisher.videoStarts });
  hint.start();
  return hint;
}
