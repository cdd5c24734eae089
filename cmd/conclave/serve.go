package main

import (
	"conclave/lobby"
	"conclave/secret"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/web"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// run serves until ctx ends, then shuts down gracefully. Everything that can be wrong
// (certificates, ports) is found before anything is started.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q", o.logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if level <= slog.LevelDebug {
		log.Warn("debug logging is on: logs may contain IP addresses and participant ids")
	}
	for _, note := range o.overridden {
		log.Warn(note)
	}

	// The data directory first: a damaged or unwritable one, or one another server holds,
	// stops the start before any port is taken.
	st, err := openStore(o.data)
	if err != nil {
		return err
	}
	defer st.Close() // last, after the meetings have ended
	hosts, err := startHosts(ctx, st, o, log)
	if err != nil {
		return err
	}
	if err := dropOrphanRooms(ctx, st, hosts, log); err != nil {
		return err
	}
	tlsSet, err := prepareTLS(o.tls, log)
	if err != nil {
		return err
	}
	// appLn serves the web client and the API; redirectLn, with TLS, only redirects.
	var appLn, redirectLn net.Listener
	if tlsSet != nil {
		if appLn, err = listen("https", o.tls.httpsAddr); err != nil {
			return err
		}
		defer appLn.Close()
		if o.httpAddr != "" {
			if redirectLn, err = listen("http", o.httpAddr); err != nil {
				return err
			}
			defer redirectLn.Close()
		}
	} else {
		if appLn, err = listen("http", o.httpAddr); err != nil {
			return err
		}
		defer appLn.Close()
	}
	webLimits := webConnLimits(o)
	appLn = webLimits.Listener(appLn)
	h2Requests := h2RequestLimits(o) // HTTP/2's requests in flight, counted apart (h2requests.go)
	if redirectLn != nil {
		redirectLn = webLimits.Listener(redirectLn)
	}

	publicIPs := o.publicIPList
	// A browser on ICE-TCP holds two connections (publish and subscribe), so the
	// ICE-TCP port's bounds are twice the websockets' (sfu/tcplimit.go).
	engine, err := sfu.NewEngine(sfu.Config{UDPAddr: o.mediaUDP, TCPAddr: o.mediaTCP, PublicIPs: publicIPs, Loopback: o.loopback, Logger: log, SpeakerDetection: o.speakers,
		MaxTCPConns: 2 * o.limits.maxConns, MaxTCPConnsPerAddr: 2 * o.limits.maxConnsPerAddr})
	if err != nil {
		return err
	}
	defer engine.Close()
	announced := publicIPs // TURN's relayed candidates carry its public address too
	if o.turn.enabled() && o.turn.publicIP != "" {
		announced = append(slices.Clone(publicIPs), o.turn.publicIP)
	}
	if why := mediaUnreachable(engine.UDPAddr(), announced, o.loopback, net.InterfaceAddrs); why != "" {
		log.Warn(why)
	}
	turnSrv, err := startTURN(o.turn, engine, publicIPs, o.loopback, log)
	if err != nil {
		return err
	}
	var ice signaling.ICESource
	if turnSrv != nil {
		defer turnSrv.Close()
		ice = turnICE{turnSrv}
	}

	notice, err := buildNotice(o.notice, factsFor(o))
	if err != nil {
		return err
	}
	hasher := secret.NewHasher(secret.DefaultParams, runtime.NumCPU())
	var oneTimeKey string
	var oneTime []signaling.Host // the store's hosts are asked at each use, so host add/remove count at once
	if len(hosts) == 0 && o.printsOneTimeKey() {
		// First run: a key valid until the server stops, so one command is enough.
		key, entry := newHostKey("one-time")
		oneTimeKey = key
		oneTime = []signaling.Host{{ID: entry.ID, Name: entry.Name, KeyHash: entry.KeyHash}}
		hosts = oneTime
	}
	sig := signaling.NewServer(signaling.Config{Engine: engine, Logger: log, Store: st, Hosts: oneTime, Hasher: hasher, TrustForwardedFor: o.behindProxy, TrustedProxies: o.proxies,
		EmptyMeetingGrace: signaling.DefaultEmptyMeetingGrace,
		ResumeGrace:       o.resumeGrace,
		Lobby:             lobby.Config{MaxWaiting: o.maxWaiting, KnockTTL: o.knockTimeout},
		MaxParticipants:   o.limits.maxParticipants,
		MaxWaitingPerAddr: o.limits.maxWaitingPerAddr,
		MaxConns:          o.limits.maxConns,
		MaxConnsPerAddr:   o.limits.maxConnsPerAddr,
		ICE:               ice,
	})
	mux := http.NewServeMux()
	sig.Register(mux)
	webClient := web.Handler(web.Options{Notice: notice})
	mux.Handle("/", webClient)
	mux.Handle(web.NoticePath, webClient) // under /api/, whose other paths the API refuses

	admin, err := startAdminFor(o.data, st, sig, log) // host and room commands while it runs
	if err != nil {
		_ = sig.Shutdown(context.Background())
		return err
	}
	warnSharedAddress(log, appLn.Addr(), o.behindProxy)
	var certNames func() []string
	if tlsSet != nil && tlsSet.files != nil {
		certNames = tlsSet.files.dnsNames
	}
	hostCheck := newHostPolicy(o, certNames) // every public route, before any handler
	if !hostCheck.enforce {
		log.Warn(unchecked)
	}
	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	var healthy atomic.Bool
	ops, err := startMetrics(o.metricsAddr, o.serverNameList, log, engine, sig, webLimits, h2Requests, turnSrv, healthy.Load)
	if err != nil {
		admin.close()
		_ = sig.Shutdown(context.Background())
		return err
	}
	servers := []*http.Server{newHTTPServer(hostCheck.wrap(mux), errorLog, httpIdleWait)}
	serveErr := make(chan error, 4)
	if admin != nil {
		servers = append(servers, admin.srv)
		go func() { serveErr <- admin.serve() }()
	}
	base := openURL(appLn.Addr(), o.httpAddr)
	if tlsSet == nil {
		go func() { serveErr <- servers[0].Serve(appLn) }()
	} else {
		app := servers[0]
		app.Handler, app.TLSConfig = boundH2Requests(hostCheck.wrap(withHSTS(mux)), h2Requests), tlsSet.config
		go func() { serveErr <- app.ServeTLS(appLn, "", "") }()
		base = httpsURL(appLn.Addr(), o.tls.httpsAddr, tlsSet.name)
		if redirectLn != nil {
			_, port, _ := net.SplitHostPort(appLn.Addr().String())
			var h http.Handler = redirectToHTTPS(port, tlsSet.name)
			if tlsSet.manager != nil {
				h = tlsSet.manager.HTTPHandler(h) // ACME HTTP-01 challenges, the rest redirected
			}
			rs := newHTTPServer(hostCheck.wrap(h), errorLog, httpIdleWait)
			servers = append(servers, rs)
			go func() { serveErr <- rs.Serve(redirectLn) }()
		}
	}
	if ops != nil {
		go func() { serveErr <- ops.serve() }()
	}
	healthy.Store(true)

	fmt.Fprintf(stdout, "Conclave is running. Open %s\n", base)
	if redirectLn != nil {
		fmt.Fprintf(stdout, "HTTP on %s redirects to HTTPS.\n", redirectLn.Addr())
	}
	if line := hostCheck.describe(); line != "" {
		fmt.Fprintln(stdout, line)
	}
	where := o.data
	if where == "" {
		where = `memory only, -data ""`
	}
	switch {
	case oneTimeKey != "":
		fmt.Fprintf(stdout, "No hosts are configured (%s), so this one-time host key creates meetings until the server stops:\n  %s\nOpen %s#host=%s to create a meeting. Add permanent hosts with: conclave host add NAME\n", where, oneTimeKey, base, oneTimeKey)
	case len(hosts) == 0:
		// Not a terminal (a journal, a log file): a key printed there would outlive its
		// use in every copy of the log.
		fmt.Fprintf(stdout, "No hosts are configured (%s), so nobody can create meetings. Add a host with: conclave host add NAME (or start on a terminal, or with -one-time-key print, for a one-time key).\n", where)
	default:
		fmt.Fprintf(stdout, "%d host(s) may create meetings (%s).\n", len(hosts), where)
	}
	fmt.Fprintf(stdout, "Media: UDP %s", engine.UDPAddr())
	if a := engine.TCPAddr(); a != nil {
		fmt.Fprintf(stdout, ", ICE-TCP %s", a)
	}
	fmt.Fprintln(stdout)
	if turnSrv != nil {
		fmt.Fprintf(stdout, "TURN: %s\n", strings.Join(turnSrv.URLs(), " "))
	}
	if ops != nil {
		fmt.Fprintf(stdout, "Metrics: http://%s/metrics and /healthz\n", ops.ln.Addr())
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	healthy.Store(false) // /healthz answers 503 until the end, so a balancer stops sending people
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = sig.Shutdown(sctx) // tells participants, closes websockets and meetings
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Shutdown(sctx))
	}
	if ops != nil { // last, so /healthz says 503 while the rest shuts down
		errs = append(errs, ops.srv.Shutdown(sctx))
	}
	return errors.Join(errs...)
}

