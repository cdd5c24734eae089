/*
 * Conclave meeting page: the glue between the screens and the modules —
 * prejoin.js (pre-join screen, password), lobby.js (waiting screen), session.js
 * (one knock and stay: signaling.js, publisher.js, subscriber.js, speaker.js),
 * controls.js (mic, camera, screen), grid.js (tiles), chat.js, people.js, and for
 * moderators waiting.js (waiting room), moderator.js (participant actions),
 * settings.js (meeting settings) and confirm.js; rules.js (what settings and a
 * moderator's commands mean for everyone) and status.js (end screens). Media senders and receivers are
 * created only in publisher.js and subscriber.js; E2EE attaches in e2ee-hooks.js. What
 * the address carries is read in meeting-link.js; window.conclave is page-hooks.js's.
 * Parts of this page, each given what it needs by main(): meeting-panels.js (the side
 * panels), meeting-roster.js (who is shown, the invite card), meeting-bindings.js (the
 * meeting screen's buttons and keys) and meeting-failed.js (a knock or session that failed).
 *
 * TEST HOOKS — stable, used by the Go browser tests; change them only together
 * with those tests. They are the page's ordinary elements and state: nothing here
 * reads a test switch from the URL, and a name never travels in a URL (the browser
 * tests type it into #prejoin-name). Test-only code (frame hashes, raw key export)
 * lives outside this page, in web/testhooks/, served only by a server built for
 * tests (web.Options.TestHooks) and never imported by this page.
 *
 *   URL        /m/<id>?mic=0 / ?camera=0 starts the microphone / camera off. The query
 *              is removed from the address bar once read.
 *              /m/<id>#mod=<secret> joins as a moderator: the secret is kept in memory
 *              and for this tab only (storage.js, so a reload stays a moderator),
 *              sent as `moderatorSecret` in `join` and removed from the address bar;
 *              the invite links (#share-link, #invite-link, #btn-invite) never carry it.
 *              /m/<id>#k=<meeting secret> (moderators: #k=…&mod=…) carries the key of an
 *              end-to-end encrypted meeting (e2ee/FORMAT.md); it is kept in memory, never
 *              sent to the server, and stays in the address bar, which then holds
 *              exactly the invite link (meeting-link.js); the invite links carry it
 *              (#k=… only). Without it an encrypted meeting shows
 *              #meeting-error[data-code="link_incomplete"]; a `k` that does not decode to
 *              16+ bytes shows link_invalid; a browser that cannot encrypt, e2ee_unsupported.
 *   State      document.body.dataset.state: prejoin | joining | lobby | joined | left | error
 *              ("loading" until this script has run). "joining" keeps the pre-join
 *              screen up while the knock is on its way.
 *   Pre-join   #prejoin-name (input), #prejoin-mic and #prejoin-camera (toggle buttons,
 *              aria-pressed="true" = on), #prejoin-join (button), #prejoin-password
 *              (input, shown once the server asked for a password: the first knock
 *              goes without one), its message in #prejoin-password-error
 *   Lobby      #lobby-status: the waiting screen's text, data-moderator-present="true|false"
 *              (absent until the server's first `lobby`); #lobby-note (e.g. "A moderator
 *              moved you back to the waiting room."), #lobby-leave; #lobby-link
 *              (data-link="verified|wrong" once the moderators' lobby keys were checked;
 *              shown only for "wrong": "Your link is probably incomplete or damaged")
 *   Controls   #btn-mic, #btn-camera, #btn-screen (aria-pressed="true" = on / sharing;
 *              #btn-screen is disabled while the own role and the settings forbid a
 *              share), #btn-chat, #btn-leave; also #btn-people, #btn-rejoin
 *   Chat       #chat-input, #chat-send, #chat-messages; each message is an
 *              element .chat-message[data-from=<participant id>] with a .chat-text child;
 *              #chat-input is disabled (placeholder "Chat is turned off") while chat is off
 *   Tiles      .tile[data-participant-id][data-source="camera"|"screen"], each with
 *              its <video>; the own tiles have data-self="true" (others "false");
 *              data-video="on" when the tile shows video, otherwise the avatar;
 *              camera tiles show .role-badge[data-role] for presenters and moderators
 *   People     #people-list > .person[data-participant-id] with .role-badge[data-role]
 *   Devices    #btn-devices opens #devices-panel (device, speaker and view choices), "?"
 *              opens #shortcuts-dialog, Space held while muted talks (both off with
 *              #shortcuts-single): see devices.js, layout.js, shortcuts.js and
 *              push-to-talk.js for their hooks
 *   Panels     on a narrow screen an open side panel covers the meeting and the rest is
 *              inert (body[data-panel-cover="true"], panel-cover.js); Escape or its
 *              close button closes it and the focus goes back to what opened it
 *   Errors     #meeting-error holds the error text; its data-code is the reason:
 *              unknown_meeting, meeting_full, shutdown, replaced, disconnected, denied,
 *              locked, lobby_full, expired, removed, ended, wrong_moderator_secret, …
 *              (state "error"). Before the pre-join screen, GET /api/meetings/<id> is
 *              asked; a 404 shows unknown_meeting at once, without asking for a name
 *              or the camera. password_required, wrong_password and too_many_attempts
 *              also set #meeting-error's data-code and text, but the page goes back to
 *              state "prejoin" with #prejoin-password shown and the text in
 *              #prejoin-password-error.
 *   E2EE       #e2ee-status[data-state="on"|"off"|"error"] (top bar chip: "End-to-end
 *              encrypted" / "Not end-to-end encrypted"), #e2ee-panel (opens on click) with
 *              #safety-code (the ten words as textContent, always current); a participant
 *              whose identity did not verify has .e2ee-unverified[data-participant-id] on
 *              their camera tile and in #people-list. A tab that verified nobody while
 *              others are there shows #e2ee-self-wrong ("Your link is probably incomplete
 *              or damaged") and #e2ee-status[data-link="wrong"] (e2ee-self-link.js).
 *   Everyone   #unmute-prompt (a moderator asked to unmute) with #unmute-accept and
 *              #unmute-dismiss; refusals appear as .toast elements
 *   Hands etc. #btn-hand, #btn-reactions, #hands-list, #btn-mute-all, #knock-sound, …:
 *              see the headers of hands.js, reactions.js, moderator-all.js, knock-alert.js
 *   Moderators (only while the own role is moderator)
 *              #btn-waiting on the control bar, its count in #waiting-badge; it opens
 *              #waiting-panel: #waiting-list > .waiting-entry[data-participant-id], each
 *              with .btn-admit and .btn-deny, and #btn-admit-all; in an encrypted
 *              meeting data-link="verified|wrong|checking" and .waiting-link ("Link
 *              verified" / "Wrong link"; the admit button then says "Admit anyway"). A new knock also shows
 *              #knock-card (#knock-admit, #knock-view).
 *              Participant actions: open #btn-people, then click
 *              .participant-menu[data-participant-id="<id>"]; the menu that opens holds
 *              buttons [data-action="<action>"][data-participant-id="<id>"] (they exist
 *              only while that menu is open) with action ∈ mute_microphone, ask_unmute,
 *              mute_camera, stop_screen_share (disabled unless that person shares),
 *              make_presenter (disabled for moderators) / remove_presenter (role
 *              presenter), make_moderator / remove_moderator (by role), send_to_lobby,
 *              remove (asks first: click #confirm-ok). Each keeps its place.
 *              #btn-settings (top bar) opens #settings-panel: checkboxes #setting-lock,
 *              #setting-lobby, #setting-screenshare, #setting-unmute, #setting-chat (a
 *              change is sent at once; they always show the last `settings`),
 *              #setting-password + #setting-password-save, #setting-password-clear
 *              (asks first), #btn-end-meeting (asks first: #confirm-ok).
 *   window.conclave  the page's state, roster, stats and encryption: see page-hooks.js
 *
 * Nothing is persisted in the browser beyond storage.js (no cookies), and nothing a
 * participant says or is called is written to the console, nor any key. The meeting
 * password and the meeting's E2EE secret live in this page's memory only; the moderator
 * secret and the resumption secret also in this tab's storage (reconnect.js), with whether
 * the own microphone and camera are on (a reload brings them back as they were) and the own
 * name; the browser writes that storage to disk and gives it back to a reopened tab, so
 * Leave forgets all of it (reconnect.js left). Reconnecting: see the test hooks in reconnect.js.
 */

