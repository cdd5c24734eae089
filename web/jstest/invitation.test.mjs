// The invitation text (landing page): title, time, link and privacy link; never a password.
// Written in the page's language: the tests pass a translate function over a catalogue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { invitationText } from '../static/js/invitation.js';
import { translate } from '../static/js/i18n-core.js';

const load = (lang) => JSON.parse(readFileSync(new URL(`../static/i18n/${lang}.json`, import.meta.url), 'utf8'));
const en = load('en');
const de = load('de');
const tEn = (key, params) => translate(en, en, 'en', key, params);
const tDe = (key, params) => translate(de, en, 'de', key, params);

test('invitation holds what the host typed, the link and the privacy link', () => {
  const text = invitationText({ title: ' Class 7b ', time: 'Mon 10:00', link: 'https://m.example/m/abc#k=key', privacy: 'https://m.example/privacy', withPassword: true }, tEn);
  const lines = text.split('\n');
  assert.equal(lines[0], 'Class 7b');
  assert.ok(lines.includes('When: Mon 10:00'));
  assert.ok(lines.includes('https://m.example/m/abc#k=key'));
  assert.ok(lines.includes('Privacy notice: https://m.example/privacy'));
  assert.match(text, /password; you will get it separately/);
});

test('without title, time, privacy link or password', () => {
  const text = invitationText({ link: 'https://m.example/m/abc' }, tEn);
  assert.equal(text, 'You are invited to a video meeting\n\nJoin in your browser (no account or app needed):\nhttps://m.example/m/abc');
});

test('in German', () => {
  const text = invitationText({ time: 'Mo 10:00', link: 'https://m.example/m/abc', privacy: 'https://m.example/privacy', withPassword: true }, tDe);
  const lines = text.split('\n');
  assert.equal(lines[0], 'Sie sind zu einer Videokonferenz eingeladen');
  assert.ok(lines.includes('Wann: Mo 10:00'));
  assert.ok(lines.includes('https://m.example/m/abc'));
  assert.ok(lines.includes('Datenschutzhinweise: https://m.example/privacy'));
  assert.match(text, /Passwort/);
  assert.doesNotMatch(text, /\{/);
});
