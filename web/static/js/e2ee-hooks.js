// ============================================================================
// E2EE ATTACH POINT
//
// Every RTCPeerConnection, RTCRtpSender and RTCRtpReceiver of the client passes
// through this module; publisher.js and subscriber.js are the only places that
// create senders and receivers, and they call:
//
//   peerConnectionConfig(extra)  when creating each RTCPeerConnection (the place
//                                to add `encodedInsertableStreams: true`)
//   prepareSender(sender, source) for EVERY sender, before EVERY
//                                setLocalDescription of the publish connection
//                                (microphone, camera and screen, also when the
//                                sender has no track yet)
//   prepareReceiver(receiver, info) for every receiver, on `track` and after each
//                                subscribe offer is applied (guard against
//                                attaching twice: createEncodedStreams throws)
//
// Today they attach nothing. The end-to-end encryption issue replaces the
// bodies (worker, keys, fail-closed checks — see TESTING.md), without touching
// the media code.
// ============================================================================

const preparedReceivers = new WeakSet();

/** peerConnectionConfig returns the RTCConfiguration for a new connection. */
export function peerConnectionConfig({ iceServers = [] } = {}) {
  return { iceServers };
}

/** prepareSender attaches the sender transform (none yet). */
export function prepareSender(sender, source) {
  // E2EE: attach the encrypting transform to `sender` here.
}

/** prepareReceiver attaches the receiver transform once per receiver (none yet). */
export function prepareReceiver(receiver, info) {
  if (preparedReceivers.has(receiver)) return;
  preparedReceivers.add(receiver);
  // E2EE: attach the decrypting transform to `receiver` here.
}

/** checkSenders is called right before each setLocalDescription; it throws to refuse sending. */
export function checkSenders(pc) {
  // E2EE: assert pc.getSenders().every(s => s.transform or piped streams) here.
}
