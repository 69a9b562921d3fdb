package builder

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/fsutil"
)

// The step cache is one small file per step key under GRAPHROOT/hutch-build/steps:
// what the step changed in the stage's state (its history entry, the variables and
// labels it set, its top layer), against the state before it. A step's key is made of
// the key of the state before it, so a hit is always found with that state at hand, and
// the entry is applied to it: no container, mount or process. An entry stays the size of
// its step, however long the Dockerfile (a full copy of the configuration per step made
// 10,000 ENV lines cost gigabytes).
//
// The key of the state after a step (stateKey, kept in the entry) is the step's key and
// the ID of the configuration it gave, not the step's key alone: two builds whose step
// gave different results (a RUN's output, its time) store two entries for the next step,
// one under each state. A step key has one entry, the one stored last (as Docker takes
// the newest of equal candidates); whichever it is, the steps after it follow entries
// stored after that same result, so a fully cached build gives the image of a build that
// ran, never one with a step of one build on a step of another (a third image whose
// layers are not those its configuration lists).
//
// Entries are indexed by their layer (steps/layers/LAYER/KEY, empty files), so that
// when a layer goes (`hutch image prune`), the entries that lead to it go too, at the
// cost of what is removed, not of the whole cache. The layers themselves stay
// referenced by the intermediate images written for each layer step (hidden from
// `hutch images`, removed by `hutch image prune` once no image is built on them); an
// entry whose layer is gone is a miss.
//
// GRAPHROOT/hutch-build/cache is the previous layout (a full state per step): never
// read, counted by `system df` and removed by every prune.

const (
	stepsDir  = "steps"
	layersDir = "layers"
	legacyDir = "cache"
)

// entry is one step's cache entry: its change to the state before it (parent).
type entry struct {
	Parent string `json:"parent"`
	// State is the key of the state after the step (stateKey): the next step's key is
	// made of it. An entry without one (written before it was kept) is a miss.
	State  string `json:"state"`
	Layer  string `json:"layer,omitempty"`
	CmdSet bool   `json:"cmdSet,omitempty"`
	// Base is the configuration after the step without its history, layer digests,
	// environment and labels, which are kept as changes below.
	Base        images.Config    `json:"base"`
	HistoryFrom int              `json:"historyFrom"`
	History     []images.History `json:"history,omitempty"`
	DiffIDsFrom int              `json:"diffIDsFrom"`
	DiffIDs     []digest.Digest  `json:"diffIDs,omitempty"`
	// Env are the variables the step set (KEY=VALUE: replaced in place or appended);
	// with EnvFull, the whole environment.
	Env     []string `json:"env,omitempty"`
	EnvFull bool     `json:"envFull,omitempty"`
	// Labels the step set; with LabelsFull, all of them.
	Labels     map[string]string `json:"labels,omitempty"`
	LabelsFull bool              `json:"labelsFull,omitempty"`
}

// snapshot is what a step's entry is computed against: the state before the step (its
// environment and labels copied, since the step may change them in place).
type snapshot struct {
	key            string
	history, diffs int
	env            []string
	labels         map[string]string
}

func snapshotOf(st *state) snapshot {
	s := snapshot{key: st.key, history: len(st.Config.History), diffs: len(st.Config.RootFS.DiffIDs),
		env: append([]string(nil), st.Config.Config.Env...), labels: make(map[string]string, len(st.Config.Config.Labels))}
	for k, v := range st.Config.Config.Labels {
		s.labels[k] = v
	}
	return s
}

