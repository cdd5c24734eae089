// How the catalogues say things (i18n.test.mjs checks that they agree in shape): the
// German one addresses the reader as "Sie", keeps one word for each thing (the words
// most of it used when this test was written), leaves no English behind, and writes
// German typography; a count is always said through plural forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const load = (lang) => JSON.parse(readFileSync(new URL(`../static/i18n/${lang}.json`, import.meta.url), 'utf8'));
const en = load('en');
const de = load('de');

/** texts lists [key, text] for every text of a catalogue (each plural form on its own). */
function texts(cat) {
  return Object.entries(cat).flatMap(([key, v]) => (typeof v === 'object'
    ? Object.entries(v).map(([form, s]) => [`${key}#${form}`, s])
    : [[key, v]]));
}

function violations(cat, rules) {
  const out = [];
  for (const [key, text] of texts(cat)) {
    for (const [pattern, why] of rules) {
      const m = text.match(pattern);
      if (m) out.push(`${key}: "${m[0]}" (${why}) in "${text}"`);
    }
  }
  return out;
}

test('German addresses the reader formally ("Sie", never "du")', () => {
  assert.deepEqual(violations(de, [
    [/\b(du|dich|dir|dein\w*|euch|euer|eure\w*)\b/i, 'informal address: use "Sie"'],
  ]), []);
});

test('German keeps one word for each thing', () => {
  // The word on the right is the one the catalogue uses everywhere else.
  assert.deepEqual(violations(de, [
    [/[Gg]astgeber\w*/, 'the role is "Host" (Host-Schlüssel, Host-Link); co-hosts are "die Moderation"'],
    [/\bLobby\b|Wartebereich|Warteschlange/, 'the place is "Warteraum"'],
    [/\bModerator(in|en|innen)?\b/, 'the role is "die Moderation" / "moderieren"'],
    [/\bTeilnehmer(in|innen|n|s)?\b/, 'people are "Teilnehmende"'],
    [/\bBesprechung\b|\bKonferenz\b|\bSitzung\b|Videomeeting/, 'one is a "Meeting" (the product makes "Videokonferenzen")'],
    [/Kennwort/, '"Passwort"'],
    [/\bAudio\b/, '"Ton"'],
    [/Bildschirmteilung|Screen-?[Ss]haring/, '"Bildschirmfreigabe"'],
    [/\bE2EE\b/, '"Ende-zu-Ende-Verschlüsselung"'],
    [/\bCtrl\b|\bShift\b/, 'German keys are "Strg" and "Umschalt"'],
    [/Fehlversuche? mit falschem/, 'a wrong password is a "Versuch mit falschem Passwort" (or a "Fehlversuch")'],
    [/Moderation\s+(entz\w*|gegeben|geben)\b/, 'a moderator gives or takes "das Moderationsrecht" ("Moderationsrecht entziehen"); "die Moderation" is the moderators'],
    [/(Moderations|Vortrags)recht\s+geben/, 'a right is granted: "Moderationsrecht erteilen", as it is withdrawn: "entziehen"'],
    [/Vortragende und Moderation/, '"die Moderation" keeps its article: "Vortragende und die Moderation"'],
    [/[Nn]iemand Neues/, 'formal: "neue Personen können nicht …"'],
  ]), []);
});

test('English keeps one word for each thing', () => {
  assert.deepEqual(violations(en, [
    [/\blobby\b/i, 'the place is the "waiting room"'],
    [/\bconference\b|\bsession\b/i, 'one is a "meeting"'],
  ]), []);
});

test('no English is left in the German catalogue', () => {
  // Texts that are the same in both (a brand, a key name, a loanword German uses).
  const same = new Set(['devices.shortcuts.helpKeys', 'devices.shortcuts.escKeys', 'common.optional', 'meeting.page-title',
    'meeting.label', 'chat.title', 'settings.chat', 'modctl.knock.tab-title', 'e2ee14.names.pending']);
  const identical = Object.keys(en).filter((k) => JSON.stringify(en[k]) === JSON.stringify(de[k]) && !same.has(k));
  assert.deepEqual(identical, [], 'texts the same in English and German: translate them, or list them here');
  assert.deepEqual(violations(de, [
    [/\b(the|and|you|your|with|is|to|of|please|click|not|for|this)\b/i, 'an English word'],
  ]), []);
});

test('typography: German quotes, dashes and ellipses; English ellipses', () => {
  assert.deepEqual(violations(de, [
    [/\.\.\./, 'write "…"'],
    [/[^\s(]…/, 'German puts a space before "…" ("Wird geladen …")'],
    [/"/, 'German quotes are „…“'],
    [/ - /, 'a dash is "–"'],
    [/z\. B\./, '"z. B." is held together by a no-break space ("z.\\u00a0B.")'],
    [/(\d|\})[ \t](Sekunden?|Minuten?|Stunden?|Zeichen|Uhr|Min|Std)\b/, 'a number and its unit are joined by a no-break space ("10\\u00a0Minuten")'],
  ]), []);
  assert.deepEqual(violations(en, [
    [/\.\.\./, 'write "…"'],
    [/\s…$/, 'English writes "Loading…"'],
  ]), []);
});

test('a count is said with plural forms (1 Person, 2 Personen)', () => {
  // Texts where {count} is not a number of things.
  const notAmount = new Set(['modctl.knock.tab-title']);
  for (const [lang, cat] of [['en', en], ['de', de]]) {
    for (const [key, v] of Object.entries(cat)) {
      if (typeof v === 'string' && v.includes('{count}') && !notAmount.has(key)) {
        assert.fail(`${lang}.json "${key}": "${v}" says a count without plural forms`);
      }
    }
  }
  // The German forms differ where the noun does (a copy of "other" into "one" would say
  // "1 Personen").
  for (const [key, v] of Object.entries(de)) {
    if (typeof v !== 'object') continue;
    const counted = /\{count\}[ \u00a0]\p{Lu}/u; // "{count} Personen": a German noun is capitalised
    if (counted.test(v.other)) assert.notEqual(v.one, v.other, `de.json "${key}": one and other are the same`);
  }
});
