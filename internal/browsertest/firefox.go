package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// firefoxPref is a preference for the profile's user.js.
type firefoxPref struct {
	name  string
	value any
}

// firefoxPrefs returns the preferences of every profile.
func firefoxPrefs() []firefoxPref {
	return []firefoxPref{
		// Media: fake camera, microphone (and screen), no prompts, autoplay.
		{"media.navigator.streams.fake", true},
		{"media.navigator.permission.disabled", true},
		{"media.autoplay.default", 0},
		{"media.autoplay.blocking_policy", 0},
		{"media.autoplay.block-webaudio", false},
		// enumerateDevices answers only in the window that has focus, and of the
		// windows of parallel tests in one Firefox only one has it (the last
		// opened; when it closes, none may): without this a device list waits
		// for the life of the test.
		{"media.devices.unfocused.enabled", true},
		// WebRTC against a server on 127.0.0.1: loopback candidates allowed and
		// real host addresses instead of mDNS .local names.
		{"media.peerconnection.ice.loopback", true},
		{"media.peerconnection.ice.obfuscate_host_addresses", false},

		// Background tabs keep their timers at full speed.
		{"dom.min_background_timeout_value", 4},
		{"dom.timeout.enable_budget_timer_throttling", false},

		// No first-run pages, prompts or session restore.
		{"browser.shell.checkDefaultBrowser", false},
		{"browser.startup.page", 0},
		{"browser.startup.homepage", "about:blank"},
		{"browser.startup.homepage_override.mstone", "ignore"},
		{"browser.aboutwelcome.enabled", false},
		{"browser.newtabpage.enabled", false},
		{"browser.tabs.warnOnClose", false},
		{"browser.sessionstore.resume_from_crash", false},
		{"toolkit.startup.max_resumed_crashes", -1},
		{"dom.disable_open_during_load", false},

		// Updates.
		{"app.update.enabled", false},
		{"app.update.auto", false},
		{"app.update.disabledForTesting", true},
		{"app.update.checkInstallTime", false},
		{"extensions.update.enabled", false},
		{"extensions.update.autoUpdateDefault", false},
		{"extensions.getAddons.cache.enabled", false},
		{"extensions.blocklist.enabled", false},
		{"extensions.systemAddon.update.enabled", false},
		{"browser.search.update", false},

		// Telemetry and studies.
		{"datareporting.healthreport.uploadEnabled", false},
		{"datareporting.policy.dataSubmissionEnabled", false},
		{"datareporting.policy.dataSubmissionPolicyBypassNotification", true},
		{"datareporting.usage.uploadEnabled", false},
		{"toolkit.telemetry.enabled", false},
		{"toolkit.telemetry.unified", false},
		{"toolkit.telemetry.server", ""},
		{"toolkit.telemetry.archive.enabled", false},
		{"toolkit.telemetry.newProfilePing.enabled", false},
		{"toolkit.telemetry.shutdownPingSender.enabled", false},
		{"toolkit.telemetry.updatePing.enabled", false},
		{"toolkit.telemetry.bhrPing.enabled", false},
		{"toolkit.telemetry.firstShutdownPing.enabled", false},
		{"app.normandy.enabled", false},
		{"app.shield.optoutstudies.enabled", false},

		// Safe Browsing.
		{"browser.safebrowsing.malware.enabled", false},
		{"browser.safebrowsing.phishing.enabled", false},
		{"browser.safebrowsing.downloads.enabled", false},
		{"browser.safebrowsing.downloads.remote.enabled", false},
		{"browser.safebrowsing.blockedURIs.enabled", false},
		{"browser.safebrowsing.update.enabled", false},

		// Other background network traffic.
		{"network.captive-portal-service.enabled", false},
		{"network.connectivity-service.enabled", false},
		{"network.trr.mode", 5}, // no DNS over HTTPS
		{"network.dns.disablePrefetch", true},
		{"network.prefetch-next", false},
		{"network.http.speculative-parallel-limit", 0},
		{"browser.region.network.url", ""},
		{"browser.region.update.enabled", false},
		{"browser.topsites.contile.enabled", false},
		{"services.settings.server", "data:,#remote-settings-disabled"},
		{"geo.provider.network.url", ""},
		{"identity.fxaccounts.enabled", false},
		{"messaging-system.rsexperimentloader.enabled", false},
	}
}

