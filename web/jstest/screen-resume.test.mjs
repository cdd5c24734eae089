// A screen share survives a dropped connection (reconnect.js, session.js, controls.js):
// the capture goes on while the page resumes, and the resumed session sends it again on
// its new publish connection, without the browser's picker. Until then every blip (a
// teacher presenting over shaky Wi-Fi) ended the share, and it had to be picked again.
// The capture still stops whenever the resume does not come back (Leave, a refused or
// given-up resume, the meeting ended or the person removed while away); a share the
// browser ended meanwhile ("Stop sharing") is not sent again, nor one the welcome's role
// and settings no longer allow (the person is told why).
//
// The page's glue (meeting.js: join, onJoined, the Reconnect; meeting-failed.js:
// onFailed) is played here by `page` with the same calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown, dropSocket, dropAndResume } from './media-standins.mjs';
import { FakeClock, eventually } from './harness.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Controls } = await import('../static/js/controls.js');
const { Reconnect } = await import('../static/js/reconnect.js');
const { t: tr } = await import('../static/js/i18n.js');

window.fetch = async () => ({ ok: true, status: 200 }); // the reachability probe: the server is up

// What the page shows in toasts and says in its live region.
const shown = captureShown();

const SECRET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const welcome = (extra = {}) => ({ participantId: 'p-ann', e2ee: false, participants: [], role: 'presenter', resumeSecret: SECRET, ...extra });

/** page is meeting.js's glue around one person's sessions, the Reconnect and the controls. */
function page(t) {
  const media = new LocalMedia();
  const p = { media, session: null, sessions: [], gaveUp: null };
  p.controls = new Controls({ media, grid: gridStandIn(), session: () => p.session });
  p.reconnect = new Reconnect({
    attempt: (resume) => p.open(resume),
    clock: new FakeClock(), // its backoff: dropAndResume moves it on (media-standins.mjs)
    giveUp: (kind) => { p.gaveUp = kind; },
    release: () => media.stopScreen(),
  });
  p.open = (resume = null) => {
    const session = new Session({
      meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, resume,
      ui: uiStandIn({
        resumable: (id, secret) => p.reconnect.remember(id, secret),
        dropped: () => p.reconnect.dropped(),
        failed: (kind) => { p.reconnect.failed(kind); },
        joined: () => {
          const resumed = p.reconnect.active;
          p.reconnect.joined();
          if (resumed) p.controls.resumeScreen();
        },
        mediaCommand: (command) => { if (command === 'stop_screen') p.controls.forceScreenOff(); },
      }),
    });
    p.session = session;
    p.sessions.push(session);
    session.start();
    return session;
  };
  t.after(() => {
    p.reconnect._stop();
    p.reconnect.forget();
    for (const s of p.sessions) s.end();
    media.stopAll();
  });
  return p;
}

/** sharing: joined as a presenter, sharing the screen. */
async function sharing(t) {
  const p = page(t);
  await p.media.acquire({ mic: true, camera: true });
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome());
  await eventually(() => p.session.publisher, 'the publisher');
  await p.controls.toggleScreen();
  const track = p.media.screenTrack;
  assert.ok(track && track.readyState === 'live', 'the screen share started');
  assert.equal(p.session.publisher.transceivers.screen.sender.track, track, 'the screen is not sent');
  return { p, track };
}

/** drop: the link drops; the capture must go on while the page resumes. */
async function drop(p, track) {
  await dropAndResume(p, (before) => {
    assert.equal(before.ended, true);
    assert.equal(track.readyState, 'live', 'the drop stopped the screen capture');
    assert.equal(p.media.screenTrack, track, 'the drop forgot the screen share');
  });
}

const screenOffers = () => sent.filter((m) => m.type === 'publish_offer' && m.payload.tracks.some((x) => x.source === 'screen'));