import { $, toast, announce, forgetAnnouncements, meetingIdPattern } from './dom.js';
import { fillIcons } from './icons.js';
import { LocalMedia } from './media.js';
import { Prejoin } from './prejoin.js';
import { LobbyScreen } from './lobby.js';
import { Grid } from './grid.js';
import { Chat } from './chat.js';
import { Session } from './session.js';
import { Controls } from './controls.js';
import { WaitingRoom } from './waiting.js';
import { SettingsPanel } from './settings.js';
import { MeetingRules } from './rules.js';
import { offersRejoin, clearErrorCode, showErrorScreen, showLeftScreen } from './status.js';
import { closeConfirm } from './confirm.js';
import { e2eeAPI, prewarmMediaWorker, discardWarmWorker } from './e2ee-hooks.js';
import { E2EEStatus } from './e2ee-ui.js';
import { RosterWarning } from './e2ee-roster-ui.js';
import { SelfLinkWarning } from './e2ee-self-link.js';
import { MeetingCrypto } from './e2ee/session-keys.js';
import { fillNoticeLine } from './notice.js';
import { ModControls } from './modctl.js';
import { setupDevices } from './devices.js';
import { onLanguageChange, setText, t } from './i18n.js';
import { bindBlurToggles } from './blur-ui.js';
import { Reconnect } from './reconnect.js';
import { Reknock } from './reknock.js';
import { readMeetingLink, meetingExists, keepModeratorSecret } from './meeting-link.js';
import { installPageHooks } from './page-hooks.js';
import { SpeakingIndicators } from './speaking-ui.js';
import { PanelCover } from './panel-cover.js';
import { PresenceToasts } from './presence-toasts.js';
import { HeldRoster } from './held-roster.js';
import { followTopbarHeight } from './topbar.js';
import { meetingPanels } from './meeting-panels.js';
import { meetingRoster } from './meeting-roster.js';
import { bindControls } from './meeting-bindings.js';
import { onFailed } from './meeting-failed.js';

