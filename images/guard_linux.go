package images

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"

	"hutch.dev/hutch/internal/fsutil"
)

// trailingLimit is how much data a layer may hold after the end of its tar: tar writers
// pad to a record, never more; a bomb of zeros after the end would only burn CPU.
const trailingLimit = 1 << 20

// errScanStopped ends a scan that has nothing more to say (the blob is not a tar: a
// config; or the tar has ended): the copy goes on without it.
var errScanStopped = errors.New("scan stopped")

// layerGuard looks at every blob a copy reads from its source (load, pull), as it
// streams past, without storing or delaying it more than a pipe does: it parses the
// layer's tar headers and
//   - refuses, before the store unpacks anything, a layer whose entries would expand
//     beyond the free space of the store's file system (fsutil.Budget): a gzip bomb or
//     a terabyte sparse file is stopped at the header that declares it, naming it;
//   - refuses an entry name longer than a path may be or deeper than hutch unpacks
//     (fsutil.CheckEntryShape), which the unpacker would otherwise crawl through for
//     minutes before failing;
//   - refuses more than 1 MiB of data after the tar's end;
//   - refuses an entry that would be written out of the layer, or through a symlink of
//     the layer, and a hard link out of it (layerEntry), and a second entry of the same
//     path, naming it (the store would confine some of these, refuse others with "no
//     such file or directory", and follow their names on the host when it rebuilds the
//     layer for save and push).
type layerGuard struct {
	budget *fsutil.Budget

	mu      sync.Mutex
	refusal error
}

// newGuard makes the guard of one command, measuring the store's file system.
func (s *Service) newGuard() (*layerGuard, error) {
	b, err := fsutil.NewBudget(s.Store.GraphRoot())
	if err != nil {
		return nil, err
	}
	return &layerGuard{budget: b}, nil
}

// ref wraps a source reference so that its blobs pass the guard.
func (g *layerGuard) ref(r types.ImageReference) types.ImageReference {
	if g == nil {
		return r
	}
	return guardedRef{ImageReference: r, g: g}
}

// explain turns a failed copy's error into the guard's refusal, if it refused a layer.
func (g *layerGuard) explain(err error) error {
	if g == nil || err == nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refusal != nil {
		return g.refusal
	}
	return err
}

// refused reports whether the guard refused a layer.
func (g *layerGuard) refused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusal != nil
}

func (g *layerGuard) refuse(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refusal == nil {
		g.refusal = err
	}
	return g.refusal
}

func shortDigest(d digest.Digest) string {
	if e := d.Encoded(); len(e) > 12 {
		return d.Algorithm().String() + ":" + e[:12]
	}
	return d.String()
}

type guardedRef struct {
	types.ImageReference
	g *layerGuard
}

func (r guardedRef) NewImageSource(ctx context.Context, sys *types.SystemContext) (types.ImageSource, error) {
	src, err := r.ImageReference.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	return guardedSource{ImageSource: src, g: r.g}, nil
}

type guardedSource struct {
	types.ImageSource
	g *layerGuard
}

func (s guardedSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	rc, n, err := s.ImageSource.GetBlob(ctx, info, cache)
	if err != nil {
		return rc, n, err
	}
	return s.g.watch(rc, info.Digest), n, nil
}

// watch tees rc into a scan of its content. The copy reads on while the scan catches
// up (up to queueLimit bytes behind), so the two decompressions overlap.
func (g *layerGuard) watch(rc io.ReadCloser, d digest.Digest) io.ReadCloser {
	q := newChunkQueue()
	t := &teeScan{rc: rc, q: q, done: make(chan error, 1)}
	go func() {
		err := g.scan(q, d)
		if err != nil {
			err = g.refuse(err)
		}
		q.stop(err)
		t.done <- err
	}()
	return t
}

// teeScan passes a blob through, feeding the scan as it goes; at the end it waits for
// the scan's verdict, so a refused layer never reaches the store.
type teeScan struct {
	rc      io.ReadCloser
	q       *chunkQueue
	done    chan error
	verdict error
	waited  bool
}

func (t *teeScan) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 {
		if qerr := t.q.push(p[:n]); qerr != nil {
			return 0, qerr // the scan refused the layer
		}
	}
	if errors.Is(err, io.EOF) {
		if v := t.wait(); v != nil {
			return 0, v
		}
	}
	return n, err
}

