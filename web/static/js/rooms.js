// The landing page's rooms card: a host prepares rooms (Rooms API, signaling/PROTOCOL.md)
// and sees their links again on any device that opens the host link. Its parts:
// rooms-card.js (a room's card in the list, its invitation), rooms-form.js (the room
// form's fields), rooms-errors.js (what a failed request says) and rooms-keys.js (rk).
//
// The host link is #host=<host key>&rk=<room secret>. rk never leaves this page: each
// room's E2EE key (#k=), moderator secret and title key are derived from rk and the room
// id this page chose (rooms-keys.js), so the server holds only the moderator secret's
// hash and the title's ciphertext. A host link without rk gets one made here, shown
// once (#rk-new) to bookmark.
//
// Test hooks: #room-form (#room-title, #room-password, #room-lobby, #room-screenshare,
// #room-unmute, #room-chat, #room-standing / #room-oneoff radios, #room-expires,
// #btn-create-room), #rooms-error, #room-list with one li.room-item[data-id] per room:
// .room-title, .room-participant / .room-moderator (inputs holding the full links),
// .room-invite (opens .room-invitation: .room-invitation-time, .room-invitation-text, .room-invitation-copy), .room-edit (opens form.room-edit-form with the same fields as classes),
// .room-rotate, .room-delete (both ask first: #confirm-ok), .room-links-unknown when the
// links cannot be shown. #host-link when rk was made. #rooms-key-missing says that
// "Show my rooms" (#btn-load-rooms) needs a host key first.
//
// "Change" and "Invitation" are disclosure buttons: aria-expanded, and while open
// aria-controls naming the form or box they opened. Save (.room-save) and "New links"
// (.room-rotate) are disabled, aria-busy="true", while their request is under way: a
// second click or Enter sends nothing more, and the focus comes back to them if the
// request fails (when it succeeds it goes to the room, as before).

import { $, el, toast, copyText } from './dom.js';
import { onLanguageChange, t } from './i18n.js';
import { fillIcons } from './icons.js';
import { confirmAction } from './confirm.js';
import {
  decryptTitle, encryptTitle, hostLink, newRoomId, newRootSecret, parseRootSecret, roomKeys,
} from './rooms-keys.js';
import { cardMethods, setOpen } from './rooms-card.js';
import { formFields, readForm, setDefaults } from './rooms-form.js';
import { apiErrorText, showError, tooManyText } from './rooms-errors.js';

export { apiErrorText, tooManyText }; // landing.js reads them from here

/** Rooms is the card's state: how to get the host key, and this page's rk. */
export class Rooms {
  constructor({ hostKey, rk, askKey = () => {} }) {
    this.hostKey = hostKey; // () => the host key, '' when unknown
    this.askKey = askKey; // () => shows the host key field and puts the focus in it
    this.madeRk = !parseRootSecret(rk || '');
    this.rk = this.madeRk ? newRootSecret() : rk;
    // The host key rk belongs to: the link's, or the first one typed when this page made
    // rk. Another key (a colleague's at the same computer) gets an rk of its own: rooms
    // made with hers on this rk would have links, moderator secrets included, that the
    // holder of the first host link could derive, and none she could show again.
    this.rkHost = this.madeRk ? null : hostKey() || null;
    // The rk of each other key used on this page, in memory only: a key typed again (a
    // typo corrected, the colleague done) finds its rk again, so its rooms stay readable
    // and a made rk not yet bookmarked is not lost with the rooms made on it.
    this.rks = new Map(); // host key -> {rk, made}
    this.epoch = 0; // counts key changes: a list asked for under another key is dropped
    this.rooms = new Map(); // id -> {view, title (null: unreadable), keys}
    this.loading = null; // the list being loaded (a promise)
    this.again = false; // load again when it is done: something changed meanwhile
    this.focusNext = null; // {id, cls, force}: where the focus goes once the list is drawn
    this.rotating = new Set(); // ids of the rooms whose "New links" is under way
  }

