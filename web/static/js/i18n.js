// Translations of the UI (German and English). Every text a person sees or a screen
// reader announces comes from the catalogues in /static/i18n/<lang>.json:
//
//   In HTML:  <h1 data-i18n="prejoin.title"></h1>
//             <button data-i18n-attr="aria-label=controls.mic.off,title=controls.mic.off">
//             <span data-i18n="lobby.waiting" data-i18n-params='{"count":3}'>
//   In JS:    t('lobby.knocked', { name })            → a string, for toasts, confirm, …
//             el('p', { i18n: 'lobby.waiting', i18nParams: { count } })  (dom.js)
//             setText(node, key, params) / setAttr(node, 'aria-label', key, params)
//
// Texts set through data-i18n (el's i18n prop, setText, setAttr) follow a language
// switch by themselves; code that builds text another way subscribes with
// onLanguageChange and renders again.
//
// Both catalogues are loaded with this module (JSON modules), so t() is synchronous
// everywhere and switching needs no server round trip. The choice is
// kept on this device only (storage.js); by default the browser's language is used.
import { LANGUAGES, PSEUDO, heardText, localeFor, pickLanguage, translate } from './i18n-core.js';
import { devicePreference, setDevicePreference } from './storage.js';
import en from '../i18n/en.json' with { type: 'json' };
import de from '../i18n/de.json' with { type: 'json' };

export { LANGUAGES };

// JSON modules: part of the module graph, so every catalogue is there before any
// script runs (no await, and the page's load event still means "ready").
const catalogues = { en, de };

let current = pickLanguage(devicePreference('language'), navigator.languages || [navigator.language]);
const listeners = new Set();

/** language returns the UI language ('en', 'de'; 'qps' in the pseudo-language test). */
export function language() {
  return current;
}

/** locale returns the tag for dates and numbers (e.g. 'de-AT' when the browser says so). */
export function locale() {
  return localeFor(current, navigator.languages || [navigator.language]);
}

/** t returns the text of key in the current language, with {placeholders} filled. */
export function t(key, params) {
  const cat = catalogues[current === PSEUDO ? 'en' : current] || {};
  return translate(cat, catalogues.en || {}, current, key, params, locale());
}

/**
 * everyText is the text of key in every catalogue, with {placeholders} filled: what the
 * page may show for it whatever the language (a name that looks like a role's badge in
 * either language is marked, name-marks.js).
 */
export function everyText(key, params) {
  return LANGUAGES.map((lang) => translate(catalogues[lang] || {}, catalogues.en || {}, lang, key, params, lang));
}

/** has reports whether key is in the catalogues (a text a newer server names may not be). */
export function has(key) {
  return Object.hasOwn(catalogues.en || {}, key);
}

/** setText makes node show key (and keep showing it in the language switched to). */
export function setText(node, key, params) {
  node.dataset.i18n = key;
  if (params) node.dataset.i18nParams = JSON.stringify(params);
  else delete node.dataset.i18nParams;
  node.textContent = t(key, params);
  return node;
}

/** setAttr sets attribute name of node to the text of key, following switches. */
export function setAttr(node, name, key, params) {
  const pairs = parseAttrSpec(node.dataset.i18nAttr).filter(([n]) => n !== name);
  pairs.push([name, key]);
  node.dataset.i18nAttr = pairs.map(([n, k]) => `${n}=${k}`).join(',');
  if (params) node.dataset.i18nParams = JSON.stringify(params);
  node.setAttribute(name, attrText(name, key, params));
  return node;
}

/**
 * attrText is the text of key for attribute name: an aria- attribute is only heard, so
 * it is given without the isolates around names (i18n-core.js heardText); a title is
 * seen, as a tooltip, and keeps them.
 */
function attrText(name, key, params) {
  const text = t(key, params);
  return name.startsWith('aria-') ? heardText(text) : text;
}

/** clearAttr removes attribute name of node, and its key (setAttr), so no switch sets it again. */
export function clearAttr(node, name) {
  const pairs = parseAttrSpec(node.dataset.i18nAttr).filter(([n]) => n !== name);
  if (pairs.length) node.dataset.i18nAttr = pairs.map(([n, k]) => `${n}=${k}`).join(',');
  else delete node.dataset.i18nAttr;
  node.removeAttribute(name);
  return node;
}

function parseAttrSpec(spec) {
  if (!spec) return [];
  return spec.split(',').map((p) => p.trim().split('=')).filter((p) => p.length === 2 && p[0] && p[1]);
}

function paramsOf(node) {
  if (!node.dataset.i18nParams) return undefined;
  try {
    return JSON.parse(node.dataset.i18nParams);
  } catch {
    return undefined;
  }
}

