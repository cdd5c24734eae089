// The invitation text (landing page): title, time, link and privacy link; never a password.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { invitationText } from '../static/js/invitation.js';

test('invitation holds what the host typed, the link and the privacy link', () => {
  const text = invitationText({ title: ' Class 7b ', time: 'Mon 10:00', link: 'https://m.example/m/abc#k=key', privacy: 'https://m.example/privacy', withPassword: true });
  const lines = text.split('\n');
  assert.equal(lines[0], 'Class 7b');
  assert.ok(lines.includes('When: Mon 10:00'));
  assert.ok(lines.includes('https://m.example/m/abc#k=key'));
  assert.ok(lines.includes('Privacy notice: https://m.example/privacy'));
  assert.match(text, /password; you will get it separately/);
});

test('without title, time, privacy link or password', () => {
  const text = invitationText({ link: 'https://m.example/m/abc' });
  assert.equal(text, 'You are invited to a video meeting\n\nJoin in your browser (no account or app needed):\nhttps://m.example/m/abc');
});
