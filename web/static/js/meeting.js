/*
 * Conclave meeting page: the glue between signaling, media and the UI.
 *
 * TEST HOOKS — stable, used by the Go browser tests; change them only together
 * with those tests.
 *
 *   URL        /m/<id>?name=X&autojoin=1  fills the name and joins without a click
 *              (camera and microphone on; add &mic=0 / &camera=0 to start them off).
 *              The query is removed from the address bar once read.
 *   State      document.body.dataset.state: prejoin | joining | joined | left | error
 *   Pre-join   #prejoin-name (input), #prejoin-mic and #prejoin-camera (toggle buttons,
 *              aria-pressed="true" = on), #prejoin-join (button)
 *   Controls   #btn-mic, #btn-camera, #btn-screen (aria-pressed="true" = on / sharing),
 *              #btn-chat, #btn-leave; also #btn-people, #btn-rejoin
 *   Chat       #chat-input, #chat-send, #chat-messages; each message is an
 *              element .chat-message[data-from=<participant id>] with a .chat-text child
 *   Tiles      .tile[data-participant-id][data-source="camera"|"screen"], each with
 *              its <video>; the own tiles have data-self="true" (others "false");
 *              data-video="on" when the tile shows video, otherwise the avatar
 *   Errors     #meeting-error holds the error text (state "error")
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
import { Signaling, ProtocolError, PROTOCOL_VERSION } from './signaling.js';
import { Publisher } from './publisher.js';
import { Subscriber } from './subscriber.js';
import { LocalMedia, describeMediaError } from './media.js';
import { Prejoin, toggleButton } from './prejoin.js';
import { Grid } from './grid.js';
import { Chat } from './chat.js';
import { SpeakerDetector } from './speaker.js';
import { renderPeople } from './people.js';

const params = new URLSearchParams(window.location.search);
const meetingId = window.location.pathname.replace(/^\/m\//, '').replace(/\/$/, '');
const shareURL = `${window.location.origin}/m/${meetingId}${window.location.hash}`;
if (window.location.search) {
  // Keep the display name out of the history and out of a copied address.
  window.history.replaceState(null, '', window.location.pathname + window.location.hash);
}

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
const CLOSE_CODES = { 4400: 'unsupported_version', 4403: 'meeting_full', 4404: 'unknown_meeting', 4429: 'too_many_errors' };

const media = new LocalMedia();
let grid;
let chat;
let prejoin;

// Per-session state; reset by teardown().
let session = null;

function newSession(name) {
  return {
    name,
    sig: null,
    participantId: null,
    participants: new Map(), // remote id -> {id, name, media}
    publisher: null,
    subscriber: null,
    speaker: null,
    audio: new Map(), // mid -> HTMLAudioElement
    chatIds: new Set(),
    leaving: false,
    bye: null,
    fatal: null,
    ended: false,
    startedAt: 0,
    timer: 0,
  };
}

function setState(state) {
  document.body.dataset.state = state;
}

// ---------------------------------------------------------------- joining

async function join(name) {
  const s = newSession(name);
  session = s;
  setState('joining');
  showBanner('Connecting…');
  grid.ensure({ participantId: 'self', source: 'camera', self: true, name }).setTrack(media.cameraTrack);
  renderSelf();

  const sig = new Signaling();
  s.sig = sig;
  sig.on('participant_joined', (p) => onParticipant(s, p.participant, true));
  sig.on('participant_updated', (p) => onParticipant(s, p.participant, false));
  sig.on('participant_left', (p) => onParticipantLeft(s, p.participantId));
  sig.on('subscribe_offer', (p) => subscriberFor(s).handleOffer(p));
  sig.on('chat', (p) => chat.add(p));
  sig.on('bye', (p) => { s.bye = p.reason || 'left'; });
  sig.on('error', (p, env) => onServerError(s, p, env));
  sig.onclose = (ev) => onSocketClosed(s, ev);

  try {
    await sig.connect();
  } catch {
    if (session === s) fail(s, 'unreachable');
    return;
  }
  let welcome;
  try {
    welcome = await sig.request('join', {
      version: PROTOCOL_VERSION,
      meetingId,
      name,
      media: { mic: media.micOn, camera: media.cameraOn, screen: false },
    });
  } catch (err) {
    if (session !== s || s.ended) return;
    fail(s, err instanceof ProtocolError && FATAL[err.code] ? err.code : 'disconnected');
    return;
  }
  if (session !== s || s.ended) return;

  s.participantId = welcome.participantId;
  if (welcome.limits && welcome.limits.maxChatChars) chat.setMaxChars(welcome.limits.maxChatChars);
  chat.selfId = s.participantId;
  // The self tile was made before the id was known.
  grid.remove('self', 'camera');
  grid.ensure({ participantId: s.participantId, source: 'camera', self: true, name }).setTrack(media.cameraTrack);
  for (const p of welcome.participants || []) onParticipant(s, p, false);

  s.speaker = new SpeakerDetector((id) => grid.setActiveSpeaker(id));
  if (media.micTrack) s.speaker.add('self', s.participantId, media.micTrack);

  setState('joined');
  hideBanner();
  startTimer(s);
  renderSelf();
  renderControls();
  announce('You joined the meeting');

  const iceServers = Array.isArray(welcome.iceServers) ? welcome.iceServers : [];
  s.iceServers = iceServers;
  s.publisher = new Publisher(sig, { iceServers, onConnectionState: (st) => onMediaState(s, st) });
  subscriberFor(s);
  try {
    await s.publisher.start({ mic: media.micTrack, camera: media.cameraTrack });
  } catch (err) {
    if (session === s && !s.ended) {
      console.warn('conclave: publishing failed', err && err.message);
      toast('Your camera and microphone could not be sent to the meeting.', { kind: 'error' });
    }
  }
}

function subscriberFor(s) {
  if (!s.subscriber) {
    s.subscriber = new Subscriber(s.sig, {
      iceServers: s.iceServers || [],
      onTrack: (info) => onRemoteTrack(s, info),
      onTrackEnded: (info) => onRemoteTrackEnded(s, info),
      onConnectionState: (st) => onMediaState(s, st),
      onError: (err) => console.warn('conclave: subscribe negotiation failed', err && err.message),
    });
  }
  return s.subscriber;
}

// ------------------------------------------------------------ participants

function onParticipant(s, p, isNew) {
  if (!p || !p.id || p.id === s.participantId) return;
  const known = s.participants.get(p.id);
  const entry = { id: p.id, name: p.name || (known && known.name) || '', media: { mic: false, camera: false, screen: false, ...(p.media || {}) } };
  s.participants.set(p.id, entry);
  grid.ensure({ participantId: p.id, source: 'camera', name: entry.name });
  grid.update(p.id, entry);
  if (isNew && !known) {
    toast(`${entry.name || 'Someone'} joined`);
  }
  renderPeopleCount();
}

function onParticipantLeft(s, id) {
  const p = s.participants.get(id);
  s.participants.delete(id);
  grid.removeParticipant(id);
  if (p) toast(`${p.name || 'Someone'} left`);
  renderPeopleCount();
}

function onRemoteTrack(s, info) {
  if (session !== s) return;
  const p = s.participants.get(info.participantId);
  const name = p ? p.name : '';
  if (info.kind === 'audio') {
    const audio = new Audio();
    audio.autoplay = true;
    audio.srcObject = new MediaStream([info.track]);
    $('#audio-sink').append(audio);
    s.audio.set(info.mid, audio);
    audio.play().catch(() => { $('#btn-enable-audio').hidden = false; });
    if (s.speaker) s.speaker.add(info.mid, info.participantId, info.track);
    return;
  }
  const tile = grid.ensure({ participantId: info.participantId, source: info.source === 'screen' ? 'screen' : 'camera', name });
  tile.setTrack(info.track);
  if (p) grid.update(info.participantId, p);
}

function onRemoteTrackEnded(s, info) {
  if (info.kind === 'audio') {
    const audio = s.audio.get(info.mid);
    if (audio) {
      audio.srcObject = null;
      audio.remove();
    }
    s.audio.delete(info.mid);
    if (s.speaker) s.speaker.remove(info.mid);
    return;
  }
  if (info.source === 'screen') {
    grid.remove(info.participantId, 'screen');
  } else {
    const tile = grid.get(info.participantId, 'camera');
    if (tile && tile.track === info.track) tile.setTrack(null);
  }
}

// ---------------------------------------------------------------- errors

function onServerError(s, p, env) {
  const code = p.code || 'internal';
  if (env && env.ref && s.chatIds.has(env.ref)) {
    chat.notice(code === 'invalid_field' ? 'Message not sent: it is too long or empty.' : 'Message not sent.');
    return;
  }
  if (FATAL[code]) {
    s.fatal = code;
    return; // the close that follows shows it
  }
  console.warn('conclave: server refused a message:', code);
}

function onSocketClosed(s, { code }) {
  if (session !== s || s.ended) return;
  if (s.leaving) return; // leave() finishes
  let kind;
  if (s.bye === 'left') kind = null;
  else if (s.bye === 'shutdown' || code === 1001) kind = 'shutdown';
  else if (s.bye === 'replaced') kind = 'replaced';
  else kind = s.fatal || CLOSE_CODES[code] || 'disconnected';
  if (kind) fail(s, kind);
  else finishLeft(s);
}

function onMediaState(s, state) {
  if (session !== s || s.ended || document.body.dataset.state !== 'joined') return;
  if (state === 'failed') showBanner('The media connection failed. Your network or firewall may be blocking it.', 'error');
  else if (state === 'disconnected') showBanner('The media connection was interrupted. Trying to recover…');
  else if (state === 'connected') hideBanner();
}

/** fail ends the session and shows an error screen. */
function fail(s, kind) {
  const [title, text, canRejoin] = FATAL[kind] || FATAL.disconnected;
  teardown(s);
  $('#status-title').textContent = title;
  $('#status-text').textContent = '';
  const box = $('#meeting-error');
  box.textContent = text;
  box.hidden = false;
  box.dataset.code = kind;
  $('#btn-rejoin').hidden = !canRejoin;
  $('#btn-rejoin').textContent = kind === 'disconnected' ? 'Rejoin' : 'Try again';
  setState('error');
  $('#status-title').focus();
}

