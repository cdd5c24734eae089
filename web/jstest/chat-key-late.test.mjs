// A chat text read while its key is still on its way to the reader, on a machine slow
// enough that handling a key message takes a while: the reading waits for the key
// (chat-keys.js, CHAT_WAIT_MS) and opens the text once it comes. The waiting runs on a
// fake clock (readChat, harness.mjs), which must move only while nothing is in flight:
// a clock moved on while the key is still being handled gives up on the text at
// CHAT_WAIT_MS of fake time that is a few milliseconds of the machine's, and a verdict
// that depends on the machine's speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ROTATE_DELAY_MS } from '../static/js/e2ee/rotations.js';
import { hex } from '../static/js/e2ee/seen-keys.js';
import { FakeClock, dayRoom, readChat } from './harness.mjs';

test('a chat text whose key is still on its way opens once the key comes, however slow the machine', async () => {
  const clock = new FakeClock();
  const { relay, 'p-a': a, 'p-b': b } = await dayRoom(clock, ['p-a', 'p-b', 'p-c']);
  try {
    relay.delay = 50; // a loaded machine: a key message is handled 50 ms after it is sent
    relay.leave('p-c'); // a rotates: its next key goes to b
    clock.advance(0); // a's flush: the rotation's key envelope is sent
    await a.keys.queue;
    clock.advance(ROTATE_DELAY_MS); // a sends under the rotated key
    const text = await a.keys.encryptChat('c has gone');
    const got = b.media.received.get('p-a');
    assert.notEqual(hex(got.at(-1).raw), hex(a.media.own.raw), 'b has a\'s rotated key already: nothing waits');
    assert.equal(await readChat(relay, b, 'p-a', text), 'c has gone', 'a text read while its key was on its way');
  } finally {
    relay.close();
  }
});
