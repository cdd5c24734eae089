// The landing page: a host creates a meeting (with the host key, an optional
// password and the first settings), anyone joins one from a link or id.
//
// The host key arrives either in the address as #host=<key> (the server prints
// such a link once at its first start) or typed into #host-key. It stays in this
// page's memory: it is removed from the address bar at once and never stored.
//
// End-to-end encryption (#new-e2ee, on by default): this browser makes the meeting's
// random secret and puts it in both links' fragment (#k=…); it is never sent to the
// server (not in the request) and exists only in this page and in the links. With
// the switch off, the request says "e2ee": false and the links carry no key.
//
// Test hooks: #host-key, #new-password, #new-e2ee, #new-lobby, #new-screenshare,
// #new-unmute, #new-chat (checkboxes), #btn-new-meeting, #create-error; the result
// card #create-result with #link-participant and #link-moderator (inputs whose value
// is the full URL), #password-reminder, #e2ee-reminder / #e2ee-off-reminder,
// #btn-join-moderator; the invitation (invitation.js) and the notice line (notice.js).
// Rooms (lasting links, made from the host link's rk): rooms.js.

import { $, toast, copyText, meetingIdPattern } from './dom.js';
import { fillIcons } from './icons.js';
import { onLanguageChange, setText, t } from './i18n.js';
import { newMeetingSecret } from './e2ee/keys.js';
import { invitationText } from './invitation.js';
import { fillNoticeLine, loadNotice, privacyLink } from './notice.js';
import { Rooms, apiErrorText, tooManyText } from './rooms.js';
import { parseHostFragment } from './rooms-keys.js';
import { monotonicNow } from './monotonic.js';

/**
 * parseMeeting takes what the user pasted (a full link, a path or a bare id)
 * and returns {id, fragment} or null. The fragment (which later carries the
 * meeting's end-to-end key) is kept; the link's host is not used: meetings are
 * joined on this server.
 */
export function parseMeeting(text) {
  let value = String(text || '').trim();
  if (!value) return null;
  let fragment = '';
  const hash = value.indexOf('#');
  if (hash >= 0) {
    fragment = value.slice(hash);
    value = value.slice(0, hash);
  }
  value = value.replace(/[?].*$/, '');
  const m = /(?:^|\/)m\/([^/]+)\/?$/.exec(value);
  const id = m ? m[1] : value;
  if (!meetingIdPattern.test(id)) return null;
  return { id, fragment };
}

/** hostKeyFromFragment reads #host=<key> (other fragment parts are ignored). */
export function hostKeyFromFragment(hash) {
  return parseHostFragment(hash).host;
}

let linkKey = ''; // the host key from the address, in memory only
let retryTimer = 0;
let invitation = null; // {link, withPassword, privacy} of the meeting shown
let rooms = null; // the rooms card (rooms.js)

/** showError shows the text of key in box (following a language switch); no key hides it. */
function showError(box, key, params) {
  if (key) setText(box, key, params);
  else { delete box.dataset.i18n; box.textContent = ''; }
  box.hidden = !key;
}

function showKeyField(show) {
  $('#host-key-field').hidden = !show;
  $('#host-key-known').hidden = show;
}

function hostKey() {
  return $('#host-key').value.trim() || linkKey;
}

/** retryAfter reads a Retry-After header in seconds (at least 1). */
function retryAfter(res) {
  const v = Number.parseInt(res.headers.get('Retry-After') || '', 10);
  return Number.isFinite(v) && v > 0 ? v : 1;
}

/**
 * holdButton keeps the create button off for seconds, counting down in the error text
 * for the 429's code (tooManyText: too many wrong host keys, or meetings made too fast).
 */
function holdButton(seconds, code = '') {
  const btn = $('#btn-new-meeting');
  const box = $('#create-error');
  // Monotonic (monotonic.js): a wall clock set back would hold the button for the step.
  const until = monotonicNow() + seconds * 1000;
  clearInterval(retryTimer);
  const tick = () => {
    const left = Math.ceil((until - monotonicNow()) / 1000);
    if (left <= 0) {
      clearInterval(retryTimer);
      btn.disabled = false;
      showError(box, '');
      return;
    }
    btn.disabled = true;
    const error = tooManyText(code, left);
    showError(box, error.key, error.params);
  };
  tick();
  retryTimer = setInterval(tick, 1000);
}

