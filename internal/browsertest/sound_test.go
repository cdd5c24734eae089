package browsertest

import "testing"

// soundJS plays a tone through an AnalyserNode to the speakers of a fresh
// AudioContext and reports its state after resume(), how far its clock moved
// and the loudest sample the analyser saw.
const soundJS = `(async () => {
  const ac = new AudioContext();
  await ac.resume();
  const o = ac.createOscillator();
  const an = ac.createAnalyser();
  o.connect(an);
  an.connect(ac.destination);
  o.start();
  const t0 = ac.currentTime;
  const d = new Float32Array(an.fftSize);
  let peak = 0;
  // Poll rather than sleep for a fixed time: a slow machine only takes longer.
  for (let i = 0; i < 600 && (peak < 0.5 || ac.currentTime - t0 < 0.2); i++) {
    await new Promise((res) => setTimeout(res, 50));
    an.getFloatTimeDomainData(d);
    for (const v of d) peak = Math.max(peak, Math.abs(v));
  }
  return { state: ac.state, advanced: ac.currentTime - t0, peak };
})()`

// TestSoundPlays: in both browsers an AudioContext runs and a tone reaches its
// speakers (headless Firefox only with the silent PulseAudio sink of pulse.go).
func TestSoundPlays(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(k.String(), func(t *testing.T) {
			b := Launch(t, k)
			NeedsSound(t, b)
			ctx := testContext(t)
			tab, err := b.NewTab(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				State    string
				Advanced float64
				Peak     float64
			}
			if err := tab.Eval(ctx, soundJS, &got); err != nil {
				t.Fatal(err)
			}
			if got.State != "running" || got.Advanced < 0.2 || got.Peak < 0.5 {
				t.Fatalf("no sound: %+v", got)
			}
			if f, ok := b.(*firefoxBrowser); ok {
				p := f.sound
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				select {
				case <-p.exited:
				default:
					t.Error("pulseaudio still runs after Close")
				}
			}
		})
	}
}
