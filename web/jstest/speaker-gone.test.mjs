// A speaker chosen in the devices panel (devices.js, setSinkId) that goes away in the
// meeting (a headset unplugged, a Bluetooth link dropped): the sound goes to the default
// output, #device-speaker shows it, and the person is told once. The page kept the gone
// id: the picker showed "System default" while every voice stayed set to the gone
// device, and each voice that joined later was set to it again, which fails
// (NotFoundError), with "The sound could not be switched to that speaker" every time.
// Firefox lists an output only once the person picked it in its own dialog
// (selectAudioOutput): one it never listed is not taken for gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, MiniElement } from './mini-dom.mjs';
import { eventually } from './harness.mjs';

const doc = installMiniDOM();

// The outputs the browser lists now; setSinkId to any other id fails, as a browser's
// does, unless the browser lets the page use an output it does not list (unlisted).
let outputs = [];
const unlisted = new Set();
const present = (id) => id === '' || unlisted.has(id) || outputs.some((d) => d.deviceId === id);
globalThis.HTMLMediaElement = class { setSinkId() {} };
class Audio extends MiniElement {
  constructor() { super('audio', doc); this.sinkId = ''; }
  async setSinkId(id) {
    if (!present(id)) throw Object.assign(new Error('no such output'), { name: 'NotFoundError' });
    this.sinkId = id;
  }
}
// A <select>: its value is the chosen option's, or the first one's.
class Select extends MiniElement {
  constructor() { super('select', doc); this.chosen = null; }
  get value() {
    const values = this.children.map((o) => o.getAttribute('value'));
    return values.includes(this.chosen) ? this.chosen : (values[0] ?? '');
  }
  set value(v) { this.chosen = String(v); }
}
const devicechange = [];
navigator.mediaDevices = {
  ondevicechange: null,
  enumerateDevices: async () => outputs.map((d) => ({ kind: 'audiooutput', ...d })),
  addEventListener: (type, fn) => { if (type === 'devicechange') devicechange.push(fn); },
};
const changed = () => { for (const fn of devicechange) fn(); };
let addedVoice = () => {};
globalThis.MutationObserver = class { constructor(fn) { addedVoice = fn; } observe() {} disconnect() {} };

const add = (node, id) => { if (id) node.setAttribute('id', id); doc.body.append(node); return node; };
const make = (tag, id) => add(doc.createElement(tag), id);
for (const id of ['device-camera', 'device-mic']) add(new Select(), id);
const speakerSelect = add(new Select(), 'device-speaker');
for (const id of ['device-speaker-field', 'layout-hide-self', 'btn-shortcuts', 'device-test-sound']) make('div', id);
add(new Audio(), 'device-test-audio');
const sink = make('div', 'audio-sink');
const toasts = make('div', 'toasts');
toasts.querySelectorAll = () => []; // the stack of toasts is never too long here
const shown = () => toasts.children.map((c) => c.textContent);

const { DevicePanel, sinkSupported } = await import('../static/js/devices.js');
const { t } = await import('../static/js/i18n.js');

function panel() {
  return new DevicePanel({
    media: { cameraDeviceId: '', micDeviceId: '' }, controls: {}, layout: {}, session: () => null, openShortcuts() {},
  });
}
const voices = () => [...sink.querySelectorAll('audio'), doc.getElementById('device-test-audio')];

test('a chosen speaker unplugged: the default output, shown, said once', async () => {
  assert.equal(sinkSupported, true);
  outputs = [{ deviceId: 'default', label: 'Default' }, { deviceId: 'spk-1', label: 'Speakers' }, { deviceId: 'hs-1', label: 'Headset' }];
  const p = panel();
  sink.append(new Audio()); // Ann's voice
  await p.fill();
  speakerSelect.value = 'hs-1'; // the person picks the headset
  await p.setSpeaker(speakerSelect.value);
  assert.ok(voices().every((a) => a.sinkId === 'hs-1'));

  outputs = outputs.filter((d) => d.deviceId !== 'hs-1'); // unplugged
  changed();
  await eventually(() => voices().every((a) => a.sinkId === ''), 'the voices on the default output');
  assert.equal(p.sinkId, '');
  assert.equal(speakerSelect.value, 'default', 'the picker does not show the default output');
  assert.deepEqual(shown(), [t('devices.speakerGone')]);

  // Bea joins: her voice plays on the default output, without a word.
  sink.append(new Audio());
  addedVoice();
  await eventually(() => voices().every((a) => a.sinkId === ''), 'the new voice on the default output');
  changed(); // something else plugged in or out: nothing more to say
  await p.fill(); // after the change's own
  assert.deepEqual(shown(), [t('devices.speakerGone')], 'said again');

  // Plugged in again and picked: the headset again.
  outputs.push({ deviceId: 'hs-1', label: 'Headset' });
  changed();
  await p.fill();
  speakerSelect.value = 'hs-1';
  await p.setSpeaker('hs-1');
  assert.ok(voices().every((a) => a.sinkId === 'hs-1'));
  sink.replaceChildren();
  toasts.replaceChildren();
  await p.setSpeaker('');
});

test('a speaker chosen in the browser\'s own dialog and never listed (Firefox) is kept', async () => {
  outputs = []; // a browser that lists no output (Firefox before one is picked in its dialog)
  navigator.mediaDevices.selectAudioOutput = async () => {
    unlisted.add('bt-1');
    return { deviceId: 'bt-1' };
  };
  const p = panel();
  sink.append(new Audio());
  await p.fill();
  await p.setSpeaker('conclave-ask-browser');
  assert.equal(p.sinkId, 'bt-1');
  assert.ok(voices().every((a) => a.sinkId === 'bt-1'));
  changed(); // another device plugged in: the list still has no outputs
  await p.fill(); // after the change's own
  assert.equal(p.sinkId, 'bt-1', 'a speaker never listed was taken for gone');
  assert.ok(voices().every((a) => a.sinkId === 'bt-1'));
  assert.deepEqual(shown(), []);
  delete navigator.mediaDevices.selectAudioOutput;
});
