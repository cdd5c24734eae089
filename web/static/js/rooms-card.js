// A room's card in the rooms list (rooms.js): its title and facts, its two links with
// copy buttons, its buttons, and the invitation it opens below itself. cardMethods are
// mixed into Rooms.prototype, as the Session's parts are (session.js); setOpen is the
// state of a disclosure button ("Change", "Invitation").

import { el, toast, copyText } from './dom.js';
import { formatDateTime, onLanguageChange, t } from './i18n.js';
import { invitationText } from './invitation.js';
import { loadNotice, privacyLink } from './notice.js';
import { roomLinks } from './rooms-keys.js';

const UNREADABLE = 'rooms.title-unreadable';
// A room with no title at all was not made here or by `conclave room` (both seal even an
// empty title): it is a meeting made with "New meeting" (POST /api/meetings), whose
// links were shown once when it was made. Its card says so, rather than that this host
// link cannot show its links (as if the host link were the wrong one).
const QUICK = 'rooms.title-quick';

export const cardMethods = {
  item(room) {
    const { view, title, keys } = room;
    const li = el('li', { class: 'room-item', dataset: { id: view.id } });
    const when = view.expires ? t('rooms.until', { date: formatDateTime(view.expires) }) : t('rooms.standing');
    // A room without end-to-end encryption says so: the links then carry no key, and
    // the host sees it (the server's list says it; only the host turns it off).
    const facts = [when, view.e2ee === false ? t('rooms.fact.no-e2ee') : '', view.passwordSet ? t('rooms.fact.password') : '', t(view.settings && view.settings.lobby ? 'rooms.fact.lobby' : 'rooms.fact.no-lobby')].filter(Boolean).join(' · ');
    li.append(el('div', { class: 'room-head' },
      title ? el('strong', { class: 'room-title', tabindex: -1, text: title }) : el('strong', { class: 'room-title', tabindex: -1, i18n: title === null ? (view.title === '' ? QUICK : UNREADABLE) : 'rooms.untitled' }),
      el('span', { class: 'muted small room-facts', text: facts })));
    if (keys) {
      const links = roomLinks(window.location.origin, view.id, keys, view.e2ee !== false);
      li.append(linkRow(['rooms.link.participant', 'rooms.link.participant.copy'], 'room-participant', links.participant),
        linkRow(['rooms.link.moderator', 'rooms.link.moderator.copy'], 'room-moderator', links.moderator));
    } else {
      li.append(el('p', { class: 'muted small room-links-unknown', i18n: view.title === '' ? 'rooms.links-quick' : 'rooms.links-unknown' }));
    }
    const actions = el('div', { class: 'room-actions' });
    if (keys) actions.append(el('button', { type: 'button', class: 'btn btn-secondary room-invite', 'aria-expanded': 'false', onclick: () => this.showInvitation(room, li), i18n: 'landing.invitation' }));
    const rotating = this.rotating.has(view.id);
    const rotate = el('button', { type: 'button', class: 'btn btn-secondary room-rotate', disabled: rotating, 'aria-busy': rotating ? 'true' : null, onclick: () => this.rotate(room, rotate), i18n: 'rooms.rotate' });
    actions.append(
      el('button', { type: 'button', class: 'btn btn-secondary room-edit', 'aria-expanded': 'false', onclick: () => this.edit(room, li), i18n: 'rooms.edit' }),
      rotate,
      el('button', { type: 'button', class: 'btn btn-danger room-delete', onclick: () => this.remove(room), i18n: 'rooms.delete' }));
    li.append(actions);
    return li;
  },

  /**
   * showInvitation opens the room's invitation under its card: the time of the meeting
   * (typed here, never stored: the server keeps no schedule), the text to send, and a
   * copy button. The password stays out of it (invitation.js).
   */
  async showInvitation(room, li) {
    const button = li.querySelector('.room-invite');
    const open = li.querySelector('.room-invitation');
    if (open || (button && button.getAttribute('aria-expanded') === 'true')) {
      // Open, or opening (the notice's link still loading): closed.
      if (open) open.remove();
      setOpen(button, null);
      return;
    }
    const id = `room-invitation-${room.view.id}`;
    setOpen(button, id); // at once: a second click while the notice loads closes nothing
    const link = roomLinks(window.location.origin, room.view.id, room.keys, room.view.e2ee !== false).participant;
    const privacy = privacyLink(await loadNotice());
    const time = el('input', { type: 'text', class: 'room-invitation-time', maxlength: 100, autocomplete: 'off', i18nAttr: { placeholder: 'landing.invitation.time', 'aria-label': 'landing.invitation.time' } });
    const text = el('textarea', { class: 'invitation room-invitation-text', readonly: true, rows: 6, i18nAttr: { 'aria-label': 'landing.invitation.text' } });
    const render = () => {
      text.value = invitationText({ title: room.title || '', time: time.value, link, privacy, withPassword: !!room.view.passwordSet }, t);
    };
    time.addEventListener('input', render);
    const stop = onLanguageChange(render);
    const copy = el('button', { type: 'button', class: 'btn btn-secondary room-invitation-copy', i18n: 'landing.invitation.copy', onclick: async () => {
      const ok = await copyText(text.value, text);
      toast(ok ? t('rooms.invitation.copied') : t('rooms.invitation.copy-failed'), { kind: ok ? 'success' : 'info' });
    } });
    const box = el('div', { class: 'room-invitation', id }, time, text,
      room.view.passwordSet ? el('p', { class: 'muted small room-invitation-password', i18n: 'landing.invitation.password' }) : null,
      copy);
    // The box goes with the card when the list is drawn again; so does its listener.
    new MutationObserver((_, obs) => {
      if (!box.isConnected) {
        stop();
        obs.disconnect();
      }
    }).observe(document.body, { childList: true, subtree: true });
    render();
    if (button && button.getAttribute('aria-expanded') !== 'true') return; // closed while the notice loaded
    li.append(box);
    time.focus();
  },
};

/** setOpen says on a disclosure button whether what it controls is open: id, or null when closed. */
export function setOpen(button, id) {
  if (!button) return;
  button.setAttribute('aria-expanded', id ? 'true' : 'false');
  if (id) button.setAttribute('aria-controls', id);
  else button.removeAttribute('aria-controls');
}

function linkRow([label, copyLabel], cls, value) {
  const input = el('input', { type: 'text', readonly: true, class: cls, i18nAttr: { 'aria-label': label }, value });
  return el('div', { class: 'field' }, el('span', { class: 'field-label', i18n: label }),
    el('div', { class: 'copy-row' }, input,
      el('button', { type: 'button', class: 'btn btn-secondary', i18nAttr: { 'aria-label': copyLabel }, onclick: async () => {
        const ok = await copyText(input.value, input);
        toast(ok ? t('rooms.link.copied') : t('common.copy-failed'), { kind: ok ? 'success' : 'info' });
      } }, el('span', { class: 'btn-icon', dataset: { icon: 'copy' } }), el('span', { i18n: 'common.copy' }))));
}
