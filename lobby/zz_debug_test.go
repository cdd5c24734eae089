package lobby

import (
	"math/rand"
	"testing"
	"time"
)

func TestZZSpeed(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	start := time.Now()
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.Intn(2000))
		r.Read(b)
		in := &input{b: b}
		m := newModel(t, 1+int(in.next()%4), fuzzSettings(in.next()))
		for steps := 0; len(in.b) > 0 && steps < 100; steps++ {
			m.step(decode(in, m))
		}
	}
	t.Log(time.Since(start) / 2000)
}
