// The page's AudioContext (web/static/js/speaker.js) runs only while a level meter or
// a sound holds it: once the pre-join meter is gone and no meter follows (the server
// tells who speaks), it is suspended, not left rendering silence all meeting long.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const made = [];
class FakeContext {
  constructor() {
    this.state = 'running';
    this.resumes = 0;
    this.suspends = 0;
    made.push(this);
  }
  resume() { this.resumes++; this.state = 'running'; return Promise.resolve(); }
  suspend() { this.suspends++; this.state = 'suspended'; return Promise.resolve(); }
  createMediaStreamSource() { return { connect() {}, disconnect() {} }; }
  createAnalyser() { return { fftSize: 0, getFloatTimeDomainData() {} }; }
}
const listeners = {};
globalThis.window = { AudioContext: FakeContext };
globalThis.document = { addEventListener(type, fn) { listeners[type] = fn; } };
globalThis.MediaStream = class { constructor(tracks) { this.tracks = tracks; } };

const { LevelMeter, holdAudio, releaseAudio } = await import('../static/js/speaker.js');

test('the context runs while held and is suspended when the last hold goes', () => {
  const prejoin = new LevelMeter({ kind: 'audio' });
  assert.equal(made.length, 1, 'one context for the page');
  const ctx = made[0];
  assert.equal(ctx.state, 'running');
  const other = new LevelMeter({ kind: 'audio' });
  prejoin.close();
  assert.equal(ctx.state, 'running', 'suspended while a meter still held it');
  other.close();
  assert.equal(ctx.state, 'suspended', 'still running with nothing holding it');
  other.close(); // twice: counts once
  assert.equal(ctx.suspends, 1);

  // A gesture does not wake what nobody holds.
  listeners.pointerdown();
  assert.equal(ctx.state, 'suspended');

  // A test sound (devices.js) holds it again for its length.
  assert.equal(holdAudio(), ctx);
  assert.equal(ctx.state, 'running');
  const meter = new LevelMeter({ kind: 'audio' });
  releaseAudio(); // the tone is over; the meter still holds it
  assert.equal(ctx.state, 'running');
  meter.close();
  assert.equal(ctx.state, 'suspended');
  releaseAudio(); // an extra release changes nothing
  assert.equal(ctx.suspends, 2);
  assert.equal(made.length, 1);
});

test('a meter without a track holds nothing', () => {
  const ctx = made[0];
  const before = ctx.resumes;
  const meter = new LevelMeter(null);
  assert.equal(meter.level(), 0);
  meter.close();
  assert.equal(ctx.resumes, before);
  assert.equal(ctx.state, 'suspended');
});
