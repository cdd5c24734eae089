// A member without a name is "Guest" in the waiting room, the roster, on its tile and in
// the chat ("New message from Guest"), but its join and leave toasts said "Someone
// joined", "Someone left": two names for one person, and a screen-reader user heard of
// a "Someone" the roster then calls "Guest". A sentence names a person one way now
// (e2ee-names.js spokenName): "Guest" without a name, "Someone" only while a name is a
// placeholder ("…" before an encrypted meeting's sealed name opened, "Name unknown").
// English news names such a member as a name ("Guest joined"); German news is a whole
// sentence, which needs the article a name has not: "Ein Gast ist beigetreten", not "Gast
// ist beigetreten" (e2ee-names.js A_GUEST).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown } from './media-standins.mjs';
import { eventually } from './harness.mjs';
import { withoutIsolates } from './mini-dom.mjs';

const shown = captureShown();
const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { t, setLanguage } = await import('../static/js/i18n.js');
const { spokenName, sentence } = await import('../static/js/e2ee-names.js');
const { gathered } = await import('../static/js/presence-toasts.js');

test('a member without a name joins and leaves as "Guest", in English and German', async (t0) => {
  t0.after(() => setLanguage('en'));
  for (const [lang, joined, left] of [['en', 'Guest joined', 'Guest left'], ['de', 'Ein Gast ist beigetreten', 'Ein Gast hat das Meeting verlassen']]) {
    setLanguage(lang);
    const media = new LocalMedia();
    const session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
    const from = sent.length;
    session.start();
    await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
    serverSays('welcome', { participantId: `p-ann-${lang}`, e2ee: false, role: 'participant', participants: [] });
    await eventually(() => session.joined, 'joined');
    shown.length = 0;
    serverSays('participant_joined', { participant: { id: `p-nameless-${lang}`, name: '', role: 'participant' } });
    serverSays('participant_left', { participantId: `p-nameless-${lang}` });
    await eventually(() => shown.length >= 2, 'the toasts');
    assert.deepEqual(shown, [joined, left]);
    // The name the chat and the roster give such a member ("Gast" in German).
    assert.ok(shown[0].includes(t('common.guest')), `${shown[0]} does not name a guest as the roster does`);
    session.end();
    media.stopAll();
  }
});

test('a sentence names a person "Guest" without a name and "Someone" only for a placeholder', () => {
  assert.equal(spokenName({ name: '', nameLabel: null }, t), t('common.guest'));
  assert.equal(spokenName({ name: 'Kai', nameLabel: null }, t), 'Kai');
  assert.equal(spokenName({ name: t('e2ee14.names.pending'), nameLabel: t('e2ee14.names.pending-label') }, t), t('waiting.someone'));
  assert.equal(spokenName({ name: t('e2ee14.names.unknown'), nameLabel: t('e2ee14.names.unknown') }, t), t('waiting.someone'));
});

test('German news of a member without a name is natural: "Ein Gast …", and two are counted, not named', (t0) => {
  t0.after(() => setLanguage('en'));
  const guest = { id: 'p-g1', name: '', nameLabel: null };
  const other = { id: 'p-g2', name: '', nameLabel: null };
  const anna = { id: 'p-anna', name: 'Anna', nameLabel: null };
  const ben = { id: 'p-ben', name: 'Ben', nameLabel: null };
  // As hands.js, waiting.js and chat.js say a sentence naming a person.
  const sentenceText = (key, person, _t, params = {}) => {
    const said = sentence(key, person, t, params);
    return t(said.key, said.params);
  };
  // Compared without the isolates around names (i18n-core.js), which draw nothing and are not heard.
  const unisolated = (texts) => Object.fromEntries(Object.entries(texts).map(([k, v]) => [k, withoutIsolates(v)]));
  const texts = () => unisolated({
    joined: gathered('joined', [guest]),
    left: gathered('left', [guest]),
    twoGuests: gathered('joined', [guest, other]),
    annaAndGuest: gathered('left', [anna, guest]),
    guestAnnaBen: gathered('joined', [guest, anna, ben]),
    hand: sentenceText('modctl.hands.raisedBy', guest, t),
    knock: sentenceText('waiting.knock.one', guest, t),
    knockWrong: sentenceText('e2ee14.knock.card-wrong', guest, t),
    chat: sentenceText('chat.announce', guest, t, { text: 'Hallo' }),
    // A label about the person in a list's row says which: "this guest" in German,
    // "Guest" as the row shows it in English.
    admit: sentenceText('waiting.admit.label', guest, t),
    deny: sentenceText('waiting.deny.label', guest, t),
    admitWrong: sentenceText('e2ee14.knock.admit-anyway.label', guest, t),
    admitUnchecked: sentenceText('e2ee14.knock.admit-unchecked.label', guest, t),
    named: sentenceText('waiting.knock.one', anna, t),
  });
  setLanguage('de');
  assert.deepEqual(texts(), {
    joined: 'Ein Gast ist beigetreten',
    left: 'Ein Gast hat das Meeting verlassen',
    twoGuests: '2 Personen sind beigetreten',
    annaAndGuest: '2 Personen haben das Meeting verlassen',
    guestAnnaBen: 'Anna, Ben und eine weitere Person sind beigetreten',
    hand: 'Ein Gast hat die Hand gehoben',
    knock: 'Ein Gast wartet auf Einlass',
    knockWrong: 'Ein Gast wartet auf Einlass (falscher Link)',
    chat: 'Neue Nachricht von einem Gast: Hallo',
    admit: 'Diesen Gast einlassen',
    deny: 'Diesen Gast ablehnen',
    admitWrong: 'Diesen Gast trotzdem einlassen, obwohl der Link falsch ist',
    admitUnchecked: 'Diesen Gast trotzdem einlassen, obwohl der Link noch nicht verifiziert ist',
    named: 'Anna wartet auf Einlass',
  });
  setLanguage('en');
  assert.deepEqual(texts(), {
    joined: 'Guest joined',
    left: 'Guest left',
    twoGuests: '2 people joined',
    annaAndGuest: '2 people left',
    guestAnnaBen: 'Anna, Ben and 1 other joined',
    hand: 'Guest raised their hand',
    knock: 'Guest is waiting to join',
    knockWrong: 'Guest is waiting to join (wrong link)',
    chat: 'New message from Guest: Hallo',
    admit: 'Admit Guest',
    deny: 'Deny Guest',
    admitWrong: "Admit anyway, although Guest's link is wrong",
    admitUnchecked: "Admit anyway, although Guest's link is not verified yet",
    named: 'Anna is waiting to join',
  });
});
