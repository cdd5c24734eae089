// In an encrypted meeting a member's name is a placeholder until its sealed name opens
// ("…", read out as "Name not yet received") or for good when it did not verify ("Name
// unknown"). The lists show it as it is, but the sentences that named the member put it
// in the name's place: the moderator was told "Muted …" and "Turned off Name unknown's
// camera", asked "Remove …?", and heard "Actions for …", "Lower …'s hand" and "New message
// from …: hi". Each says "this person" now ("someone" in the chat's announcement, which
// no button or menu puts in context), in English and German (e2ee-names.js sentence), as
// the waiting room's buttons do; a member with a name is named as before (one without,
// "Guest", says "dieser Gast" in German: the last test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, append, seen, spoken, withoutIsolates } from './mini-dom.mjs';
import { eventually } from './harness.mjs';

const doc = installMiniDOM();
const live = append(doc, 'div', 'live');
const confirmDialog = append(doc, 'dialog', 'confirm-dialog');
confirmDialog.open = false;
confirmDialog.showModal = () => { confirmDialog.open = true; };
confirmDialog.close = () => { if (!confirmDialog.open) return; confirmDialog.open = false; confirmDialog.dispatch('close'); };
for (const id of ['confirm-title', 'confirm-text', 'confirm-ok', 'confirm-cancel']) {
  const node = doc.createElement(id.endsWith('ok') || id.endsWith('cancel') ? 'button' : 'p');
  node.setAttribute('id', id);
  confirmDialog.append(node);
}
for (const id of ['btn-leave', 'btn-people', 'people-list', 'grid']) append(doc, id.startsWith('btn') ? 'button' : 'div', id);
// hands.js marks tiles and people-list rows ('#people-list > .person'), none here, with selectors mini-dom lacks.
const selectAll = doc.querySelectorAll;
doc.querySelectorAll = (selector) => (selector.includes('>') ? [] : selectAll(selector));

const { participantActions } = await import('../static/js/moderator.js');
const { renderPeople } = await import('../static/js/people.js');
const { Hands } = await import('../static/js/hands.js');
const { Chat } = await import('../static/js/chat.js');
const { placeholder, PENDING_TEXT, PENDING_LABEL, UNKNOWN_TEXT } = await import('../static/js/e2ee-names.js');
const { rosterMethods } = await import('../static/js/session-roster.js');
const i18n = await import('../static/js/i18n.js');
const { setLanguage } = i18n;
// Sentences as the tests compare them: without the isolates around names (i18n-core.js),
// which seen and spoken leave out too (mini-dom.mjs), as they draw nothing and are not heard.
const t = (key, params) => withoutIsolates(i18n.t(key, params));

const media = { mic: true, camera: true, screen: true };
/** The members as the roster has them: a placeholder's texts read from the catalogue when read. */
const pending = () => placeholder({ id: 'p-pen', role: 'participant', media }, PENDING_TEXT, PENDING_LABEL, t);
const unknown = () => placeholder({ id: 'p-unk', role: 'participant', media }, UNKNOWN_TEXT, UNKNOWN_TEXT, t);
const named = (name) => ({ id: 'p-ida', name, nameLabel: null, role: 'participant', media });

/** told is what the moderator is told of each entry of person's menu, and asked before Remove (settings). */
async function told(person, settings = { lobby: true, locked: false }) {
  const said = {};
  const entries = participantActions(person, (type, payload, s) => { if (s) said[type === 'set_role' ? payload.role : type === 'mute' ? payload.source : type] = t(s.key, s.params); }, () => settings);
  for (const e of entries) if (e.action !== 'remove') e.run();
  const answer = entries.find((e) => e.action === 'remove').run();
  said.title = seen(doc.getElementById('confirm-title'));
  said.question = seen(doc.getElementById('confirm-text'));
  doc.getElementById('confirm-cancel').click();
  await answer;
  return said;
}

