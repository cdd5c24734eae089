// Knock alerts (web/static/js/knock-alert.js) over a reconnect: the session that
// resumes gets the waiting list again, and only knocks not announced before chime.
import { test } from 'node:test';
import assert from 'node:assert/strict';

// The few browser globals the module touches, before it is loaded.
globalThis.window = { localStorage: { getItem: () => null, setItem() {}, removeItem() {} } };
globalThis.navigator ??= { languages: ['en'], language: 'en' };
globalThis.Node ??= { ELEMENT_NODE: 1 };
globalThis.document = { title: 'Meeting', hidden: false, nodeType: 9, querySelector: () => null, querySelectorAll: () => [], documentElement: {} };

const { KnockAlert } = await import('../static/js/knock-alert.js');

test('a resumed session does not chime again for the knocks already announced', () => {
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  let chimes = 0;
  alert.chime = () => chimes++;
  const knock = (id) => ({ participantId: id, name: 'x' });

  alert.update([knock('p-1')]);
  assert.equal(chimes, 1);
  assert.match(document.title, /^\(1\) /);
  alert.reset(); // the connection dropped: the new session starts afresh
  assert.equal(document.title, 'Meeting');
  alert.update([knock('p-1')]); // its waiting list after the resume
  assert.equal(chimes, 1, 'the same knock chimed twice');
  assert.match(document.title, /^\(1\) /);
  alert.update([knock('p-1'), knock('p-2')]);
  assert.equal(chimes, 2, 'a new knock did not chime');
  alert.update([]);
  assert.equal(document.title, 'Meeting');
});
