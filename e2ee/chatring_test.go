package e2ee

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// chatKeyDropCase takes one sender's chat keys (ChatRing, the browser's ChatKeys)
// through keys set from envelopes (with their counters and past marks) and texts
// opened, with the newest index and the held indexes after each step.
type chatKeyDropCase struct {
	Name     string         `json:"name"`
	SenderID string         `json:"senderId"`
	Steps    []chatDropStep `json:"steps"`
}

type chatDropStep struct {
	Op      string `json:"op"` // "set" or "open"
	Counter uint64 `json:"counter,omitempty"`
	Past    bool   `json:"past,omitempty"`
	RawKey  string `json:"rawKey,omitempty"`
	Cipher  string `json:"cipher,omitempty"`
	Result  string `json:"result,omitempty"` // "ok", "unknown-key", "auth"
	Text    string `json:"text,omitempty"`
	Newest  byte   `json:"newest"`
	Held    []int  `json:"held"`
}

// chatKeyDrops: the expected results (newest, held, what each text gives) are
// written out by hand from FORMAT.md ("Chat (version 3)", "The newest key") and the
// ring's rules, so that both implementations are checked against them; only the
// texts themselves are made here.
func chatKeyDrops(t *testing.T) []chatKeyDropCase {
	const sender = "p-alice"
	k, f, p := seq(32, 0x10), seq(32, 0x50), seq(32, 0x90)
	ratchets := func(raw []byte, n int) []byte {
		for range n {
			raw = Ratchet(raw)
		}
		return raw
	}
	b64s := func(b []byte) string { return b64.EncodeToString(b) }
	set := func(counter uint64, raw []byte, newest byte, held ...int) chatDropStep {
		return chatDropStep{Op: "set", Counter: counter, RawKey: b64s(raw), Newest: newest, Held: held}
	}
	past := func(counter uint64, raw []byte, newest byte, held ...int) chatDropStep {
		s := set(counter, raw, newest, held...)
		s.Past = true
		return s
	}
	n := uint64(0)
	// open: a text under raw at index, and what the keys do with it.
	open := func(raw []byte, index byte, result string, newest byte, held ...int) chatDropStep {
		n++
		text := fmt.Sprintf("text %d", n)
		s := chatDropStep{Op: "open", Cipher: mustChat(t, raw, index, sender, text, n, seq(IVSize, byte(n))),
			Result: result, Newest: newest, Held: held}
		if result == "ok" {
			s.Text = text
		}
		return s
	}
	c := func(name string, steps ...chatDropStep) chatKeyDropCase {
		return chatKeyDropCase{name, sender, steps}
	}
	r := func(from, to int) []int { // from..to, ascending
		var out []int
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	}
	// Past keys come newest first (99 down to 84): at the 16th the oldest install
	// beyond the newest, 99, goes.
	full := []chatDropStep{set(100, k, 100, 100)}
	for i := 1; i <= 15; i++ {
		full = append(full, past(uint64(100-i), ratchets(p, i), 100, r(100-i, 100)...))
	}
	after := append(r(84, 98), 100)
	full = append(full,
		past(84, ratchets(p, 16), 100, after...),
		open(ratchets(p, 16), 84, "ok", 100, after...),
		open(ratchets(p, 1), 99, "unknown-key", 100, after...),
		open(k, 100, "ok", 100, after...))
	// A key set at a held index (the rotated key at a guess's) is a new install: after
	// it, the past key 18 is older, and goes before it.
	again := []chatDropStep{
		set(20, k, 20, 20),
		open(ratchets(k, 2), 22, "ok", 22, 20, 22),
		past(18, p, 22, 18, 20, 22),
		set(22, f, 22, 18, 20, 22),
	}
	for i := 23; i <= 35; i++ {
		again = append(again, set(uint64(i), ratchets(f, i-22), byte(i), append([]int{18, 20}, r(22, i)...)...))
	}
	again = append(again,
		set(36, ratchets(f, 14), 36, append([]int{18}, r(22, 36)...)...),
		set(37, ratchets(f, 15), 37, r(22, 37)...),
		open(p, 18, "unknown-key", 37, r(22, 37)...),
		open(f, 22, "ok", 37, r(22, 37)...))
	return []chatKeyDropCase{
		c("ratchets followed while the rotation was held back go when it comes; the keys below it stay",
			set(10, k, 10, 10),
			open(ratchets(k, 2), 12, "ok", 12, 10, 12),
			open(ratchets(k, 3), 13, "ok", 13, 10, 12, 13),
			set(11, f, 11, 10, 11),
			open(ratchets(k, 2), 12, "unknown-key", 11, 10, 11),
			open(ratchets(k, 3), 13, "unknown-key", 11, 10, 11),
			open(k, 10, "ok", 11, 10, 11),
			open(ratchets(f, 1), 12, "ok", 12, 10, 11, 12)),
		c("the rotated key at the index a guess took replaces it",
			set(10, k, 10, 10),
			open(ratchets(k, 1), 11, "ok", 11, 10, 11),
			open(ratchets(k, 2), 12, "ok", 12, 10, 11, 12),
			set(11, f, 11, 10, 11),
			open(ratchets(k, 1), 11, "auth", 11, 10, 11),
			open(ratchets(k, 2), 12, "unknown-key", 11, 10, 11),
			open(ratchets(f, 1), 12, "ok", 12, 10, 11, 12)),
		c("a past key drops no guess and starts none; a newest key drops the guesses above it, not the past key",
			set(20, k, 20, 20),
			open(ratchets(k, 2), 22, "ok", 22, 20, 22),
			past(18, p, 22, 18, 20, 22),
			open(p, 18, "ok", 22, 18, 20, 22),
			open(ratchets(p, 1), 19, "unknown-key", 22, 18, 20, 22),
			open(ratchets(k, 3), 23, "ok", 23, 18, 20, 22, 23),
			set(21, f, 21, 18, 20, 21),
			open(ratchets(k, 2), 22, "unknown-key", 21, 18, 20, 21),
			open(p, 18, "ok", 21, 18, 20, 21),
			open(k, 20, "ok", 21, 18, 20, 21)),
		c("the newest key sent again drops the guesses followed from it; a text under one derives it again",
			set(40, k, 40, 40),
			open(ratchets(k, 2), 42, "ok", 42, 40, 42),
			set(40, k, 40, 40),
			open(ratchets(k, 2), 42, "ok", 42, 40, 42)),
		c("a past key at the newest's index does not replace it (the keys take the caller's word: JudgeKey decides what reaches them)",
			set(30, k, 30, 30),
			past(30, p, 30, 30),
			open(k, 30, "ok", 30, 30),
			open(p, 30, "auth", 30, 30)),
		c("counters decide, not indexes: a guess at index 4 (counter 516) goes for a key at index 254 (counter 510), a past key at 249 stays",
			set(506, k, 250, 250),
			open(ratchets(k, 10), 4, "ok", 4, 4, 250),
			past(505, p, 4, 4, 249, 250),
			set(510, f, 254, 249, 250, 254),
			open(ratchets(k, 10), 4, "unknown-key", 254, 249, 250, 254),
			open(p, 249, "ok", 254, 249, 250, 254)),
		c("counters decide, not indexes: keys at indexes 250 and 252 (counters 250, 252) stay for a key at index 4 (counter 260)",
			set(250, k, 250, 250),
			open(ratchets(k, 2), 252, "ok", 252, 250, 252),
			set(260, f, 4, 4, 250, 252),
			open(ratchets(k, 2), 252, "ok", 4, 4, 250, 252),
			open(k, 250, "ok", 4, 4, 250, 252)),
		c("16 past keys behind the newest: the oldest install goes, which is not the newest", full...),
		c("a key set at a held index counts as a new install: the past key installed before it goes first", again...),
		c("a text 1 to 16 ratchet steps past the newest opens, across the wrap (250 to 10); one 17 steps past does not until a guess moves the newest",
			set(250, k, 250, 250),
			open(ratchets(k, 17), 11, "unknown-key", 250, 250),
			open(ratchets(k, 16), 10, "ok", 10, 10, 250),
			open(ratchets(k, 17), 11, "ok", 11, 10, 11, 250)),
	}
}

