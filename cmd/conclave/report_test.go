package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// report runs `conclave privacy-report args...` with env and returns its Markdown.
func report(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := reportCommand(args, envOf(env), &out, &errOut); err != nil {
		t.Fatalf("privacy-report %v: %v (stderr %q)", args, err, errOut.String())
	}
	return out.String()
}

// check asserts that the report holds every want and none of never.
func check(t *testing.T, name, text string, want, never []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: the report lacks %q", name, w)
		}
	}
	for _, n := range never {
		if strings.Contains(text, n) {
			t.Errorf("%s: the report says %q, which contradicts the configuration", name, n)
		}
	}
	if t.Failed() {
		t.Logf("%s report:\n%s", name, text)
	}
}

const memoryOnly = "Data directory: none (`-data \"\"`): memory only"

// TestPrivacyReportDefaults: with no settings the report describes the defaults: plain
// HTTP without a proxy (flagged), the default data directory, TURN and ACME off, info
// logs, metrics on loopback, and the throttle's numbers.
func TestPrivacyReportDefaults(t *testing.T) {
	text := report(t, nil, "-config", "")
	f := factsFor(defaultOptions(t))
	check(t, "defaults", text, []string{
		"# Conclave: technical and organisational measures",
		"**No TLS**: Conclave serves plain HTTP on `localhost:8080`",
		"Data directory: `" + absPath(defaultDataDir) + "`",
		f.fact(factStored), "On disk, only the hosts",
		"TURN: off",
		"No ACME CA",
		"Level (`-log-level`): `info`",
		"The server's log contains no names, addresses",
		"Nothing is recorded",
		"Organisation (`-org-name`): not set",
		"**No privacy notice of the organisation's own**",
		"Data-protection contact (`-dpo-contact`): not set",
		"on `localhost:9464`, separate from the public listener: a loopback address",
		// PROTOCOL.md's numbers, computed here from secret's constants.
		"first 20 wrong guesses take 331.5 s of waits", "at most 23 guesses in the first hour and 4 an hour after that",
		"from 0.5 s up to 30 s", "locked out for 15 minutes", "forgotten after 24 hours idle",
		"A knock expires after 15 minutes; at most 100 wait per meeting, 40 per address.",
		"100 members per meeting, 10000 websockets on the server, 200 per address (IPv6: per /64); four times as many connections to the web port, twice as many ICE-TCP connections.",
		"argon2id hashes (19 MiB, 2 passes, 1 thread)",
		"expires 24 hours after it was made",
		"`-one-time-key auto`",
	}, []string{
		memoryOnly, "HSTS", "HTTPS on", "TURN: embedded", "ACME CA `", "debug level", "X-Forwarded-For only when",
	})
}

// TestPrivacyReportTLSDataTURN: certificate files, a data directory, TURN on and no
// metrics, set by flags, a file and the environment; nothing is opened or bound.
func TestPrivacyReportTLSDataTURN(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data") // does not exist: the report must not make it
	cfg := writeFile(t, "conclave.toml", "org-name = \"Example School\"\ntls-cert = \"/etc/conclave/fullchain.pem\"\ntls-key = \"/etc/conclave/privkey.pem\"\nmetrics = \"\"\n")
	// The HTTP port is taken: a report that bound it would fail.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	env := map[string]string{"CONCLAVE_DPO_CONTACT": "dpo@example.org", "CONCLAVE_DATA": data, "CONCLAVE_PRIVACY_URL": "https://example.org/privacy"}
	text := report(t, env, "-config", cfg, "-http", ln.Addr().String(), "-https", ln.Addr().String(),
		"-turn-udp", ":3478", "-turn-tls", ":5349", "-turn-cert", "/etc/c.pem", "-turn-key", "/etc/k.pem", "-turn-public-ip", "192.0.2.1", "-turn-ttl", "5m")
	check(t, "tls", text, []string{
		"HTTPS on `" + ln.Addr().String() + "` with the certificate files `/etc/conclave/fullchain.pem` and `/etc/conclave/privkey.pem`",
		"HSTS: `Strict-Transport-Security: " + hstsValue + "` (2 years, no subdomains)",
		"only redirects to HTTPS.",
		"Data directory: `" + data + "`",
		"On disk, only the hosts",
		"TURN: embedded, on UDP `:3478`, TLS `:5349`", "open a relay for 5 minutes",
		"TURN: embedded in this server",
		"Organisation (`-org-name`): Example School",
		"Data-protection contact (`-dpo-contact`): dpo@example.org",
		"Privacy notice link (`-privacy-url`): https://example.org/privacy",
		"the configuration file `" + cfg + "`",
		"## Metrics\n\n- Off",
	}, []string{memoryOnly, "**No TLS**", "TURN: off", "localhost:9464", "HTTP-01", "No privacy notice of the organisation's own"})
	for _, p := range []string{data, filepath.Join(data, "acme")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("privacy-report made %s: %v", p, err)
		}
	}
}

