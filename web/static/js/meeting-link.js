// What the meeting page takes from its address: the meeting id, the ?mic=0 / ?camera=0
// choices, the moderator secret (#mod=…) and the meeting's E2EE secret (#k=…). The
// secrets never stay in the address bar in a form that could be copied as an invite
// (page-hooks.js's header says which hooks the tests rely on).

import { tabValue, setTabValue, forgetTabValues } from './storage.js';
import { parseSecret } from './e2ee/session-keys.js';

/**
 * splitFragment takes the moderator secret (#mod=…) and the meeting's E2EE secret
 * (#k=…) out of the URL fragment and returns them with the rest of the fragment.
 */
function splitFragment(hash) {
  let secret = '';
  let key = null; // null: no k= part at all
  const keep = [];
  const value = (part, n) => {
    try {
      return decodeURIComponent(part.slice(n));
    } catch {
      return part.slice(n);
    }
  };
  for (const part of hash.replace(/^#/, '').split('&')) {
    if (!part) continue;
    if (part.startsWith('mod=')) secret = value(part, 4);
    else if (part.startsWith('k=')) key = value(part, 2);
    else keep.push(part);
  }
  return { secret, key, rest: keep.length ? `#${keep.join('&')}` : '' };
}

/**
 * tabCameBack tells whether this document takes over from the meeting page before it in
 * the tab: a reload (F5, location.reload), or the browser bringing back a tab whose page
 * it discarded or killed (below); not a page opened anew, reached by Back or Forward
 * after its person went to another page, or a closed tab reopened. Where the browser
 * cannot say: no.
 */
function tabCameBack() {
  try {
    // Chromium reloads a tab it discarded (Memory Saver, memory pressure) when the tab
    // is shown again, as a history navigation ("back_forward"), and says so by
    // wasDiscarded (Page Lifecycle). Nobody went away and came back: the tab stayed
    // open on the meeting, as a tab never discarded stays in it.
    if (globalThis.document?.wasDiscarded === true) return true;
    const perf = window.performance;
    const entry = perf?.getEntriesByType?.('navigation')?.[0];
    const type = entry ? entry.type : ['navigate', 'reload', 'back_forward'][perf?.navigation?.type];
    if (type === 'reload') return true;
    // A tab brought back after a crash, or a background tab a mobile browser killed and
    // loads again when shown, is a history navigation of its own entry (back_forward, as
    // Back is); but the page before never had its pagehide, which a page left for another
    // or closed has (reconnect.js pageHidden), so 'open' is still there.
    return type === 'back_forward' && tabValue('open') === '1';
  } catch {
    return false;
  }
}

/**
 * readMeetingLink reads the page's address once, keeps the moderator secret for this
 * tab (storage.js: a reload stays a moderator) and takes it and the query out of the
 * address bar. What the tab kept of a meeting serves a reload (or the tab brought back
 * after the browser killed its page) only: any other page forgets it first, so that
 * Back to the meeting after navigating away, or a closed tab reopened, on a shared
 * computer, does not come back into the meeting as the person who was there (with the
 * camera of whoever sits there now, and the role). It returns { params, meetingId,
 * moderatorSecret, meetingSecret (bytes in memory only; null: none or invalid),
 * secretInvalid, shareURL (the invite link: the key, never mod=) }.
 */
export function readMeetingLink() {
  const params = new URLSearchParams(window.location.search);
  const meetingId = window.location.pathname.replace(/^\/m\//, '').replace(/\/$/, '');
  const fragment = splitFragment(window.location.hash);
  if (!tabCameBack()) forgetTabValues();
  const moderatorSecret = fragment.secret || tabValue('moderator') || '';
  if (fragment.secret) keepModeratorSecret(fragment.secret);
  let meetingSecret = null;
  let secretInvalid = false;
  if (fragment.key !== null) {
    try {
      meetingSecret = parseSecret(fragment.key);
    } catch {
      secretInvalid = true;
    }
  }
  // The invite link carries the key (the whole link is the invitation), never mod=.
  const shareURL = `${window.location.origin}/m/${meetingId}${meetingSecret ? `#k=${fragment.key}` : ''}`;
  if (window.location.search || fragment.secret) {
    // Keep the moderator secret out of the address bar, the tab's session history and a
    // copied address. The browser's own history still has the link as it was opened (it
    // records the visit before any script runs). The meeting key stays: the address bar
    // then holds exactly the invite link, and a reload still has the key (a fragment
    // never reaches the server).
    const rest = fragment.rest.replace(/^#/, '');
    const keep = [meetingSecret ? `k=${fragment.key}` : '', rest].filter(Boolean).join('&');
    window.history.replaceState(null, '', window.location.pathname + (keep ? `#${keep}` : ''));
  }
  return { params, meetingId, moderatorSecret, meetingSecret, secretInvalid, shareURL };
}

/**
 * keepModeratorSecret keeps the moderator secret for this tab (a reload stays a
 * moderator); null forgets it (Leave: reconnect.js left).
 */
export function keepModeratorSecret(secret) {
  setTabValue('moderator', secret || null);
}

/**
 * meetingExists asks GET /api/meetings/<id>: true, false (404), or null when the
 * server could not say (then the join tells, as before).
 */
export async function meetingExists(id) {
  try {
    const res = await fetch(`/api/meetings/${encodeURIComponent(id)}`, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
    if (res.status === 404) return false;
    return res.ok ? true : null;
  } catch {
    return null;
  }
}
