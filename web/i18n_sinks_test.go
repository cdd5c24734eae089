package web

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The scripts put text on screen (and into screen readers, notifications and the tab
// title) only through the catalogues. TestPagesHaveNoBareText guards the HTML; this
// guards the scripts: a string literal with letters handed to a place a person reads
// or hears is English on a German screen. The pseudo-language browser test
// (internal/e2e TestNoTextBypassesTheCatalogue) sees only the states it drives; this
// reads every line of every script.

// A place in the scripts where text reaches a person.
var (
	// textSinks take shown or spoken text as their first argument: a literal there is
	// text outside the catalogues (t(key) makes the text).
	textSinks = []string{"toast", "announce", "alert", "confirm", "prompt", "Notification", "createTextNode"}
	// keySinks take a catalogue key at an argument (by index): a literal there must be one.
	keySinks = map[string]int{"t": 0, "has": 0, "setText": 1, "setAttr": 2, "setErrorCode": 1, "banner": 0, "notice": 0}
	// shownProps are el() props and element properties a person reads or hears.
	shownProps = []string{"text", "textContent", "innerText", "innerHTML", "title", "placeholder", "alt", "aria-label", "ariaLabel", "aria-description", "aria-roledescription", "aria-valuetext", "label"}
	// childSinks take text as children (every argument of append, and el's after its props).
	childSinks = map[string]int{"el": 2, "append": 0, "prepend": 0, "replaceChildren": 0, "before": 0, "after": 0}
)

var catalogueKeyShape = regexp.MustCompile(`^[a-z0-9]+(\.[A-Za-z0-9_-]+)+$`)

// bareText lists the places in src where a literal with letters reaches a person, and
// key literals that are not keys of cat. counts says how many calls of each sink it saw.
func bareText(src string, cat map[string]any, counts map[string]int) ([]string, error) {
	toks, err := jsTokens(src)
	if err != nil {
		return nil, err
	}
	var found []string
	lettered := func(tok jsToken) bool {
		return tok.kind == 's' && hasLetter(literalText(tok)) && !allowedText[literalText(tok)]
	}
	report := func(tok jsToken, format string, a ...any) {
		found = append(found, fmt.Sprintf("line %d: %s", tok.line, fmt.Sprintf(format, a...)))
	}
	checkKeys := func(name string, arg []jsToken) {
		for _, tok := range shownLiterals(arg) {
			key := literalText(tok)
			if key == "" {
				continue // no text: hides the element
			}
			if tok.text[0] == '`' || !catalogueKeyShape.MatchString(key) {
				report(tok, "%s(…%s…) is given text, not a catalogue key", name, tok.text)
			} else if _, ok := cat[key]; !ok {
				report(tok, "%s(…%s…): no such key in en.json", name, tok.text)
			}
		}
	}
	// i18nAttr: { title: 'key' } maps attributes to keys: its props are not text.
	var keyTables [][2]int
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].text == "i18nAttr" && toks[i+1].text == ":" && toks[i+2].text == "{" {
			_, end := callArgs(toks, i+2)
			keyTables = append(keyTables, [2]int{i + 2, end})
		}
	}
	inKeyTable := func(i int) bool {
		return slices.ContainsFunc(keyTables, func(r [2]int) bool { return i > r[0] && i < r[1] })
	}
	for i, tok := range toks {
		next := func(k int) jsToken {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return jsToken{}
		}
		if tok.kind == 'w' && next(1).text == "(" {
			name := tok.text
			method := i > 0 && (toks[i-1].text == "." || toks[i-1].text == "?.")
			if i > 0 && toks[i-1].text == "function" {
				continue // a definition, not a call
			}
			args, _ := callArgs(toks, i+1)
			if slices.Contains(textSinks, name) {
				counts[name]++
				if len(args) > 0 {
					for _, a := range shownLiterals(args[0]) {
						if lettered(a) {
							report(a, "%s(%s): text outside the catalogues", name, a.text)
						}
					}
				}
			}
			if idx, ok := keySinks[name]; ok && (!method || name == "notice") && len(args) > idx {
				counts[name]++
				checkKeys(name, args[idx])
			}
			if from, ok := childSinks[name]; ok && (name == "el") != method {
				counts[name]++
				// An argument is text, or an expression whose value is (ok ? 'Yes' : 'No',
				// 'Nobody but ' + name): a literal in it shows, one inside a call does not.
				for _, a := range args[min(from, len(args)):] {
					for _, v := range shownLiterals(a) {
						if lettered(v) {
							report(v, "%s(…, %s): text outside the catalogues", name, v.text)
						}
					}
				}
			}
			if name == "setAttribute" && method && len(args) == 2 && len(args[0]) == 1 && args[0][0].kind == 's' &&
				slices.Contains(shownProps, literalText(args[0][0])) {
				counts[name]++
				for _, a := range shownLiterals(args[1]) {
					if lettered(a) {
						report(a, "setAttribute(%s, %s): text outside the catalogues", args[0][0].text, a.text)
					}
				}
			}
		}
		// el({ text: 'Hello' }), { 'aria-label': 'Close' }, node.title = 'Close', document.title = 'Conclave'
		prop := tok.text
		if tok.kind == 's' {
			prop = literalText(tok)
		}
		if (tok.kind == 'w' || tok.kind == 's') && slices.Contains(shownProps, prop) && !inKeyTable(i) {
			op := next(1).text
			if op == "+" && next(2).text == "=" && i > 0 && toks[i-1].text == "." {
				op = "+=" // node.textContent += ' (you)': the value is text too
			}
			start := i + 2
			if op == "+=" {
				start = i + 3
			}
			if op == ":" || op == "+=" || (op == "=" && next(2).text != "=" && i > 0 && toks[i-1].text == ".") {
				counts["."+prop]++
				// The value, to the end of its expression: a literal anywhere in it
				// (a ? 'Yes' : 'No') shows.
				var val []jsToken
				depth := 0
				for k := start; k < len(toks); k++ {
					v := toks[k]
					if v.kind == 'p' {
						if strings.Contains("([{", v.text) {
							depth++
						} else if strings.Contains(")]}", v.text) {
							if depth--; depth < 0 {
								break
							}
						} else if depth == 0 && (v.text == "," || v.text == ";") {
							break
						}
					}
					val = append(val, v)
				}
				for _, v := range shownLiterals(val) {
					// { label: 'e2ee.on.label' }: a table of keys (their use is checked
					// by TestEveryKeyUsedIsInTheCatalogues), not text.
					if _, isKey := cat[literalText(v)]; op == ":" && isKey {
						continue
					}
					if lettered(v) {
						report(v, "%s %s %s: text outside the catalogues", prop, op, v.text)
					}
				}
			}
		}
		// el(tag, { i18n: 'x' }) and i18nAttr: { title: 'x' } name keys.
		if tok.kind == 'w' && (tok.text == "i18n") && next(1).text == ":" {
			counts["i18n:"]++
			var val []jsToken
			for k := i + 2; k < len(toks) && !(toks[k].kind == 'p' && strings.Contains(",;)}", toks[k].text)); k++ {
				val = append(val, toks[k])
			}
			checkKeys("i18n:", val)
		}
		if tok.kind == 'w' && tok.text == "i18nAttr" && next(1).text == ":" && next(2).text == "{" {
			counts["i18nAttr:"]++
			args, _ := callArgs(toks, i+2)
			for _, a := range args {
				if len(a) >= 3 && a[1].text == ":" {
					checkKeys("i18nAttr:", a[2:])
				}
			}
		}
	}
	return found, nil
}