func (t *teeScan) wait() error {
	if !t.waited {
		t.q.close()
		t.verdict = <-t.done
		t.waited = true
	}
	return t.verdict
}

func (t *teeScan) Close() error {
	t.q.stop(errScanStopped) // ends a scan still reading
	return t.rc.Close()
}

// queueLimit is how far the scan may fall behind the copy.
const queueLimit = 8 << 20

// chunkQueue carries copies of the blob's bytes from the copy to the scan.
type chunkQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	chunks  [][]byte
	size    int
	closed  bool  // the blob has ended
	stopped bool  // the scan has ended: nothing more is queued
	err     error // why the scan ended, for push (nil: it has nothing to say)
}

func newChunkQueue() *chunkQueue {
	q := &chunkQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push queues a copy of p, waiting while the scan is queueLimit behind; it returns the
// scan's refusal once there is one.
func (q *chunkQueue) push(p []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.size >= queueLimit && !q.stopped {
		q.cond.Wait()
	}
	if q.stopped {
		if q.err != nil && !errors.Is(q.err, errScanStopped) {
			return q.err
		}
		return nil
	}
	q.chunks = append(q.chunks, append([]byte(nil), p...))
	q.size += len(p)
	q.cond.Broadcast()
	return nil
}

func (q *chunkQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *chunkQueue) stop(err error) {
	q.mu.Lock()
	if !q.stopped {
		q.stopped, q.err = true, err
		q.chunks, q.size = nil, 0
	}
	q.cond.Broadcast()
	q.mu.Unlock()
}

// Read is the scan's side.
func (q *chunkQueue) Read(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.chunks) == 0 && !q.closed && !q.stopped {
		q.cond.Wait()
	}
	if q.stopped {
		return 0, errScanStopped
	}
	if len(q.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, q.chunks[0])
	if n == len(q.chunks[0]) {
		q.chunks = q.chunks[1:]
	} else {
		q.chunks[0] = q.chunks[0][n:]
	}
	q.size -= n
	q.cond.Broadcast()
	return n, nil
}

// scan reads one blob (compressed or not) as a tar.
func (g *layerGuard) scan(r io.Reader, d digest.Digest) error {
	dr, err := decompress(r)
	if err != nil {
		return nil // not a blob hutch can read: the copy says what is wrong with it
	}
	defer dr.Close()
	what := "layer " + shortDigest(d)
	tr := tar.NewReader(dr)
	symlinks, seen := map[string]bool{}, map[string]bool{}
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil // not a tar (a config), or a corrupt one: the store says so
		}
		if err := fsutil.CheckEntryShape(hdr.Name); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		size := entrySize(hdr)
		if !g.budget.Take(size+512, 1) {
			return g.budget.Error(what, hdr.Name, size)
		}
		name, err := layerEntry(hdr, symlinks)
		if err == nil {
			err = checkDuplicate(seen, name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if hdr.Typeflag == tar.TypeSymlink {
			symlinks[name] = true
		}
	}
	if n, _ := io.CopyN(io.Discard, dr, trailingLimit+1); n > trailingLimit {
		return fmt.Errorf("%s holds more than %s of data after the end of its tar: not a layer hutch unpacks (a decompression bomb?)", what, fsutil.Size(trailingLimit))
	}
	return nil
}

// entrySize is what an entry occupies once unpacked: a regular file's (logical) size.
func entrySize(hdr *tar.Header) int64 {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		return hdr.Size
	}
	return 0
}

// expandArchive prepares an image archive for go.podman.io/image within the guard's
// budget: a compressed archive is decompressed into a file in tmpDir (which the library
// would do itself, without a limit), and an oci-archive, which the library unpacks
// whole into a directory, has its entries counted first. It returns the path to read
// and a function that removes what it made.
func (g *layerGuard) expandArchive(archive, format, tmpDir string) (string, func(), error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	dr, compressed, err := compression.AutoDecompress(f)
	if err != nil {
		return "", nil, fmt.Errorf("%s: not an image archive: %w", archive, err)
	}
	defer dr.Close()
	path, cleanup := archive, func() {}
	src := io.Reader(dr)
	if compressed {
		dir, err := os.MkdirTemp(tmpDir, "import-archive-")
		if err != nil {
			return "", nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		path = filepath.Join(dir, "archive.tar")
		out, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			cleanup()
			return "", nil, err
		}
		err = g.copyBudgeted(out, dr, archive)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cleanup()
			return "", nil, err
		}
		if format != FormatOCI {
			return path, cleanup, nil
		}
		if src, err = os.Open(path); err != nil {
			cleanup()
			return "", nil, err
		}
		defer src.(*os.File).Close()
	} else if format != FormatOCI {
		return path, cleanup, nil
	}
	// An oci-archive is unpacked whole by the library: count its entries.
	tr := tar.NewReader(src)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break // the end, or a corrupt archive: the library says which
		}
		if err := fsutil.CheckEntryShape(hdr.Name); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("%s: %w", archive, err)
		}
		if size := entrySize(hdr); !g.budget.Take(size+512, 1) {
			cleanup()
			return "", nil, g.budget.Error(archive, hdr.Name, size)
		}
	}
	return path, cleanup, nil
}

