// Counts in the texts (i18n.js t, formatNumber) are written the way of the page's
// language: a German page says "1.000", not "1000" (nor the English "1,000").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';

globalThis.navigator = { languages: ['de-DE', 'de'], language: 'de-DE' };
globalThis.document = { querySelectorAll: () => [], documentElement: {}, nodeType: 9 };
globalThis.window = { localStorage, sessionStorage, addEventListener() {} };

const { t, formatNumber, language } = await import('../static/js/i18n.js');

test('a German page writes counts with German digit grouping', () => {
  assert.equal(language(), 'de');
  assert.equal(formatNumber(1000), '1.000');
  const unread = t('chat.unread', { count: 1500 });
  assert.match(unread, /\b1\.500\b/, unread);
  const attempts = t('settings.attempts', { count: 1000 });
  assert.match(attempts, /\b1\.000\b/, attempts);
});
