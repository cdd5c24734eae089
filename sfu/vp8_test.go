package sfu

import (
	"bytes"
	"testing"
)

// TestParseVP8: descriptors with and without the optional fields, 7- and 15-bit picture
// IDs, keyframe starts and sizes, and truncated ones.
func TestParseVP8(t *testing.T) {
	key := []byte{0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01} // 640x360
	cases := []struct {
		name    string
		payload []byte
		ok      bool
		want    vp8Desc
		w, h    uint16
	}{
		{"minimal keyframe", append([]byte{0x10}, key...), true, vp8Desc{size: 1, start: true, keyframe: true}, 640, 360},
		{"delta", []byte{0x10, 0x01, 0, 0}, true, vp8Desc{size: 1, start: true}, 0, 0},
		{"continuation", []byte{0x00, 0x00, 0, 0}, true, vp8Desc{size: 1}, 0, 0},
		{"15-bit pid, tl0, tid", append([]byte{0x90, 0xe0, 0x81, 0x02, 0x07, 0x40}, key...), true,
			vp8Desc{size: 6, start: true, pidAt: 2, pidLong: true, pid: 0x102, tl0At: 4, tl0: 7, keyframe: true}, 640, 360},
		{"7-bit pid", []byte{0x90, 0x80, 0x05, 0x01}, true, vp8Desc{size: 3, start: true, pidAt: 2, pid: 5}, 0, 0},
		{"partition 1", []byte{0x11, 0x00}, true, vp8Desc{size: 1}, 0, 0},
		{"empty", nil, false, vp8Desc{}, 0, 0},
		{"cut in X", []byte{0x80}, false, vp8Desc{}, 0, 0},
		{"cut in pid", []byte{0x80, 0x80, 0x81}, false, vp8Desc{}, 0, 0},
		{"cut in tl0", []byte{0x80, 0x40}, false, vp8Desc{}, 0, 0},
		{"cut in tid", []byte{0x80, 0x20}, false, vp8Desc{}, 0, 0},
	}
	for _, tc := range cases {
		d, ok := parseVP8(tc.payload)
		if ok != tc.ok || ok && d != tc.want {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, d, ok, tc.want, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		w, h, _ := vp8KeyframeSize(tc.payload, d)
		if w != tc.w || h != tc.h {
			t.Errorf("%s: size %dx%d, want %dx%d", tc.name, w, h, tc.w, tc.h)
		}
	}
}

// FuzzParseVP8: the descriptor parser never panics nor reads past the payload, and
// rewriting picture ID and TL0PICIDX changes only descriptor bytes and keeps their width.
func FuzzParseVP8(f *testing.F) {
	for _, s := range [][]byte{
		{0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01},
		{0x90, 0xe0, 0x81, 0x02, 0x07, 0x40, 0x01},
		{0x90, 0x80, 0x05},
		{0x80, 0xf0, 0xff, 0xff, 0xff, 0xff},
		{0x80},
		{},
	} {
		f.Add(s, uint16(77), uint8(9))
	}
	f.Fuzz(func(t *testing.T, payload []byte, pid uint16, tl0 uint8) {
		d, ok := parseVP8(payload)
		if !ok {
			return
		}
		if d.size > len(payload) || d.pidAt >= d.size && d.pidAt != 0 || d.tl0At >= d.size && d.tl0At != 0 {
			t.Fatalf("descriptor %+v outside %d bytes", d, len(payload))
		}
		vp8KeyframeSize(payload, d)
		out := append([]byte(nil), payload...)
		rewriteVP8(out, d, pid&d.pidMask(), tl0)
		if !bytes.Equal(out[d.size:], payload[d.size:]) {
			t.Fatal("the frame changed")
		}
		again, ok := parseVP8(out)
		if !ok || again.size != d.size || again.pidLong != d.pidLong || d.pidAt > 0 && again.pid != pid&d.pidMask() || d.tl0At > 0 && again.tl0 != tl0 {
			t.Fatalf("rewrote %+v into %+v", d, again)
		}
	})
}

// TestChooseLayer: the smallest layer at least the tile's size, else the largest; the
// largest without a view; sizes not seen yet estimated from one that was; a budget
// steps down. Only live layers are taken when asked: the best live one for the tile,
// none when none is live; above a live layer the subscriber has, only layers not on
// probation after a loss.
func TestChooseLayer(t *testing.T) {
	all := [maxLayers]layerInfo{{true, true, true, 320, 180, 150e3, false}, {true, true, true, 640, 360, 400e3, false}, {true, true, true, 1280, 720, 1500e3, false}}
	fDead := all
	fDead[2].live = false
	hDead := all
	hDead[1].live = false
	onlyQ := fDead
	onlyQ[1].live = false
	noneLive := onlyQ
	noneLive[0].live = false
	noF := [maxLayers]layerInfo{all[0], all[1]}
	onlyQKnown := [maxLayers]layerInfo{all[0], {present: true}, {present: true}}
	unknown := [maxLayers]layerInfo{{present: true}, {present: true}, {present: true}}
	fBack := all // f came back after a loss and is on probation
	fBack[2].settled = false
	fhBack := fBack
	fhBack[1].settled = false
	fBackHDead := fBack
	fBackHDead[1].live = false
	cases := []struct {
		name   string
		layers [maxLayers]layerInfo
		w, h   int
		budget int64
		want   int
		live   bool
		cur    int // the layer the subscriber has, plus one; 0: none
	}{
		{"no view", all, 0, 0, unlimitedBudget, 2, false, 0},
		{"small", all, 160, 90, unlimitedBudget, 0, false, 0},
		{"exactly q", all, 320, 180, unlimitedBudget, 0, false, 0},
		{"a bit over q", all, 321, 100, unlimitedBudget, 1, false, 0},
		{"tall", all, 100, 500, unlimitedBudget, 2, false, 0},
		{"huge", all, 3840, 2160, unlimitedBudget, 2, false, 0},
		{"no f", noF, 1280, 720, unlimitedBudget, 1, false, 0},
		{"estimated", onlyQKnown, 600, 300, unlimitedBudget, 1, false, 0},
		{"nothing known", unknown, 100, 100, unlimitedBudget, 2, false, 0},
		{"budget", all, 1280, 720, 500e3, 1, false, 0},
		{"tiny budget", all, 1280, 720, 1, 0, false, 0},
		{"no layers", [maxLayers]layerInfo{}, 100, 100, unlimitedBudget, -1, false, 0},
		{"f not live", fDead, 1280, 720, unlimitedBudget, 1, true, 0},
		{"f not live, no view", fDead, 0, 0, unlimitedBudget, 1, true, 0},
		{"f not live, small tile", fDead, 320, 180, unlimitedBudget, 0, true, 0},
		{"f not live, ignored", fDead, 1280, 720, unlimitedBudget, 2, false, 0},
		{"h not live, middle tile", hDead, 600, 300, unlimitedBudget, 2, true, 0},
		{"only q live", onlyQ, 1280, 720, unlimitedBudget, 0, true, 0},
		{"none live", noneLive, 1280, 720, unlimitedBudget, -1, true, 0},
		{"budget, h not live", hDead, 1280, 720, 500e3, 0, true, 0},
		{"f on probation, on h", fBack, 1280, 720, unlimitedBudget, 1, true, 2},
		{"f on probation, on q", fBack, 1280, 720, unlimitedBudget, 1, true, 1},
		{"f and h on probation, on q", fhBack, 1280, 720, unlimitedBudget, 0, true, 1},
		{"f on probation, on f", fBack, 1280, 720, unlimitedBudget, 2, true, 3},
		{"f on probation, nothing yet", fBack, 1280, 720, unlimitedBudget, 2, true, 0},
		{"f on probation, on h not live", fBackHDead, 1280, 720, unlimitedBudget, 2, true, 2},
		{"f on probation, asked for", fBack, 1280, 720, unlimitedBudget, 2, false, 2},
		{"f on probation, on h, small tile", fBack, 320, 180, unlimitedBudget, 0, true, 2},
	}
	for _, tc := range cases {
		if got := chooseLayer(tc.layers, tc.w, tc.h, tc.budget, tc.live, tc.cur-1); got != tc.want {
			t.Errorf("%s: layer %d, want %d", tc.name, got, tc.want)
		}
	}
}
