// The safety code (web/static/js/e2ee/safety-code.js) against the Go reference's
// vectors (e2ee/testdata/safetycode.json; regenerate with
// `go test ./e2ee -run TestSafetyCodeVectors -update`): D, the PBKDF2 bytes, the ten
// indexes and words, in any entry order; bad rosters are refused with the listed code;
// SafetyCodes shows only the newest roster's code and coalesces bursts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { decode } from '../static/js/e2ee/b64.js';
import {
  SAFETY_ITERATIONS, SAFETY_LABEL, SAFETY_WORDS, SafetyCodes, rosterDigest, safetyCode, safetyCodeBytes, safetyCodeWords,
} from '../static/js/e2ee/safety-code.js';
import { WORDS, codeWordIndices } from '../static/js/e2ee/words.js';

const v = JSON.parse(readFileSync(new URL('../../e2ee/testdata/safetycode.json', import.meta.url), 'utf8'));
const hex = (x) => Buffer.from(x).toString('hex');
const entriesOf = (es) => es.map((e) => ({ id: e.id, pub: decode(e.pub) }));

test('vector file matches the constants and covers 1, 2 and 5 entries', () => {
  assert.equal(v.label, SAFETY_LABEL);
  assert.equal(v.iterations, SAFETY_ITERATIONS);
  assert.equal(SAFETY_ITERATIONS, 131072);
  assert.deepEqual([...new Set(v.codes.map((c) => c.entries.length))].sort(), [1, 2, 5]);
  assert.ok(v.codes.some((c) => c.entries.some((e) => /[^\x00-\x7f]/.test(e.id))), 'a non-ASCII id');
  assert.ok(v.bad.length >= 5);
});

test('the word list is the Go list: 1024 words whose SHA-256 (joined by newlines) the vectors give', async () => {
  assert.equal(WORDS.length, 1024);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(WORDS.join('\n'))));
  assert.equal(Buffer.from(digest).toString('base64url'), v.wordListSha256);
});

test('every vector: D, PBKDF2 bytes, indexes and words, in any entry order', async () => {
  for (const c of v.codes) {
    const entries = entriesOf(c.entries);
    assert.equal(hex(await rosterDigest(entries)), hex(decode(c.digest)), `${c.name}: D`);
    const bytes = await safetyCodeBytes(entries);
    assert.equal(hex(bytes), hex(decode(c.code)), `${c.name}: C`);
    assert.deepEqual(codeWordIndices(bytes, SAFETY_WORDS), c.indices, `${c.name}: indexes`);
    assert.deepEqual(c.indices.map((i) => WORDS[i]), c.words, `${c.name}: words.js is the Go list`);
    assert.deepEqual(await safetyCodeWords([...entries].reverse()), c.words, `${c.name}: reversed`);
    assert.equal(await safetyCode(entries), c.words.join(' '));
  }
});

test('bad rosters are refused with the listed error code', async () => {
  for (const b of v.bad) {
    await assert.rejects(safetyCode(entriesOf(b.entries)), (err) => {
      assert.equal(err.name, 'E2EEError', `${b.name}: ${err}`);
      assert.equal(err.code, b.error, `${b.name}: ${err.message}`);
      return true;
    });
  }
  await assert.rejects(safetyCode([{ id: 'a', pub: 'not bytes' }]), (err) => err.code === 'bad-input');
  await assert.rejects(safetyCode(null), (err) => err.code === 'bad-input');
});

test('word indexes are read big-endian, 10 bits each', () => {
  const c = new Uint8Array(13);
  c[0] = 0xff;
  c[1] = 0xc0;
  c[12] = 0x1f; // the last bit of word 9 and the 4 unused bits
  assert.deepEqual(codeWordIndices(c, 10), [1023, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.throws(() => codeWordIndices(c.subarray(0, 12), 10), /13 bytes/);
});

test('SafetyCodes: a burst shows only the newest roster\'s code, once; a stale code is never current', async () => {
  const pub = (n) => new Uint8Array(32).fill(n);
  const rosters = [1, 2, 3, 4, 5].map((n) => [{ id: 'self', pub: pub(100) }, ...Array.from({ length: n }, (_, i) => ({ id: `p-${i}`, pub: pub(i) }))]);
  let changes = 0;
  const codes = new SafetyCodes(() => changes++);
  for (const r of rosters) codes.update(r);
  assert.equal(codes.current(rosters[4]), '', 'nothing before the first code is in');
  await codes.pending;
  const last = await safetyCode(rosters[4]);
  assert.equal(codes.code, last);
  assert.equal(changes, 1, 'the overtaken codes were never shown');
  assert.equal(codes.current([...rosters[4]].reverse()), last, 'any entry order');
  assert.equal(codes.current(rosters[3]), '', 'not the code of another roster');

  codes.update(rosters[4]); // the same roster again: nothing to do
  assert.equal(codes.busy, false);
  codes.update(rosters[0]);
  codes.update(rosters[4]); // back before the first finished
  assert.equal(codes.current(rosters[4]), last, 'still the code of this roster');
  await codes.pending;
  assert.equal(codes.code, last);
  assert.equal(changes, 1);
  codes.update(rosters[0]);
  assert.equal(codes.current(rosters[0]), '', 'a changed roster has no code until it is computed');
  await codes.pending;
  assert.equal(codes.current(rosters[0]), await safetyCode(rosters[0]));
  assert.equal(changes, 2);
});
