package main

// `conclave privacy-report`: the record of technical and organisational measures (GDPR
// Art. 30 and 32) for the data-protection officer, written from the effective
// configuration. It reads the same flags, CONCLAVE_* variables and file as `serve`, and
// opens nothing else: no data directory, no port. Where the built-in privacy notice says
// the same thing, the report quotes the notice's item (notice.go), so the two cannot
// drift apart.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"conclave/secret"
	"conclave/signaling"
)

// badSettings is a configuration that cannot be used: it exits with 2, like a usage
// error, but with its own message.
type badSettings struct{ err error }

func (b badSettings) Error() string   { return b.err.Error() }
func (b badSettings) Unwrap() []error { return []error{errUsage, b.err} }

// reportCommand runs `conclave privacy-report [flags]`.
func reportCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			return err
		}
		return badSettings{err}
	}
	// The notice's settings are part of the configuration: a report must not describe a
	// notice the server would refuse to start with.
	if _, err := buildNotice(o.notice, factsFor(o)); err != nil {
		return badSettings{err}
	}
	_, err = io.WriteString(stdout, privacyReport(o))
	return err
}

// privacyReport is the Markdown report of o.
func privacyReport(o options) string {
	r := &reportWriter{}
	f := factsFor(o)
	r.title("Conclave: technical and organisational measures")
	r.para("Written by `conclave privacy-report` from this server's effective configuration (flags, CONCLAVE_* environment variables, " + configSource(o) + " and defaults). It describes what the software does with these settings; measures outside it (the machine, backups, who may log in, how long the system journal is kept) are the operator's to add.")

	r.section("Controller and privacy notice")
	r.item("Organisation (`-org-name`)", orUnset(o.notice.orgName))
	r.item("Contact (`-org-contact`)", orUnset(o.notice.orgContact))
	r.item("Data-protection contact (`-dpo-contact`)", orUnset(o.notice.dpoContact))
	r.item("Privacy notice link (`-privacy-url`)", orUnset(o.notice.privacyURL))
	r.item("Privacy notice text (`-privacy-file`)", orUnset(o.notice.privacyFile))
	r.item("Imprint link (`-imprint-url`)", orUnset(o.notice.imprintURL))
	if o.notice.privacyURL == "" && o.notice.privacyFile == "" {
		r.bullet("**No privacy notice of the organisation's own** (`-privacy-url`, `-privacy-file`): the built-in description below is the whole notice; it names no legal basis and no rights of the people concerned.")
	}
	r.para("The web client shows participants these settings together with the built-in description of the processing quoted in this report (at `/privacy`, from `/api/notice`; the same text, from the same settings).")
	r.quote(factProcessed, f.fact(factProcessed))

	r.section("Transport encryption")
	r.transport(o)

	r.section("End-to-end encryption")
	r.quote(factE2EE, f.fact(factE2EE))
	r.bullet("Keys are made and used only in the browsers. The meeting secret and moderator secret travel in the link's fragment (`#…`), which browsers do not send to a server; the server never holds a media, chat or name key.")
	r.bullet("What the server sees of an end-to-end encrypted meeting: encrypted media frames (only the first bytes of a video or audio frame are left clear, so the media router can find keyframes), their sizes and timing, encrypted chat and display names, key messages as opaque bytes, participant ids (random, per connection), roles, the meeting's settings, and each participant's IP address.")
	r.bullet("A host can turn end-to-end encryption off for a meeting (the meeting page says so). Media is then protected in transit by DTLS-SRTP up to the server, which forwards it without decoding or storing it; names and chat reach the server readable.")

	r.section("Who speaks")
	r.item("Speaker detection (`-speaker-detection`)", map[bool]string{true: "on", false: "off"}[o.speakers])
	r.quote(factSpeakers, f.fact(factSpeakers))
	if o.speakers {
		r.bullet("Browsers send the level of each audio packet (RFC 6464) in a header outside the encrypted payload; the server reads only that level, smooths it over about a quarter of a second and tells the meeting's members who speaks now, who speaks most, and the last four main speakers, for speaking indicators and layout. It is held in memory while the meeting runs, never written to disk or to the log, and gone when the meeting ends.")
		r.bullet("To turn it off: `-speaker-detection=false` (or `speaker-detection = false` in the configuration file, `CONCLAVE_SPEAKER_DETECTION=false`). The server then does not accept the level header, browsers do not send it, and it cannot tell who speaks; participants see no speaking indicators.")
	} else {
		r.bullet("The server does not accept the audio level header, so browsers do not send it; participants see no speaking indicators.")
	}

	r.section("What is stored, where, and for how long")
	if o.data == "" {
		r.item("Data directory", "none (`-data \"\"`): memory only. Hosts and rooms are kept in memory and lost when the server stops; nothing about people or meetings is written to disk.")
	} else {
		r.item("Data directory", fmt.Sprintf("`%s` (a bolt database; only the Conclave service account should read it)", absPath(o.data)))
	}
	r.quote(factStored, f.fact(factStored))
	r.bullet("A host: id, name, keyed hash (HMAC-SHA256) of the host key, when it was added. Kept until removed with `conclave host remove`.")
	r.bullet(fmt.Sprintf("A room: id, host id, title (ciphertext, or empty), settings, whether it is end-to-end encrypted, argon2id hash of its password (if any), keyed hash of its moderator secret and whether the server made that secret, when it was made and when it expires. An expired room is deleted; a room whose host is removed is deleted; a one-off meeting made with `POST /api/meetings` expires %s after it was made.", friendly(signaling.OneOffRoomLifetime)))
	if o.data != "" {
		r.bullet("Retired room ids: the id alone (random, nothing about people) of every room deleted, expired, rotated away or removed with its host, kept for good so that a withdrawn link never leads to a room again.")
	}
	r.bullet("Never stored: who joined, when or from where, display names, chat, media, keys, IP addresses.")
	r.quote(factHowLong, f.fact(factHowLong))
	if o.tls.acmeDomains != "" {
		r.bullet(fmt.Sprintf("Certificates and the ACME account key: `%s` (no personal data).", absPath(o.tls.acmeCache)))
	}

	r.section("Logs")
	r.item("Level (`-log-level`)", "`"+o.logLevel+"`")
	r.quote(factLogs, f.fact(factLogs))
	r.para("The log goes to standard error (under systemd: the journal); how long it is kept is set there (for example `MaxRetentionSec` in journald.conf).")

	r.section("Recording")
	r.quote(factRecording, f.fact(factRecording))
	r.para("Conclave has no recording function. Participants can still record their own screen with other software; that is outside the server.")

	r.section("External services")
	r.quote(factServices, f.fact(factServices))
	if o.tls.acmeDomains != "" {
		r.bullet(fmt.Sprintf("ACME CA `%s`: asked for certificates for %s; it learns those names and, if set, the contact address `-acme-email` (%s). Nothing about meetings.", o.tls.acmeDirectory, o.tls.acmeDomains, orUnset(o.tls.acmeEmail)))
	} else {
		r.bullet("No ACME CA: certificates are not fetched by Conclave (`-acme-domain` is not set).")
	}
	if o.turn.enabled() {
		r.bullet("TURN: embedded in this server (not a third party); see Transport encryption.")
	} else {
		r.bullet("TURN: off. No STUN or TURN server of any third party is given to browsers.")
	}

	r.section("Access control")
	r.quote(factAccounts, f.fact(factAccounts))
	r.bullet("Creating meetings and rooms needs a host key; the server keeps only its keyed hash (HMAC-SHA256). Hosts are managed with `conclave host`.")
	switch o.oneTimeKey {
	case "print":
		r.bullet("With no hosts, a one-time host key is printed at start (`-one-time-key print`), valid until the server stops; it may end up in a log or journal.")
	case "off":
		r.bullet("With no hosts, no one-time host key is made (`-one-time-key off`).")
	default:
		r.bullet("With no hosts, a one-time host key is printed only when standard output is a terminal, never into a journal (`-one-time-key auto`).")
	}
	r.bullet(fmt.Sprintf("Meeting passwords are stored as argon2id hashes (%d MiB, %d passes, %d thread); moderator secrets (random, at least 128 bits) as keyed hashes. All are compared in constant time.", secret.DefaultParams.MemoryKiB/1024, secret.DefaultParams.Time, secret.DefaultParams.Threads))
	r.bullet(fmt.Sprintf("Waiting room: on by default in every meeting (its host or a moderator may turn it off); while on, a moderator admits each person. A knock expires after %s; at most %d wait per meeting, %d per address.", friendly(o.knockTimeout), o.maxWaiting, o.limits.maxWaitingPerAddr))
	limits := fmt.Sprintf("Limits: %d members per meeting, %d websockets on the server, %d per address (IPv6: per /64)", o.limits.maxParticipants, o.limits.maxConns, o.limits.maxConnsPerAddr)
	if o.behindProxy {
		limits += fmt.Sprintf("; %d connections to the web port", 4*o.limits.maxConns)
	} else {
		limits += "; four times as many connections to the web port"
	}
	if o.mediaTCP != "" {
		limits += ", twice as many ICE-TCP connections"
	}
	r.bullet(limits + ".")

	r.section("Throttling of guessed secrets")
	r.throttle(o)

	r.section("Metrics")
	r.metrics(o)
	return r.b.String()
}