test('a moderator is told of and asked about a member whose name is a placeholder as "this person", in English and German', async (t0) => {
  t0.after(() => setLanguage('en'));
  setLanguage('en');
  for (const person of [pending(), unknown()]) {
    assert.deepEqual(await told(person), {
      microphone: 'Muted this person',
      camera: "Turned off this person's camera",
      ask_unmute: 'Asked this person to unmute',
      stop_screen_share: "Stopped this person's screen share",
      presenter: 'This person can now share the screen',
      moderator: 'This person is now a moderator',
      send_to_lobby: 'This person was sent back to the waiting room',
      title: 'Remove this person?',
      question: 'This person will leave the meeting at once. They can ask to join again; a moderator has to let them in.',
    }, person.name);
  }
  assert.match((await told(pending(), { lobby: false })).question, /^This person will leave .* they can come straight back/);
  assert.match((await told(unknown(), { locked: true })).question, /^This person will leave .* locked they cannot/);
  const roles = [];
  participantActions({ ...named('Ida'), role: 'moderator' }, (type, p, s) => roles.push(t(s.key, s.params))).find((e) => e.action === 'remove_moderator').run();
  participantActions(placeholder({ id: 'p-pen', role: 'presenter', media }, PENDING_TEXT, PENDING_LABEL, t), (type, p, s) => roles.push(t(s.key, s.params))).find((e) => e.action === 'remove_presenter').run();
  assert.deepEqual(roles, ['Ida is no longer a moderator', 'This person is no longer a presenter']);

  // Named as before: a name, and "Guest" without one.
  assert.equal((await told(named('Ida'))).microphone, 'Muted Ida');
  assert.equal((await told(named('Ida'))).title, 'Remove Ida?');
  assert.equal((await told(named(''))).microphone, 'Muted Guest');

  setLanguage('de');
  const de = await told(pending());
  assert.equal(de.microphone, 'Diese Person wurde stummgeschaltet');
  assert.equal(de.title, 'Diese Person entfernen?');
  assert.equal(de.question, 'Diese Person verlässt das Meeting sofort. Sie kann erneut um Beitritt bitten; die Moderation muss sie dann einlassen.');
  assert.equal(de.moderator, 'Diese Person moderiert jetzt');
  assert.match((await told(unknown(), { locked: true })).question, /^Diese Person verlässt .* kann sie nicht erneut/);
  assert.equal((await told(named('Ida'))).title, 'Ida entfernen?');
});

test('the menu of a member whose name is a placeholder is "Actions for this person", in English and German', (t0) => {
  t0.after(() => setLanguage('en'));
  const list = append(doc, 'ul');
  const people = [pending(), unknown(), named('Ida')];
  const draw = () => renderPeople(list, people, { moderator: true, actions: (p) => participantActions(p, () => {}) });
  const menuButton = (id) => list.querySelector(`.participant-menu[data-participant-id="${id}"]`);
  for (const [lang, actionsFor, actionsForIda] of [['en', 'Actions for this person', 'Actions for Ida'], ['de', 'Aktionen für diese Person', 'Aktionen für Ida']]) {
    setLanguage(lang);
    draw();
    for (const id of ['p-pen', 'p-unk']) {
      assert.equal(menuButton(id).getAttribute('aria-label'), actionsFor, `${lang} ${id}`);
      menuButton(id).click();
      assert.equal(list.querySelector('.person-actions').getAttribute('aria-label'), actionsFor, `${lang} ${id}: the open menu`);
      menuButton(id).click();
    }
    assert.equal(menuButton('p-ida').getAttribute('aria-label'), actionsForIda);
    // The entry itself still shows the placeholder, read out by its label.
    const entry = list.children.find((li) => li.dataset.participantId === 'p-pen').querySelector('.person-name');
    assert.deepEqual([seen(entry), spoken(entry)], [t(PENDING_TEXT), t(PENDING_LABEL)]);
  }
});

