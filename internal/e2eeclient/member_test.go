package e2eeclient

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"conclave/e2ee"
	"conclave/internal/fakeclock"
)

// relay is an in-memory server: it queues what members send and delivers it in order
// as the server would (e2ee from the sender; a batch as one e2ee per envelope).
type relay struct {
	members map[string]*Member
	queue   []delivery
	sent    map[string][]string // sender -> types it sent
	// drop, when set, says which deliveries the server drops (as a full queue does).
	drop func(d delivery) bool
}

type delivery struct {
	to, typ string
	payload json.RawMessage
}

type port struct {
	r    *relay
	from string
}

func (p port) Send(typ string, payload any) (string, error) {
	b, _ := json.Marshal(payload)
	p.r.sent[p.from] = append(p.r.sent[p.from], typ)
	switch typ {
	case "e2ee":
		var m struct{ To, Data string }
		_ = json.Unmarshal(b, &m)
		for id := range p.r.members {
			if id != p.from && (m.To == "" || m.To == id) {
				p.r.push(id, "e2ee", map[string]string{"from": p.from, "data": m.Data})
			}
		}
	case "e2ee_batch":
		var m struct{ Envelopes []struct{ To, Data string } }
		_ = json.Unmarshal(b, &m)
		for _, e := range m.Envelopes {
			if _, ok := p.r.members[e.To]; ok {
				p.r.push(e.To, "e2ee", map[string]string{"from": p.from, "data": e.Data})
			}
		}
	}
	return "", nil
}

func (r *relay) push(to, typ string, payload any) {
	b, _ := json.Marshal(payload)
	r.queue = append(r.queue, delivery{to, typ, b})
}

