package web

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// jsToken is one token of a script: kind is 's' for a string or template literal
// (text holds the literal as written, quotes included), 'r' for a regular expression,
// 'w' for a word (identifier, keyword, number) and 'p' for punctuation (one character,
// or "?."). Comments are dropped.
type jsToken struct {
	kind byte
	text string
	line int
}

// jsTokens splits src into tokens: enough of JavaScript to find calls, their arguments
// and string literals (template literals with ${…} are one token).
func jsTokens(src string) ([]jsToken, error) {
	var out []jsToken
	line := 1
	i := 0
	// regexAllowed: a '/' here starts a regular expression, not a division.
	regexAllowed := func() bool {
		if len(out) == 0 {
			return true
		}
		last := out[len(out)-1]
		switch last.kind {
		case 's', 'r':
			return false
		case 'w':
			return slices.Contains([]string{"return", "typeof", "case", "of", "in", "do", "else", "void", "yield", "await", "delete", "new"}, last.text)
		}
		return !strings.ContainsAny(last.text, ")]}")
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated comment", line)
			}
			line += strings.Count(src[i:i+2+end+2], "\n")
			i += 2 + end + 2
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				} else if src[j] == '\n' {
					return nil, fmt.Errorf("line %d: unterminated string", line)
				}
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			out = append(out, jsToken{'s', src[i : j+1], line})
			i = j + 1
		case c == '`':
			j, err := templateEnd(src, i)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", line, err)
			}
			out = append(out, jsToken{'s', src[i:j], line})
			line += strings.Count(src[i:j], "\n")
			i = j
		case c == '/' && regexAllowed():
			j, inClass := i+1, false
			for j < len(src) && (inClass || src[j] != '/') {
				switch src[j] {
				case '\\':
					j++
				case '[':
					inClass = true
				case ']':
					inClass = false
				case '\n':
					return nil, fmt.Errorf("line %d: unterminated regular expression", line)
				}
				j++
			}
			j++
			for j < len(src) && unicode.IsLetter(rune(src[j])) {
				j++
			}
			out = append(out, jsToken{'r', src[i:j], line})
			i = j
		case c == '_' || c == '$' || c >= 0x80 || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '$' || src[j] >= 0x80 || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			out = append(out, jsToken{'w', src[i:j], line})
			i = j
		case strings.HasPrefix(src[i:], "?."):
			out = append(out, jsToken{'p', "?.", line})
			i += 2
		default:
			out = append(out, jsToken{'p', string(c), line})
			i++
		}
	}
	return out, nil
}

// templateEnd returns the index just past the template literal starting at src[i].
func templateEnd(src string, i int) (int, error) {
	j := i + 1
	for j < len(src) {
		switch {
		case src[j] == '\\':
			j += 2
		case src[j] == '`':
			return j + 1, nil
		case strings.HasPrefix(src[j:], "${"):
			// The expression: braces counted, nested strings and templates skipped.
			depth := 1
			j += 2
			for j < len(src) && depth > 0 {
				switch c := src[j]; {
				case c == '{':
					depth++
					j++
				case c == '}':
					depth--
					j++
				case c == '`':
					end, err := templateEnd(src, j)
					if err != nil {
						return 0, err
					}
					j = end
				case c == '\'' || c == '"':
					k := j + 1
					for k < len(src) && src[k] != c {
						if src[k] == '\\' {
							k++
						}
						k++
					}
					j = k + 1
				default:
					j++
				}
			}
		default:
			j++
		}
	}
	return 0, fmt.Errorf("unterminated template literal")
}

// literalText is the text a string or template literal shows: its contents without
// the quotes and, for a template, without its ${…} parts.
func literalText(tok jsToken) string {
	s := tok.text[1 : len(tok.text)-1]
	if tok.text[0] != '`' {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			continue
		}
		depth := 0
		for ; i < len(s); i++ {
			if s[i] == '{' {
				depth++
			} else if s[i] == '}' {
				if depth--; depth == 0 {
					break
				}
			}
		}
	}
	return b.String()
}

// callArgs returns the arguments of the call whose '(' is toks[open], each as its
// tokens, and the index of the closing ')'.
func callArgs(toks []jsToken, open int) ([][]jsToken, int) {
	var args [][]jsToken
	var cur []jsToken
	depth := 0
	for i := open + 1; i < len(toks); i++ {
		tok := toks[i]
		if tok.kind == 'p' {
			switch tok.text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					if len(cur) > 0 {
						args = append(args, cur)
					}
					return args, i
				}
				depth--
			case ",":
				if depth == 0 {
					args = append(args, cur)
					cur = nil
					continue
				}
			}
		}
		cur = append(cur, tok)
	}
	return args, len(toks)
}

// shownLiterals returns the string literals of an expression whose text is its value:
// not those inside a call (t('key') makes its own text), nor those compared with
// (kind === 'error' ? …).
func shownLiterals(expr []jsToken) []jsToken {
	var out []jsToken
	text := func(k int) string {
		if k >= 0 && k < len(expr) {
			return expr[k].text
		}
		return ""
	}
	for k := 0; k < len(expr); k++ {
		tok := expr[k]
		if tok.kind == 'w' && text(k+1) == "(" {
			_, end := callArgs(expr, k+1)
			k = end
			continue
		}
		if tok.kind != 's' {
			continue
		}
		compared := (text(k-1) == "=" && (text(k-2) == "=" || text(k-2) == "!")) ||
			(text(k+1) == "=" && text(k+2) == "=") || (text(k+1) == "!" && text(k+2) == "=")
		index := text(k-1) == "[" && text(k+1) == "]" // cat['language.name']
		if !compared && !index {
			out = append(out, tok)
		}
	}
	return out
}