test('a screen share goes on across a drop and is sent again on the resumed session, no new pick', async (t) => {
  const { p, track } = await sharing(t);
  const first = p.session.publisher;
  let picks = 0;
  const pick = navigator.mediaDevices.getDisplayMedia;
  navigator.mediaDevices.getDisplayMedia = (...a) => { picks++; return pick(...a); };
  t.after(() => { navigator.mediaDevices.getDisplayMedia = pick; });
  await drop(p, track);
  serverSays('welcome', welcome({ resumed: true }));
  await eventually(() => p.session.publisher && p.session.publisher !== first
    && p.session.publisher.transceivers.screen && p.session.publisher.transceivers.screen.sender.track === track,
  'the kept screen sent on the new publish connection', 5000);
  await eventually(() => screenOffers().length > 0, 'a publish offer with the screen');
  await eventually(() => sent.some((m) => m.type === 'media_state' && m.payload.screen === true), 'the others told of the share');
  assert.equal(picks, 0, 'the browser picker was asked again');
  assert.equal(track.readyState, 'live');
  assert.equal(p.media.screenOn, true);
  assert.equal(first.pc.closed, true, 'the old publish connection is still open');
});

test('an attempt that drops before its welcome keeps the share for the next one', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  await drop(p, track); // the attempt's connection drops before its welcome
  serverSays('welcome', welcome({ resumed: true }));
  await eventually(() => p.session.publisher && p.session.publisher.transceivers.screen
    && p.session.publisher.transceivers.screen.sender.track === track, 'the kept screen sent', 5000);
});

test('a share the browser ended meanwhile ("Stop sharing") is not sent again', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  track.readyState = 'ended'; // the browser's own "Stop sharing" under the overlay
  track.dispatchEvent(new Event('ended'));
  serverSays('welcome', welcome({ resumed: true }));
  await eventually(() => p.session.publisher, 'the publisher');
  await p.controls.ops.screen;
  await p.session.publisher.negotiate();
  assert.equal(p.media.screenTrack, null);
  assert.equal(p.session.publisher.transceivers.screen, undefined, 'an ended share was sent again');
  assert.equal(screenOffers().length, 0);
  assert.ok(!sent.some((m) => m.type === 'media_state' && m.payload.screen === true));
});

test('a share the welcome no longer allows stops, and the person is told why', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  shown.length = 0;
  // Made a participant while away, in a meeting where only presenters may share.
  serverSays('welcome', welcome({ resumed: true, role: 'participant', settings: { screenShare: false } }));
  await eventually(() => track.readyState === 'ended', 'the capture stopped');
  await p.controls.ops.screen;
  assert.equal(p.media.screenTrack, null);
  assert.ok(shown.includes(tr('controls.screen.ended-not-allowed')), `not told why: ${JSON.stringify(shown)}`);
  if (p.session.publisher) await p.session.publisher.negotiate();
  assert.equal(screenOffers().length, 0, 'a share not allowed was offered');
  assert.ok(!sent.some((m) => m.type === 'media_state' && m.payload.screen === true));
});

test('allowed by the settings, a participant\'s share comes back too', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  serverSays('welcome', welcome({ resumed: true, role: 'participant', settings: { screenShare: true } }));
  await eventually(() => p.session.publisher && p.session.publisher.transceivers.screen
    && p.session.publisher.transceivers.screen.sender.track === track, 'the kept screen sent', 5000);
});

test('a moderator\'s stop sent while away wins over the share coming back', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  serverSays('welcome', welcome({ resumed: true }));
  serverSays('media_command', { command: 'stop_screen', by: 'p-mod' });
  await eventually(() => track.readyState === 'ended', 'the capture stopped');
  await p.controls.ops.screen;
  assert.ok(!sent.some((m) => m.type === 'media_state' && m.payload.screen === true), 'the share was said to be on again');
});

test('Leave between two attempts stops the kept share', async (t) => {
  const { p, track } = await sharing(t);
  dropSocket();
  assert.equal(track.readyState, 'live', 'the drop stopped the screen capture');
  p.reconnect.left(); // meeting-end.js leave: no session to say goodbye on (showLeft)
  assert.equal(track.readyState, 'ended', 'the capture runs on after Leave');
  assert.equal(p.media.screenTrack, null);
});

