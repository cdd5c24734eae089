package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
)

// VideoColor is what VideoColorJS reports about a <video> element.
type VideoColor struct {
	Found      bool       `json:"found"`      // an element matched the selector
	Width      int        `json:"width"`      // videoWidth (0 before the first frame)
	Height     int        `json:"height"`     // videoHeight
	ReadyState int        `json:"readyState"` // 2 (HAVE_CURRENT_DATA) or more once a frame is there
	Paused     bool       `json:"paused"`
	Frames     int        `json:"frames"` // getVideoPlaybackQuality().totalVideoFrames
	Mean       [3]float64 `json:"mean"`   // mean R, G, B of the frame, 0–255
	Stddev     float64    `json:"stddev"` // RMS over R, G, B of the per-channel standard deviation
}

// HasPicture reports whether a frame was sampled.
func (c VideoColor) HasPicture() bool {
	return c.Found && c.Width > 0 && c.Height > 0 && c.ReadyState >= 2
}

// Brightness is the mean of the three channel means.
func (c VideoColor) Brightness() float64 {
	return (c.Mean[0] + c.Mean[1] + c.Mean[2]) / 3
}

// Distance is the largest difference between the channel means of c and o.
func (c VideoColor) Distance(o VideoColor) float64 {
	var d float64
	for i := range 3 {
		d = math.Max(d, math.Abs(c.Mean[i]-o.Mean[i]))
	}
	return d
}

func (c VideoColor) String() string {
	if !c.HasPicture() {
		return fmt.Sprintf("no picture (found=%v readyState=%d %dx%d)", c.Found, c.ReadyState, c.Width, c.Height)
	}
	return fmt.Sprintf("%dx%d mean rgb(%.0f,%.0f,%.0f) stddev %.1f frames %d",
		c.Width, c.Height, c.Mean[0], c.Mean[1], c.Mean[2], c.Stddev, c.Frames)
}

// VideoColorJS returns a JavaScript expression that draws the current frame
// of the <video> element matched by the CSS selector into a 64×48 canvas and
// evaluates to a VideoColor object:
//
//	{found, width, height, readyState, paused, frames, mean: [r, g, b], stddev}
//
// It never throws: with no element, found is false; before the first frame,
// width and height are 0. It is synchronous, so it can be used inside a
// WaitFor expression, such as VideoColorJS("#remote") + ".width > 0".
//
// Observed here (Chromium 156, Firefox ESR 153; 64×48 samples):
//
//   - Chromium's fake camera (--use-fake-device-for-media-stream) is 640×480
//     at 20 fps: a dark green field rgb(0,128,0) with a light green pac-man
//     that grows and turns, a time code and frame counter, and bright green
//     corner squares. Mean ≈ rgb(3,142,1), green varying 139–155 as the
//     pac-man turns; stddev 11–30. Its fake screen (getDisplayMedia) shows
//     the same picture at 800×450.
//   - Firefox's fake camera (media.navigator.streams.fake) is 640×480: one
//     flat, saturated colour (stddev 0; a few-pixel time strip at the top
//     does not show at 64×48) whose hue cycles every ≈29 s, starting at
//     green: rgb(0,255,0) → cyan → blue rgb(0,180,255) → magenta
//     rgb(255,0,255) at ≈15 s → red/orange rgb(255,70,0) → yellow-green →
//     green. A Firefox sender starts at 320×240 (bandwidth ramp-up), so
//     compare colours, not sizes.
//   - A black or missing frame has a mean near 0; a keyframe decoded
//     without the right E2EE key is grey-ish noise, or a hue near the
//     original with a higher stddev.
//   - Frames (getVideoPlaybackQuality) counts in Chromium, but stays 0 in
//     Firefox for MediaStream sources: use InboundVideoStatsJS instead.
//
// Solid assertions: the receiver's picture has a mean within ≈40 (Distance)
// of the sender's own preview sampled at the same moment (poll for it: the
// cameras change over time, and the receiver lags), and it is not black
// (Brightness > 20). For Chromium alone, "green dominates" also holds; for a
// screen share, use FakeDisplayMediaJS and MagentaTestPattern.
func VideoColorJS(selector string) string {
	sel, _ := json.Marshal(selector)
	return `(() => {
const v = document.querySelector(` + string(sel) + `);
if (!v) return {found: false, width: 0, height: 0, readyState: 0, paused: true, frames: 0, mean: [0, 0, 0], stddev: 0};
const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
const r = {found: true, width: v.videoWidth || 0, height: v.videoHeight || 0, readyState: v.readyState,
  paused: v.paused, frames: q ? q.totalVideoFrames : 0, mean: [0, 0, 0], stddev: 0};
if (!r.width || !r.height || v.readyState < 2) return r;
const w = 64, h = 48;
const c = document.createElement("canvas");
c.width = w; c.height = h;
const g = c.getContext("2d", {willReadFrequently: true});
g.drawImage(v, 0, 0, w, h);
const d = g.getImageData(0, 0, w, h).data;
const n = w * h, sum = [0, 0, 0], sq = [0, 0, 0];
for (let i = 0; i < d.length; i += 4) {
  for (let k = 0; k < 3; k++) { sum[k] += d[i + k]; sq[k] += d[i + k] * d[i + k]; }
}
let variance = 0;
for (let k = 0; k < 3; k++) {
  r.mean[k] = sum[k] / n;
  variance += Math.max(0, sq[k] / n - r.mean[k] * r.mean[k]) / 3;
}
r.stddev = Math.sqrt(variance);
return r;
})()`
}