// transport describes TLS, HSTS, the proxy, media and TURN.
func (r *reportWriter) transport(o options) {
	switch {
	case o.tls.certFile != "":
		r.bullet(fmt.Sprintf("HTTPS on `%s` with the certificate files `%s` and `%s` (TLS 1.2 or newer; a renewed file is used without a restart).", o.tls.httpsAddr, absPath(o.tls.certFile), absPath(o.tls.keyFile)))
	case o.tls.acmeDomains != "":
		r.bullet(fmt.Sprintf("HTTPS on `%s` with certificates obtained and renewed automatically (ACME) for %s (TLS 1.2 or newer).", o.tls.httpsAddr, o.tls.acmeDomains))
	case o.behindProxy:
		r.bullet(fmt.Sprintf("Conclave serves plain HTTP on `%s` behind a reverse proxy (`-behind-proxy`), which must terminate TLS and set HSTS. Client addresses are taken from X-Forwarded-For only when it comes from %s.", o.httpAddr, o.trustedProxies))
	default:
		r.bullet(fmt.Sprintf("**No TLS**: Conclave serves plain HTTP on `%s` and `-behind-proxy` is not set. Use this only on localhost, or put a TLS-terminating reverse proxy in front and set `-behind-proxy`; browsers allow camera, microphone and end-to-end encryption only on HTTPS or localhost.", o.httpAddr))
	}
	if o.tls.enabled() {
		r.bullet(fmt.Sprintf("HSTS: `Strict-Transport-Security: %s` (%s, no subdomains).", hstsValue, friendlyAge(hstsValue)))
		if o.httpAddr != "" {
			r.bullet(fmt.Sprintf("Plain HTTP on `%s` only redirects to HTTPS%s.", o.httpAddr, map[bool]string{true: " and answers the CA's HTTP-01 challenges", false: ""}[o.tls.acmeDomains != ""]))
		}
		if o.behindProxy {
			r.bullet(fmt.Sprintf("Client addresses are taken from X-Forwarded-For only when it comes from %s (`-behind-proxy`).", o.trustedProxies))
		}
	}
	r.hostNames(o)
	media := fmt.Sprintf("Media: WebRTC, always encrypted in transit with DTLS-SRTP, on UDP `%s`", o.mediaUDP)
	if o.mediaTCP != "" {
		media += fmt.Sprintf(" and ICE-TCP `%s`", o.mediaTCP)
	}
	r.bullet(media + ".")
	if o.turn.enabled() {
		var ls []string
		for _, l := range []struct{ name, addr string }{{"UDP", o.turn.udp}, {"TCP", o.turn.tcp}, {"TLS", o.turn.tls}} {
			if l.addr != "" {
				ls = append(ls, fmt.Sprintf("%s `%s`", l.name, l.addr))
			}
		}
		r.bullet(fmt.Sprintf("TURN: embedded, on %s. Its relays reach only this server's media port; credentials are handed out per participant in the signaling and open a relay for %s; they are revoked, and their relays closed, when the participant leaves, is removed or sent back to the waiting room, or the meeting ends, and those of a connection a resume replaced. The media inside stays DTLS-SRTP (and end-to-end) encrypted.", strings.Join(ls, ", "), friendly(o.turn.ttl)))
	} else {
		r.bullet("TURN: off (`-turn-udp`, `-turn-tcp`, `-turn-tls` unset).")
	}
}

