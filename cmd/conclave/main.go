// Command conclave is the Conclave meeting server: one binary, no database, no config
// file needed. `go run ./cmd/conclave` serves http://localhost:8080.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"conclave/lobby"
	"conclave/secret"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/web"
)

// options are the server's settings: flags, CONCLAVE_* variables and the configuration
// file (config.go).
type options struct {
	httpAddr       string
	mediaUDP       string
	mediaTCP       string
	publicIPs      string
	logLevel       string
	loopback       bool
	speakers       bool // -speaker-detection
	config         string
	data           string
	knockTimeout   time.Duration
	resumeGrace    time.Duration
	maxWaiting     int
	behindProxy    bool
	trustedProxies string
	proxies        []netip.Prefix // trusted with -behind-proxy
	publicIPList   []string       // -public-ip, checked: each an address or external/internal pair
	serverNames    string         // -server-name
	serverNameList []string       // -server-name, checked: lower case, without a trailing dot
	tls            tlsOptions
	limits         limits
	notice         noticeOptions
	turn           turnOptions
	metricsAddr    string // "" disables /metrics and /healthz
	oneTimeKey     string // auto, print or off (oneTimeKeyModes)
	stdoutTTY      bool   // stdout is a terminal (set by main; auto prints the key only there)
	// overridden are the configuration file's keys that the command line or the
	// environment set again (the systemd unit's -data and -metrics), logged at start:
	// an operator who changed the file must not be left wondering why nothing changed.
	overridden []string
}

// limits are the connection and admission caps (signaling.Config).
type limits struct {
	maxParticipants   int
	maxWaitingPerAddr int
	maxConns          int
	maxConnsPerAddr   int
}

// usage names the commands; `conclave -h` adds the flags.
const usage = `usage: conclave [serve] [flags]   run the server (conclave -h lists the flags)
       conclave host ...          manage the hosts who may create meetings (conclave host -h)
       conclave room ...          a host's rooms with -link HOST-LINK; the operator's list, show
                                  and delete of every room (conclave room -h)
       conclave config example    print a commented example configuration file
       conclave privacy-report [flags]
                                  print the record of technical and organisational measures
                                  (Markdown) for this configuration; takes serve's flags
`

// oneTimeKeyModes are the values of -one-time-key.
var oneTimeKeyModes = []string{"auto", "print", "off"}

// errUsage is a command line that names no command conclave has, or flags that do not
// parse; the reason is already on stderr, and it exits with 2.
var errUsage = errors.New("usage error")

// newFlagSet defines the flags of `conclave serve` on o. Every flag is also a key of the
// configuration file and an environment variable CONCLAVE_<NAME> (config.go), so a flag
// added here needs nothing else.
func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("conclave", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\nEvery flag -some-name can also be set as the environment variable CONCLAVE_SOME_NAME\nor as the key some-name in the -config file (conclave config example).\nA flag overrides the environment, which overrides the file.\n\n", usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.httpAddr, "http", "localhost:8080", "HTTP listen address; with TLS on, it only redirects to HTTPS (empty: no plain HTTP)")
	fs.StringVar(&o.mediaUDP, "media-udp", ":10000", "the one UDP address for all media")
	fs.StringVar(&o.mediaTCP, "media-tcp", ":10000", "ICE-TCP fallback address, empty to disable")
	fs.StringVar(&o.publicIPs, "public-ip", "", "comma-separated addresses to announce for media behind 1:1 NAT")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error; debug logs addresses")
	fs.BoolVar(&o.loopback, "loopback", false, "also offer loopback media candidates (single-machine testing)")
	fs.BoolVar(&o.speakers, "speaker-detection", true, "tell who speaks from the audio level browsers send with each audio packet (never the audio itself), for speaking indicators; false: the server is not sent the levels and cannot tell who speaks")
	fs.StringVar(&o.config, "config", defaultConfigFile, "configuration file (TOML; also holds the hosts); "+defaultConfigFile+" is read only if it exists, a file named explicitly must exist, empty for none")
	fs.BoolVar(&o.behindProxy, "behind-proxy", false, "take the client address from X-Forwarded-For set by a trusted proxy, for password throttling")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", signaling.DefaultTrustedProxies, "with -behind-proxy: comma-separated proxy addresses and CIDRs whose X-Forwarded-For is believed")
	fs.StringVar(&o.serverNames, "server-name", "", "comma-separated host names browsers reach this server by (behind a proxy: the name it serves); a request for another name than these, localhost, IP addresses, a name in -http or -https and, with TLS, the -acme-domain or certificate names is refused (421), against DNS rebinding. Behind a proxy, unset: no name is checked")
	fs.StringVar(&o.data, "data", defaultDataDir, `data directory with the hosts and rooms; "" keeps everything in memory and writes nothing`)
	fs.StringVar(&o.metricsAddr, "metrics", "localhost:9464", "listen address for /metrics (Prometheus) and /healthz, empty or off to disable; keep it private")
	fs.StringVar(&o.oneTimeKey, "one-time-key", "auto", "with no hosts configured: print a one-time host key (print), never make one (off), or print it only when stdout is a terminal, never into a journal (auto)")
	fs.DurationVar(&o.knockTimeout, "knock-timeout", 15*time.Minute, "how long someone may wait in a meeting's waiting room before the knock expires")
	fs.DurationVar(&o.resumeGrace, "resume-grace", signaling.DefaultResumeGrace, "how long a member whose connection dropped (or who reloaded the page) may come back without knocking again; 0 turns it off")
	fs.IntVar(&o.maxWaiting, "max-waiting", 100, "most people waiting in one meeting's waiting room at once; unset: -max-participants, at least 100")
	fs.IntVar(&o.limits.maxWaitingPerAddr, "max-waiting-per-addr", signaling.DefaultMaxWaitingPerAddr, "most knocks from one address waiting in one meeting's waiting room at once; unset: two fifths of -max-waiting, at least 40")
	fs.IntVar(&o.limits.maxParticipants, "max-participants", signaling.DefaultMaxParticipants, "most members of one meeting at once, moderators included")
	fs.IntVar(&o.limits.maxConns, "max-conns", signaling.DefaultMaxConns, "most open websockets on the server")
	fs.IntVar(&o.limits.maxConnsPerAddr, "max-conns-per-addr", signaling.DefaultMaxConnsPerAddr, "most open websockets from one address (IPv6: one /64); unset: twice -max-participants, at least 200")
	o.notice.register(fs)
	o.turn.register(fs)
	tlsFlags(fs, &o.tls)
	return fs
}

