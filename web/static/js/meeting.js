/*
 * Conclave meeting page: the glue between the screens and the modules —
 * prejoin.js (pre-join screen, password), lobby.js (waiting screen), session.js
 * (one knock and stay: signaling.js, publisher.js, subscriber.js, speaker.js),
 * controls.js (mic, camera, screen), grid.js (tiles), chat.js, people.js, and for
 * moderators waiting.js (waiting room), moderator.js (participant actions),
 * settings.js (meeting settings) and confirm.js; rules.js (what settings and a
 * moderator's commands mean for everyone) and status.js (end screens). Media senders and receivers are
 * created only in publisher.js and subscriber.js; E2EE attaches in e2ee-hooks.js. What
 * the address carries is read in meeting-link.js; window.conclave is page-hooks.js's, and
 * so is the list of this page's TEST HOOKS (its header), which the Go browser tests use.
 * Parts of this page, each given what it needs by main(): meeting-panels.js (the side
 * panels), meeting-roster.js (who is shown, the invite card), meeting-bindings.js (the
 * meeting screen's buttons and keys), meeting-session-ui.js (what the page does when its
 * Session says something), meeting-failed.js (a knock or session that failed),
 * meeting-end.js (what stops with the stay, the Leave button), meeting-drops.js (a drop:
 * resuming, knocking again) and meeting-start.js (the page's first steps).
 *
 * Nothing is persisted in the browser beyond storage.js (no cookies), and nothing a
 * participant says or is called is written to the console, nor any key. The meeting
 * password and the meeting's E2EE secret live in this page's memory only; the moderator
 * secret and the resumption secret also in this tab's storage (reconnect.js), with whether
 * the own microphone and camera are on (a reload brings them back as they were) and the own
 * name; the browser writes that storage to disk and gives it back to a reopened tab, so
 * Leave forgets all of it (reconnect.js left), and a page that was not reloaded forgets it
 * as it starts (meeting-link.js readMeetingLink). Reconnecting: see the test hooks in reconnect.js.
 */

import { $, toast, announce, focusLost } from './dom.js';
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
import { e2eeAPI, prewarmMediaWorker, discardWarmWorker } from './e2ee-hooks.js';
import { E2EEStatus } from './e2ee-ui.js';
import { RosterWarning } from './e2ee-roster-ui.js';
import { SelfLinkWarning } from './e2ee-self-link.js';
import { MeetingCrypto } from './e2ee/session-keys.js';
import { ModControls } from './modctl.js';
import { setupDevices } from './devices.js';
import { onLanguageChange, t } from './i18n.js';
import { bindBlurToggles } from './blur-ui.js';
import { startRunningTime } from './meeting-timer.js';
import { readMeetingLink, keepModeratorSecret } from './meeting-link.js';
import { installPageHooks } from './page-hooks.js';
import { SpeakingIndicators } from './speaking-ui.js';
import { PanelCover } from './panel-cover.js';
import { PresenceToasts } from './presence-toasts.js';
import { HeldRoster } from './held-roster.js';
import { followTopbarHeight, banner } from './topbar.js';
import { meetingPanels } from './meeting-panels.js';
import { meetingRoster } from './meeting-roster.js';
import { bindControls } from './meeting-bindings.js';
import { sessionUI } from './meeting-session-ui.js';
import { meetingEnd } from './meeting-end.js';
import { startPage } from './meeting-start.js';
import { meetingDrops } from './meeting-drops.js';

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
let end; // meeting-end.js: stopped, the Leave button

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
function join(name, { again = false, note = '', resume = null, openTimeoutMs = undefined, reknock: quiet = false } = {}) {
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
    setState('lobby');
    lobbyScreen.enter({ name, note });
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
    openTimeoutMs,
    // A resume continues this stay: who left it before the drop stays gone, a tampering
    // warning stays, and so do the knockers seen with a wrong link, for whom each knock
    // nonce was shown and the identities members had before their resumes.
    ...(resume && session ? session.carriedOver() : {}),
    replaceKnock,
    presence,
    ui: sessionUI({
      reconnect, held, applyRole, roster, onJoined, onLobby, lobbyScreen, showError, setState, prejoin, reknock,
      showLeft, stopped: end.stopped, forgetModeratorSecret, join, banner, rules, settingsPanel, renderLock,
      waitingRoom, modctl, speaking, currentName: () => lastName, currentPassword: () => password,
    }),
  });
  controls.render();
  session.start();
}

