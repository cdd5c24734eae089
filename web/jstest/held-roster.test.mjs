// The meeting as it was before this page's connection dropped stays in view while the
// page reconnects (held-roster.js). The dropped Session let go of its roster and cleared
// the tiles (Session.end), so behind "Reconnecting…" the people panel listed nobody and
// the grid was empty, under the count kept from before the drop. Now the people list
// shows who was there, dimmed and without a moderator's menus, a note before it telling
// a screen reader it is from before the drop (not aria-busy, which may have the list
// skipped for as long as the page reconnects), which is also the list's description
// meanwhile (one who jumps or tabs to the list went past the note), the tiles stay
// with their last picture, marked reconnecting, and the resumed welcome's roster replaces
// them: who left meanwhile goes then, told of by nobody (no "left" for someone who was
// merely there before the drop). A resume given up clears everything, as before.
//
// The page's glue (meeting-session-ui.js: the Session's ui.dropped; meeting.js: onJoined;
// meeting-end.js: stopped; meeting-roster.js: renderRoster) is played by `page` with
// the same calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, noop, dropSocket, dropAndResume } from './media-standins.mjs';
import { installMiniDOM, append, seen, spoken } from './mini-dom.mjs';
import { FakeClock, eventually } from './harness.mjs';

const { location } = globalThis.window;
const doc = installMiniDOM();
Object.assign(globalThis.window, { location, fetch: async () => ({ ok: true, status: 200 }) }); // the server is up
for (const id of ['participant-count', 'people-count', 'downlink-hint']) append(doc, 'span', id);
append(doc, 'button', 'btn-people');
// The page's confirmation dialog (confirm.js), modal as the browser's.
const confirmDialog = append(doc, 'dialog', 'confirm-dialog');
confirmDialog.open = false;
confirmDialog.showModal = () => { confirmDialog.open = true; };
confirmDialog.close = () => { if (!confirmDialog.open) return; confirmDialog.open = false; confirmDialog.dispatch('close'); };
for (const [tag, id] of [['h2', 'confirm-title'], ['p', 'confirm-text'], ['button', 'confirm-ok'], ['button', 'confirm-cancel']]) {
  const node = doc.createElement(tag);
  node.setAttribute('id', id);
  confirmDialog.append(node);
}

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Reconnect } = await import('../static/js/reconnect.js');
const { renderPeopleCount } = await import('../static/js/people-count.js');
const { HeldRoster } = await import('../static/js/held-roster.js');
const { Grid } = await import('../static/js/grid.js');
const { renderPeople } = await import('../static/js/people.js');
const { participantActions } = await import('../static/js/moderator.js');
const { SpeakingIndicators } = await import('../static/js/speaking-ui.js');
const { setLanguage, setText } = await import('../static/js/i18n.js');

const SECRET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const person = (id, name) => ({ id, name, role: 'participant', media: { mic: true, camera: true, screen: id === 'p-cy' } });
const welcome = (extra = {}) => ({ participantId: 'p-ann', e2ee: false, participants: [], role: 'moderator', resumeSecret: SECRET, ...extra });
const liveTrack = () => ({ kind: 'video', readyState: 'live', muted: false, addEventListener() {}, removeEventListener() {} });

