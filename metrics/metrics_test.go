package metrics_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"conclave/metrics"
)

type turnAllocs int

func (n turnAllocs) Allocations() int        { return int(n) }
func (n turnAllocs) TCPRefused() uint64      { return uint64(n) + 1 }
func (n turnAllocs) DirectWrites() uint64    { return uint64(n) + 2 }
func (n turnAllocs) TCPAcceptFailed() uint64 { return uint64(n) + 3 }

func (n turnAllocs) UnauthenticatedAnswersDropped() uint64 { return uint64(n) + 4 }
func (n turnAllocs) UplinkServed() (channelData, sends uint64) {
	return uint64(n) + 5, uint64(n) + 6
}

func sources(turn metrics.TURN) metrics.Sources {
	return metrics.Sources{
		Server: func() metrics.Server {
			return metrics.Server{Meetings: 3, Participants: 7, Waiting: 2, Websockets: 9, RefusedAddressFull: 4, WrongPasswords: 5, WrongHostKeys: 1, GuessesThrottled: 6, ResumesDelayed: 54, KnocksLimited: 55, WebConnsRefused: 48, WebAcceptFailed: 52, H2RequestsRefused: 76}
		},
		Media: func() metrics.Media {
			return metrics.Media{TracksPublished: 11, PublishConnections: 49, PacketsForwarded: 1000, BytesForwarded: 123456, PacketsDropped: 8, NACKsReceived: 12, NACKsAnswered: 10, Retransmissions: 15, KeyframeRequestsReceived: 4, KeyframeRequestsSent: 2,
				KeyframeRequestsRepaired: 21, KeyframeRequestsLimited: 22, KeyframeRequestsCoalesced: 23, RetransmissionsDropped: 24,
				NACKsSent: 25, NACKedPackets: 26, NACKsGivenUp: 27, SenderReports: 28, SenderReportsLimited: 73,
				LayerSwitches: 29, SendingLayerQ: 30, SendingLayerH: 31, SendingLayerF: 32,
				LayersLost: 33, LayersBack: 34, LayersUndecodable: 77, LayersDecodable: 78, SubscribersLimited: 35,
				DatagramsSegmented: 36, SegmentationRefused: 37, PacketsWithoutRoute: 38,
				SubscriberRTCPRead: 39, SubscriberRTCPRefused: 40, PublisherRTPRead: 41, PublisherRTPRefused: 42, PublisherRTPStrangers: 56, ICETCPRefused: 47, ICETCPAcceptFailed: 53, ICETCPStrangers: 57, DatagramsToRelays: 50, DatagramsFromRelays: 51,
				ICEChecksAnswered: 58, ICEChecksRefused: 59, ICERequestsSent: 60, ICERequestsAnswered: 61, ICEAnswersRefused: 62, ICEConsentLost: 63, ICERequestsHeld: 64, ICEProbesSent: 65, ICEProbesHeld: 66,
				DTLSEarlyHeld: 67, DTLSEarlyGiven: 68, DTLSEarlyRefused: 69, KeyframesReplayed: 70, DTLSHoldFull: 71, PacketsOverAudioRate: 72, PacketsUnnegotiatedType: 74, PaddingUnforwarded: 75,
				ForwardDelay: metrics.Histogram{Buckets: map[float64]uint64{0.001: 43, 0.005: 44}, Count: 45, Sum: 0.046}}
		},
		TURN: turn,
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func one(t *testing.T, fams map[string]*dto.MetricFamily, name, label, value string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("%s missing", name)
	}
	for _, m := range f.GetMetric() {
		if label != "" && !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == label && l.GetValue() == value }) {
			continue
		}
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s{%s=%q} missing", name, label, value)
	return 0
}