// TestPrivacyReportMemoryDebugACME: -data "" says memory only (and only then), debug
// logging is reported as it is, and ACME names the CA and where the certificates are.
func TestPrivacyReportMemoryDebugACME(t *testing.T) {
	text := report(t, map[string]string{"CONCLAVE_LOG_LEVEL": "debug"}, "-config", "", "-data", "",
		"-acme-domain", "meet.example.org", "-acme-email", "ops@example.org", "-behind-proxy", "-metrics", "0.0.0.0:9464")
	f := processingFacts{memoryOnly: true}
	check(t, "memory", text, []string{
		memoryOnly,
		f.fact(factStored),
		"Level (`-log-level`): `debug`",
		"may contain IP addresses and participant ids",
		"certificates obtained and renewed automatically (ACME) for meet.example.org",
		"answers the CA's HTTP-01 challenges",
		"ACME CA `https://acme-v02.api.letsencrypt.org/directory`", "ops@example.org",
		"Certificates and the ACME account key: `" + absPath(defaultACMECache) + "`",
		"X-Forwarded-For only when it comes from 127.0.0.0/8,::1/128",
		"the address the trusted proxy reports",
		"**not only loopback**",
	}, []string{"On disk, only the hosts", "conclave-data", "No ACME CA", "The server's log contains no names"})
}

// TestReportQuotesTheNotice: every item of the built-in notice is quoted word for word,
// so the report and what participants read cannot disagree.
func TestReportQuotesTheNotice(t *testing.T) {
	for _, data := range []string{"", "d"} {
		o := defaultOptions(t)
		o.data = data
		text, f := privacyReport(o), factsFor(o)
		for _, it := range f.items() {
			if f.fact(it.Title) == "" || !strings.Contains(text, `"`+it.Title+`": `+it.Text) {
				t.Errorf("-data %q: the report does not quote the notice's %q", data, it.Title)
			}
		}
	}
}

// TestPrivacyReportBadConfig: a setting that would stop the server stops the report,
// through the real binary, with exit code 2 and the reason naming the key.
func TestPrivacyReportBadConfig(t *testing.T) {
	bad := writeFile(t, "bad.toml", "max_conns = 5\n")
	code, stdout, stderr := runMain(t, "privacy-report", "-config", bad)
	if code != 2 || stdout != "" || !strings.Contains(stderr, `key "max_conns": unknown key; did you mean "max-conns"?`) {
		t.Errorf("bad key: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "privacy-report", "-privacy-url", "javascript:alert(1)")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "-privacy-url") {
		t.Errorf("bad notice: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "privacy-report", "-no-such-flag")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "no-such-flag") {
		t.Errorf("bad flag: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runMain(t, "privacy-report")
	if code != 0 || !strings.HasPrefix(stdout, "# Conclave: technical and organisational measures\n") {
		t.Errorf("good: exit %d, stdout %q", code, stdout)
	}
	// Through the function: the error is a usage error that wraps the ConfigError.
	err := reportCommand([]string{"-config", bad}, envOf(nil), io.Discard, io.Discard)
	if _, ok := errors.AsType[*ConfigError](err); !ok || !errors.Is(err, errUsage) {
		t.Errorf("error %v (%T)", err, err)
	}
}

// TestReportSaysWhoSpeaks: the report and the notice say that the server learns who
// speaks when, keeps it in memory only, and how to turn it off; and with it off, that it
// does not learn it. The flag reaches the SFU's setting by way of the options.
func TestReportSaysWhoSpeaks(t *testing.T) {
	on := defaultOptions(t)
	if !on.speakers {
		t.Fatal("speaker detection is off by default")
	}
	text := privacyReport(on)
	for _, want := range []string{"Speaker detection (`-speaker-detection`): on", "learns who speaks when", "in memory for the running meeting only", "never logs or stores it", "`-speaker-detection=false`"} {
		if !strings.Contains(text, want) {
			t.Errorf("report with speaker detection on lacks %q", want)
		}
	}
	off, err := parseOptions([]string{"-config", "", "-speaker-detection=false"}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	text = privacyReport(off)
	for _, want := range []string{"Speaker detection (`-speaker-detection`): off", "The server does not learn who speaks"} {
		if !strings.Contains(text, want) {
			t.Errorf("report with speaker detection off lacks %q", want)
		}
	}
	if strings.Contains(text, "learns who speaks when") {
		t.Error("report with speaker detection off says the server learns who speaks")
	}
	for _, o := range []options{on, off} {
		for _, it := range factsFor(o).items() {
			if it.Title == factSpeakers && it.Fact != map[bool]string{true: "speakers", false: "speakers-off"}[o.speakers] {
				t.Errorf("speakers %v: fact %q", o.speakers, it.Fact)
			}
		}
	}
}
