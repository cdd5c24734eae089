package store

import (
	"context"
	"errors"
)

// The methods here serve the operator's commands (`conclave room list`, the import of
// hosts from the old configuration file); the server's meetings need only the others.

// AllRooms lists every room, oldest first.
func (m *Memory) AllRooms(_ context.Context) ([]Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Room, 0, len(m.rooms))
	for _, r := range m.rooms {
		out = append(out, r)
	}
	sortRooms(out)
	return out, nil
}

// ImportHosts adds the hosts whose id and name are free, once (see Bolt.ImportHosts). A
// Memory store starts empty with every process, so `-data ""` reads the configuration
// file's hosts at each start, as before there was a store.
func (m *Memory) ImportHosts(ctx context.Context, hosts []Host) (added int, done bool, err error) {
	m.mu.Lock()
	imported := m.imported
	m.imported = true
	m.mu.Unlock()
	if imported {
		return 0, false, nil
	}
	for _, h := range hosts {
		switch err := m.CreateHost(ctx, h); {
		case err == nil:
			added++
		case !errors.Is(err, ErrExists):
			return 0, false, err
		}
	}
	return added, true, nil
}
