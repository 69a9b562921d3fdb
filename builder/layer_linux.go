package builder

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"hutch.dev/hutch/buildfs"
	"hutch.dev/hutch/internal/hold"
	"hutch.dev/hutch/storage"
)

// workPrefix names the writable layer a step works in; one left by a killed build is
// removed by the next (one that no running build holds: internal/hold).
const workPrefix = "hutch-build-work-"

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// layerStep makes one layer on top of st: a writable working layer is created on the
// parent and mounted, fn changes its root, and the change (the overlay's upper
// directory, as a tar) is normalised into a new read-only layer whose diffID the
// image records. The working layer is removed whatever happens.
func (b *Builder) layerStep(st *state, fn func(rootfs string) error) (retErr error) {
	t0 := time.Now()
	lap := func(what string) {
		logrus.Debugf("build step: %s at %v", what, time.Since(t0))
	}
	defer lap("done")
	work, err := b.store.CreateLayer("", st.Layer, []string{workPrefix + randomHex(8)}, "", true, nil)
	if err != nil {
		return fmt.Errorf("creating the working layer: %w", err)
	}
	if err := b.hold(work.ID); err != nil {
		_ = b.store.DeleteLayer(work.ID)
		return err
	}
	defer func() {
		_, _ = b.store.Unmount(work.ID, true)
		if err := b.store.DeleteLayer(work.ID); err != nil && retErr == nil {
			retErr = fmt.Errorf("removing the working layer: %w", err)
		}
	}()
	lap("created")
	b.guard.mounted(work.ID)
	defer b.guard.unmounted(work.ID)
	mp, err := storage.Mount(b.store, work.ID)
	if err != nil {
		return fmt.Errorf("mounting the working layer: %w", err)
	}
	lap("mounted")
	err = fn(mp)
	lap("ran")
	if _, uerr := b.store.Unmount(work.ID, true); uerr != nil && err == nil {
		err = fmt.Errorf("unmounting the working layer: %w", uerr)
	}
	if err != nil {
		return err
	}
	if err := b.sig.err(); err != nil {
		return err
	}
	lap("unmounted")
	return b.storeLayer(st, work.ID, lap)
}

