package metrics

import "github.com/prometheus/client_golang/prometheus"

// metric is one exported family: its description and how a scrape fills it.
type metric struct {
	desc    *prometheus.Desc
	name    string
	collect func(s *snapshot, desc *prometheus.Desc, ch chan<- prometheus.Metric)
}

// snapshot is what one scrape read.
type snapshot struct {
	server Server
	media  Media
	// turnAcceptFailed is TURN.TCPAcceptFailed, 0 without a TURN source.
	turnAcceptFailed uint64
}

// Collector is a prometheus.Collector that reads Sources at scrape time.
type Collector struct {
	src        Sources
	metrics    []metric
	turn       *prometheus.Desc // nil without a TURN source
	turnTCP    *prometheus.Desc // nil without a TURN source
	turnDirect *prometheus.Desc // nil without a TURN source
	turnUnauth *prometheus.Desc // nil without a TURN source
	turnUplink *prometheus.Desc // nil without a TURN source
}

const ns = "conclave_"

func gauge(name, help string, v func(*snapshot) float64) metric {
	d := prometheus.NewDesc(ns+name, help, nil, nil)
	return metric{desc: d, name: ns + name, collect: func(s *snapshot, d *prometheus.Desc, ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v(s))
	}}
}

func counter(name, help string, v func(*snapshot) uint64) metric {
	d := prometheus.NewDesc(ns+name, help, nil, nil)
	return metric{desc: d, name: ns + name, collect: func(s *snapshot, d *prometheus.Desc, ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v(s)))
	}}
}

func histogram(name, help string, v func(*snapshot) Histogram) metric {
	d := prometheus.NewDesc(ns+name, help, nil, nil)
	return metric{desc: d, name: ns + name, collect: func(s *snapshot, d *prometheus.Desc, ch chan<- prometheus.Metric) {
		h := v(s)
		ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Buckets)
	}}
}

// labelled is one family with a single label whose values are fixed here.
type labelled struct {
	value string
	get   func(*snapshot) float64
}

func family(name, help, label string, typ prometheus.ValueType, parts ...labelled) metric {
	d := prometheus.NewDesc(ns+name, help, []string{label}, nil)
	return metric{desc: d, name: ns + name, collect: func(s *snapshot, d *prometheus.Desc, ch chan<- prometheus.Metric) {
		for _, p := range parts {
			ch <- prometheus.MustNewConstMetric(d, typ, p.get(s), p.value)
		}
	}}
}

