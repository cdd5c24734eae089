package store

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Host returns the host with that id, or ErrNotFound.
func (b *Bolt) Host(_ context.Context, id string) (Host, error) {
	var h Host
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketHosts).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		h, err = decodeHostAt([]byte(id), v)
		return err
	})
	return h, err
}

// Hosts lists every host, by name.
func (b *Bolt) Hosts(_ context.Context) ([]Host, error) {
	var out []Host
	err := b.view(func(tx *bolt.Tx) error {
		var err error
		out, err = allHosts(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Host) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func allHosts(tx *bolt.Tx) ([]Host, error) {
	out := []Host{}
	err := tx.Bucket(bucketHosts).ForEach(func(k, v []byte) error {
		h, err := decodeHostAt(k, v)
		out = append(out, h)
		return err
	})
	return out, err
}

// CreateHost adds a host; ErrExists if its id or name is taken.
func (b *Bolt) CreateHost(_ context.Context, h Host) error {
	return b.update(func(tx *bolt.Tx) error { return createHost(tx, h) })
}

func createHost(tx *bolt.Tx, h Host) error {
	v, err := encodeHost(h)
	if err != nil {
		return err
	}
	hosts, err := allHosts(tx)
	if err != nil {
		return err
	}
	for _, x := range hosts {
		if x.ID == h.ID || x.Name == h.Name {
			return ErrExists
		}
	}
	return tx.Bucket(bucketHosts).Put([]byte(h.ID), v)
}

// DeleteHost removes a host and every room it made, in one transaction; ErrNotFound if
// there is none.
func (b *Bolt) DeleteHost(_ context.Context, id string) error {
	return b.scrubbed(b.update(func(tx *bolt.Tx) error {
		hosts := tx.Bucket(bucketHosts)
		if hosts.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		if err := hosts.Delete([]byte(id)); err != nil {
			return err
		}
		rooms := tx.Bucket(bucketRooms)
		var theirs [][]byte
		if err := rooms.ForEach(func(k, v []byte) error {
			r, err := decodeRoomAt(k, v)
			if err == nil && r.HostID == id {
				theirs = append(theirs, bytes.Clone(k))
			}
			return err
		}); err != nil {
			return err
		}
		for _, k := range theirs {
			if err := rooms.Delete(k); err != nil {
				return err
			}
			// Another host who knows one of the links must not take its id over.
			if err := retire(tx, k); err != nil {
				return err
			}
		}
		return nil
	}))
}

// ImportHosts adds hosts (from the old configuration file) once: the first call adds
// those whose id and name are free and marks the store as imported; later calls change
// nothing and report done=false. So a host removed with `conclave host remove` does not
// come back from a configuration file that still lists it.
func (b *Bolt) ImportHosts(_ context.Context, hosts []Host) (added int, done bool, err error) {
	err = b.update(func(tx *bolt.Tx) error {
		added = 0
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyImported) != nil {
			return nil
		}
		for _, h := range hosts {
			switch err := createHost(tx, h); {
			case err == nil:
				added++
			case !errors.Is(err, ErrExists):
				return err
			}
		}
		done = true
		return meta.Put(keyImported, []byte("1"))
	})
	if err != nil {
		return 0, false, err
	}
	return added, done, nil
}