/** applyTranslations fills every data-i18n / data-i18n-attr element in root. */
export function applyTranslations(root = document) {
  const nodes = [];
  if (root.nodeType === Node.ELEMENT_NODE) nodes.push(root);
  nodes.push(...root.querySelectorAll('[data-i18n], [data-i18n-attr]'));
  for (const node of nodes) {
    const params = paramsOf(node);
    if (node.dataset.i18n) node.textContent = t(node.dataset.i18n, params);
    for (const [name, key] of parseAttrSpec(node.dataset.i18nAttr)) node.setAttribute(name, attrText(name, key, params));
  }
  if (root === document) {
    document.documentElement.lang = current === PSEUDO ? 'en' : current;
    for (const slot of document.querySelectorAll('[data-language-switch]')) mountSwitch(slot);
  }
}

/** onLanguageChange calls fn after every switch; it returns a function that unsubscribes. */
export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** setLanguage switches the UI to lang and remembers the choice on this device. */
export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang) && lang !== PSEUDO) return;
  current = lang;
  setDevicePreference('language', lang);
  applyTranslations(document);
  for (const fn of listeners) fn(lang);
}

/**
 * SWITCH_TO names the one option a narrow layout shows by what it does (layOutSwitch),
 * in the page's language: "Deutsch – switch to German", "English – auf Englisch
 * umstellen" (the name begins with the text shown, WCAG 2.5.3).
 */
const SWITCH_TO = { en: 'language.switch-to-en', de: 'language.switch-to-de' };

/**
 * mountSwitch fills a [data-language-switch] element with the language choice: one
 * option per language, each labelled in its own language (a German speaker stuck in
 * English still finds "Deutsch"). A choice of one among several is a radio group
 * (WAI-ARIA APG): role radiogroup named "Language" ("Sprache"), each option a radio
 * with aria-checked, one tab stop (the chosen option), the arrow keys move to the next
 * or previous option and choose it. They were two toggle buttons with aria-pressed, two
 * tab stops, read "English, toggle button, pressed", whose state said nothing of the
 * other language. Where the layout shows one option only (the phone's top bar, app.css:
 * the language not chosen), that option is a plain button named by what it does
 * (layOutSwitch): a radio group of one unchecked radio never said which language is on.
 */
function mountSwitch(slot) {
  if (!slot.dataset.mounted) {
    slot.dataset.mounted = '1';
    slot.classList.add('language-switch');
    for (const lang of LANGUAGES) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'language-option';
      b.dataset.lang = lang;
      b.addEventListener('click', () => choose(slot, lang));
      slot.append(b);
    }
    slot.addEventListener('keydown', (e) => moveInSwitch(slot, e));
    // The tab stop and the roles move with the layout: app.css alone says when an option
    // is not shown (the phone's top bar hides the chosen one), and the switch's box
    // changes then.
    if (typeof ResizeObserver === 'function') new ResizeObserver(() => layOutSwitch(slot)).observe(slot);
    // hadFocus: the focus is in the switch, or was until the layout hid the option that
    // had it (then it is on the body); layOutSwitch gives it back to the option shown.
    // Focus moved elsewhere (another element, a click outside, blur) is left there.
    slot.addEventListener('focusin', () => { slot.dataset.hadFocus = '1'; });
    slot.addEventListener('focusout', (e) => {
      if (e.relatedTarget && slot.contains(e.relatedTarget)) return;
      if (e.relatedTarget || shown(e.target)) delete slot.dataset.hadFocus;
    });
    document.addEventListener('pointerdown', (e) => {
      if (!slot.contains(e.target)) delete slot.dataset.hadFocus;
    }, true);
  }
  for (const b of slot.querySelectorAll('.language-option')) {
    const lang = b.dataset.lang;
    const name = (catalogues[lang] || {})['language.name'] || lang;
    // The full name, and the code a narrow top bar shows instead (app.css). The option
    // is named by the one shown (the other is display: none), so that its name holds
    // what it says (WCAG 2.5.3: "click EN" works by voice). The code alone named it
    // "EN", which a screen reader reads as a syllable, and the language's name, its
    // tooltip, only as a description that not every reader says by default: the code
    // is followed by the name in words only a screen reader reads, "EN (English)".
    const full = document.createElement('span');
    full.className = 'language-name';
    full.lang = lang;
    full.textContent = name;
    const spoken = document.createElement('span');
    spoken.className = 'sr-only';
    spoken.textContent = `(${name})`;
    const code = document.createElement('span');
    code.className = 'language-code';
    code.lang = lang;
    code.append(lang.toUpperCase(), ' ', spoken);
    b.replaceChildren(full, code);
    // Its title (the tooltip) and roles come from layOutSwitch, which knows the layout.
    // What app.css hides on a phone (not aria-checked, which a lone button has not).
    b.toggleAttribute('data-chosen', lang === current);
  }
  layOutSwitch(slot);
}

/**
 * layOutSwitch gives slot the roles of what the layout shows, and makes its tab stop
 * (tabStop) the only option Tab reaches. Where every option is shown (or none: a
 * screen hidden), a radio group as above. Where one only is (the phone's top bar shows
 * the language not chosen), that one is a plain button in the page's language, named
 * "Deutsch – switch to German" (SWITCH_TO), the slot no group: a screen reader heard a
 * radio group "Language" with one radio, unchecked, and never which language was on.
 */