// parseOptions reads the command line, the environment and the configuration file, and
// checks the result; an error names the setting and where it came from.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err) // the flag package printed why
	}
	// An unknown subcommand ("conclave backup") or a stray argument must not
	// start a server that the person did not ask for.
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "conclave: unknown command or argument %q\n%s", fs.Arg(0), usage)
		return o, errUsage
	}
	s := &settings{fromFile: map[string]bool{}, fromEnv: map[string]bool{}, commandLine: map[string]bool{}}
	fs.Visit(func(f *flag.Flag) { s.commandLine[f.Name] = true })

	// The file first, then the environment, then the command line again: each overrides
	// what came before.
	explicit := s.commandLine["config"]
	if v := getenv(envName("config")); v != "" && !explicit {
		o.config, explicit = v, true
	}
	if o.config != "" {
		if err := applyFile(fs, o.config, s); err != nil {
			if !errors.Is(err, iofs.ErrNotExist) {
				return o, err
			}
			if explicit {
				return o, &ConfigError{File: o.config, Err: errors.New("does not exist (a configuration file named by -config or CONCLAVE_CONFIG must exist; -config \"\" for none)")}
			}
		}
	}
	if err := applyEnv(fs, getenv, s); err != nil {
		return o, err
	}
	if err := fs.Parse(args); err != nil { // parsed once already; cannot fail now
		return o, err
	}
	o.overridden = s.overriddenFileKeys()

	if o.knockTimeout <= 0 {
		return o, s.errorFor("knock-timeout", fmt.Errorf("must be positive, not %s", o.knockTimeout))
	}
	// The counts are bounded above as well: the servers derive others from them (four
	// times -max-conns on the web port), and a count near the integer's limit wrapped to
	// a bound of nothing, refusing every connection of a server that said it was running.
	counts := []struct {
		name string
		n    int
	}{
		{"max-waiting", o.maxWaiting},
		{"max-participants", o.limits.maxParticipants},
		{"max-waiting-per-addr", o.limits.maxWaitingPerAddr},
		{"max-conns", o.limits.maxConns},
		{"max-conns-per-addr", o.limits.maxConnsPerAddr},
	}
	if o.resumeGrace < 0 {
		return o, s.errorFor("resume-grace", fmt.Errorf("must not be negative, not %s", o.resumeGrace))
	}
	for _, c := range counts {
		if c.n <= 0 {
			return o, s.errorFor(c.name, fmt.Errorf("must be positive, not %d", c.n))
		}
		if c.n > maxCount {
			return o, s.errorFor(c.name, fmt.Errorf("must be at most %d, not %d", maxCount, c.n))
		}
	}
	// A meeting may be a whole school or office behind one address: unless the operator
	// chose the per-address bound, it grows with the meeting size (a 200-person webinar
	// is 201 websockets), and stays at its default for meetings of up to 100.
	if !s.set("max-conns-per-addr") {
		o.limits.maxConnsPerAddr = max(o.limits.maxConnsPerAddr, 2*o.limits.maxParticipants)
	}
	// So does the waiting room, which can then hold a whole meeting knocking at once (a
	// webinar of 200 whose people arrive at the hour), and one address may fill two
	// fifths of it, as at the defaults: a school's hall fits, one address still cannot
	// fill the room.
	if !s.set("max-waiting") {
		o.maxWaiting = max(o.maxWaiting, o.limits.maxParticipants)
	}
	if !s.set("max-waiting-per-addr") {
		o.limits.maxWaitingPerAddr = max(o.limits.maxWaitingPerAddr, o.maxWaiting*2/5)
	}
	if err := o.turn.check(); err != nil {
		return o, err
	}
	if !slices.Contains(oneTimeKeyModes, o.oneTimeKey) {
		return o, fmt.Errorf("-one-time-key must be one of %s, not %q", strings.Join(oneTimeKeyModes, ", "), o.oneTimeKey)
	}
	var err error
	if o.proxies, err = signaling.ParseProxyList(o.trustedProxies); err != nil {
		return o, s.errorFor("trusted-proxies", err)
	}
	if o.behindProxy && len(o.proxies) == 0 {
		// Not "trust loopback", which an empty list would otherwise have fallen back to.
		return o, s.errorFor("trusted-proxies", errors.New("-behind-proxy needs at least one proxy address or prefix"))
	}
	if o.serverNameList, err = parseServerNames(o.serverNames); err != nil {
		return o, s.errorFor("server-name", err)
	}
	if o.publicIPList, err = parsePublicIPs(o.publicIPs); err != nil {
		return o, s.errorFor("public-ip", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return o, s.errorFor("log-level", fmt.Errorf("%q is not debug, info, warn or error", o.logLevel))
	}
	// Automatic certificates belong with the rest of the server's state: in the data
	// directory, unless the operator named another place.
	if o.tls.acmeCache == "" {
		o.tls.acmeCache = defaultACMECache
		if o.data != "" {
			o.tls.acmeCache = filepath.Join(o.data, "acme")
		}
	}
	if err := checkTLS(o.tls, o.httpAddr, s); err != nil {
		return o, err
	}
	return o, nil
}

