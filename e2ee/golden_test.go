package e2ee

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// golden checks that the vector file at path is exactly what the generator made (gen),
// rewriting it first with -update, and returns the file's contents: the JavaScript
// tests read the same file, so what they check is what the Go reference produces.
func golden[T any](t *testing.T, path, testName string, gen T) T {
	t.Helper()
	if *update {
		out, err := json.MarshalIndent(gen, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var file T
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./e2ee -run %s -update)", err, testName)
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(file, gen) {
		t.Fatalf("testdata/%s differs from what the generator makes; if intended: go test ./e2ee -run %s -update", filepath.Base(path), testName)
	}
	return file
}
