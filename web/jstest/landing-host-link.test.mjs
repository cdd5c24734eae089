// The landing page opened from a host link whose key is not of the form the server
// takes (rooms-keys.js validHostKey, Go's signaling.ParseHostKey): the server refuses
// such a key unread, `conclave room` refuses the link before any request, and the page
// took the key and sent it with its first request. Now it sends nothing, asks for the
// key and says the link's is not valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { doc } from './landing-page.mjs';

const RK = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
// A key with a second dot: the server's 401 unread, `conclave room`'s errBadLink.
window.location = { origin: 'https://meet.example', hash: `#host=host.sec.ret&rk=${RK}`, pathname: '/', search: '' };
window.history = { replaceState() {} };
globalThis.history = window.history;

const requests = []; // those that carry a host key (the notice's, GET /api/notice, carries none)
globalThis.fetch = async (path, init = {}) => {
  const auth = init.headers?.Authorization ?? init.headers?.get?.('Authorization');
  if (auth) requests.push(`${init.method || 'GET'} ${path} ${auth}`);
  return { ok: true, status: 200, headers: { get: () => null }, json: async () => ({ rooms: [] }) };
};
const tick = () => new Promise((r) => setTimeout(r, 0));

test('a host link whose key the server would refuse sends nothing and asks for the key', async () => {
  await import('../static/js/landing.js');
  const { t } = await import('../static/js/i18n.js');
  for (let i = 0; i < 50; i++) await tick();
  assert.deepEqual(requests, [], 'requests sent with a host key the server refuses unread');
  assert.equal(doc.querySelector('#host-key-field').hidden, false, 'the host key field is not shown');
  const box = doc.querySelector('#create-error');
  assert.equal(box.hidden, false, 'the page does not say the link\'s key is not valid');
  assert.equal(box.textContent, t('landing.host-key.link-invalid'));
  doc.querySelector('#create-form').dispatch('submit');
  for (let i = 0; i < 50; i++) await tick();
  assert.deepEqual(requests, [], '"New meeting" sent the link\'s key');
  assert.equal(box.textContent, t('landing.host-key.missing'));
});
