//go:build unix

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileOthersCouldWriteIsRefused: a configuration file another local user could
// have written is not read, neither named nor the default conclave.toml of the working
// directory (one planted in a shared working directory would otherwise add hosts that
// may create meetings, set the log level to debug, or move the data), nor by the host
// commands that move its hosts into the data directory.
func TestConfigFileOthersCouldWriteIsRefused(t *testing.T) {
	const planted = "log-level = \"debug\"\n\n[[host]]\nid = \"0123456789ab\"\nname = \"Planted\"\nkey_hash = '$hmac-sha256$x'\n"
	dir := t.TempDir()
	t.Chdir(dir)
	file := filepath.Join(dir, "conclave.toml")
	if err := os.WriteFile(file, []byte(planted), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o666, 0o620, 0o602} {
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"-config", file}, {}} {
			_, err := parseOptions(args, envOf(nil), io.Discard)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File == "" || !strings.Contains(err.Error(), "chmod go-w") {
				t.Errorf("mode %04o, args %v: %v, want the file refused", mode, args, err)
			}
		}
		if _, err := loadConfig(file); err == nil || !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("mode %04o: the host commands read it: %v", mode, err)
		}
	}
	if os.Geteuid() == 0 {
		// Another user's, though only its owner may write it.
		if err := os.Chmod(file, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(file, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		// Root is told to run the command as the file's owner (sudo conclave
		// privacy-report of the service user's file).
		if _, err := parseOptions([]string{"-config", file}, envOf(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "another user") || !strings.Contains(err.Error(), "sudo -u "+ownerName(65534)+" conclave") {
			t.Errorf("another user's file: %v, want it refused, naming sudo -u and its owner", err)
		}
		if err := os.Chown(file, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseOptions([]string{"-config", file}, envOf(nil), io.Discard); err != nil {
		t.Errorf("the process's own file, only it may write: %v", err)
	}
}

// TestConfigFileCheckedIsTheFileRead: the file whose owner and mode are checked is the
// one read. They were checked by name and the file then opened by name again, so a
// configuration file that is a link its maker points elsewhere (or one replaced in a
// directory others can write in) passed the check as a private file and was read as
// theirs: here a link flipping between the process's own file and one anyone may write.
func TestConfigFileCheckedIsTheFileRead(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own.toml")
	if err := os.WriteFile(own, []byte("log-level = \"info\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(dir, "planted.toml")
	if err := os.WriteFile(planted, []byte("log-level = \"debug\"\n\n[[host]]\nid = \"0123456789ab\"\nname = \"Planted\"\nkey_hash = '$hmac-sha256$x'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(planted, 0o666); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "conclave.toml")
	if err := os.Symlink(own, link); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tmp := filepath.Join(dir, "next")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			target := own
			if i%2 == 1 {
				target = planted
			}
			_ = os.Remove(tmp)
			if os.Symlink(target, tmp) == nil {
				_ = os.Rename(tmp, link)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for range 3000 {
		o, err := parseOptions([]string{"-config", link}, envOf(nil), io.Discard)
		if err == nil && o.logLevel == "debug" {
			t.Fatal("the file anyone may write was read after its link passed the check")
		}
		if c, err := loadConfig(link); err == nil && len(c.Hosts) > 0 {
			t.Fatal("the host commands read the file anyone may write after its link passed the check")
		}
	}
}