// checkChatKeyDrops runs the cases on ChatRing.
func checkChatKeyDrops(t *testing.T, cases []chatKeyDropCase) {
	t.Helper()
	if len(cases) < 6 {
		t.Fatalf("%d chat key drop cases", len(cases))
	}
	for _, c := range cases {
		var ring ChatRing
		for i, s := range c.Steps {
			what := fmt.Sprintf("chat key drops %q, step %d (%s)", c.Name, i, s.Op)
			switch s.Op {
			case "set":
				raw, err := b64.DecodeString(s.RawKey)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if err := ring.Set(s.Counter, raw, s.Past); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			case "open":
				text, _, err := ring.Open(c.SenderID, s.Cipher)
				if got := errCode(err); got != s.Result {
					t.Errorf("%s: %s, want %s", what, got, s.Result)
				} else if err == nil && text != s.Text {
					t.Errorf("%s: %q, want %q", what, text, s.Text)
				}
			default:
				t.Fatalf("%s: unknown op", what)
			}
			var held []int
			for i := range 256 {
				if ring.Has(byte(i)) {
					held = append(held, i)
				}
			}
			if newest, _ := ring.Newest(); newest != s.Newest || !slices.Equal(held, s.Held) || ring.Len() != len(s.Held) {
				t.Errorf("%s: newest %d, held %v, want %d, %v", what, newest, held, s.Newest, s.Held)
			}
		}
	}
}

func TestChatRingBadInput(t *testing.T) {
	var r ChatRing
	if err := r.Set(1, seq(31, 0), false); !errors.Is(err, ErrMalformed) {
		t.Error("a 31-byte key:", err)
	}
	if err := r.Set(MaxKeyCounter+1, seq(32, 0), false); !errors.Is(err, ErrMalformed) {
		t.Error("a counter above MaxKeyCounter:", err)
	}
	if _, ok := r.Newest(); ok || r.Len() != 0 {
		t.Error("a refused key was installed")
	}
	if _, _, err := r.Open("p-alice", mustChat(t, seq(32, 0), 0, "p-alice", "x", 1, nil)); !errors.Is(err, ErrUnknownKey) {
		t.Error("no key yet:", err)
	}
	if _, _, err := r.Open("p-alice", "e3.AA"); !errors.Is(err, ErrTooShort) {
		t.Error("too short:", err)
	}
}
