// Icons are built here as SVG elements, so no icon file or font is fetched.
// Every icon is drawn on a 24×24 grid with round 2px strokes in currentColor.

// The SVG namespace: a name, never fetched (web_test.go's TestNoOtherOrigin allows
// exactly it). It was taken from markup parsed from a string, which the CSP's Trusted
// Types now refuse.
const SVG_NS = 'http://www.w3.org/2000/svg';

// Each icon is a list of [element, attributes].
const ICONS = {
  mic: [
    ['rect', { x: 9, y: 2.5, width: 6, height: 11.5, rx: 3 }],
    ['path', { d: 'M5.5 10.5a6.5 6.5 0 0 0 13 0M12 17v4M8.5 21h7' }],
  ],
  'mic-off': [
    ['path', { d: 'M15 9.5V5.5a3 3 0 0 0-5.7-1.3M9 9v2a3 3 0 0 0 4.6 2.5' }],
    ['path', { d: 'M18.5 10.5a6.5 6.5 0 0 1-.8 3.1M5.5 10.5a6.5 6.5 0 0 0 10.2 5.4M12 17v4M8.5 21h7' }],
    ['path', { d: 'M3.5 3.5l17 17' }],
  ],
  camera: [
    ['rect', { x: 2.5, y: 6, width: 13, height: 12, rx: 2.5 }],
    ['path', { d: 'M15.5 10.2l6-3.2v10l-6-3.2z' }],
  ],
  'camera-off': [
    ['path', { d: 'M10 6h3a2.5 2.5 0 0 1 2.5 2.5v3M15.5 15.5a2.5 2.5 0 0 1-2.5 2.5H5A2.5 2.5 0 0 1 2.5 15.5v-7A2.5 2.5 0 0 1 5 6' }],
    ['path', { d: 'M17 11l4.5-3v9' }],
    ['path', { d: 'M3.5 3.5l17 17' }],
  ],
  screen: [
    ['rect', { x: 2.5, y: 4, width: 19, height: 13, rx: 2 }],
    ['path', { d: 'M8 21h8M12 17v4M12 13.5V8M9.5 10.5L12 8l2.5 2.5' }],
  ],
  'screen-off': [
    ['rect', { x: 2.5, y: 4, width: 19, height: 13, rx: 2 }],
    ['path', { d: 'M8 21h8M12 17v4M9.5 8.5l5 5M14.5 8.5l-5 5' }],
  ],
  chat: [
    ['path', { d: 'M20.5 11.5a8 8 0 0 1-11.7 7.1L3.5 20l1.4-4.9A8 8 0 1 1 20.5 11.5z' }],
  ],
  people: [
    ['circle', { cx: 9, cy: 8, r: 3.5 }],
    ['path', { d: 'M2.5 20a6.5 6.5 0 0 1 13 0M15.5 4.6a3.5 3.5 0 0 1 0 6.8M18 14a6.5 6.5 0 0 1 3.5 6' }],
  ],
  leave: [
    ['path', { d: 'M2.6 14.2c5.2-5.1 13.6-5.1 18.8 0 .5.5.5 1.3 0 1.8l-1.7 1.7c-.4.4-1.1.5-1.6.1l-2.4-1.7a1.2 1.2 0 0 1-.5-1v-2a11 11 0 0 0-6.4 0v2c0 .4-.2.8-.5 1l-2.4 1.7c-.5.4-1.2.3-1.6-.1L2.6 16c-.5-.5-.5-1.3 0-1.8z' }],
  ],
  copy: [
    ['rect', { x: 8.5, y: 8.5, width: 12, height: 12, rx: 2 }],
    ['path', { d: 'M15.5 8.5V5.5a2 2 0 0 0-2-2h-8a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h3' }],
  ],
  check: [['path', { d: 'M5 12.5l4.5 4.5L19 7.5' }]],
  link: [
    ['path', { d: 'M10 14a4 4 0 0 0 5.7 0l3.1-3.1a4 4 0 0 0-5.7-5.7l-1 1' }],
    ['path', { d: 'M14 10a4 4 0 0 0-5.7 0l-3.1 3.1a4 4 0 0 0 5.7 5.7l1-1' }],
  ],
  close: [['path', { d: 'M6 6l12 12M18 6L6 18' }]],
  send: [['path', { d: 'M4 11.5L20.5 4 14 20.5l-2.7-6.8zM11.3 13.7L20.5 4' }]],
  plus: [['path', { d: 'M12 5v14M5 12h14' }]],
  shield: [
    ['path', { d: 'M12 3l7.5 3v5.5c0 4.6-3.2 8.3-7.5 9.5-4.3-1.2-7.5-4.9-7.5-9.5V6z' }],
    ['path', { d: 'M8.8 12.2l2.3 2.3 4.2-4.5' }],
  ],
  expand: [['path', { d: 'M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5' }]],
  alert: [
    ['path', { d: 'M12 3.5l9.5 16.5h-19z' }],
    ['path', { d: 'M12 10v4.5M12 17.2v.3' }],
  ],
  arrow: [['path', { d: 'M5 12h14M13 6l6 6-6 6' }]],
  more: [
    ['circle', { cx: 12, cy: 5.5, r: 1.6, fill: 'currentColor', stroke: 'none' }],
    ['circle', { cx: 12, cy: 12, r: 1.6, fill: 'currentColor', stroke: 'none' }],
    ['circle', { cx: 12, cy: 18.5, r: 1.6, fill: 'currentColor', stroke: 'none' }],
  ],
  door: [
    ['path', { d: 'M6 21V4.5A1.5 1.5 0 0 1 7.5 3h9A1.5 1.5 0 0 1 18 4.5V21M3.5 21h17' }],
    ['path', { d: 'M14.5 12v.5' }],
  ],
  sliders: [
    ['path', { d: 'M4 6.5h9M17 6.5h3M4 12h3M11 12h9M4 17.5h11M19 17.5h1' }],
    ['circle', { cx: 15, cy: 6.5, r: 2 }],
    ['circle', { cx: 9, cy: 12, r: 2 }],
    ['circle', { cx: 17, cy: 17.5, r: 2 }],
  ],
  lock: [
    ['rect', { x: 5, y: 10.5, width: 14, height: 10, rx: 2 }],
    ['path', { d: 'M8 10.5V7.5a4 4 0 0 1 8 0v3M12 14.5v2' }],
  ],
  'lock-open': [
    ['rect', { x: 5, y: 10.5, width: 14, height: 10, rx: 2 }],
    ['path', { d: 'M8 10.5V7.5a4 4 0 0 1 7.7-1.5M12 14.5v2' }],
  ],
  key: [
    ['circle', { cx: 8, cy: 15, r: 4 }],
    ['path', { d: 'M11 12l8.5-8.5M16.5 6.5l2.5 2.5M14.5 8.5l2 2' }],
  ],
  // a raised hand (hands.js): three fingers, the thumb, the palm
  hand: [
    ['path', { d: 'M8 12V6.5a1.5 1.5 0 0 1 3 0V11' }],
    ['path', { d: 'M11 10.5V5a1.5 1.5 0 0 1 3 0v5.5' }],
    ['path', { d: 'M14 10.5V6.5a1.5 1.5 0 0 1 3 0V15a6 6 0 0 1-6 6h-.5c-2 0-3.3-.9-4.4-2.3L3.6 14.8a1.5 1.5 0 0 1 2.3-1.9L8 15' }],
  ],
  volume: [
    ['path', { d: 'M4 9.5h3.5L12 5.5v13l-4.5-4H4z' }],
    ['path', { d: 'M15.5 9a4.5 4.5 0 0 1 0 6M18 6.5a8 8 0 0 1 0 11' }],
  ],
  // devices slice: pin a tile, the devices and view panel, keyboard shortcuts
  pin: [
    ['path', { d: 'M9 3.5h6l-1 6 3.5 3.5v1.5h-11V13L10 9.5z' }],
    ['path', { d: 'M12 14.5v6' }],
  ],
  gear: [
    ['circle', { cx: 12, cy: 12, r: 3 }],
    ['path', { d: 'M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1' }],
  ],
  keyboard: [
    ['rect', { x: 2.5, y: 6, width: 19, height: 12, rx: 2 }],
    ['path', { d: 'M6 10h.01M9.5 10h.01M13 10h.01M16.5 10h.01M6.5 14.5h11' }],
  ],
  // background blur: a person, the background dotted
  blur: [
    ['circle', { cx: 12, cy: 9.5, r: 3 }],
    ['path', { d: 'M6.5 20a5.5 5.5 0 0 1 11 0' }],
    ['path', { d: 'M3.5 5v.01M3.5 10v.01M3.5 15v.01M20.5 5v.01M20.5 10v.01M20.5 15v.01M8 3.5v.01M16 3.5v.01' }],
  ],
};

/** icon returns a new <svg> element for the named icon (aria-hidden: the button carries the label). */
export function icon(name, className = 'icon') {
  const shapes = ICONS[name];
  if (!shapes) throw new Error(`unknown icon ${name}`);
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', className);
  svg.dataset.icon = name;
  for (const [tag, attrs] of shapes) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    svg.append(node);
  }
  return svg;
}

/** fillIcons replaces every empty element with data-icon="name" in root by its icon. */
export function fillIcons(root = document) {
  for (const holder of root.querySelectorAll('[data-icon]:not(svg)')) {
    holder.replaceChildren(icon(holder.dataset.icon));
  }
}

/** setIcon swaps the icon inside a holder element (e.g. mic ↔ mic-off on a toggle). */
export function setIcon(holder, name) {
  if (holder.dataset.icon === name && holder.firstElementChild) return;
  holder.dataset.icon = name;
  holder.replaceChildren(icon(name));
}