const link = readMeetingLink();
const { params, meetingId, meetingSecret, secretInvalid, shareURL } = link;
let { moderatorSecret } = link; // forgotten when the server says it is wrong (rejoin)
const api = e2eeAPI();
// The meeting's identity and chat keys, derived once (a promise; null without a key).
const meetingCrypto = meetingSecret ? MeetingCrypto.fromSecret(meetingSecret) : null;
if (meetingCrypto) meetingCrypto.catch(() => {});
// The encryption worker loads while the person is on the pre-join screen.
if (meetingCrypto && api) prewarmMediaWorker();

const media = new LocalMedia();
// Joins and leaves, gathered across the page's sessions (a resume's with those before the drop).
const presence = new PresenceToasts();
let grid;
let chat;
let controls;
let prejoin;
let lobbyScreen;
let waitingRoom;
let settingsPanel;
let session = null; // the current Session (also after it ended, for rejoin)
let lastName = '';
let password = ''; // the meeting password, in memory only
let lastError = null;
let timer = 0;
let rules;
let e2eeStatus;
let rosterWarning;
let selfLinkWarning;
let modctl; // hands, reactions, everyone-at-once actions, knock alerts
let speaking; // who speaks, as the server says (speaking-ui.js)
let devices; // setupDevices: device panel, layout, shortcuts, push-to-talk
let reconnect; // reconnect.js: resuming after a drop or a reload
let reknock; // reknock.js: a waiting person's knock again after a drop
// The secret of this page's last knock (its lobby messages): a knock again presents it,
// so that the server puts the new knock in the old one's place if it still holds it
// (PROTOCOL.md, "Knocking again"): a path that died without a close left the old knock
// standing, and a moderator could let in a connection nobody was behind.
let lastKnockSecret = '';
let panelCover; // panel-cover.js: a panel that fills a narrow screen makes the rest inert
let held; // held-roster.js: the meeting as it was before a drop, shown while the page resumes
let roster; // meeting-roster.js: the people list, the count, the invite card
let panels; // meeting-panels.js: the side panels, one open at a time

function setState(state) {
  document.body.dataset.state = state;
}

function live() {
  return session && !session.ended ? session : null;
}

// ---------------------------------------------------------------- joining

/**
 * join knocks with a new session; again=true knocks from the waiting screen (sent back);
 * reknock=true knocks again after a drop, the waiting screen left as it is (reknock.js
 * said so once; each attempt again would take the focus and speak).
 */