  /**
   * ownRk makes rk the current host key's (see rkHost) and returns that key: requests
   * that store what was derived from rk are sent with it, not with a key typed meanwhile.
   */
  ownRk() {
    const key = this.hostKey();
    if (!key || key === this.rkHost) return key;
    if (this.rkHost !== null) {
      this.rks.set(this.rkHost, { rk: this.rk, made: this.madeRk });
      const own = this.rks.get(key) || { rk: newRootSecret(), made: true };
      this.rk = own.rk;
      this.madeRk = own.made;
      this.forgetList(); // the previous key's rooms (their links) leave the page
    }
    this.rkHost = key;
    return key;
  }

  /** forgetList drops the rooms shown and any list still being loaded. */
  forgetList() {
    this.epoch++;
    this.rooms = new Map();
    $('#room-list').replaceChildren();
    $('#rooms-empty').hidden = true;
    showError($('#rooms-error'), '');
  }

  start() {
    $('#btn-load-rooms').addEventListener('click', () => {
      // Without a host key there is nothing to show: it says so and where to type it
      // (the button did nothing at all).
      const missing = !this.hostKey();
      showError($('#rooms-key-missing'), missing ? { key: 'rooms.need-key.missing' } : '');
      if (missing) this.askKey();
      else this.load();
    });
    $('#copy-host-link').addEventListener('click', async () => {
      const ok = await copyText($('#host-link').value, $('#host-link'));
      toast(ok ? t('rooms.host-link.copied') : t('common.copy-failed'), { kind: ok ? 'success' : 'info' });
    });
    const form = $('#room-form');
    form.append(...formFields('room', { settings: { lobby: true, screenShare: false, unmute: true, chat: true } }),
      el('p', { class: 'notice notice-error', id: 'room-form-error', role: 'alert', hidden: true }),
      el('button', { id: 'btn-create-room', type: 'submit', class: 'btn btn-primary', i18n: 'rooms.create' }));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.create(); });
    fillIcons();
    if (this.hostKey()) this.load();
    onLanguageChange(() => this.render()); // dates and the facts line are built text
  }

  async api(method, path, body, key = this.hostKey()) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${key}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
    } catch {
      return { ok: false, error: { key: 'common.unreachable' } };
    }
    let data = null;
    try {
      if (res.status !== 204) data = await res.json();
    } catch {
      data = null;
    }
    if (res.ok) return { ok: true, data };
    const code = data && typeof data.code === 'string' ? data.code : '';
    if (res.status === 401) return { ok: false, error: { key: 'common.wrong-host-key' } };
    if (res.status === 429) return { ok: false, error: tooManyText(code, Number.parseInt(res.headers.get('Retry-After') || '', 10) || 1) };
    // The server's message is for API clients (English); the page says it by status.
    return { ok: false, error: apiErrorText(res.status, code) };
  }

  /** reset forgets the rooms shown (another host key is being entered). */
  reset() {
    this.forgetList();
    $('#rk-new').hidden = true;
    $('#host-link').value = ''; // it held the key being changed
    this.showKeyState();
  }

  showKeyState() {
    this.ownRk();
    const key = !!this.hostKey();
    if (key) showError($('#rooms-key-missing'), '');
    $('#rooms-need-key').hidden = key;
    $('#rooms-body').hidden = !key;
    if (key) {
      // Only this key's own made rk is offered to bookmark (a key whose rk came with
      // the link has its link already).
      $('#host-link').value = this.madeRk ? hostLink(window.location.origin, this.hostKey(), this.rk) : '';
      $('#rk-new').hidden = !this.madeRk;
    }
  }

  /**
   * load lists the rooms again. Asked while a list is loading (a change made meanwhile),
   * it loads once more when that is done: the list under way may predate the change.
   */
  async load() {
    this.showKeyState();
    if (!this.hostKey()) return;
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    // loading is cleared in the same step that saw no load asked for meanwhile: cleared
    // by the caller a microtask later, a load() asked for in between would have been
    // told to wait for a run that had ended.
    this.loading = (async () => {
      try {
        do {
          this.again = false;
          await this.loadOnce();
        } while (this.again && this.hostKey());
      } finally {
        this.loading = null;
        this.focusNext = null;
      }
    })();
    return this.loading;
  }

  async loadOnce() {
    this.showKeyState();
    const { epoch, rk } = this;
    const r = await this.api('GET', '/api/rooms');
    if (epoch !== this.epoch) return; // another key now: this list is not its
    showError($('#rooms-error'), r.ok ? '' : r.error);
    if (!r.ok || this.again) return;
    const views = Array.isArray(r.data && r.data.rooms) ? r.data.rooms : [];
    const rooms = new Map();
    for (const view of views) {
      if (typeof view.id !== 'string') continue;
      let keys = null;
      try {
        keys = await roomKeys(rk, view.id);
      } catch {
        keys = null; // an id this page did not choose (22 characters expected)
      }
      const title = keys ? await decryptTitle(keys.meetingSecret, view.title) : null;
      rooms.set(view.id, { view, title, keys: title === null ? null : keys });
    }
    if (epoch !== this.epoch) return;
    this.rooms = rooms;
    this.render();
  }

  render() {
    const list = $('#room-list');
    list.replaceChildren(...[...this.rooms.values()].map((room) => this.item(room)));
    $('#rooms-empty').hidden = this.rooms.size > 0;
    fillIcons();
    // The control a keyboard or screen-reader user pressed went with the old list: the
    // focus goes back to the same room (or, after a delete, a neighbour) instead of to
    // the top of the page.
    const next = this.focusNext;
    const active = document.activeElement;
    if (!next || !(next.force || !active || active === document.body || !active.isConnected)) return;
    const li = [...list.children].find((n) => n.dataset && n.dataset.id === next.id);
    const target = (li && li.querySelector(`.${next.cls}`)) || (this.rooms.size === 0 && $('#room-new summary'));
    if (target) {
      this.focusNext = null;
      target.focus();
    }
  }

  /** focusAfter says where the focus goes when the list is drawn again. */
  focusAfter(id, cls, force = false) {
    this.focusNext = { id, cls, force };
  }

  async create() {
    const form = $('#room-form');
    const btn = $('#btn-create-room');
    const box = $('#room-form-error');
    if (btn.disabled) return; // a room under way: Enter in a field makes no second one
    const values = readForm(form, 'room');
    if (values.error) return showError(box, values.error);
    btn.disabled = true;
    let id;
    let r;
    try {
      const key = this.ownRk();
      const { rk } = this;
      id = newRoomId();
      const keys = await roomKeys(rk, id);
      const body = {
        id,
        moderatorSecret: keys.moderatorSecret,
        title: await encryptTitle(keys.meetingSecret, values.title),
        e2ee: true,
        settings: values.settings,
      };
      if (values.password) body.password = values.password;
      if (values.expires) body.expires = values.expires;
      r = await this.api('POST', '/api/rooms', body, key); // the key rk is of
    } finally {
      // Whatever failed on the way (deriving the keys, sealing the title), Create is
      // usable again: it stayed disabled for good when anything before the answer threw.
      btn.disabled = false;
    }
    showError(box, r.ok ? '' : r.error);
    if (!r.ok) return;
    form.reset();
    setDefaults(form, 'room');
    $('#room-new').open = false;
    toast(t('rooms.created'), { kind: 'success' });
    this.focusAfter(id, 'room-title', true); // the new room, at the end of the list
    await this.load();
  }

  edit(room, li) {
    const toggle = li.querySelector('.room-edit');
    const old = li.querySelector('.room-edit-form');
    if (old) {
      old.remove();
      setOpen(toggle, null);
      return;
    }
    const formId = `room-edit-${room.view.id}`;
    const form = el('form', { class: 'room-edit-form', id: formId, novalidate: true },
      ...formFields('', { title: room.title || '', settings: room.view.settings || {}, expires: room.view.expires, passwordSet: room.view.passwordSet, canTitle: room.title !== null }),
      el('p', { class: 'notice notice-error room-edit-error', role: 'alert', hidden: true }),
      el('button', { type: 'submit', class: 'btn btn-primary room-save', i18n: 'rooms.save' }));
    const save = form.querySelector('.room-save');
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (save.disabled) return; // a save under way: Enter in a field sends no second one
      const values = readForm(form, '');
      const box = form.querySelector('.room-edit-error');
      if (values.error) return showError(box, values.error);
      await whileBusy(save, async () => {
        const body = { settings: values.settings, expires: values.expires || null };
        if (room.title !== null) body.title = await encryptTitle(room.keys.meetingSecret, values.title);
        if (values.password) body.password = values.password;
        else if (values.removePassword) body.password = '';
        const r = await this.api('PATCH', `/api/rooms/${encodeURIComponent(room.view.id)}`, body);
        showError(box, r.ok ? '' : r.error);
        if (r.ok) {
          toast(t('rooms.changed'), { kind: 'success' });
          this.focusAfter(room.view.id, 'room-edit');
          await this.load();
        }
      });
    });
    li.append(form);
    setOpen(toggle, formId);
    fillIcons();
  }

  /**
   * rotate gives the room new links. One rotation of a room at a time: a second "New
   * links" while the first is under way (its question, or its request) does nothing; it
   * would rotate links the first had already replaced (refused) or ask twice.
   */
  async rotate(room, button = null) {
    const old = room.view.id;
    if (this.rotating.has(old)) return;
    this.rotating.add(old);
    try {
      const yes = await confirmAction({ title: t('rooms.rotate.title'), text: t('rooms.rotate.text'), ok: t('rooms.rotate.ok') });
      if (!yes) return;
      // The list may have been drawn again meanwhile: the room's button as it is now.
      const current = button && button.isConnected ? button : $(`#room-list li[data-id="${CSS.escape(old)}"] .room-rotate`);
      await whileBusy(current, async () => {
        const key = this.ownRk();
        const { rk } = this;
        const id = newRoomId();
        const keys = await roomKeys(rk, id);
        const title = await encryptTitle(keys.meetingSecret, room.title || '');
        const r = await this.api('POST', `/api/rooms/${encodeURIComponent(old)}/rotate`, { id, moderatorSecret: keys.moderatorSecret, title }, key);
        showError($('#rooms-error'), r.ok ? '' : r.error);
        if (r.ok) {
          toast(t('rooms.rotated'), { kind: 'success' });
          this.focusAfter(id, 'room-rotate');
          await this.load();
        }
      });
    } finally {
      this.rotating.delete(old);
      // A list drawn while it was under way drew the button busy; a refused rotation
      // leaves the room as it was, its button usable again.
      const now = $(`#room-list li[data-id="${CSS.escape(old)}"] .room-rotate`);
      if (now && now.disabled) {
        now.disabled = false;
        now.removeAttribute('aria-busy');
      }
    }
  }

  async remove(room) {
    const yes = await confirmAction({ title: t('rooms.delete.title'), text: t('rooms.delete.text'), ok: t('rooms.delete') });
    if (!yes) return;
    const r = await this.api('DELETE', `/api/rooms/${encodeURIComponent(room.view.id)}`);
    showError($('#rooms-error'), r.ok ? '' : r.error);
    if (r.ok) {
      toast(t('rooms.deleted'), { kind: 'success' });
      const ids = [...this.rooms.keys()];
      const at = ids.indexOf(room.view.id);
      this.focusAfter(ids[at + 1] || ids[at - 1] || '', 'room-title');
      await this.load();
    }
  }
}

Object.assign(Rooms.prototype, cardMethods);

/**
 * whileBusy runs request with button disabled and aria-busy="true", so that a second
 * click (or Enter) sends nothing while it is under way. The button keeps the keyboard
 * focus it had: a browser that moved it away when the button was disabled has it back
 * when the button is enabled again (unless the button went with a new list, whose
 * drawing places the focus).
 */
async function whileBusy(button, request) {
  if (!button) return request();
  const focused = document.activeElement === button;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await request();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    const active = document.activeElement;
    if (focused && button.isConnected && (active === button || !active || active === document.body)) button.focus();
  }
}
