//go:build !linux

package rawstream

import "net"

// Conn is Linux's raw connection; elsewhere Wrap never makes one.
type Conn struct{ net.Conn }

// Elsewhere the runtime's own calls serve.
func wrap(c net.Conn) net.Conn { return c }