// diff is the entry that takes the state p to st.
func diff(p snapshot, st *state) *entry {
	c := st.Config
	e := &entry{Parent: p.key, State: st.key, Layer: st.Layer, CmdSet: st.CmdSet, Base: c}
	e.Base.History, e.Base.RootFS.DiffIDs, e.Base.Config.Env, e.Base.Config.Labels = nil, nil, nil, nil
	if c.RootFS.DiffIDs != nil && len(c.RootFS.DiffIDs) == 0 {
		e.Base.RootFS.DiffIDs = []digest.Digest{} // "diff_ids": [], not null: the image's ID depends on it
	}
	e.HistoryFrom, e.History = p.history, c.History[min(p.history, len(c.History)):]
	if len(c.History) < p.history {
		e.HistoryFrom, e.History = 0, c.History
	}
	e.DiffIDsFrom, e.DiffIDs = p.diffs, c.RootFS.DiffIDs[min(p.diffs, len(c.RootFS.DiffIDs)):]
	if len(c.RootFS.DiffIDs) < p.diffs {
		e.DiffIDsFrom, e.DiffIDs = 0, c.RootFS.DiffIDs
	}
	had := make(map[string]bool, len(p.env))
	for _, kv := range p.env {
		had[kv] = true
	}
	for _, kv := range c.Config.Env {
		if !had[kv] {
			e.Env = append(e.Env, kv)
		}
	}
	if !equalStrings(applyEnv(p.env, e.Env), c.Config.Env) {
		e.Env, e.EnvFull = c.Config.Env, true
	}
	for k, v := range c.Config.Labels {
		if pv, ok := p.labels[k]; !ok || pv != v {
			if e.Labels == nil {
				e.Labels = map[string]string{}
			}
			e.Labels[k] = v
		}
	}
	for k := range p.labels {
		if _, ok := c.Config.Labels[k]; !ok {
			e.Labels, e.LabelsFull = c.Config.Labels, true
			break
		}
	}
	return e
}

// apply makes the state after the step from the state before it, st; false when the
// entry does not fit it.
func (e *entry) apply(st *state) (images.Config, bool) {
	c := st.Config
	if e.Parent != st.key || e.State == "" || e.HistoryFrom > len(c.History) || e.DiffIDsFrom > len(c.RootFS.DiffIDs) {
		return images.Config{}, false
	}
	out := e.Base
	out.History = append(append(make([]images.History, 0, e.HistoryFrom+len(e.History)), c.History[:e.HistoryFrom]...), e.History...)
	if e.DiffIDsFrom+len(e.DiffIDs) > 0 {
		out.RootFS.DiffIDs = append(append(make([]digest.Digest, 0, e.DiffIDsFrom+len(e.DiffIDs)), c.RootFS.DiffIDs[:e.DiffIDsFrom]...), e.DiffIDs...)
	}
	if e.EnvFull {
		out.Config.Env = e.Env
	} else {
		out.Config.Env = applyEnv(c.Config.Env, e.Env)
	}
	switch {
	case e.LabelsFull:
		out.Config.Labels = e.Labels
	case len(c.Config.Labels)+len(e.Labels) > 0:
		out.Config.Labels = make(map[string]string, len(c.Config.Labels)+len(e.Labels))
		for k, v := range c.Config.Labels {
			out.Config.Labels[k] = v
		}
		for k, v := range e.Labels {
			out.Config.Labels[k] = v
		}
	}
	return out, true
}