// userJS renders firefoxPrefs (and those o asks for) as a user.js file.
func userJS(o Options) string {
	var b strings.Builder
	prefs := firefoxPrefs()
	if o.WebGL {
		// Mesa's software renderer is enough for the tests: never let a
		// blocklist or a "slow GPU" verdict take WebGL away again.
		prefs = append(prefs,
			firefoxPref{"webgl.force-enabled", true},
			firefoxPref{"webgl.disable-fail-if-major-performance-caveat", true})
	}
	for _, p := range prefs {
		v, _ := json.Marshal(p.value)
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", p.name, v)
	}
	return b.String()
}

// bidiURL returns the address in Firefox's "WebDriver BiDi listening on
// ws://127.0.0.1:PORT" line, or "".
func bidiURL(line string) string {
	_, rest, ok := strings.Cut(line, "WebDriver BiDi listening on ")
	if !ok {
		return ""
	}
	url, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	if !strings.HasPrefix(url, "ws://") {
		return ""
	}
	return url
}

type firefoxBrowser struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // valid after exited
	profile string
	output  *tailBuffer
	display *xvfb  // the virtual display of a browser with WebGL, or nil
	sound   *pulse // its silent sound output, or nil without pulseaudio
	conn    *bidiConn

	closeOnce sync.Once
	closeErr  error
}

func launchFirefox(path string, o Options) (_ Browser, err error) {
	profile, err := os.MkdirTemp("", "conclave-firefox-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			removeAllRetry(profile)
		}
	}()
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(userJS(o)), 0o644); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), launchTimeout)
	defer cancel()

	b := &firefoxBrowser{profile: profile, output: newTailBuffer(), exited: make(chan struct{})}
	args := []string{"--no-remote", "--profile", profile, "--remote-debugging-port=0"}
	env := []string{"MOZ_CRASHREPORTER_DISABLE=1", "MOZ_DISABLE_AUTO_SAFE_MODE=1"}
	// A silent sound output so that WebAudio runs; without pulseaudio Firefox
	// still runs, but plays nothing (see NeedsSound).
	if pa, perr := findPulse(); perr == nil {
		if b.sound, err = startPulse(ctx, pa, filepath.Join(profile, "pulse")); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				b.sound.stop()
			}
		}()
		env = append(env, b.sound.env()...)
	}
	if o.WebGL {
		// Headless Firefox has no WebGL: a window on a virtual display of its own.
		if b.display, err = startXvfb(ctx); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				b.display.stop()
			}
		}()
		env = append(env, "DISPLAY="+b.display.display, "MOZ_ENABLE_WAYLAND=0")
	} else {
		args = append([]string{"--headless"}, args...)
		env = append(env, "MOZ_HEADLESS=1")
	}
	b.cmd = exec.Command(path, args...)
	b.cmd.Env = append(withoutDisplay(os.Environ()), env...)
	// Its own group, so that Close can kill the content processes too; it dies with
	// the test binary (see startLocked).
	inOwnGroup(b.cmd)
	var w io.Writer = b.output
	if os.Getenv("CONCLAVE_BROWSER_LOG") != "" {
		w = io.MultiWriter(b.output, os.Stderr)
	}
	// One pipe for stdout and stderr, read until every process holding it
	// (content processes too) has gone; cmd.Wait does not wait for it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	b.cmd.Stdout, b.cmd.Stderr = pw, pw
	err = b.startLocked()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}

	// Read the output until the BiDi address shows up, then keep draining it.
	urls := make(chan string, 1)
	go func() {
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(w, line)
			if url := bidiURL(line); url != "" {
				select {
				case urls <- url:
				default:
				}
			}
		}
		io.Copy(w, pr)
	}()

	fail := func(err error) (Browser, error) {
		b.kill()
		if b.conn != nil {
			b.conn.close()
		}
		return nil, fmt.Errorf("starting %s: %w%s", path, err, b.output.describe())
	}
	var url string
	select {
	case url = <-urls:
	case <-b.exited:
		return fail(fmt.Errorf("exited early: %v", b.waitErr))
	case <-ctx.Done():
		return fail(errors.New("timed out waiting for \"WebDriver BiDi listening on\""))
	}
	b.conn, err = dialBiDi(ctx, strings.TrimSuffix(url, "/")+"/session")
	if err != nil {
		return fail(fmt.Errorf("connecting to %s: %w", url, err))
	}
	// Any certificate is accepted, as Chromium's --ignore-certificate-errors does
	// (doc.go): a test's HTTPS server on 127.0.0.1 has a certificate of its own.
	caps := map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true}}
	if err := b.conn.call(ctx, "session.new", map[string]any{"capabilities": caps}, nil); err != nil {
		return fail(err)
	}
	return b, nil
}

