// A moderator's waiting room across a drop and a change of role, through the real
// path: the Session (session.js, session-roster.js) as the server's messages reach it,
// and the WaitingRoom (waiting.js) as meeting.js's applyRole gives it the session
// (WaitingRoom.follow: at every welcome, a change of the own role, and a drop, where no
// session is joined).
//
// A session has no waiting list until its first `waiting_list`, which comes after the
// welcome (signaling/PROTOCOL.md), its links checked and names opened first. It had an
// empty one, which applyRole gave the room at a resumed welcome: the room took it for
// nobody waiting and forgot the knocks it knew, so the list that came next announced
// each again ("Quin is waiting to join") and brought back the knock card the moderator
// had closed. The page's glue (meeting.js: applyRole, waitingChanged) is played here by
// `page` with the same calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown, dropSocket } from './media-standins.mjs';
import { eventually } from './harness.mjs';
import { withoutIsolates } from './mini-dom.mjs';

// The waiting room's elements, one per id, keeping their state and click listeners.
const nodes = new Map();
const node = (id) => {
  if (!nodes.has(id)) {
    const listeners = {};
    nodes.set(id, {
      id, hidden: false, disabled: false, textContent: '', dataset: {}, attributes: {}, children: [], offsetWidth: 0,
      classList: { add() {}, remove() {}, toggle() {} }, style: { setProperty() {} },
      addEventListener: (type, f) => { listeners[type] = f; },
      click() { if (listeners.click) listeners.click({}); },
      setAttribute(k, v) { this.attributes[k] = String(v); }, removeAttribute(k) { delete this.attributes[k]; },
      replaceChildren(...c) { this.children = c; }, querySelectorAll: () => [], focus() {},
    });
  }
  return nodes.get(id);
};
document.querySelector = (sel) => node(sel.replace(/^#/, ''));
const shown = captureShown(); // toasts and what is announced

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { WaitingRoom } = await import('../static/js/waiting.js');
const { t: tr } = await import('../static/js/i18n.js');

const SECRET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const welcome = (extra = {}) => ({ participantId: 'p-mo', e2ee: false, participants: [], role: 'moderator', resumeSecret: SECRET, ...extra });
const knock = (id, name) => ({ participantId: id, name, waitingMs: 1000 });

/** page is meeting.js's glue around a moderator's sessions and the waiting room. */
function page(t) {
  const media = new LocalMedia();
  const room = new WaitingRoom({ admit() {}, deny() {}, admitAll() {}, openPanel() {}, isPanelOpen: () => false });
  const p = { room, session: null, sessions: [] };
  p.open = (resume = null) => {
    const session = new Session({
      meetingId: 'm1', name: 'Mo', media, grid: gridStandIn(), chat: noop, resume,
      ui: uiStandIn({
        // applyRole: at the welcome, a change of the own role, and the drop (live() is null then).
        joined: () => room.follow(session),
        roleChanged: () => room.follow(session),
        dropped: () => { room.follow(null); return true; },
        waitingChanged: (list) => room.update(list),
      }),
    });
    p.session = session;
    p.sessions.push(session);
    session.start();
    return session;
  };
  t.after(() => {
    for (const s of p.sessions) s.end();
    room.setEnabled(false); // stops the list's ticker
    media.stopAll();
  });
  return p;
}

/** welcomed: the page's moderator session, welcomed (a resume with resume). */
async function welcomed(p, resume = null) {
  const from = sent.length;
  p.open(resume);
  await eventually(() => sent.slice(from).some((m) => m.type === (resume ? 'resume' : 'join')), 'the join');
  serverSays('welcome', welcome(resume ? { resumed: true } : {}));
  await eventually(() => p.session.joined, 'the welcome');
}

// Compared without the isolates around names (i18n-core.js), which nothing heard carries.
const said = (name) => shown.filter((x) => withoutIsolates(x) === withoutIsolates(tr('waiting.knock.one', { name }))).length;

/**
 * listed: the server's waiting list, once the room shows it (its links and names are
 * worked out first) and the knocks named in news have been announced. An announcement
 * is written after the one before was read (announcer.js), in the order they came, and
 * knocks announced together are said as their count: a knock announced again before
 * one of news is said before it, or with it as "2 people are waiting to join".
 */
async function listed(waiting, news = []) {
  serverSays('waiting_list', { waiting });
  await eventually(() => node('waiting-list').children.length === waiting.length &&
    waiting.every((w, i) => node('waiting-list').children[i].dataset.participantId === w.participantId), 'the list shown');
  await eventually(() => news.every((name) => said(name) > 0), `the announcement of ${news}`);
}

test('a resumed moderator\'s waiting room shows nobody until its list, then announces no knock again nor brings back the closed card', async (t) => {
  const p = page(t);
  await welcomed(p);
  assert.equal(node('btn-waiting').hidden, false, 'a moderator has no waiting room');
  await listed([knock('q1', 'Quin')], ['Quin']);
  assert.equal(said('Quin'), 1);
  assert.equal(node('knock-card').hidden, false);
  node('knock-close').click();

  dropSocket(); // the page reconnects: no session is joined, the waiting room is off
  assert.equal(node('btn-waiting').hidden, true);
  await welcomed(p, { participantId: 'p-mo', secret: SECRET });
  // Between the welcome and its waiting list the room shows no knock: the list from
  // before the drop may name people let in or gone meanwhile.
  assert.equal(node('btn-waiting').hidden, false);
  assert.equal(node('waiting-badge').hidden, true, 'a knock is shown before the server said who waits');
  assert.deepEqual(node('waiting-list').children, []);
  assert.equal(node('knock-card').hidden, true);

  await listed([knock('q1', 'Quin')]);
  assert.equal(said('Quin'), 1, `announced again: ${JSON.stringify(shown)}`);
  assert.equal(node('knock-card').hidden, true, 'the closed knock card came back');
  assert.equal(node('waiting-badge').textContent, '1');
  // Someone who knocks now is new.
  await listed([knock('q1', 'Quin'), knock('q2', 'Rey')], ['Rey']);
  assert.equal(said('Rey'), 1, 'a new knock was not announced');
  assert.equal(said('Quin'), 1, `announced again: ${JSON.stringify(shown)}`);
  assert.equal(node('knock-card').hidden, false);
});

test('a moderator made one again shows no knock from her last list until the new one comes', async (t) => {
  const p = page(t);
  await welcomed(p);
  await listed([knock('r1', 'Ria')], ['Ria']);
  serverSays('participant_updated', { participant: { id: 'p-mo', role: 'participant' } });
  assert.equal(node('btn-waiting').hidden, true, 'a participant has a waiting room');
  // Ria is let in by another moderator meanwhile; this page is told nothing of it.
  serverSays('participant_updated', { participant: { id: 'p-mo', role: 'moderator' } });
  assert.equal(node('btn-waiting').hidden, false);
  assert.equal(node('waiting-badge').hidden, true, 'the list from before shows Ria waiting, whom the server no longer has');
  assert.deepEqual(node('waiting-list').children, []);
  await listed([knock('s1', 'Sam')], ['Sam']); // the list that comes with the role
  assert.equal(node('waiting-badge').textContent, '1');
  assert.equal(said('Sam'), 1);
});
