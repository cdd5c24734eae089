package sfu

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// BenchmarkCongestionControlWrite is what the subscribe connection's interceptors cost
// each packet the writer sends: Pion's transport-wide sequence number and the estimator's record
// of the packet sent (estimator.go), against none at all.
func BenchmarkCongestionControlWrite(b *testing.B) {
	payload := make([]byte, 1100)
	info := &interceptor.StreamInfo{SSRC: 1, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: 5}}}
	var sink interceptor.RTPWriter = interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		return len(p), nil
	})
	run := func(b *testing.B, w interceptor.RTPWriter) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			h := rtp.Header{Version: 2, SSRC: 1, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: uint32(i / 8 * 3000)}
			if _, err := w.Write(&h, payload, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("none", func(b *testing.B) { run(b, sink) })
	b.Run("twcc+estimator", func(b *testing.B) {
		ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
			return newEstimator(time.Now), nil
		})
		if err != nil {
			b.Fatal(err)
		}
		twf, err := twcc.NewHeaderExtensionInterceptor()
		if err != nil {
			b.Fatal(err)
		}
		ci, err := ccf.NewInterceptor("")
		if err != nil {
			b.Fatal(err)
		}
		defer ci.Close()
		ti, err := twf.NewInterceptor("")
		if err != nil {
			b.Fatal(err)
		}
		run(b, ti.BindLocalStream(info, ci.BindLocalStream(info, sink)))
	})
}
