// Pressing Leave leaves nothing of the meeting in the tab's storage: the left screen
// says "This page keeps nothing of the meeting", and the browser writes a tab's
// sessionStorage to its profile on disk (Chromium's "Session Storage") and gives it back
// to a closed tab that is reopened. A moderator's tab kept its moderator secret there
// after Leave, which a reopened tab then joined with, as a moderator. The Rejoin button
// still joins as a moderator (the page holds the secret in memory) and keeps it for a
// reload again.
import { mock, test } from 'node:test';
import './wall-step.mjs';
import assert from 'node:assert/strict';
import './page-globals.mjs';

const element = () => new Proxy({ hidden: false, dataset: {}, classList: { add() {}, remove() {}, toggle() {} } }, {
  get: (target, key) => (key in target ? target[key] : () => {}),
});
globalThis.document = {
  querySelectorAll: () => [], querySelector: () => element(), getElementById: () => null,
  addEventListener() {}, removeEventListener() {}, createElement: () => element(),
  createTextNode: () => ({}), documentElement: element(), body: element(),
};
const key = Buffer.alloc(32, 7).toString('base64url');
globalThis.window = {
  location: { protocol: 'https:', host: 'meet.example', origin: 'https://meet.example', pathname: '/m/room1', search: '', hash: `#k=${key}&mod=the-moderator-secret` },
  history: { replaceState: (_state, _title, url) => { globalThis.window.location.hash = url.includes('#') ? url.slice(url.indexOf('#')) : ''; } },
  localStorage, sessionStorage, addEventListener() {}, removeEventListener() {},
};

const { readMeetingLink, keepModeratorSecret } = await import('../static/js/meeting-link.js');
const { Reconnect } = await import('../static/js/reconnect.js');

const kept = () => ['conclave.resume', 'conclave.moderator', 'conclave.media', 'conclave.name']
  .filter((k) => sessionStorage.getItem(k) !== null);

