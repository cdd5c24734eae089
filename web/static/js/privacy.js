// The /privacy page: the operator's notice and the built-in description of what this
// server processes (notice.js).

import { $ } from './dom.js';
import { loadNotice, renderNotice } from './notice.js';

loadNotice().then((n) => renderNotice($('#notice'), n));
