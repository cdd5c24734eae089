// A name as a sentence shows it (clipped.js). The page lets a person type 64 characters,
// the server allows 400 (MaxNameChars): a toast or the knock card naming one became a
// column of text over the stage. The name is shown clipped, the sentence whole, and a
// screen reader reads the whole text (dom.js writeClipped).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, withoutIsolates } from './mini-dom.mjs';

const doc = installMiniDOM();
const { clipName, SHOWN_NAME_CHARS } = await import('../static/js/clipped.js');
const { Confirmations } = await import('../static/js/moderator.js');
const { sentence } = await import('../static/js/e2ee-names.js');
const { t, setLanguage } = await import('../static/js/i18n.js');

const points = (s) => Array.from(s).length;

test('a name is clipped to SHOWN_NAME_CHARS characters, "…" included, between graphemes', () => {
  const fits = 'M'.repeat(SHOWN_NAME_CHARS);
  assert.equal(clipName(fits), fits, 'a name that fits is shown as it is');
  assert.equal(clipName(''), '');
  const long = 'Maximilian Alexander von Hohenzollern-Sigmaringen';
  assert.equal(clipName(long), `${Array.from(long).slice(0, SHOWN_NAME_CHARS - 1).join('')}…`);
  assert.equal(clipName('Anna Maria ' + 'x'.repeat(40), 12), 'Anna Maria…', 'no space before "…"');
  // Counted in code points, as the server and the name field count them.
  const wide = '😀'.repeat(400);
  assert.equal(clipName(wide), `${'😀'.repeat(SHOWN_NAME_CHARS - 1)}…`);
  // An emoji of several code points, or a letter and its accent, is not cut in two.
  const family = '👩‍👩‍👧'; // 5 code points
  const clipped = clipName(`${'a'.repeat(SHOWN_NAME_CHARS - 3)}${family}${'b'.repeat(50)}`);
  assert.equal(clipped, `${'a'.repeat(SHOWN_NAME_CHARS - 3)}…`);
  assert.equal(clipName(`${'a'.repeat(SHOWN_NAME_CHARS - 2)}e\u0301${'b'.repeat(50)}`), `${'a'.repeat(SHOWN_NAME_CHARS - 2)}…`);
  // A letter carrying hundreds of combining marks is clipped too: it draws as high as they are.
  const tower = `Z${'\u0336\u0301'.repeat(200)}`;
  assert.equal(points(clipName(tower)), SHOWN_NAME_CHARS);
  for (const name of [long, wide, tower, 'x'.repeat(400)]) assert.ok(points(clipName(name)) <= SHOWN_NAME_CHARS, name);
});

test("a moderator's confirmation shows a long name clipped and reads it whole", (t0) => {
  t0.after(() => setLanguage('en'));
  const box = doc.createElement('div');
  box.setAttribute('id', 'toasts');
  const polite = doc.createElement('div');
  polite.setAttribute('id', 'toasts-polite');
  polite.setAttribute('aria-live', 'polite');
  box.append(polite);
  doc.body.replaceChildren(box);
  for (const lang of ['en', 'de']) {
    setLanguage(lang);
    const name = `Ann${'e'.repeat(396)}X`; // 400 characters, as the server allows
    const confirms = new Confirmations();
    confirms.expect(7, sentence('moderator.muted', { name, nameLabel: null }, t));
    confirms.done(7);
    const toast = polite.children.at(-1);
    assert.equal(toast.children.length, 2, `${lang}: a toast of ${toast.textContent.length} characters, the whole name shown`);
    const [shown, whole] = toast.children;
    assert.equal(shown.getAttribute('aria-hidden'), 'true');
    assert.equal(shown.textContent, t('moderator.muted', { name: clipName(name) }), 'seen: the name clipped');
    assert.ok(shown.textContent.length < 60, shown.textContent);
    assert.equal(whole.className, 'sr-only');
    assert.equal(whole.textContent, withoutIsolates(t('moderator.muted', { name })), 'read: the whole name, without the isolates (dom.js writeClipped)');
    // A short name: plain text, as before.
    confirms.expect(8, sentence('moderator.muted', { name: 'Ann', nameLabel: null }, t));
    confirms.done(8);
    const plain = polite.children.at(-1);
    assert.equal(plain.textContent, t('moderator.muted', { name: 'Ann' }));
    assert.ok(!plain.children.some((c) => c.getAttribute), 'a short name needs no second text');
  }
});
