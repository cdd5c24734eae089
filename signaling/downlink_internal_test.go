package signaling

import (
	"encoding/json"
	"testing"
	"time"

	"conclave/sfu"
)

// TestDownlinkPacing: the first change is sent at once, changes within a second of the
// last send wait for its end and then send the state as it is then, a state the client
// already has is not sent again, and "not limited" after "limited" is sent.
func TestDownlinkPacing(t *testing.T) {
	t0 := time.Unix(3_000_000, 0)
	var p downlinkPacer
	limited := DownlinkPayload{Limited: true, Tracks: []DownlinkTrack{{ParticipantID: "p1", Source: "camera", State: "reduced"}}}
	paused := DownlinkPayload{Limited: true, Tracks: []DownlinkTrack{{ParticipantID: "p1", Source: "camera", State: "paused"}}}
	fine := DownlinkPayload{Tracks: []DownlinkTrack{}}

	if _, ok := p.take(t0, fine); ok {
		t.Fatal("a state that is not limited was sent before anything was limited")
	}
	if now, _ := p.changed(t0); !now {
		t.Fatal("the first change was not sent at once")
	}
	if got, ok := p.take(t0, limited); !ok || !got.Limited {
		t.Fatalf("first state: %+v %v", got, ok)
	}
	now, wait := p.changed(t0.Add(300 * time.Millisecond))
	if now || wait != 700*time.Millisecond {
		t.Fatalf("a change 300 ms after a send: now %v, wait %v; want the end of the second", now, wait)
	}
	if now, wait := p.changed(t0.Add(500 * time.Millisecond)); now || wait != 0 {
		t.Fatalf("a second change while one is pending: now %v, wait %v; want it merged", now, wait)
	}
	// At the end of the second the state is what it is then.
	if got, ok := p.take(t0.Add(time.Second), paused); !ok || got.Tracks[0].State != "paused" {
		t.Fatalf("the paced send: %+v %v", got, ok)
	}
	if now, _ := p.changed(t0.Add(2 * time.Second)); !now {
		t.Fatal("a change a second after the last send was not sent at once")
	}
	if _, ok := p.take(t0.Add(2*time.Second), paused); ok {
		t.Fatal("the same state was sent twice")
	}
	p.changed(t0.Add(3 * time.Second))
	if got, ok := p.take(t0.Add(3*time.Second), fine); !ok || got.Limited || got.Tracks == nil {
		t.Fatalf("everything fits again: %+v %v", got, ok)
	}
}

// TestDownlinkMessage: the message is as PROTOCOL.md shows it.
func TestDownlinkMessage(t *testing.T) {
	p := downlinkPayload(sfu.Downlink{Limited: true, Tracks: []sfu.DownlinkTrack{
		{ParticipantID: "p1", Source: sfu.SourceCamera, State: sfu.DownlinkReduced},
		{ParticipantID: "p2", Source: sfu.SourceCamera, State: sfu.DownlinkPaused},
	}})
	var got map[string]any
	if err := json.Unmarshal(encode(TypeDownlink, "", p), &got); err != nil {
		t.Fatal(err)
	}
	want := `{"limited":true,"tracks":[{"participantId":"p1","source":"camera","state":"reduced"},{"participantId":"p2","source":"camera","state":"paused"}]}`
	payload, _ := json.Marshal(got["payload"])
	if got["type"] != "downlink" || string(payload) != want {
		t.Errorf("message %v, payload %s; want type downlink and %s", got["type"], payload, want)
	}
	empty, _ := json.Marshal(downlinkPayload(sfu.Downlink{}))
	if string(empty) != `{"limited":false,"tracks":[]}` {
		t.Errorf("not limited: %s", empty)
	}
}