// applyEnv sets each KEY=VALUE of set in env: in place when KEY is there, else at the
// end (as ENV does). env itself is not changed.
func applyEnv(env, set []string) []string {
	if len(set) == 0 {
		return env
	}
	out := append(make([]string, 0, len(env)+len(set)), env...)
	at := make(map[string]int, len(out))
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		at[k] = i
	}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := at[k]; ok {
			out[i] = kv
		} else {
			at[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func stepsRoot(graphRoot string) string { return filepath.Join(graphRoot, "hutch-build", stepsDir) }

func entryPath(steps, key string) string { return filepath.Join(steps, key[:2], key) }

func (b *Builder) cachePath(key string) string {
	return entryPath(filepath.Join(b.root, stepsDir), key)
}

// lookup returns the state after the step key, applied to st (the state before it), or
// nil on a miss.
func (b *Builder) lookup(key string, st *state) *state {
	data, err := os.ReadFile(b.cachePath(key))
	if err != nil {
		return nil
	}
	var e entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil
	}
	if e.Layer != "" && !b.layerExists(e.Layer) {
		_ = os.Remove(b.cachePath(key))
		return nil
	}
	cfg, ok := e.apply(st)
	if !ok {
		return nil
	}
	return &state{Config: cfg, Layer: e.Layer, CmdSet: e.CmdSet, key: e.State}
}

// stateKey is the key of the state a step (its key stepKey) left: the step's key and
// the ID of the configuration it gave (its history, layers' diffIDs and settings).
func stateKey(stepKey, configID string) string {
	return hashKey("state", stepKey, configID)
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

// save records what the step key changed (from the state p to st); a failure only costs
// a later cache miss. The entry is indexed under its layer first, so that no entry is
// ever left out of the index.
func (b *Builder) save(key string, p snapshot, st *state) {
	data, err := json.Marshal(diff(p, st))
	if err != nil {
		return
	}
	steps := filepath.Join(b.root, stepsDir)
	if st.Layer != "" {
		idx := filepath.Join(steps, layersDir, st.Layer)
		if err := os.MkdirAll(idx, 0o700); err != nil {
			return
		}
		if err := os.WriteFile(filepath.Join(idx, key), nil, 0o600); err != nil {
			return
		}
	}
	path := entryPath(steps, key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	_ = fsutil.ReplaceFile(path, data, 0o600)
}

// CacheUsage is the step cache's share of `hutch system df`.
type CacheUsage struct {
	Entries int   // step entries (the previous layout's too)
	Size    int64 // their bytes
}

// Usage counts the step cache's entries and their size.
func Usage(graphRoot string) (CacheUsage, error) {
	var u CacheUsage
	for _, dir := range []string{stepsRoot(graphRoot), filepath.Join(graphRoot, "hutch-build", legacyDir)} {
		err := walkEntries(dir, func(path string, fi fs.FileInfo) error {
			u.Entries++
			u.Size += fi.Size()
			return nil
		})
		if err != nil {
			return u, err
		}
	}
	return u, nil
}

// walkEntries calls fn for each entry file under dir (the index left out).
func walkEntries(dir string, fn func(string, fs.FileInfo) error) error {
	subs, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if !sub.IsDir() || sub.Name() == layersDir {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(dir, sub.Name()))
		if err != nil {
			continue
		}
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if err := fn(filepath.Join(dir, sub.Name(), e.Name()), fi); err != nil {
				return err
			}
		}
	}
	return nil
}

// PruneOptions choose what PruneCache removes: with All every entry; with Until the
// entries written before it; otherwise the entries whose layers are gone.
type PruneOptions struct {
	All   bool
	Until time.Time
}

// PruneReport is what a prune of the step cache did.
type PruneReport struct {
	Removed int   // entries
	Freed   int64 // their bytes
	// Examined counts what the prune looked at: layer indexes, or entries with All or
	// Until (logged at --log-level debug: the work is the size of what is pruned).
	Examined int
}

// PruneCache removes step-cache entries (and the previous layout's, always). The
// caller holds the store lock.
func PruneCache(store cstorage.Store, o PruneOptions) (PruneReport, error) {
	var r PruneReport
	graphRoot := store.GraphRoot()
	steps := stepsRoot(graphRoot)
	remove := func(keep func(fs.FileInfo) bool) func(string, fs.FileInfo) error {
		return func(path string, fi fs.FileInfo) error {
			r.Examined++
			if keep(fi) {
				return nil
			}
			if os.Remove(path) == nil {
				r.Removed++
				r.Freed += fi.Size()
			}
			return nil
		}
	}
	none := func(fs.FileInfo) bool { return false }
	legacy := filepath.Join(graphRoot, "hutch-build", legacyDir)
	if _, err := os.Lstat(legacy); err == nil {
		if err := walkEntries(legacy, remove(none)); err != nil {
			return r, err
		}
		_ = os.RemoveAll(legacy)
	}
	switch {
	case o.All:
		if err := walkEntries(steps, remove(none)); err != nil {
			return r, err
		}
		_ = os.RemoveAll(steps)
	case !o.Until.IsZero():
		if err := walkEntries(steps, remove(func(fi fs.FileInfo) bool { return !fi.ModTime().Before(o.Until) })); err != nil {
			return r, err
		}
		pruneIndex(steps)
	default:
		stale, examined, err := staleEntries(store)
		r.Examined += examined
		if err != nil {
			return r, err
		}
		gone := map[string]bool{}
		for _, e := range stale {
			if fi, err := os.Lstat(e.path); err == nil && os.Remove(e.path) == nil {
				r.Removed++
				r.Freed += fi.Size()
			}
			gone[e.layer] = true
		}
		for l := range gone {
			_ = os.RemoveAll(filepath.Join(steps, layersDir, l))
		}
	}
	logrus.Debugf("build cache: examined %d, removed %d entries (%d bytes)", r.Examined, r.Removed, r.Freed)
	return r, nil
}

// pruneIndex drops the index's names of entries that are gone.
func pruneIndex(steps string) {
	idx := filepath.Join(steps, layersDir)
	layers, _ := os.ReadDir(idx)
	for _, l := range layers {
		keys, _ := os.ReadDir(filepath.Join(idx, l.Name()))
		left := 0
		for _, k := range keys {
			if _, err := os.Lstat(entryPath(steps, k.Name())); err != nil {
				_ = os.Remove(filepath.Join(idx, l.Name(), k.Name()))
			} else {
				left++
			}
		}
		if left == 0 {
			_ = os.Remove(filepath.Join(idx, l.Name()))
		}
	}
}

type staleEntry struct{ path, layer string }

// staleEntries are the entries whose layer is gone from the store, found through the
// index: the work is one look per indexed layer and one read per entry it names. A gone
// layer's index may name a key whose entry another build has stored since, with a layer
// of its own (a step key has one entry, the last stored): that entry is not stale, only
// the index's name of it is.
func staleEntries(store cstorage.Store) ([]staleEntry, int, error) {
	steps := stepsRoot(store.GraphRoot())
	idx := filepath.Join(steps, layersDir)
	dirs, err := os.ReadDir(idx)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	layers, err := store.Layers()
	if err != nil {
		return nil, 0, err
	}
	have := make(map[string]bool, len(layers))
	for _, l := range layers {
		have[l.ID] = true
	}
	var out []staleEntry
	for _, d := range dirs {
		if have[d.Name()] {
			continue
		}
		keys, _ := os.ReadDir(filepath.Join(idx, d.Name()))
		found := false
		for _, k := range keys {
			p := entryPath(steps, k.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			var e entry
			if json.Unmarshal(data, &e) == nil && e.Layer != d.Name() {
				continue // stored since by another build (a damaged entry goes)
			}
			out = append(out, staleEntry{p, d.Name()})
			found = true
		}
		if !found {
			out = append(out, staleEntry{layer: d.Name()}) // only the index is left
		}
	}
	return out, len(dirs), nil
}

// StaleCache lists the step-cache entries that lead to layers gone from the store, for
// `hutch system check`. The caller holds the store lock.
func StaleCache(store cstorage.Store) ([]string, error) {
	stale, _, err := staleEntries(store)
	var out []string
	for _, e := range stale {
		if e.path != "" {
			out = append(out, e.path)
		}
	}
	return out, err
}

// Record is one step-cache entry, for `system df -v`.
type Record struct {
	Key     string
	Size    int64
	Created time.Time
}

// Records lists the step cache's entries (the previous layout's too).
func Records(graphRoot string) ([]Record, error) {
	var out []Record
	for _, dir := range []string{stepsRoot(graphRoot), filepath.Join(graphRoot, "hutch-build", legacyDir)} {
		err := walkEntries(dir, func(path string, fi fs.FileInfo) error {
			out = append(out, Record{Key: filepath.Base(path), Size: fi.Size(), Created: fi.ModTime()})
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