test('Leave during an attempt stops the kept share', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  p.reconnect.left(); // meeting-end.js leave, then the attempt's goodbye
  await p.session.leave();
  assert.equal(track.readyState, 'ended', 'the capture runs on after Leave');
});

test('a refused resume stops the kept share; one that is retried keeps it', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  await drop(p, track); // the attempt failed (no welcome): retried, the share kept
  const resume = sent.find((m) => m.type === 'resume');
  serverSays('error', { code: 'resume_failed' }, resume.id);
  dropSocket(4401);
  assert.equal(p.gaveUp, 'resume_failed');
  assert.equal(track.readyState, 'ended', 'the capture runs on after the resume was refused');
  assert.equal(p.media.screenTrack, null);
});

test('the meeting ended while away: the kept share stops', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  serverSays('bye', { reason: 'ended' });
  dropSocket(4409);
  assert.equal(p.reconnect.active, false);
  assert.equal(track.readyState, 'ended', 'the capture runs on after the meeting ended');
});

test('the meeting ending after a resume stops the share', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  serverSays('welcome', welcome({ resumed: true }));
  await eventually(() => p.session.publisher && p.session.publisher.transceivers.screen
    && p.session.publisher.transceivers.screen.sender.track === track, 'the kept screen sent', 5000);
  serverSays('bye', { reason: 'ended' });
  dropSocket(4409);
  assert.equal(track.readyState, 'ended', 'the capture runs on after the meeting ended');
});

test('a media_state sent at the resumed welcome does not say sharing before the share is sent', async (t) => {
  const { p, track } = await sharing(t);
  await drop(p, track);
  // The microphone changed while away: the welcome tells the others at once (session-join.js).
  p.media.setMicMuted(!p.media.micMuted);
  serverSays('welcome', welcome({ resumed: true, role: 'participant', settings: { screenShare: false } }));
  const states = sent.filter((m) => m.type === 'media_state');
  assert.ok(states.length > 0, 'the changed microphone was not told');
  // Not allowed any more: a `screen: true` here is refused by the server, and rules.js
  // takes that refusal for a moderator's mute of the microphone.
  assert.ok(states.every((m) => m.payload.screen === false), `said sharing before sending: ${JSON.stringify(states)}`);
  await eventually(() => track.readyState === 'ended', 'the capture stopped');
  await p.controls.ops.screen;
  assert.ok(!sent.some((m) => m.type === 'media_state' && m.payload.screen === true));
});

test('a share whose sending fails after a media_state said sharing is said to be off', async (t) => {
  // Any media_state while the share's offer is under way (the microphone toggled, a
  // resumed welcome) says sharing: the track is on the publisher's sender. When the
  // offer then fails, the capture stops, and the others must be told: they showed the
  // person as sharing a screen nobody received.
  const p = page(t);
  await p.media.acquire({ mic: true, camera: true });
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome());
  await eventually(() => p.session.publisher, 'the publisher');
  const pc = p.session.publisher.pc;
  let fail;
  const held = new Promise((resolve, reject) => { fail = reject; });
  pc.setRemoteDescription = () => held; // the share's answer: held, then refused
  sent.length = 0;
  const started = p.controls.toggleScreen();
  await eventually(() => sent.some((m) => m.type === 'publish_offer'), 'the share\'s offer');
  p.session.sendMediaState(); // e.g. the microphone toggled meanwhile
  assert.ok(sent.some((m) => m.type === 'media_state' && m.payload.screen === true), 'the test\'s media_state did not say sharing');
  fail(new Error('answer refused'));
  await started;
  await p.controls.ops.screen;
  assert.equal(p.media.screenTrack, null, 'the capture goes on after the failure');
  const last = sent.filter((m) => m.type === 'media_state').at(-1);
  assert.equal(last.payload.screen, false, `the others were last told: ${JSON.stringify(last.payload)}`);
});
