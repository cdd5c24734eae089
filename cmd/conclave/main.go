// Command conclave is the Conclave meeting server: one binary, no database, no config
// file needed. `go run ./cmd/conclave` serves http://localhost:8080.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
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

// options are the server's settings, from flags with CONCLAVE_* environment defaults.
type options struct {
	httpAddr     string
	mediaUDP     string
	mediaTCP     string
	publicIPs    string
	logLevel     string
	loopback     bool
	config       string
	knockTimeout time.Duration
	maxWaiting   int
	behindProxy  bool
	metricsAddr  string         // "" disables /metrics and /healthz
	oneTimeKey   string         // auto, print or off (oneTimeKeyModes)
	stdoutTTY    bool           // stdout is a terminal (set by main; auto prints the key only there)
	proxies      []netip.Prefix // trusted with -behind-proxy
	limits       limits
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
`

// oneTimeKeyModes are the values of -one-time-key.
var oneTimeKeyModes = []string{"auto", "print", "off"}

// errUsage is a command line that names no command conclave has; it exits with 2.
var errUsage = errors.New("usage error")

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var o options
	fs := flag.NewFlagSet("conclave", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.httpAddr, "http", env("CONCLAVE_HTTP", "localhost:8080"), "HTTP listen address (env CONCLAVE_HTTP)")
	fs.StringVar(&o.mediaUDP, "media-udp", env("CONCLAVE_MEDIA_UDP", ":10000"), "the one UDP address for all media (env CONCLAVE_MEDIA_UDP)")
	fs.StringVar(&o.mediaTCP, "media-tcp", env("CONCLAVE_MEDIA_TCP", ":10000"), "ICE-TCP fallback address, empty to disable (env CONCLAVE_MEDIA_TCP)")
	fs.StringVar(&o.publicIPs, "public-ip", env("CONCLAVE_PUBLIC_IP", ""), "comma-separated addresses to announce for media behind 1:1 NAT (env CONCLAVE_PUBLIC_IP)")
	fs.StringVar(&o.logLevel, "log-level", env("CONCLAVE_LOG_LEVEL", "info"), "debug, info, warn or error (env CONCLAVE_LOG_LEVEL); debug logs addresses")
	fs.BoolVar(&o.loopback, "loopback", false, "also offer loopback media candidates (single-machine testing)")
	fs.StringVar(&o.config, "config", env("CONCLAVE_CONFIG", "conclave.toml"), "configuration file with the hosts (env CONCLAVE_CONFIG); a missing file means no hosts")
	fs.StringVar(&o.metricsAddr, "metrics", env("CONCLAVE_METRICS", "localhost:9464"), "listen address for /metrics (Prometheus) and /healthz, empty or off to disable; keep it private (env CONCLAVE_METRICS)")
	fs.StringVar(&o.oneTimeKey, "one-time-key", env("CONCLAVE_ONE_TIME_KEY", "auto"), "with no hosts configured: print a one-time host key (print), never make one (off), or print it only when stdout is a terminal, never into a journal (auto) (env CONCLAVE_ONE_TIME_KEY)")
	fs.BoolVar(&o.behindProxy, "behind-proxy", env("CONCLAVE_BEHIND_PROXY", "") == "1", "take the client address from X-Forwarded-For set by a trusted proxy, for password throttling (env CONCLAVE_BEHIND_PROXY=1)")
	proxies := fs.String("trusted-proxies", env("CONCLAVE_TRUSTED_PROXIES", signaling.DefaultTrustedProxies), "with -behind-proxy: comma-separated proxy addresses and CIDRs whose X-Forwarded-For is believed (env CONCLAVE_TRUSTED_PROXIES)")
	fs.DurationVar(&o.knockTimeout, "knock-timeout", 15*time.Minute, "how long someone may wait in a meeting's waiting room before the knock expires")
	fs.IntVar(&o.maxWaiting, "max-waiting", 100, "most people waiting in one meeting's waiting room at once")
	fs.IntVar(&o.limits.maxWaitingPerAddr, "max-waiting-per-addr", signaling.DefaultMaxWaitingPerAddr, "most knocks from one address waiting in one meeting's waiting room at once")
	fs.IntVar(&o.limits.maxParticipants, "max-participants", signaling.DefaultMaxParticipants, "most members of one meeting at once, moderators included")
	fs.IntVar(&o.limits.maxConns, "max-conns", signaling.DefaultMaxConns, "most open websockets on the server")
	fs.IntVar(&o.limits.maxConnsPerAddr, "max-conns-per-addr", signaling.DefaultMaxConnsPerAddr, "most open websockets from one address (IPv6: one /64)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	// An unknown subcommand ("conclave privacy-report") or a stray argument must not
	// start a server that the person did not ask for.
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "conclave: unknown command or argument %q\n%s", fs.Arg(0), usage)
		return o, errUsage
	}
	if o.knockTimeout <= 0 || o.maxWaiting <= 0 {
		return o, errors.New("-knock-timeout and -max-waiting must be positive")
	}
	if l := o.limits; l.maxParticipants <= 0 || l.maxWaitingPerAddr <= 0 || l.maxConns <= 0 || l.maxConnsPerAddr <= 0 {
		return o, errors.New("-max-participants, -max-waiting-per-addr, -max-conns and -max-conns-per-addr must be positive")
	}
	if !slices.Contains(oneTimeKeyModes, o.oneTimeKey) {
		return o, fmt.Errorf("-one-time-key must be one of %s, not %q", strings.Join(oneTimeKeyModes, ", "), o.oneTimeKey)
	}
	var err error
	if o.proxies, err = signaling.ParseProxyList(*proxies); err != nil {
		return o, fmt.Errorf("-trusted-proxies: %w", err)
	}
	return o, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "host" {
		if err := hostCommand(os.Args[2:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(os.Stderr, "conclave:", err)
			}
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
		os.Exit(2)
	}
	opts.stdoutTTY = isTerminal(os.Stdout)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "conclave:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q", o.logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if level <= slog.LevelDebug {
		log.Warn("debug logging is on: logs may contain IP addresses and participant ids")
	}

	var publicIPs []string
	for _, ip := range strings.Split(o.publicIPs, ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			publicIPs = append(publicIPs, ip)
		}
	}
	engine, err := sfu.NewEngine(sfu.Config{UDPAddr: o.mediaUDP, TCPAddr: o.mediaTCP, PublicIPs: publicIPs, Loopback: o.loopback, Logger: log})
	if err != nil {
		return err
	}
	defer engine.Close()

	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}
	hasher := secret.NewHasher(secret.DefaultParams, runtime.NumCPU())
	hosts := cfg.hosts()
	var oneTimeKey string
	if len(hosts) == 0 && o.printsOneTimeKey() {
		// First run: a key valid until the server stops, so one command is enough.
		key, entry := newHostKey("one-time")
		oneTimeKey = key
		hosts = fileConfig{Hosts: []hostEntry{entry}}.hosts()
	}
	sig := signaling.NewServer(signaling.Config{Engine: engine, Logger: log, Hosts: hosts, Hasher: hasher, TrustForwardedFor: o.behindProxy, TrustedProxies: o.proxies,
		EmptyMeetingGrace: signaling.DefaultEmptyMeetingGrace,
		Lobby:             lobby.Config{MaxWaiting: o.maxWaiting, KnockTTL: o.knockTimeout},
		MaxParticipants:   o.limits.maxParticipants,
		MaxWaitingPerAddr: o.limits.maxWaitingPerAddr,
		MaxConns:          o.limits.maxConns,
		MaxConnsPerAddr:   o.limits.maxConnsPerAddr,
	})
	mux := http.NewServeMux()
	sig.Register(mux)
	mux.Handle("/", web.Handler(web.Options{}))

	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return err
	}
	warnSharedAddress(log, ln.Addr(), o.behindProxy)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	var healthy atomic.Bool
	ops, err := startMetrics(o.metricsAddr, log, engine, sig, healthy.Load)
	if err != nil {
		_ = ln.Close()
		_ = sig.Shutdown(context.Background())
		return err
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- hs.Serve(ln) }()
	if ops != nil {
		go func() { serveErr <- ops.serve() }()
	}
	healthy.Store(true)

	base := openURL(ln.Addr(), o.httpAddr)
	fmt.Fprintf(stdout, "Conclave is running. Open %s\n", base)
	switch {
	case oneTimeKey != "":
		fmt.Fprintf(stdout, "No hosts are configured (%s), so this one-time host key creates meetings until the server stops:\n  %s\nOpen %s#host=%s to create a meeting. Add permanent hosts with: conclave host add NAME\n", o.config, oneTimeKey, base, oneTimeKey)
	case len(hosts) == 0:
		// Not a terminal (a journal, a log file): a key printed there would outlive its
		// use in every copy of the log.
		fmt.Fprintf(stdout, "No hosts are configured (%s), so nobody can create meetings. Add a host with: conclave host add NAME (or start on a terminal, or with -one-time-key print, for a one-time key).\n", o.config)
	default:
		fmt.Fprintf(stdout, "%d host(s) may create meetings (%s).\n", len(hosts), o.config)
	}
	fmt.Fprintf(stdout, "Media: UDP %s", engine.UDPAddr())
	if a := engine.TCPAddr(); a != nil {
		fmt.Fprintf(stdout, ", ICE-TCP %s", a)
	}
	fmt.Fprintln(stdout)
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
	err = hs.Shutdown(sctx)
	if ops != nil {
		err = errors.Join(err, ops.srv.Shutdown(sctx))
	}
	return err
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
