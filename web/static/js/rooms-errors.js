// What the rooms card says of a request that failed: the text of a refused request of the
// Rooms API or POST /api/meetings (apiErrorText, tooManyText; landing.js uses them too),
// and the error boxes that show it (showError).

import { setText } from './i18n.js';

/** showError shows error ({key, params}; '' hides the box) in the language of the page. */
export function showError(box, error) {
  if (error) setText(box, error.key, error.params);
  else { delete box.dataset.i18n; box.textContent = ''; }
  box.hidden = !error;
}

/**
 * apiErrorText is the error ({key, params}) for a refused request of the Rooms API or
 * POST /api/meetings, by HTTP status and the code of its JSON body (PROTOCOL.md,
 * "Errors of the HTTP API"). Its two 403s differ: the host's room limit (delete rooms)
 * and a request the server took for another site's (a proxy that passes on another
 * Host: the operator's to mend; deleting rooms would not help). A 403 without a code
 * (from something in front of the server) is neither: its status is said.
 */
export function apiErrorText(status, code = '') {
  if (status === 403) {
    if (code === 'room_limit') return { key: 'rooms.error.forbidden' };
    if (code === 'cross_origin') return { key: 'rooms.error.cross-origin' };
  }
  const known = {
    400: 'rooms.error.invalid', 404: 'rooms.error.not-found', 409: 'rooms.error.conflict', 413: 'rooms.error.invalid',
    // `unavailable`: the host key could not be checked just now (or, without a code,
    // something in front of the server says it is down): nothing is wrong with the
    // request, and it was no internal error.
    503: 'rooms.error.unavailable',
  };
  return known[status] ? { key: known[status] } : { key: 'rooms.error.status', params: { status } };
}

/**
 * tooManyText is the error ({key, params}) for a 429 of the Rooms API or POST
 * /api/meetings, by its code, with the seconds of its Retry-After: `too_fast`, this host
 * makes rooms, meetings or new links faster than its budget (no attempt was wrong),
 * else `too_many_attempts`, too many wrong host keys from this address.
 */
export function tooManyText(code, seconds) {
  return { key: code === 'too_fast' ? 'common.too-fast' : 'common.too-many-attempts', params: { count: seconds } };
}
