package sfu

import "net"

// BatchUDP batches the writes and reads of c as the media socket's are (batchConn):
// a write queues and returns, and one goroutine sends what is queued in sendmmsg
// calls; reads come from recvmmsg (Linux). It is for the embedded TURN server's UDP
// socket, on which every relayed packet is a write of its own to its client. Close
// closes c.
func BatchUDP(c *net.UDPConn) (net.PacketConn, error) {
	b, err := newBatchConn(c)
	if err != nil {
		return nil, err
	}
	return b, nil
}
