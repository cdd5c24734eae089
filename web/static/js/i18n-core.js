// The pure part of the translations (i18n.js): choosing a language, looking a key up,
// plural forms and {placeholders}. No DOM and no fetch, so Node tests use it directly.
//
// Catalogues (web/static/i18n/<lang>.json) are flat objects: "area.what": "text". A text
// may hold {name} placeholders, filled from params; a value that is an object holds
// plural forms keyed by Intl.PluralRules categories ("one", "other", ...), chosen by
// params.count. A number given as {count} is written the reader's way (1.000 in German,
// 1,000 in English: Intl.NumberFormat); a person's name ({name}, {first}, {second},
// {third}) is put in isolated (below).

/** LANGUAGES are the languages of the UI, in the order the switch shows them. */
export const LANGUAGES = ['en', 'de'];

/**
 * PSEUDO is a test language: English with every text in ⟦ ⟧, so a browser test can see
 * any text that bypassed the catalogue. Never offered in the switch.
 */
export const PSEUDO = 'qps';

/**
 * pickLanguage returns the language to show: the one stored on this device if it is
 * known, else the first of the browser's languages we have, else English.
 */
export function pickLanguage(stored, browserLanguages = []) {
  if (LANGUAGES.includes(stored) || stored === PSEUDO) return stored;
  for (const tag of browserLanguages) {
    const primary = String(tag || '').toLowerCase().split('-')[0];
    if (LANGUAGES.includes(primary)) return primary;
  }
  return 'en';
}

/**
 * localeFor returns the BCP 47 tag for dates and numbers: the browser's own tag when it
 * is a variant of lang (de-AT, en-GB), else lang itself.
 */
export function localeFor(lang, browserLanguages = []) {
  const base = lang === PSEUDO ? 'en' : lang;
  for (const tag of browserLanguages) {
    if (String(tag || '').toLowerCase().split('-')[0] === base) return tag;
  }
  return base;
}

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;

// A name is put into a sentence isolated: FIRST STRONG ISOLATE before it, POP DIRECTIONAL
// ISOLATE after it (Unicode's bidi algorithm, UAX #9; what <bdi> does for an element).
// Left bare, a right-to-left name (Arabic, Hebrew) took the punctuation and digits beside
// it into its own run: two such names in "{first}, {second} and {third} joined" were
// laid out as one right-to-left run, the second name to the left of the first with the
// comma moved between them, so the list read in the wrong order; and a name ending in
// "!" or "(2)" showed them at its wrong end, as if outside it. Isolated, a name is laid
// out in its own direction and moves nothing outside it. The page drops every isolate from a
// name of someone else (name-text.js plainName), so a name cannot close the one put
// around it. Fluent (Firefox's UI) isolates every placeable the same way; the two
// characters are default ignorable, drawn as nothing and not spoken, and what is only
// heard (a live region, an aria-label) is given the text without them (heardText).
const NAME_PLACEHOLDERS = new Set(['name', 'first', 'second', 'third']);
/** FSI and PDI: the isolate a name is put into a sentence in. */
export const FSI = '\u2068';
export const PDI = '\u2069';
const ISOLATES = /[\u2068\u2069]/gu;

/** isolated is name as a sentence holds it: FSI, name, PDI. */
export function isolated(name) {
  return `${FSI}${name}${PDI}`;
}

/**
 * heardText is text for a screen reader alone (a live region, an aria-label): without
 * the isolates around names, which order nothing where nothing is laid out, so that no
 * speech synthesizer or braille table ever meets them.
 */
export function heardText(text) {
  return String(text ?? '').replace(ISOLATES, '');
}

/**
 * translate looks key up in catalogue (falling back to fallback, then to the key
 * itself, so a missing text shows as its key and is easy to spot) and fills it in;
 * locale (e.g. de-AT, localeFor) writes the numbers, lang when not given.
 */
export function translate(catalogue, fallback, lang, key, params, locale = lang) {
  let value = Object.hasOwn(catalogue, key) ? catalogue[key] : undefined;
  if (value === undefined && Object.hasOwn(fallback, key)) value = fallback[key];
  if (value === undefined) return key;
  if (typeof value === 'object' && value !== null) {
    const count = Number(params?.count ?? 0);
    const category = new Intl.PluralRules(lang === PSEUDO ? 'en' : lang).select(count);
    value = value[category] ?? value.other ?? key;
  }
  const text = String(value).replace(PLACEHOLDER, (whole, name) => {
    if (!params || !Object.hasOwn(params, name)) return whole;
    const v = params[name];
    if (name === 'count' && Number.isFinite(v)) return formatCount(v, locale);
    return NAME_PLACEHOLDERS.has(name) ? isolated(String(v)) : String(v);
  });
  return lang === PSEUDO ? `⟦${text}⟧` : text;
}

/** formatCount writes n as the language of locale does (1.000 / 1,000). */
export function formatCount(n, locale) {
  return new Intl.NumberFormat(locale === PSEUDO ? 'en' : locale).format(n);
}
