// window.conclave: the meeting page's state for the Go browser tests (a test hook of
// meeting.js's list: stable; change it only together with those tests). It reads the
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
