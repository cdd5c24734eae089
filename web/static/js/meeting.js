/*
 * Conclave meeting page: the glue between the screens and the modules —
 * prejoin.js (pre-join screen), session.js (one stay in the meeting: signaling.js,
 * publisher.js, subscriber.js, speaker.js), controls.js (mic, camera, screen),
 * grid.js (tiles), chat.js, people.js. Media senders and receivers are created only
 * in publisher.js and subscriber.js; E2EE attaches in e2ee-hooks.js.
 *
 * TEST HOOKS — stable, used by the Go browser tests; change them only together
 * with those tests.
 *
 *   URL        /m/<id>?name=X&autojoin=1  fills the name and joins without a click
 *              (camera and microphone on; add &mic=0 / &camera=0 to start them off).
 *              The query is removed from the address bar once read.
 *   State      document.body.dataset.state: prejoin | joining | joined | left | error
 *              ("loading" until this script has run)
 *   Pre-join   #prejoin-name (input), #prejoin-mic and #prejoin-camera (toggle buttons,
 *              aria-pressed="true" = on), #prejoin-join (button)
 *   Controls   #btn-mic, #btn-camera, #btn-screen (aria-pressed="true" = on / sharing),
 *              #btn-chat, #btn-leave; also #btn-people, #btn-rejoin
 *   Chat       #chat-input, #chat-send, #chat-messages; each message is an
 *              element .chat-message[data-from=<participant id>] with a .chat-text child
 *   Tiles      .tile[data-participant-id][data-source="camera"|"screen"], each with
 *              its <video>; the own tiles have data-self="true" (others "false");
 *              data-video="on" when the tile shows video, otherwise the avatar
 *   Errors     #meeting-error holds the error text (state "error"); its data-code is the
 *              reason: unknown_meeting, meeting_full, shutdown, replaced, disconnected, …
 *   window.conclave
 *     .participantId   own participant id (null before welcome)
 *     .participants()  [{id, name, media: {mic, camera, screen}}], self first
 *     .stats()         async → {
 *                        video:   [{participantId, source, framesDecoded, width, height}]  every remote video track
 *                        audio:   [{participantId, source, packetsReceived, totalSamplesReceived}]
 *                        publish: {microphone: packetsSent, camera: packetsSent, screen?: packetsSent}
 *                      }
 *     .state           same as document.body.dataset.state
 *
 * Nothing is persisted in the browser (no storage, no cookies), and nothing a
 * participant says or is called is written to the console.
 */

import { $, toast, announce, copyText, meetingIdPattern } from './dom.js';
import { fillIcons } from './icons.js';
import { LocalMedia } from './media.js';
import { Prejoin } from './prejoin.js';
import { Grid } from './grid.js';
import { Chat } from './chat.js';
import { Session } from './session.js';
import { Controls } from './controls.js';
import { renderPeople } from './people.js';

