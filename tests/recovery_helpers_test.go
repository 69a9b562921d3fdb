package tests

// Helpers of the recovery tests (recovery_test.go, crash_test.go, fulldisk_test.go):
// `hutch system check` and its JSON, and the damage a crash leaves, made by hand (as
// root, in the test user's files, while no hutch runs).

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkJSON is `hutch system check --format json`.
type checkJSON struct {
	Checked  []string `json:"Checked"`
	Problems []struct {
		Kind     string `json:"Kind"`
		ID       string `json:"ID"`
		Name     string `json:"Name"`
		Found    string `json:"Found"`
		Repair   string `json:"Repair"`
		Repaired bool   `json:"Repaired"`
		Error    string `json:"Error"`
	} `json:"Problems"`
	Repair    bool `json:"Repair"`
	Remaining int  `json:"Remaining"`
}

// has tells whether the report lists a problem of kind whose ID, name or text contains s.
func (c checkJSON) has(kind, s string) bool {
	for _, p := range c.Problems {
		if p.Kind == kind && (strings.Contains(p.ID, s) || p.Name == s || strings.Contains(p.Found, s)) {
			return true
		}
	}
	return false
}

func (c checkJSON) String() string {
	b, _ := json.MarshalIndent(c, "", "  ")
	return string(b)
}

// check runs `hutch system check --format json ARGS…` and returns the report and the
// run; the exit status is 0 exactly when the report says clean.
func (sb *sandbox) check(args ...string) (checkJSON, result) {
	sb.t.Helper()
	r := sb.run(runOpts{}, append([]string{"system", "check", "--format", "json"}, args...)...)
	var c checkJSON
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		sb.t.Fatalf("system check --format json printed no report (%v):\n%s", err, r)
	}
	clean := len(c.Problems) == 0
	if c.Repair {
		clean = c.Remaining == 0
		for _, p := range c.Problems {
			clean = clean && p.Repaired
		}
	}
	if (r.code == 0) != clean || (r.code != 0 && r.code != 1) {
		sb.t.Fatalf("system check exited %d for a report that is clean=%v (want 0 clean, 1 not):\n%s", r.code, clean, r)
	}
	return c, r
}

// assertCheckClean fails unless `hutch system check ARGS…` finds nothing.
func assertCheckClean(t *testing.T, sb *sandbox, after string, args ...string) {
	t.Helper()
	if c, r := lcAt(sb, t).check(args...); r.code != 0 {
		t.Fatalf("after %s, system check %s found problems:\n%s", after, strings.Join(args, " "), c)
	}
}

// recordsDir is where hutch keeps its container records.
func (sb *sandbox) recordsDir() string { return filepath.Join(sb.graphRoot(), "hutch-containers") }

// chownTree gives a tree made by root to the sandbox's user.
func (sb *sandbox) chownTree(p string) {
	sb.t.Helper()
	err := filepath.Walk(p, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, sb.user.uid, sb.user.gid)
	})
	if err != nil {
		sb.t.Fatal(err)
	}
}

func randomHexID(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// ghostRecord writes a container record named name, copied from container fromID's, for
// a new ID the store has no entry for: what a removal cut short between the store entry
// and the records left (as hutch before the records-first removal did). It returns the ID.
func (sb *sandbox) ghostRecord(fromID, name string) string {
	sb.t.Helper()
	id := randomHexID(sb.t)
	b, err := os.ReadFile(filepath.Join(sb.recordsDir(), fromID, "config.json"))
	if err != nil {
		sb.t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		sb.t.Fatal(err)
	}
	cfg["Id"], cfg["Name"] = id, name
	if o, ok := cfg["Options"].(map[string]any); ok {
		o["Name"] = name
	}
	out, _ := json.Marshal(cfg)
	dir := filepath.Join(sb.recordsDir(), id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o600); err != nil {
		sb.t.Fatal(err)
	}
	sb.chownTree(dir)
	return id
}

// dropRecord deletes a container's records and keeps its store entry: what a removal
// (or creation) cut short between the two leaves.
func (sb *sandbox) dropRecord(id string) {
	sb.t.Helper()
	if err := os.RemoveAll(filepath.Join(sb.recordsDir(), id)); err != nil {
		sb.t.Fatal(err)
	}
}

// dropImageRecord removes an image from the store's images.json, keeping its layers:
// what an image removal cut short between the two leaves.
func (sb *sandbox) dropImageRecord(driver, imageID string) {
	sb.t.Helper()
	p := filepath.Join(sb.graphRoot(), driver+"-images", "images.json")
	b, err := os.ReadFile(p)
	if err != nil {
		sb.t.Fatal(err)
	}
	var all []map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		sb.t.Fatal(err)
	}
	var kept []map[string]any
	for _, img := range all {
		if img["id"] != imageID {
			kept = append(kept, img)
		}
	}
	if len(kept) != len(all)-1 {
		sb.t.Fatalf("images.json has no image %s", imageID)
	}
	out, _ := json.Marshal(kept)
	if err := os.WriteFile(p, out, 0o600); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.Chown(p, sb.user.uid, sb.user.gid); err != nil {
		sb.t.Fatal(err)
	}
}

// storeDriver is the driver's name as go.podman.io/storage spells it in its folders.
func (sb *sandbox) storeDriver() string {
	sb.t.Helper()
	if sb.info().Store.Driver.Name == "vfs" {
		return "vfs"
	}
	return "overlay"
}

// userDir makes a directory (and parents) owned by the sandbox's user.
func (sb *sandbox) userDir(p string) {
	sb.t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		sb.t.Fatal(err)
	}
	sb.chownTree(p)
}

// userFile writes a file owned by the sandbox's user (its directory must exist).
func (sb *sandbox) userFile(p, content string) {
	sb.t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.Chown(p, sb.user.uid, sb.user.gid); err != nil {
		sb.t.Fatal(err)
	}
}
