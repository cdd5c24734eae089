// A moderator turns the camera off while the person's camera is opening (a permission
// prompt, a slow device, blur starting): the camera stays off, the moderator's stop
// holds (the camera cannot be turned on again against the settings), and the
// microphone, which nobody muted, stays on. A refused media_state is the camera's stop
// only if it turned the camera on: later, one that turned the microphone on is the
// microphone's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, gum, releaseGum } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Controls } = await import('../static/js/controls.js');
const { MeetingRules } = await import('../static/js/rules.js');

test("mute_camera during a camera start: the stop holds, the microphone stays on", async (t) => {
  const media = new LocalMedia();
  await media.acquire({ mic: true, camera: false }); // talking, camera off
  let session = null;
  let controls = null;
  const rules = new MeetingRules({ media, controls: () => controls, chat: noop, session: () => session, settingsPanel: noop, roleApplied() {} });
  controls = new Controls({ media, grid: gridStandIn(), session: () => session,
    canUnmute: () => rules.canUnmute(), unmuted: () => rules.unmuted(),
    canCameraOn: () => rules.canCameraOn(), cameraBack: () => rules.cameraBack() });
  session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop,
    ui: uiStandIn({ mediaCommand: (c, by, all) => rules.mediaCommand(c, all), refused: (code, type) => rules.refused(code, type) }) });
  t.after(() => { gum.hold = false; releaseGum(); session.end(); media.stopAll(); });
  session.start();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  // Participants may not lift a moderator's stop themselves.
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, role: 'participant', participants: [],
    settings: { lobby: true, locked: false, screenShare: false, unmute: false, chat: true } });
  await eventually(() => session.publisher, 'the publisher');

  gum.hold = true;
  const turningOn = controls.toggleCamera(); // the camera is opening
  await tick(5);
  serverSays('media_command', { command: 'mute_camera', by: 'p-mod', all: true });
  releaseGum();
  gum.hold = false;
  await turningOn;
  await controls.ops.camera;
  await tick(5);
  assert.equal(media.cameraOn, false, 'the camera is on');
  assert.ok(!sent.some((m) => m.type === 'media_state' && m.payload.camera === true), 'the camera was announced on');
  assert.equal(media.micMuted, false, 'the microphone, muted by nobody, is muted');
  assert.equal(rules.canUnmute(), true);
  assert.equal(rules.canCameraOn(), false, "the moderator's stop is forgotten");
  await controls.toggleCamera();
  assert.equal(media.cameraOn, false, 'the camera came back on against the settings');

  // Later the microphone goes off and on; a mute the server got first refuses the
  // state that turned it on: the microphone's refusal, though the camera stop holds.
  await controls.toggleMic();
  await controls.toggleMic();
  assert.equal(media.micOn, true);
  rules.refused('not_allowed', 'media_state');
  await controls.ops.mic;
  await tick(5);
  assert.equal(media.micOn, false, 'the microphone the server refused stays on');
  assert.equal(rules.canCameraOn(), false);
});