// settle delivers until nothing is queued, flushing each member after each delivery.
func (r *relay) settle(t *testing.T) {
	for len(r.queue) > 0 {
		d := r.queue[0]
		r.queue = r.queue[1:]
		m := r.members[d.to]
		if m == nil || r.drop != nil && r.drop(d) {
			continue
		}
		if err := m.Handle(d.typ, d.payload); err != nil {
			t.Fatal(err)
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *relay) join(t *testing.T, id string, secret []byte) *Member {
	return r.joinNamed(t, id, secret, "")
}

func (r *relay) leave(id string) {
	delete(r.members, id)
	for o := range r.members {
		r.push(o, "participant_left", map[string]string{"participantId": id})
	}
}

// TestModel: members verify each other, a join ratchets, a leave rotates and costs each
// remaining member one batch; a member with another secret gets nothing.
func TestModel(t *testing.T) {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	r := &relay{members: map[string]*Member{}, sent: map[string][]string{}}
	ids := []string{"p-a", "p-b", "p-c", "p-d"}
	for _, id := range ids {
		r.join(t, id, secret)
	}
	wrong := make([]byte, 16)
	_, _ = rand.Read(wrong)
	w := r.join(t, "p-w", wrong)
	a, b := r.members["p-a"], r.members["p-b"]
	if n := len(a.Verified()); n != 3 {
		t.Fatalf("a verified %d", n)
	}
	// b joined after a: a ratcheted; b holds the ratcheted key a gave it or an older
	// one that ratchets to it.
	if k, ok := b.KeyFrom("p-a"); !ok || k.Index > a.OwnKey().Index {
		t.Fatalf("b holds %v of a's, a is at %d", k, a.OwnKey().Index)
	}
	if len(w.Verified()) != 0 || len(w.keys) != 0 {
		t.Fatal("the member with the wrong secret verified someone or got a key")
	}

	for id := range r.sent {
		r.sent[id] = nil
	}
	r.leave("p-d")
	r.settle(t)
	for _, id := range ids[:3] {
		if got := r.sent[id]; len(got) != 1 || got[0] != "e2ee_batch" {
			t.Fatalf("%s sent %v for one leave", id, got)
		}
		for _, s := range ids[:3] {
			if s == id {
				continue
			}
			got, ok := r.members[id].KeyFrom(s)
			want := r.members[s].OwnKey()
			if !ok || got.Index != want.Index || !bytes.Equal(got.Raw, want.Raw) {
				t.Fatalf("%s does not hold %s's rotated key", id, s)
			}
		}
	}
}

// TestKeyRequest: a member that lost a sender's key asks for it and gets the sender's
// identity again and its current key; the sender answers a requester at most once a
// second (on the injected clock), and one it did not verify with its identity alone.
func TestKeyRequest(t *testing.T) {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	r := &relay{members: map[string]*Member{}, sent: map[string][]string{}}
	a := r.join(t, "p-a", secret)
	clock := fakeclock.New(time.Unix(1000, 0))
	a.SetClock(clock.Now)
	b := r.join(t, "p-b", secret)
	wrong := make([]byte, 16)
	_, _ = rand.Read(wrong)
	w := r.join(t, "p-w", wrong)

	b.mu.Lock()
	delete(b.keys, "p-a") // as if the server dropped a's key envelopes to b
	b.mu.Unlock()
	answers := func() int {
		n := len(r.sent["p-a"])
		r.sent["p-a"] = nil
		return n
	}
	answers()
	for range 3 {
		if err := b.RequestKey("p-a"); err != nil {
			t.Fatal(err)
		}
	}
	r.settle(t)
	if n := answers(); n != 2 {
		t.Fatalf("a answered three requests within a second with %d messages, not its identity and its key once", n)
	}
	got, ok := b.KeyFrom("p-a")
	if want := a.OwnKey(); !ok || got.Index != want.Index || !bytes.Equal(got.Raw, want.Raw) {
		t.Fatal("b did not get a's current key")
	}
	clock.Advance(AnswerInterval)
	_ = b.RequestKey("p-a")
	r.settle(t)
	if n := answers(); n != 2 {
		t.Fatalf("a request a second later got %d messages", n)
	}
	clock.Advance(time.Hour)
	_ = w.RequestKey("p-a")
	r.settle(t)
	if n := answers(); n != 1 {
		t.Fatalf("a answered a member it did not verify with %d messages, not its identity alone", n)
	}
	if _, ok := w.KeyFrom("p-a"); ok || len(w.Verified()) != 0 {
		t.Fatal("the member with the wrong secret got a's key or verified a")
	}
}

// TestDroppedIdentityIsAskedFor: the server drops a's identity on its way to b (a full
// queue drops key messages), so b cannot verify a or unwrap the key a sends it, and puts
// a wrongly tagged one in its place. b asks a, as a page does for frames that fail or an
// identity that has not verified, and a's answer (its identity, then its key) verifies a
// and gives b the key.
func TestDroppedIdentityIsAskedFor(t *testing.T) {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	r := &relay{members: map[string]*Member{}, sent: map[string][]string{}}
	a := r.join(t, "p-a", secret)
	dropped := 0
	r.drop = func(d delivery) bool {
		var m struct{ From, Data string }
		if d.to != "p-b" || d.typ != "e2ee" || json.Unmarshal(d.payload, &m) != nil || m.From != "p-a" {
			return false
		}
		if strings.Contains(m.Data, `"t":"identity"`) && dropped == 0 {
			dropped++
			return true
		}
		return false
	}
	b := r.join(t, "p-b", secret)
	if dropped != 1 || len(b.Verified()) != 0 || len(a.Verified()) != 1 {
		t.Fatalf("dropped %d identities; b verified %v, a verified %v", dropped, b.Verified(), a.Verified())
	}
	if _, ok := b.KeyFrom("p-a"); ok {
		t.Fatal("b holds a's key without a's identity")
	}
	// The server puts a wrongly tagged identity in the dropped one's place: refused,
	// and the real one, which b's request brings, still verifies.
	bad, _ := json.Marshal(keyMessage{V: Version, T: "identity", Pub: b64.EncodeToString(make([]byte, 32)), Tag: b64.EncodeToString(make([]byte, 32))})
	r.push("p-b", "e2ee", map[string]string{"from": "p-a", "data": string(bad)})
	r.settle(t)
	if len(b.Verified()) != 0 {
		t.Fatal("b verified a wrongly tagged identity")
	}
	if err := b.RequestKey("p-a"); err != nil {
		t.Fatal(err)
	}
	r.settle(t)
	if v := b.Verified(); len(v) != 1 || v[0] != "p-a" {
		t.Fatalf("b verified %v after asking a", v)
	}
	got, ok := b.KeyFrom("p-a")
	if want := a.OwnKey(); !ok || got.Index != want.Index || !bytes.Equal(got.Raw, want.Raw) {
		t.Fatal("b did not get a's current key")
	}
}

// TestModelNames: each member's display name reaches the verified members inside its key
// envelopes (e2ee/FORMAT.md, "Names") and stays after a rotation; a member with another
// link's secret neither gives nor gets a name, and a name too long for an envelope is cut
// at a character boundary.
func TestModelNames(t *testing.T) {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	wrong := make([]byte, 16)
	_, _ = rand.Read(wrong)
	r := &relay{members: map[string]*Member{}, sent: map[string][]string{}}
	long := strings.Repeat("ü", 150) // 300 bytes: cut to 100 characters
	named := map[string]string{"p-a": "Ann", "p-b": "Bea 🎻", "p-c": long}
	for _, id := range []string{"p-a", "p-b", "p-c"} {
		r.joinNamed(t, id, secret, named[id])
	}
	w := r.joinNamed(t, "p-w", wrong, "Mallory")
	for id, m := range r.members {
		if id == "p-w" {
			continue
		}
		for other, name := range named {
			if other == id {
				continue
			}
			if other == "p-c" {
				name = strings.Repeat("ü", 100)
			}
			if got, ok := m.NameOf(other); !ok || got != name {
				t.Errorf("%s has %q (%v) for %s", id, got, ok, other)
			}
		}
		if got, ok := m.NameOf("p-w"); ok {
			t.Errorf("%s got the wrong-link member's name %q", id, got)
		}
	}
	for id := range named {
		if got, ok := w.NameOf(id); ok {
			t.Errorf("the wrong-link member got %s's name %q", id, got)
		}
	}
	r.leave("p-c")
	r.settle(t)
	if got, _ := r.members["p-a"].NameOf("p-b"); got != "Bea 🎻" {
		t.Errorf("after a rotation a has %q for b", got)
	}
	if _, ok := r.members["p-a"].NameOf("p-c"); ok {
		t.Error("a keeps the name of a member that left")
	}
}

func (r *relay) joinNamed(t *testing.T, id string, secret []byte, name string) *Member {
	m, err := New(secret, port{r, id})
	if err != nil {
		t.Fatal(err)
	}
	m.SetName(name)
	var others []string
	for o := range r.members {
		others = append(others, o)
		r.push(o, "participant_joined", map[string]any{"participant": map[string]string{"id": id}})
	}
	r.members[id] = m
	if err := m.Start(id, others); err != nil {
		t.Fatal(err)
	}
	r.settle(t)
	return m
}

// TestModelHeldBackKey: the server holds back the key envelope a sends b to answer a
// (made-up) key request while a is at a ratchet that a leaver can follow, and delivers
// it after a's rotation for that leave, and again: b keeps a's rotated key as the
// newest (the held-back one has a lower counter and is not marked past: dropped). Without the counter b took the held-back key as a's newest, from which
// the one who left can ratchet (FORMAT.md, "The newest key").
func TestModelHeldBackKey(t *testing.T) {
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	r := &relay{members: map[string]*Member{}, sent: map[string][]string{}}
	a := r.join(t, "p-a", secret)
	b := r.join(t, "p-b", secret)
	r.join(t, "p-l", secret) // leaves after the held-back envelope
	r.join(t, "p-n", secret) // a ratchets: b and the leaver follow by themselves
	behind := a.OwnKey()
	var held []delivery
	r.drop = func(d delivery) bool {
		var m struct{ From, Data string }
		if d.to == "p-b" && d.typ == "e2ee" && json.Unmarshal(d.payload, &m) == nil && m.From == "p-a" && strings.Contains(m.Data, `"t":"key"`) {
			held = append(held, d)
			return true
		}
		return false
	}
	// The server makes up a key request from b: a answers with its current key.
	r.push("p-a", "e2ee", map[string]string{"from": "p-b", "data": `{"v":3,"t":"key-request"}`})
	r.settle(t)
	if len(held) != 1 {
		t.Fatalf("held %d envelopes", len(held))
	}
	r.drop = nil
	r.leave("p-l")
	r.settle(t)
	rotated := a.OwnKey()
	if rotated.Counter != behind.Counter+1 || bytes.Equal(rotated.Raw, e2ee.Ratchet(behind.Raw)) {
		t.Fatalf("a did not rotate: %+v after %+v", rotated, behind)
	}
	if got, _ := b.KeyFrom("p-a"); !bytes.Equal(got.Raw, rotated.Raw) {
		t.Fatal("b lacks a's rotated key")
	}
	for range 2 { // delivered late, then replayed
		r.queue = append(r.queue, held...)
		r.settle(t)
	}
	got, _ := b.KeyFrom("p-a")
	if !bytes.Equal(got.Raw, rotated.Raw) || got.Counter != rotated.Counter {
		t.Fatalf("b took the held-back key (counter %d) as a's newest", got.Counter)
	}
	if past := b.PastKeysFrom("p-a"); len(past) != 0 {
		t.Fatalf("b took the held-back key as a past key: %+v", past)
	}
	if b.Conflicts() != 0 {
		t.Fatal("a conflict counted")
	}
}