function join(name, { again = false, note = '', resume = null, reknock: quiet = false } = {}) {
  lastName = name;
  lastError = null;
  const replaceKnock = quiet ? lastKnockSecret : '';
  if (!quiet) lastKnockSecret = ''; // a knock of its own: nothing to replace
  if (!resume) rules.reset();
  settingsPanel.forgetPending(); // a new password the old session sent is unanswered
  // Maybe a new meeting of the room: what the panel was based on does not compare.
  if (!resume) settingsPanel.newSession();
  if (resume) {
    setState('joined'); // the meeting screen stays, under "Reconnecting…"
  } else if (quiet) {
    setState('lobby');
  } else if (again) {
    prejoin.stop();
    lobbyScreen.show({ name, note });
    setState('lobby');
    enteredLobby(note);
  } else {
    prejoin.setJoining(true);
    setState('joining');
  }
  session = new Session({
    meetingId,
    name,
    password,
    moderatorSecret,
    media,
    grid,
    chat,
    e2ee: { crypto: meetingCrypto, api },
    resume,
    replaceKnock,
    presence,
    ui: {
      resumable: (id, secret) => reconnect.remember(id, secret),
      // Reconnecting: the meeting screen stays under the overlay, which stops the mouse
      // but not the keyboard; no session is joined, so no moderator control is offered
      // (applyRole) until the welcome of the resume. Who was there stays in view
      // meanwhile, marked as not current (held-roster.js).
      dropped: (people) => {
        const resuming = reconnect.dropped();
        if (resuming) {
          held.hold(people);
          applyRole();
        }
        return resuming;
      },
      mediaFailed: (s, how) => reconnect.mediaFailed(s, how),
      e2eeChanged: roster.renderE2EE,
      joined: onJoined,
      lobby: onLobby,
      lobbyLink: (verdict) => lobbyScreen.setLink(verdict),
      failed: (kind, info) => onFailed(kind, info, { reconnect, showError, setState, lobbyScreen, prejoin, password }),
      // A waiting person's link dropped: knock again (reknock.js) from the waiting screen.
      waitingDropped: (kind) => document.body.dataset.state === 'lobby' && reknock.dropped(kind),
      left: showLeft,
      sentToLobby: () => {
        stopped();
        // Sent back, the person waits to be let in again, as a participant: knocking
        // with the moderator link's secret skipped the waiting room, and a moderator
        // another moderator sent back was in the meeting again, a moderator, a second
        // later. The tab forgets the secret (the link itself still works).
        forgetModeratorSecret();
        join(lastName, { again: true, note: 'lobby.sent-back' });
      },
      banner,
      rosterChanged: roster.renderRoster,
      roleChanged: (old, now) => rules.roleChanged(old, now),
      settingsChanged: (old, now, ref, changed) => {
        rules.settingsChanged(old, now, changed, ref);
        settingsPanel.confirmed(ref);
        renderLock();
      },
      waitingChanged: (list) => waitingRoom.update(list),
      accessAttempts: (count) => settingsPanel.showAttempts(count),
      mediaCommand: (command, by, all) => rules.mediaCommand(command, all, by),
      attachSignaling: (sig) => {
        modctl.attach(sig);
        speaking.attach(sig);
      },
      refused: (code, type, ref) => rules.refused(code, type, ref),
    },
  });
  controls.render();
  session.start();
}

function onLobby({ moderatorPresent, knockSecret = '', continued = false }) {
  if (knockSecret) lastKnockSecret = knockSecret;
  if (document.body.dataset.state !== 'lobby') {
    prejoin.stop();
    lobbyScreen.show({ name: lastName });
    setState('lobby');
    enteredLobby();
  }
  if (reknock.knocked()) {
    // Knocked again after a drop: in the old knock's place when the server still held
    // it, else the moderators see a new request.
    const note = continued ? 'lobby.reknocked-kept' : 'lobby.reknocked';
    lobbyScreen.show({ name: lastName, note });
    announce(t(note));
  }
  clearErrorCode();
  lobbyScreen.setStatus(moderatorPresent);
  lobbyScreen.render();
}

/**
 * enteredLobby tells a screen reader where the person is now (note: the key of why, e.g.
 * sent back by a moderator) and puts the focus on the waiting screen's heading: the
 * button that had it went with the screen before.
 */
