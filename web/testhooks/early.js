// early.js runs before the meeting page's own module in a test-mode server
// (web.Options.TestHooks), and only there: it asks the fake cameras for small,
// slow video (320×180 at 10 frames per second instead of the page's 1280×720 at 30),
// and the fake microphones for their sound as it is, without the browser's echo
// cancelling, noise suppression and gain control. A browser test runs several tabs
// that each encode their camera and decode everyone else's in software on a two-core
// machine; at full size that work alone fills both cores and slows every other test,
// and the microphones' processing took a seventh of what a meeting of three tabs
// costs (measured 2026-12-02). What the tests check (colours, pixels, frames decoded,
// keys, sound arriving) depends on neither.
//
// It also has the microphones send Opus in 60 ms frames instead of the browsers' 20:
// an answer's audio sections get `a=ptime:60`, which Chromium and Firefox both follow.
// Every audio frame is a packet and a call into the page's E2EE worker, fifty a second
// per microphone and as many decrypted in every other tab; two thirds fewer took a
// meeting of two Firefox tabs from 73 % of a core to 59 % (two Chromium tabs: 40–42 %
// to 37–40 %, near the runs' spread; measured 2026-12-07). A test that counts a
// microphone's packets against the 20 ms framing (discontinuous transmission) keeps
// it: its preload sets `window.conclaveTestOpus20ms = true` before this runs.
const devices = navigator.mediaDevices;
if (devices && devices.getUserMedia) {
  const getUserMedia = devices.getUserMedia.bind(devices);
  const small = { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 10, max: 10 } };
  const raw = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
  devices.getUserMedia = (constraints) => {
    if (constraints && constraints.audio) {
      constraints = { ...constraints, audio: constraints.audio === true ? raw : { ...constraints.audio, ...raw } };
    }
    if (constraints && constraints.video && typeof constraints.video === 'object') {
      return getUserMedia({ ...constraints, video: { ...constraints.video, ...small } });
    }
    if (constraints && constraints.video === true) {
      return getUserMedia({ ...constraints, video: small });
    }
    return getUserMedia(constraints);
  };
}

// withPtime adds `a=ptime:ms` to each audio section of sdp that has none.
function withPtime(sdp, ms) {
  const out = [];
  let audio = false;
  let hasPtime = false;
  for (const line of sdp.split('\r\n')) {
    if (line.startsWith('m=') || line === '') {
      if (audio && !hasPtime) out.push(`a=ptime:${ms}`);
      audio = line.startsWith('m=audio');
      hasPtime = false;
    } else if (line.startsWith('a=ptime:')) {
      hasPtime = true;
    }
    out.push(line);
  }
  return out.join('\r\n');
}

if (window.conclaveTestOpus20ms !== true && window.RTCPeerConnection) {
  const setRemoteDescription = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (description, ...rest) {
    if (description && description.type === 'answer' && typeof description.sdp === 'string') {
      description = { type: 'answer', sdp: withPtime(description.sdp, 60) };
    }
    return setRemoteDescription.call(this, description, ...rest);
  };
}
