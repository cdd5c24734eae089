/*
 * The meeting page's (meeting.js's) test hooks, and window.conclave.
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
 *   window.conclave  the page's state, roster, stats and encryption: see below
 */

// window.conclave: the meeting page's state for the Go browser tests (a test hook of
// the list above: stable; change it only together with those tests). It reads the
// page's live session and writes nothing.
//
// .participantId   own participant id (null before welcome)
// .role            own role: participant | presenter | moderator (null before welcome)
// .participants()  [{id, name, role, media: {mic, camera, screen}}], self first: the
//                  live session's roster as the server last told it, so empty while the
//                  page reconnects (see participants() below)
// .settings()      the meeting's settings {lobby, locked, screenShare, unmute, chat,
//                  passwordRequired} (null before welcome)
// .waiting()       [{participantId, name, since, link}] — the waiting room (moderators
//                  only); link: 'verified' | 'wrong' | 'checking' | null (knock proof)
// .stats()         async → {
//                    video:   [{participantId, source, framesDecoded, width, height, packetsReceived}]
//                             every remote video track
//                    audio:   [{participantId, source, packetsReceived, totalSamplesReceived,
//                               concealedSamples, totalAudioEnergy}]
//                    publish: {microphone: packetsSent, camera: packetsSent, screen?: packetsSent}
//                    publishLayers: {camera: {q|h|f: {packetsSent, width, active}}} the own
//                             simulcast layers as sent (an `encodings` message pauses some)
//                    view:    [{participantId, source, width, height}] the remote tiles this
//                             page reports as shown (`view`, view-tracker.js)
//                  }
// .state           same as document.body.dataset.state
// .e2ee            {
//                    enabled       bool: the meeting is end-to-end encrypted (before
//                                  `welcome`: the link carries a key)
//                    api           "legacy" (Chromium createEncodedStreams) | "script"
//                                  (RTCRtpScriptTransform) | null (not encrypting)
//                    safetyCode()  "ten words …" of the verified roster ("" if none)
//                    verified()    [participantId] whose identity verified (self excluded)
//                    unverified()  [participantId] with a wrong or missing identity
//                    keyIndex()    the own media key index frames are sent under (-1: none)
//                    stats()       {encrypted, decrypted, decryptFailed} frame counts
//                  }

/**
 * installPageHooks sets window.conclave. live() is the session while it lasts (null
 * after it ended), session() the last one (also after it ended), everyone() the roster
 * self first; linkHasKey says the page's link carries a meeting key (what `e2ee.enabled`
 * says before the welcome).
 */
export function installPageHooks({ live, session, everyone, linkHasKey }) {
  const e2eeInfo = () => {
    const s = live();
    return s ? s.e2eeInfo() : null;
  };
  const e2eeHooks = {
    get enabled() {
      const i = e2eeInfo();
      return i ? i.enabled : linkHasKey;
    },
    get api() {
      const i = e2eeInfo();
      return i ? i.api : null;
    },
    safetyCode: () => (e2eeInfo() || { safetyCode: '' }).safetyCode,
    verified: () => (e2eeInfo() || { verified: [] }).verified.slice(),
    unverified: () => (e2eeInfo() || { unverified: [] }).unverified.slice(),
    keyIndex: () => (e2eeInfo() || { keyIndex: -1 }).keyIndex,
    stats: () => ({ ...(e2eeInfo() || { stats: { encrypted: 0, decrypted: 0, decryptFailed: 0 } }).stats }),
  };

  window.conclave = {
    get participantId() {
      const s = live();
      return s && s.joined ? s.participantId : null;
    },
    get role() {
      const s = live();
      return s && s.joined ? s.role : null;
    },
    get state() {
      return document.body.dataset.state;
    },
    // The joined session's roster only, never the one held from before a drop that the
    // page shows while it reconnects (held-roster.js): the browser tests read this as
    // what the server has told the page (who is in, their media, their names; e.g.
    // internal/e2e reconnect_test.go reloadAndCheck and micShows), and with the held
    // roster a wait for someone, or for their media, on a page that is reconnecting
    // would be over on what it saw before the drop, before the resume's welcome came,
    // or whether it came at all.
    participants() {
      return everyone().map(({ id, name, role, media: m }) => ({ id, name, role, media: m }));
    },
    settings() {
      const s = live();
      return s && s.joined ? { ...s.settings } : null;
    },
    waiting() {
      const s = live();
      return s && s.isModerator && s.waiting ? s.waiting.map((w) => ({ ...w })) : [];
    },
    stats() {
      const s = session();
      return s ? s.stats() : Promise.resolve({ video: [], audio: [], publish: {} });
    },
    /** debug: where the live session stands (failure reports of the browser tests). */
    debug() {
      const s = session();
      return s ? s.debug() : null;
    },
    e2ee: e2eeHooks,
  };
}
