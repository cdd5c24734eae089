// Hands, reactions, everyone-at-once moderator actions and knock alerts, wired to the
// meeting page: meeting.js makes one ModControls and hands it each session's signaling
// (attach). Moderator messages go out through its moderate, which keeps what the
// moderator is to be told until the server's `done` (moderator.js Confirmations).
// Everything here follows the page's state and own role through document.body's
// data-state and data-role (set by meeting.js).

import { KnockAlert } from './knock-alert.js';
import { Hands } from './hands.js';
import { Reactions } from './reactions.js';
import { EveryoneActions } from './moderator-all.js';
import { Confirmations } from './moderator.js';

export class ModControls {
  /**
   * @param {{session: () => Session|null, openPanel: (name: string) => void,
   *          isPanelOpen: (name: string) => boolean}} deps
   */
  constructor(deps) {
    this.deps = deps;
    const isModerator = () => !!this._live()?.isModerator;
    // What a moderator is told of its own action (said) waits for the server's `done`.
    this.confirms = new Confirmations();
    const moderate = (type, payload, said = null) => {
      const s = this._live();
      const id = s ? s.moderate(type, payload) : null;
      this.confirms.expect(id, said);
      return id;
    };
    /** moderate(type, payload, said) sends a moderator message (the people menus' too). */
    this.moderate = moderate;
    const send = (type, payload) => {
      const s = this._live();
      if (s && s.sig && !s.sig.closed) s.sig.send(type, payload);
    };
    this.everyone = new EveryoneActions({ isModerator, moderate });
    this.hands = new Hands({
      session: () => this._live(),
      send,
      moderate,
      openPeople: () => { if (!this.deps.isPanelOpen('people')) this.deps.openPanel('people'); },
    });
    this.reactions = new Reactions({ send });
    this.knocks = new KnockAlert({ isModerator, openWaiting: () => this.deps.openPanel('waiting') });
    new MutationObserver(() => this.render()).observe(document.body, { attributes: true, attributeFilter: ['data-state', 'data-role'] });
  }

  _live() {
    const s = this.deps.session();
    return s && s.joined && !s.ended ? s : null;
  }

  /** attach listens to a new session's signaling; what an older one said is forgotten. */
  attach(sig) {
    this.hands.reset();
    this.knocks.reset();
    this.confirms.reset(); // the old session's messages are answered on no new connection
    const mine = () => {
      const s = this.deps.session();
      return !!s && s.sig === sig && !s.ended;
    };
    sig.on('hands', (p) => { if (mine()) this.hands.update(p); });
    sig.on('reaction', (p) => { if (mine()) this.reactions.show(p); });
    sig.on('waiting_list', (p) => { if (mine()) this.knocks.update(p.waiting); });
    sig.on('done', (p, env) => { if (mine() && env) this.confirms.done(env.ref); });
    sig.on('error', (p, env) => {
      if (!mine() || !env || !env.ref) return;
      this.confirms.forget(env.ref); // the refusal is told as every one is (rules.js)
      if (sig.typeOf(env.ref) === 'reaction') this.reactions.refused(p.code);
    });
  }

  render() {
    const joined = !!this._live();
    if (!joined) {
      this.hands.reset();
      // Reconnecting (the meeting screen stays, state "joined"): the people waiting
      // still wait, and their notification stays until the new session's list says.
      if (document.body.dataset.state === 'joined') this.knocks.reset();
      else this.knocks.end();
      this.reactions.setOpen(false);
    } else {
      this.hands.render();
      if (!this._live().isModerator) this.knocks.end();
      else this.knocks.renderControls();
    }
    this.everyone.render();
  }
}
