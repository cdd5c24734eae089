// Knocks nobody misses (moderators only): a short chime made with WebAudio (nothing to
// download; mutable, the choice remembered on this device), a browser notification while
// the tab is hidden, and the number of people waiting in the tab title ("(2) Meeting ·
// Conclave"), restored when nobody waits any more.
//
// Privacy: the notification names nobody ("Someone is waiting to join", and how many):
// it may show on a lock screen or a shared display. Permission is asked only by a
// moderator's click on #knock-notify, never on its own.
//
// Test hooks: #knock-sound (checkbox, checked = chime on), #knock-notify (button, shown
// while the browser may still ask for permission), the title prefix "(n) ".

import { $, el, toast } from './dom.js';
import { t, onLanguageChange } from './i18n.js';
import { devicePreference, setDevicePreference } from './storage.js';
import { monotonicNow } from './monotonic.js';


/** How long after a chime's start its context is suspended: the chime and a margin. */
const CHIME_SLEEP_MS = 1500;
/**
 * ALERT_GAP_MS is the least time between two alerts (chime and notification): knocks
 * within it share one, given when it is over. Anyone with the link can knock and leave
 * in a loop; each knock is a new id, and alerted each time the moderators' pages chimed
 * without end.
 */
export const ALERT_GAP_MS = 5000;

/** playChime plays two short soft tones on ctx (about 0.4 s). */
function playChime(ctx) {
  const start = ctx.currentTime + 0.02;
  const out = ctx.createGain();
  out.gain.value = 0.25;
  out.connect(ctx.destination);
  [[660, 0], [880, 0.16]].forEach(([freq, at]) => {
    const osc = ctx.createOscillator();
    const env = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    env.gain.setValueAtTime(0.0001, start + at);
    env.gain.exponentialRampToValueAtTime(1, start + at + 0.02);
    env.gain.exponentialRampToValueAtTime(0.0001, start + at + 0.22);
    osc.connect(env).connect(out);
    osc.start(start + at);
    osc.stop(start + at + 0.25);
  });
}

export class KnockAlert {
  /** @param {{isModerator: () => boolean, openWaiting: () => void}} deps */
  constructor(deps) {
    this.deps = deps;
    this.seen = new Set(); // ids already announced in this session
    this.due = new Set(); // ids knocked and waiting, not alerted yet (ALERT_GAP_MS)
    this.count = 0;
    this.ctx = null;
    this.shown = null; // the knock notification on screen (_notify), taken back by _unnotify
    this.sleepTimer = 0;
    this.soundOn = devicePreference('knockSound') !== 'off';
    this._buildControls();
    // A language switch may rewrite the title: put the count back in front.
    onLanguageChange(() => this._title());
    // Browsers keep a page's notification in the system's notification centre after
    // the page is gone (Chromium and Firefox on Windows: whatwg/notifications#204): a
    // closed or reloaded tab takes its knock notification with it.
    if (typeof window.addEventListener === 'function') window.addEventListener('pagehide', () => this._unnotify());
  }

  _buildControls() {
    const panel = $('#waiting-panel');
    const list = $('#waiting-list');
    if (!panel || !list) return;
    this.soundBox = el('input', { id: 'knock-sound', type: 'checkbox', class: 'switch', role: 'switch' });
    this.soundBox.checked = this.soundOn;
    this.soundBox.addEventListener('change', () => {
      this.soundOn = this.soundBox.checked;
      setDevicePreference('knockSound', this.soundOn ? 'on' : 'off');
      if (this.soundOn) this.chime(); // let the moderator hear what it sounds like
    });
    this.notifyBtn = el('button', { id: 'knock-notify', type: 'button', class: 'link-btn', i18n: 'modctl.knock.notify.enable', hidden: true });
    this.notifyBtn.addEventListener('click', () => this._askPermission());
    const row = el('div', { class: 'knock-alert-row' },
      el('label', { class: 'switch-row' },
        el('span', { class: 'switch-text' }, el('strong', { i18n: 'modctl.knock.sound' }), el('span', { i18n: 'modctl.knock.sound.hint' })),
        this.soundBox),
      this.notifyBtn);
    list.before(row);
    this.renderControls();
  }

  /** renderControls shows the notification button while permission can still be asked. */
  renderControls() {
    if (!this.notifyBtn) return;
    const can = typeof window.Notification === 'function' && window.Notification.permission === 'default';
    this.notifyBtn.hidden = !(can && this.deps.isModerator());
  }

  async _askPermission() {
    if (typeof window.Notification !== 'function') return;
    let result = 'denied';
    try {
      result = await window.Notification.requestPermission();
    } catch {
      // an old browser with the callback form only: treat as not granted
    }
    toast(t(result === 'granted' ? 'modctl.knock.notify.on' : 'modctl.knock.notify.off'), { kind: result === 'granted' ? 'success' : 'info' });
    this.renderControls();
  }

