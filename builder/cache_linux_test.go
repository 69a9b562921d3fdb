package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/images"
)

// A step's entry applied to the state before it gives the state after it, byte for
// byte (the image's ID), for every kind of change a step makes.
func TestCacheEntryRoundTrip(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	base := images.Config{Created: &now, Architecture: "amd64", OS: "linux",
		Config:  images.ContainerConfig{Env: []string{"PATH=/bin", "A=1"}, Labels: map[string]string{"x": "1"}, Cmd: []string{"sh"}},
		RootFS:  images.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString("l1")}},
		History: []images.History{{Created: &now, CreatedBy: "base"}}}
	steps := []func(c *images.Config){
		func(c *images.Config) { c.Config.Env = append(c.Config.Env, "B=2") },               // ENV new
		func(c *images.Config) { c.Config.Env[1] = "A=changed" },                            // ENV replace, in place
		func(c *images.Config) { c.Config.Labels["y"] = "2" },                               // LABEL
		func(c *images.Config) { delete(c.Config.Labels, "x") },                             // a label gone
		func(c *images.Config) { c.Config.Env = []string{"ONLY=1"} },                        // the environment replaced
		func(c *images.Config) { c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, "sha256:ab") }, // a layer
		func(c *images.Config) { c.Config.Cmd = []string{"true"}; c.Config.WorkingDir = "/w" },
		func(c *images.Config) { c.RootFS.DiffIDs = []digest.Digest{} },
		func(c *images.Config) { c.Config.Labels = nil },
	}
	for i, step := range steps {
		var before images.Config
		b, _ := json.Marshal(base)
		_ = json.Unmarshal(b, &before)
		st := &state{Config: before, key: fmt.Sprint("parent", i)}
		snap := snapshotOf(st)
		step(&st.Config)
		later := now.Add(time.Duration(i) * time.Second)
		st.Config.History = append(st.Config.History, images.History{Created: &later, CreatedBy: fmt.Sprint("step", i), EmptyLayer: true})
		want := configID(&st.Config)
		st.key = stateKey(fmt.Sprint("step", i), want)
		e := diff(snap, st)
		data, _ := json.Marshal(e)
		var read entry
		if err := json.Unmarshal(data, &read); err != nil {
			t.Fatal(err)
		}
		var parent images.Config
		_ = json.Unmarshal(b, &parent)
		got, ok := read.apply(&state{Config: parent, key: fmt.Sprint("parent", i)})
		if !ok || configID(&got) != want {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(st.Config)
			t.Fatalf("step %d: applied %s\nwant %s", i, g, w)
		}
		if _, ok := read.apply(&state{Config: parent, key: "another"}); ok {
			t.Fatalf("step %d: the entry applied to another parent", i)
		}
		// An entry of the layout before states were kept names no state after it.
		read.State = ""
		if _, ok := read.apply(&state{Config: parent, key: fmt.Sprint("parent", i)}); ok {
			t.Fatalf("step %d: an entry without the state after it applied", i)
		}
	}
}

// An entry stays the size of its step however long the history before it is.
func TestCacheEntrySize(t *testing.T) {
	now := time.Now()
	c := images.Config{Config: images.ContainerConfig{Labels: map[string]string{}}}
	for i := 0; i < 5000; i++ {
		c.Config.Env = append(c.Config.Env, fmt.Sprintf("V%d=%d", i, i))
		c.Config.Labels[fmt.Sprint("l", i)] = "v"
		c.History = append(c.History, images.History{Created: &now, CreatedBy: "ENV something long enough"})
	}
	st := &state{Config: c, key: "k"}
	snap := snapshotOf(st)
	st.Config.Config.Env = append(st.Config.Config.Env, "NEW=1")
	st.Config.History = append(st.Config.History, images.History{Created: &now, CreatedBy: "ENV NEW=1"})
	data, _ := json.Marshal(diff(snap, st))
	if len(data) > 1024 {
		t.Fatalf("the entry of one ENV after 5000 is %d bytes: %s", len(data), data)
	}
}

// layersStore is a store that has a graph root and the layers listed, no more.
type layersStore struct {
	cstorage.Store
	root   string
	layers []string
}

func (s layersStore) GraphRoot() string { return s.root }

func (s layersStore) Layer(id string) (*cstorage.Layer, error) {
	for _, l := range s.layers {
		if l == id {
			return &cstorage.Layer{ID: id}, nil
		}
	}
	return nil, cstorage.ErrLayerUnknown
}

func (s layersStore) Layers() ([]cstorage.Layer, error) {
	var out []cstorage.Layer
	for _, id := range s.layers {
		out = append(out, cstorage.Layer{ID: id})
	}
	return out, nil
}

// A step key has one entry, the one stored last: when the layer of an entry it replaced
// goes, the prune keeps the entry (another build's, on a layer still there) and drops
// only the gone layer's index; once its own layer goes, the entry goes too.
func TestPruneKeepsEntryStoredSince(t *testing.T) {
	s := layersStore{root: t.TempDir(), layers: []string{"layer-b"}}
	b := New(s, Options{File: &File{}})
	for _, l := range []string{"layer-a", "layer-b"} { // build a stored first, build b since
		st := &state{key: stateKey("step", l), Layer: l, Config: images.Config{RootFS: images.RootFS{Type: "layers"}}}
		b.save("0123456789", snapshotOf(&state{key: "parent"}), st)
	}
	r, err := PruneCache(s, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Removed != 0 {
		t.Fatalf("the prune of layer-a's entries removed %d entries: the key's entry is layer-b's", r.Removed)
	}
	if hit := b.lookup("0123456789", &state{key: "parent"}); hit == nil || hit.Layer != "layer-b" {
		t.Fatalf("after the prune the entry is %+v, want layer-b's", hit)
	}
	if _, err := os.Stat(filepath.Join(stepsRoot(s.root), layersDir, "layer-a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the index of the gone layer-a is left: %v", err)
	}
	s.layers = nil
	r, err = PruneCache(s, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Removed != 1 {
		t.Fatalf("the prune after layer-b went removed %d entries, want 1", r.Removed)
	}
}
