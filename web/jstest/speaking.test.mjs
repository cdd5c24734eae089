// The `speaking` message as the page takes it (web/static/js/speaking.js): who speaks,
// the dominant speaker and the recent ones; a malformed message changes nothing, and
// only a change is reported, so the page redraws no more often than it must.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parseSpeaking, SpeakingState, MAX_IDS } from '../static/js/speaking.js';

test('a speaking message is read as sent, repeats dropped', () => {
  assert.deepEqual(parseSpeaking({ dominant: 'p-a', speaking: ['p-a', 'p-b', 'p-a'], recent: ['p-a'] }),
    { dominant: 'p-a', speaking: ['p-a', 'p-b'], recent: ['p-a'] });
  assert.deepEqual(parseSpeaking({ dominant: '', speaking: [], recent: [] }), { dominant: '', speaking: [], recent: [] });
  assert.deepEqual(parseSpeaking({}), { dominant: '', speaking: [], recent: [] });
});

test('malformed speaking messages are refused', () => {
  for (const bad of [null, 'x', 5, [], { speaking: 'p-a' }, { speaking: [5] }, { speaking: [''] },
    { recent: {} }, { dominant: 7 }, { speaking: new Array(MAX_IDS + 1).fill('p-a') }]) {
    assert.equal(parseSpeaking(bad), null, JSON.stringify(bad));
  }
});

test('the state follows the messages and reports changes only', () => {
  const s = new SpeakingState();
  assert.equal(s.heard, false);
  assert.equal(s.update({ dominant: '', speaking: [], recent: [] }), true, 'the first message counts');
  assert.equal(s.heard, true);
  assert.equal(s.update({ dominant: '', speaking: [], recent: [] }), false);
  assert.equal(s.update({ dominant: 'p-a', speaking: ['p-a'], recent: ['p-a'] }), true);
  assert.equal(s.isSpeaking('p-a'), true);
  assert.equal(s.isSpeaking('p-b'), false);
  assert.equal(s.update({ dominant: 'p-a', speaking: ['p-a', 'p-b'], recent: ['p-a'] }), true);
  assert.equal(s.isSpeaking('p-b'), true);
  assert.equal(s.update({ dominant: 'p-a', speaking: ['p-a', 'p-b'], recent: ['p-a'] }), false);
  assert.equal(s.update({ speaking: 'nonsense' }), false, 'a malformed message changes nothing');
  assert.equal(s.isSpeaking('p-b'), true);
  assert.equal(s.update({ dominant: 'p-b', speaking: ['p-b'], recent: ['p-b', 'p-a'] }), true);
  assert.equal(s.dominant, 'p-b');
  assert.deepEqual(s.recent, ['p-b', 'p-a']);
  assert.equal(s.isSpeaking('p-a'), false);
  s.forget('p-b');
  assert.equal(s.dominant, '');
  assert.equal(s.isSpeaking('p-b'), false);
  assert.deepEqual(s.recent, ['p-a']);
  s.reset();
  assert.equal(s.heard, false);
  assert.equal(s.isSpeaking('p-a'), false);
});