const params = new URLSearchParams(window.location.search);
const meetingId = window.location.pathname.replace(/^\/m\//, '').replace(/\/$/, '');
const shareURL = `${window.location.origin}/m/${meetingId}${window.location.hash}`;
if (window.location.search) {
  // Keep the display name out of the history and out of a copied address.
  window.history.replaceState(null, '', window.location.pathname + window.location.hash);
}

// [title, text, offer to rejoin]
const FATAL = {
  unknown_meeting: ['Meeting not found', 'This meeting does not exist or has ended.', false],
  meeting_full: ['The meeting is full', 'This meeting has reached its participant limit. Try again later.', true],
  unsupported_version: ['Please reload', 'This page is out of date for the server. Reload the page to join.', false],
  too_many_errors: ['Disconnected', 'The connection was closed after repeated errors.', true],
  shutdown: ['The server is shutting down', 'The meeting ended because the server is shutting down.', true],
  replaced: ['Joined elsewhere', 'You joined this meeting from another window or tab.', true],
  disconnected: ['Disconnected', 'The connection to the server was lost.', true],
  unreachable: ['Cannot connect', 'The server could not be reached. Check your connection and try again.', true],
  invalid: ['Meeting not found', 'This meeting link is not valid.', false],
};

const media = new LocalMedia();
let grid;
let chat;
let controls;
let session = null; // the current Session (also after it ended, for rejoin)
let timer = 0;
let inviteDismissed = false;

function setState(state) {
  document.body.dataset.state = state;
}

// ---------------------------------------------------------------- joining

function join(name) {
  setState('joining');
  banner('Connecting…');
  session = new Session({
    meetingId,
    name,
    media,
    grid,
    chat,
    ui: {
      joined: onJoined,
      failed: showError,
      left: showLeft,
      banner,
      rosterChanged: renderRoster,
    },
  });
  controls.render();
  session.start();
}

function onJoined() {
  setState('joined');
  renderRoster();
  banner(null);
  startTimer();
  controls.render();
  announce('You joined the meeting');
}

async function rejoin() {
  const last = session;
  if (!last) return;
  const button = $('#btn-rejoin');
  button.disabled = true;
  try {
    await media.acquire({ mic: last.wasMicOn !== false, camera: !!last.wasCameraOn });
  } finally {
    button.disabled = false;
  }
  join(last.name);
}

// ---------------------------------------------------------------- end screens

function stopped() {
  clearInterval(timer);
  $('#invite-card').hidden = true;
  openPanel(null);
  banner(null);
  $('#btn-enable-audio').hidden = true;
}

function showError(kind) {
  const [title, text, canRejoin] = FATAL[kind] || FATAL.disconnected;
  stopped();
  $('#status-title').textContent = title;
  $('#status-text').textContent = '';
  const box = $('#meeting-error');
  box.textContent = text;
  box.dataset.code = kind;
  box.hidden = false;
  const button = $('#btn-rejoin');
  button.hidden = !canRejoin;
  button.textContent = kind === 'disconnected' ? 'Rejoin' : 'Try again';
  setState('error');
  $('#status-title').focus();
}

function showLeft() {
  stopped();
  $('#status-title').textContent = 'You left the meeting';
  $('#status-text').textContent = 'Nothing of this meeting is kept on this device.';
  $('#meeting-error').textContent = '';
  $('#meeting-error').hidden = true;
  $('#btn-rejoin').hidden = false;
  $('#btn-rejoin').textContent = 'Rejoin';
  setState('left');
  $('#status-title').focus();
}

// ---------------------------------------------------------------- roster, panels

function everyone() {
  return session && !session.ended ? session.everyone() : [];
}

function renderRoster() {
  const people = everyone();
  const n = Math.max(1, people.length);
  $('#participant-count').textContent = String(n);
  $('#people-count').textContent = `(${n})`;
  $('#btn-people').setAttribute('aria-label', `Show participants (${n} in the meeting)`);
  if (!$('#people-panel').hidden) renderPeople($('#people-list'), people);
  const alone = document.body.dataset.state === 'joined' && people.length === 1;
  $('#invite-card').hidden = !alone || inviteDismissed;
}

function openPanel(which) {
  const chatOpen = which === 'chat';
  const peopleOpen = which === 'people';
  $('#chat-panel').hidden = !chatOpen;
  $('#people-panel').hidden = !peopleOpen;
  const chatBtn = $('#btn-chat');
  chatBtn.setAttribute('aria-pressed', String(chatOpen));
  chatBtn.setAttribute('aria-label', chatOpen ? 'Close chat' : 'Open chat');
  chatBtn.classList.toggle('active', chatOpen);
  $('#btn-people').setAttribute('aria-pressed', String(peopleOpen));
  document.body.classList.toggle('panel-open', chatOpen || peopleOpen);
  chat.setOpen(chatOpen);
  if (chatOpen) $('#chat-input').focus();
  if (peopleOpen) {
    renderPeople($('#people-list'), everyone());
    $('#people-close').focus();
  }
  grid.layout();
}

function togglePanel(which) {
  const panel = which === 'chat' ? $('#chat-panel') : $('#people-panel');
  const opening = panel.hidden;
  openPanel(opening ? which : null);
  if (!opening) $(which === 'chat' ? '#btn-chat' : '#btn-people').focus();
}

// ---------------------------------------------------------------- banner, timer

function banner(text, kind = 'info') {
  const b = $('#banner');
  if (!text) {
    b.hidden = true;
    return;
  }
  b.textContent = text;
  b.dataset.kind = kind;
  b.hidden = false;
}

function startTimer() {
  const startedAt = Date.now();
  const tick = () => {
    const secs = Math.floor((Date.now() - startedAt) / 1000);
    const h = Math.floor(secs / 3600);
    const mm = String(Math.floor((secs % 3600) / 60)).padStart(2, '0');
    const ss = String(secs % 60).padStart(2, '0');
    $('#meeting-timer').textContent = h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  };
  clearInterval(timer);
  tick();
  timer = setInterval(tick, 1000);
}

// ---------------------------------------------------------------- start

function bindControls() {
  $('#btn-mic').addEventListener('click', () => controls.toggleMic());
  $('#btn-camera').addEventListener('click', () => controls.toggleCamera());
  $('#btn-screen').addEventListener('click', () => controls.toggleScreen());
  $('#btn-chat').addEventListener('click', () => togglePanel('chat'));
  $('#btn-people').addEventListener('click', () => togglePanel('people'));
  $('#chat-close').addEventListener('click', () => togglePanel('chat'));
  $('#people-close').addEventListener('click', () => togglePanel('people'));
  $('#btn-leave').addEventListener('click', () => session && session.leave());
  $('#btn-rejoin').addEventListener('click', rejoin);
  $('#btn-invite').addEventListener('click', async () => {
    const ok = await copyText(shareURL);
    toast(ok ? 'Meeting link copied' : shareURL, { kind: ok ? 'success' : 'info' });
  });
  $('#invite-link').value = shareURL;
  $('#invite-copy').addEventListener('click', async () => {
    const ok = await copyText(shareURL, $('#invite-link'));
    toast(ok ? 'Meeting link copied' : 'Select the link and copy it', { kind: ok ? 'success' : 'info' });
  });
  $('#invite-close').addEventListener('click', () => {
    inviteDismissed = true;
    $('#invite-card').hidden = true;
    $('#btn-mic').focus();
  });
  $('#btn-enable-audio').addEventListener('click', () => {
    $('#btn-enable-audio').hidden = true;
    for (const audio of document.querySelectorAll('#audio-sink audio')) audio.play().catch(() => {});
  });
  document.addEventListener('keydown', (event) => {
    if (document.body.dataset.state !== 'joined') return;
    if (event.key === 'Escape' && document.body.classList.contains('panel-open')) {
      togglePanel($('#chat-panel').hidden ? 'people' : 'chat');
      return;
    }
    const mod = (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey;
    const key = event.key.toLowerCase();
    if (mod && key === 'd') {
      event.preventDefault();
      controls.toggleMic();
    } else if (mod && key === 'e') {
      event.preventDefault();
      controls.toggleCamera();
    }
  });
  window.addEventListener('pagehide', () => {
    if (session && !session.ended && session.sig && !session.sig.closed) session.sig.send('leave');
  });
}

function main() {
  fillIcons();
  grid = new Grid($('#grid'));
  chat = new Chat({
    list: $('#chat-messages'),
    input: $('#chat-input'),
    send: $('#chat-send'),
    badge: $('#chat-badge'),
    onSend: (text) => !!session && session.sendChat(text),
  });
  controls = new Controls({ media, grid, session: () => session });
  bindControls();

  window.conclave = {
    get participantId() {
      return session && !session.ended ? session.participantId : null;
    },
    get state() {
      return document.body.dataset.state;
    },
    participants() {
      return everyone().map(({ id, name, media: m }) => ({ id, name, media: m }));
    },
    stats() {
      return session ? session.stats() : Promise.resolve({ video: [], audio: [], publish: {} });
    },
  };

  if (!meetingIdPattern.test(meetingId)) {
    showError('invalid');
    return;
  }

  const name = (params.get('name') || '').trim();
  const prejoin = new Prejoin(media, {
    name,
    mic: params.get('mic') !== '0',
    camera: params.get('camera') !== '0',
    shareURL,
    onJoin: (choice) => join(choice.name),
  });
  controls.render();
  setState('prejoin');
  prejoin.start();
  if (params.get('autojoin') === '1' && name) prejoin.join();
  else $('#prejoin-name').focus();
}

main();
