// The meeting's settings: the moderators' panel (each switch sends
// `update_settings`; what is shown is always the last `settings` message), and
// what a change means for everyone else.
//
// Test hooks: checkboxes #setting-lock, #setting-lobby, #setting-screenshare,
// #setting-unmute, #setting-chat; #setting-password with #setting-password-save
// (and #setting-password-clear); #btn-end-meeting (asks with #confirm-ok);
// #setting-attempts, the count of wrong passwords tried (`access_attempts`).

import { $, toast } from './dom.js';
import { confirmAction } from './confirm.js';
import { setAttr, setText, t } from './i18n.js';

// checkbox id -> settings field
const SWITCHES = {
  'setting-lock': 'locked',
  'setting-lobby': 'lobby',
  'setting-screenshare': 'screenShare',
  'setting-unmute': 'unmute',
  'setting-chat': 'chat',
};

export class SettingsPanel {
  /** @param {{send(type: string, payload?: object): string|null}} opts */
  constructor({ send }) {
    this.send = send;
    this.settings = null;
    for (const [id, field] of Object.entries(SWITCHES)) {
      const box = $(`#${id}`);
      box.addEventListener('change', () => {
        if (this.send('update_settings', { [field]: box.checked }) === null) this.render(this.settings);
      });
    }
    const input = $('#setting-password');
    const save = $('#setting-password-save');
    input.addEventListener('input', () => { save.disabled = input.value.trim() === ''; });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this._savePassword();
      }
    });
    save.addEventListener('click', () => this._savePassword());
    $('#setting-password-clear').addEventListener('click', async () => {
      const ok = await confirmAction({
        title: t('settings.password.remove.title'),
        text: t('settings.password.remove.text'),
        ok: t('settings.password.remove'),
      });
      if (ok) this.send('update_settings', { password: '' });
    });
    $('#btn-end-meeting').addEventListener('click', async () => {
      const ok = await confirmAction({
        title: t('settings.end.title'),
        text: t('settings.end.text'),
        ok: t('settings.end.ok'),
      });
      if (ok) this.send('end_meeting');
    });
    save.disabled = true;
  }

  /** render shows the settings object of the last `settings` message. */
  render(settings) {
    if (!settings) return;
    this.settings = settings;
    for (const [id, field] of Object.entries(SWITCHES)) $(`#${id}`).checked = !!settings[field];
    const has = !!settings.passwordRequired;
    setText($('#setting-password-state'), has ? 'settings.password.is-set' : 'settings.password.none');
    $('#setting-password-state').dataset.set = has ? 'true' : 'false';
    setText($('#setting-password-save'), has ? 'rooms.edit' : 'settings.password.set');
    $('#setting-password-clear').hidden = !has;
    setAttr($('#setting-password'), 'placeholder', has ? 'settings.password.new' : 'settings.password');
    $('#setting-lobby-note').hidden = settings.lobby;
  }

  /** showAttempts shows how many wrong passwords were tried at this meeting. */
  showAttempts(count) {
    const line = $('#setting-attempts');
    const first = line.hidden && count > 0;
    setText(line, 'settings.attempts', { count });
    line.hidden = !(count > 0);
    if (first) toast(t('settings.attempts.toast'), { timeout: 8000 });
  }

  _savePassword() {
    const input = $('#setting-password');
    const value = input.value.trim();
    if (!value) return;
    if (this.send('update_settings', { password: value }) === null) return;
    input.value = '';
    $('#setting-password-save').disabled = true;
    toast(t('settings.password.saved'), { kind: 'success', timeout: 6000 });
  }
}

/**
 * settingsNews lists what a participant should be told about a change of
 * settings (moderators see the panel instead).
 */
export function settingsNews(old, now, role) {
  const news = [];
  if (old.chat !== now.chat) news.push(t(now.chat ? 'settings.news.chat-on' : 'settings.news.chat-off'));
  if (role === 'participant' && old.screenShare !== now.screenShare) {
    news.push(t(now.screenShare ? 'settings.news.share-on' : 'settings.news.share-off'));
  }
  return news;
}
