package sfu

import (
	"context"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"

	"github.com/pion/webrtc/v4"
)

// TestLayerBitrate: each layer's bitrate is what arrived over the window on the
// ticker's (fake) clock, known from the second tick, falling once the layer stops; a
// track without simulcast is measured too and stays live without packets being judged.
func TestLayerBitrate(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	up := &upTrack{kind: webrtc.RTPCodecTypeVideo, stats: &counters{}, clock: clock.Now, after: clock.AfterFunc}
	for i, rid := range layerRIDs {
		if !up.addLayer(&layer{index: uint8(i), rid: rid}) {
			t.Fatal("layer not added")
		}
	}
	tick := func(u *upTrack) {
		t.Helper()
		if err := clock.WaitForTimers(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(liveTick)
		want := clock.Now().UnixNano()
		conntest.Eventually(t, "the tick", func() bool { return u.live.tick.Load() == want })
	}
	// Per tick of 250 ms: q 160 kbit/s, h 512, f 1536.
	perTick := [maxLayers]uint64{5000, 16000, 48000}
	if got := up.layerInfos()[0].bitrate; got != 0 {
		t.Fatalf("bitrate %d before any tick, want 0 (unknown)", got)
	}
	for range rateSlots + 2 {
		for i := range up.layers {
			up.layer(i).bytes.Add(perTick[i])
			up.layer(i).noteSeen(up.live.tick.Load())
		}
		tick(up)
	}
	infos := up.layerInfos()
	for i, want := range []int64{160e3, 512e3, 1536e3} {
		if got := infos[i].bitrate; got != want {
			t.Errorf("layer %s: %d bit/s, want %d", layerRIDs[i], got, want)
		}
	}
	// f stops: after half a window it is at half its rate.
	for range (rateSlots - 1) / 2 {
		for i := range 2 {
			up.layer(i).bytes.Add(perTick[i])
		}
		tick(up)
	}
	if got := up.layer(2).bitrate.Load(); got != 768e3 {
		t.Errorf("f half a window after it stopped: %d bit/s, want 768000", got)
	}
	up.stop()

	single := &upTrack{kind: webrtc.RTPCodecTypeVideo, stats: &counters{}, clock: clock.Now, after: clock.AfterFunc}
	if !single.addLayer(&layer{index: 0}) {
		t.Fatal("layer not added")
	}
	defer single.stop()
	for range rateSlots {
		single.layer(0).bytes.Add(1000)
		tick(single)
	}
	if got := single.layerInfos()[0]; got.bitrate != 32e3 || !got.live {
		t.Errorf("track without simulcast: %+v, want 32000 bit/s and live", got)
	}
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	if got := m.add(0, 0); got != 0 {
		t.Fatalf("one reading: %d", got)
	}
	if got := m.add(1000, int64(time.Second)); got != 8000 {
		t.Fatalf("1000 bytes in a second: %d", got)
	}
	if got := m.add(1000, int64(time.Second)); got != 8000 {
		t.Fatalf("a reading at the same time: %d", got)
	}
}

// TestAudioRate: an audio track is taken to need audioReserve until measured, then what
// it measures plus its packets' overhead, and nothing while silent.
func TestAudioRate(t *testing.T) {
	clock := fakeclock.New(time.Unix(1_000_000, 0))
	up := &upTrack{kind: webrtc.RTPCodecTypeAudio, stats: &counters{}, clock: clock.Now, after: clock.AfterFunc}
	if !up.addLayer(&layer{index: 0}) {
		t.Fatal("layer not added")
	}
	defer up.stop()
	if got := up.audioRate(); got != audioReserve {
		t.Fatalf("before any measurement: %d, want %d", got, audioReserve)
	}
	tick := func() {
		t.Helper()
		if err := clock.WaitForTimers(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(liveTick)
		want := clock.Now().UnixNano()
		conntest.Eventually(t, "the tick", func() bool { return up.live.tick.Load() == want })
	}
	for range rateSlots {
		up.layer(0).bytes.Add(1250) // 40 kbit/s
		tick()
	}
	if got := up.audioRate(); got != 40_000+audioOverhead {
		t.Errorf("at 40 kbit/s: %d, want %d", got, 40_000+audioOverhead)
	}
	for range rateSlots {
		tick()
	}
	if got := up.audioRate(); got != 0 {
		t.Errorf("silent: %d, want 0", got)
	}
}