// ------------------------------------------------------------ leaving

async function leave() {
  const s = session;
  if (!s || s.ended) return;
  s.leaving = true;
  if (s.sig && !s.sig.closed) {
    s.sig.send('leave');
    await new Promise((resolve) => {
      const t = setTimeout(resolve, 1500);
      const prev = s.sig.onclose;
      s.sig.onclose = (ev) => {
        clearTimeout(t);
        if (prev) prev(ev);
        resolve();
      };
    });
  }
  finishLeft(s);
}

function finishLeft(s) {
  teardown(s);
  $('#status-title').textContent = 'You left the meeting';
  $('#status-text').textContent = 'Nothing of this meeting is kept on this device.';
  $('#meeting-error').hidden = true;
  $('#meeting-error').textContent = '';
  $('#btn-rejoin').hidden = false;
  $('#btn-rejoin').textContent = 'Rejoin';
  setState('left');
  $('#status-title').focus();
}

/** teardown closes connections, stops all capture and forgets the session's data. */
function teardown(s) {
  if (s.ended) return;
  s.ended = true;
  clearInterval(s.timer);
  if (s.publisher) s.publisher.close();
  if (s.subscriber) s.subscriber.close();
  if (s.speaker) s.speaker.close();
  for (const audio of s.audio.values()) {
    audio.srcObject = null;
    audio.remove();
  }
  s.audio.clear();
  s.participants.clear();
  if (s.sig) {
    s.sig.onclose = null;
    s.sig.close();
  }
  s.wasMicOn = !!media.micTrack;
  s.wasCameraOn = media.cameraOn;
  media.stopAll();
  grid.clear();
  chat.clear();
  closePanels();
  hideBanner();
  $('#btn-enable-audio').hidden = true;
}

