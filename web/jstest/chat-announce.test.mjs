// Chat for screen-reader users (chat.js): the open panel's list is a live region, but a
// closed panel hides it, so a message from someone else that comes while the chat is
// closed is announced through the page's live region (#live) and the chat button's name
// counts the unread ones (the badge's number is inside a button named by aria-label, so
// no screen reader read it). Before, a blind participant heard nothing of the chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, withoutIsolates } from './mini-dom.mjs';
import { eventually } from './harness.mjs';

const doc = installMiniDOM();
const live = doc.createElement('div');
live.setAttribute('id', 'live');
doc.body.append(live);
const { Chat, ANNOUNCE_CHARS } = await import('../static/js/chat.js');
const i18n = await import('../static/js/i18n.js');
// The texts as heard: without the isolates a sentence puts around a name, which the
// announcer does not write into the region (i18n-core.js heardText).
const t = (key, params) => withoutIsolates(i18n.t(key, params));

const make = (tag) => { const n = doc.createElement(tag); doc.body.append(n); return n; };
const chat = new Chat({ list: make('ol'), input: make('textarea'), send: make('button'), badge: make('span'), button: make('button'), onSend: () => true });
chat.selfId = 'p-me';

test('a message while the chat is closed is announced and counted in the button\'s name', async () => {
  chat.setOpen(false);
  chat.add({ messageId: 'm1', from: 'p-ann', name: 'Ann', text: 'Slide 4, please' });
  await eventually(() => live.textContent !== '', 'the announcement');
  assert.equal(live.textContent, t('chat.announce', { name: 'Ann', text: 'Slide 4, please' }));
  assert.match(live.textContent, /Ann.*Slide 4, please/);
  assert.equal(chat.button.getAttribute('aria-label'), t('chat.unread', { count: 1 }));
  assert.notEqual(chat.button.getAttribute('aria-label'), t('chat.title'));

  // A message waiting for its sender's key is announced once its text is there.
  const pending = chat.add({ messageId: 'm2', from: 'p-bob', name: 'Bob', pending: true });
  assert.equal(chat.button.getAttribute('aria-label'), t('chat.unread', { count: 2 }));
  pending.fill('Agreed', 'Bob');
  await eventually(() => live.textContent === t('chat.announce', { name: 'Bob', text: 'Agreed' }), 'the announcement of the filled message');

  // The own message is not announced; opening the chat clears the count.
  live.textContent = 'before';
  chat.add({ messageId: 'm3', from: 'p-me', name: 'Mia', text: 'mine' });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(live.textContent, 'before');
  chat.setOpen(true);
  assert.equal(chat.button.getAttribute('aria-label'), t('chat.title'), 'the open chat\'s button is not named "Chat"');
  chat.setOpen(false);
  assert.equal(chat.button.getAttribute('aria-label'), t('chat.title'));
});

test('while the chat is open its own live region reads messages: no second announcement', async () => {
  chat.setOpen(true);
  live.textContent = 'before';
  chat.add({ messageId: 'm4', from: 'p-ann', name: 'Ann', text: 'hello' });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(live.textContent, 'before');
});

test('a waiting message completed after the chat was cleared (the session ended) is not announced', async () => {
  chat.setOpen(false);
  const pending = chat.add({ messageId: 'm5', from: 'p-bob', name: 'Bob', pending: true });
  // Leave: session.end() clears the chat, the keys close and wake the waiting text as
  // unreadable (session-roster.js fills a shown line also after the end).
  chat.clear();
  await new Promise((r) => setTimeout(r, 80));
  live.textContent = 'You left the meeting';
  pending.fill(t('e2ee.unreadable'));
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(live.textContent, 'You left the meeting', 'a message no longer shown was read out');
});

test('a long text is read out only in part (the panel holds it all)', async () => {
  chat.setOpen(false);
  live.textContent = 'before';
  const long = 'ä'.repeat(ANNOUNCE_CHARS) + 'REST'.repeat(400);
  chat.add({ messageId: 'm6', from: 'p-ann', name: 'Ann', text: long });
  const said = t('chat.announce', { name: 'Ann', text: `${'ä'.repeat(ANNOUNCE_CHARS)}…` });
  await eventually(() => live.textContent === said, 'the shortened announcement');
  assert.ok(!live.textContent.includes('REST'));
  const items = chat.list.querySelectorAll('.chat-text');
  assert.equal(items[items.length - 1].textContent, long, 'the panel lost part of the text');
});
