package sfu

import (
	"testing"

	"github.com/pion/rtp"
)

// levelPacket is a marshalled RTP packet with the audio level extension at id (one-byte
// headers for ids up to 14, two-byte ones above), after another extension.
func levelPacket(t testing.TB, id uint8, level uint8, voice bool, csrcs int) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 7, Timestamp: 960, SSRC: 42}, Payload: []byte{1, 2, 3}}
	for i := range csrcs {
		p.CSRC = append(p.CSRC, uint32(i+1))
	}
	if id > 14 {
		p.Extension, p.ExtensionProfile = true, 0x1000
	}
	b := level
	if voice {
		b |= 0x80
	}
	other := uint8(3)
	if id == other {
		other = 4
	}
	if err := p.SetExtension(other, []byte{9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetExtension(id, []byte{b}); err != nil {
		t.Fatal(err)
	}
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseAudioLevel(t *testing.T) {
	for _, c := range []struct {
		id, level uint8
		voice     bool
		csrcs     int
	}{{1, 0, true, 0}, {1, 127, false, 0}, {14, 33, true, 2}, {5, 90, false, 15}, {20, 45, true, 1}, {255, 3, false, 0}} {
		raw := levelPacket(t, c.id, c.level, c.voice, c.csrcs)
		level, voice, ok := parseAudioLevel(raw, c.id)
		if !ok || level != c.level || voice != c.voice {
			t.Errorf("id %d: got level %d voice %v ok %v; want %d %v", c.id, level, voice, ok, c.level, c.voice)
		}
		if _, _, ok := parseAudioLevel(raw, 6); ok {
			t.Errorf("id %d: found an extension at id 6", c.id)
		}
	}
	plain, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: []byte{1}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := parseAudioLevel(plain, 1); ok {
		t.Error("found a level in a packet without extensions")
	}
	raw := levelPacket(t, 1, 20, true, 0)
	for n := range len(raw) - 3 { // cut inside the header or the extension
		if n >= 12+4+4+4 {
			break
		}
		if _, _, ok := parseAudioLevel(raw[:n], 1); ok {
			t.Errorf("found a level in the first %d bytes", n)
		}
	}
}

func TestLevelReaderAllocatesNothing(t *testing.T) {
	r := &levelReader{id: 1, meter: &levelMeter{}}
	raw := levelPacket(t, 1, 30, true, 0)
	if n := testing.AllocsPerRun(100, func() { r.note(raw) }); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}

// A sender that sets the V bit runs voice activity detection: its packets without the
// bit are not speech, however loud; a sender that never sets it is judged by level.
func TestLevelReaderVoiceBit(t *testing.T) {
	r := &levelReader{id: 1, meter: &levelMeter{}}
	r.note(levelPacket(t, 1, 10, false, 0))
	if got, _ := r.meter.take(); got != 117 {
		t.Fatalf("without VAD: loudness %v, want 117", got)
	}
	r.note(levelPacket(t, 1, 10, true, 0))
	r.note(levelPacket(t, 1, 10, false, 0))
	if got, _ := r.meter.take(); got != 117.0/2 {
		t.Fatalf("with VAD: loudness %v, want %v", got, 117.0/2)
	}
	if got, ok := r.meter.take(); ok || got != 0 {
		t.Fatalf("no packets: loudness %v ok %v", got, ok)
	}
}

// FuzzParseAudioLevel: any bytes are safe, and whatever Pion's parser accepts, ours
// reads the same way.
func FuzzParseAudioLevel(f *testing.F) {
	f.Add(levelPacket(f, 1, 20, true, 0), uint8(1))
	f.Add(levelPacket(f, 14, 127, false, 3), uint8(14))
	f.Add(levelPacket(f, 30, 5, true, 0), uint8(30))
	f.Add([]byte{0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 0x10, 0x85, 0, 0}, uint8(1))
	f.Add([]byte{0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 1, 0, 7, 1, 0x85}, uint8(7))
	f.Fuzz(func(t *testing.T, b []byte, id uint8) {
		level, voice, ok := parseAudioLevel(b, id)
		if ok && level > 127 {
			t.Fatalf("level %d", level)
		}
		var p rtp.Packet
		if p.Unmarshal(b) != nil || !p.Extension || p.Version != 2 {
			return // Pion reads any version; what is not version 2 is no RTP of ours
		}
		want := p.GetExtension(id)
		if len(want) == 0 || id == 0 || (p.ExtensionProfile == 0xBEDE && id > 14) {
			return
		}
		if !ok || level != want[0]&0x7f || voice != (want[0]&0x80 != 0) {
			t.Fatalf("got %d %v %v, Pion reads %x", level, voice, ok, want)
		}
	})
}

// BenchmarkLevelReaderNote is what speaker detection adds to the reader of a microphone
// per packet: the parse in place and one atomic add.
func BenchmarkLevelReaderNote(b *testing.B) {
	r := &levelReader{id: 1, meter: &levelMeter{}}
	raw := levelPacket(b, 1, 30, true, 0)
	b.ReportAllocs()
	for b.Loop() {
		r.note(raw)
	}
}
