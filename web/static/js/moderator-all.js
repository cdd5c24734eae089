// What a moderator does to everyone at once: mute every microphone, turn every camera
// off (both spare the moderators: PROTOCOL.md `mute_all`). The server enforces it; the
// people affected are told by a toast (rules.js) and their controls turn off; the
// moderator once the server says it is done (moderator.js Confirmations).
//
// Test hooks: #everyone-actions (people panel, moderators only) with #btn-mute-all and
// #btn-cameras-off-all.

import { $, el } from './dom.js';

export class EveryoneActions {
  /** @param {{isModerator: () => boolean, moderate: (type, payload, said) => string|null}} deps */
  constructor(deps) {
    this.deps = deps;
    const action = (id, key, source, done) => {
      const b = el('button', { id, type: 'button', class: 'btn btn-small btn-secondary', i18n: key });
      b.addEventListener('click', () => {
        this.deps.moderate('mute_all', { source }, { key: done });
      });
      return b;
    };
    this.box = el('section', { id: 'everyone-actions', class: 'everyone-actions', i18nAttr: { 'aria-label': 'modctl.everyone.title' }, hidden: true },
      action('btn-mute-all', 'modctl.everyone.mute', 'microphone', 'modctl.everyone.muted'),
      action('btn-cameras-off-all', 'modctl.everyone.camerasOff', 'camera', 'modctl.everyone.camerasOffDone'));
    $('#people-list').before(this.box);
  }

  render() {
    this.box.hidden = !this.deps.isModerator();
  }
}