function layOutSwitch(slot) {
  const options = [...slot.querySelectorAll('.language-option')];
  const visible = options.filter(shown);
  const lone = options.length > 1 && visible.length === 1;
  const wasLone = slot.hasAttribute('data-lone');
  slot.toggleAttribute('data-lone', lone); // app.css: it shows the name its own name begins with
  if (lone) {
    slot.removeAttribute('role');
    slot.removeAttribute('aria-label');
  } else {
    slot.setAttribute('role', 'radiogroup');
    slot.setAttribute('aria-label', t('language.switch'));
  }
  for (const b of options) {
    const lang = b.dataset.lang;
    if (lone) {
      b.removeAttribute('role');
      b.removeAttribute('aria-checked');
      b.removeAttribute('lang'); // its name is in the page's language; the name shown keeps its own
      const name = (catalogues[lang] || {})['language.name'] || lang;
      const label = SWITCH_TO[lang] ? attrText('aria-label', SWITCH_TO[lang], { name }) : name;
      b.setAttribute('aria-label', label);
      // The tooltip says the same: the language's name alone, the title it has in the
      // group, was heard after the name as its description ("English – auf Englisch
      // umstellen, Schalter, English"), and a German reader sees what "English" does.
      b.title = label;
    } else {
      b.setAttribute('role', 'radio');
      b.setAttribute('aria-checked', String(lang === current));
      b.lang = lang;
      b.removeAttribute('aria-label');
      b.title = (catalogues[lang] || {})['language.name'] || lang;
    }
  }
  const stop = tabStop(slot);
  for (const b of options) b.tabIndex = b === stop ? 0 : -1;
  // The focus stays on the switch when the layout changes it (a phone turned, a window
  // narrowed): the option that had it may be out of sight now (the focus went to the
  // body, and the next Tab to the top of the page), or the switch has changed its form
  // (a screen reader is told of the new one by the focus on its tab stop).
  const f = document.activeElement;
  const away = !f || f === document.body;
  const inside = options.includes(f);
  if (stop && f !== stop && shown(stop) && ((inside && (!shown(f) || wasLone !== lone)) || (away && slot.dataset.hadFocus))) {
    stop.focus();
  }
}

/**
 * tabStop is the option of slot that Tab reaches: the chosen one, or the first where
 * none is (the pseudo-language test); where the chosen one is not shown (the meeting's
 * top bar on a phone, app.css, offers only the other language), the first option shown.
 * What is shown is read from the layout, so that the width at which the top bar hides
 * the chosen option is written once, in app.css; a switch not shown at all (its screen
 * hidden) keeps the chosen one, and its box's change when shown moves it (mountSwitch).
 */
function tabStop(slot) {
  const options = [...slot.querySelectorAll('.language-option')];
  const chosen = options.find((b) => b.dataset.lang === current) || options[0];
  if (!chosen || shown(chosen)) return chosen;
  return options.find(shown) || chosen;
}

/** shown: b is laid out (not display: none, nor inside something that is). */
function shown(b) {
  return typeof b.getClientRects !== 'function' || b.getClientRects().length > 0;
}

/** choose switches to lang from slot; the focus, if it was in slot, goes to its tab stop. */
function choose(slot, lang) {
  const had = slot.contains(document.activeElement);
  setLanguage(lang);
  if (had) tabStop(slot)?.focus();
}

/**
 * moveInSwitch: an arrow key moves to the next (right, down) or previous option shown and
 * chooses it, round the ends, in a radio group. The phone's top bar shows one option,
 * the language not chosen, as a plain button (layOutSwitch): arrows do nothing there.
 */
function moveInSwitch(slot, e) {
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
  if (!step || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
  if (slot.getAttribute('role') !== 'radiogroup') return; // a lone button (layOutSwitch): Enter or Space
  const all = [...slot.querySelectorAll('.language-option')];
  const visible = all.filter(shown);
  const from = e.target.closest?.('.language-option');
  const options = visible.includes(from) ? visible : all;
  const at = options.indexOf(from);
  if (at < 0) return;
  e.preventDefault();
  const next = options[(at + step + options.length) % options.length];
  const had = slot.contains(document.activeElement);
  setLanguage(next.dataset.lang);
  // Onto the option chosen, as APG's radio group.
  if (had) tabStop(slot)?.focus();
}

/** formatDateTime formats a date (Date or ms) with its time in the user's locale. */
export function formatDateTime(date, options = { dateStyle: 'medium', timeStyle: 'short' }) {
  return new Intl.DateTimeFormat(locale(), options).format(new Date(date));
}

/** formatDate formats the day of date in the user's locale. */
export function formatDate(date, options = { dateStyle: 'medium' }) {
  return new Intl.DateTimeFormat(locale(), options).format(new Date(date));
}

/** formatTime formats the time of day of date in the user's locale. */
export function formatTime(date, options = { timeStyle: 'short' }) {
  return new Intl.DateTimeFormat(locale(), options).format(new Date(date));
}

/** formatNumber formats n in the user's locale. */
export function formatNumber(n, options) {
  return new Intl.NumberFormat(locale(), options).format(n);
}

applyTranslations(document);
