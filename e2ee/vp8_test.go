package e2ee

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestVP8PayloadDescriptorLen(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload []byte
		want    int // 0: ErrTooShort
	}{
		{"minimal", []byte{0x10, 0xaa}, 1},
		{"X without extensions", []byte{0x90, 0x00, 0xaa}, 2},
		{"7-bit picture id", []byte{0x90, 0x80, 0x12, 0xaa}, 3},
		{"15-bit picture id", []byte{0x90, 0x80, 0x92, 0x34, 0xaa}, 4},
		{"Chromium: I M L T", []byte{0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0xaa}, 6},
		{"K only", []byte{0x90, 0x10, 0x1f, 0xaa}, 3},
		{"T and K share a byte", []byte{0x90, 0x30, 0x5f, 0xaa}, 3},
		{"L only", []byte{0x80, 0x40, 0x07, 0xaa}, 3},
		{"everything, 15-bit id", []byte{0x90, 0xf0, 0xff, 0xff, 0x01, 0xe1, 0xaa}, 6},
		{"reserved bits ignored", []byte{0x98, 0x0f, 0xaa}, 2},
		{"empty", nil, 0},
		{"descriptor only", []byte{0x10}, 0},
		{"X byte missing", []byte{0x90}, 0},
		{"picture id missing", []byte{0x90, 0x80}, 0},
		{"second picture id byte missing", []byte{0x90, 0x80, 0x80}, 0},
		{"15-bit id, no payload", []byte{0x90, 0x80, 0x80, 0x01}, 0},
		{"TL0PICIDX missing", []byte{0x90, 0x40}, 0},
		{"TID/KEYIDX missing", []byte{0x90, 0xe0, 0x01, 0x02}, 0},
	} {
		n, err := VP8PayloadDescriptorLen(c.payload)
		if c.want == 0 {
			if !errors.Is(err, ErrTooShort) {
				t.Errorf("%s: %d %v, want ErrTooShort", c.name, n, err)
			}
		} else if err != nil || n != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, n, err, c.want)
		}
	}
}

type pkt struct {
	seq     uint16
	ts      uint32
	marker  bool
	payload []byte
}

// packetize splits frame into RTP packets of at most mtu frame bytes each,
// with a Chromium-like descriptor (15-bit picture id, TL0PICIDX, TID).
func packetize(frame []byte, seq uint16, ts uint32, mtu int, pic uint16) []pkt {
	var out []pkt
	for i := 0; i == 0 || i < len(frame); i += mtu {
		first := byte(0x80)
		if i == 0 {
			first |= 0x10
		}
		desc := []byte{first, 0xe0, 0x80 | byte(pic>>8), byte(pic), 0x00, 0x20}
		end := min(i+mtu, len(frame))
		out = append(out, pkt{seq, ts, end == len(frame), append(desc, frame[i:end]...)})
		seq++
	}
	return out
}

func push(a *FrameAssembler, ps []pkt) (frames [][]byte) {
	for _, p := range ps {
		if f, ok := a.Push(p.seq, p.ts, p.marker, p.payload); ok {
			frames = append(frames, f)
		}
	}
	return frames
}

func TestFrameAssemblerInOrder(t *testing.T) {
	var a FrameAssembler
	var want [][]byte
	var ps []pkt
	seq := uint16(65530) // wraps around inside the second frame
	for i := range 5 {
		f := pattern(byte(i*40), 1+i*700)
		want = append(want, f)
		p := packetize(f, seq, uint32(1000+3000*i), 1000, uint16(i))
		seq += uint16(len(p))
		ps = append(ps, p...)
	}
	got := push(&a, ps)
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d differs", i)
		}
	}
	if a.Frames != 5 || a.Dropped != 0 || a.Ignored != 0 {
		t.Errorf("stats %d/%d/%d", a.Frames, a.Dropped, a.Ignored)
	}
}

func TestFrameAssemblerReorderWithinFrame(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var a FrameAssembler
		seq := uint16(rng.IntN(65536))
		var got [][]byte
		var want [][]byte
		for i := range 4 {
			f := pattern(byte(trial+i), 1+rng.IntN(5000))
			want = append(want, f)
			p := packetize(f, seq, uint32(90000*trial+3000*i), 1+rng.IntN(1200), 0)
			seq += uint16(len(p))
			rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
			if rng.IntN(3) == 0 { // a duplicate, too
				p = append(p, p[rng.IntN(len(p))])
			}
			got = append(got, push(&a, p)...)
		}
		if len(got) != len(want) {
			t.Fatalf("trial %d: %d frames, want %d", trial, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("trial %d: frame %d differs", trial, i)
			}
		}
	}
}

