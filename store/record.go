package store

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadRecord is a record that is not valid: one a caller asked to store, or stored
// bytes that do not decode to one.
var ErrBadRecord = errors.New("store: bad record")

// validRoom: every room has an id and a host (the id is its key, the host owns it).
func validRoom(r Room) error {
	if r.ID == "" || r.HostID == "" {
		return fmt.Errorf("%w: a room needs an id and a host", ErrBadRecord)
	}
	return nil
}

// validHost: every host has an id (its key's first part), a name and a key hash.
func validHost(h Host) error {
	if h.ID == "" || h.Name == "" || h.KeyHash == "" {
		return fmt.Errorf("%w: a host needs an id, a name and a key hash", ErrBadRecord)
	}
	return nil
}

func encodeRoom(r Room) ([]byte, error) {
	if err := validRoom(r); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// DecodeRoom parses a stored room record: one JSON object with an id and a host, and
// nothing after it.
func DecodeRoom(data []byte) (Room, error) {
	var r Room
	if err := json.Unmarshal(data, &r); err != nil { // also refuses data after the object
		return Room{}, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if err := validRoom(r); err != nil {
		return Room{}, err
	}
	return r, nil
}

func decodeRoomAt(key, data []byte) (Room, error) {
	r, err := DecodeRoom(data)
	if err == nil && r.ID != string(key) {
		err = fmt.Errorf("%w: room stored under another id", ErrBadRecord)
	}
	if err != nil {
		return Room{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return r, nil
}

func encodeHost(h Host) ([]byte, error) {
	if err := validHost(h); err != nil {
		return nil, err
	}
	return json.Marshal(h)
}

func decodeHostAt(key, data []byte) (Host, error) {
	var h Host
	err := json.Unmarshal(data, &h)
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrBadRecord, err)
	} else if err = validHost(h); err == nil && h.ID != string(key) {
		err = fmt.Errorf("%w: host stored under another id", ErrBadRecord)
	}
	if err != nil {
		return Host{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return h, nil
}