// copyBudgeted copies a decompressing archive to out, within the budget.
func (g *layerGuard) copyBudgeted(out io.Writer, in io.Reader, archive string) error {
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := in.Read(buf)
		if n > 0 {
			total += int64(n)
			if !g.budget.Take(int64(n), 0) {
				return g.budget.Error(archive+" (decompressed)", "", total)
			}
			if _, werr := out.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s is truncated or corrupt: %w", archive, err)
		}
	}
}

// layerEntry judges one entry of a layer that is loaded or pulled, as Docker does, and
// returns its name relative to the layer's root: a name that climbs above the root, an
// entry written through a symlink the layer made, or a hard link to a path that climbs
// out, is absolute, or goes through such a symlink, is refused. The store would confine
// the write, but it keeps the entry's original name to rebuild the layer for `save` and
// `push`, and rebuilding follows that name on the host: out of the layer, through the
// symlink (it then read the user's files). Absolute names (cleaned into the root), `..`
// that stays inside, and symlinks to anywhere (resolved in the container) are fine.
func layerEntry(hdr *tar.Header, symlinks map[string]bool) (string, error) {
	raw := hdr.Name
	if climbs(raw) {
		return "", fmt.Errorf("entry %q climbs out of the layer with `..`", raw)
	}
	name := strings.TrimPrefix(path.Clean("/"+raw), "/")
	if name == "" {
		return ".", nil
	}
	if err := checkWhiteout(raw); err != nil {
		return "", err
	}
	if dir := throughSymlink(name, symlinks); dir != "" {
		return "", fmt.Errorf("entry %q is written through the symlink %q the layer made earlier, which may point anywhere", raw, dir)
	}
	if hdr.Typeflag == tar.TypeLink {
		target := hdr.Linkname
		switch {
		case strings.HasPrefix(target, "/"):
			return "", fmt.Errorf("hard link %q points to the absolute path %q: a layer's hard links name paths inside it", raw, target)
		case climbs(target):
			return "", fmt.Errorf("hard link %q points to %q, out of the layer", raw, target)
		}
		if dir := throughSymlink(path.Clean(target), symlinks); dir != "" {
			return "", fmt.Errorf("hard link %q points to %q, through the symlink %q the layer made earlier", raw, target, dir)
		}
	}
	return name, nil
}

// climbs reports whether a relative path climbs above its root with `..`.
func climbs(p string) bool {
	depth := 0
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "..":
			if depth--; depth < 0 {
				return true
			}
		case "", ".":
		default:
			depth++
		}
	}
	return false
}

// throughSymlink returns the first parent of name that is one of the symlinks.
func throughSymlink(name string, symlinks map[string]bool) string {
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if symlinks[dir] {
			return dir
		}
	}
	return ""
}

// checkWhiteout refuses a whiteout of "", "." or "..": it would delete the directory it
// is in, or that directory's parent, not an entry of a lower layer.
func checkWhiteout(raw string) error {
	base := path.Base(strings.TrimSuffix(raw, "/"))
	if victim, ok := strings.CutPrefix(base, ".wh."); ok && !strings.HasPrefix(victim, ".wh.") {
		if victim == "" || victim == "." || victim == ".." {
			return fmt.Errorf("entry %q is a whiteout of %q, which would delete a directory of the layer itself", raw, victim)
		}
	}
	return nil
}

// decompress is compression.AutoDecompress with a single-stream gzip decoder: the
// library's parallel one (pgzip) runs ahead on several goroutines, which on a small
// machine takes CPU from the copy the scan runs beside.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); len(head) == 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return zr, nil
	}
	dr, _, err := compression.AutoDecompress(br)
	return dr, err
}