// SampleVideo evaluates VideoColorJS(selector) in tab.
func SampleVideo(ctx context.Context, tab Tab, selector string) (VideoColor, error) {
	var c VideoColor
	err := tab.Eval(ctx, VideoColorJS(selector), &c)
	return c, err
}

// InboundVideoStats is what InboundVideoStatsJS reports.
type InboundVideoStats struct {
	Reports         int `json:"reports"` // inbound-rtp video reports summed up
	PacketsReceived int `json:"packetsReceived"`
	BytesReceived   int `json:"bytesReceived"`
	FramesReceived  int `json:"framesReceived"`
	FramesDecoded   int `json:"framesDecoded"`
	KeyFrames       int `json:"keyFramesDecoded"`
	FrameWidth      int `json:"frameWidth"`
	FrameHeight     int `json:"frameHeight"`
}

// InboundVideoStatsJS returns a JavaScript expression (a promise) that sums
// the inbound-rtp video reports of getStats() of the RTCPeerConnection that
// the expression pc evaluates to, as an InboundVideoStats object.
func InboundVideoStatsJS(pc string) string {
	return `(async () => {
const r = {reports: 0, packetsReceived: 0, bytesReceived: 0, framesReceived: 0, framesDecoded: 0,
  keyFramesDecoded: 0, frameWidth: 0, frameHeight: 0};
const stats = await (` + pc + `).getStats();
stats.forEach(s => {
  if (s.type !== "inbound-rtp" || (s.kind || s.mediaType) !== "video") return;
  r.reports++;
  for (const k of ["packetsReceived", "bytesReceived", "framesReceived", "framesDecoded", "keyFramesDecoded"]) r[k] += s[k] || 0;
  r.frameWidth = Math.max(r.frameWidth, s.frameWidth || 0);
  r.frameHeight = Math.max(r.frameHeight, s.frameHeight || 0);
});
return r;
})()`
}

// FakeDisplayMediaJS replaces navigator.mediaDevices.getDisplayMedia in the
// page with a function that returns a 640×360 canvas.captureStream() at
// 30 fps, without a prompt: solid magenta, rgb(255,0,255), with a 160×160
// black square sliding across it. Sampled with VideoColorJS, it gives a mean
// near rgb(227,0,227) and a stddev near 65 (after VP8, expect red and blue
// above 180, green below 60, stddev above 35). Neither fake camera looks like
// that: Chromium's is green, and Firefox's is one flat colour (stddev ≈ 0),
// which does pass through pure magenta in its cycle, so always check the
// stddev too (see MagentaTestPattern). track.stop() stops the drawing; the
// track's getSettings() has no displaySurface.
//
// It evaluates to true, and a second evaluation changes nothing. Evaluate it
// after each navigation, or once with OnNewDocument before navigating.
// Firefox needs it (its getDisplayMedia fails headless); in Chromium it makes
// a screen share distinguishable from the camera.
const FakeDisplayMediaJS = `(() => {
const md = navigator.mediaDevices;
if (!md || md.__conclaveFakeDisplay) return true;
md.__conclaveFakeDisplay = true;
md.getDisplayMedia = async function getDisplayMedia() {
  const c = document.createElement("canvas");
  c.width = 640; c.height = 360;
  const g = c.getContext("2d");
  let x = 0, dx = 4;
  const draw = () => {
    g.fillStyle = "#ff00ff"; g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = "#000000"; g.fillRect(x, 100, 160, 160);
    if (x + dx < 0 || x + dx > c.width - 160) dx = -dx;
    x += dx;
  };
  draw();
  const timer = setInterval(draw, 33);
  const stream = c.captureStream(30);
  const track = stream.getVideoTracks()[0];
  const stop = track.stop.bind(track);
  track.stop = () => { clearInterval(timer); stop(); };
  return stream;
};
return true;
})()`

// MagentaTestPattern reports whether c looks like the FakeDisplayMediaJS
// test pattern (after a trip through a video codec).
func MagentaTestPattern(c VideoColor) bool {
	return c.HasPicture() && c.Mean[0] > 180 && c.Mean[2] > 180 && c.Mean[1] < 60 && c.Stddev > 35
}
