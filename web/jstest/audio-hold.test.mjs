// The page's AudioContext (web/static/js/speaker.js) runs only while a level meter or
// a sound holds it: once the pre-join meter is gone and no meter follows (the server
// tells who speaks), it is suspended, not left rendering silence all meeting long.
import { test } from 'node:test';
import assert from 'node:assert/strict';

// A context whose resume and suspend take effect later, in the order they were called,
// as a browser's do (the state changes once the audio thread has started or stopped).
const made = [];
class FakeContext {
  constructor() {
    this.state = 'suspended';
    this.resumes = 0;
    this.suspends = 0;
    made.push(this);
  }
  resume() { this.resumes++; return Promise.resolve().then(() => { this.state = 'running'; }); }
  suspend() { this.suspends++; return Promise.resolve().then(() => { this.state = 'suspended'; }); }
  createMediaStreamSource() { return { connect() {}, disconnect() {} }; }
  createAnalyser() { return { fftSize: 0, getFloatTimeDomainData() {} }; }
}
const listeners = {};
globalThis.window = { AudioContext: FakeContext };
globalThis.document = { addEventListener(type, fn) { listeners[type] = fn; } };
globalThis.MediaStream = class { constructor(tracks) { this.tracks = tracks; } };

const { LevelMeter, holdAudio, releaseAudio } = await import('../static/js/speaker.js');

const settled = () => new Promise((resolve) => { setTimeout(resolve, 0); });

test('the context runs while held and is suspended when the last hold goes', async () => {
  const prejoin = new LevelMeter({ kind: 'audio' });
  assert.equal(made.length, 1, 'one context for the page');
  const ctx = made[0];
  await settled();
  assert.equal(ctx.state, 'running');
  const other = new LevelMeter({ kind: 'audio' });
  prejoin.close();
  await settled();
  assert.equal(ctx.state, 'running', 'suspended while a meter still held it');
  other.close();
  await settled();
  assert.equal(ctx.state, 'suspended', 'still running with nothing holding it');
  const suspends = ctx.suspends;
  other.close(); // twice: counts once
  assert.equal(ctx.suspends, suspends);

  // A gesture does not wake what nobody holds.
  listeners.pointerdown();
  await settled();
  assert.equal(ctx.state, 'suspended');

  // A test sound (devices.js) holds it again for its length.
  assert.equal(holdAudio(), ctx);
  await settled();
  assert.equal(ctx.state, 'running');
  const meter = new LevelMeter({ kind: 'audio' });
  releaseAudio(); // the tone is over; the meter still holds it
  await settled();
  assert.equal(ctx.state, 'running');
  meter.close();
  await settled();
  assert.equal(ctx.state, 'suspended');
  releaseAudio(); // an extra release changes nothing
  await settled();
  assert.equal(ctx.state, 'suspended');
  assert.equal(made.length, 1);
});

test('a meter closed and another made at once leave the context running', async () => {
  const ctx = made[0];
  let meter = new LevelMeter({ kind: 'audio' });
  await settled();
  assert.equal(ctx.state, 'running');
  // A new microphone: the old meter goes and the new one comes before either takes effect.
  meter.close();
  meter = new LevelMeter({ kind: 'audio' });
  await settled();
  assert.equal(ctx.state, 'running', 'suspended under a meter that holds it');
  meter.close();
  await settled();
  assert.equal(ctx.state, 'suspended');
});

test('a meter without a track holds nothing', async () => {
  const ctx = made[0];
  const before = ctx.resumes;
  const meter = new LevelMeter(null);
  assert.equal(meter.level(), 0);
  meter.close();
  await settled();
  assert.equal(ctx.resumes, before);
  assert.equal(ctx.state, 'suspended');
});