// NewCollector describes Conclave's metrics.
func NewCollector(src Sources) *Collector {
	c := &Collector{src: src, metrics: []metric{
		gauge("meetings", "Live meetings.", func(s *snapshot) float64 { return float64(s.server.Meetings) }),
		family("participants", "People in live meetings: joined (members) or waiting (in a waiting room).", "state", prometheus.GaugeValue,
			labelled{"joined", func(s *snapshot) float64 { return float64(s.server.Participants) }},
			labelled{"waiting", func(s *snapshot) float64 { return float64(s.server.Waiting) }}),
		gauge("websockets_open", "Websockets open or being upgraded.", func(s *snapshot) float64 { return float64(s.server.Websockets) }),
		family("websockets_refused_total", "Websockets refused before the upgrade by the connection caps or shutdown.", "reason", prometheus.CounterValue,
			labelled{"server_full", func(s *snapshot) float64 { return float64(s.server.RefusedServerFull) }},
			labelled{"address_full", func(s *snapshot) float64 { return float64(s.server.RefusedAddressFull) }},
			labelled{"shutting_down", func(s *snapshot) float64 { return float64(s.server.RefusedShuttingDown) }}),
		family("accept_failed_total", "Accepts of a TCP connection that failed for want of file descriptors or memory and were tried again after a wait (5 ms doubling to 1 s), by listener: the web port, ICE-TCP, and the embedded TURN server's TCP and TLS ports (0 without it). Growing: the process is out of descriptors.", "listener", prometheus.CounterValue,
			labelled{"web", func(s *snapshot) float64 { return float64(s.server.WebAcceptFailed) }},
			labelled{"ice_tcp", func(s *snapshot) float64 { return float64(s.media.ICETCPAcceptFailed) }},
			labelled{"turn", func(s *snapshot) float64 { return float64(s.turnAcceptFailed) }}),
		counter("web_connections_refused_total", "Connections to the web port closed as soon as they were accepted, because its bound in all or from one address was reached (before any websocket or HTTP request).", func(s *snapshot) uint64 { return s.server.WebConnsRefused }),
		counter("http2_requests_refused_total", "HTTP/2 requests answered 503 at once, their handler never run, because the web port's bound in all or from one address of requests in flight was reached (in all its connections' bound; from one address 32 for each browser its bound of connections serves over HTTP/1.1).", func(s *snapshot) uint64 { return s.server.H2RequestsRefused }),
		family("wrong_secrets_total", "Wrong guesses at secrets, by kind.", "kind", prometheus.CounterValue,
			labelled{"password", func(s *snapshot) float64 { return float64(s.server.WrongPasswords) }},
			labelled{"moderator_secret", func(s *snapshot) float64 { return float64(s.server.WrongModeratorSecrets) }},
			labelled{"host_key", func(s *snapshot) float64 { return float64(s.server.WrongHostKeys) }}),
		counter("guesses_throttled_total", "Guesses at secrets the throttle refused without checking them.", func(s *snapshot) uint64 { return s.server.GuessesThrottled }),
		counter("resumes_delayed_total", "Resumes of a dropped membership held back (at most 10 s) because that membership had resumed more than 5 times lately; a steady rate is a member reconnecting in a loop.", func(s *snapshot) uint64 { return s.server.ResumesDelayed }),
		counter("knocks_limited_total", "Knocks (joins) refused with too_many_attempts because their address knocked more often than one every 2 s after a burst of -max-conns-per-addr; a steady rate is someone knocking and leaving in a loop.", func(s *snapshot) uint64 { return s.server.KnocksLimited }),
		gauge("tracks_published", "Media tracks being published.", func(s *snapshot) float64 { return float64(s.media.TracksPublished) }),
		gauge("publish_connections", "Publish connections open (members who never sent anything have none).", func(s *snapshot) float64 { return float64(s.media.PublishConnections) }),
		counter("packets_forwarded_total", "RTP packets written to subscribers, retransmissions included.", func(s *snapshot) uint64 { return s.media.PacketsForwarded }),
		counter("forwarded_bytes_total", "RTP payload bytes written to subscribers.", func(s *snapshot) uint64 { return s.media.BytesForwarded }),
		counter("packets_dropped_total", "RTP packets not forwarded because a subscriber's queue was full (congestion).", func(s *snapshot) uint64 { return s.media.PacketsDropped }),
		counter("nacks_received_total", "NACK messages received from subscribers.", func(s *snapshot) uint64 { return s.media.NACKsReceived }),
		counter("nacks_answered_total", "NACK messages answered with at least one retransmission.", func(s *snapshot) uint64 { return s.media.NACKsAnswered }),
		counter("retransmissions_total", "RTP packets queued again for a subscriber that NACKed them.", func(s *snapshot) uint64 { return s.media.Retransmissions }),
		counter("keyframe_requests_received_total", "Keyframe requests from subscribers (PLI, FIR, new subscriptions).", func(s *snapshot) uint64 { return s.media.KeyframeRequestsReceived }),
		counter("keyframe_requests_sent_total", "Keyframe requests (PLI) sent to publishers after coalescing.", func(s *snapshot) uint64 { return s.media.KeyframeRequestsSent }),
		family("keyframe_requests_absorbed_total", "Keyframe requests from subscribers not sent on to the publisher, by why.", "reason", prometheus.CounterValue,
			labelled{"repaired", func(s *snapshot) float64 { return float64(s.media.KeyframeRequestsRepaired) }},
			labelled{"limited", func(s *snapshot) float64 { return float64(s.media.KeyframeRequestsLimited) }},
			labelled{"coalesced", func(s *snapshot) float64 { return float64(s.media.KeyframeRequestsCoalesced) }}),
		counter("retransmissions_dropped_total", "Packets a subscriber NACKed that were cached but not sent again: its retransmission budget or queue was full, or the packet could not go again exactly as it went.", func(s *snapshot) uint64 { return s.media.RetransmissionsDropped }),
		counter("packets_index_refused_total", "RTP packets not sent because their sequence number went with another packet already, or lies too far behind what was sent to tell (they would have shared an SRTP nonce).", func(s *snapshot) uint64 { return s.media.PacketsIndexRefused }),
		counter("packets_beyond_track_ids_total", "RTP packets a track received after its four billion packet ids were spent (weeks of one screen share), neither cached nor forwarded: the publisher has to start the source again.", func(s *snapshot) uint64 { return s.media.PacketsBeyondTrackIDs }),
		counter("audio_packets_over_rate_total", "Audio packets beyond what Opus can be (640 kbit/s, 250 packets a second per stream), neither cached nor forwarded: a publisher's client that sends more under its microphone than any browser.", func(s *snapshot) uint64 { return s.media.PacketsOverAudioRate }),
		counter("packets_unnegotiated_type_total", "Publishers' RTP packets under a payload type their stream did not negotiate, neither cached nor forwarded: a modified client's.", func(s *snapshot) uint64 { return s.media.PacketsUnnegotiatedType }),
		counter("padding_unforwarded_total", "Publishers' video padding packets whose numbers no subscription was told of: padding numbered with gaps beyond 250 runs a second per stream, which no browser sends; their numbers are gaps at the subscribers.", func(s *snapshot) uint64 { return s.media.PaddingUnforwarded }),
		counter("nacks_sent_total", "NACKs sent to publishers for packets lost on the way to the server.", func(s *snapshot) uint64 { return s.media.NACKsSent }),
		counter("nacked_packets_total", "Packets named in NACKs to publishers (each asked for a bounded number of times).", func(s *snapshot) uint64 { return s.media.NACKedPackets }),
		counter("nacks_given_up_total", "Packets lost on the way to the server that never came, however often asked for.", func(s *snapshot) uint64 { return s.media.NACKsGivenUp }),
		counter("keyframes_replayed_total", "New subscriptions sent a recent keyframe and the packets since from the publisher track's cache, so that they show the picture without waiting for the keyframe asked of the publisher (in an end-to-end encrypted meeting only keyframes that came after the subscriber joined).", func(s *snapshot) uint64 { return s.media.KeyframesReplayed }),
		counter("sender_reports_forwarded_total", "Publisher RTCP sender reports forwarded to subscribers (lip sync).", func(s *snapshot) uint64 { return s.media.SenderReports }),
		counter("sender_reports_limited_total", "Publisher RTCP sender reports kept but not forwarded, since one of the stream's was forwarded less than 50 ms before: a publisher's client that sends more than browsers do.", func(s *snapshot) uint64 { return s.media.SenderReportsLimited }),
		counter("layer_switches_total", "Simulcast layer switches of subscriptions (each at a keyframe of the new layer).", func(s *snapshot) uint64 { return s.media.LayerSwitches }),
		family("subscriptions_sending_layer", "Subscriptions to simulcast cameras, by the layer they are sent now.", "rid", prometheus.GaugeValue,
			labelled{"q", func(s *snapshot) float64 { return float64(s.media.SendingLayerQ) }},
			labelled{"h", func(s *snapshot) float64 { return float64(s.media.SendingLayerH) }},
			labelled{"f", func(s *snapshot) float64 { return float64(s.media.SendingLayerF) }}),
		family("layer_liveness_changes_total", "Simulcast subscriptions given another layer because the one they wanted stopped arriving (layer_lost) or a better one came back (layer_back).", "reason", prometheus.CounterValue,
			labelled{"layer_lost", func(s *snapshot) float64 { return float64(s.media.LayersLost) }},
			labelled{"layer_back", func(s *snapshot) float64 { return float64(s.media.LayersBack) }}),
		family("layers_undecodable_total", "Simulcast layers that went on arriving but whose keyframes did not arrive whole within the wait after a keyframe request (most of their packets lost on the publisher's uplink and not repaired), so their subscribers were given the best layer whose keyframes do, if one of the camera's does (judged); and the ends of such judgements: a keyframe of the layer arrived whole again, or the layer stopped arriving (cleared).", "change", prometheus.CounterValue,
			labelled{"judged", func(s *snapshot) float64 { return float64(s.media.LayersUndecodable) }},
			labelled{"cleared", func(s *snapshot) float64 { return float64(s.media.LayersDecodable) }}),
		counter("datagrams_segmented_total", "Media datagrams sent as segments of a larger message (UDP segmentation: one pass through the kernel for a frame's packets to one subscriber).", func(s *snapshot) uint64 { return s.media.DatagramsSegmented }),
		counter("segmentation_refused_total", "Batches of media datagrams the kernel would not segment, sent again one datagram at a time (a device without checksum offload stops it for good).", func(s *snapshot) uint64 { return s.media.SegmentationRefused }),
		family("subscriber_rtcp_total", "Subscribers' SRTCP packets read in the media socket's reader (read), and those from a subscriber's address that failed to decrypt or parse, dropped (refused: forged, replayed or broken).", "result", prometheus.CounterValue,
			labelled{"read", func(s *snapshot) float64 { return float64(s.media.SubscriberRTCPRead) }},
			labelled{"refused", func(s *snapshot) float64 { return float64(s.media.SubscriberRTCPRefused) }}),
		family("publisher_rtp_total", "Publishers' SRTP packets read in the media socket's reader (read), those of a stream read there that failed to decrypt, dropped (refused: forged, replayed or broken), and those under an SSRC beyond the streams a publish connection may start without a layer reading them, or that move a layer to a new SSRC, dropped (stranger: made-up SSRCs).", "result", prometheus.CounterValue,
			labelled{"read", func(s *snapshot) float64 { return float64(s.media.PublisherRTPRead) }},
			labelled{"refused", func(s *snapshot) float64 { return float64(s.media.PublisherRTPRefused) }},
			labelled{"stranger", func(s *snapshot) float64 { return float64(s.media.PublisherRTPStrangers) }}),
		family("ice_checks_total", "Connectivity checks of the subscribe connections the server runs itself (ICE-lite, over UDP and ICE-TCP): answered, and dropped unanswered (refused: a wrong password or fingerprint, not a controlling peer's check, another peer's ufrag, or a source no peer could have). A steady rate of refused is someone probing or forging checks.", "result", prometheus.CounterValue,
			labelled{"answered", func(s *snapshot) float64 { return float64(s.media.ICEChecksAnswered) }},
			labelled{"refused", func(s *snapshot) float64 { return float64(s.media.ICEChecksRefused) }}),
		family("ice_requests_total", "The server's own STUN Binding requests on those connections, which prove an address before media go there and renew the selected path's consent (sent), the answers that held (answered), and answers carrying a request's id whose integrity or fingerprint failed, dropped (refused); held: requests that checks from addresses that never answered earned and the budget held back (three in flight a connection). Sent well above answered: checks forged in someone else's name (each earns that address one request, a few a second at most), or lossy links; held rising: a flood of such checks.", "result", prometheus.CounterValue,
			labelled{"sent", func(s *snapshot) float64 { return float64(s.media.ICERequestsSent) }},
			labelled{"answered", func(s *snapshot) float64 { return float64(s.media.ICERequestsAnswered) }},
			labelled{"refused", func(s *snapshot) float64 { return float64(s.media.ICEAnswersRefused) }},
			labelled{"held", func(s *snapshot) float64 { return float64(s.media.ICERequestsHeld) }}),
		family("ice_probes_total", "The server's STUN Binding requests to the candidates peers named in their answers or trickled, before they nominated a pair (sent), and those not sent because the destination's budget of probes to addresses that never answered was spent (held: 64 at once, 16 a second to one address or IPv6 /64). Held rising: participants naming someone else's address, many of them or again and again.", "result", prometheus.CounterValue,
			labelled{"sent", func(s *snapshot) float64 { return float64(s.media.ICEProbesSent) }},
			labelled{"held", func(s *snapshot) float64 { return float64(s.media.ICEProbesHeld) }}),
		family("dtls_early_records_total", "DTLS records of subscribe connections the server runs itself that came from an address before its answer to the server's request (a browser's ClientHello now and then, a Pion client's often): held for the connection whose answer from there comes (held), given to it at that answer (given), and not held for the hold's bounds of records and bytes (refused: four records of 1500 bytes at most an address, 64 KB in all, 8 KB for one address or IPv6 /64), whose peer then waits for its retransmission, 50 ms for a browser, a second for Pion. Held well above given: records of addresses nobody answered from, a publisher's behind a forged check or a flood; refused rising: someone keeping the hold full, or many joins at once behind one address. An address the hold has no room for counts in dtls_hold_full_total instead.", "result", prometheus.CounterValue,
			labelled{"held", func(s *snapshot) float64 { return float64(s.media.DTLSEarlyHeld) }},
			labelled{"given", func(s *snapshot) float64 { return float64(s.media.DTLSEarlyGiven) }},
			labelled{"refused", func(s *snapshot) float64 { return float64(s.media.DTLSEarlyRefused) }}),
		counter("dtls_hold_full_total", "The server's requests awaiting an answer on subscribe connections it runs itself whose address the hold of DTLS records had no room for (64 addresses in all, 8 for one address or IPv6 /64): a record from there before the answer is not held (nor counted in dtls_early_records_total) and waits for the peer's retransmission. Rising: someone keeping the hold's addresses busy, or many joins at once behind one address.", func(s *snapshot) uint64 { return s.media.DTLSHoldFull }),
		counter("ice_consent_lost_total", "Paths of subscribe connections the server runs itself that lost the server's consent: no answer to its requests for the consent time (RFC 7675), after which nothing is sent there until the browser restarts ICE. Each is a subscriber whose network stopped carrying its answers (a laptop closed, a link lost); a rate that rises while people stay points at weak networks.", func(s *snapshot) uint64 { return s.media.ICEConsentLost }),
		counter("ice_tcp_strangers_total", "ICE-TCP connections closed after their first frame, which was no connectivity check for any of the server's connections (what anyone who can reach the port may send; a browser's checks name a connection it was told of).", func(s *snapshot) uint64 { return s.media.ICETCPStrangers }),
		counter("ice_tcp_refused_total", "ICE-TCP connections closed as soon as they were accepted, because the server's or their address's bound on held connections was reached.", func(s *snapshot) uint64 { return s.media.ICETCPRefused }),
		counter("datagrams_to_relays_total", "Media datagrams for subscribers relayed by the embedded TURN server handed to their relay in memory instead of sent over loopback (0 without TURN).", func(s *snapshot) uint64 { return s.media.DatagramsToRelays }),
		counter("datagrams_from_relays_total", "Media datagrams from participants relayed by the embedded TURN server (publishers' SRTP, subscribers' SRTCP) that their relay handed to the SFU in memory instead of sending them over loopback (0 without TURN).", func(s *snapshot) uint64 { return s.media.DatagramsFromRelays }),
		counter("packets_without_route_total", "RTP packets not sent because the subscriber's candidate pair was not known yet (NACKs and keyframes recover them).", func(s *snapshot) uint64 { return s.media.PacketsWithoutRoute }),
		histogram("forward_delay_seconds", "How long the server held the packets it forwarded: from reading a publisher's packet to the system call that sent each subscriber's copy (retransmissions and keyframes replayed to newcomers not counted).", func(s *snapshot) Histogram { return s.media.ForwardDelay }),
		gauge("subscriber_bandwidth_limited", "Subscribers whose estimated downlink does not cover the video they show (some of it reduced or paused).", func(s *snapshot) float64 { return float64(s.media.SubscribersLimited) }),
	}}
	if src.TURN != nil {
		c.turn = prometheus.NewDesc(ns+"turn_allocations", "TURN relay allocations open.", nil, nil)
		c.turnTCP = prometheus.NewDesc(ns+"turn_tcp_refused_total", "TURN TCP and TLS connections closed as soon as they were accepted, because the listeners' bound in all or from one address was reached.", nil, nil)
		c.turnDirect = prometheus.NewDesc(ns+"turn_direct_writes_total", "Packets from the SFU that the TURN relays framed and wrote to their clients themselves (ChannelData or Data indications), not through the TURN library's relay loop.", nil, nil)
		c.turnUnauth = prometheus.NewDesc(ns+"turn_unauthenticated_answers_dropped_total", "Answers of the TURN server's UDP listener to requests it had not authenticated (401s asking for credentials, STUN Binding answers) left unsent, because their address's or the bound in all on such answers was reached (a forged source would have the server reflect them at a victim).", nil, nil)
		c.turnUplink = prometheus.NewDesc(ns+"turn_uplink_packets_total", "Packets from TURN clients to the SFU that the TURN listeners relayed themselves before the TURN library read them, by what carried them: channel (ChannelData on a bound channel) or send (Send indications; Firefox binds no channel).", []string{"path"}, nil)
	}
	return c
}