// withoutDisplay drops the variables that point Firefox at a display or make it
// headless: launchFirefox decides those.
func withoutDisplay(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DISPLAY", "WAYLAND_DISPLAY", "MOZ_HEADLESS":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// startLocked starts the process from a goroutine that stays locked to its
// OS thread until the process has exited: Pdeathsig fires when the thread
// that started the child ends, not when the Go process ends.
func (b *firefoxBrowser) startLocked() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := b.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		b.waitErr = b.cmd.Wait()
		close(b.exited)
	}()
	return <-started
}

// kill kills the process group and waits for the main process.
func (b *firefoxBrowser) kill() {
	if b.cmd.Process != nil {
		killGroup(b.cmd)
		<-b.exited
	}
}

func (b *firefoxBrowser) Name() string { return KindFirefox.String() }

func (b *firefoxBrowser) Close() error {
	b.closeOnce.Do(func() {
		if b.conn != nil {
			// Firefox may drop the connection before it answers, so
			// wait for the exit whatever the answer.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			b.conn.call(ctx, "browser.close", nil, nil)
			cancel()
			select {
			case <-b.exited:
			case <-time.After(5 * time.Second):
			}
			b.conn.close()
		}
		// Content processes can outlive the main one: kill the group.
		b.kill()
		b.display.stop()
		b.sound.stop()
		b.closeErr = removeAllRetry(b.profile)
	})
	return b.closeErr
}

func (b *firefoxBrowser) NewTab(ctx context.Context) (Tab, error) {
	return b.openTab(ctx, "")
}

type firefoxTab struct {
	browser     *firefoxBrowser
	id          string
	userContext string

	mu     sync.Mutex
	closed bool
}

func (t *firefoxTab) gone() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed || t.browser.conn.closed()
}

func (t *firefoxTab) Navigate(ctx context.Context, url string) error {
	if t.gone() {
		return ErrClosed
	}
	err := t.browser.conn.call(ctx, "browsingContext.navigate", map[string]any{
		"context": t.id, "url": url, "wait": "complete",
	}, nil)
	if err != nil {
		return fmt.Errorf("navigating to %s: %w", url, err)
	}
	return nil
}

func (t *firefoxTab) evalString(ctx context.Context, expr string) (string, error) {
	if t.gone() {
		return "", ErrClosed
	}
	var r bidiEvaluateResult
	err := t.browser.conn.call(ctx, "script.evaluate", map[string]any{
		"expression":      expr,
		"target":          map[string]any{"context": t.id},
		"awaitPromise":    true,
		"resultOwnership": "none",
		// Counts as a click for APIs that need user activation.
		"userActivation": true,
	}, &r)
	if err != nil {
		return "", err
	}
	if r.Type == "exception" && r.ExceptionDetails != nil {
		return "", firefoxException(r.ExceptionDetails)
	}
	if r.Result.Type != "string" {
		return "", fmt.Errorf("unexpected script.evaluate result %+v", r)
	}
	var s string
	err = json.Unmarshal(r.Result.Value, &s)
	return s, err
}

func firefoxException(d *bidiExcDetails) *JSError {
	e := &JSError{Message: d.Text}
	var stack []string
	for _, f := range d.StackTrace.CallFrames {
		stack = append(stack, fmt.Sprintf("%s@%s:%d:%d", f.FunctionName, f.URL, f.LineNumber+1, f.ColumnNumber+1))
	}
	e.Stack = strings.Join(stack, "\n")
	return e
}

func (t *firefoxTab) Eval(ctx context.Context, js string, out any) error {
	return evalJSON(ctx, t, js, out)
}

func (t *firefoxTab) WaitFor(ctx context.Context, js string) error {
	return waitFor(ctx, t, js)
}

func (t *firefoxTab) onNewDocument(ctx context.Context, js string) error {
	if t.gone() {
		return ErrClosed
	}
	return t.browser.conn.call(ctx, "script.addPreloadScript", map[string]any{
		"functionDeclaration": "() => {\n" + js + "\n}",
		"contexts":            []string{t.id},
	}, nil)
}

func (t *firefoxTab) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	if t.browser.conn.closed() {
		return nil
	}
	if t.userContext != "" {
		// Removing the user context closes its window too.
		return t.browser.removeUserContext(t.userContext)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return t.browser.conn.call(ctx, "browsingContext.close", map[string]any{"context": t.id}, nil)
}
