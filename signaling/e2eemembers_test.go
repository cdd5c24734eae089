package signaling_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"conclave/internal/e2eeclient"
	"conclave/internal/testclient"
	"conclave/signaling"
)

// e2eeMeeting is an encrypted meeting without a waiting room whose Go members run a
// browser's key schedule (internal/e2eeclient), each following the meeting's key
// messages until the test ends.
type e2eeMeeting struct {
	ctx     context.Context
	secret  []byte // the link's
	clients []*testclient.Client
	models  []*e2eeclient.Member
}

// joinE2EEMembers starts a server on a fake clock and joins one member per join name;
// names, when given, are the display names members put in their key envelopes.
func joinE2EEMembers(t *testing.T, joinNames, names []string) *e2eeMeeting {
	t.Helper()
	srv := newTestServerWith(t, signaling.Config{Clock: newFakeClock()})
	mt := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	m := &e2eeMeeting{secret: make([]byte, 16)}
	_, _ = rand.Read(m.secret)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var followers sync.WaitGroup
	t.Cleanup(func() { cancel(); followers.Wait() })
	m.ctx = ctx
	for i, joinName := range joinNames {
		c, err := testclient.Dial(ctx, srv.wsURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.Join(ctx, mt.MeetingID, joinName); err != nil {
			t.Fatal(err)
		}
		model, err := e2eeclient.New(m.secret, c)
		if err != nil {
			t.Fatal(err)
		}
		if names != nil {
			model.SetName(names[i])
		}
		m.clients, m.models = append(m.clients, c), append(m.models, model)
		followers.Add(1)
		go func() {
			defer followers.Done()
			_ = model.Follow(ctx, c)
		}()
	}
	return m
}
