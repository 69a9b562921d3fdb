package builder

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/internal/fsutil"
)

// The step cache is one small file per step key under GRAPHROOT/hutch-build/cache:
// the stage's state after the step (configuration with history, top layer). A hit
// needs no container, mount or process: the state is read and the build moves on. The
// layers stay referenced by the intermediate images written for each layer step
// (hidden from `hutch images`, removed by `hutch image prune` once no image is built
// on them); an entry whose layer is gone is a miss.

func (b *Builder) cachePath(key string) string {
	return filepath.Join(b.root, "cache", key[:2], key)
}

// lookup returns the cached state for key, or nil.
func (b *Builder) lookup(key string) *state {
	data, err := os.ReadFile(b.cachePath(key))
	if err != nil {
		return nil
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil
	}
	if st.Layer != "" && !b.layerExists(st.Layer) {
		_ = os.Remove(b.cachePath(key))
		return nil
	}
	return &st
}

func (b *Builder) layerExists(id string) bool {
	if b.known[id] {
		return true
	}
	if _, err := b.store.Layer(id); err != nil {
		return false
	}
	b.known[id] = true
	return true
}

// save records the state after a step; a failure only costs a later cache miss.
func (b *Builder) save(key string, st *state) {
	data, err := json.Marshal(st)
	if err != nil {
		return
	}
	p := b.cachePath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	_ = fsutil.ReplaceFile(p, data, 0o600)
}

// PruneCache removes the step-cache entries whose layers are gone from the store (after
// `hutch image prune` removed the intermediate images that held them) and returns how
// many it removed. The caller holds the store lock.
func PruneCache(store cstorage.Store) (int, error) {
	stale, err := StaleCache(store)
	n := 0
	for _, p := range stale {
		if os.Remove(p) == nil {
			n++
		}
	}
	return n, err
}

// StaleCache lists the step-cache entries that no longer lead anywhere: damaged ones,
// and those whose layer is gone from the store. The caller holds the store lock.
func StaleCache(store cstorage.Store) ([]string, error) {
	dir := filepath.Join(store.GraphRoot(), "hutch-build", "cache")
	subs, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	layers, err := store.Layers()
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(layers))
	for _, l := range layers {
		have[l.ID] = true
	}
	var out []string
	for _, sub := range subs {
		entries, err := os.ReadDir(filepath.Join(dir, sub.Name()))
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := filepath.Join(dir, sub.Name(), e.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			var st state
			if json.Unmarshal(data, &st) != nil || (st.Layer != "" && !have[st.Layer]) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}
