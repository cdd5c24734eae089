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
import { has, t } from './i18n.js';

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

function outLink(href, key, cls, params) {
  return el('a', { class: cls, href, target: '_blank', rel: 'noopener noreferrer', i18n: key, i18nParams: params });
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
  if (org) parts.push(el('span', { class: 'notice-org', i18n: 'notice.provided-by', i18nParams: { org } }));
  parts.push(outLink('/privacy', 'notice.privacy', 'notice-privacy'));
  const imprint = safeURL(n.imprintUrl);
  if (imprint) parts.push(outLink(imprint, 'notice.imprint', 'notice-imprint'));
  line.replaceChildren();
  parts.forEach((p, i) => {
    if (i) line.append(el('span', { class: 'notice-sep', 'aria-hidden': 'true' }, '·'));
    line.append(p);
  });
  line.hidden = false;
}

function section(part, title, ...children) {
  return el('section', { class: 'notice-section', dataset: { part } }, el('h2', { i18n: title }), ...children);
}

function field(label, value) {
  return el('p', {}, el('strong', { i18n: label }), ' ', value);
}

/** renderNotice builds the full notice into box (the /privacy page). */
export function renderNotice(box, n) {
  const out = [];
  const org = str(n.organisation);
  const contact = str(n.contact);
  const dpo = str(n.dataProtectionContact);
  if (org || contact || dpo) {
    out.push(section('controller', 'notice.controller',
      org ? field('notice.provider', org) : null,
      contact ? field('notice.contact', contact) : null,
      dpo ? field('notice.dpo', dpo) : null));
  }
  const url = safeURL(n.privacyUrl);
  const text = str(n.privacyText);
  const own = !!(url || text);
  if (own) {
    out.push(section('operator', 'notice.title',
      text ? el('div', { class: 'notice-text', text }) : null,
      url ? el('p', {}, org ? outLink(url, 'notice.full-of', 'notice-privacy-url', { org }) : outLink(url, 'notice.full', 'notice-privacy-url')) : null));
  }
  const items = Array.isArray(n.processing) ? n.processing : [];
  if (items.length) {
    const list = items.map((it) => el('div', { class: 'notice-item' }, ...factNodes(it || {})));
    if (own) {
      out.push(el('details', { class: 'notice-section', dataset: { part: 'processing' } },
        el('summary', { i18n: 'notice.technical' }), ...list));
    } else {
      out.push(section('processing', 'notice.processing', ...list));
    }
  }
  const imprint = safeURL(n.imprintUrl);
  if (imprint) out.push(el('p', {}, outLink(imprint, 'notice.imprint', 'notice-imprint')));
  if (!out.length) out.push(el('p', { class: 'muted', i18n: 'notice.none' }));
  box.replaceChildren(...out);
}

// The facts of the built-in notice this client can say in every language (the server's
// NoticeItem.Fact); an unknown fact is shown as the server wrote it (English).
const FACTS = {
  processed: ['notice.fact.processed.title', 'notice.fact.processed.text'],
  e2ee: ['notice.fact.e2ee.title', 'notice.fact.e2ee.text'],
  'how-long': ['notice.fact.how-long.title', 'notice.fact.how-long.text'],
  recording: ['notice.fact.recording.title', 'notice.fact.recording.text'],
  accounts: ['notice.fact.accounts.title', 'notice.fact.accounts.text'],
  stored: ['notice.fact.stored.title', 'notice.fact.stored.text'],
  'stored-memory': ['notice.fact.stored.title', 'notice.fact.stored-memory.text'],
  logs: ['notice.fact.logs.title', 'notice.fact.logs.text'],
  'logs-debug': ['notice.fact.logs.title', 'notice.fact.logs-debug.text'],
  services: ['notice.fact.services.title', 'notice.fact.services.text'],
  speakers: ['speakers15.notice.title', 'speakers15.notice.text'],
  'speakers-off': ['speakers15.notice.title', 'speakers15.notice.off.text'],
};

function factNodes(it) {
  const keys = Object.hasOwn(FACTS, str(it.fact)) ? FACTS[it.fact] : null;
  if (!keys || !has(keys[0]) || !has(keys[1])) return [el('h3', { text: str(it.title) }), el('p', { text: str(it.text) })];
  const secs = it.seconds && typeof it.seconds === 'object' ? it.seconds : {};
  const params = {};
  for (const [name, s] of Object.entries(secs)) params[name] = duration(Number(s));
  return [el('h3', { i18n: keys[0] }), el('p', { i18n: keys[1], i18nParams: params })];
}

/** duration says s seconds as people do ("1 minute", "15 minutes"), in the page's language. */
export function duration(s) {
  if (!(s > 0)) return t('duration.now');
  if (s % 3600 === 0) return t('duration.hours', { count: s / 3600 });
  if (s % 60 === 0) return t('duration.minutes', { count: s / 60 });
  return t('duration.seconds', { count: s });
}
