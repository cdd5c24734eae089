package signaling_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// The environment that makes TestJoinStacksServer and TestJoinStacksClients the
// server and the clients of a BenchmarkJoinStacks in its child processes.
const (
	joinStacksURL     = "JOINSTACKS_URL"
	joinStacksMeeting = "JOINSTACKS_MEETING"
	joinStacksN       = "JOINSTACKS_N"
)

// BenchmarkJoinStacks weighs what the server holds for each subscriber after whole
// joins (websocket join, the subscribe connection's SDP, ICE-lite, DTLS, media
// arriving): one publisher and N subscribers, real Pion clients over 127.0.0.1. Each
// iteration runs the server and the clients in two fresh child processes (this test
// binary as TestJoinStacksServer and TestJoinStacksClients): what is counted is the
// server's goroutines' stacks and heap alone, not the clients', and not what an
// earlier iteration left in the process's stack spans. Once every subscriber gets the
// publisher's video and every session has taken its events, two collections, then the
// server's growth since before the joins, each a subscriber (the publisher's share
// spread over them):
//
//	stack-B/sub     stack spans in use (runtime/metrics /memory/classes/heap/stacks)
//	stackused-B/sub stack the collector scanned, what the goroutines use (/gc/scan/stack)
//	live-B/sub      the live heap (/gc/heap/live)
//	goroutines/sub  goroutines
//
// A figure of the machine's memory, not of its speed: no verdict. Run it alone,
// e.g. go test -run '^$' -bench JoinStacks -benchtime 1x -count 5 ./signaling/.
func BenchmarkJoinStacks(b *testing.B) {
	for _, n := range []int{20, 50, 99} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			var grown serverMemory
			for range b.N {
				grown = grown.plus(joinStacks(b, n))
			}
			each := func(v float64) float64 { return v / float64(b.N) / float64(n) }
			b.ReportMetric(each(grown.stacks), "stack-B/sub")
			b.ReportMetric(each(grown.stackUsed), "stackused-B/sub")
			b.ReportMetric(each(grown.live), "live-B/sub")
			b.ReportMetric(each(grown.goroutines), "goroutines/sub")
		})
	}
}

// serverMemory is what BenchmarkJoinStacks reads of the server's process.
type serverMemory struct{ stacks, stackUsed, live, goroutines float64 }

func (m serverMemory) plus(o serverMemory) serverMemory {
	return serverMemory{m.stacks + o.stacks, m.stackUsed + o.stackUsed, m.live + o.live, m.goroutines + o.goroutines}
}

func (m serverMemory) minus(o serverMemory) serverMemory {
	return serverMemory{m.stacks - o.stacks, m.stackUsed - o.stackUsed, m.live - o.live, m.goroutines - o.goroutines}
}

func readServerMemory() serverMemory {
	runtime.GC()
	runtime.GC() // the first's freed stacks and spans are given back by the second
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(s)
	v := func(i int) float64 { return float64(s[i].Value.Uint64()) }
	return serverMemory{v(0), v(1), v(2), v(3)}
}

// joinStacks runs one server and its clients and returns what the server grew by.
// The benchmark's timer runs through it: an iteration takes seconds, and that is
// what keeps b.N at one or two under the default -benchtime. With the timer
// stopped the framework saw each iteration take microseconds and asked for 100,
// then 10,000 of them (-run x -bench . would not have ended); the time it reports
// is no figure of the server's memory, and no one reads it.
func joinStacks(b *testing.B, n int) serverMemory {
	server := startChild(b, "^TestJoinStacksServer$", joinStacksN+"="+strconv.Itoa(n))
	var url, meeting string
	if _, err := fmt.Fscanln(server.out, &url, &meeting); err != nil {
		b.Fatalf("the server's process: %v", err)
	}
	clients := startChild(b, "^TestJoinStacksClients$",
		joinStacksURL+"="+url, joinStacksMeeting+"="+meeting, joinStacksN+"="+strconv.Itoa(n))
	var ready string
	if _, err := fmt.Fscanln(clients.out, &ready); err != nil || ready != "ready" {
		b.Fatalf("the clients' process ended before every subscriber got media (%q, %v)", ready, err)
	}
	if _, err := io.WriteString(server.in, "measure\n"); err != nil {
		b.Fatal(err)
	}
	var grown serverMemory
	if _, err := fmt.Fscanln(server.out, &grown.stacks, &grown.stackUsed, &grown.live, &grown.goroutines); err != nil {
		b.Fatalf("the server's figures: %v", err)
	}
	clients.end(b) // the clients leave, then the server ends
	server.end(b)
	return grown
}

// child is a child process of this test binary that runs one test: its stdin, whose
// end tells it to end, and its stdout, the lines it says to the benchmark.
type child struct {
	run   string
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	ended bool
}