async function createMeeting(event) {
  event.preventDefault();
  const btn = $('#btn-new-meeting');
  const box = $('#create-error');
  if (btn.disabled) return;
  const key = hostKey();
  if (!key) {
    showKeyField(true);
    showError(box, 'landing.host-key.missing');
    $('#host-key').focus();
    return;
  }
  const password = $('#new-password').value;
  const e2ee = $('#new-e2ee').checked;
  const body = {
    e2ee,
    settings: {
      lobby: $('#new-lobby').checked,
      screenShare: $('#new-screenshare').checked,
      unmute: $('#new-unmute').checked,
      chat: $('#new-chat').checked,
    },
  };
  if (password) body.password = password;

  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  showError(box, '');
  let res;
  try {
    res = await fetch('/api/meetings', {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    res = null;
  }
  btn.setAttribute('aria-busy', 'false');
  btn.disabled = false;
  if (!res) {
    showError(box, 'common.unreachable');
    return;
  }
  if (res.status === 401) {
    showKeyField(true);
    showError(box, 'common.wrong-host-key');
    $('#host-key').select();
    $('#host-key').focus();
    return;
  }
  if (res.status === 429 || res.status === 403 || res.status === 503) {
    // The body's code says which refusal of a status it is (PROTOCOL.md, "Errors of the
    // HTTP API"). 429: too many wrong host keys from this address, or meetings made too
    // fast by this host. 403: the host keeps too many rooms (one-off meetings count), or
    // the server took the request for another site's (a proxy passing on another Host);
    // trying again helps neither. 503: the server could not check the host key just
    // now (busy): trying again in a moment does.
    let code = '';
    try {
      const refusal = await res.json();
      if (refusal && typeof refusal.code === 'string') code = refusal.code;
    } catch {
      code = ''; // not the server's JSON (something in front of it): the status is said
    }
    if (res.status === 429) {
      holdButton(retryAfter(res), code);
      return;
    }
    const error = apiErrorText(res.status, code);
    showError(box, error.key, error.params);
    return;
  }
  let answer = null;
  try {
    if (res.status === 201 || res.ok) answer = await res.json();
  } catch {
    answer = null;
  }
  // The meeting's key is made here, after the server said yes, and goes only into the links.
  const links = answer && meetingLinks(answer, e2ee ? newMeetingSecret() : '');
  if (!links) {
    showError(box, 'landing.create.failed');
    return;
  }
  showResult(links, !!password, e2ee);
  // The meeting is a one-off room of the host's: the rooms card, when it shows the
  // host's rooms, lists it now rather than at the next visit.
  if (!$('#rooms-body').hidden) rooms.load();
}

/**
 * meetingLinks turns the server's answer into the two full URLs, or null. With a
 * meeting secret (base64url), both carry it in the fragment: #k=<secret>, and the
 * moderator link #k=<secret>&mod=<moderator secret>.
 */
function meetingLinks({ meetingId, moderatorSecret, url, moderatorUrl }, secret) {
  const origin = window.location.origin;
  const path = typeof url === 'string' && url.startsWith('/m/') ? url.replace(/#.*$/, '') : `/m/${meetingId}`;
  const parsed = parseMeeting(path);
  if (!parsed) return null;
  let mod = typeof moderatorSecret === 'string' ? moderatorSecret : '';
  if (!mod && typeof moderatorUrl === 'string' && moderatorUrl.includes('#')) {
    mod = new URLSearchParams(moderatorUrl.slice(moderatorUrl.indexOf('#') + 1)).get('mod') || '';
  }
  if (!mod) return null;
  const key = secret ? [`k=${secret}`] : [];
  const participant = key.length ? `#${key[0]}` : '';
  const moderator = `#${[...key, `mod=${encodeURIComponent(mod)}`].join('&')}`;
  return { participant: origin + `/m/${parsed.id}` + participant, moderator: origin + `/m/${parsed.id}` + moderator };
}

/** renderInvitation rewrites the invitation from the title and time fields. */
function renderInvitation() {
  if (!invitation) return;
  $('#invitation').value = invitationText({
    ...invitation,
    title: $('#invitation-title').value,
    time: $('#invitation-time').value,
  }, t);
}

async function showInvitation(link, withPassword) {
  invitation = { link, withPassword, privacy: '' };
  $('#invitation-password-hint').hidden = !withPassword;
  renderInvitation();
  const notice = await loadNotice();
  if (invitation && invitation.link === link) {
    invitation.privacy = privacyLink(notice);
    renderInvitation();
  }
}

function showResult(links, withPassword, e2ee) {
  showInvitation(links.participant, withPassword);
  $('#link-participant').value = links.participant;
  $('#link-moderator').value = links.moderator;
  $('#password-reminder').hidden = !withPassword;
  $('#e2ee-reminder').hidden = !e2ee;
  $('#e2ee-off-reminder').hidden = e2ee;
  // A link to a new tab (rel=noopener): this page keeps the links.
  $('#btn-join-moderator').href = links.moderator;
  $('#create-form').hidden = true;
  $('#create-result').hidden = false;
  $('#result-title').focus();
}

function newForm() {
  invitation = null;
  $('#invitation').value = '';
  $('#invitation-title').value = '';
  $('#invitation-time').value = '';
  $('#link-participant').value = '';
  $('#link-moderator').value = '';
  $('#new-password').value = '';
  $('#btn-join-moderator').removeAttribute('href');
  $('#create-result').hidden = true;
  $('#create-form').hidden = false;
  $('#new-password').focus();
}

async function copyLink(input, copied) {
  const ok = await copyText(input.value, input);
  toast(ok ? t(copied) : t('common.copy-failed'), { kind: ok ? 'success' : 'info' });
}

function main() {
  fillIcons();

  const fromLink = parseHostFragment(window.location.hash);
  linkKey = fromLink.host;
  if (window.location.hash) {
    // The key must not stay in the address bar, the tab's session history or a bookmark.
    // (The browser's own history still holds the link as opened: README "Data".)
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  showKeyField(!linkKey);
  // A link whose key the server would refuse sends nothing: the page asks for the key.
  if (fromLink.badHost) showError($('#create-error'), 'landing.host-key.link-invalid');
  // The rooms card: rk (the room secret) from the same host link, never stored.
  rooms = new Rooms({
    hostKey,
    rk: fromLink.rk,
    askKey: () => {
      showKeyField(true);
      $('#host-key').focus();
    },
  });
  $('#host-key-change').addEventListener('click', () => {
    linkKey = '';
    showKeyField(true);
    rooms.reset();
    $('#host-key').focus();
  });
  $('#host-key').addEventListener('input', () => {
    showError($('#create-error'), '');
    showError($('#rooms-key-missing'), '');
  });
  $('#create-form').addEventListener('submit', createMeeting);
  $('#new-e2ee').addEventListener('change', () => { $('#new-e2ee-off').hidden = $('#new-e2ee').checked; });
  $('#copy-participant').addEventListener('click', () => copyLink($('#link-participant'), 'landing.link.participant.copied'));
  $('#copy-moderator').addEventListener('click', () => copyLink($('#link-moderator'), 'landing.link.moderator.copied'));
  $('#btn-create-another').addEventListener('click', newForm);
  $('#invitation-title').addEventListener('input', renderInvitation);
  $('#invitation-time').addEventListener('input', renderInvitation);
  $('#copy-invitation').addEventListener('click', async () => {
    const ok = await copyText($('#invitation').value, $('#invitation'));
    toast(ok ? t('landing.invitation.copied') : t('landing.invitation.copy-failed'), { kind: ok ? 'success' : 'info' });
  });
  onLanguageChange(renderInvitation);
  fillNoticeLine($('#notice-line'));
  rooms.start();

  const input = $('#join-input');
  const joinBtn = $('#join-button');
  const joinError = $('#landing-error');
  input.addEventListener('input', () => {
    joinBtn.disabled = input.value.trim() === '';
    showError(joinError, '');
  });
  $('#join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const parsed = parseMeeting(input.value);
    if (!parsed) {
      showError(joinError, 'landing.join.invalid');
      input.focus();
      return;
    }
    window.location.assign(`/m/${parsed.id}${parsed.fragment}`);
  });
}

main();