function enteredLobby(note = '') {
  announce(note ? `${t(note)} ${t('lobby.announce')}` : t('lobby.announce'));
  $('#lobby-title').focus();
}

/** focusLost: the focus is nowhere (the page) or on a screen that is not shown. */
function focusLost() {
  const active = document.activeElement;
  return !active || active === document.body || !!active.closest('.screen:not(#meeting)');
}

function onJoined() {
  const wasWaiting = document.body.dataset.state === 'lobby';
  lastKnockSecret = '';
  reknock.stop();
  const resumed = reconnect.active;
  held.replacedBy(session); // the roster of now, in place of the one from before the drop
  reconnect.joined();
  lastName = session.name;
  reconnect.rememberName(lastName);
  prejoin.stop();
  lobbyScreen.hide();
  clearErrorCode();
  setState('joined');
  chat.setEnabled(session.settings.chat);
  applyRole();
  settingsPanel.welcomed(session.settingsEpoch); // the same meeting as before, or another
  // Back from a drop: a password another moderator set or removed meanwhile is told.
  if (session.isModerator) settingsPanel.missed(session.passwordRevision, session.settings);
  settingsPanel.render(session.settings, session.settingsRevision);
  renderLock();
  banner(null);
  roster.renderE2EE();
  if (!resumed || !timer) startTimer(); // a resume continues the same stay (unless reloaded)
  controls.render();
  // The screen share kept across the drop goes out again, if it may (controls.js).
  if (resumed) controls.resumeScreen();
  if (!resumed) announce(t(wasWaiting ? 'meeting.joined-after-wait' : 'meeting.joined'));
  // The join button or the waiting screen had the focus, gone with its screen: the
  // meeting's main region takes it (named, so a screen reader says where the person is),
  // not a control, whose space bar would no longer be push-to-talk (push-to-talk.js).
  if (!resumed && focusLost()) $('#grid').focus();
  if (wasWaiting) toast(t('meeting.let-in'), { kind: 'success' });
}

async function rejoin() {
  const last = session;
  if (!last) return;
  if (lastError === 'wrong_moderator_secret') forgetModeratorSecret();
  keepModeratorSecret(moderatorSecret); // Leave forgot it in the tab's storage; '' forgets
  const button = $('#btn-rejoin');
  button.disabled = true;
  try {
    await media.acquire({ mic: last.wasMicOn !== false, camera: !!last.wasCameraOn });
  } finally {
    button.disabled = false;
  }
  prejoin.resume();
  join(last.name);
}

/** forgetModeratorSecret: this page joins as a participant from now on. */
function forgetModeratorSecret() {
  moderatorSecret = '';
  keepModeratorSecret(null);
  $('#prejoin-moderator').hidden = true;
}

// ---------------------------------------------------------------- end screens

function stopped() {
  clearInterval(timer);
  held.forget(); // a resume given up: nothing of the meeting stays in view
  roster.renderRoster();
  // News of the meeting waiting to be said (dom.js announce holds each text a moment)
  // is not said over the screen that follows (left, ended, the waiting room again).
  forgetAnnouncements();
  presence.end(); // nor shown: the toasts of who joined and left close (a resume keeps them)
  media.stopScreen(); // a share kept for a resume that did not come (Session.end keepScreen)
  $('#invite-card').hidden = true;
  rules.reset();
  closeConfirm();
  panels.openPanel(null);
  waitingRoom.setEnabled(false);
  e2eeStatus.render(null);
  selfLinkWarning.render(null);
  banner(null);
  $('#btn-enable-audio').hidden = true;
  $('#meeting-locked').hidden = true;
  lobbyScreen.hide();
  prejoin.stop();
}

function showError(kind) {
  reknock.stop();
  // The E2EE worker loaded as a spare (e2ee-hooks.js) is kept for the way back a screen
  // offers: Rejoin takes it, where a worker of its own, after a connection that died
  // without a close, could wait for its modules until it failed closed. A screen with no
  // way back (ended, removed, denied …) ends it, as Leave does: it ran on in the page
  // for as long as the page stayed open. (A reconnect that gives up to the pre-join
  // screen keeps it for the join from there.)
  if (!offersRejoin(kind)) discardWarmWorker();
  stopped();
  lastError = showErrorScreen(kind);
  setState('error');
  $('#status-title').focus();
}

