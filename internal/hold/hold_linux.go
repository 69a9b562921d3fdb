// Package hold records what a running build uses in the store, so that a build can run
// without hutch's store lock (it takes the lock only to change the store: to create a
// layer, write an image, name one) while the commands that remove things — rmi, image
// and system prune, system check, and a build cleaning up after a killed one — leave
// alone what it holds.
//
// A build's record is GRAPHROOT/hutch-build/live/TOKEN: a first line "pid N", then one
// layer ID a line. The build holds an flock on it for as long as it runs; a record whose
// flock anyone can take belongs to a build that is gone (its flock went with it) and is
// removed by the next reader. Records are written and read under the store lock, so a
// reader never sees half a line and never misses a layer added before it looked.
package hold

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is where the records are, under the graph root.
func Dir(graphRoot string) string { return filepath.Join(graphRoot, "hutch-build", "live") }

// Record is a running build's record.
type Record struct {
	f     *os.File
	path  string
	Token string // the record's name: the build's scratch directory is named after it
	held  map[string]bool
}

// Start makes the record of a build that starts now and takes its flock.
func Start(graphRoot string) (*Record, error) {
	dir := Dir(graphRoot)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(r[:])
	// Made under a name readers skip, locked, then renamed into place: a reader never
	// sees the record unlocked and takes it for a dead build's.
	tmp := filepath.Join(dir, ".new-"+token)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, &os.PathError{Op: "flock", Path: tmp, Err: err}
	}
	if _, err := f.WriteString("pid " + strconv.Itoa(os.Getpid()) + "\n"); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("writing %s: %w", tmp, err)
	}
	p := filepath.Join(dir, token)
	if err := os.Rename(tmp, p); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return &Record{f: f, path: p, Token: token, held: map[string]bool{}}, nil
}

// Layer records that the build uses the layers ids (the caller holds the store lock).
func (r *Record) Layer(ids ...string) error {
	if r == nil {
		return nil
	}
	var b strings.Builder
	for _, id := range ids {
		if id != "" && !r.held[id] {
			b.WriteString(id + "\n")
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if _, err := r.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("writing %s: %w", r.path, err)
	}
	for _, id := range ids {
		r.held[id] = true
	}
	return nil
}

// End removes the record: the build holds nothing any more.
func (r *Record) End() {
	if r == nil || r.f == nil {
		return
	}
	os.Remove(r.path)
	r.f.Close()
	r.f = nil
}

// Builds is what the running builds hold.
type Builds struct {
	// Layers maps each held layer to the PID of a build holding it.
	Layers map[string]int
	// Tokens are the running builds' tokens.
	Tokens map[string]bool
}

// Held reads the running builds' records (the caller holds the store lock) and removes
// those of builds that are gone.
func Held(graphRoot string) (*Builds, error) {
	out := &Builds{Layers: map[string]int{}, Tokens: map[string]bool{}}
	dir := Dir(graphRoot)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue // removed meanwhile: that build ended
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		if err == nil {
			// Nobody holds it: the build is gone.
			os.Remove(p)
			f.Close()
			continue
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: p, Err: err}
		}
		out.Tokens[e.Name()] = true
		pid := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(line, "pid "); ok {
				pid, _ = strconv.Atoi(n)
				continue
			}
			if line != "" {
				out.Layers[line] = pid
			}
		}
		f.Close()
	}
	return out, nil
}

// Holds says whether a running build holds layer id, and which (its PID).
func (b *Builds) Holds(id string) (int, bool) {
	if b == nil {
		return 0, false
	}
	pid, ok := b.Layers[id]
	return pid, ok
}