func main() {
	commands := map[string]func([]string, func(string) string, io.Writer, io.Writer) error{"host": hostCommand, "room": roomCommand, "privacy-report": reportCommand}
	if len(os.Args) > 1 && commands[os.Args[1]] != nil {
		err := commands[os.Args[1]](os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
		case errors.Is(err, errUsage):
			fmt.Fprintln(os.Stderr, "conclave:", err)
			os.Exit(2)
		default: // the data directory, the store: something to fix, not a typo
			fmt.Fprintln(os.Stderr, "conclave:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "config" {
		if err := configCommand(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "conclave:", err)
			os.Exit(2)
		}
		return
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	opts, err := parseOptions(args, os.Getenv, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "conclave:", err)
		}
		os.Exit(2)
	}
	for _, w := range strayEnv(newFlagSet(&options{}, io.Discard), os.Environ()) {
		fmt.Fprintln(os.Stderr, "conclave: warning:", w)
	}
	opts.stdoutTTY = isTerminal(os.Stdout)
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "conclave:", err)
		os.Exit(1)
	}
}

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
	mux.Handle("/", web.Handler(web.Options{Notice: notice}))

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
	ops, err := startMetrics(o.metricsAddr, o.serverNameList, log, engine, sig, webLimits, turnSrv, healthy.Load)
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
		app.Handler, app.TLSConfig = hostCheck.wrap(withHSTS(mux)), tlsSet.config
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

// printsOneTimeKey says whether a server without hosts makes a one-time key: always
// with print, never with off, and with auto only when it goes to a terminal, so that
// a service's journal never holds a working key.
func (o options) printsOneTimeKey() bool {
	return o.oneTimeKey == "print" || (o.oneTimeKey == "auto" && o.stdoutTTY)
}

// isTerminal reports whether f is a character device (a terminal, not a pipe or file).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
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

// maxCount bounds the counts an operator sets (participants, waiting, connections): far
// above what one machine holds, far below where the counts derived from them overflow.
const maxCount = 1_000_000

// parsePublicIPs checks -public-ip: comma-separated addresses to announce for media,
// each an IP address or, for a host with several, external/internal (the address
// announced in place of that local one). Checked here, a name or a typo stops the
// server at once; unchecked, it started and every meeting's media failed at the first
// subscriber.
func parsePublicIPs(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		ext, local, pair := strings.Cut(f, "/")
		for _, a := range []string{ext, local} {
			if a == "" && !pair {
				continue
			}
			ip, err := netip.ParseAddr(a)
			if err != nil || ip.Zone() != "" || ip.IsUnspecified() {
				return nil, fmt.Errorf("%q is not an IP address (or external/internal pair of them)", f)
			}
		}
		out = append(out, f)
	}
	return out, nil
}