test('the hand of a member whose name is a placeholder is lowered by "Lower this person\'s hand", in English and German', (t0) => {
  t0.after(() => setLanguage('en'));
  const everyone = [pending(), unknown(), named('Ida')];
  const session = { joined: true, ended: false, participantId: 'p-me', isModerator: true, everyone: () => everyone };
  const hands = new Hands({ session: () => session, send() {}, moderate() {}, openPeople() {} });
  t0.after(() => hands.reset()); // the hands' announcement, waiting, is not said with the chat's
  hands.update({ hands: everyone.map((p) => ({ participantId: p.id })) });
  const entries = () => doc.getElementById('hands-list').children;
  for (const [lang, lower, lowerIda] of [['en', "Lower this person's hand", "Lower Ida's hand"], ['de', 'Hand dieser Person senken', 'Hand von Ida senken']]) {
    setLanguage(lang);
    hands.render();
    const labels = entries().map((li) => li.querySelector('.btn-lower-hand').getAttribute('aria-label'));
    assert.deepEqual(labels, [lower, lower, lowerIda], lang);
    // The list shows the placeholder as the participant list does.
    const name = entries()[0].querySelector('.hand-name');
    assert.deepEqual([seen(name), spoken(name)], [t(PENDING_TEXT), t(PENDING_LABEL)]);
  }
});

test('a chat message from a member whose name is a placeholder is announced as from "someone", in English and German', async (t0) => {
  t0.after(() => setLanguage('en'));
  const chat = new Chat({ list: append(doc, 'ol'), input: append(doc, 'textarea'), send: append(doc, 'button'), badge: append(doc, 'span'), button: append(doc, 'button'), onSend: () => true });
  chat.selfId = 'p-me';
  chat.setOpen(false);
  // Lines without a time: a switch of language writes the times again from the dateTime
  // property, which mini-dom's <time> lacks.
  const NO_TIME = 'no time';
  // As an encrypted meeting's session gives the chat its lines (session-roster.js).
  const session = Object.assign(Object.create(rosterMethods), {
    joined: true, ended: false, e2ee: true, participantId: 'p-me', name: 'Mia', chat, chatQueue: [], participants: new Map(),
    keys: { decryptChat: async () => 'Slide 4, please' },
    _shownName: (id) => ({ 'p-pen': pending(), 'p-ida': named('Ida') })[id],
  });
  for (const [lang, want] of [['en', 'New message from someone: Slide 4, please'], ['de', 'Neue Nachricht von jemandem: Slide 4, please']]) {
    setLanguage(lang);
    live.textContent = '';
    session._chat({ messageId: `m-${lang}`, from: 'p-pen', name: 'from the server', text: 'sealed', sentAt: NO_TIME });
    await eventually(() => live.textContent !== '', 'the announcement');
    assert.equal(live.textContent, want);
  }
  setLanguage('en');
  live.textContent = '';
  session._chat({ messageId: 'm-ida', from: 'p-ida', name: 'from the server', text: 'sealed', sentAt: NO_TIME });
  await eventually(() => live.textContent !== '', 'the announcement');
  assert.equal(live.textContent, 'New message from Ida: Slide 4, please');

  // A waiting text whose sender's name came with its key is announced by that name.
  live.textContent = '';
  const line = chat.add({ messageId: 'm-w', from: 'p-pen', name: t(PENDING_TEXT), nameLabel: t(PENDING_LABEL), sentAt: NO_TIME, pending: true });
  line.fill('Agreed', 'Pia');
  await eventually(() => live.textContent !== '', 'the announcement of the filled text');
  assert.equal(live.textContent, 'New message from Pia: Agreed');
});

