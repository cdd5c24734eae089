//go:build !linux

package rawstream

import "net"

// Elsewhere the runtime's own calls serve.
func wrap(c net.Conn) net.Conn { return c }