// storeLayer stores the changes of the working layer workID as the step's layer on
// top of st (once: the same change on the same parent is found again) and records it
// in st.
func (b *Builder) storeLayer(st *state, workID string, lap func(string)) error {
	// The store's lock is held while the diff is read: spool it, then add the layer.
	f, err := os.CreateTemp(b.tmp, "build-layer-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var diffID digest.Digest
	var size int64
	err = b.unlocked(func() (err error) {
		diffID, size, err = b.writeDiff(workID, f)
		return err
	})
	if err != nil {
		return err
	}
	lap("diffed")
	layerID := b.sameLayer(st.Layer, diffID)
	if layerID == "" {
		id, err := b.stagedLayer(workID, st.Layer, f.Name(), diffID, size)
		if err == nil {
			layerID = id
			b.created = append(b.created, id)
		} else if !errors.Is(err, errNotStaged) {
			logrus.Debugf("build step: no staged layer (%v), storing the tar", err)
		}
	}
	if layerID == "" {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		layer, _, err := b.store.PutLayer("", st.Layer, nil, "", false, nil, f)
		if err != nil {
			return fmt.Errorf("storing the step's layer: %w", err)
		}
		if layer.UncompressedDigest != diffID {
			return fmt.Errorf("internal error: the stored layer's digest %s differs from the written %s", layer.UncompressedDigest, diffID)
		}
		layerID = layer.ID
		b.created = append(b.created, layerID)
	}
	lap("stored")
	if err := b.hold(layerID); err != nil {
		return err
	}
	st.Layer = layerID
	st.Config.RootFS.Type = "layers"
	st.Config.RootFS.DiffIDs = append(st.Config.RootFS.DiffIDs, diffID)
	return nil
}

// writeDiff writes the working layer's changes to f as a normalised tar (buildfs):
// its digest and size.
func (b *Builder) writeDiff(workID string, f *os.File) (digest.Digest, int64, error) {
	unc := archive.Uncompressed
	rc, err := b.store.Diff("", workID, &cstorage.DiffOptions{Compression: &unc})
	if err != nil {
		return "", 0, fmt.Errorf("reading the step's changes: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	diffID, size, err := buildfs.NormalizeTar(rc, w, b.o.Timestamp)
	cerr := rc.Close()
	if err == nil {
		err = cerr
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return "", 0, fmt.Errorf("writing the step's layer: %w", err)
	}
	return diffID, size, nil
}

// sameLayer is a layer already holding the change diffID on parent ("": none), so that
// a rebuild with --no-cache, or a reproducible build, finds its layers again.
func (b *Builder) sameLayer(parent string, diffID digest.Digest) string {
	same, err := b.store.LayersByUncompressedDigest(diffID)
	if err != nil {
		return ""
	}
	for _, l := range same {
		if l.Parent == parent && len(l.Names) == 0 {
			return l.ID
		}
	}
	return ""
}

// dropUnused removes the layers this build made that no image holds (with
// --layers=false no intermediate image keeps them: a failed build's steps, stages the
// final image does not contain). The store refuses to remove a layer an image or
// another layer still uses, which keeps everything the image needs.
func (b *Builder) dropUnused() {
	for i := len(b.created) - 1; i >= 0; i-- {
		_ = b.store.DeleteLayer(b.created[i])
	}
	b.created = nil
}

// historyLayer records a step that made a layer.
func (b *Builder) historyLayer(st *state, createdBy string) { b.history(st, createdBy, false) }

// mountLayer mounts a finished stage's (or image's) top layer for reading; it stays
// mounted until the build ends.
func (b *Builder) mountLayer(id string) (string, error) {
	if mp, ok := b.mounts[id]; ok {
		return mp, nil
	}
	b.guard.mounted(id)
	mp, err := storage.Mount(b.store, id)
	if err != nil {
		return "", fmt.Errorf("mounting layer %s: %w", id[:12], err)
	}
	b.mounts[id] = mp
	return mp, nil
}

func (b *Builder) unmountAll() {
	for id := range b.mounts {
		_, _ = b.store.Unmount(id, true)
		b.guard.unmounted(id)
	}
	b.mounts = map[string]string{}
	for _, d := range b.tmpDirs {
		_ = os.RemoveAll(d)
	}
	b.tmpDirs = nil
}

// cleanStale removes what a killed build left: working layers and scratch files that
// no running build holds.
func (b *Builder) cleanStale() {
	live, err := hold.Held(b.store.GraphRoot())
	if err != nil {
		logrus.Debugf("build: not cleaning up after killed builds: %v", err)
		return
	}
	if layers, err := b.store.Layers(); err == nil {
		for _, l := range layers {
			if _, held := live.Holds(l.ID); held {
				continue
			}
			for _, n := range l.Names {
				if strings.HasPrefix(n, workPrefix) {
					_, _ = b.store.Unmount(l.ID, true)
					_ = b.store.DeleteLayer(l.ID)
					break
				}
			}
		}
	}
	tmp := filepath.Dir(b.tmp)
	if entries, err := os.ReadDir(tmp); err == nil {
		for _, e := range entries {
			if token, ok := strings.CutPrefix(e.Name(), "build-"); ok && !live.Tokens[token] {
				_ = os.RemoveAll(filepath.Join(tmp, e.Name()))
			}
		}
	}
}

// interrupt turns SIGINT and SIGTERM into a stopped build: the running step is killed.
type interrupt struct {
	ch     chan os.Signal
	mu     sync.Mutex
	got    os.Signal
	kill   func()
	cancel func() // ends what runs under the build's context (pulls, downloads)
	done   chan struct{}
}

func catchInterrupts(cancel func()) *interrupt {
	i := &interrupt{ch: make(chan os.Signal, 4), done: make(chan struct{}), cancel: cancel}
	signal.Notify(i.ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for {
			select {
			case s := <-i.ch:
				i.mu.Lock()
				i.got = s
				k := i.kill
				i.mu.Unlock()
				i.cancel()
				if k != nil {
					k()
				}
			case <-i.done:
				return
			}
		}
	}()
	return i
}

func (i *interrupt) setKill(f func()) {
	i.mu.Lock()
	i.kill = f
	got := i.got
	i.mu.Unlock()
	if f != nil && got != nil {
		f()
	}
}

func (i *interrupt) err() error {
	if i == nil {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.got != nil {
		return ErrInterrupted
	}
	return nil
}

func (i *interrupt) stop() {
	signal.Stop(i.ch)
	close(i.done)
}

// fileDigest is the sha256 of a file's content.
func fileDigest(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
