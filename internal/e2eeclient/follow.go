package e2eeclient

import (
	"context"
	"encoding/json"

	"conclave/internal/testclient"
)

// Welcome reads the member list of c's welcome (the first one it received).
func Welcome(c *testclient.Client) (self string, members []string, next int, ok bool) {
	for i, msg := range c.All() {
		if msg.Type != "welcome" {
			continue
		}
		var w struct {
			ParticipantID string `json:"participantId"`
			Participants  []struct {
				ID string `json:"id"`
			} `json:"participants"`
		}
		if json.Unmarshal(msg.Payload, &w) != nil {
			return "", nil, 0, false
		}
		for _, p := range w.Participants {
			members = append(members, p.ID)
		}
		return w.ParticipantID, members, i + 1, true
	}
	return "", nil, 0, false
}

// Follow starts m from c's welcome and then feeds it every message c receives after it,
// none dropped, flushing once after each group of messages that arrived together (as a
// browser handles a burst of roster changes in one flush). It returns when ctx ends or
// c closes, with the first error of sending while c is open.
func (m *Member) Follow(ctx context.Context, c *testclient.Client) error {
	err := m.follow(ctx, c)
	select {
	case <-c.Done():
		return nil // a closed connection fails its sends: not the model's fault
	default:
		return err
	}
}

func (m *Member) follow(ctx context.Context, c *testclient.Client) error {
	self, members, next, ok := Welcome(c)
	if !ok {
		return errNoWelcome
	}
	if err := m.Start(self, members); err != nil {
		return err
	}
	for {
		msgs := c.AllFrom(next)
		next += len(msgs)
		for _, msg := range msgs {
			if err := m.Handle(msg.Type, msg.Payload); err != nil {
				return err
			}
		}
		if err := m.Flush(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return nil
		case <-c.Arrived():
		}
	}
}