// startHosts moves the hosts of an older configuration file into the store (once; with
// -data "" at every start, as nothing remembers), then reads the hosts from the store.
// The log gives counts, never names.
func startHosts(ctx context.Context, st dataStore, o options, log *slog.Logger) ([]signaling.Host, error) {
	added, done, err := importConfigHosts(ctx, st, o.config, time.Now())
	if err != nil {
		return nil, err
	}
	switch {
	case done && added > 0 && o.data != "":
		log.Info("moved the hosts of the configuration file into the data directory; from now on hosts are managed with conclave host and the file's host entries are not read", "hosts", added)
	case !done:
		if cfg, err := loadConfig(o.config); err == nil && len(cfg.Hosts) > 0 {
			log.Info("the configuration file's host entries were moved into the data directory earlier and are not read; manage hosts with conclave host")
		}
	}
	hosts, err := st.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	return signalingHosts(hosts), nil
}

// warnSharedAddress warns when the server listens on loopback without -behind-proxy:
// then a reverse proxy in front of it makes every client one address, and a few wrong
// passwords from anyone hold everyone back.
func warnSharedAddress(log *slog.Logger, bound net.Addr, behindProxy bool) {
	if tcp, ok := bound.(*net.TCPAddr); ok && tcp.IP.IsLoopback() && !behindProxy {
		log.Warn("listening on a loopback address without -behind-proxy: if a reverse proxy fronts this server, every client shares one address for password throttling; start with -behind-proxy and have the proxy set X-Forwarded-For")
	}
}

// openURL is the address to print: the configured host name when there is one
// (localhost), the bound port.
func openURL(bound net.Addr, configured string) string {
	host, _, _ := net.SplitHostPort(configured)
	_, port, _ := net.SplitHostPort(bound.String())
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// httpsURL is the HTTPS address to print: the certificate's or ACME domain when known,
// otherwise as openURL; the port only when it is not 443.
func httpsURL(bound net.Addr, configured, name string) string {
	u := openURL(bound, configured)
	host, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"))
	if name != "" {
		host = name
	}
	if port == "443" {
		return "https://" + host + "/"
	}
	return "https://" + net.JoinHostPort(host, port) + "/"
}
