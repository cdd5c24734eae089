// The landing page: start a new meeting or join one from a link or id.

import { $, meetingIdPattern } from './dom.js';
import { fillIcons } from './icons.js';

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

function showError(text) {
  const box = $('#landing-error');
  box.textContent = text;
  box.hidden = !text;
}

async function newMeeting() {
  const btn = $('#new-meeting');
  btn.disabled = true;
  showError('');
  try {
    const res = await fetch('/api/meetings', {
      method: 'POST',
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (!res.ok) throw new Error(`status ${res.status}`);
    const body = await res.json();
    const path = typeof body.url === 'string' && body.url.startsWith('/m/') ? body.url : `/m/${body.meetingId}`;
    const parsed = parseMeeting(path);
    if (!parsed) throw new Error('bad answer');
    window.location.assign(path);
  } catch {
    showError('A new meeting could not be created. Please try again in a moment.');
    btn.disabled = false;
  }
}

function main() {
  fillIcons();
  const input = $('#join-input');
  const joinBtn = $('#join-button');
  input.addEventListener('input', () => {
    joinBtn.disabled = input.value.trim() === '';
    showError('');
  });
  $('#join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const parsed = parseMeeting(input.value);
    if (!parsed) {
      showError('That does not look like a meeting link or ID.');
      input.focus();
      return;
    }
    window.location.assign(`/m/${parsed.id}${parsed.fragment}`);
  });
  $('#new-meeting').addEventListener('click', newMeeting);
}

main();