// TestHandlerExportsSnapshots: a scrape reports what the sources say, with the types
// and fixed label values of the collector; TURN only when there is a TURN source.
func TestHandlerExportsSnapshots(t *testing.T) {
	srv := httptest.NewServer(metrics.Handler(sources(turnAllocs(5)), func() bool { return true }))
	defer srv.Close()
	fams := scrape(t, srv.URL+"/metrics")
	for _, c := range []struct {
		name, label, value string
		want               float64
		typ                dto.MetricType
	}{
		{"conclave_meetings", "", "", 3, dto.MetricType_GAUGE},
		{"conclave_participants", "state", "joined", 7, dto.MetricType_GAUGE},
		{"conclave_participants", "state", "waiting", 2, dto.MetricType_GAUGE},
		{"conclave_websockets_open", "", "", 9, dto.MetricType_GAUGE},
		{"conclave_websockets_refused_total", "reason", "address_full", 4, dto.MetricType_COUNTER},
		{"conclave_wrong_secrets_total", "kind", "password", 5, dto.MetricType_COUNTER},
		{"conclave_wrong_secrets_total", "kind", "host_key", 1, dto.MetricType_COUNTER},
		{"conclave_guesses_throttled_total", "", "", 6, dto.MetricType_COUNTER},
		{"conclave_resumes_delayed_total", "", "", 54, dto.MetricType_COUNTER},
		{"conclave_knocks_limited_total", "", "", 55, dto.MetricType_COUNTER},
		{"conclave_web_connections_refused_total", "", "", 48, dto.MetricType_COUNTER},
		{"conclave_http2_requests_refused_total", "", "", 76, dto.MetricType_COUNTER},
		{"conclave_accept_failed_total", "listener", "web", 52, dto.MetricType_COUNTER},
		{"conclave_accept_failed_total", "listener", "ice_tcp", 53, dto.MetricType_COUNTER},
		{"conclave_accept_failed_total", "listener", "turn", 8, dto.MetricType_COUNTER},
		{"conclave_tracks_published", "", "", 11, dto.MetricType_GAUGE},
		{"conclave_publish_connections", "", "", 49, dto.MetricType_GAUGE},
		{"conclave_packets_forwarded_total", "", "", 1000, dto.MetricType_COUNTER},
		{"conclave_forwarded_bytes_total", "", "", 123456, dto.MetricType_COUNTER},
		{"conclave_packets_dropped_total", "", "", 8, dto.MetricType_COUNTER},
		{"conclave_nacks_received_total", "", "", 12, dto.MetricType_COUNTER},
		{"conclave_nacks_answered_total", "", "", 10, dto.MetricType_COUNTER},
		{"conclave_retransmissions_total", "", "", 15, dto.MetricType_COUNTER},
		{"conclave_keyframe_requests_received_total", "", "", 4, dto.MetricType_COUNTER},
		{"conclave_keyframe_requests_sent_total", "", "", 2, dto.MetricType_COUNTER},
		{"conclave_keyframe_requests_absorbed_total", "reason", "repaired", 21, dto.MetricType_COUNTER},
		{"conclave_keyframe_requests_absorbed_total", "reason", "limited", 22, dto.MetricType_COUNTER},
		{"conclave_keyframe_requests_absorbed_total", "reason", "coalesced", 23, dto.MetricType_COUNTER},
		{"conclave_retransmissions_dropped_total", "", "", 24, dto.MetricType_COUNTER},
		{"conclave_nacks_sent_total", "", "", 25, dto.MetricType_COUNTER},
		{"conclave_nacked_packets_total", "", "", 26, dto.MetricType_COUNTER},
		{"conclave_nacks_given_up_total", "", "", 27, dto.MetricType_COUNTER},
		{"conclave_sender_reports_forwarded_total", "", "", 28, dto.MetricType_COUNTER},
		{"conclave_sender_reports_limited_total", "", "", 73, dto.MetricType_COUNTER},
		{"conclave_layer_switches_total", "", "", 29, dto.MetricType_COUNTER},
		{"conclave_subscriptions_sending_layer", "rid", "q", 30, dto.MetricType_GAUGE},
		{"conclave_subscriptions_sending_layer", "rid", "h", 31, dto.MetricType_GAUGE},
		{"conclave_subscriptions_sending_layer", "rid", "f", 32, dto.MetricType_GAUGE},
		{"conclave_layer_liveness_changes_total", "reason", "layer_lost", 33, dto.MetricType_COUNTER},
		{"conclave_layer_liveness_changes_total", "reason", "layer_back", 34, dto.MetricType_COUNTER},
		{"conclave_layers_undecodable_total", "change", "judged", 77, dto.MetricType_COUNTER},
		{"conclave_layers_undecodable_total", "change", "cleared", 78, dto.MetricType_COUNTER},
		{"conclave_subscriber_bandwidth_limited", "", "", 35, dto.MetricType_GAUGE},
		{"conclave_datagrams_segmented_total", "", "", 36, dto.MetricType_COUNTER},
		{"conclave_segmentation_refused_total", "", "", 37, dto.MetricType_COUNTER},
		{"conclave_packets_without_route_total", "", "", 38, dto.MetricType_COUNTER},
		{"conclave_subscriber_rtcp_total", "result", "read", 39, dto.MetricType_COUNTER},
		{"conclave_subscriber_rtcp_total", "result", "refused", 40, dto.MetricType_COUNTER},
		{"conclave_publisher_rtp_total", "result", "read", 41, dto.MetricType_COUNTER},
		{"conclave_publisher_rtp_total", "result", "refused", 42, dto.MetricType_COUNTER},
		{"conclave_publisher_rtp_total", "result", "stranger", 56, dto.MetricType_COUNTER},
		{"conclave_ice_tcp_refused_total", "", "", 47, dto.MetricType_COUNTER},
		{"conclave_ice_tcp_strangers_total", "", "", 57, dto.MetricType_COUNTER},
		{"conclave_ice_checks_total", "result", "answered", 58, dto.MetricType_COUNTER},
		{"conclave_ice_checks_total", "result", "refused", 59, dto.MetricType_COUNTER},
		{"conclave_ice_requests_total", "result", "sent", 60, dto.MetricType_COUNTER},
		{"conclave_ice_requests_total", "result", "answered", 61, dto.MetricType_COUNTER},
		{"conclave_ice_requests_total", "result", "refused", 62, dto.MetricType_COUNTER},
		{"conclave_ice_requests_total", "result", "held", 64, dto.MetricType_COUNTER},
		{"conclave_ice_consent_lost_total", "", "", 63, dto.MetricType_COUNTER},
		{"conclave_ice_probes_total", "result", "sent", 65, dto.MetricType_COUNTER},
		{"conclave_ice_probes_total", "result", "held", 66, dto.MetricType_COUNTER},
		{"conclave_dtls_early_records_total", "result", "held", 67, dto.MetricType_COUNTER},
		{"conclave_dtls_early_records_total", "result", "given", 68, dto.MetricType_COUNTER},
		{"conclave_dtls_early_records_total", "result", "refused", 69, dto.MetricType_COUNTER},
		{"conclave_dtls_hold_full_total", "", "", 71, dto.MetricType_COUNTER},
		{"conclave_audio_packets_over_rate_total", "", "", 72, dto.MetricType_COUNTER},
		{"conclave_packets_unnegotiated_type_total", "", "", 74, dto.MetricType_COUNTER},
		{"conclave_padding_unforwarded_total", "", "", 75, dto.MetricType_COUNTER},
		{"conclave_keyframes_replayed_total", "", "", 70, dto.MetricType_COUNTER},
		{"conclave_datagrams_to_relays_total", "", "", 50, dto.MetricType_COUNTER},
		{"conclave_datagrams_from_relays_total", "", "", 51, dto.MetricType_COUNTER},
		{"conclave_turn_allocations", "", "", 5, dto.MetricType_GAUGE},
		{"conclave_turn_tcp_refused_total", "", "", 6, dto.MetricType_COUNTER},
		{"conclave_turn_direct_writes_total", "", "", 7, dto.MetricType_COUNTER},
		{"conclave_turn_unauthenticated_answers_dropped_total", "", "", 9, dto.MetricType_COUNTER},
		{"conclave_turn_uplink_packets_total", "path", "channel", 10, dto.MetricType_COUNTER},
		{"conclave_turn_uplink_packets_total", "path", "send", 11, dto.MetricType_COUNTER},
	} {
		if got := one(t, fams, c.name, c.label, c.value); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
		if typ := fams[c.name].GetType(); typ != c.typ {
			t.Errorf("%s is a %v, want %v", c.name, typ, c.typ)
		}
	}
	if f := fams["conclave_forward_delay_seconds"]; f.GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("conclave_forward_delay_seconds is a %v, want a histogram", f.GetType())
	} else {
		h := f.GetMetric()[0].GetHistogram()
		b := h.GetBucket()
		if h.GetSampleCount() != 45 || h.GetSampleSum() != 0.046 || len(b) != 3 ||
			b[0].GetUpperBound() != 0.001 || b[0].GetCumulativeCount() != 43 || b[1].GetUpperBound() != 0.005 || b[1].GetCumulativeCount() != 44 {
			t.Errorf("conclave_forward_delay_seconds: %v", h)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("the Go runtime collector is missing")
	}

	noTURN := httptest.NewServer(metrics.Handler(sources(nil), func() bool { return true }))
	defer noTURN.Close()
	plain := scrape(t, noTURN.URL+"/metrics")
	if _, ok := plain["conclave_turn_allocations"]; ok {
		t.Error("conclave_turn_allocations exported without a TURN source")
	}
	if got := one(t, plain, "conclave_accept_failed_total", "listener", "turn"); got != 0 {
		t.Errorf("conclave_accept_failed_total{listener=turn} = %v without a TURN source, want 0", got)
	}
}