// hostNames says which Host names the web port serves (hostcheck.go), from the
// settings alone: the certificate's names are not read here.
func (r *reportWriter) hostNames(o options) {
	p := newHostPolicy(o, nil)
	if !p.enforce {
		r.bullet("**Host names are not checked** (`-behind-proxy` without `-server-name`): a web page on any name that resolves to the proxy can send requests to this server from a visitor's browser (DNS rebinding). Set `-server-name` to the name(s) the proxy serves.")
		return
	}
	var names []string
	for _, n := range slices.Sorted(maps.Keys(p.names)) {
		names = append(names, "`"+n+"`")
	}
	if o.tls.certFile != "" {
		names = append(names, "the names of the certificate (`-tls-cert`)")
	}
	served := "only localhost and IP addresses"
	if len(names) > 0 {
		served = strings.Join(names, ", ") + ", localhost and IP addresses"
	}
	r.bullet("Host names: the web port serves " + served + "; a request naming any other host is refused (421) before it reaches the web client, the API or the signaling, so a web page on another name cannot reach the server through DNS rebinding (`-server-name` adds names).")
}

// throttle states the per-address budget, computed from the secret package's rule.
func (r *reportWriter) throttle(o options) {
	var waits time.Duration
	for n := 1; n < secret.LockoutAfter; n++ {
		waits += secret.DelayAfter(n)
	}
	firstHour, perHourAfter := guessesIn(time.Hour), int(time.Hour/secret.LockoutFor)
	where := "the connecting address"
	if o.behindProxy {
		where = "the address the trusted proxy reports in X-Forwarded-For"
	}
	r.bullet(fmt.Sprintf("Wrong meeting passwords, moderator secrets and host keys share one budget per address (%s; an IPv4 address, one that comes through a translator's 64:ff9b::/96 too, or an IPv6 /64), across every meeting; the /64s of one IPv6 /48 also share a budget %d times as large, and have at most %d guesses checked at once.", where, secret.SiteFactor, secret.SiteFactor))
	r.bullet(fmt.Sprintf("%d wrong guesses are free; each further one doubles the wait before the next, from %s up to %s; after %d wrong guesses in a row the address is locked out for %s, again after every further wrong guess.", secret.FreeFailures, seconds(secret.BaseDelay), seconds(secret.MaxDelay), secret.LockoutAfter, friendly(secret.LockoutFor)))
	r.bullet(fmt.Sprintf("So the first %d wrong guesses take %s of waits, and one address gets at most %d guesses in the first hour and %d an hour after that.", secret.LockoutAfter, seconds(waits), firstHour, perHourAfter))
	r.bullet(fmt.Sprintf("The counters are in memory only, per address group, and are forgotten after %s idle (at most %d groups at once). A right secret forgives the wrong guesses at that same secret only. No address can delay or refuse another's right password, but for the /64s of one IPv6 /48 through their shared budget.", friendly(secret.ForgetAfter), secret.MaxRecords))
}