  /** update takes the server's waiting list; new knocks alert, the count goes to the title. */
  update(list) {
    if (!this.deps.isModerator()) {
      this.end();
      return;
    }
    const entries = (Array.isArray(list) ? list : []).filter((w) => w && typeof w.participantId === 'string');
    // A knock that continues another (its page knocked again: PROTOCOL.md "Knocking
    // again") is that request still: it is known, and due, by the knock it continues.
    const request = (w) => (typeof w.continues === 'string' && w.continues) || w.participantId;
    // Knocks not alerted yet (the gap held them back) stay due while they wait, also
    // across a reconnect, whose waiting list has them as seen.
    const waiting = new Set(entries.map(request));
    for (const w of entries) if (!this.seen.has(w.participantId) && !this.seen.has(request(w))) this.due.add(request(w));
    for (const id of this.due) if (!waiting.has(id)) this.due.delete(id);
    this.seen = new Set([...waiting, ...entries.map((w) => w.participantId)]);
    this.count = entries.length;
    if (this.count === 0) this._unnotify();
    this._title();
    this.renderControls();
    if (this.due.size > 0) this._alert();
    // The notification says how many wait: one that said more (or fewer) is replaced,
    // quietly, by one with the count of now (same tag; no new sound or banner). After
    // the alert: a knock alerted at once is told by the alert's own notification, with
    // this count; a correction before it made two notifications of one knock.
    if (this.count > 0 && this.shown && this.shownCount !== this.count) this._notify({ quiet: true });
  }

  /** _alert chimes and notifies, at most once per ALERT_GAP_MS; one due meanwhile waits. */
  _alert() {
    const wait = (this.lastAlert || 0) + ALERT_GAP_MS - monotonicNow();
    if (this.lastAlert && wait > 0) {
      if (!this.alertTimer) {
        this.alertTimer = setTimeout(() => {
          this.alertTimer = 0;
          if (this.due.size > 0 && this.deps.isModerator()) this._alert();
        }, wait);
      }
      return;
    }
    this.due.clear();
    this.lastAlert = monotonicNow(); // monotonic.js: a wall clock set back held every alert for the step
    if (this.soundOn) this.chime();
    if (document.hidden) this._notify();
  }

  /**
   * reset restores the title while a reconnect is under way (a new session attaches).
   * The knocks already announced stay known: a knock keeps its id while it waits, so
   * the waiting list a resumed session gets again must not chime for them anew. The
   * notification stays too: the people it tells of still wait while this tab
   * reconnects, and that waiting list takes it back (nobody waits) or corrects its
   * count.
   */
  reset() {
    this.count = 0;
    this._title();
    this.renderControls();
  }

  /** end is reset for good: the session ended or the own role is no longer moderator. */
  end() {
    this.reset();
    this._unnotify();
  }

  chime() {
    try {
      if (!this.ctx) {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx) return;
        this.ctx = new Ctx();
      }
      // Whatever the state says now: a suspend still under way takes effect first.
      this.ctx.resume().catch(() => {});
      playChime(this.ctx);
      // A running context renders silence for as long as it lives: it sleeps between
      // chimes (the next one wakes it above).
      clearTimeout(this.sleepTimer);
      const ctx = this.ctx;
      this.sleepTimer = setTimeout(() => { ctx.suspend().catch(() => {}); }, CHIME_SLEEP_MS);
    } catch {
      // no sound here; the title and the knock card still tell
    }
  }

  /** _notify shows (or, quiet, only corrects) the knock notification with the count of now. */
  _notify({ quiet = false } = {}) {
    if (typeof window.Notification !== 'function' || window.Notification.permission !== 'granted') return;
    try {
      const n = new window.Notification(t('modctl.knock.notify.title'), {
        body: t('modctl.knock.notify.body', { count: this.count }),
        tag: 'conclave-knock', // one at a time: a new knock replaces the last
        icon: '/static/img/icon.png',
        silent: quiet,
      });
      this.shownCount = this.count;
      n.onclick = () => {
        window.focus();
        this.deps.openWaiting();
        n.close();
      };
      // Closed by the moderator (or the system): a later count does not bring it back.
      n.onclose = () => { if (this.shown === n) this.shown = null; };
      this.shown = n;
    } catch {
      // Some browsers allow notifications from a service worker only; the title tells.
    }
  }

  /**
   * _unnotify takes the knock notification back once nobody waits (or the role, the
   * session is gone): the system's notification centre keeps one until it is closed,
   * on a shared screen too, and one that says people wait when nobody does misleads.
   */
  _unnotify() {
    const n = this.shown;
    this.shown = null;
    try {
      if (n) n.close();
    } catch {
      // already gone
    }
  }

  _title() {
    // The page's own title is whatever is there unless it is the one set here last (a
    // language switch writes the page title anew, without the count).
    if (document.title !== this._shownTitle) this._pageTitle = document.title;
    const base = this._pageTitle ?? document.title;
    const want = this.count > 0 ? t('modctl.knock.tab-title', { count: this.count, title: base }) : base;
    if (document.title !== want) document.title = want;
    this._shownTitle = want;
  }
}
