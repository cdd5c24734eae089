// Byte helpers and strict unpadded base64url (RFC 4648 section 5), the
// encoding of every byte string in the E2EE format. Decoding refuses padding,
// whitespace, other alphabets and non-canonical trailing bits, like Go's
// base64.RawURLEncoding.Strict() with CR/LF refused too.
import { E2EEError } from './errors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i]));

/** toBytes views an ArrayBuffer or any ArrayBufferView as a Uint8Array (no copy). */
export function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new E2EEError('bad-input', 'expected bytes (ArrayBuffer or a typed array)');
}

/** concat joins byte arrays into a new Uint8Array. */
export function concat(...parts) {
  const arrays = parts.map(toBytes);
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** encode returns the unpadded base64url form of bytes. */
export function encode(data) {
  const b = toBytes(data);
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((b.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += ALPHABET[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

/** decode parses strict unpadded base64url; it throws E2EEError 'malformed'. */
export function decode(text) {
  if (typeof text !== 'string' || text.length % 4 === 1) {
    throw new E2EEError('malformed', 'not base64url');
  }
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let acc = 0;
  let at = 0;
  for (const c of text) {
    const v = VALUES.get(c);
    if (v === undefined) throw new E2EEError('malformed', 'not base64url');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (acc !== 0) throw new E2EEError('malformed', 'non-canonical base64url');
  return out;
}
