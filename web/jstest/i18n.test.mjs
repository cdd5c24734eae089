// The pure translation logic (i18n-core.js) and the catalogues themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { LANGUAGES, PSEUDO, localeFor, pickLanguage, translate } from '../static/js/i18n-core.js';

const load = (lang) => JSON.parse(readFileSync(new URL(`../static/i18n/${lang}.json`, import.meta.url), 'utf8'));

test('the stored choice wins, then the browser language, then English', () => {
  assert.equal(pickLanguage('de', ['en-US']), 'de');
  assert.equal(pickLanguage(null, ['fr-FR', 'de-AT', 'en']), 'de');
  assert.equal(pickLanguage('xx', ['fr']), 'en');
  assert.equal(pickLanguage(null, []), 'en');
  assert.equal(pickLanguage(PSEUDO, ['de']), PSEUDO);
});

test('dates use the browser variant of the chosen language', () => {
  assert.equal(localeFor('de', ['en-GB', 'de-AT']), 'de-AT');
  assert.equal(localeFor('en', ['de-DE', 'en-GB']), 'en-GB');
  assert.equal(localeFor('de', ['en-US']), 'de');
});

test('placeholders, plurals, fallback to English, then the key', () => {
  const de = { hi: 'Hallo {name}', n: { one: '{count} Person', other: '{count} Personen' } };
  const en = { hi: 'Hello {name}', only: 'English only' };
  assert.equal(translate(de, en, 'de', 'hi', { name: 'Ada' }), 'Hallo \u2068Ada\u2069'); // a name isolated
  assert.equal(translate(de, en, 'de', 'n', { count: 1 }), '1 Person');
  assert.equal(translate(de, en, 'de', 'n', { count: 3 }), '3 Personen');
  assert.equal(translate(de, en, 'de', 'only'), 'English only');
  assert.equal(translate(de, en, 'de', 'missing.key'), 'missing.key');
  assert.equal(translate(de, en, 'de', 'hi', {}), 'Hallo {name}');
  assert.equal(translate(en, en, PSEUDO, 'hi', { name: 'Ada' }), '⟦Hello \u2068Ada\u2069⟧');
});

test('a count is written the way of the language (1.000 Personen, 1,000 people)', () => {
  const de = { n: { one: '{count} Person', other: '{count} Personen' } };
  const en = { n: { one: '{count} person', other: '{count} people' } };
  assert.equal(translate(de, en, 'de', 'n', { count: 1000 }), '1.000 Personen');
  assert.equal(translate(en, en, 'en', 'n', { count: 12345 }), '12,345 people');
  assert.equal(translate(de, en, 'de', 'n', { count: 1000 }, 'de-CH'), "1'000 Personen");
  assert.equal(translate(de, en, 'de', 'n', { count: 1 }), '1 Person');
  // Only a count: other numbers (a year in a text, say) stay as they are.
  assert.equal(translate({ y: 'seit {year}' }, {}, 'de', 'y', { year: 2026 }), 'seit 2026');
});

test('a placeholder value is never read as a placeholder again', () => {
  assert.equal(translate({ a: '{x} and {y}' }, {}, 'en', 'a', { x: '{y}', y: 'Y' }), '{y} and Y');
});

test('every catalogue has the same keys, plural forms and placeholders', () => {
  const cats = Object.fromEntries(LANGUAGES.map((l) => [l, load(l)]));
  const shape = (v) => {
    const texts = typeof v === 'object' ? Object.values(v) : [v];
    return [...new Set(texts.flatMap((s) => [...String(s).matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1])))].sort().join(',');
  };
  for (const a of LANGUAGES) {
    for (const b of LANGUAGES) {
      if (a === b) continue;
      for (const key of Object.keys(cats[a])) {
        assert.ok(Object.hasOwn(cats[b], key), `"${key}" is in ${a}.json but not in ${b}.json`);
        assert.equal(typeof cats[a][key], typeof cats[b][key], `"${key}": plural in one language only`);
        assert.equal(shape(cats[a][key]), shape(cats[b][key]), `"${key}": placeholders differ between ${a} and ${b}`);
      }
    }
    for (const [key, value] of Object.entries(cats[a])) {
      assert.match(key, /^[a-z0-9]+(\.[A-Za-z0-9_-]+)+$/, `${a}.json: key "${key}" is not area.name`);
      if (typeof value === 'object') {
        assert.ok(typeof value.other === 'string', `${a}.json: "${key}" has no "other" form`);
        const cats2 = new Intl.PluralRules(a).resolvedOptions().pluralCategories;
        for (const c of cats2) assert.ok(typeof value[c] === 'string', `${a}.json: "${key}" lacks plural form "${c}"`);
      } else {
        assert.equal(typeof value, 'string', `${a}.json: "${key}" is neither text nor plural forms`);
        assert.notEqual(value.trim(), '', `${a}.json: "${key}" is empty`);
      }
    }
  }
});
