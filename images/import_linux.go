package images

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/compression"
	istorage "go.podman.io/image/v5/storage"

	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/fsutil"
)

// ImportOptions describe `hutch import`.
type ImportOptions struct {
	Name    string   // optional; normalised with NormalizeLocal
	Changes []string // Dockerfile-style: "CMD [\"sh\"]", "ENV A=b", "WORKDIR=/x" …
	Message string   // history comment
	Source  string   // what the tarball was, for history ("-" for stdin)
	TmpDir  string   // scratch space on the store's file system
}

// Imported is the result of an import.
type Imported struct {
	ID      string
	Name    string
	Skipped []string // entries left out (device nodes), reported to the user
}

// Import turns a root file system tarball (plain or compressed) into a one-layer image.
// Every entry is checked before anything reaches the store: a path with `..`, an
// absolute path, a hard link out of the tree, a symlink that climbs above the root, or
// an entry reached through a symlink of the same archive is refused with its name.
func (s *Service) Import(ctx context.Context, r io.Reader, o ImportOptions) (*Imported, error) {
	var named reference.Named
	if o.Name != "" {
		var err error
		if named, err = NormalizeLocal(o.Name); err != nil {
			return nil, err
		}
	}
	cfg := &Config{Architecture: runtime.GOARCH, OS: "linux"}
	for _, ch := range o.Changes {
		if err := ApplyChange(&cfg.Config, ch); err != nil {
			return nil, err
		}
	}

	if err := os.MkdirAll(o.TmpDir, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.TmpDir, "import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return nil, err
	}

	// Rewrite the tarball, checked, into the layer blob, hashing as it goes.
	layerTmp := filepath.Join(dir, "layer.tmp")
	lf, err := os.OpenFile(layerTmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	// What the import unpacks is bounded by the store's free space: the layer is
	// written twice (here, then into the store), so each entry counts twice.
	budget, err := fsutil.NewBudget(s.Store.GraphRoot())
	if err != nil {
		lf.Close()
		return nil, err
	}
	skipped, err := sanitizeTar(r, io.MultiWriter(lf, h), budget)
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", o.Source, err)
	}
	fi, err := os.Stat(layerTmp)
	if err != nil {
		return nil, err
	}
	layerDigest := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
	if err := os.Rename(layerTmp, filepath.Join(blobs, layerDigest.Encoded())); err != nil {
		return nil, err
	}

	now := time.Now().UTC()
	cfg.Created = &now
	cfg.RootFS = RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDigest}}
	createdBy := "hutch import " + o.Source
	cfg.History = []History{{Created: &now, CreatedBy: createdBy, Comment: o.Message}}
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgDigest := digest.FromBytes(cfgBytes)
	if err := os.WriteFile(filepath.Join(blobs, cfgDigest.Encoded()), cfgBytes, 0o600); err != nil {
		return nil, err
	}
	m := imgspecv1.Manifest{
		Versioned: imgspec.Versioned{SchemaVersion: 2},
		MediaType: imgspecv1.MediaTypeImageManifest,
		Config:    imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(cfgBytes))},
		Layers:    []imgspecv1.Descriptor{{MediaType: imgspecv1.MediaTypeImageLayer, Digest: layerDigest, Size: fi.Size()}},
	}
	mBytes, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mDigest := digest.FromBytes(mBytes)
	if err := os.WriteFile(filepath.Join(blobs, mDigest.Encoded()), mBytes, 0o600); err != nil {
		return nil, err
	}
	idx := imgspecv1.Index{Versioned: imgspec.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex,
		Manifests: []imgspecv1.Descriptor{{MediaType: imgspecv1.MediaTypeImageManifest, Digest: mDigest, Size: int64(len(mBytes))}}}
	idxBytes, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), idxBytes, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o600); err != nil {
		return nil, err
	}

	src, err := ocilayout.NewReference(dir, "")
	if err != nil {
		return nil, err
	}
	dst, err := istorage.Transport.NewStoreReference(s.Store, named, cfgDigest.Encoded())
	if err != nil {
		return nil, err
	}
	if _, err := s.copyImage(ctx, dst, src); err != nil {
		return nil, fmt.Errorf("import %s: %w", o.Source, oneLine(err))
	}
	out := &Imported{ID: cfgDigest.Encoded(), Skipped: skipped}
	if named != nil {
		out.Name = named.String()
	}
	events.Image(events.Import, out.ID, out.Name)
	return out, nil
}

