package builder

import (
	"context"
	"testing"

	cstorage "go.podman.io/storage"
)

type rootOnlyStore struct {
	cstorage.Store
	root string
}

func (s rootOnlyStore) GraphRoot() string { return s.root }

// A name is looked up (and, with --pull=always, pulled) once per build: the cache key
// of a COPY --from=IMAGE and the files it copies come from the same image.
func TestImageFoundOncePerBuild(t *testing.T) {
	calls := 0
	o := Options{File: &File{}, Image: func(_ context.Context, ref string) (*cstorage.Image, error) {
		calls++
		return &cstorage.Image{ID: ref + "-" + string(rune('0'+calls))}, nil
	}}
	b := New(rootOnlyStore{root: t.TempDir()}, o)
	first, _ := b.o.Image(context.Background(), "alpine")
	again, _ := b.o.Image(context.Background(), "alpine")
	other, _ := b.o.Image(context.Background(), "busybox")
	if first.ID != "alpine-1" || again != first || other.ID != "busybox-2" || calls != 2 {
		t.Errorf("lookups: %s, %s, %s after %d calls; want alpine-1 twice, then busybox-2 after 2", first.ID, again.ID, other.ID, calls)
	}
}