/** page is meeting.js's glue around one person's sessions, the grid, the people list and what is held. */
function page(t) {
  const media = new LocalMedia();
  const root = append(doc, 'div', 'grid');
  const grid = new Grid(root);
  // As meeting.html's people panel: the visually hidden note, then the list.
  const note = setText(append(doc, 'p', 'people-held'), 'people.held');
  note.className = 'sr-only';
  note.hidden = true;
  const list = append(doc, 'ul', 'people-list');
  const p = { media, grid, list, note, session: null, sessions: [], told: [], gaveUp: null };
  const live = () => (p.session && !p.session.ended ? p.session : null);
  // Who speaks as the server says (speaking-ui.js), from each session's signaling.
  const speaking = new SpeakingIndicators({ session: () => p.session, grid });
  const held = new HeldRoster({ grid, media, speaking });
  // Whom the sessions told joined or left (presence-toasts.js, the page's one).
  const presence = { joined: (x) => p.told.push(`${x.name} joined`), left: (x) => p.told.push(`${x.name} left`) };
  const renderRoster = () => {
    const people = held.shown(live());
    renderPeopleCount(people);
    const s = live();
    renderPeople(list, people, { moderator: !!s && s.isModerator, actions: () => [] });
    held.mark({ list, note }, people);
  };
  const stopped = () => {
    held.forget();
    renderRoster();
  };
  p.reconnect = new Reconnect({
    attempt: (resume) => p.open(resume),
    clock: new FakeClock(), // its backoff: dropAndResume moves it on (media-standins.mjs)
    giveUp: (kind) => { p.gaveUp = kind; stopped(); },
  });
  p.open = (resume = null) => {
    const session = new Session({
      meetingId: 'm1', name: 'Ann', media, grid, chat: noop, resume, presence,
      ui: new Proxy({
        resumable: (id, secret) => p.reconnect.remember(id, secret),
        attachSignaling: (sig) => speaking.attach(sig),
        rosterChanged: renderRoster,
        joined: () => { held.replacedBy(session); p.reconnect.joined(); renderRoster(); },
        dropped: (people) => {
          const resuming = p.reconnect.dropped();
          if (resuming) {
            held.hold(people);
            renderRoster();
          }
          return resuming;
        },
        failed: (kind) => { if (!p.reconnect.failed(kind)) stopped(); }, // showError
      }, { get: (target, key) => (key in target ? target[key] : () => {}) }),
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
    root.remove();
    note.remove();
    list.remove();
  });
  return p;
}

/**
 * listed: the people list as it is read: [name, a menu for a moderator]; the note a
 * screen reader reads before it ('' when there is none); the list's description, read
 * with it by a screen reader that jumps or tabs to it ('' when there is none); whether
 * the list is busy (which a screen reader may skip) and whether it is dimmed for the eye.
 */
function listed(p) {
  const rows = p.list.querySelectorAll('.person').map((li) => [seen(li.querySelector('.person-name')), !!li.querySelector('.participant-menu')]);
  return {
    rows,
    note: spoken(p.note),
    described: description(p.list),
    busy: p.list.getAttribute('aria-busy') === 'true',
    dimmed: p.list.dataset.held === 'true',
  };
}

/** description is node's accessible description: the text of what its aria-describedby names, hidden or not. */
function description(node) {
  const ids = (node.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
  return ids.map((id) => {
    const named = doc.getElementById(id);
    assert.ok(named, `aria-describedby names "${id}", which is not in the page`);
    return named.textContent;
  }).join(' ');
}

/** tiles: each tile as [id/source, its track is the one it had, marked reconnecting]. */
function tiles(p, tracks = new Map()) {
  return [...p.grid.tiles.values()].map((tl) => [`${tl.participantId}/${tl.source}`, tracks.has(tl) ? tl.track === tracks.get(tl) : null, tl.node.dataset.reconnecting === 'true']);
}

/** withFour: Ann, a moderator, joined with Bo, Cy and Di, Cy and Ann sharing their screens, each tile with a picture. */
async function withFour(t) {
  const p = page(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome({ participants: [person('p-bo', 'Bo'), person('p-cy', 'Cy'), person('p-di', 'Di')] }));
  await eventually(() => p.session.joined, 'the welcome');
  p.grid.ensure({ participantId: 'p-cy', source: 'screen', name: 'Cy' });
  p.grid.ensure({ participantId: 'p-ann', source: 'screen', self: true, name: 'Ann' }); // Ann shares too (controls.js)
  const tracks = new Map();
  for (const tl of p.grid.tiles.values()) {
    if (tl.self) continue;
    tl.video.play = () => Promise.resolve();
    tl.setTrack(liveTrack());
    tracks.set(tl, tl.track);
  }
  return { p, tracks };
}

test('behind "Reconnecting…" the people and tiles from before the drop stay, marked as not current; the resumed welcome replaces them', async (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const { p, tracks } = await withFour(t);
  assert.deepEqual(listed(p), { rows: [['Ann (you)', false], ['Bo', true], ['Cy', true], ['Di', true]], note: '', described: '', busy: false, dimmed: false });
  p.told.length = 0;

  await dropAndResume(p);
  await dropAndResume(p); // an attempt that drops before its welcome keeps them too
  assert.deepEqual(listed(p), {
    rows: [['Ann (you)', false], ['Bo', false], ['Cy', false], ['Di', false]],
    note: 'This list shows who was in the meeting before the connection dropped.',
    described: 'This list shows who was in the meeting before the connection dropped.',
    busy: false,
    dimmed: true,
  }, 'the people list is not the one from before the drop, readable, said (also to one who jumps or tabs to it) and seen to be, without a moderator\'s menus');
  assert.deepEqual(tiles(p, tracks), [
    ['p-ann/camera', null, false], ['p-bo/camera', true, true], ['p-cy/camera', true, true], ['p-di/camera', true, true],
    ['p-cy/screen', true, true], ['p-ann/screen', null, false],
  ], 'the tiles are not kept with their last picture, marked reconnecting');
  assert.equal(doc.getElementById('participant-count').textContent, '4');
  setLanguage('de'); // a switch meanwhile draws the held list in the new language
  assert.deepEqual(listed(p).rows[0], ['Ann (Sie)', false]);
  assert.equal(listed(p).note, 'Diese Liste zeigt, wer vor dem Verbindungsabbruch im Meeting war.');
  assert.equal(listed(p).described, 'Diese Liste zeigt, wer vor dem Verbindungsabbruch im Meeting war.');
  setLanguage('en');

  // Di left while this page was away, Cy stopped sharing.
  const cy = { ...person('p-cy', 'Cy'), media: { mic: true, camera: true, screen: false } };
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo', 'Bo'), cy] }));
  await eventually(() => p.session.joined, 'the resumed welcome');
  assert.deepEqual(listed(p), { rows: [['Ann (you)', false], ['Bo', true], ['Cy', true]], note: '', described: '', busy: false, dimmed: false },
    'the list of now is said to be from before the drop');
  // Ann's own screen comes back once the resumed session sends it (controls.js resumeScreen), if it may.
  assert.deepEqual(tiles(p, tracks), [['p-ann/camera', null, false], ['p-bo/camera', false, false], ['p-cy/camera', false, false]],
    'the roster of now does not replace the held one, or the dropped connection\'s picture stays');
  assert.equal(doc.getElementById('participant-count').textContent, '3');
  assert.deepEqual(p.told, [], 'coming back is told as a leave or a join');
});

test('a resume given up keeps nothing of the meeting in view', async (t) => {
  const { p } = await withFour(t);
  await dropAndResume(p);
  assert.equal(listed(p).rows.length, 4);
  const resume = sent.find((m) => m.type === 'resume');
  serverSays('error', { code: 'resume_failed' }, resume.id);
  dropSocket(4401);
  assert.equal(p.gaveUp, 'resume_failed');
  assert.equal(p.grid.tiles.size, 0, 'tiles stay after the resume was given up');
  assert.deepEqual(listed(p), { rows: [], note: '', described: '', busy: false, dimmed: false }, 'the people list stays after the resume was given up');
  assert.equal(doc.getElementById('participant-count').textContent, '');
});

test('a question asked before the drop ("Remove Bo?") is cancelled behind "Reconnecting…", and sends nothing after the resume', async (t) => {
  const { p } = await withFour(t);
  // As the people panel builds Bo's menu; a moderator's message goes out on a joined session only (modctl.js).
  const moderate = (type, payload) => {
    const s = p.session;
    return s && s.joined && !s.ended ? s.moderate(type, payload) : null;
  };
  const bo = p.session.everyone().find((x) => x.id === 'p-bo');
  const remove = participantActions(bo, moderate, () => p.session.settings).find((e) => e.action === 'remove');
  const asked = remove.run();
  assert.equal(confirmDialog.open, true, '"Remove Bo?" is not asked');

  await dropAndResume(p);
  assert.equal(confirmDialog.open, false, 'the question about Bo stays open above "Reconnecting…", its OK sending nothing');

  sent.length = 0;
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo', 'Bo'), person('p-cy', 'Cy'), person('p-di', 'Di')] }));
  await eventually(() => p.session.joined, 'the resumed welcome');
  doc.getElementById('confirm-ok').click(); // a dialog still open, confirmed now
  await asked;
  assert.deepEqual(sent.filter((m) => m.type === 'remove'), [], 'a question from before the drop removed Bo after the resume');
});

test('behind "Reconnecting…" nobody is shown speaking, as the server said before the drop, while the server cannot be reached', async (t) => {
  const { p } = await withFour(t);
  serverSays('speaking', { dominant: 'p-bo', speaking: ['p-bo'], recent: ['p-bo'] });
  const marked = () => [...p.grid.tiles.values()].filter((tl) => tl.node.dataset.speaking === 'true' || tl.node.querySelector(':scope > .tile-speaking'))
    .map((tl) => `${tl.participantId}/${tl.source}`);
  assert.deepEqual(marked(), ['p-bo/camera'], 'Bo is not shown speaking');

  // The network is down: no attempt gets to the server (reconnect-core.js reachable) for as long as it stays down.
  const { fetch } = globalThis.window;
  t.after(() => { globalThis.window.fetch = fetch; });
  globalThis.window.fetch = async () => { throw new TypeError('offline'); };
  const before = p.session;
  dropSocket();
  assert.equal(p.reconnect.active, true, 'the page does not resume');
  assert.equal(p.session, before, 'an attempt was made');
  assert.equal(listed(p).dimmed, true, 'the roster from before the drop is not held');
  assert.deepEqual(marked(), [], 'a held tile is shown speaking behind "Reconnecting…"');
});

// A moderator moving through the people list with the keyboard when the link drops: the
// held list has no menus, so the focused menu button went with the redraw and the focus
// fell to the top of the page, where the resume left it. The person's row holds it
// meanwhile (it can be focused only while it has it), the menu button gets it back once
// the list is live again, and the list itself keeps it when that person left meanwhile.
test('the focus on a person\'s menu button stays with that person across the drop and the resume', async (t) => {
  const { p } = await withFour(t);
  const menuButton = (id) => p.list.querySelector(`.participant-menu[data-participant-id="${id}"]`);
  const row = (id) => p.list.querySelector(`.person[data-participant-id="${id}"]`);
  const focused = () => {
    const a = doc.activeElement;
    if (a === p.list) return 'the list';
    if (!p.list.contains(a)) return `${a.tagName} outside the list`;
    return `${a.tagName} of ${a.dataset.participantId}`;
  };
  menuButton('p-bo').focus();
  assert.equal(focused(), 'BUTTON of p-bo');

  await dropAndResume(p);
  assert.equal(listed(p).dimmed, true, 'the roster from before the drop is not held');
  assert.equal(focused(), 'LI of p-bo', 'the focus left Bo\'s row when the held list was drawn');
  assert.equal(doc.activeElement, row('p-bo'));
  await dropAndResume(p); // drawn again while still held
  assert.equal(focused(), 'LI of p-bo', 'the focus left Bo\'s row when the held list was drawn again');

  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo', 'Bo'), person('p-cy', 'Cy'), person('p-di', 'Di')] }));
  await eventually(() => p.session.joined, 'the resumed welcome');
  assert.equal(doc.activeElement, menuButton('p-bo'), `the focus is not back on Bo's menu button once the list is live: ${focused()}`);

  // Di's menu button, and Di is gone when the page comes back: the list keeps the focus.
  menuButton('p-di').focus();
  await dropAndResume(p);
  assert.equal(focused(), 'LI of p-di');
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo', 'Bo'), person('p-cy', 'Cy')] }));
  await eventually(() => p.session.joined, 'the resumed welcome');
  assert.equal(focused(), 'the list', 'the focus left the list when the person on whose row it was had left');
  assert.equal(p.list.getAttribute('tabindex'), '-1', 'the list has the focus without being focusable');
  menuButton('p-bo').focus(); // the focus moves on: the list's blur
  assert.equal(p.list.getAttribute('tabindex'), null, 'the list stays out of the tab order after it lost the focus');
});

// The window losing the focus (the person switches to another window while the page
// reconnects) fires blur at the focused element, which stays the document's active
// element and gets the focus back with the window. The row or list holding the focus
// in passing lost its tabindex at that blur, and with it the focus (Chromium moves the
// focus of an element that can no longer be focused to the body): back in the window,
// the place was lost after all, and the resume found nothing to give the focus back to.
test('the focus held on a row or the list in passing survives the window losing the focus', async (t) => {
  const { p } = await withFour(t);
  const menuButton = (id) => p.list.querySelector(`.participant-menu[data-participant-id="${id}"]`);
  const row = (id) => p.list.querySelector(`.person[data-participant-id="${id}"]`);
  menuButton('p-bo').focus();
  await dropAndResume(p);
  assert.equal(doc.activeElement, row('p-bo'));
  row('p-bo').dispatch('blur'); // the window lost the focus: the row is still the active element
  assert.equal(doc.activeElement, row('p-bo'), 'the row lost the focus when the window did');
  assert.equal(row('p-bo').getAttribute('tabindex'), '-1');
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo', 'Bo'), person('p-cy', 'Cy'), person('p-di', 'Di')] }));
  await eventually(() => p.session.joined, 'the resumed welcome');
  assert.equal(doc.activeElement, menuButton('p-bo'), 'the focus is not back on Bo\'s menu button after the window came back');

  // The list, holding the focus for Di who left: the same, and out of the tab order
  // once the focus really moved on.
  menuButton('p-di').focus();
  await dropAndResume(p);
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo', 'Bo'), person('p-cy', 'Cy')] }));
  await eventually(() => p.session.joined, 'the resumed welcome');
  assert.equal(doc.activeElement, p.list);
  p.list.dispatch('blur');
  assert.equal(doc.activeElement, p.list, 'the list lost the focus when the window did');
  menuButton('p-bo').focus(); // the focus moves on within the page: the list's blur
  assert.equal(p.list.getAttribute('tabindex'), null, 'the list stays out of the tab order after it lost the focus');
});
