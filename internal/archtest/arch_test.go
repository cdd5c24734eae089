// Package archtest keeps the import graph the way DESIGN.md draws it:
// cmd → signaling → {sfu, lobby, e2ee, secret, store}, cmd → {web, secret, store, turn, metrics, e2ee, connlimit};
// sfu imports only connlimit, rawstream and addrgroup, turn only connlimit and rawstream,
// connlimit and secret only addrgroup; addrgroup, rawstream, lobby, e2ee, store, metrics
// and web import nothing of ours; among the server's packages only sfu imports Pion, except that turn imports
// pion/turn (and its stun and logging helpers).
package archtest

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	return goList[pkg](t, nil, "-json", "conclave/...")
}

// goList runs `go list` with args (and env added to the environment) in the module's
// root and decodes each package it prints into a T.
func goList[T any](t *testing.T, env []string, args ...string) []T {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []T
	dec := json.NewDecoder(out)
	for {
		var p T
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// allowed lists, for each server package, the packages of ours it may import.
var allowed = map[string][]string{
	"conclave/cmd/conclave": {"conclave/signaling", "conclave/sfu", "conclave/web", "conclave/secret", "conclave/lobby", "conclave/store", "conclave/turn", "conclave/metrics", "conclave/e2ee", "conclave/connlimit"},
	"conclave/signaling":    {"conclave/sfu", "conclave/lobby", "conclave/e2ee", "conclave/secret", "conclave/store"},
	"conclave/store":        {},
	"conclave/secret":       {"conclave/addrgroup"},
	"conclave/sfu":          {"conclave/connlimit", "conclave/rawstream", "conclave/addrgroup"},
	"conclave/lobby":        {},
	"conclave/e2ee":         {},
	"conclave/web":          {},
	"conclave/turn":         {"conclave/connlimit", "conclave/rawstream"},
	// connlimit bounds the connections of the TCP ports anyone can reach (the web
	// port, ICE-TCP, TURN over TCP and TLS): a leaf cmd, sfu and turn share.
	"conclave/connlimit": {"conclave/addrgroup"},
	// rawstream reads and writes TCP connections with raw system calls (ICE-TCP,
	// TURN over TCP and TLS): a leaf sfu and turn share.
	"conclave/rawstream": {},
	// addrgroup names the group an address is counted in wherever a bound is per
	// source (secret, connlimit, sfu): one leaf, so that every bound draws the same
	// lines.
	"conclave/addrgroup": {},
	// metrics reads snapshots through functions cmd wires, so it needs none of ours.
	"conclave/metrics": {},
}

// pionAllowed lists, for each server package, the Pion modules it may import: sfu all
// of them (WebRTC), turn only the TURN server and the pieces its API is made of.
var pionAllowed = map[string][]string{
	"conclave/turn": {"github.com/pion/turn/v5", "github.com/pion/stun/v4", "github.com/pion/logging"},
}

func TestImportDirection(t *testing.T) {
	seen := 0
	for _, p := range listPackages(t) {
		ours, isServer := allowed[p.ImportPath]
		if !isServer {
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "conclave/") && !contains(ours, imp) {
				t.Errorf("%s imports %s, which DESIGN.md does not allow", p.ImportPath, imp)
			}
			if strings.HasPrefix(imp, "github.com/pion/") && p.ImportPath != "conclave/sfu" && !contains(pionAllowed[p.ImportPath], imp) {
				t.Errorf("%s imports Pion (%s); only sfu may, and turn only pion/turn and its helpers", p.ImportPath, imp)
			}
		}
	}
	if seen < 4 {
		t.Fatalf("found only %d server packages; is the module layout intact?", seen)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
