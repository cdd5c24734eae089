// The /privacy page: the operator's notice and the built-in description of what this
// server processes (notice.js).

import { $ } from './dom.js';
import { loadNotice, renderNotice } from './notice.js';
import { onLanguageChange } from './i18n.js';

loadNotice().then((n) => {
  renderNotice($('#notice'), n);
  // Durations in the built-in notice are formatted text: drawn again after a switch.
  onLanguageChange(() => renderNotice($('#notice'), n));
});
