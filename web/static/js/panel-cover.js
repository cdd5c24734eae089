// A side panel that covers the meeting. At a narrow viewport (a phone, or a 1280-pixel
// window zoomed to 400 %: 320 CSS pixels) app.css lets the open side panel (chat, people,
// waiting room, settings, devices) fill the whole screen. It is then a modal layer:
// the rest of the page is inert, so neither Tab nor a screen reader's cursor reaches
// what is behind it (WCAG 2.4.3, 2.4.7), until the panel closes or the viewport widens
// again. Escape closes it (meeting-bindings.js) and the focus goes back to the control that
// opened it (returnFocus).
//
// Left out of inert: dialogs (a confirmation asked from a panel stands above it) and
// live regions without controls (#live, the toasts, the reconnect overlay, status
// lines): they take no focus, and what they announce still reaches a screen reader.
//
// Test hooks: body[data-panel-cover="true"] while a panel covers the meeting; what it
// made inert has the inert attribute (and nothing else does).

/** NARROW is where app.css turns a side panel into a full-screen layer. */
export const NARROW = '(max-width: 720px)';

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]';
const LIVE_ROLES = new Set(['status', 'alert', 'log', 'timer']);

/** isLive: node is a live region (aria-live, or a role that makes one). */
function isLive(node) {
  return node.hasAttribute('aria-live') || LIVE_ROLES.has(node.getAttribute('role'));
}

/**
 * quietLive: a live region with nothing to operate, or a box of nothing but such regions
 * (#toasts: one per politeness, and #toasts-quiet, aria-live="off", whose toasts are
 * said through #live), which stays readable behind the panel.
 */
function quietLive(node) {
  const live = isLive(node) || (node.children.length > 0 && Array.from(node.children).every(isLive));
  return live && !node.querySelector(FOCUSABLE);
}

/** shown tells whether node is on the page, visible and not inert (a place for the focus). */
function shown(node) {
  if (!node || !node.isConnected || node.disabled || node === document.body) return false;
  for (let n = node; n && n !== document.body && n !== document.documentElement; n = n.parentNode) {
    if (n.hidden || n.inert) return false;
  }
  return true;
}

export class PanelCover {
  /**
   * @param {{root?: HTMLElement, query?: MediaQueryList|null}} opts  root: the element
   *        the panel lives in (the page's body); query: the narrow viewport
   */
  constructor({ root = document.body, query = typeof matchMedia === 'function' ? matchMedia(NARROW) : null } = {}) {
    this.root = root;
    this.query = query;
    this.panel = null; // the open panel
    this.opener = null; // the element that had the focus when it opened
    this.made = []; // the elements made inert here (and only those are given back)
    if (query && typeof query.addEventListener === 'function') query.addEventListener('change', () => this._apply(true));
  }

  /** covering tells whether the open panel covers the meeting now. */
  get covering() {
    return !!this.panel && !!this.query && this.query.matches;
  }

  /**
   * show makes panel the open one (null: none is open). opener is the element that had
   * the focus before (kept while the same panel stays open, for returnFocus).
   */
  show(panel, opener = null) {
    if (panel !== this.panel) this.opener = panel && opener && !panel.contains(opener) ? opener : null;
    this.panel = panel || null;
    this._apply();
  }

  /**
   * returnFocus puts the focus back on the element that opened the panel, or on fallback
   * (the panel's own button) when that one is gone, hidden or was nothing (the page).
   */
  returnFocus(opener, fallback) {
    const target = shown(opener) ? opener : fallback;
    if (target && typeof target.focus === 'function') target.focus();
  }

  /** _apply makes the rest inert while the panel covers it; moveFocus: the viewport changed. */
  _apply(moveFocus = false) {
    for (const node of this.made) node.inert = false;
    this.made = [];
    const covering = this.covering;
    if (covering) {
      // Everything beside the panel and beside each of its ancestors, up to the root.
      for (let n = this.panel; n && n !== this.root && n.parentNode; n = n.parentNode) {
        for (const sibling of n.parentNode.children) {
          if (sibling === n || sibling.inert || sibling.tagName === 'DIALOG' || sibling.tagName === 'SCRIPT' || quietLive(sibling)) continue;
          sibling.inert = true;
          this.made.push(sibling);
        }
      }
    }
    if (covering) this.root.dataset.panelCover = 'true';
    else delete this.root.dataset.panelCover;
    // The viewport narrowed under a focus outside the panel: it would fall to the page.
    const active = document.activeElement;
    if (moveFocus && covering && !(active && this.panel.contains(active))) {
      const first = this.panel.querySelector(FOCUSABLE);
      if (first) first.focus();
    }
  }
}
