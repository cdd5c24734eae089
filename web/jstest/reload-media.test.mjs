// A camera turned off under the "Reconnecting…" overlay (the page stays in the meeting:
// its shortcuts and buttons work) stays off after a reload: the tab keeps the person's
// own change, also mid-reconnect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gridStandIn } from './media-standins.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Controls } = await import('../static/js/controls.js');
const { Reconnect } = await import('../static/js/reconnect.js');

test('the camera turned off during a reconnect stays off after a reload', async (t) => {
  const media = new LocalMedia();
  t.after(() => media.stopAll());
  await media.acquire({ mic: true, camera: true });
  const reconnect = new Reconnect({ attempt() {}, giveUp() {} });
  reconnect.remember('p-ann', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG');
  reconnect.rememberMedia(media);
  assert.deepEqual(reconnect.storedMedia(), { mic: true, camera: true });
  assert.equal(reconnect.dropped(), true); // the websocket drops; the page tries to resume
  t.after(() => reconnect._stop());
  const controls = new Controls({ media, grid: gridStandIn(), session: () => null, onChanged: () => reconnect.rememberMedia(media, { changed: true }) });
  await controls.toggleCamera(); // Ctrl+E under the overlay
  assert.equal(media.cameraOn, false);
  reconnect.pageHidden(); // the person reloads
  assert.deepEqual(reconnect.storedMedia(), { mic: true, camera: false }, 'a reload would turn the camera on again');
});
