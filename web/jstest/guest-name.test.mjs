// A member without a name is "Guest" in the waiting room, the roster, on its tile and in
// the chat ("New message from Guest"), but its join and leave toasts said "Someone
// joined", "Someone left": two names for one person, and a screen-reader user heard of
// a "Someone" the roster then calls "Guest". A sentence names a person one way now
// (e2ee-names.js spokenName): "Guest" without a name, "Someone" only while a name is a
// placeholder ("…" before an encrypted meeting's sealed name opened, "Name unknown").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown } from './media-standins.mjs';
import { eventually } from './harness.mjs';

const shown = captureShown();
const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { t, setLanguage } = await import('../static/js/i18n.js');
const { spokenName } = await import('../static/js/e2ee-names.js');

test('a member without a name joins and leaves as "Guest", in English and German', async (t0) => {
  t0.after(() => setLanguage('en'));
  for (const [lang, joined, left] of [['en', 'Guest joined', 'Guest left'], ['de', 'Gast ist beigetreten', 'Gast hat das Meeting verlassen']]) {
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
    // The name the chat and the roster give such a member.
    assert.equal(shown[0], t('meeting.joined-toast', { name: t('common.guest') }));
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