async function rejoin() {
  const last = session;
  if (!last) return;
  $('#btn-rejoin').disabled = true;
  try {
    await media.acquire({ mic: last.wasMicOn !== false, camera: !!last.wasCameraOn });
    media.setMicMuted(media.micMuted);
  } finally {
    $('#btn-rejoin').disabled = false;
  }
  join(last.name);
}

// ------------------------------------------------------------ controls

function sendMediaState() {
  const s = session;
  renderControls();
  renderSelf();
  if (!s || !s.sig || s.ended || !s.participantId) return;
  s.sig.send('media_state', { mic: media.micOn, camera: media.cameraOn, screen: media.screenOn });
}

let busy = false;
async function exclusive(fn) {
  if (busy) return;
  busy = true;
  try {
    await fn();
  } finally {
    busy = false;
    renderControls();
  }
}

function toggleMic() {
  return exclusive(async () => {
    const s = session;
    if (!media.micTrack) {
      try {
        const track = await media.startMic();
        media.setMicMuted(false);
        if (s && s.publisher) await s.publisher.replaceTrack('microphone', track);
        if (s && s.speaker) s.speaker.add('self', s.participantId, track);
      } catch (err) {
        toast(describeMediaError(err, 'microphone'), { kind: 'error' });
        return;
      }
    } else {
      media.setMicMuted(!media.micMuted);
    }
    announce(media.micOn ? 'Microphone on' : 'Microphone off');
    sendMediaState();
  });
}

