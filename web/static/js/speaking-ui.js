// Shows who speaks, from the server's `speaking` (speaking.js): a speaking person's
// camera tile gets an outline and a speaking icon, their row in the people list the same
// icon, each with text for screen readers (not colour alone), and the dominant speaker
// drives the speaker view in place of the page's own detection (speaker.js), which stays
// in charge on a server that does not detect speakers. Nothing here animates.
//
// Test hooks: .tile[data-speaking="true"] holding .tile-speaking; .person[data-speaking="true"]
// holding .person-speaking.

import { $, el } from './dom.js';
import { icon } from './icons.js';
import { SpeakingState } from './speaking.js';

export class SpeakingIndicators {
  /** @param {{session: () => Session|null, grid: Grid}} deps */
  constructor(deps) {
    this.deps = deps;
    this.state = new SpeakingState();
    // Tiles and people-list rows come and go with the roster: decorate whatever is there.
    new MutationObserver(() => this._decorate()).observe($('#grid'), { childList: true, subtree: true });
    new MutationObserver(() => this._decorate()).observe($('#people-list'), { childList: true });
  }

  /** attach listens to a new session's signaling; what an older one said is forgotten. */
  attach(sig) {
    this.state.reset();
    this._decorate();
    const mine = () => {
      const s = this.deps.session();
      return !!s && s.sig === sig && !s.ended;
    };
    sig.on('speaking', (p) => {
      const s = this.deps.session();
      if (!mine() || !this.state.update(p)) return;
      s.serverSpeakers = true; // session-join.js: the page's own detection steps back
      this.deps.grid.setActiveSpeaker(this.state.dominant || null);
      this._decorate();
    });
    sig.on('participant_left', (p) => {
      if (!mine() || !p) return;
      this.state.forget(p.participantId);
      this._decorate();
    });
  }

  /**
   * forget: the session it listens to dropped and the page reconnects (held-roster.js).
   * What it said is no longer so: nobody is shown speaking until the next session says
   * (attach forgets it too, but only at the next attempt, which waits for the server to
   * answer: reconnect.js; through an outage, up to 90 s).
   */
  forget() {
    this.state.reset();
    this._decorate();
  }

  _decorate() {
    const speaking = (id) => this.state.isSpeaking(id);
    for (const tile of document.querySelectorAll('#grid .tile[data-source="camera"]')) {
      mark(tile, speaking(tile.dataset.participantId), () => tile.append(badge('tile-speaking')));
    }
    for (const row of document.querySelectorAll('#people-list > .person')) {
      mark(row, speaking(row.dataset.participantId), () => row.querySelector('.person-label')?.after(badge('person-speaking')));
    }
  }
}

/** mark sets node's data-speaking and its badge (added by add, once). */
function mark(node, on, add) {
  const has = node.dataset.speaking === 'true';
  if (on === has) return;
  if (on) {
    node.dataset.speaking = 'true';
    add();
  } else {
    delete node.dataset.speaking;
    node.querySelector(':scope > .tile-speaking, :scope > .person-speaking')?.remove();
  }
}

function badge(cls) {
  return el('span', { class: cls, role: 'img', i18nAttr: { 'aria-label': 'speakers15.speaking', title: 'speakers15.speaking' } }, icon('volume', 'icon icon-inline'));
}