// A member without a name is "Guest" ("Gast") in the lists, and German put the bare noun
// in the name's place of every label and word about its row: "Aktionen für Gast", "Hand
// von Gast senken", "Kamera von Gast ausgeschaltet", "Gast verlässt das Meeting sofort".
// It says "dieser Gast" now, as a placeholder's says "diese Person" (the row or the
// action says which guest); English names it "Guest", as the row does, as before.
test('a label or a moderator\'s word about a member without a name says "dieser Gast" in German and "Guest" in English', async (t0) => {
  t0.after(() => setLanguage('en'));
  const guest = () => ({ ...named(''), id: 'p-guest' });
  const list = append(doc, 'ul');
  const everyone = [guest()];
  const session = { joined: true, ended: false, participantId: 'p-me', isModerator: true, everyone: () => everyone };
  const hands = new Hands({ session: () => session, send() {}, moderate() {}, openPeople() {} });
  t0.after(() => hands.reset());
  hands.update({ hands: [{ participantId: 'p-guest' }] });
  /** labels are the row's menu button's and its open menu's, and the raised hand's button. */
  const labels = () => {
    renderPeople(list, everyone, { moderator: true, actions: (p) => participantActions(p, () => {}) });
    const button = list.querySelector('.participant-menu[data-participant-id="p-guest"]');
    const menu = button.getAttribute('aria-label');
    button.click();
    const group = list.querySelector('.person-actions').getAttribute('aria-label');
    button.click();
    hands.render();
    const lower = hands.list.children[0].querySelector('.btn-lower-hand').getAttribute('aria-label'); // this Hands' own list
    return { menu, group, lower };
  };
  setLanguage('de');
  assert.deepEqual(labels(), { menu: 'Aktionen für diesen Gast', group: 'Aktionen für diesen Gast', lower: 'Hand dieses Gastes senken' });
  assert.deepEqual(await told(guest()), {
    microphone: 'Dieser Gast wurde stummgeschaltet',
    camera: 'Kamera dieses Gastes ausgeschaltet',
    ask_unmute: 'Dieser Gast wurde gebeten, das Mikrofon einzuschalten',
    stop_screen_share: 'Bildschirmfreigabe dieses Gastes beendet',
    presenter: 'Dieser Gast kann jetzt den Bildschirm freigeben',
    moderator: 'Dieser Gast moderiert jetzt',
    send_to_lobby: 'Dieser Gast wurde zurück in den Warteraum geschickt',
    title: 'Diesen Gast entfernen?',
    question: 'Dieser Gast verlässt das Meeting sofort. Die Person kann erneut um Beitritt bitten; die Moderation muss sie dann einlassen.',
  });
  assert.match((await told(guest(), { lobby: false })).question, /^Dieser Gast verlässt .* kann die Person mit dem Link sofort zurückkommen/);
  assert.match((await told(guest(), { locked: true })).question, /^Dieser Gast verlässt .* kann die Person nicht erneut/);
  const roles = [];
  participantActions({ ...guest(), role: 'moderator' }, (type, p, s) => roles.push(t(s.key, s.params))).find((e) => e.action === 'remove_moderator').run();
  participantActions({ ...guest(), role: 'presenter' }, (type, p, s) => roles.push(t(s.key, s.params))).find((e) => e.action === 'remove_presenter').run();
  assert.deepEqual(roles, ['Dieser Gast moderiert nicht mehr', 'Dieser Gast hat kein Vortragsrecht mehr']);
  // The row itself shows "Gast", as before.
  assert.equal(list.querySelector('.person-name').textContent, 'Gast');

  setLanguage('en');
  assert.deepEqual(labels(), { menu: 'Actions for Guest', group: 'Actions for Guest', lower: "Lower Guest's hand" });
  assert.deepEqual(await told(guest()), {
    microphone: 'Muted Guest',
    camera: "Turned off Guest's camera",
    ask_unmute: 'Asked Guest to unmute',
    stop_screen_share: "Stopped Guest's screen share",
    presenter: 'Guest can now share the screen',
    moderator: 'Guest is now a moderator',
    send_to_lobby: 'Guest was sent back to the waiting room',
    title: 'Remove Guest?',
    question: 'Guest will leave the meeting at once. They can ask to join again; a moderator has to let them in.',
  });
});
