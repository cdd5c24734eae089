package browsertest

import (
	"os"
	"strings"
	"sync"
	"time"
)

// tailBuffer keeps the last bytes that a browser process wrote, for error
// messages. Set $CONCLAVE_BROWSER_LOG to also copy the output to stderr.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func newTailBuffer() *tailBuffer { return new(tailBuffer) }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - tailSize; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// describe returns the output for the end of an error message.
func (b *tailBuffer) describe() string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return ""
	}
	return "\nbrowser output (tail):\n" + s
}

// cutLine splits s at its first newline.
func cutLine(s string) (first, rest string, found bool) {
	return strings.Cut(s, "\n")
}

// removeAllRetry removes dir, retrying for a moment: a dying browser can
// still write into its profile.
func removeAllRetry(dir string) error {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}
