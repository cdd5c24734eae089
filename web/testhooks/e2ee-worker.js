// TEST ONLY. The E2EE worker as the browser tests run it: the production worker
// (/static/js/e2ee/worker.js) unchanged, wrapped so that it also records
//
//   - the SHA-256 of the camera's first 600 video frames as they enter the production
//     transform (plain) and as they leave it (cipher), and
//   - every raw media key the page hands it ('self' for the own keys),
//
// and answers {t: 'test-query', id, what: 'hashes' | 'keys' | 'reset'} with
// {t: 'test-reply', id, value}. Served only by a server built for tests (see
// hooks.js); a production server answers 404.

import '/static/js/e2ee/worker.js';
import { encode } from '/static/js/e2ee/b64.js';

// Frames dropped before the first key are recorded as plain too: room for them.
const MAX_HASHES = 600;

// The production worker's handlers, installed when its module ran (just above).
const production = { message: self.onmessage, transform: self.onrtctransform };

const raws = new Map(); // pid -> Map(index -> raw key)
const hashes = { plain: [], cipher: [] };
let hashing = Promise.resolve(); // keeps the recorded hashes in frame order

function remember(pid, index, raw) {
  if (!raw) return;
  let m = raws.get(pid);
  if (!m) {
    m = new Map();
    raws.set(pid, m);
  }
  m.set(index, new Uint8Array(raw instanceof ArrayBuffer ? raw.slice(0) : raw));
}

async function sha256Hex(data) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  let s = '';
  for (const b of d) s += b.toString(16).padStart(2, '0');
  return s;
}

function recorder(list) {
  return new TransformStream({
    transform(frame, controller) {
      if (list.length < MAX_HASHES) {
        const copy = frame.data.slice(0);
        const at = list.push(null) - 1;
        hashing = hashing.then(async () => {
          list[at] = await sha256Hex(copy);
        });
      }
      controller.enqueue(frame);
    },
  });
}

function isCamera(options) {
  return options.dir === 'send' && options.source === 'camera' && options.kind === 'video';
}

// wrap puts the recorders around the production transform of one camera sender.
function wrap(readable, writable) {
  const after = recorder(hashes.cipher);
  after.readable.pipeTo(writable).catch(() => {});
  return { readable: readable.pipeThrough(recorder(hashes.plain)), writable: after.writable };
}

async function answer(msg) {
  let value = null;
  if (msg.what === 'reset') {
    await hashing;
    hashes.plain.length = 0;
    hashes.cipher.length = 0;
    value = true;
  } else if (msg.what === 'hashes') {
    await hashing;
    value = { plain: hashes.plain.slice(), cipher: hashes.cipher.slice() };
  } else if (msg.what === 'keys') {
    value = {};
    for (const [pid, m] of raws) {
      value[pid] = {};
      for (const [index, raw] of m) value[pid][index] = encode(raw);
    }
  }
  self.postMessage({ t: 'test-reply', id: msg.id, value });
}

self.onmessage = (event) => {
  const msg = event.data || {};
  switch (msg.t) {
    case 'test-query':
      answer(msg);
      return;
    case 'own':
      remember('self', msg.index, msg.raw);
      break;
    case 'key':
      remember(msg.pid, msg.index, msg.raw);
      break;
    case 'forget':
      raws.delete(msg.pid);
      break;
    case 'stream': {
      const options = msg.options || {};
      if (isCamera(options)) {
        production.message({ data: { ...msg, ...wrap(msg.readable, msg.writable) } });
        return;
      }
      break;
    }
    default:
  }
  production.message(event);
};

self.onrtctransform = (event) => {
  const t = event.transformer;
  const options = t.options || {};
  if (!isCamera(options)) {
    production.transform(event);
    return;
  }
  production.transform({ transformer: { ...wrap(t.readable, t.writable), options } });
};
