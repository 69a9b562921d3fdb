package builder

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	cstorage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/stringid"
)

// errNotStaged says the fast path does not apply (a driver other than overlay).
var errNotStaged = errors.New("staged layers need the overlay driver")

// stagedLayer turns a working layer into the step's layer without copying a file: the
// overlay's upper directory (the step's changes, in the driver's own format) is moved
// into a new layer through the store's staged-layer API, and the layer records the
// normalised tar (tarPath) as its tar-split, so that the store reproduces exactly that
// tar — whose digest is diffID — whenever the layer is read as a blob (save, push).
func (b *Builder) stagedLayer(workID, parent, tarPath string, diffID digest.Digest, size int64) (string, error) {
	if b.store.GraphDriverName() != "overlay" {
		return "", errNotStaged
	}
	upper := filepath.Join(b.store.GraphRoot(), "overlay", workID, "diff")
	if fi, err := os.Stat(upper); err != nil || !fi.IsDir() {
		return "", errNotStaged
	}
	ts, uids, gids, err := tarSplit(tarPath, filepath.Dir(tarPath))
	if err != nil {
		return "", err
	}
	defer os.Remove(ts.Name())
	d := &moveDiffer{src: upper, out: drivers.DriverWithDifferOutput{
		Size: size, UncompressedDigest: diffID, TarSplit: ts, UIDs: uids, GIDs: gids,
	}}
	out, err := b.store.PrepareStagedLayer(nil, d)
	if err != nil {
		ts.Close()
		return "", err
	}
	layer, err := b.store.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{
		ID: stringid.GenerateRandomID(), ParentLayer: parent,
		DiffOutput: out, DiffOptions: &drivers.ApplyDiffWithDifferOpts{},
	})
	if err != nil {
		_ = b.store.CleanupStagedLayer(out)
		return "", err
	}
	return layer.ID, nil
}

// moveDiffer "applies" a diff by moving a directory into place.
type moveDiffer struct {
	src string
	out drivers.DriverWithDifferOutput
}

func (m *moveDiffer) ApplyDiff(dest string, _ *archive.TarOptions, _ *drivers.DifferOptions) (drivers.DriverWithDifferOutput, error) {
	if err := os.Remove(dest); err != nil {
		return drivers.DriverWithDifferOutput{}, err
	}
	if err := os.Rename(m.src, dest); err != nil {
		return drivers.DriverWithDifferOutput{}, err
	}
	return m.out, nil
}

func (m *moveDiffer) Close() error { return nil }

// tarSplit writes the tar-split metadata of the tar at path (headers and padding kept,
// file contents referenced by name and checksum) and lists the ids its entries use.
func tarSplit(path, dir string) (*os.File, []uint32, []uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	ts, err := os.CreateTemp(dir, "build-tarsplit-")
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (*os.File, []uint32, []uint32, error) {
		ts.Close()
		os.Remove(ts.Name())
		return nil, nil, nil, err
	}
	its, done, err := asm.NewInputTarStreamWithDone(f, tsstorage.NewJSONPacker(ts), tsstorage.NewDiscardFilePutter())
	if err != nil {
		return fail(err)
	}
	// Stopped early, the disassembler is told to stop and waited for, so that nothing
	// writes to ts once it is removed.
	abort := func(err error) (*os.File, []uint32, []uint32, error) {
		its.Close()
		<-done //nolint:errcheck // stopped on purpose: its error would only say so
		return fail(err)
	}
	uids, gids := map[uint32]bool{}, map[uint32]bool{}
	tr := tar.NewReader(its)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return abort(err)
		}
		uids[uint32(hdr.Uid)] = true
		gids[uint32(hdr.Gid)] = true
	}
	if _, err := io.Copy(io.Discard, its); err != nil {
		return abort(err)
	}
	// The tar-split record is complete only once the disassembler is done writing it.
	if err := <-done; err != nil {
		return fail(err)
	}
	return ts, keysOf(uids), keysOf(gids), nil
}

func keysOf(m map[uint32]bool) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