function onLobby({ moderatorPresent, knockSecret = '', continued = false }) {
  if (knockSecret) lastKnockSecret = knockSecret;
  if (document.body.dataset.state !== 'lobby') {
    prejoin.stop();
    setState('lobby'); // shown first: a hidden heading cannot take the focus
    lobbyScreen.enter({ name: lastName, moderatorPresent });
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
  // A resume continues the same stay (unless reloaded).
  if (!resumed || !timer) timer = startRunningTime($('#meeting-timer'), timer);
  controls.render();
  // The screen share kept across the drop goes out again, if it may (controls.js).
  if (resumed) controls.resumeScreen();
  if (!resumed) announce(t(wasWaiting ? 'meeting.joined-after-wait' : 'meeting.joined'));
  // The join button or the waiting screen had the focus, gone with its screen: the
  // meeting's main region takes it (named, so a screen reader says where the person is),
  // not a control, whose space bar would no longer be push-to-talk (push-to-talk.js).
  if (!resumed && focusLost()) $('#grid').focus();
  // Seen, not said, after the announcement above ("You were let in. You joined the
  // meeting"), and the toast in its live region said "You were let in" a second time.
  if (wasWaiting) toast(t('meeting.let-in'), { kind: 'success', said: resumed });
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

function showError(kind) {
  reknock.stop();
  // The E2EE worker loaded as a spare (e2ee-hooks.js) is kept for the way back a screen
  // offers: Rejoin takes it, where a worker of its own, after a connection that died
  // without a close, could wait for its modules until it failed closed. A screen with no
  // way back (ended, removed, denied …) ends it, as Leave does: it ran on in the page
  // for as long as the page stayed open. (A reconnect that gives up to the pre-join
  // screen keeps it for the join from there.)
  if (!offersRejoin(kind)) discardWarmWorker();
  end.stopped();
  lastError = showErrorScreen(kind);
  setState('error');
  $('#status-title').focus();
}

function showLeft() {
  reconnect.left(); // nothing of the meeting in the tab's storage, the moderator secret included
  reknock.stop();
  discardWarmWorker(); // the spare kept for a resume (e2ee-hooks.js)
  const fromLobby = document.body.dataset.state === 'lobby';
  lastError = null;
  end.stopped();
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
  const had = document.activeElement;
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
  // The role gone with the focus on one of its controls (#btn-settings, or its panel
  // closed back to it): the main region takes the focus, not the top of the page.
  const now = document.activeElement;
  if (!mod && had?.closest?.('#meeting') && (!now || now === document.body || !now.getClientRects().length)) $('#grid').focus();
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
    leave: () => end.leave(),
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
    // Deny all's: said once, when the server has done it (modctl.js, Confirmations).
    moderate: (type, payload, said) => modctl.moderate(type, payload, said),
    settings: () => live()?.settings ?? null,
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
  ({ reconnect, reknock } = meetingDrops({
    join, currentName: () => lastName, currentSession: () => session, stopped: () => end.stopped(), media, controls,
    lobbyScreen, startPrejoin: () => prejoin.start(), showError, setState,
  }));
  held = new HeldRoster({ grid, media, speaking });
  roster = meetingRoster({
    live, isModerator, held, grid, modctl, e2eeStatus, rosterWarning, selfLinkWarning,
  });
  panels = meetingPanels({
    grid, chat, panelCover, waitingRoom, settingsPanel, devices, isModerator,
    currentSession: () => session, renderPeopleList: roster.renderPeopleList,
  });
  bindControls({
    controls, togglePanel: panels.togglePanel, openPanelName: panels.openName, leave: () => end.leave(), rejoin, reconnect,
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

  end = meetingEnd({
    held, roster, presence, media, rules, panels, waitingRoom, e2eeStatus, selfLinkWarning, banner,
    lobbyScreen, prejoin, reconnect, showLeft, currentTimer: () => timer, currentSession: () => session,
  });

  await startPage({
    meetingId, secretInvalid, meetingSecret, api, params, media, controls, reconnect, prejoin, showError, setState,
  });
}

main();