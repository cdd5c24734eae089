// How many are in the meeting (people-count.js) while the page reconnects. At a drop
// meeting.js applies the role of no joined session (nothing of a moderator's is usable
// under the "Reconnecting…" overlay), which renders the roster again: the session that
// dropped has let go of its roster, and the people chip said 1 behind the overlay, as if
// everyone else had left, until the resume came back. The count from before the drop
// stays now, as the count of the roster held from before the drop (held-roster.js); the
// resumed welcome brings the roster of now, and a resume given up keeps nothing of it.
//
// The page's glue (meeting.js: join, onJoined, the drop's applyRole, the Reconnect;
// meeting-end.js: stopped; meeting-roster.js: renderRoster) is played here by `page`
// with the same calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, dropSocket, dropAndResume } from './media-standins.mjs';
import { FakeClock, eventually } from './harness.mjs';

const nodes = new Map();
const node = (id) => {
  if (!nodes.has(id)) {
    nodes.set(id, {
      id, hidden: false, textContent: '', dataset: {}, attributes: {},
      setAttribute(k, v) { this.attributes[k] = String(v); }, removeAttribute(k) { delete this.attributes[k]; },
    });
  }
  return nodes.get(id);
};
document.querySelector = (sel) => node(sel.replace(/^#/, ''));

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Reconnect } = await import('../static/js/reconnect.js');
const { renderPeopleCount } = await import('../static/js/people-count.js');
const { HeldRoster } = await import('../static/js/held-roster.js');
const { t: tr } = await import('../static/js/i18n.js');

window.fetch = async () => ({ ok: true, status: 200 }); // the reachability probe: the server is up

const SECRET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const person = (id, name) => ({ id, name, role: 'participant', media: { mic: true, camera: true, screen: false } });
const welcome = (extra = {}) => ({ participantId: 'p-ann', e2ee: false, participants: [], role: 'participant', resumeSecret: SECRET, ...extra });

/** page is meeting.js's glue around one person's sessions, the Reconnect and the people count. */
function page(t) {
  const media = new LocalMedia();
  const p = { media, session: null, sessions: [], gaveUp: null };
  const live = () => (p.session && !p.session.ended ? p.session : null);
  const grid = gridStandIn();
  const held = new HeldRoster({ grid, media });
  const renderRoster = () => renderPeopleCount(held.shown(live()));
  p.reconnect = new Reconnect({
    attempt: (resume) => p.open(resume),
    clock: new FakeClock(), // its backoff: dropAndResume moves it on (media-standins.mjs)
    giveUp: (kind) => { p.gaveUp = kind; held.forget(); renderRoster(); }, // stopped()
  });
  p.open = (resume = null) => {
    const session = new Session({
      meetingId: 'm1', name: 'Ann', media, grid, chat: noop, resume,
      ui: uiStandIn({
        resumable: (id, secret) => p.reconnect.remember(id, secret),
        rosterChanged: renderRoster,
        joined: () => { held.replacedBy(session); p.reconnect.joined(); renderRoster(); }, // onJoined: applyRole
        dropped: (people) => {
          const resuming = p.reconnect.dropped();
          if (resuming) {
            held.hold(people);
            renderRoster(); // applyRole, for no joined session
          }
          return resuming;
        },
        failed: (kind) => { p.reconnect.failed(kind); },
      }),
    });
    p.session = session;
    p.sessions.push(session);
    session.start();
    return session;
  };
  p.render = renderRoster; // what else renders the roster (a language switch)
  t.after(() => {
    p.reconnect._stop();
    p.reconnect.forget();
    for (const s of p.sessions) s.end();
    media.stopAll();
  });
  return p;
}

/** shown is the count the page shows: the chip's, the people panel's, the chip's label. */
const shown = () => [node('participant-count').textContent, node('people-count').textContent, node('btn-people').attributes['aria-label']];
const counted = (n) => [String(n), `(${n})`, tr('meeting.people.label-count', { count: n })];

/** withThree: joined with two others. */
async function withThree(t) {
  const p = page(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome({ participants: [person('p-bo', 'Bo'), person('p-cy', 'Cy')] }));
  await eventually(() => p.session.joined, 'the welcome');
  assert.deepEqual(shown(), counted(3));
  return p;
}

test('behind "Reconnecting…" the count from before the drop stays; the resumed welcome brings the one of now', async (t) => {
  const p = await withThree(t);
  await dropAndResume(p, (before) => {
    assert.equal(before.ended, true);
    assert.deepEqual(shown(), counted(3), 'the drop counts only this page');
  });
  p.render();
  assert.deepEqual(shown(), counted(3), 'an attempt under way counts only this page');
  // Cy left while this page was away.
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo', 'Bo')] }));
  await eventually(() => p.session.joined, 'the resumed welcome');
  assert.deepEqual(shown(), counted(2));
});

test('an attempt that drops before its welcome keeps the count too', async (t) => {
  const p = await withThree(t);
  await dropAndResume(p);
  await dropAndResume(p);
  assert.deepEqual(shown(), counted(3));
});

test('a resume given up keeps nothing of the count; the next join counts afresh', async (t) => {
  const p = await withThree(t);
  await dropAndResume(p);
  const resume = sent.find((m) => m.type === 'resume');
  serverSays('error', { code: 'resume_failed' }, resume.id);
  dropSocket(4401);
  assert.equal(p.gaveUp, 'resume_failed');
  p.render(); // e.g. a language switch on the "Disconnected" screen
  assert.deepEqual(shown(), ['', '', tr('meeting.people.label')], 'the count of a meeting the page is no longer in is shown');
  sent.length = 0;
  p.open(); // Rejoin
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome({ participantId: 'p-ann2', participants: [person('p-bo', 'Bo')] }));
  await eventually(() => p.session.joined, 'the welcome');
  assert.deepEqual(shown(), counted(2));
});
