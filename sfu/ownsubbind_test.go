package sfu

import (
	"context"
	"strings"
	"testing"

	"conclave/internal/conntest"
)

// TestOwnSubscribeBindsNoTrackGoneMeanwhile: what comes between an answer's decision
// to bind a track and the bind (ownSub.accept lets its lock go before the binds set
// going what they call for) leaves the track as the connection says it is. The track
// of a second publisher is offered to the subscriber, whose answer accepts it; the
// hook plays, at that moment, the publisher leaving (the track removed from the
// connection, its SSRC retired) or a second answer to the offer refusing the section
// and then the publisher leaving. Either way the track must end unbound, and the
// subscriber's RTCP must find nothing under its SSRC: bound again, it stayed bound
// under a retired SSRC, with the subscriber's RTCP callback, for the connection's
// life.
func TestOwnSubscribeBindsNoTrackGoneMeanwhile(t *testing.T) {
	for _, meanwhile := range []string{"the publisher leaves", "an answer refuses it, then the publisher leaves"} {
		t.Run(meanwhile, func(t *testing.T) {
			r := newMediaRigAPIs(t, testPeerAPI(t), testPeerAPI(t), withOwnSubscribe)
			ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
			defer cancel()
			second, _, o := r.secondCameraOffered(ctx, t)
			if o == nil || len(o.Tracks) != 2 {
				t.Fatalf("offer %+v, want the two publishers' cameras", o)
			}
			var mid string
			for _, x := range o.Tracks {
				if x.ParticipantID == "second" {
					mid = x.Mid
				}
			}
			d := downTrackOf(t, r.subP, "second")
			answer := answerWith(t, r.sub.pc, o.SDP)
			r.subP.own.acceptedHook = func() {
				r.subP.own.acceptedHook = nil
				if strings.HasPrefix(meanwhile, "an answer") {
					if err := r.subP.AcceptSubscribeAnswer(refusingSection(t, answer, mid)); err != nil {
						t.Errorf("the answer refusing section %s: %v", mid, err)
					}
				}
				second.Close()
			}
			if err := r.subP.AcceptSubscribeAnswer(answer); err != nil {
				t.Fatal(err)
			}
			var ssrc uint32
			r.subP.own.mu.Lock()
			for _, s := range r.subP.own.sections {
				if s.mid == mid {
					ssrc = s.ssrc
				}
			}
			retired := r.subP.own.retired.has(ssrc)
			r.subP.own.mu.Unlock()
			if b := d.binding.Load(); b != nil || !retired {
				t.Fatalf("%s while the answer is applied: the track is bound (%v) under SSRC %#x, retired (%v); want it unbound and the SSRC retired",
					meanwhile, b != nil, ssrc, retired)
			}
			if x := r.subP.downBySSRC(ssrc); x != nil {
				t.Fatalf("the subscriber's RTCP under the retired SSRC %#x still finds a track", ssrc)
			}
		})
	}
}

// downTrackOf is p's subscription to the track of the participant id.
func downTrackOf(t *testing.T, p *Participant, id string) *downTrack {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for up, d := range p.downs {
		if up.owner.id == id {
			return d
		}
	}
	t.Fatalf("no subscription to %s", id)
	return nil
}

// refusingSection is the answer with the section mid refused (its port 0).
func refusingSection(t *testing.T, answer, mid string) string {
	t.Helper()
	parts := strings.Split(answer, "\r\nm=")
	for i, p := range parts {
		if i > 0 && strings.Contains(p, "\r\na=mid:"+mid+"\r\n") {
			f := strings.SplitN(p, " ", 3)
			parts[i] = f[0] + " 0 " + f[2]
			return strings.Join(parts, "\r\nm=")
		}
	}
	t.Fatalf("no section %s in the answer", mid)
	return ""
}
