// The tab's own link, judged from the meeting (issue 14 item 7): when this tab verified
// nobody's identity while others are there and failed to verify, its own key is the
// likely odd one out — a link cut short or mistyped — so it tells its user so, in a card
// under the top bar and in the encryption panel, and marks the chip. Knockers a
// moderator here saw as "Wrong link" (waiting list) do not count: that tab knows who is
// wrong. The same holds the other way round in a meeting of two, hence "probably".
//
// Test hooks: #e2ee-self-wrong (the card), #e2ee-self-wrong-note (in the panel),
// #e2ee-status[data-link="wrong"].

import { $ } from './dom.js';
import { selfLinkWrong } from './e2ee/knock.js';

export class SelfLinkWarning {
  constructor() {
    this.card = $('#e2ee-self-wrong');
    this.note = $('#e2ee-self-wrong-note');
    this.chip = $('#e2ee-status');
  }

  /** render takes Session.e2eeInfo() (or null outside a meeting). */
  render(info) {
    const wrong = selfLinkWrong(info);
    this.card.hidden = !wrong;
    this.note.hidden = !wrong;
    if (wrong) this.chip.dataset.link = 'wrong';
    else delete this.chip.dataset.link;
  }
}
