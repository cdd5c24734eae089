package store

import (
	"bytes"
	"context"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Room returns the room with that id, or ErrNotFound.
func (b *Bolt) Room(_ context.Context, id string) (Room, error) {
	var r Room
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRooms).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		r, err = decodeRoomAt([]byte(id), v)
		return err
	})
	return r, err
}

// Rooms lists a host's rooms, oldest first.
func (b *Bolt) Rooms(_ context.Context, hostID string) ([]Room, error) {
	return b.rooms(func(r Room) bool { return r.HostID == hostID })
}

// AllRooms lists every room, oldest first (for `conclave room list`).
func (b *Bolt) AllRooms(_ context.Context) ([]Room, error) {
	return b.rooms(func(Room) bool { return true })
}

func (b *Bolt) rooms(keep func(Room) bool) ([]Room, error) {
	var out []Room
	err := b.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRooms).ForEach(func(k, v []byte) error {
			r, err := decodeRoomAt(k, v)
			if err == nil && keep(r) {
				out = append(out, r)
			}
			return err
		})
	})
	sortRooms(out)
	return out, err
}

// CreateRoom adds a room; ErrExists if its id is taken.
func (b *Bolt) CreateRoom(_ context.Context, r Room) error {
	v, err := encodeRoom(r)
	if err != nil {
		return err
	}
	return b.update(func(tx *bolt.Tx) error {
		rooms := tx.Bucket(bucketRooms)
		if rooms.Get([]byte(r.ID)) != nil || retired(tx, r.ID) {
			return ErrExists
		}
		return rooms.Put([]byte(r.ID), v)
	})
}

// retired reports whether id was a room's once (bucketRetired).
func retired(tx *bolt.Tx, id string) bool {
	b := tx.Bucket(bucketRetired)
	return b != nil && b.Get([]byte(id)) != nil
}

// retire records that id is no room's any more and never will be.
func retire(tx *bolt.Tx, id []byte) error {
	b, err := tx.CreateBucketIfNotExists(bucketRetired)
	if err != nil {
		return err
	}
	return b.Put(id, []byte{1})
}

// UpdateRoom replaces a room, under the same id or (rotation) a new one, in one
// transaction: no reader and no crash sees both ids or neither. ErrNotFound if oldID is
// gone, ErrExists if a new id is taken.
func (b *Bolt) UpdateRoom(_ context.Context, oldID string, r Room) error {
	v, err := encodeRoom(r)
	if err != nil {
		return err
	}
	// Only a password's hash replaced is scrubbed away (an offline guess's target); the
	// rest of a replaced record is the new one's (a rotated-away id is kept as retired
	// anyway, an old title is ciphertext under the room's key), and a scrub per change of
	// settings would rewrite the file for nothing.
	var replacedPassword bool
	err = b.update(func(tx *bolt.Tx) error {
		rooms := tx.Bucket(bucketRooms)
		stored := rooms.Get([]byte(oldID))
		if stored == nil {
			return ErrNotFound
		}
		// A record that does not decode is replaced, and scrubbed away to be sure.
		old, err := decodeRoomAt([]byte(oldID), stored)
		replacedPassword = err != nil || old.PasswordHash != "" && old.PasswordHash != r.PasswordHash
		if r.ID != oldID {
			if rooms.Get([]byte(r.ID)) != nil || retired(tx, r.ID) {
				return ErrExists
			}
			if err := rooms.Delete([]byte(oldID)); err != nil {
				return err
			}
			if err := retire(tx, []byte(oldID)); err != nil {
				return err
			}
		}
		return rooms.Put([]byte(r.ID), v)
	})
	if replacedPassword {
		return b.scrubbed(err)
	}
	return err
}

// DeleteRoom removes a room; ErrNotFound if there is none.
func (b *Bolt) DeleteRoom(_ context.Context, id string) error {
	return b.scrubbed(b.update(func(tx *bolt.Tx) error {
		rooms := tx.Bucket(bucketRooms)
		if rooms.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		if err := rooms.Delete([]byte(id)); err != nil {
			return err
		}
		return retire(tx, []byte(id))
	}))
}

// DeleteExpired removes every room expired at now and returns their ids, sorted.
func (b *Bolt) DeleteExpired(_ context.Context, now time.Time) ([]string, error) {
	// The janitor asks every few seconds and mostly nothing has expired: find out in a
	// read transaction, so that the common case writes (and fsyncs) nothing.
	expired := func(tx *bolt.Tx) ([][]byte, error) {
		var keys [][]byte
		err := tx.Bucket(bucketRooms).ForEach(func(k, v []byte) error {
			r, err := decodeRoomAt(k, v)
			if err == nil && r.Expired(now) {
				keys = append(keys, bytes.Clone(k))
			}
			return err
		})
		return keys, err
	}
	var found [][]byte
	if err := b.view(func(tx *bolt.Tx) (err error) {
		found, err = expired(tx)
		return err
	}); err != nil || len(found) == 0 {
		return nil, err
	}
	var gone []string
	err := b.update(func(tx *bolt.Tx) error {
		gone = gone[:0]          // a retried function starts over
		keys, err := expired(tx) // again: a room may have changed meanwhile
		if err != nil {
			return err
		}
		// Deleting while iterating with ForEach skips keys; delete afterwards.
		for _, k := range keys {
			if err := tx.Bucket(bucketRooms).Delete(k); err != nil {
				return err
			}
			if err := retire(tx, k); err != nil {
				return err
			}
			gone = append(gone, string(k))
		}
		return nil
	})
	if err := b.scrubbed(err); err != nil {
		return nil, err
	}
	slices.Sort(gone)
	return gone, nil
}
