package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashDirEnv makes this test binary a writer child (TestHelperWriter) in that directory.
const crashDirEnv = "CONCLAVE_STORE_CRASH_DIR"

// helperRooms bounds the child's writes, in case nobody kills it.
const helperRooms = 5000

// TestHelperWriter is the child of TestCrashKeepsCommitted, not a test of its own: it
// creates and rotates rooms, one transaction each, and prints each id once its commit
// has returned.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as TestCrashKeepsCommitted's child")
	}
	b, err := OpenBolt(dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	ctx := context.Background()
	out := bufio.NewWriter(os.Stdout)
	for i := range helperRooms {
		r := room(fmt.Sprintf("room-%05d", i), "h", t0.Add(time.Duration(i)*time.Second))
		r.Title = strings.Repeat("e1.ciphertext", 20) // some bulk, so pages split and grow
		if err := b.CreateRoom(ctx, r); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		line := "created " + r.ID
		// Every third room is rotated right away: a second, two-key transaction.
		if i%3 == 0 {
			old := r.ID
			r.ID += "-rotated"
			if err := b.UpdateRoom(ctx, old, r); err != nil {
				fmt.Println("error", err)
				os.Exit(3)
			}
			line = "rotated " + old + " " + r.ID
		}
		fmt.Fprintln(out, line)
		out.Flush()
	}
	b.Close()
	os.Exit(0)
}

// TestCrashKeepsCommitted kills a writing process with SIGKILL in the middle of its
// writes, opens the database again and finds every write the child saw committed, the
// rotated ones only under their new id, and a consistent file. (A kill leaves the
// kernel's page cache; surviving power loss is bbolt's fsync on commit, which this
// cannot show without pulling a plug.)
func TestCrashKeepsCommitted(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("the child runs only TestHelperWriter")
	}
	for round := range 3 { // killed after different amounts of work
		dir := t.TempDir()
		// A bound only so that a broken child cannot hang the test; the verdict is
		// what was committed, not how fast.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 20 + 37*round
		committed := map[string]bool{} // id → must be there (false: must be gone)
		lines := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "created":
				committed[f[1]] = true
			case len(f) == 3 && f[0] == "rotated":
				committed[f[1]], committed[f[2]] = false, true
			default:
				t.Fatalf("child: %q", sc.Text())
			}
			if lines++; lines == killAfter {
				// Killed while it goes on writing; the lines it printed before dying
				// are still read below.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		err = cmd.Wait()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v after %d lines, not by the kill", round, err, lines)
		}
		b, err := OpenBolt(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after the kill: %v", round, err)
		}
		if err := b.check(); err != nil {
			t.Fatalf("round %d: inconsistent after the kill: %v", round, err)
		}
		ctx = context.Background()
		for id, there := range committed {
			_, err := b.Room(ctx, id)
			switch {
			case there && err != nil:
				t.Errorf("round %d: committed room %s lost: %v", round, id, err)
			case !there && !errors.Is(err, ErrNotFound):
				t.Errorf("round %d: rotated-away id %s still there: %v", round, id, err)
			}
		}
		// At most the write in flight at the kill (a room and its rotation) is there
		// beyond what was reported, and no half of a rotation.
		all, err := b.AllRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, there := range committed {
			if there {
				want++
			}
		}
		if len(all) < want || len(all) > want+1 {
			t.Errorf("round %d: %d rooms after the kill, %d reported committed", round, len(all), want)
		}
		b.Close()
		t.Logf("round %d: killed after %d reported writes; %d rooms intact", round, lines, len(all))
	}
}
