// The tab's own link, judged from the meeting (issue 14 item 7): when this tab verified
// nobody's identity while others are there and failed to verify, its own key is the
// likely odd one out — a link cut short or mistyped — so it tells its user so, in a card
// under the top bar and in the encryption panel, and on the chip, which no longer says
// "End-to-end encrypted". Knockers a
// moderator here saw as "Wrong link" (waiting list) do not count: that tab knows who is
// wrong. The same holds the other way round in a meeting of two, hence "probably".
//
// Test hooks: #e2ee-self-wrong (the card), #e2ee-self-wrong-note (in the panel),
// #e2ee-status[data-link="wrong"].

import { $ } from './dom.js';
import { setAttr, setText } from './i18n.js';
import { selfLinkWrong } from './e2ee/knock.js';

export class SelfLinkWarning {
  constructor() {
    this.card = $('#e2ee-self-wrong');
    this.note = $('#e2ee-self-wrong-note');
    this.chip = $('#e2ee-status');
  }

  /**
   * render takes Session.e2eeInfo() (or null outside a meeting). It runs after
   * E2EEStatus.render, which writes the chip's text anew each time: with a wrong link
   * the chip no longer claims "End-to-end encrypted" but says what is wrong.
   */
  render(info) {
    const wrong = selfLinkWrong(info);
    this.card.hidden = !wrong;
    this.note.hidden = !wrong;
    if (!wrong) {
      delete this.chip.dataset.link;
      return;
    }
    this.chip.dataset.link = 'wrong';
    setText($('#e2ee-status-text'), 'e2ee14.knock.chip');
    setAttr(this.chip, 'title', 'e2ee14.knock.self-wrong.title');
    setAttr(this.chip, 'aria-label', 'e2ee14.knock.self-wrong.title');
  }
}
