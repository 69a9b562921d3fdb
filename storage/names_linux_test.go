package storage

import (
	"os"
	"path/filepath"
	"testing"

	"hutch.dev/hutch/overlay"
)

// TestReadImageNames: the index read without opening the store lists what the store
// itself recorded (the library's on-disk format, as linked), and a missing store is empty.
func TestReadImageNames(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	graph := filepath.Join(root, "graph")
	if got, err := ReadImageNames(graph); err != nil || got != nil {
		t.Fatalf("a store not made yet: %v, %v", got, err)
	}
	s, err := openVFS(t, root, overlay.VFS)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := s.CreateLayer("", "", nil, "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.CreateImage("", []string{"localhost/demo:latest", "localhost/demo:v1"}, layer.ID, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateImage("", nil, layer.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	got, err := ReadImageNames(graph)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d images, want 2: %+v", len(got), got)
	}
	var found bool
	for _, r := range got {
		if r.ID == img.ID {
			found = len(r.Names) == 2 && r.Names[0] == "localhost/demo:latest" && r.Names[1] == "localhost/demo:v1"
		}
	}
	if !found {
		t.Fatalf("image %s with its two names not in %+v", img.ID, got)
	}
	// A damaged index is an error that names it, not an empty list.
	index := filepath.Join(graph, "vfs-images", "images.json")
	if err := os.WriteFile(index, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImageNames(graph); err == nil {
		t.Fatal("a damaged index read without an error")
	}
}
