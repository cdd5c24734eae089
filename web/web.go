// Package web serves Conclave's browser client: the landing page, the meeting
// page and their static assets, all embedded in the binary so that a browser
// never loads anything from another origin.
//
// The package imports only the standard library. The server mounts Handler at
// "/" and at NoticePath next to its own routes (/ws, /api/...).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// testFS holds the browser tests' hooks (frame hashes, raw key export). They are
// served only with Options.TestHooks; no production page or script refers to them.
//
//go:embed testhooks
var testFS embed.FS

// Options configures Handler. The zero value is the production client.
type Options struct {
	// TestHooks also serves the test-only modules of web/testhooks/ under
	// /static/test/ (hooks.js, e2ee-worker.js). Only the browser tests set it;
	// cmd/conclave never does, so a production server answers them with 404.
	TestHooks bool
	// Notice is the operator's privacy notice, served at GET /api/notice.
	Notice Notice
}

// NoticePath is where Handler serves the privacy notice as JSON. It is under /api/,
// whose other paths the signaling server answers (signaling.Server.Register: a JSON
// 404): mount Handler at this path as well as at "/".
const NoticePath = "/api/notice"

// ContentSecurityPolicy is sent with every response of Handler.
//
// 'wasm-unsafe-eval' lets the page compile WebAssembly, which the background-blur
// runtime (static/vendor/selfie-segmentation, served from here) is. It allows
// WebAssembly.instantiate only: eval, new Function and inline script stay blocked.
//
// worker-src 'self': the page's workers are scripts of this server (the E2EE worker,
// blur's ticker), made from a path below /static/ (script-urls.js); neither the page nor
// the vendored blur runtime makes a worker of a blob: URL (its blob: URLs go to an image
// or an audio element, img-src and media-src).
//
// Trusted Types: a string given to a sink that makes markup or script (innerHTML,
// insertAdjacentHTML, DOMParser, a <script>'s src, new Worker, …) is refused, so a name
// or a chat message can never become markup or script, even by a future mistake. The
// page builds its elements itself and needs no HTML policy; its one policy,
// "conclave-script-url" (static/js/script-urls.js), makes script URLs of paths below
// /static/ only, and no "default" policy exists to let a string through.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; " +
	"worker-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; " +
	"form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types " + ScriptURLPolicy

// ScriptURLPolicy is the name of the page's one Trusted Types policy, made by
// static/js/script-urls.js (SCRIPT_URL_POLICY).
const ScriptURLPolicy = "conclave-script-url"

// securityHeaders are set on every response, including errors.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", ContentSecurityPolicy},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"X-Frame-Options", "DENY"},
}

// contentTypes is fixed here rather than taken from the mime package, whose
// table depends on the host's /etc/mime.types.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
	".wasm":  "application/wasm",
	// The background-blur model and MediaPipe graph: opaque bytes the runtime fetches.
	".tflite":   "application/octet-stream",
	".binarypb": "application/octet-stream",
}

// asset is one file served. An embedded file (fsys and path) is read from the
// binary's read-only data at each request: reading the files into the heap at start
// would keep a copy of all of them (7 MB, most of it the blur runtime's WebAssembly)
// for the server's life, and twice that in the heap the collector lets grow. A body
// made at start (the notice, the test pages' meeting page) is kept in body.
type asset struct {
	fsys        fs.FS
	path        string
	body        []byte // when fsys is nil
	contentType string
	etag        string
}

// open returns a reader of a's content from its start.
func (a *asset) open() (io.ReadSeeker, func(), error) {
	if a.fsys == nil {
		return bytes.NewReader(a.body), func() {}, nil
	}
	f, err := a.fsys.Open(a.path)
	if err != nil {
		return nil, nil, err
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		_ = f.Close()
		return nil, nil, errNotSeekable
	}
	return rs, func() { _ = f.Close() }, nil
}

// errNotSeekable: embed.FS's files are seekable; a file that is not is a build defect.
var errNotSeekable = errors.New("web: embedded file is not seekable")

// readAll returns a's whole content (for the few small files changed at start).
func (a *asset) readAll() ([]byte, error) {
	if a.fsys == nil {
		return a.body, nil
	}
	return fs.ReadFile(a.fsys, a.path)
}

type handler struct {
	assets   map[string]*asset // keyed by path below static/, e.g. "js/meeting.js"
	notice   *asset            // GET /api/notice
	notFound *asset            // the page of every 404
}

