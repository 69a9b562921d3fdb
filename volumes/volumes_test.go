package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Create makes a whole volume in one rename; Remove renames it out of sight before
// deleting it and clears what earlier removals and creations cut short left.
func TestCreateRemoveAndLeftovers(t *testing.T) {
	s := &Store{Dir: filepath.Join(t.TempDir(), "volumes")}
	v, err := s.Create("data", map[string]string{"a": "b"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Fatalf("the volume's data directory: %v", err)
	}
	if again, err := s.Create("data", nil, nil, false); err != nil || again.Labels["a"] != "b" {
		t.Fatalf("Create of an existing volume: %+v, %v", again, err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// What cut-short operations left: a removal's renamed directory, an old creation's,
	// and a volume directory without its record (an older hutch's removal).
	for _, d := range []string{".removing-old-123", ".creating-new-456", "norecord/_data"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{".creating-new-456", "norecord"} {
		if err := os.Chtimes(filepath.Join(s.Dir, d), old, old); err != nil {
			t.Fatal(err)
		}
	}
	left, err := s.Leftovers(time.Minute)
	if err != nil || len(left) != 3 {
		t.Fatalf("Leftovers = %+v, %v; want 3", left, err)
	}
	if vs, _ := s.List(); len(vs) != 1 || vs[0].Name != "data" {
		t.Fatalf("List shows leftovers: %+v", vs)
	}
	if err := s.Remove("data", []string{"web"}, false); !errors.Is(err, ErrInUse) {
		t.Fatalf("Remove of a volume in use: %v", err)
	}
	// norecord is finished by name, and the rest goes with the next removal.
	if err := s.Remove("norecord", nil, false); err != nil {
		t.Fatalf("Remove of a volume without its record: %v", err)
	}
	if err := s.Remove("data", nil, false); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(s.Dir); len(es) != 0 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Fatalf("left in the volumes directory: %v", names)
	}
	if err := s.Remove("data", nil, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove of a removed volume: %v", err)
	}
}