// TestScriptsShowNoBareText: no script hands a person text that is not from the
// catalogues: no literal with letters in toast(), announce(), a notification, a dialog,
// an element's text, label, title or placeholder, or as a child of el() and append();
// every literal given as a key (t(), setText(), setAttr(), i18n:, i18nAttr:) is one.
func TestScriptsShowNoBareText(t *testing.T) {
	cat := loadCatalogue(t, "en")
	counts := map[string]int{}
	for name, src := range staticFiles(t, ".js") {
		if strings.HasPrefix(name, "static/vendor/") {
			continue
		}
		found, err := bareText(src, cat, counts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, f := range found {
			t.Errorf("%s %s", name, f)
		}
	}
	// The scan reads what it should: the sinks are there in numbers (a broken tokenizer
	// would find none and pass).
	for sink, least := range map[string]int{"toast": 30, "announce": 8, "t": 150, "setText": 20, "setAttr": 15, "el": 60, "i18n:": 40, "i18nAttr:": 10, ".text": 15, ".textContent": 15, "Notification": 1} {
		if counts[sink] < least {
			t.Errorf("only %d uses of %s found (at least %d expected): is the scan broken?", counts[sink], sink, least)
		}
	}
}

// TestBareTextScanFindsPlantedText: the scan above flags each way text can bypass the
// catalogues, and passes the ways the scripts use them.
func TestBareTextScanFindsPlantedText(t *testing.T) {
	cat := map[string]any{"chat.open": "Open chat", "a.b": "x"}
	bad := []string{
		`toast('Copied!');`,
		"toast(`Copied ${n}`, { kind: 'success' });",
		`announce(ok ? t('a.b') : 'Failed');`,
		`new Notification('Someone knocks', {});`,
		`alert("Bad");`,
		`el('span', { class: 'x', text: 'Hello' });`,
		`el('button', { 'aria-label': 'Close' });`,
		`el('p', {}, 'Loading…');`,
		`node.textContent = 'Waiting';`,
		`btn.title = on ? 'On' : t('a.b');`,
		`document.title = 'Conclave meeting';`,
		`input.placeholder = "Your name";`,
		`b.setAttribute('aria-label', 'Mute');`,
		`list.append('Nobody here');`,
		`setText(node, 'Hello there');`,
		`setAttr(node, 'title', 'chat.missing');`,
		`el('p', { i18n: 'Hello' });`,
		`el('p', { i18nAttr: { title: 'Close it' } });`,
		`banner('e2ee failed');`,
		`t(cond ? 'a.b' : 'nope.key');`,
		`el('p', {}, ok ? 'Yes' : 'No');`,
		`list.append('Nobody here but ' + name);`,
		`node.replaceChildren(icon('x'), ` + "`${n} waiting`" + `);`,
		`node.textContent += ' (you)';`,
	}
	for _, src := range bad {
		found, err := bareText(src, cat, map[string]int{})
		if err != nil || len(found) == 0 {
			t.Errorf("not flagged (%v): %s", err, src)
		}
	}
	good := []string{
		`toast(t('chat.open'), { kind: 'success' });`,
		`announce(t(on ? 'a.b' : 'chat.open'));`,
		`el('span', { class: 'chat-name', text: name, dataset: { id: 'x y' } }, icon('hand', 'icon icon-inline'));`,
		`el('span', { 'aria-hidden': 'true' }, '·');`,
		`node.textContent = '';`,
		"$('#t').textContent = h ? `${h}:${mm}` : `(${n})`;",
		`node.textContent = String(n);`,
		`setText(box, key, params); setAttr(b, 'aria-label', 'chat.open', { count: 2 });`,
		`showError(box, '');`,
		`el('p', { i18n: 'a.b', i18nAttr: { title: 'chat.open', 'aria-label': 'a.b' } });`,
		`const re = /it's "quoted"/g; toast(t('a.b')); // it's a comment with 'quotes'`,
		"/* toast('in a comment') */ const s = `a ${f({ x: '}' })} b`; toast(t('a.b'));",
		`console.warn('conclave: screen share failed', err && err.message);`,
		`document.title = want;`,
		`function toast(text, { kind = 'info' } = {}) {}`,
	}
	for _, src := range good {
		found, err := bareText(src, cat, map[string]int{})
		if err != nil || len(found) > 0 {
			t.Errorf("flagged (%v): %s: %v", err, src, found)
		}
	}
}