// Handler returns the http.Handler for the web client:
//
//	GET /            the landing page
//	GET /m/{id}      the meeting page, for any id of 1–64 base64url characters
//	GET /privacy     the privacy notice page
//	GET /api/notice  opts.Notice as JSON
//	GET /static/...  the assets (scripts, styles, icons)
//
// Everything else is 404 with a Conclave page. Every response carries a strict Content-Security-Policy
// and related security headers; HTML pages are never cached.
func Handler(opts Options) http.Handler {
	h, err := newHandler(opts)
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("web: reading embedded files: " + err.Error())
	}
	return h
}

func newHandler(opts Options) (*handler, error) {
	h := &handler{assets: make(map[string]*asset), notice: noticeAsset(opts.Notice)}
	if err := addAssets(h.assets, staticFS, "static", ""); err != nil {
		return nil, err
	}
	if opts.TestHooks {
		if err := addAssets(h.assets, testFS, "testhooks", "test/"); err != nil {
			return nil, err
		}
		// The test pages load testhooks/early.js before the meeting's own module
		// (module scripts run in document order): it makes the fake cameras small and
		// the microphones' Opus frames 60 ms long.
		page := h.assets["meeting.html"]
		body, err := page.readAll()
		if err != nil {
			return nil, err
		}
		body = bytes.Replace(body, []byte(meetingScript), []byte(earlyTestScript+"\n"+meetingScript), 1)
		h.assets["meeting.html"] = &asset{body: body, contentType: page.contentType, etag: page.etag}
	}
	// The 404 page is written whole, without http.ServeContent's ranges.
	page := h.assets["notfound.html"]
	body, err := page.readAll()
	if err != nil {
		return nil, err
	}
	h.notFound = &asset{body: body, contentType: page.contentType}
	return h, nil
}

const (
	meetingScript   = `<script type="module" src="/static/js/meeting.js"></script>`
	earlyTestScript = `<script type="module" src="/static/test/early.js"></script>`
)

// addAssets adds every file below dir of fsys to assets, keyed by prefix and its path
// below dir. It reads each once, in pieces, for its ETag; it keeps none of it.
func addAssets(assets map[string]*asset, fsys embed.FS, dir, prefix string) error {
	buf := make([]byte, 32<<10)
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		sum := sha256.New()
		_, err = io.CopyBuffer(sum, f, buf)
		_ = f.Close()
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		assets[prefix+strings.TrimPrefix(p, dir+"/")] = &asset{
			fsys:        fsys,
			path:        p,
			contentType: ct,
			etag:        `"` + hex.EncodeToString(sum.Sum(nil)[:12]) + `"`,
		}
		return nil
	})
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	for _, kv := range securityHeaders {
		hdr.Set(kv[0], kv[1])
	}

	var name string
	var a *asset
	page := false
	switch p := r.URL.Path; {
	case p == "/":
		name, page = "index.html", true
	case p == "/privacy":
		name, page = "privacy.html", true
	case p == NoticePath:
		name, a = "notice.json", h.notice
	case strings.HasPrefix(p, "/m/"):
		if !validMeetingID(p[len("/m/"):]) {
			h.serveNotFound(w, r)
			return
		}
		name, page = "meeting.html", true
	case strings.HasPrefix(p, "/static/"):
		name = p[len("/static/"):]
		// The pages are served only at their own routes.
		if !fs.ValidPath(name) || path.Ext(name) == ".html" {
			h.serveNotFound(w, r)
			return
		}
	default:
		h.serveNotFound(w, r)
		return
	}
	if a == nil {
		a = h.assets[name]
	}
	if a == nil {
		h.serveNotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		if a == h.notice {
			refuseNoticeMethod(w)
			return
		}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	hdr.Set("Content-Type", a.contentType)
	if page {
		hdr.Set("Cache-Control", "no-store")
	} else {
		// No fingerprinted names (there is no build step): let the browser keep
		// a copy but revalidate it, which costs a 304 at most.
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("ETag", a.etag)
	}
	content, done, err := a.open()
	if err != nil {
		hdr.Del("ETag")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer done()
	http.ServeContent(w, r, name, time.Time{}, content)
}

// validMeetingID reports whether id is 1–64 characters of base64url.
func validMeetingID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// serveNotFound answers 404 with Conclave's page (the same look as the others, a
// way back to the start) instead of Go's plain text.
func (h *handler) serveNotFound(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Del("ETag")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Type", h.notFound.contentType)
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		_, _ = w.Write(h.notFound.body)
	}
}
