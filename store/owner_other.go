//go:build !unix

package store

import "os"

// sameOwner: a file's owner is not a number to copy here; the new file is the process's.
func sameOwner(string, os.FileInfo) error { return nil }

// notPrivate: file modes and owners are not what decides access here; nothing to check.
func notPrivate(string, os.FileInfo, string) string { return "" }
