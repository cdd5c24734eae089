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
	"strings"
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
	proxies      []netip.Prefix // trusted with -behind-proxy
	limits       limits
	turn         turnOptions
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
	fs.BoolVar(&o.behindProxy, "behind-proxy", env("CONCLAVE_BEHIND_PROXY", "") == "1", "take the client address from X-Forwarded-For set by a trusted proxy, for password throttling (env CONCLAVE_BEHIND_PROXY=1)")
	proxies := fs.String("trusted-proxies", env("CONCLAVE_TRUSTED_PROXIES", signaling.DefaultTrustedProxies), "with -behind-proxy: comma-separated proxy addresses and CIDRs whose X-Forwarded-For is believed (env CONCLAVE_TRUSTED_PROXIES)")
	fs.DurationVar(&o.knockTimeout, "knock-timeout", 15*time.Minute, "how long someone may wait in a meeting's waiting room before the knock expires")
	fs.IntVar(&o.maxWaiting, "max-waiting", 100, "most people waiting in one meeting's waiting room at once")
	fs.IntVar(&o.limits.maxWaitingPerAddr, "max-waiting-per-addr", signaling.DefaultMaxWaitingPerAddr, "most knocks from one address waiting in one meeting's waiting room at once")
	fs.IntVar(&o.limits.maxParticipants, "max-participants", signaling.DefaultMaxParticipants, "most members of one meeting at once, moderators included")
	fs.IntVar(&o.limits.maxConns, "max-conns", signaling.DefaultMaxConns, "most open websockets on the server")
	fs.IntVar(&o.limits.maxConnsPerAddr, "max-conns-per-addr", signaling.DefaultMaxConnsPerAddr, "most open websockets from one address (IPv6: one /64)")
	o.turn.register(fs, env)
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
	if err := o.turn.check(); err != nil {
		return o, err
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
	turnSrv, err := startTURN(o.turn, engine.UDPAddr(), publicIPs, o.loopback, log)
	if err != nil {
		return err
	}
	var ice signaling.ICESource
	if turnSrv != nil {
		defer turnSrv.Close()
		ice = turnICE{turnSrv}
	}

	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}
	hasher := secret.NewHasher(secret.DefaultParams, runtime.NumCPU())
	hosts := cfg.hosts()
	var oneTimeKey string
	if len(hosts) == 0 {
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
		ICE:               ice,
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
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	base := openURL(ln.Addr(), o.httpAddr)
	fmt.Fprintf(stdout, "Conclave is running. Open %s\n", base)
	if oneTimeKey != "" {
		fmt.Fprintf(stdout, "No hosts are configured (%s), so this one-time host key creates meetings until the server stops:\n  %s\nOpen %s#host=%s to create a meeting. Add permanent hosts with: conclave host add NAME\n", o.config, oneTimeKey, base, oneTimeKey)
	} else {
		fmt.Fprintf(stdout, "%d host(s) may create meetings (%s).\n", len(hosts), o.config)
	}
	fmt.Fprintf(stdout, "Media: UDP %s", engine.UDPAddr())
	if a := engine.TCPAddr(); a != nil {
		fmt.Fprintf(stdout, ", ICE-TCP %s", a)
	}
	fmt.Fprintln(stdout)
	if turnSrv != nil {
		fmt.Fprintf(stdout, "TURN: %s\n", strings.Join(turnSrv.URLs(), " "))
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = sig.Shutdown(sctx) // tells participants, closes websockets and meetings
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	return nil
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
