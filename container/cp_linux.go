package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/inroot"
)

// CopyTarget is one side of `hutch cp`.
type CopyTarget struct {
	Container string // "" for the host
	Path      string
}

// ParseCopyArg reads CONTAINER:PATH or a host PATH (a path with a slash before any
// colon, or starting with . or /, is a host path).
func ParseCopyArg(s string) CopyTarget {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return CopyTarget{Path: s}
	}
	if i := strings.IndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], "/") {
		return CopyTarget{Container: s[:i], Path: s[i+1:]}
	}
	return CopyTarget{Path: s}
}

// A copy is done by file descriptor on both sides (internal/inroot), so that a
// container that swaps a directory and a symlink while `hutch cp` runs — the
// CVE-2018-15664 race — can change what is copied inside it but not make hutch read,
// write, chmod or even look at anything outside it:
//
//   - The container's side is a tree rooted at its root file system: every path there
//     is resolved by the kernel as if that root were "/" (openat2 RESOLVE_IN_ROOT), once;
//     its symlinks, absolute or `..`, lead inside it whatever they name on the host, and
//     the host path a symlink names is never looked at.
//   - The host's side is a tree rooted at the host's "/" as the user who runs hutch sees
//     it: a handle on it is opened by the plain-user half of the command, in the user's
//     own mount namespace, before anything is entered, and handed to the half that
//     copies (engine.Place.Handing). That half runs in hutch's user namespace and, for
//     a running container, in its monitor's mount namespace, which can show other files
//     at the same paths (the user's is a systemd service's PrivateTmp=, an `unshare -m`,
//     or has a mount the monitor's was copied before); paths resolved from the handle
//     go through the user's mounts wherever they are resolved. The path the user gave is
//     resolved once from it, as usual (the user's own symlinks are followed).
//   - From those two starting points on, every entry is read, made, moded and timed
//     through descriptors (inroot.Copy).

// side is one end of a copy: a tree and how its paths are named in messages.
type side struct {
	root    *inroot.Root
	inside  bool // the container's root: setuid bits may be kept there
	display func(p string) string
}

// name names the path p in messages, cleaned; given names a path as the user gave it
// (a trailing "/" or "/." kept).
func (s side) name(p string) string  { return s.display(path.Clean("/" + p)) }
func (s side) given(p string) string { return s.display(p) }

// ctrPath makes a container path absolute, keeping a trailing "/" or "/.".
func ctrPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}

// hostSide is the host's tree, from host: a handle on the user's "/".
func hostSide(host *os.File) (side, error) {
	r, err := inroot.RootFrom(host, "/")
	return side{root: r, display: func(p string) string { return p }}, err
}

func containerSide(rootfs string) (side, error) {
	r, err := inroot.OpenRoot(rootfs)
	return side{root: r, inside: true, display: func(p string) string { return p + " (in the container)" }}, err
}

// hostPath makes a host path absolute from the working directory, keeping a trailing
// "/" or "/." (which mean something to cp).
func hostPath(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("making %s absolute: %w", p, err)
	}
	return strings.TrimSuffix(wd, "/") + "/" + p, nil
}

// CopyOut copies src in the container (whose root is mounted at rootfs) to dst on the
// host, whose "/" is host (a directory handle opened where the user is: it may be in
// another mount namespace than this process).
func CopyOut(rootfs string, host *os.File, src, dst string) error {
	dst, err := hostPath(dst)
	if err != nil {
		return err
	}
	from, err := containerSide(rootfs)
	if err != nil {
		return err
	}
	defer from.root.Close()
	to, err := hostSide(host)
	if err != nil {
		return err
	}
	defer to.root.Close()
	return copyPath(from, ctrPath(src), to, dst)
}

// CopyIn copies src on the host (whose "/" is host, as for CopyOut) to dst in the
// container (whose root is mounted at rootfs).
func CopyIn(rootfs string, host *os.File, src, dst string) error {
	src, err := hostPath(src)
	if err != nil {
		return err
	}
	from, err := hostSide(host)
	if err != nil {
		return err
	}
	defer from.root.Close()
	to, err := containerSide(rootfs)
	if err != nil {
		return err
	}
	defer to.root.Close()
	return copyPath(from, src, to, ctrPath(dst))
}

