// The room form's fields, shared by the new-room form and a room's edit form (rooms.js):
// building them (formFields), setting the new-room form back to its defaults
// (setDefaults), and reading what was typed (readForm).

import { el } from './dom.js';
import { fromLocalInput, toLocalInput } from './rooms-keys.js';

const DAY = 24 * 60 * 60 * 1000;

// Field names: with a prefix p (the new-room form) an input is #p-name; without one
// (a room's edit form) it is .room-name inside the form.
function attrs(p, name) {
  return p ? { id: `${p}-${name}` } : { class: `room-${name}` };
}

function field(p, name) {
  return (form) => form.querySelector(p ? `#${p}-${name}` : `.room-${name}`);
}

export function formFields(p, { title = '', settings = {}, expires, passwordSet = false, canTitle = true }) {
  const sw = (name, key, label) => el('label', { class: 'switch-row' },
    el('span', { class: 'switch-text' }, el('strong', { i18n: label })),
    el('input', { ...attrs(p, name), type: 'checkbox', class: `switch${p ? '' : ` room-${name}`}`, role: 'switch', checked: !!settings[key] }));
  const group = p ? `${p}-life` : `life-${Math.random().toString(36).slice(2)}`;
  const until = expires ? new Date(expires) : new Date(Date.now() + DAY);
  const out = [];
  if (canTitle) {
    out.push(el('label', { class: 'field' }, el('span', { class: 'field-label', i18n: 'rooms.form.title' }),
      el('input', { ...attrs(p, 'title'), type: 'text', maxlength: 200, autocomplete: 'off', value: title })));
  }
  out.push(el('label', { class: 'field' },
    el('span', { class: 'field-label', i18n: passwordSet ? 'rooms.form.new-password' : 'rooms.form.password' }),
    el('input', { ...attrs(p, 'password'), type: 'text', maxlength: 128, autocomplete: 'off', spellcheck: 'false' })));
  if (passwordSet) {
    out.push(el('label', { class: 'check-row' }, el('input', { ...attrs(p, 'nopassword'), type: 'checkbox' }), ' ', el('span', { i18n: 'rooms.form.remove-password' })));
  }
  out.push(el('fieldset', { class: 'switches' }, el('legend', { class: 'field-label', i18n: 'landing.settings' }),
    sw('lobby', 'lobby', 'settings.lobby'),
    sw('screenshare', 'screenShare', 'landing.screenshare'),
    sw('unmute', 'unmute', 'landing.unmute'),
    sw('chat', 'chat', 'settings.chat')));
  // A date typed or picked in the field chooses "until": people set the date and leave
  // the small radio button in front of it as it was (the room was then made standing).
  const oneoff = el('input', { ...attrs(p, 'oneoff'), type: 'radio', name: group, value: 'oneoff', checked: !!expires });
  const untilNow = () => { oneoff.checked = true; };
  out.push(el('fieldset', { class: 'lifetime' }, el('legend', { class: 'field-label', i18n: 'rooms.form.lifetime' }),
    el('label', { class: 'check-row' }, el('input', { ...attrs(p, 'standing'), type: 'radio', name: group, value: 'standing', checked: !expires }), ' ', el('span', { i18n: 'rooms.form.standing' })),
    el('label', { class: 'check-row' }, oneoff, ' ', el('span', { i18n: 'rooms.form.until' }), ' '),
    el('input', { ...attrs(p, 'expires'), type: 'datetime-local', value: toLocalInput(until), oninput: untilNow, onchange: untilNow, i18nAttr: { 'aria-label': 'rooms.form.expires' } })));
  return out;
}

export function setDefaults(form, p) {
  field(p, 'expires')(form).value = toLocalInput(new Date(Date.now() + DAY));
  for (const [name, on] of [['lobby', true], ['screenshare', false], ['unmute', true], ['chat', true], ['standing', true]]) {
    field(p, name)(form).checked = on;
  }
}

/** readForm returns the form's values, or {error} when the expiry is not a future time. */
export function readForm(form, p) {
  const get = (name) => field(p, name)(form);
  const out = {
    title: get('title') ? get('title').value : '',
    password: get('password').value,
    removePassword: !!(get('nopassword') && get('nopassword').checked),
    settings: { lobby: get('lobby').checked, screenShare: get('screenshare').checked, unmute: get('unmute').checked, chat: get('chat').checked },
    expires: '',
  };
  if (get('oneoff').checked) {
    out.expires = fromLocalInput(get('expires').value);
    if (!out.expires || Date.parse(out.expires) <= Date.now()) return { error: { key: 'rooms.form.expires-past' } };
  }
  return out;
}