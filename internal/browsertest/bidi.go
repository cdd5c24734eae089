package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// bidiWriteTimeout bounds one write of a command: the socket's buffer is full only
// when the browser has stopped reading it.
const bidiWriteTimeout = time.Minute

// bidiConn is a minimal WebDriver BiDi client: commands are sent with
// increasing ids, a reader goroutine hands each response to the command that
// waits for it, and events are ignored. It is safe for concurrent use.
type bidiConn struct {
	ws *websocket.Conn

	writeMu sync.Mutex // serialises writes to ws

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan bidiMessage
	err     error // why the connection ended; set before done closes

	done chan struct{} // closed when the reader stops
}

// bidiMessage is a command response, an error, or an event.
type bidiMessage struct {
	Type       string          `json:"type"` // "success", "error" or "event"
	ID         *int64          `json:"id"`
	Result     json.RawMessage `json:"result"`
	Error      string          `json:"error"`
	Message    string          `json:"message"`
	Stacktrace string          `json:"stacktrace"`
	Method     string          `json:"method"` // of an event
}

// bidiError is an error response of the browser to a BiDi command.
type bidiError struct {
	Method  string
	Code    string // such as "no such frame" or "unknown error"
	Message string
}

func (e *bidiError) Error() string {
	return fmt.Sprintf("bidi %s: %s: %s", e.Method, e.Code, e.Message)
}

// dialBiDi connects to a BiDi session endpoint such as
// ws://127.0.0.1:PORT/session.
func dialBiDi(ctx context.Context, url string) (*bidiConn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	// Page results (a data: URL of a frame, say) can be large.
	ws.SetReadLimit(64 << 20)
	c := &bidiConn{
		ws:      ws,
		pending: make(map[int64]chan bidiMessage),
		done:    make(chan struct{}),
	}
	go c.read()
	return c, nil
}

func (c *bidiConn) read() {
	var err error
	for {
		var data []byte
		_, data, err = c.ws.ReadMessage()
		if err != nil {
			break
		}
		var m bidiMessage
		if jerr := json.Unmarshal(data, &m); jerr != nil || m.ID == nil {
			continue // an event, or something we do not understand
		}
		c.mu.Lock()
		ch := c.pending[*m.ID]
		delete(c.pending, *m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m // buffered
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: bidi connection: %v", ErrClosed, err)
	for id, ch := range c.pending {
		delete(c.pending, id)
		close(ch)
	}
	c.mu.Unlock()
	close(c.done)
}

// call sends the command method with params and unmarshals its result into
// result (which may be nil).
func (c *bidiConn) call(ctx context.Context, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan bidiMessage, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}

	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		forget()
		return err
	}
	// A failed write ends the websocket for every caller (gorilla keeps the error),
	// so neither a context that has run out nor its deadline may fail one: the write
	// has its own bound, which only a browser that stopped reading meets.
	if err := context.Cause(ctx); err != nil {
		forget()
		return fmt.Errorf("bidi %s: %w", method, err)
	}
	c.writeMu.Lock()
	c.ws.SetWriteDeadline(time.Now().Add(bidiWriteTimeout))
	err = c.ws.WriteMessage(websocket.TextMessage, msg)
	c.writeMu.Unlock()
	if err != nil {
		forget()
		return fmt.Errorf("%w: sending %s: %v", ErrClosed, method, err)
	}

	select {
	case <-ctx.Done():
		// The browser still answers later; the reader drops that answer.
		forget()
		return fmt.Errorf("bidi %s: %w", method, context.Cause(ctx))
	case m, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return fmt.Errorf("bidi %s: %w", method, err)
		}
		if m.Type == "error" || m.Error != "" {
			return &bidiError{Method: method, Code: m.Error, Message: strings.TrimSpace(m.Message)}
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				return fmt.Errorf("bidi %s: decoding %.200s: %w", method, m.Result, err)
			}
		}
		return nil
	}
}

// closed reports whether the connection has ended.
func (c *bidiConn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// close closes the websocket and waits for the reader to stop.
func (c *bidiConn) close() error {
	c.writeMu.Lock()
	c.ws.SetWriteDeadline(time.Now().Add(time.Second))
	c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.writeMu.Unlock()
	err := c.ws.Close()
	<-c.done
	if errors.Is(err, websocket.ErrCloseSent) {
		err = nil
	}
	return err
}

// BiDi result shapes used by firefox.go.

type bidiEvaluateResult struct {
	Type             string          `json:"type"` // "success" or "exception"
	Result           bidiRemoteValue `json:"result"`
	ExceptionDetails *bidiExcDetails `json:"exceptionDetails"`
}

type bidiRemoteValue struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type bidiExcDetails struct {
	Text       string          `json:"text"`
	Exception  bidiRemoteValue `json:"exception"`
	StackTrace struct {
		CallFrames []struct {
			FunctionName string `json:"functionName"`
			URL          string `json:"url"`
			LineNumber   int    `json:"lineNumber"`
			ColumnNumber int    `json:"columnNumber"`
		} `json:"callFrames"`
	} `json:"stackTrace"`
}