func TestFrameAssemblerDropsIncomplete(t *testing.T) {
	f1, f2, f3 := pattern(1, 3000), pattern(2, 3000), pattern(3, 3000)
	p1 := packetize(f1, 100, 1000, 1000, 1)
	p2 := packetize(f2, 103, 4000, 1000, 2)
	p3 := packetize(f3, 106, 7000, 1000, 3)
	for _, c := range []struct {
		name    string
		packets []pkt
		want    [][]byte
		dropped int
	}{
		{"middle lost", append(append([]pkt{p1[0], p1[2]}, p2...), p3...), [][]byte{f2, f3}, 1},
		{"first lost", append(append([]pkt{p1[1], p1[2]}, p2...), p3...), [][]byte{f2, f3}, 1},
		{"marker lost", append(append([]pkt{p1[0], p1[1]}, p2...), p3...), [][]byte{f2, f3}, 1},
		{"late packet of an earlier frame", append(append(append([]pkt{p1[0], p1[1]}, p2...), p1[2]), p3...), [][]byte{f2, f3}, 1},
		{"a packet of the next frame overtakes", append(append([]pkt{p1[0], p1[1], p2[0], p1[2]}, p2[1:]...), p3...), [][]byte{f2, f3}, 1},
		{"stray packet after marker", append(append(p1, pkt{103, 1000, false, []byte{0x80, 0x00, 1}}), p2...), [][]byte{f1, f2}, 0},
		{"two first packets", append(append([]pkt{p1[0], {101, 1000, false, []byte{0x10, 9}}, p1[2]}, p2...), p3...), [][]byte{f2, f3}, 1},
		{"malformed descriptor", append(append([]pkt{p1[0], {101, 1000, false, []byte{0x90}}, p1[2]}, p2...), p3...), [][]byte{f2, f3}, 1},
		{"packet far away", append(append([]pkt{p1[0], {40000, 1000, false, []byte{0x00, 9}}, p1[1], p1[2]}, p2...), p3...), [][]byte{f2, f3}, 1},
	} {
		var a FrameAssembler
		got := push(&a, c.packets)
		if len(got) != len(c.want) {
			t.Errorf("%s: %d frames, want %d", c.name, len(got), len(c.want))
			continue
		}
		for i := range got {
			if !bytes.Equal(got[i], c.want[i]) {
				t.Errorf("%s: frame %d differs", c.name, i)
			}
		}
		if a.Dropped != c.dropped {
			t.Errorf("%s: dropped %d, want %d", c.name, a.Dropped, c.dropped)
		}
	}
}

func TestFrameAssemblerMaxSize(t *testing.T) {
	a := FrameAssembler{MaxFrameSize: 2500}
	got := push(&a, append(packetize(pattern(0, 3000), 1, 1, 1000, 0), packetize(pattern(0, 2500), 4, 2, 1000, 0)...))
	if len(got) != 1 || len(got[0]) != 2500 || a.Dropped != 1 {
		t.Errorf("%d frames, dropped %d", len(got), a.Dropped)
	}
}

// An encrypted frame survives packetization and reassembly byte for byte,
// and the assembler's output decrypts: the shape of the server-side hook.
func TestAssembleEncryptedFrame(t *testing.T) {
	kf := FrameKey(pattern(5, 32))
	plain := append([]byte{0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a}, pattern(0, 4000)...)
	enc := mustEncryptFrame(t, kf, "p-a", 3, plain, VP8)
	var a FrameAssembler
	got := push(&a, packetize(enc, 7, 9, 1100, 77))
	if len(got) != 1 || !bytes.Equal(got[0], enc) {
		t.Fatal("reassembled frame differs")
	}
	pt, err := DecryptFrame(func(byte) []byte { return kf }, "p-a", got[0], VP8, Camera)
	if err != nil || !bytes.Equal(pt, plain) {
		t.Fatal(err)
	}
}
