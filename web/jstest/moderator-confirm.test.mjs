// What a moderator is told of its own action ("Muted Ann", "Ann is now a moderator",
// "Everyone except the moderators was muted") comes with the server's `done` naming the
// message (signaling/PROTOCOL.md), not as it is sent: the page said "Muted Ann" before
// the server agreed, and a refusal (no longer a moderator, Ann gone) then followed it
// with the opposite. A refusal says why, and no success after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

const shown = captureShown();
// Buttons that keep their id and click listener (Mute everyone is clicked).
const buttons = [];
document.createElement = ((make) => (tag) => {
  const node = make(tag);
  if (tag !== 'button') return node;
  const on = {};
  const attrs = {};
  const button = new Proxy(node, {
    get: (target, key) => {
      if (key === 'addEventListener') return (type, fn) => { on[type] = fn; };
      if (key === 'click') return () => on.click && on.click();
      if (key === 'setAttribute') return (name, value) => { attrs[name] = value; };
      if (key === 'id') return attrs.id;
      return target[key];
    },
  });
  buttons.push(button);
  return button;
})(document.createElement);

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { MeetingRules } = await import('../static/js/rules.js');
const { ModControls } = await import('../static/js/modctl.js');
const { participantActions, refusalText } = await import('../static/js/moderator.js');
const { t } = await import('../static/js/i18n.js');

test("a moderator's own actions are told when the server says they are done, and refusals say why", async (t0) => {
  const media = new LocalMedia();
  let session = null;
  const modctl = new ModControls({ session: () => session, openPanel() {}, isPanelOpen: () => false });
  const rules = new MeetingRules({ media, controls: () => noop, chat: noop, session: () => session, settingsPanel: noop, roleApplied() {} });
  session = new Session({ meetingId: 'm1', name: 'Mona', media, grid: gridStandIn(), chat: noop,
    ui: uiStandIn({ // as meeting-session-ui.js wires them
      attachSignaling: (sig) => modctl.attach(sig),
      refused: (code, type, ref) => rules.refused(code, type, ref),
    }) });
  t0.after(() => { session.end(); media.stopAll(); });
  const from = sent.length;
  session.start();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  const ann = { id: 'p-ann', name: 'Ann', role: 'participant', media: { mic: true, camera: true, screen: false } };
  serverSays('welcome', { participantId: 'p-mona', e2ee: false, role: 'moderator', participants: [ann],
    settings: { lobby: true, locked: false, screenShare: false, unmute: true, chat: true } });
  await eventually(() => session.joined, 'joined');

  // As meeting-roster.js builds Ann's menu in the people panel.
  const menu = Object.fromEntries(participantActions(ann, modctl.moderate, () => session.settings).map((e) => [e.action, e]));
  const last = (type) => sent.filter((m) => m.type === type).at(-1);

  shown.length = 0;
  menu.mute_microphone.run();
  const mute = last('mute');
  assert.deepEqual(mute.payload, { participantId: 'p-ann', source: 'microphone' });
  await tick(2);
  assert.deepEqual(shown, [], 'told before the server agreed');
  serverSays('participant_updated', { participant: { ...ann, media: { ...ann.media, mic: false } } });
  serverSays('done', undefined, mute.id);
  await tick(2);
  assert.deepEqual(shown, [t('moderator.muted', { name: 'Ann' })]);
  serverSays('done', undefined, mute.id); // said once
  await tick(2);
  assert.equal(shown.length, 1);

  // Refused: why, and never that it was done.
  shown.length = 0;
  menu.make_moderator.run();
  const role = last('set_role');
  await tick(2);
  assert.deepEqual(shown, []);
  serverSays('error', { code: 'unknown_participant', message: 'gone' }, role.id);
  serverSays('done', undefined, role.id); // a server that says both: the refusal stands
  await tick(2);
  assert.deepEqual(shown, [refusalText('unknown_participant', 'set_role', { moderator: true })]);
  assert.ok(!shown.includes(t('moderator.made-moderator', { name: 'Ann' })));

  // A refusal whose code was told to nobody (invalid_field) says why too.
  shown.length = 0;
  menu.send_to_lobby.run();
  serverSays('error', { code: 'invalid_field', message: 'no' }, last('send_to_lobby').id);
  await tick(2);
  assert.deepEqual(shown, [refusalText('invalid_field', 'send_to_lobby', { moderator: true })]);

  // Mute everyone (moderator-all.js): told once the server is done.
  shown.length = 0;
  buttons.find((b) => b.id === 'btn-mute-all').click();
  const all = last('mute_all');
  assert.deepEqual(all.payload, { source: 'microphone' });
  await tick(2);
  assert.deepEqual(shown, [], '"Everyone was muted" before the server agreed');
  serverSays('done', undefined, all.id);
  await tick(2);
  assert.deepEqual(shown, [t('modctl.everyone.muted')]);

  // Unanswered when the next session's signaling comes (a resume): forgotten, since
  // that session's message ids start again at 1.
  shown.length = 0;
  menu.ask_unmute.run();
  const asked = last('ask_unmute');
  modctl.attach({ on() {}, typeOf() {} }); // the next session's signaling
  serverSays('done', undefined, asked.id);
  await tick(2);
  assert.deepEqual(shown, []);
});
