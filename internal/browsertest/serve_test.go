package browsertest

import (
	"fmt"
	"net/http"
	"testing"

	"conclave/internal/freshport"
)

// serve starts a server on 127.0.0.1 with testPage and returns its URL: on a port
// no earlier test of the package had (internal/freshport), as doc.go asks of every
// test's pages, so that no test here finds another's storage in the shared browsers.
func serve(t *testing.T) string {
	t.Helper()
	srv, err := freshport.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, testPage)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// testPage has two <video> elements and small WebRTC helpers:
// loopback() calls inside the page (pcA sends the camera to pcB); offer(),
// answer(offer) and accept(answer) make one side of a call whose SDP goes
// through Go (non-trickle: each waits for ICE gathering to complete).
const testPage = `<!doctype html>
<meta charset="utf-8">
<title>browsertest</title>
<video id="local" autoplay muted playsinline></video>
<video id="remote" autoplay muted playsinline></video>
<script>
window.errors = [];
async function camera() {
  const s = await navigator.mediaDevices.getUserMedia({video: true, audio: false});
  document.getElementById("local").srcObject = s;
  return s;
}
function showRemote(pc) {
  pc.addEventListener("track", e => {
    const v = document.getElementById("remote");
    const s = e.streams[0] || new MediaStream([e.track]);
    if (v.srcObject !== s) v.srcObject = s;
  });
}
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise(resolve => pc.addEventListener("icegatheringstatechange", () => {
    if (pc.iceGatheringState === "complete") resolve();
  }));
}
async function loopback() {
  const s = await camera();
  const a = window.pcA = new RTCPeerConnection(), b = window.pcB = new RTCPeerConnection();
  const relay = (to) => (e) => e.candidate && to.addIceCandidate(e.candidate).catch(err => errors.push(String(err)));
  a.onicecandidate = relay(b);
  b.onicecandidate = relay(a);
  showRemote(b);
  s.getTracks().forEach(t => a.addTrack(t, s));
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
  return true;
}
async function offer() {
  const s = await camera();
  const pc = window.pc = new RTCPeerConnection();
  showRemote(pc);
  s.getTracks().forEach(t => pc.addTrack(t, s));
  await pc.setLocalDescription();
  await gathered(pc);
  return pc.localDescription.toJSON();
}
async function answer(desc) {
  const s = await camera();
  const pc = window.pc = new RTCPeerConnection();
  showRemote(pc);
  await pc.setRemoteDescription(desc);
  s.getTracks().forEach(t => pc.addTrack(t, s));
  await pc.setLocalDescription();
  await gathered(pc);
  return pc.localDescription.toJSON();
}
async function accept(desc) {
  await window.pc.setRemoteDescription(desc);
  return true;
}
</script>
`
