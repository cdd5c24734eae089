// The page of the tests of a page's own resume in an encrypted meeting (resume-left,
// dead-ids-bound): meeting.js's glue around one person's sessions and the Reconnect, and
// a member's identity broadcast to replay.
import assert from 'node:assert/strict';
import { gridStandIn, uiStandIn, noop } from './media-standins.mjs';
import { FakeClock, FakeMedia } from './harness.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Reconnect } = await import('../static/js/reconnect.js');
const { MeetingCrypto, SessionKeys } = await import('../static/js/e2ee/session-keys.js');

/** LINK_SECRET is the meeting secret of the page's link. */
export const LINK_SECRET = new Uint8Array(16).fill(7);

/**
 * resumingPage is Ann's page in meeting m1, end-to-end encrypted with LINK_SECRET.
 * p.open(resume, given) starts a session, as meeting.js's join does: a resume takes what
 * the session before it carries over (Session.carriedOver), or given when there is none
 * (a resume of a page that held what given says). p.reconnect resumes it after a drop;
 * p.sessions lists every session it started. All end with the test.
 */
export function resumingPage(t) {
  const media = new LocalMedia();
  const p = { media, session: null, sessions: [] };
  // Its backoff on a FakeClock, which dropAndResume moves on (media-standins.mjs).
  p.reconnect = new Reconnect({ attempt: (resume) => p.open(resume), giveUp: () => {}, clock: new FakeClock() });
  p.open = (resume = null, given = {}) => {
    const session = new Session({
      meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, resume,
      e2ee: { crypto: MeetingCrypto.fromSecret(LINK_SECRET), api: 'legacy' },
      ...(resume && p.session ? p.session.carriedOver() : given), // as meeting.js's join
      ui: uiStandIn({
        resumable: (id, secret) => p.reconnect.remember(id, secret),
        dropped: () => p.reconnect.dropped(),
        failed: (kind) => { p.reconnect.failed(kind); },
        joined: () => p.reconnect.joined(),
      }),
    });
    p.session = session;
    p.sessions.push(session);
    session.start();
    return session;
  };
  t.after(() => {
    p.reconnect._stop();
    p.reconnect.forget();
    for (const s of p.sessions) s.end();
    media.stopAll();
  });
  return p;
}

/** identityOf is the identity message a member with the link (or secret's) broadcasts for id, as the server relays it. */
export async function identityOf(id, others, secret = LINK_SECRET) {
  const out = [];
  const keys = new SessionKeys({ meeting: await MeetingCrypto.fromSecret(secret), media: new FakeMedia(), send: (to, data) => out.push({ to, data }) });
  await keys.start(id, others);
  keys.close();
  const msg = out.find((m) => m.to === null && JSON.parse(m.data).t === 'identity');
  assert.ok(msg, `no identity broadcast of ${id}`);
  return msg.data;
}
