// E2EEError is the one error type of the E2EE modules. Its `code` says what
// went wrong, with the same names as the Go reference (e2ee/) and the
// known-answer vectors:
//   'too-short'   input shorter than the format allows
//   'malformed'   bad encoding, length, trailer, or invalid UTF-8
//   'unknown-key' a frame's key index has no key
//   'auth'        AES-GCM authentication failed (tampered, wrong key, wrong ids)
//   'bad-id'      a participant id that is empty or holds a NUL
//   'bad-input'   a caller's mistake (key size, key index, kind, short secret)
//   'unsupported' WebCrypto or X25519 is missing (insecure context, old browser)
//   'replay'      a chat text whose sender's counter does not go up (sent again)
export class E2EEError extends Error {
  constructor(code, message = code) {
    super(`e2ee: ${message}`);
    this.name = 'E2EEError';
    this.code = code;
  }
}

/** isE2EEError reports whether err is an E2EEError, optionally with the given code. */
export function isE2EEError(err, code) {
  return err instanceof E2EEError && (code === undefined || err.code === code);
}
