// A screen share the server stops itself, because a change of settings or role took the
// permission away (media_command stop_screen with `by` ""), is not announced as a
// moderator's personal stop: the presenter was told "A moderator stopped your screen
// share" when a moderator had turned screen sharing off for all participants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

const shown = captureShown();
const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { MeetingRules } = await import('../static/js/rules.js');
const { t } = await import('../static/js/i18n.js');

/**
 * sharingSession is Pia's Session with the meeting's rules wired as meeting.js wires
 * them; stops records the screen shares the rules turned off.
 */
function sharingSession(t0) {
  const media = new LocalMedia();
  let session = null;
  const stops = [];
  const controls = new Proxy({ forceScreenOff: () => stops.push('screen') }, { get: (o, k) => (k in o ? o[k] : () => {}) });
  const rules = new MeetingRules({ media, controls: () => controls, chat: noop, session: () => session, settingsPanel: noop, roleApplied() {} });
  session = new Session({ meetingId: 'm1', name: 'Pia', media, grid: gridStandIn(), chat: noop,
    ui: uiStandIn({
      mediaCommand: (command, by, all) => rules.mediaCommand(command, all, by),
      settingsChanged: (old, now) => rules.settingsChanged(old, now),
      roleChanged: (old, now) => rules.roleChanged(old, now),
    }) });
  t0.after(() => { session.end(); media.stopAll(); });
  return { media, session, stops };
}

test('a share stopped by a change of the rules says so; one a moderator stopped says that', async (t0) => {
  const { media, session, stops } = sharingSession(t0);
  const from = sent.length;
  session.start();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-pia', e2ee: false, role: 'participant', participants: [],
    settings: { lobby: true, locked: false, screenShare: true, unmute: true, chat: true } });
  await eventually(() => session.joined, 'joined');

  shown.length = 0;
  serverSays('media_command', { command: 'stop_screen', by: '' }); // screen sharing turned off for participants
  await tick(2);
  assert.deepEqual(stops, ['screen']);
  assert.ok(shown.includes(t('rules.share-not-allowed')), `told: ${shown}`);
  assert.ok(!shown.includes(t('rules.share-stopped')), 'a change of settings was announced as a moderator stopping the share');

  shown.length = 0;
  serverSays('media_command', { command: 'stop_screen', by: 'p-mod' });
  await tick(2);
  assert.ok(shown.includes(t('rules.share-stopped')), `told: ${shown}`);
  assert.notEqual(t('rules.share-not-allowed'), t('rules.share-stopped'));
});

// A share that a change of settings ends is told once. The page stops it as the
// `settings` come and says so; the server's own stop_screen (by "") follows, and said it
// again: the presenter got "Only presenters and moderators may share their screen now"
// and "Your screen share ended: you may no longer share your screen" at once. A role
// lost while sharing still says that the share ended (once), besides the new role.
test('a share ended by a change of settings or role is told once', async (t0) => {
  const { Track } = await import('./media-standins.mjs');
  const { media, session, stops } = sharingSession(t0);
  const toasts = [];
  const said = document.getElementById;
  document.getElementById = (id) => (id === 'toasts' ? { append: (item) => toasts.push(item.textContent), querySelectorAll: () => [] } : said(id));
  t0.after(() => { document.getElementById = said; });
  const from = sent.length;
  session.start();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  const settings = { lobby: true, locked: false, screenShare: true, unmute: true, chat: true };
  serverSays('welcome', { participantId: 'p-pia', e2ee: false, role: 'participant', participants: [], settings });
  await eventually(() => session.joined, 'joined');

  media.screenTrack = new Track('video', 'screen'); // sharing
  serverSays('settings', { settings: { ...settings, screenShare: false } });
  serverSays('media_command', { command: 'stop_screen', by: '' }); // the server's stop, which follows
  await tick(2);
  assert.deepEqual(stops, ['screen', 'screen']);
  assert.deepEqual(toasts, [t('settings.news.share-ended')], 'the share ended by the settings is told once');

  // Presenters may share whatever the setting; one who stops being one while sharing.
  serverSays('participant_updated', { participant: { id: 'p-pia', role: 'presenter', media: { mic: false, camera: false, screen: false } } });
  await tick(2);
  toasts.length = 0;
  media.screenTrack = new Track('video', 'screen');
  serverSays('participant_updated', { participant: { id: 'p-pia', role: 'participant', media: { mic: false, camera: false, screen: true } } });
  serverSays('media_command', { command: 'stop_screen', by: '' });
  await tick(2);
  assert.deepEqual(toasts, [t('rules.no-longer-presenter'), t('rules.share-not-allowed')]);
});
