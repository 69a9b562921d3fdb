package builder

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/inroot"
)

// export writes the final stage's root file system where --output says. The stage's
// top layer is mounted for reading (under the store lock, like a COPY --from source)
// and read without the lock: the layer is in the build's hold record already.
//
// The build runs as root of hutch's user namespace, which is the user on the host: what
// it writes on the host belongs to the user, whatever owner a file has in the image.
//
//   - type=local: the tree is copied by descriptor on both sides (inroot.Copy, as `hutch
//     cp` copies out of a container): symlinks are written as symlinks and never
//     followed, on either side; an entry of DIR in the way of one of the image's is
//     replaced when it is a file or a symlink (never written through), and a symlink
//     where the image has a directory is an error; setuid/setgid bits are dropped; device
//     nodes and sockets, which the user cannot make, are left out with a note.
//   - type=tar: the tree as a tar archive with the image's owners, modes and device
//     nodes, written by go.podman.io/storage's chrooted archiver (as `hutch export`).
func (b *Builder) export(st *state) error {
	out := b.o.Output
	fmt.Fprintf(b.o.Stdout, "EXPORT %s\n", out)
	if err := b.sig.err(); err != nil {
		return err
	}
	var root string
	if st.Layer == "" {
		// FROM scratch and nothing that makes a layer: no files.
		dir, err := os.MkdirTemp(b.tmp, "build-empty-")
		if err != nil {
			return err
		}
		b.tmpDirs = append(b.tmpDirs, dir)
		root = dir
	} else {
		mp, err := b.mountLayer(st.Layer)
		if err != nil {
			return err
		}
		root = mp
	}
	var skipped []inroot.Skipped
	err := b.unlocked(func() error {
		if out.Type == OutputLocal {
			var err error
			skipped, err = exportLocal(root, out.Dest)
			return err
		}
		return exportTar(root, out.Dest, b.o.TarStream)
	})
	if err != nil {
		return fmt.Errorf("--output %s: %w", out, err)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(b.o.Stderr, "note: --output: not written: %s (an unprivileged user cannot make device nodes or sockets; type=tar keeps them)\n", skippedList(skipped))
	}
	if err := b.sig.err(); err != nil {
		return err
	}
	if out.Type == OutputLocal {
		fmt.Fprintf(b.o.Stdout, "--> files written to %s\n", out.Dest)
	} else if out.Dest != "-" {
		fmt.Fprintf(b.o.Stdout, "--> tar archive written to %s\n", out.Dest)
	}
	return nil
}

// skippedList names the entries left out, the first ten of them.
func skippedList(skipped []inroot.Skipped) string {
	var list []string
	for i, s := range skipped {
		if i == 10 {
			list = append(list, fmt.Sprintf("and %d more", len(skipped)-i))
			break
		}
		list = append(list, fmt.Sprintf("%s (a %s)", path.Join("/", s.Rel), s.Kind))
	}
	return strings.Join(list, ", ")
}

// exportLocal copies the tree at root into the directory dest on the host (made when
// missing; a symlink the user gave as dest, or on the way to it, is followed, as `cp`
// does): everything below it by descriptor, nothing followed.
func exportLocal(root, dest string) ([]inroot.Skipped, error) {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	src, err := os.Open(root)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.Open(dest, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dest, Err: err}
	}
	dst := os.NewFile(uintptr(fd), dest)
	defer dst.Close()
	c := &inroot.Copy{
		SrcName: func(rel string) string { return path.Join("/", rel) + " (in the image)" },
		DstName: func(rel string) string { return filepath.Join(dest, rel) },
	}
	defer c.Close()
	if err := c.Contents(src, dst); err != nil {
		return nil, err
	}
	return c.Skipped, nil
}

// exportTar writes the tree at root as an uncompressed tar to stream (dest "-") or to
// the file dest, which is written beside it first and renamed over it when complete.
func exportTar(root, dest string, stream io.Writer) error {
	var f *os.File
	if dest != "-" {
		if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
			return fmt.Errorf("%s is a directory: give a file name, or type=local,dest=%s for the files themselves", dest, dest)
		}
		var err error
		if f, err = os.CreateTemp(filepath.Dir(dest), ".hutch-output-"); err != nil {
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		stream = f
	}
	if stream == nil {
		return fmt.Errorf("internal error: no stream for the tar")
	}
	rc, err := chrootarchive.Tar(root, &archive.TarOptions{Compression: archive.Uncompressed}, root)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(stream, rc); err != nil {
		return err
	}
	if f == nil {
		return nil
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dest)
}