// startChild runs this test binary's test run in a child process with env. The child
// is ended by the benchmark's cleanup if the benchmark does not end it first, so that
// a failed benchmark leaves no server listening; a benchmark killed outright (its
// -timeout) closes the child's stdin with its own end, and each child ends at that.
func startChild(b *testing.B, run string, env ...string) *child {
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &child{run: run, cmd: cmd, in: in, out: bufio.NewReader(out)}
	b.Cleanup(func() { c.end(b) })
	return c
}

// end closes the child's stdin and waits for it to end. What it says after the lines
// the benchmark read is read to its end first: Wait must not come before that, and
// a child that fills the pipe with a failure's output would never end; that output
// is the benchmark's error when the child failed.
func (c *child) end(b *testing.B) {
	if c.ended {
		return
	}
	c.ended = true
	_ = c.in.Close()
	rest, _ := io.ReadAll(c.out)
	if err := c.cmd.Wait(); err != nil {
		b.Errorf("the child process %s: %v\n%s", c.run, err, rest)
	}
}

// TestJoinStacksServer is BenchmarkJoinStacks's server, run in a child process of it;
// otherwise it is skipped. It says its websocket's address and a meeting's id, reads
// its process's memory, and once told "measure" (every subscriber has its media) says
// what it grew by; it ends when stdin closes.
func TestJoinStacksServer(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(joinStacksN))
	if n == 0 || os.Getenv(joinStacksURL) != "" {
		t.Skip("the server of BenchmarkJoinStacks, in its child process")
	}
	srv := newTestServerWith(t, signaling.Config{MaxConnsPerAddr: 4 * n})
	meeting := srv.createMeeting(t)
	before := readServerMemory()
	fmt.Println(srv.wsURL, meeting)
	in := bufio.NewReader(os.Stdin)
	if line, err := in.ReadString('\n'); err != nil || line != "measure\n" {
		t.Fatalf("waiting to be told to measure: %q, %v", line, err)
	}
	conntest.Eventually(t, "every event handed to a session taken", func() bool { return signaling.EventsQueued(srv.sig) == 0 })
	grown := readServerMemory().minus(before)
	fmt.Println(grown.stacks, grown.stackUsed, grown.live, grown.goroutines)
	if dir := os.Getenv("JOINSTACKS_DUMP"); dir != "" {
		dumpGoroutines(t, dir, n)
	}
	_, _ = io.Copy(io.Discard, in)
}

// dumpGoroutines writes every goroutine's trace to dir, for a reading of which grew
// (with a runtime whose traceback headers carry each stack's size, bench/README.md).
func dumpGoroutines(t *testing.T, dir string, n int) {
	if err := os.WriteFile(fmt.Sprintf("%s/goroutines-%d.txt", dir, n), allGoroutines(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestJoinStacksClients is BenchmarkJoinStacks's clients, run in a child process of
// it; otherwise it is skipped. A publisher sends video, N subscribers join ten at a
// time and each waits for its media; then "ready" on stdout, and everyone stays until
// stdin closes (which ends the joins too).
func TestJoinStacksClients(t *testing.T) {
	url, meeting := os.Getenv(joinStacksURL), os.Getenv(joinStacksMeeting)
	n, _ := strconv.Atoi(os.Getenv(joinStacksN))
	if url == "" || meeting == "" || n == 0 {
		t.Skip("the clients of BenchmarkJoinStacks, in its child process")
	}
	// Only a hung join meets this bound; nothing is judged by time.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// The benchmark closes stdin when it is done with the clients, and so does the end
	// of its process, killed or failed: the clients go then, joined or still joining,
	// where a subscriber waiting for media from a server gone waited out the bound.
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
		cancel()
	}()
	pub, err := testclient.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Join(ctx, meeting, "P"); err != nil {
		t.Fatal(err)
	}
	tracks, err := pub.Publish(ctx, "camera")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var sending sync.WaitGroup
	sending.Add(1)
	go func() {
		defer sending.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		payload := make([]byte, 1000)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = tracks[0].Send(payload)
			}
		}
	}()
	defer func() { close(stop); sending.Wait() }()

	subs := make([]*testclient.Client, n)
	errs := make(chan error, n)
	var joins sync.WaitGroup
	for w := range 10 {
		joins.Add(1)
		go func() {
			defer joins.Done()
			for i := w; i < n; i += 10 {
				c, err := testclient.Dial(ctx, url)
				if err == nil {
					subs[i] = c
					err = c.Join(ctx, meeting, fmt.Sprintf("S%d", i))
				}
				for err == nil {
					if r := c.Received(pub.ParticipantID, "camera"); r != nil && r.Count() >= 3 {
						break
					}
					select {
					case <-ctx.Done():
						err = ctx.Err()
					case <-time.After(20 * time.Millisecond):
					}
				}
				if err != nil {
					errs <- fmt.Errorf("subscriber %d: %w", i, err)
					return
				}
			}
		}()
	}
	joins.Wait()
	defer func() {
		for _, c := range subs {
			if c != nil {
				c.Close()
			}
		}
	}()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	fmt.Println("ready")
	<-stdinClosed
}
