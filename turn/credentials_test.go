package turn_test

import (
	"strings"
	"testing"
	"time"
)

func TestExpiredCredentialsAreRefused(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	f.clock.Advance(5*time.Minute + time.Second)
	if relay, err := f.udpClient(t, user, pass).Allocate(); err == nil {
		relay.Close()
		t.Fatal("allocated with credentials past their expiry")
	}
	if n := f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d allocations", n)
	}
}

func TestCredentialsJustBeforeExpiryWork(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	f.clock.Advance(5*time.Minute - time.Second)
	relay, err := f.udpClient(t, user, pass).Allocate()
	if err != nil {
		t.Fatalf("allocate a second before expiry: %v", err)
	}
	relay.Close()
}

func TestForgedCredentialsAreRefused(t *testing.T) {
	f := newFixture(t, nil)
	user, pass := f.creds(t)
	other := newFixture(t, nil) // another server: another secret
	otherUser, otherPass := other.creds(t)
	far := "9999999999:" + strings.Repeat("A", 22)
	for _, c := range []struct{ name, user, pass string }{
		{"wrong password", user, pass + "x"},
		{"expiry moved later", far, pass},
		{"another server's credentials", otherUser, otherPass},
		{"not a REST username", "alice", "secret"},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if relay, err := f.udpClient(t, c.user, c.pass).Allocate(); err == nil {
				relay.Close()
				t.Fatal("allocated with forged credentials")
			}
		})
	}
	if n := f.srv.AllocationCount(); n != 0 {
		t.Fatalf("%d allocations", n)
	}
}