test('Leave leaves nothing of the meeting in the tab; Rejoin keeps the moderator secret again', () => {
  const link = readMeetingLink(); // a moderator opens the moderator link
  assert.equal(link.moderatorSecret, 'the-moderator-secret');
  const reconnect = new Reconnect({ attempt() {}, giveUp() {} });
  reconnect.remember('p-maria', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'); // welcomed
  reconnect.rememberName('Maria Muster');
  reconnect.rememberMedia({ micOn: true, cameraOn: false });
  assert.deepEqual(kept(), ['conclave.resume', 'conclave.moderator', 'conclave.media', 'conclave.name']);

  reconnect.left(); // the Leave button (meeting.js showLeft)
  assert.deepEqual(kept(), [], 'after Leave the tab still keeps these');

  keepModeratorSecret(link.moderatorSecret); // Rejoin (meeting.js rejoin)
  assert.equal(sessionStorage.getItem('conclave.moderator'), 'the-moderator-secret');
});

test('a reload is no Leave: the tab keeps what it needs to come back', () => {
  const reconnect = new Reconnect({ attempt() {}, giveUp() {} });
  keepModeratorSecret('the-moderator-secret');
  reconnect.remember('p-maria', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG');
  reconnect.rememberName('Maria Muster');
  reconnect.pageHidden(); // the page goes away (a reload); nothing is forgotten
  reconnect.left();
  assert.deepEqual(kept(), ['conclave.resume', 'conclave.moderator', 'conclave.name']);
});

test('Leave while reconnecting stops the attempts: none is made, none welcomed keeps a secret', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => { mock.timers.reset(); delete window.fetch; });
  window.fetch = async () => ({ ok: true, status: 200 }); // the server answers again
  let attempts = 0;
  const reconnect = new Reconnect({ attempt() { attempts++; }, giveUp() {} });
  reconnect.remember('p-maria', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG');
  assert.equal(reconnect.dropped(), true); // the websocket dropped: "Reconnecting…"
  reconnect.left(); // Leave, by keyboard under the overlay
  for (let i = 0; i < 20; i++) {
    mock.timers.tick(1000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(attempts, 0, 'a reconnect attempt was made after Leave');
  assert.equal(reconnect.active, false);
  assert.deepEqual(kept(), []);
});

test('what the tab keeps serves a reload only: a page opened anew, by Back or reopened forgets it', (t) => {
  t.after(() => { delete window.performance; window.location.hash = `#k=${key}`; });
  const keepAll = () => {
    keepModeratorSecret('the-moderator-secret');
    const reconnect = new Reconnect({ attempt() {}, giveUp() {} });
    reconnect.remember('p-maria', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG');
    reconnect.rememberName('Maria Muster');
    reconnect.rememberMedia({ micOn: true, cameraOn: false });
    return reconnect;
  };
  const loaded = (type) => {
    window.performance = { getEntriesByType: (kind) => (kind === 'navigation' ? [{ type }] : []) };
    window.location.hash = `#k=${key}`; // the address bar as the page left it
    return readMeetingLink();
  };

  keepAll();
  const reloaded = loaded('reload');
  assert.equal(reloaded.moderatorSecret, 'the-moderator-secret', 'a reload is no longer a moderator');
  assert.deepEqual(kept(), ['conclave.resume', 'conclave.moderator', 'conclave.media', 'conclave.name']);

  for (const type of ['back_forward', 'navigate']) {
    keepAll().pageHidden(); // the person went to another page, or closed the tab
    const link = loaded(type);
    assert.equal(link.moderatorSecret, '', `a page loaded by ${type} is a moderator`);
    assert.deepEqual(kept(), [], `a page loaded by ${type} keeps these`);
  }

  keepAll();
  delete window.performance; // a browser that cannot say how the page was loaded
  window.location.hash = `#k=${key}`;
  readMeetingLink();
  assert.deepEqual(kept(), [], 'a page loaded in a way the browser cannot tell keeps these');
});

test('a tab the browser discarded to save memory, shown again, is the same tab: it keeps what it kept', (t) => {
  t.after(() => { delete window.performance; delete document.wasDiscarded; window.location.hash = `#k=${key}`; });
  keepModeratorSecret('the-moderator-secret');
  const reconnect = new Reconnect({ attempt() {}, giveUp() {} });
  reconnect.remember('p-maria', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG');
  reconnect.rememberName('Maria Muster');
  reconnect.rememberMedia({ micOn: true, cameraOn: false });
  // Chromium reloads a discarded tab as a history navigation and sets wasDiscarded.
  window.performance = { getEntriesByType: (kind) => (kind === 'navigation' ? [{ type: 'back_forward' }] : []) };
  document.wasDiscarded = true;
  window.location.hash = `#k=${key}`;
  const link = readMeetingLink();
  assert.equal(link.moderatorSecret, 'the-moderator-secret', 'a discarded tab shown again is no longer a moderator');
  assert.deepEqual(kept(), ['conclave.resume', 'conclave.moderator', 'conclave.media', 'conclave.name'],
    'a discarded tab shown again forgot what it kept');

  // Back to the meeting page later in that tab, after going to another page (pagehide),
  // is a new document, not discarded.
  new Reconnect({ attempt() {}, giveUp() {} }).pageHidden();
  document.wasDiscarded = false;
  window.location.hash = `#k=${key}`;
  assert.equal(readMeetingLink().moderatorSecret, '', 'Back after a discard is a moderator');
  assert.deepEqual(kept(), [], 'Back after a discard keeps what the tab kept');
});

test('a tab the browser killed and brings back resumes; one its person left, then came Back to, does not', (t) => {
  t.after(() => { delete window.performance; window.location.hash = `#k=${key}`; });
  const all = ['conclave.resume', 'conclave.moderator', 'conclave.media', 'conclave.name'];
  const restored = (navType) => {
    window.performance = { getEntriesByType: (kind) => (kind === 'navigation' ? [{ type: navType }] : []) };
    window.location.hash = `#k=${key}`;
    return readMeetingLink();
  };
  const welcomed = () => {
    keepModeratorSecret('the-moderator-secret');
    const reconnect = new Reconnect({ attempt() {}, giveUp() {} });
    reconnect.remember('p-maria', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG');
    reconnect.rememberName('Maria Muster');
    reconnect.rememberMedia({ micOn: true, cameraOn: false });
    return reconnect;
  };

  // The page crashed, or a mobile browser killed the background tab: no pagehide.
  welcomed();
  assert.equal(restored('back_forward').moderatorSecret, 'the-moderator-secret', 'a tab brought back after its page was killed is no longer a moderator');
  assert.deepEqual(kept(), all, 'a tab brought back after its page was killed forgot what it kept');

  // Twice in a row: the page brought back is open again until its own pagehide.
  assert.equal(restored('back_forward').moderatorSecret, 'the-moderator-secret', 'a tab killed twice is no longer a moderator');

  // Maria went to another page (pagehide), or closed the tab: Back, or the tab reopened.
  welcomed().pageHidden();
  assert.equal(restored('back_forward').moderatorSecret, '', 'Back after going elsewhere is a moderator');
  assert.deepEqual(kept(), [], 'Back after going elsewhere keeps what the tab kept');
  assert.equal(sessionStorage.getItem('conclave.open'), null);

  // A page opened anew by its address never takes over, killed before or not.
  welcomed();
  assert.equal(restored('navigate').moderatorSecret, '', 'a page opened anew is a moderator');
  assert.deepEqual(kept(), []);

  // Leave: nothing is kept, the mark of an open page neither.
  welcomed().left();
  assert.equal(sessionStorage.getItem('conclave.open'), null, 'Leave keeps the mark of an open page');
});