// seconds writes d as PROTOCOL.md does: "0.5 s", "331.5 s".
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s" }

// guessesIn is how many guesses one address can make in d, starting with a clean record.
func guessesIn(d time.Duration) int {
	var t time.Duration
	n := 0
	for t < d {
		n++
		t += secret.DelayAfter(n)
	}
	return n
}

// metrics describes the operator's listener.
func (r *reportWriter) metrics(o options) {
	if o.metricsAddr == "" || o.metricsAddr == "off" {
		r.bullet("Off (`-metrics` is empty): no /metrics or /healthz listener.")
		return
	}
	where := "a loopback address, reachable only from this machine"
	if host, _, err := net.SplitHostPort(o.metricsAddr); err == nil && !isLoopbackHost(host) {
		where = "**not only loopback**: keep the port closed to the public with a firewall"
	}
	r.bullet(fmt.Sprintf("/metrics (Prometheus) and /healthz on `%s`, separate from the public listener: %s. Served only for an IP address, localhost or this server's names as host (no page re-pointed at it by DNS reads it).", o.metricsAddr, where))
	turnNote := ""
	if o.turn.enabled() {
		turnNote = " and the TURN relays open"
	}
	r.bullet("Counts only (meetings, participants, websockets, refusals, wrong guesses, media packets" + turnNote + "): no label holds a name, address, meeting or room id.")
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// configSource names the configuration file read, if any.
func configSource(o options) string {
	if o.config == "" {
		return "no configuration file"
	}
	return fmt.Sprintf("the configuration file `%s` if it exists", absPath(o.config))
}

func orUnset(v string) string {
	if v = strings.TrimSpace(v); v == "" {
		return "not set"
	}
	return v
}

// absPath is a path as the operator finds it on the machine; relative paths are taken
// from the current directory, as the server would.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// friendlyAge writes an HSTS max-age as people say it.
func friendlyAge(hsts string) string {
	var secs int64
	if _, err := fmt.Sscanf(hsts, "max-age=%d", &secs); err != nil {
		return hsts
	}
	d := time.Duration(secs) * time.Second
	if d%(365*24*time.Hour) == 0 {
		return plural(int(d/(365*24*time.Hour)), "year")
	}
	return friendly(d)
}

// reportWriter writes Markdown.
type reportWriter struct{ b strings.Builder }

func (r *reportWriter) title(s string)   { fmt.Fprintf(&r.b, "# %s\n", s) }
func (r *reportWriter) section(s string) { r.blank(); fmt.Fprintf(&r.b, "## %s\n\n", s) }
func (r *reportWriter) para(s string)    { r.blank(); fmt.Fprintf(&r.b, "%s\n\n", s) }

// blank ends the text so far with exactly one empty line.
func (r *reportWriter) blank() {
	if !strings.HasSuffix(r.b.String(), "\n\n") {
		r.b.WriteString("\n")
	}
}
func (r *reportWriter) bullet(s string)  { fmt.Fprintf(&r.b, "- %s\n", s) }
func (r *reportWriter) item(k, v string) { fmt.Fprintf(&r.b, "- %s: %s\n", k, v) }

// quote gives the built-in notice's item, as participants read it.
func (r *reportWriter) quote(title, text string) {
	fmt.Fprintf(&r.b, "- Privacy notice, \"%s\": %s\n", title, text)
}