function toggleCamera() {
  return exclusive(async () => {
    const s = session;
    if (media.cameraOn) {
      if (s && s.publisher) await s.publisher.replaceTrack('camera', null);
      media.stopCamera();
    } else {
      try {
        const track = await media.startCamera();
        if (s && s.publisher) await s.publisher.replaceTrack('camera', track);
      } catch (err) {
        toast(describeMediaError(err, 'camera'), { kind: 'error' });
        return;
      }
    }
    announce(media.cameraOn ? 'Camera on' : 'Camera off');
    sendMediaState();
  });
}

function toggleScreen() {
  return exclusive(() => (media.screenOn ? stopScreen() : startScreen()));
}

async function startScreen() {
  const s = session;
  let track;
  try {
    track = await media.startScreen();
  } catch (err) {
    if (err && err.name !== 'NotAllowedError' && err.name !== 'AbortError') {
      toast('Screen sharing could not be started.', { kind: 'error' });
    }
    return;
  }
  // The browser's own "Stop sharing" ends the track.
  track.addEventListener('ended', () => {
    if (media.screenTrack === track) exclusive(stopScreen);
  });
  grid.ensure({ participantId: s.participantId, source: 'screen', self: true, name: s.name }).setTrack(track);
  try {
    await s.publisher.startScreen(track);
  } catch (err) {
    console.warn('conclave: screen share negotiation failed', err && err.message);
    toast('Screen sharing could not be started.', { kind: 'error' });
    media.stopScreen();
    grid.remove(s.participantId, 'screen');
    return;
  }
  announce('You are sharing your screen');
  sendMediaState();
}

async function stopScreen() {
  const s = session;
  if (!media.screenTrack) return;
  media.stopScreen();
  if (s && s.participantId) grid.remove(s.participantId, 'screen');
  sendMediaState();
  if (s && s.publisher && !s.ended) {
    await s.publisher.stopScreen().catch((err) => console.warn('conclave: stopping screen share failed', err && err.message));
  }
  announce('Screen sharing stopped');
}

function renderControls() {
  toggleButton($('#btn-mic'), media.micOn, media.micOn ? 'mic' : 'mic-off', media.micOn ? 'Turn off microphone' : 'Turn on microphone');
  toggleButton($('#btn-camera'), media.cameraOn, media.cameraOn ? 'camera' : 'camera-off', media.cameraOn ? 'Turn off camera' : 'Turn on camera');
  const screen = $('#btn-screen');
  screen.setAttribute('aria-pressed', media.screenOn ? 'true' : 'false');
  screen.setAttribute('aria-label', media.screenOn ? 'Stop sharing your screen' : 'Share your screen');
  screen.title = screen.getAttribute('aria-label');
  screen.classList.toggle('active', media.screenOn);
  screen.hidden = !media.screenSupported;
  for (const id of ['#btn-mic', '#btn-camera', '#btn-screen']) $(id).disabled = busy;
}

function renderSelf() {
  const s = session;
  if (!s) return;
  const id = s.participantId || 'self';
  const tile = grid.get(id, 'camera');
  if (tile) tile.setTrack(media.cameraTrack);
  grid.update(id, { name: s.name, media: { mic: media.micOn, camera: media.cameraOn } });
  renderPeopleCount();
}

function everyone() {
  const s = session;
  if (!s) return [];
  const self = { id: s.participantId, name: s.name, media: { mic: media.micOn, camera: media.cameraOn, screen: media.screenOn }, self: true };
  return [self, ...Array.from(s.participants.values()).map((p) => ({ ...p, media: { ...p.media } }))];
}

function renderPeopleCount() {
  const people = everyone();
  const n = people.length || 1;
  $('#participant-count').textContent = String(n);
  $('#people-count').textContent = `(${n})`;
  $('#btn-people').setAttribute('aria-label', `Show participants (${n} in the meeting)`);
  if (!$('#people-panel').hidden) renderPeople($('#people-list'), people);
}

// ------------------------------------------------------------ panels

function openPanel(which) {
  const chatOpen = which === 'chat';
  const peopleOpen = which === 'people';
  $('#chat-panel').hidden = !chatOpen;
  $('#people-panel').hidden = !peopleOpen;
  $('#btn-chat').setAttribute('aria-pressed', String(chatOpen));
  $('#btn-chat').setAttribute('aria-label', chatOpen ? 'Close chat' : 'Open chat');
  $('#btn-chat').classList.toggle('active', chatOpen);
  $('#btn-people').setAttribute('aria-pressed', String(peopleOpen));
  document.body.classList.toggle('panel-open', chatOpen || peopleOpen);
  chat.setOpen(chatOpen);
  if (chatOpen) $('#chat-input').focus();
  if (peopleOpen) renderPeople($('#people-list'), everyone());
  grid.layout();
}

