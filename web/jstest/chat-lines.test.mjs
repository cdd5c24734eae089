// The chat panel keeps the newest MAX_LINES lines: a member sending at the server's
// limit cannot grow every other page without bound. A message that shared its
// sender's header with older ones gets its own once those go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { FakeElement, fakeDocument } from './fake-element.mjs';

globalThis.document = fakeDocument();
globalThis.window = { localStorage, sessionStorage, addEventListener() {} };

const { Chat, MAX_LINES } = await import('../static/js/chat.js');

test('the newest MAX_LINES lines stay; an older message that lost its header gets one', () => {
  const list = new FakeElement('ul');
  const chat = new Chat({ list, input: new FakeElement('textarea'), send: new FakeElement('button'), badge: new FakeElement('span'), onSend: () => true });
  const at = (i) => new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString();
  // Ann says two things within a minute (one header), then Bob floods.
  chat.add({ messageId: 'a1', from: 'p-ann', name: 'Ann', text: 'first', sentAt: at(0) });
  chat.add({ messageId: 'a2', from: 'p-ann', name: 'Ann', text: 'second', sentAt: at(1) });
  assert.ok(list.children[1].classList.contains('chat-grouped'));
  for (let i = 0; i < MAX_LINES - 2; i++) chat.add({ messageId: `b${i}`, from: 'p-bob', name: 'Bob', text: 'https://x.test/ '.repeat(40), sentAt: at(2) });
  assert.equal(list.children.length, MAX_LINES);
  chat.notice('chat.not-sent');
  assert.equal(list.children.length, MAX_LINES);
  const first = list.children[0];
  assert.equal(first.dataset.messageId, 'a2');
  assert.ok(!first.classList.contains('chat-grouped'), 'the message kept no header of its own');
  assert.equal(first.children[0].className, 'chat-meta');
  assert.equal(first.children[0].children[0].textContent, 'Ann');
  assert.ok(!first.children.some((c) => c.classList.contains('sr-only')), 'the name is read twice: hidden and in the header');
  assert.equal(list.children.at(-1).className, 'chat-notice');
});

test('a grouped message (no header of its own) carries its sender\'s name for screen readers', () => {
  const list = new FakeElement('ul');
  const chat = new Chat({ list, input: new FakeElement('textarea'), send: new FakeElement('button'), badge: new FakeElement('span'), onSend: () => true });
  chat.selfId = 'p-me';
  const at = (i) => new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString();
  const hiddenName = (line) => {
    const box = line.children.find((c) => c.classList.contains('sr-only'));
    return box ? box.children.map((c) => c.textContent).join('') : null;
  };
  chat.add({ messageId: 'a1', from: 'p-ann', name: 'Ann', text: 'first', sentAt: at(0) });
  chat.add({ messageId: 'a2', from: 'p-ann', name: 'Ann', text: 'second', sentAt: at(1) });
  const pending = chat.add({ messageId: 'a3', from: 'p-ann', name: '', text: '', sentAt: at(2), pending: true });
  chat.add({ messageId: 'm1', from: 'p-me', name: 'Mia', text: 'hi', sentAt: at(3) });
  chat.add({ messageId: 'm2', from: 'p-me', name: 'Mia', text: 'again', sentAt: at(4) });
  const [first, second, third, , mine] = list.children;
  assert.equal(hiddenName(first), null, 'a message with its header needs no hidden name');
  assert.ok(second.classList.contains('chat-grouped'));
  assert.equal(hiddenName(second), 'Ann', 'a grouped message is read without its sender');
  assert.equal(hiddenName(third), 'Guest', 'a waiting message is read without a sender');
  pending.fill('third', 'Ann');
  assert.equal(hiddenName(third), 'Ann', 'the name that came with the key is not read');
  assert.equal(hiddenName(mine), 'You');
});
