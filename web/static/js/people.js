// The participants panel: everyone in the meeting with mic and camera state.

import { el, initials, hueFor } from './dom.js';
import { icon } from './icons.js';

/** renderPeople fills the list from [{id, name, media, self}] (self first). */
export function renderPeople(list, people) {
  list.replaceChildren(...people.map((p) => {
    const avatar = el('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' },
      el('span', { class: 'avatar-initials', text: initials(p.name) }));
    avatar.style.setProperty('--avatar-hue', String(hueFor(p.id)));
    const media = p.media || {};
    const state = el('span', { class: 'person-media' },
      media.screen ? stateIcon('screen', 'Sharing screen', true) : null,
      stateIcon(media.mic ? 'mic' : 'mic-off', media.mic ? 'Microphone on' : 'Microphone off', media.mic),
      stateIcon(media.camera ? 'camera' : 'camera-off', media.camera ? 'Camera on' : 'Camera off', media.camera));
    return el('li', { class: 'person', dataset: { participantId: p.id } },
      avatar,
      el('span', { class: 'person-name', text: p.self ? `${p.name || 'Guest'} (you)` : (p.name || 'Guest') }),
      state);
  }));
}

function stateIcon(name, label, on) {
  const span = el('span', { class: `person-icon${on ? '' : ' person-icon-off'}`, role: 'img', 'aria-label': label, title: label });
  span.append(icon(name));
  return span;
}