// sanitizeTar copies the (possibly compressed) tar stream r to w as a plain tar,
// refusing entries that could write outside the root file system, names too long or
// too deep to unpack (fsutil.CheckEntryShape), and entries that do not fit the budget
// (twice: the layer is written twice), and leaving out device nodes, which an
// unprivileged user cannot create (their names are returned).
func sanitizeTar(r io.Reader, w io.Writer, budget *fsutil.Budget) ([]string, error) {
	dr, _, err := compression.AutoDecompress(r)
	if err != nil {
		return nil, fmt.Errorf("not a tar archive: %w", err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	// Failures to write (a full disk) are told apart from failures to read the archive.
	ow := &watchedWriter{w: w}
	tw := tar.NewWriter(ow)
	symlinks := map[string]bool{}
	seen := map[string]bool{}
	var skipped []string
	entries := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if entries == 0 {
				return nil, fmt.Errorf("not a tar archive: %w", err)
			}
			return nil, fmt.Errorf("the archive is truncated or corrupt after %d entries: %w", entries, err)
		}
		entries++
		if err := fsutil.CheckEntryShape(hdr.Name); err != nil {
			return nil, err
		}
		if size := entrySize(hdr); !budget.Take(2*(size+512), 2) {
			return nil, budget.Error("the archive", hdr.Name, size)
		}
		name, err := CheckEntry(hdr, symlinks)
		if err != nil {
			return nil, err
		}
		if err := checkDuplicate(seen, name); err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
			skipped = append(skipped, name)
			continue
		}
		if hdr.Typeflag == tar.TypeSymlink {
			symlinks[name] = true
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, ow.failed(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			if ow.err != nil {
				return nil, ow.failed(err)
			}
			return nil, fmt.Errorf("the archive is truncated or corrupt in %s: %w", hdr.Name, err)
		}
	}
	if entries == 0 {
		return nil, errors.New("the archive is empty")
	}
	sort.Strings(skipped)
	if err := tw.Close(); err != nil {
		return nil, ow.failed(err)
	}
	return skipped, nil
}

// watchedWriter remembers the first error its writer returned.
type watchedWriter struct {
	w   io.Writer
	err error
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// failed is the error to report for err: the writer's own, when it failed (the
// archive is fine; the layer could not be written).
func (w *watchedWriter) failed(err error) error {
	if w.err != nil {
		return fmt.Errorf("writing the layer: %w", w.err)
	}
	return err
}

// CheckEntry validates one tar header against the root it will be unpacked in and
// returns its cleaned name. symlinks holds the symlinks seen so far in the archive.
func CheckEntry(hdr *tar.Header, symlinks map[string]bool) (string, error) {
	raw := hdr.Name
	if strings.HasPrefix(raw, "/") {
		return "", fmt.Errorf("entry %q has an absolute path: the archive must hold paths relative to the root (tar -C ROOTFS -c .)", raw)
	}
	if hasDotDot(raw) {
		return "", fmt.Errorf("entry %q has a `..` component that would write outside the root file system", raw)
	}
	name := path.Clean(raw)
	if name == "." {
		return name, nil
	}
	if err := checkWhiteout(raw); err != nil {
		return "", err
	}
	// An entry reached through a symlink the archive itself made could land anywhere.
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if symlinks[dir] {
			return "", fmt.Errorf("entry %q is written through the symlink %q earlier in the archive, which could point outside the root file system", raw, dir)
		}
	}
	switch hdr.Typeflag {
	case tar.TypeLink:
		if strings.HasPrefix(hdr.Linkname, "/") || hasDotDot(hdr.Linkname) {
			return "", fmt.Errorf("hard link %q points to %q, outside the root file system", raw, hdr.Linkname)
		}
		// The target is looked up like a path too: through a symlink it could be anywhere.
		for dir := path.Dir(path.Clean(hdr.Linkname)); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if symlinks[dir] {
				return "", fmt.Errorf("hard link %q points to %q, through the symlink %q earlier in the archive, which could point outside the root file system", raw, hdr.Linkname, dir)
			}
		}
	case tar.TypeSymlink:
		if !strings.HasPrefix(hdr.Linkname, "/") {
			// Resolve lexically from the link's directory: climbing above the root
			// means the link points outside it.
			depth := strings.Count(path.Dir(name), "/") + 1
			if path.Dir(name) == "." {
				depth = 0
			}
			for _, part := range strings.Split(hdr.Linkname, "/") {
				switch part {
				case "..":
					depth--
				case "", ".":
				default:
					depth++
				}
				if depth < 0 {
					return "", fmt.Errorf("symlink %q points to %q, outside the root file system", raw, hdr.Linkname)
				}
			}
		}
	}
	return name, nil
}

func hasDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// checkDuplicate refuses a second entry for the same path: the store keeps one entry
// per path of a layer (and refuses the layer otherwise, without naming it); a symlink
// then a file of the same name is a way to write through the link.
func checkDuplicate(seen map[string]bool, name string) error {
	if seen[name] {
		return fmt.Errorf("entry %q appears twice in the archive: a layer holds one entry per path", name)
	}
	seen[name] = true
	return nil
}
