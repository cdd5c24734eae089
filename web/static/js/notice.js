// The operator's privacy notice (GDPR Art. 13), from GET /api/notice: who runs this
// server, whom to ask, their privacy notice (a link or plain text) and imprint, and
// the built-in description of what this server processes. Everything goes into the
// page as text (textContent); links are followed only when they are http(s) URLs,
// and open as navigation in a new tab: nothing is loaded from another origin.
//
// Test hooks: .notice-line (the "Privacy" line on the landing page, pre-join and
// waiting room) with a.notice-privacy (→ /privacy), .notice-org and
// a.notice-imprint; on /privacy, #notice with .notice-section[data-part].

import { el } from './dom.js';

let pending = null;

/** loadNotice fetches the notice once per page; on any failure an empty one. */
export function loadNotice() {
  if (!pending) {
    pending = fetch('/api/notice', { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then((res) => (res.ok ? res.json() : {}))
      .then((n) => (n && typeof n === 'object' ? n : {}))
      .catch(() => ({}));
  }
  return pending;
}

/** safeURL returns u when it is an absolute http(s) URL, else ''. */
export function safeURL(u) {
  if (typeof u !== 'string' || !u) return '';
  try {
    const url = new URL(u);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : '';
  } catch {
    return '';
  }
}

const str = (v) => (typeof v === 'string' ? v : '');

/** privacyLink is the link an invitation names: the operator's URL, or /privacy for their text ('' for none). */
export function privacyLink(n) {
  const url = safeURL(n.privacyUrl);
  if (url) return url;
  return str(n.privacyText) ? `${window.location.origin}/privacy` : '';
}

function outLink(href, text, cls) {
  return el('a', { class: cls, href, target: '_blank', rel: 'noopener noreferrer' }, text);
}

/**
 * fillNoticeLine fills a .notice-line element: "Provided by <org> · Privacy · Imprint".
 * Privacy opens /privacy in a new tab, so a pre-join screen or waiting room stays.
 */
export async function fillNoticeLine(line) {
  if (!line) return;
  const n = await loadNotice();
  const parts = [];
  const org = str(n.organisation);
  if (org) parts.push(el('span', { class: 'notice-org' }, `Provided by ${org}`));
  parts.push(outLink('/privacy', 'Privacy', 'notice-privacy'));
  const imprint = safeURL(n.imprintUrl);
  if (imprint) parts.push(outLink(imprint, 'Imprint', 'notice-imprint'));
  line.replaceChildren();
  parts.forEach((p, i) => {
    if (i) line.append(el('span', { class: 'notice-sep', 'aria-hidden': 'true' }, '·'));
    line.append(p);
  });
  line.hidden = false;
}

function section(part, title, ...children) {
  return el('section', { class: 'notice-section', dataset: { part } }, el('h2', { text: title }), ...children);
}

function field(label, value) {
  return el('p', {}, el('strong', { text: `${label}: ` }), value);
}

/** renderNotice builds the full notice into box (the /privacy page). */
export function renderNotice(box, n) {
  const out = [];
  const org = str(n.organisation);
  const contact = str(n.contact);
  const dpo = str(n.dataProtectionContact);
  if (org || contact || dpo) {
    out.push(section('controller', 'Who is responsible',
      org ? field('Provider', org) : null,
      contact ? field('Contact', contact) : null,
      dpo ? field('Data protection contact', dpo) : null));
  }
  const url = safeURL(n.privacyUrl);
  const text = str(n.privacyText);
  const own = !!(url || text);
  if (own) {
    out.push(section('operator', 'Privacy notice',
      text ? el('div', { class: 'notice-text', text }) : null,
      url ? el('p', {}, outLink(url, org ? `The full privacy notice of ${org}` : 'The full privacy notice', 'notice-privacy-url')) : null));
  }
  const items = Array.isArray(n.processing) ? n.processing : [];
  if (items.length) {
    const list = items.map((it) => el('div', { class: 'notice-item' },
      el('h3', { text: str(it && it.title) }), el('p', { text: str(it && it.text) })));
    if (own) {
      out.push(el('details', { class: 'notice-section', dataset: { part: 'processing' } },
        el('summary', { text: 'Technical details: what this server processes' }), ...list));
    } else {
      out.push(section('processing', 'What this server processes', ...list));
    }
  }
  const imprint = safeURL(n.imprintUrl);
  if (imprint) out.push(el('p', {}, outLink(imprint, 'Imprint', 'notice-imprint')));
  if (!out.length) out.push(el('p', { class: 'muted', text: 'This server has no privacy notice.' }));
  box.replaceChildren(...out);
}