// copyPath follows `docker cp`:
//   - SRC is a file: it is written as DST, or into DST when DST is a directory; DST
//     ending in "/" must be an existing directory.
//   - SRC is a directory: it is copied as DST when DST does not exist, into DST/NAME
//     when it does, and only its contents into DST when SRC ends in "/.".
//   - SRC that is a symlink is copied as the symlink (SRC ending in "/" or "/."
//     follows it); DST that is a symlink is followed — inside the container, for the
//     container's side.
func copyPath(from side, src string, to side, dst string) error {
	contentsOnly := strings.HasSuffix(src, "/.")
	srcRel := inroot.Rel(src)
	follow := contentsOnly || strings.HasSuffix(src, "/") || srcRel == "."
	if srcRel == "." {
		contentsOnly = true // the root's own name means nothing in the destination
	}
	// The source: a directory and a name in it, read by descriptor from here on.
	srcDirRel, srcName := srcRel, "."
	if !follow {
		srcDirRel, srcName = path.Split(srcRel)
		srcDirRel = inroot.Rel(srcDirRel)
	}
	sdir, err := from.root.OpenFile(srcDirRel, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("copying from %s: %w%s", from.given(src), unwrapPath(err), from.missingHint(err))
	}
	defer sdir.Close()
	st, exists, err := inroot.Lstat(int(sdir.Fd()), srcName)
	if err == nil && !exists {
		err = unix.ENOENT
	}
	if err != nil {
		return fmt.Errorf("copying from %s: %w%s", from.given(src), err, from.missingHint(err))
	}
	srcIsDir := st.Mode&unix.S_IFMT == unix.S_IFDIR

	// The destination, after the symlinks at its end, resolved inside its tree.
	dirOnly := strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, "/.")
	leaf, err := to.root.FollowLeaf(inroot.Rel(dst))
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("copying to %s: its parent directory does not exist or is not a directory%s", to.given(dst), to.missingHint(err))
	}
	if err != nil {
		return fmt.Errorf("copying to %s: %w", to.given(dst), unwrapPath(err))
	}
	defer leaf.Close()

	c := &inroot.Copy{
		SrcName:         func(rel string) string { return from.name(path.Join(srcDirRel, rel)) },
		KeepSpecialBits: to.inside,
	}
	defer c.Close()
	switch {
	case leaf.Stat != nil && leaf.Stat.Mode&unix.S_IFMT == unix.S_IFDIR:
		into := leaf.Dir
		if leaf.Name != "." {
			fd, err := unix.Openat(int(leaf.Dir.Fd()), leaf.Name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("copying to %s: %w (it changed while being copied to)", to.name(leaf.Rel), err)
			}
			into = os.NewFile(uintptr(fd), leaf.Rel)
			defer into.Close()
		}
		c.DstName = func(rel string) string { return to.name(path.Join(leaf.Rel, rel)) }
		if srcIsDir && contentsOnly {
			err = c.Contents(sdir, into)
		} else {
			err = c.Entry(sdir, srcName, into, path.Base("/"+srcRel))
		}
	case leaf.Stat != nil && dirOnly:
		return fmt.Errorf("copying to %s: it is a %s, not a directory", to.name(leaf.Rel), inroot.Kind(leaf.Stat.Mode))
	case leaf.Stat != nil && srcIsDir:
		return fmt.Errorf("cannot copy the directory %s onto the %s %s", from.given(src), inroot.Kind(leaf.Stat.Mode), to.name(leaf.Rel))
	case leaf.Stat == nil && dirOnly:
		return fmt.Errorf("copying to %s: the destination directory does not exist", to.given(dst))
	default: // a file to replace, or nothing there yet
		parentRel := path.Dir("/" + leaf.Rel)
		c.DstName = func(rel string) string { return to.name(path.Join(parentRel, rel)) }
		err = c.Entry(sdir, srcName, leaf.Dir, leaf.Name)
	}
	if err != nil {
		return err
	}
	return skippedError(c.Skipped, srcName, c.SrcName)
}

// missingHint explains a path that is not found in the container although it may be
// on the host.
func (s side) missingHint(err error) string {
	if !s.inside || !errors.Is(err, unix.ENOENT) {
		return ""
	}
	return " (symlinks in the container lead inside the container, never to the host)"
}

const cpKinds = "cp copies regular files, directories, symlinks and fifos: an unprivileged user cannot make sockets or device nodes"

// skippedError lists what a copy left out (sockets and device nodes); top is the
// source's own name in its directory.
func skippedError(skipped []inroot.Skipped, top string, name func(string) string) error {
	if len(skipped) == 0 {
		return nil
	}
	if len(skipped) == 1 && skipped[0].Rel == top {
		return fmt.Errorf("cannot copy %s: it is a %s (%s)", name(top), skipped[0].Kind, cpKinds)
	}
	var list []string
	for i, s := range skipped {
		if i == 10 {
			list = append(list, fmt.Sprintf("and %d more", len(skipped)-i))
			break
		}
		list = append(list, fmt.Sprintf("%s (a %s)", name(s.Rel), s.Kind))
	}
	return fmt.Errorf("not copied: %s; everything else was copied (%s)", strings.Join(list, ", "), cpKinds)
}