/**
 * leave is the Leave button (meeting or waiting room). The tab's storage forgets the
 * meeting as it is pressed, not once the server has answered (up to 1.5 s): a tab
 * closed meanwhile would otherwise keep it, the moderator secret too (showLeft).
 */
function leave() {
  if (!session) return;
  reconnect.left(); // stops reconnecting too
  if (session.ended) { // between two attempts to reconnect or knock again: nothing to say goodbye on
    // The session that dropped kept the camera and microphone for the next attempt;
    // nothing comes after Leave (the "You left" screen had the camera's light on).
    media.stopAll();
    showLeft();
    return;
  }
  session.leave();
}

function showLeft() {
  reconnect.left(); // nothing of the meeting in the tab's storage, the moderator secret included
  reknock.stop();
  discardWarmWorker(); // the spare kept for a resume (e2ee-hooks.js)
  const fromLobby = document.body.dataset.state === 'lobby';
  lastError = null;
  stopped();
  showLeftScreen(fromLobby);
  setState('left');
  $('#status-title').focus();
}

// ---------------------------------------------------------------- roles, settings, commands

function isModerator() {
  const s = live();
  return !!s && s.isModerator;
}

function moderate(type, payload) {
  const s = live();
  return s ? s.moderate(type, payload) : null;
}

/**
 * applyRole shows or hides what only moderators have: at every welcome, a change of the
 * own role, and a drop (no session is joined while reconnecting, and none is a moderator's).
 */
function applyRole() {
  const s = live();
  const mod = isModerator();
  document.body.dataset.role = s && s.joined ? s.role : '';
  $('#btn-settings').hidden = !mod;
  const openPanelName = panels.openName();
  if (!mod && (openPanelName === 'waiting' || openPanelName === 'settings')) panels.openPanel(null);
  settingsPanel.setEnabled(mod);
  waitingRoom.follow(s); // with the session's waiting list once it has one
  roster.renderRoster();
  controls.render();
}

function renderLock() {
  const s = live();
  $('#meeting-locked').hidden = !(s && s.joined && s.settings.locked);
}

// ---------------------------------------------------------------- the roster window.conclave reports

/**
 * everyone is the live session's roster, for page-hooks.js: none while reconnecting, on
 * purpose (page-hooks.js participants() says why); the one shown is meeting-roster.js's.
 */
function everyone() {
  const s = live();
  return s ? s.everyone() : [];
}

// ---------------------------------------------------------------- banner, timer

