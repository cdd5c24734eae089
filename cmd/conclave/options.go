package main

import (
	"conclave/lobby"
	"conclave/signaling"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"
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

// oneTimeKeyModes are the values of -one-time-key.
var oneTimeKeyModes = []string{"auto", "print", "off"}

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
	fs.IntVar(&o.maxWaiting, "max-waiting", 100, "most people waiting in one meeting's waiting room at once, at most 10000 (what a moderator's page keeps of a list); unset: -max-participants, at least 100")
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
	// A waiting room is also bounded by what the moderators' pages keep of a list
	// (lobby.MaxWaitingCeiling): a larger one would hide knockers from them.
	if o.maxWaiting > lobby.MaxWaitingCeiling {
		return o, s.errorFor("max-waiting", fmt.Errorf("must be at most %d, not %d", lobby.MaxWaitingCeiling, o.maxWaiting))
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
		o.maxWaiting = min(max(o.maxWaiting, o.limits.maxParticipants), lobby.MaxWaitingCeiling)
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

// printsOneTimeKey says whether a server without hosts makes a one-time key: always
// with print, never with off, and with auto only when it goes to a terminal, so that
// a service's journal never holds a working key.
func (o options) printsOneTimeKey() bool {
	return o.oneTimeKey == "print" || (o.oneTimeKey == "auto" && o.stdoutTTY)
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