// TestHealthz: 200 "ok" while healthy, 503 once not; only GET is served.
func TestHealthz(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(metrics.Handler(sources(nil), healthy.Load))
	defer srv.Close()
	check := func(wantCode int, wantBody string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantCode || string(b) != wantBody {
			t.Fatalf("/healthz: %d %q, want %d %q", resp.StatusCode, b, wantCode, wantBody)
		}
	}
	check(http.StatusOK, "ok\n")
	healthy.Store(false)
	check(http.StatusServiceUnavailable, "shutting down\n")
	resp, err := http.Post(srv.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz: %s", resp.Status)
	}
}

// TestGrafanaDashboard: deploy/grafana-dashboard.json is valid JSON with panels, and
// every metric its queries name is one the server exports (Conclave's collector with a
// TURN source, and the Go and process collectors).
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	srv := httptest.NewServer(metrics.Handler(sources(turnAllocs(0)), func() bool { return true }))
	defer srv.Close()
	exported := scrape(t, srv.URL+"/metrics")
	described := metrics.NewCollector(sources(turnAllocs(0))).Names()

	name := regexp.MustCompile(`\b(?:conclave|go|process)_[a-z0-9_]+`)
	queried := map[string]bool{}
	graphs := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		graphs++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, n := range name.FindAllString(q.Expr, -1) {
				// A histogram's series are its family's name and a suffix.
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if f, ok := exported[strings.TrimSuffix(n, suffix)]; ok && f.GetType() == dto.MetricType_HISTOGRAM {
						n = strings.TrimSuffix(n, suffix)
					}
				}
				queried[n] = true
				if _, ok := exported[n]; !ok {
					t.Errorf("panel %q queries %s, which the server does not export", p.Title, n)
				}
				if strings.HasPrefix(n, "conclave_") && !slices.Contains(described, n) {
					t.Errorf("panel %q queries %s, which the collector does not describe", p.Title, n)
				}
			}
		}
	}
	// Every metric of ours has a panel.
	for _, n := range described {
		if !queried[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
	if graphs < 10 {
		t.Errorf("only %d panels", graphs)
	}
}