/** banner shows the text of key (null hides it). */
function banner(key, kind = 'info') {
  const b = $('#banner');
  if (!key) {
    b.hidden = true;
    return;
  }
  setText(b, key);
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

async function main() {
  fillIcons();
  grid = new Grid($('#grid'));
  panelCover = new PanelCover();
  followTopbarHeight($('#meeting .topbar'));
  chat = new Chat({
    list: $('#chat-messages'),
    input: $('#chat-input'),
    send: $('#chat-send'),
    badge: $('#chat-badge'),
    button: $('#btn-chat'),
    onSend: (text) => !!session && session.sendChat(text),
  });
  lobbyScreen = new LobbyScreen(media, {
    leave,
    toggleMic: () => controls.toggleMic(),
    toggleCamera: () => controls.toggleCamera(),
  });
  controls = new Controls({
    media,
    grid,
    session: () => session,
    canUnmute: () => rules.canUnmute(),
    unmuted: () => rules.unmuted(),
    canCameraOn: () => rules.canCameraOn(),
    cameraBack: () => rules.cameraBack(),
    onRender: () => {
      lobbyScreen.render();
      if (live() && session.joined) reconnect.rememberMedia(media);
    },
    onChanged: () => reconnect.rememberMedia(media, { changed: true }),
  });
  waitingRoom = new WaitingRoom({
    admit: (id) => moderate('admit', { participantId: id }),
    deny: (id) => moderate('deny', { participantId: id }),
    admitAll: (ids) => moderate('admit_all', { participantIds: ids }),
    openPanel: () => panels.openPanel('waiting'),
    isPanelOpen: () => panels.openName() === 'waiting',
  });
  settingsPanel = new SettingsPanel({ send: moderate });
  rules = new MeetingRules({
    media,
    controls: () => controls,
    chat,
    session: () => session,
    settingsPanel,
    roleApplied: () => {
      applyRole();
      renderLock();
    },
  });
  e2eeStatus = new E2EEStatus();
  rosterWarning = new RosterWarning();
  selfLinkWarning = new SelfLinkWarning();
  modctl = new ModControls({
    session: () => live(), openPanel: (which) => panels.openPanel(which), isPanelOpen: (name) => panels.openName() === name,
  });
  speaking = new SpeakingIndicators({ session: () => session, grid }); // from the welcome on, before joined
  devices = setupDevices({
    media, grid, controls, session: () => session, canUnmute: () => rules.canUnmute(), unmuted: () => rules.unmuted(),
  });
  reconnect = new Reconnect({
    attempt: (resume) => join(lastName || reconnect.storedName(), { resume }),
    giveUp: () => {
      // The grace period is over (or the server stayed away): knock again from here.
      stopped();
      if ((session && session.name) || lastName) {
        media.stopAll();
        showError('disconnected');
      } else {
        setState('prejoin'); // after a reload the name is not known: ask for it
        prejoin.start();
      }
    },
    // A screen share kept across the drop, when no resume brings it back (or at Leave).
    release: () => {
      if (!media.screenTrack) return;
      media.stopScreen();
      controls.render();
    },
  });
  held = new HeldRoster({ grid, media, speaking });
  roster = meetingRoster({
    live, isModerator, held, grid, modctl, e2eeStatus, rosterWarning, selfLinkWarning,
  });
  panels = meetingPanels({
    grid, chat, panelCover, waitingRoom, settingsPanel, devices, isModerator,
    currentSession: () => session, renderPeopleList: roster.renderPeopleList,
  });
  reknock = new Reknock({
    knock: () => join(lastName, { reknock: true }),
    showing: (on) => {
      if (on) {
        document.body.dataset.reknocking = 'true';
        lobbyScreen.show({ name: lastName, note: 'lobby.reknocking' });
        announce(t('lobby.reknocking'));
      } else {
        delete document.body.dataset.reknocking;
      }
    },
    // The server stayed away for the whole time: "Disconnected", with Rejoin.
    giveUp: () => {
      media.stopAll();
      showError('disconnected');
    },
  });
  bindControls({
    controls, togglePanel: panels.togglePanel, openPanelName: panels.openName, leave, rejoin, reconnect,
    currentSession: () => session,
  });
  roster.bindInvite(shareURL);
  // Built texts (menus, the people list) are drawn again in the language switched to;
  // the tiles follow a switch by themselves (grid.js).
  onLanguageChange(() => {
    presence.languageChanged(); // the toasts of who joined and left
    roster.renderRoster();
  });

  installPageHooks({ live, session: () => session, everyone, linkHasKey: !!meetingSecret });

  prejoin = new Prejoin(media, {
    mic: params.get('mic') !== '0',
    camera: params.get('camera') !== '0',
    shareURL,
    moderator: !!moderatorSecret,
    onJoin: (choice) => {
      password = choice.password || password;
      join(choice.name);
    },
  });

  bindBlurToggles({ prejoin, controls });

  if (!meetingIdPattern.test(meetingId)) {
    showError('invalid');
    return;
  }
  // Fail closed before anyone knocks: a damaged key, or a browser that cannot encrypt
  // (a link with a key is for an end-to-end encrypted meeting).
  if (secretInvalid) {
    showError('link_invalid');
    return;
  }
  if (meetingSecret && !api) {
    showError('e2ee_unsupported');
    return;
  }
  $('#prejoin-e2ee').hidden = !meetingSecret;
  fillNoticeLine($('#prejoin-notice'));
  fillNoticeLine($('#lobby-notice'));

  // Ask whether the meeting exists before asking for a name or the camera.
  const exists = await meetingExists(meetingId);
  if (exists === false) {
    showError('unknown_meeting');
    return;
  }
  controls.render();
  if (reconnect.stored()) {
    // A reload of an admitted participant: the same membership, no knock, and the
    // microphone and camera as they were before it (reconnect.js keeps that for the tab).
    const was = reconnect.storedMedia() || { mic: params.get('mic') !== '0', camera: params.get('camera') !== '0' };
    await media.acquire(was);
    controls.render();
    reconnect.start();
    return;
  }
  setState('prejoin');
  prejoin.start();
  $('#prejoin-name').focus();
}

main();