// Names lists the metric names the collector exports (the Grafana dashboard test checks
// its queries against them).
func (c *Collector) Names() []string {
	names := make([]string, 0, len(c.metrics)+5)
	for _, m := range c.metrics {
		names = append(names, m.name)
	}
	if c.turn != nil {
		names = append(names, ns+"turn_allocations", ns+"turn_tcp_refused_total", ns+"turn_direct_writes_total", ns+"turn_unauthenticated_answers_dropped_total", ns+"turn_uplink_packets_total")
	}
	return names
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
	if c.turn != nil {
		ch <- c.turn
		ch <- c.turnTCP
		ch <- c.turnDirect
		ch <- c.turnUnauth
		ch <- c.turnUplink
	}
}

// Collect implements prometheus.Collector: one read of each source per scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := &snapshot{server: c.src.Server(), media: c.src.Media()}
	if c.src.TURN != nil {
		s.turnAcceptFailed = c.src.TURN.TCPAcceptFailed()
	}
	for _, m := range c.metrics {
		m.collect(s, m.desc, ch)
	}
	if c.turn != nil {
		ch <- prometheus.MustNewConstMetric(c.turn, prometheus.GaugeValue, float64(c.src.TURN.Allocations()))
		ch <- prometheus.MustNewConstMetric(c.turnTCP, prometheus.CounterValue, float64(c.src.TURN.TCPRefused()))
		ch <- prometheus.MustNewConstMetric(c.turnDirect, prometheus.CounterValue, float64(c.src.TURN.DirectWrites()))
		ch <- prometheus.MustNewConstMetric(c.turnUnauth, prometheus.CounterValue, float64(c.src.TURN.UnauthenticatedAnswersDropped()))
		channelData, sends := c.src.TURN.UplinkServed()
		ch <- prometheus.MustNewConstMetric(c.turnUplink, prometheus.CounterValue, float64(channelData), "channel")
		ch <- prometheus.MustNewConstMetric(c.turnUplink, prometheus.CounterValue, float64(sends), "send")
	}
}
