package buildfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"hutch.dev/hutch/internal/inroot"
)

// root is an image root file system, in which every path is resolved by the kernel as
// if it were "/" (inroot.Root), with the builder's ownership policy on top.
type root struct {
	*inroot.Root
	// ignoreUnmapped: a chown to an id outside the user namespace leaves the file
	// owned by the builder (CopyOptions.IgnoreChownErrors).
	ignoreUnmapped bool
}

func openRoot(dir string, o CopyOptions) (*root, error) {
	r, err := inroot.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &root{Root: r, ignoreUnmapped: o.IgnoreChownErrors}, nil
}

// mkdirAll returns an O_PATH handle on the directory rel inside the root, creating the
// missing components 0755 owned by owner (inroot.Root.MkdirAll: symlinks on the way,
// dangling ones too, are followed inside the root).
func (r *root) mkdirAll(rel string, owner IDPair) (*os.File, error) {
	return r.MkdirAll(rel, func(d *os.File, rel string) error { return r.fchown(d, rel, owner) })
}

// fchown sets the owner of the open file f (root-relative path rel).
func (r *root) fchown(f *os.File, rel string, id IDPair) error {
	return r.chownResult(unix.Fchown(int(f.Fd()), id.UID, id.GID), rel, id)
}

// chown sets the owner of name in pfd, never following a symlink: for symlinks, which
// cannot be opened.
func (r *root) chown(pfd int, name, rel string, id IDPair) error {
	return r.chownResult(unix.Fchownat(pfd, name, id.UID, id.GID, unix.AT_SYMLINK_NOFOLLOW), rel, id)
}

func (r *root) chownResult(err error, rel string, id IDPair) error {
	if err == nil || (r.ignoreUnmapped && errors.Is(err, unix.EINVAL)) {
		return nil
	}
	return chownError(r.Show(rel), id, err)
}

func chownError(what string, id IDPair, err error) error {
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("chown %s to %d:%d: %w (the id is not mapped in the build's user namespace: give the user a large enough range in /etc/subuid and /etc/subgid, e.g. `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`)", what, id.UID, id.GID, err)
	}
	return fmt.Errorf("chown %s to %d:%d: %w", what, id.UID, id.GID, err)
}

// fchmod sets the mode bits (with setuid, setgid, sticky) of the open file f.
func (r *root) fchmod(f *os.File, rel string, mode uint32) error {
	if err := unix.Fchmod(int(f.Fd()), mode); err != nil {
		return &os.PathError{Op: "chmod", Path: r.Show(rel), Err: err}
	}
	return nil
}