function closePanels() {
  openPanel(null);
}

function togglePanel(which) {
  const panel = which === 'chat' ? $('#chat-panel') : $('#people-panel');
  openPanel(panel.hidden ? which : null);
  if (panel.hidden) $(which === 'chat' ? '#btn-chat' : '#btn-people').focus();
}

// ------------------------------------------------------------ banner, timer

function showBanner(text, kind = 'info') {
  const b = $('#banner');
  b.textContent = text;
  b.dataset.kind = kind;
  b.hidden = false;
}

function hideBanner() {
  $('#banner').hidden = true;
}

function startTimer(s) {
  s.startedAt = Date.now();
  const tick = () => {
    const secs = Math.floor((Date.now() - s.startedAt) / 1000);
    const h = Math.floor(secs / 3600);
    const mm = String(Math.floor((secs % 3600) / 60)).padStart(2, '0');
    const ss = String(secs % 60).padStart(2, '0');
    $('#meeting-timer').textContent = h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  };
  tick();
  s.timer = setInterval(tick, 1000);
}

// ------------------------------------------------------------ start

function main() {
  fillIcons();
  grid = new Grid($('#grid'));
  chat = new Chat({
    list: $('#chat-messages'),
    input: $('#chat-input'),
    send: $('#chat-send'),
    badge: $('#chat-badge'),
    onSend: (text) => {
      const s = session;
      if (!s || !s.sig || s.sig.closed || !s.participantId) return false;
      s.chatIds.add(s.sig.send('chat', { text }));
      return true;
    },
  });

  $('#btn-mic').addEventListener('click', toggleMic);
  $('#btn-camera').addEventListener('click', toggleCamera);
  $('#btn-screen').addEventListener('click', toggleScreen);
  $('#btn-chat').addEventListener('click', () => togglePanel('chat'));
  $('#btn-people').addEventListener('click', () => togglePanel('people'));
  $('#chat-close').addEventListener('click', () => togglePanel('chat'));
  $('#people-close').addEventListener('click', () => togglePanel('people'));
  $('#btn-leave').addEventListener('click', leave);
  $('#btn-rejoin').addEventListener('click', rejoin);
  $('#btn-invite').addEventListener('click', async () => {
    const ok = await copyText(shareURL);
    toast(ok ? 'Meeting link copied' : shareURL, { kind: ok ? 'success' : 'info' });
  });
  $('#btn-enable-audio').addEventListener('click', () => {
    $('#btn-enable-audio').hidden = true;
    for (const audio of document.querySelectorAll('#audio-sink audio')) audio.play().catch(() => {});
  });
  document.addEventListener('keydown', (event) => {
    if (document.body.dataset.state !== 'joined') return;
    if (event.key === 'Escape' && document.body.classList.contains('panel-open')) {
      const which = $('#chat-panel').hidden ? 'people' : 'chat';
      togglePanel(which);
      return;
    }
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !event.altKey && (event.key === 'd' || event.key === 'D')) {
      event.preventDefault();
      toggleMic();
    } else if (mod && !event.altKey && (event.key === 'e' || event.key === 'E')) {
      event.preventDefault();
      toggleCamera();
    }
  });
  window.addEventListener('pagehide', () => {
    const s = session;
    if (s && s.sig && !s.ended && !s.sig.closed) s.sig.send('leave');
  });

  window.conclave = {
    get participantId() {
      return session ? session.participantId : null;
    },
    get state() {
      return document.body.dataset.state;
    },
    participants() {
      return everyone().map(({ id, name, media: m }) => ({ id, name, media: m }));
    },
    async stats() {
      const s = session;
      const out = { video: [], audio: [], publish: {} };
      if (!s || s.ended) return out;
      if (s.subscriber) Object.assign(out, await s.subscriber.stats());
      if (s.publisher) out.publish = await s.publisher.stats();
      return out;
    },
  };

  if (!meetingIdPattern.test(meetingId)) {
    session = newSession('');
    fail(session, 'invalid');
    return;
  }

  const name = (params.get('name') || '').trim();
  prejoin = new Prejoin(media, {
    name,
    mic: params.get('mic') !== '0',
    camera: params.get('camera') !== '0',
    shareURL,
    onJoin: (choice) => join(choice.name),
  });
  renderControls();
  setState('prejoin');
  prejoin.start();
  if (params.get('autojoin') === '1' && name) prejoin.join();
  else $('#prejoin-name').focus();
}

main();
