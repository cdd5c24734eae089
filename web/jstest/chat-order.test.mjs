// An encrypted meeting's received chat (session-roster.js): texts are shown in the order
// they came, and one that waits for its sender's key holds its place as "waiting for
// the key" without holding back the texts behind it (a member without the link's key
// sending junk held every later text back for the wait, 10 s each), and is filled in
// when it opens. The key schedule is a stand-in whose texts open when the test says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { FakeElement, fakeDocument } from './fake-element.mjs';

globalThis.document = fakeDocument();
globalThis.window = { localStorage, sessionStorage, addEventListener() {}, location: { origin: 'https://meet.example' } };

const { Chat } = await import('../static/js/chat.js');
const { rosterMethods } = await import('../static/js/session-roster.js');
const { UNREADABLE } = await import('../static/js/e2ee/session-chat.js');
const { t } = await import('../static/js/i18n.js');

/** page is what _chat needs of a Session, with a key schedule whose texts the test opens. */
function page() {
  const list = new FakeElement('ul');
  const chat = new Chat({ list, input: new FakeElement('textarea'), send: new FakeElement('button'), badge: new FakeElement('span'), onSend: () => true });
  const texts = new Map(); // cipher -> {open(text), wait()}
  const names = new Map([['p-bob', 'Bob']]);
  const keys = {
    decryptChat(from, cipher, onWait) {
      return new Promise((resolve) => texts.set(cipher, { open: resolve, wait: onWait }));
    },
  };
  const session = {
    ...rosterMethods, joined: true, ended: false, e2ee: true, chatQueue: [], keys, chat, participants: new Map(),
    participantId: 'p-me', name: 'Me', _shownName: (id) => (names.has(id) ? { name: names.get(id), nameLabel: null } : { name: '…', nameLabel: 'no envelope yet' }),
  };
  const lines = () => list.children.map((li) => {
    const body = li.children.at(-1);
    const text = body.children.map((n) => n.textContent).join('');
    return `${li.dataset.messageId}:${body.classList.contains('chat-pending') ? 'waiting' : text}`;
  });
  // The sender's name as the eye sees it (a placeholder's label beside it is visually hidden).
  const nameOf = (id) => {
    const name = list.children.find((li) => li.dataset.messageId === id).children[0].children[0];
    return name.children.filter((n) => !n.classList.contains('sr-only')).map((n) => n.textContent).join('') || name.textContent;
  };
  return { session, texts, names, lines, nameOf };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
const say = (p, id, from) => p.session._chat({ messageId: id, from, text: `cipher-${id}`, sentAt: '2030-01-01T00:00:00Z' });

test('a text that waits for its key holds its place, the texts behind it are shown, and it is filled in when it opens', async () => {
  const p = page();
  say(p, 'w1', 'p-w'); // a member whose key has not come (or never will)
  say(p, 'b1', 'p-bob');
  p.texts.get('cipher-b1').open('hello from Bob');
  await flush();
  assert.deepEqual(p.lines(), [], 'nothing before the first text opened or waits');
  p.texts.get('cipher-w1').wait();
  await flush();
  assert.deepEqual(p.lines(), ['w1:waiting', 'b1:hello from Bob']);
  // Its key envelope, which brings the key, also brings its name.
  p.names.set('p-w', 'Wanda');
  p.texts.get('cipher-w1').open('late but here');
  await flush();
  assert.deepEqual(p.lines(), ['w1:late but here', 'b1:hello from Bob']);
  assert.equal(p.nameOf('w1'), 'Wanda');
  assert.equal(p.session.chatQueue.length, 0);
});

test('texts that open out of order are shown in the order they came; one given up shows as unreadable', async () => {
  const p = page();
  say(p, 'b1', 'p-bob');
  say(p, 'b2', 'p-bob');
  say(p, 'w1', 'p-w');
  say(p, 'm1', 'p-me');
  p.texts.get('cipher-b2').open('second');
  p.texts.get('cipher-m1').open('mine');
  await flush();
  assert.deepEqual(p.lines(), []);
  p.texts.get('cipher-b1').open('first');
  await flush();
  assert.deepEqual(p.lines(), ['b1:first', 'b2:second'], 'behind a text neither opened nor waiting, the rest wait');
  p.texts.get('cipher-w1').wait();
  await flush();
  assert.deepEqual(p.lines(), ['b1:first', 'b2:second', 'w1:waiting', 'm1:mine']);
  p.texts.get('cipher-w1').open(UNREADABLE);
  await flush();
  assert.deepEqual(p.lines(), ['b1:first', 'b2:second', `w1:${UNREADABLE}`, 'm1:mine']);
  assert.equal(p.nameOf('w1'), '…', 'still no name for it');
  assert.ok(t('chat.waiting-key') !== 'chat.waiting-key', 'the waiting line has a text in the catalogue');
});

test('a waiting line keeps the name it has unless that was a placeholder, and takes none after the meeting ended', async () => {
  const p = page();
  say(p, 'b1', 'p-bob');
  say(p, 'w1', 'p-w');
  p.texts.get('cipher-b1').wait();
  p.texts.get('cipher-w1').wait();
  await flush();
  assert.deepEqual(p.lines(), ['b1:waiting', 'w1:waiting']);
  // Bob leaves while his text waits: his name is a placeholder now, his line keeps "Bob".
  p.names.delete('p-bob');
  p.texts.get('cipher-b1').open('said before leaving');
  await flush();
  assert.equal(p.nameOf('b1'), 'Bob');
  // The meeting ends before Wanda's text opens: it is completed, her name not looked up.
  p.names.set('p-w', 'Wanda');
  p.session.ended = true;
  p.texts.get('cipher-w1').open(UNREADABLE);
  await flush();
  assert.deepEqual(p.lines(), ['b1:said before leaving', `w1:${UNREADABLE}`]);
  assert.equal(p.nameOf('w1'), '…');
});
