package hold

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestRecordHeldUntilEnd(t *testing.T) {
	root := t.TempDir()
	r, err := Start(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Layer("l1", "", "l2"); err != nil {
		t.Fatal(err)
	}
	if err := r.Layer("l1"); err != nil { // once is enough
		t.Fatal(err)
	}
	b, err := Held(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"l1", "l2"} {
		if pid, ok := b.Holds(id); !ok || pid != os.Getpid() {
			t.Fatalf("layer %s: held %v by %d, want held by %d", id, ok, pid, os.Getpid())
		}
	}
	if _, ok := b.Holds(""); ok {
		t.Fatal("the empty layer ID is held")
	}
	if !b.Tokens[r.Token] || len(b.Tokens) != 1 {
		t.Fatalf("tokens %v, want only %s", b.Tokens, r.Token)
	}
	data, _ := os.ReadFile(filepath.Join(Dir(root), r.Token))
	if got, want := string(data), "pid "+strconv.Itoa(os.Getpid())+"\nl1\nl2\n"; got != want {
		t.Fatalf("record %q, want %q", got, want)
	}
	r.End()
	b, err = Held(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Layers) != 0 || len(b.Tokens) != 0 {
		t.Fatalf("after End: %+v", b)
	}
}

// A record nobody holds the flock of is a killed build's: it holds nothing, and the
// reader removes it.
func TestDeadRecordRemoved(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(Dir(root), 0o700); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(Dir(root), "0123456789abcdef")
	if err := os.WriteFile(dead, []byte("pid 1\nl1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Held(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Holds("l1"); ok || len(b.Tokens) != 0 {
		t.Fatalf("a dead build's record counts: %+v", b)
	}
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the dead record is still there: %v", err)
	}
}
