package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// MiB is 2^20 bytes.
const MiB = 1 << 20

// Kind is one kind of file hutch reads into memory to parse, with the most it reads of
// one: a device, a FIFO or a file of many gigabytes in its place (a Dockerfile that is a
// symlink to /dev/zero) is refused, naming the file, instead of being read until memory
// runs out. docs/security.md ("Files hutch reads") lists them.
type Kind struct {
	What  string // what the file is, for messages: "Dockerfile", "ignore file" …
	Limit int64  // the most hutch reads, in bytes
	Fix   string // what to do about a file over the limit
}

// The files hutch parses. The limits are far above what a real file of the kind needs
// and far below what hurts a machine.
var (
	Dockerfile = Kind{"Dockerfile", 4 * MiB, "a Dockerfile is text: keep data in the build context and COPY it"}
	IgnoreFile = Kind{"ignore file", 4 * MiB, "an ignore file lists patterns: keep it to the patterns the build needs"}
	ConfigFile = Kind{"config file", 1 * MiB, "config.toml holds a few settings: check that it is the file you meant"}
	EnvFile    = Kind{"env file", 4 * MiB, "an --env-file holds KEY=VALUE lines: pass large data as a file (-v) instead"}
	// Secret is BuildKit's limit for a build secret (500 KiB).
	Secret       = Kind{"secret", 500 << 10, "a build secret is at most 500 KiB, as with Docker: mount larger data with RUN --mount=type=bind"}
	Password     = Kind{"password", 1 * MiB, "give only the password or token on standard input"}
	RegistryFile = Kind{"registry configuration file", 4 * MiB, "auth.json, certs.d, registries.conf.d and registries.d hold small text files: check that it is the file you meant"}
	// ArchiveIndex is an oci-archive's index.json (go.podman.io/image reads a
	// docker-archive's manifest.json with a 1 MiB limit of its own).
	ArchiveIndex = Kind{"index.json", 4 * MiB, "an image archive's index lists a few manifests: the archive is not a sane image archive"}
	// UserDB is an image's /etc/passwd or /etc/group, read to resolve a user name.
	UserDB = Kind{"user database", 16 * MiB, "use numeric ids (-u 1000:1000) or slim the image's /etc/passwd and /etc/group"}
	// HostDB is the host's /etc/passwd, /etc/group, /etc/subuid or /etc/subgid.
	HostDB = Kind{"host file", 64 * MiB, "ask an admin to check the file"}
)

// FileError says why a file was not read: what it is, where, and what to do.
type FileError struct {
	Kind    Kind
	Path    string
	Problem string
	Err     error // the underlying error, if any (fs.ErrNotExist …)
}

func (e *FileError) Error() string { return e.Kind.What + " " + e.Path + ": " + e.Problem }
func (e *FileError) Unwrap() error { return e.Err }

// Read reads the regular file at path (symlinks followed), at most k.Limit bytes. A
// missing file is an error that matches fs.ErrNotExist.
func (k Kind) Read(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, k.openErr(path, err)
	}
	return k.readPathFD(fd, path)
}

// ReadBeneath reads rel, a path inside the directory dir, without leaving dir: a `..`
// or a symlink that leads out of dir (to /dev/zero, to the user's files) is refused, as
// are symlinks through /proc. For files a build context names (Dockerfile,
// .dockerignore): the context may be someone else's.
func (k Kind) ReadBeneath(dir, rel string) ([]byte, error) {
	return k.readAt(dir, rel, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_MAGICLINKS)
}

// ReadInRoot reads rel inside the root file system root, as a process chrooted there
// would: `..` stops at root and absolute symlinks start from it. For files of an image
// (its /etc/passwd), whose symlinks mean paths inside the image.
func (k Kind) ReadInRoot(root, rel string) ([]byte, error) {
	return k.readAt(root, rel, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS)
}

// ReadStream reads at most k.Limit bytes from r (standard input); name is what messages
// call it.
func (k Kind) ReadStream(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, k.Limit+1))
	if err != nil {
		return nil, &FileError{Kind: k, Path: name, Problem: err.Error(), Err: err}
	}
	if int64(len(data)) > k.Limit {
		return nil, k.tooBig(name)
	}
	return data, nil
}

// Check says whether path (symlinks followed) is a regular file within the limit,
// without reading it: for files a library reads itself.
func (k Kind) Check(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return k.openErr(path, err)
	}
	return k.checkStat(path, &st)
}

func (k Kind) readAt(dir, rel string, resolve uint64) ([]byte, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, k.openErr(dir, err)
	}
	defer unix.Close(dfd)
	show := dir + "/" + rel
	if rel == "" || rel[0] == '/' {
		show = dir + rel
	}
	fd, err := unix.Openat2(dfd, rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolve})
	if errors.Is(err, unix.EXDEV) || (errors.Is(err, unix.ELOOP) && resolve&unix.RESOLVE_NO_MAGICLINKS != 0 && isMagic(show)) {
		return nil, &FileError{Kind: k, Path: show, Err: err,
			Problem: "leads out of " + dir + linkNote(show) + ": hutch reads it only from inside " + dir + "; replace the link with the file itself"}
	}
	if err != nil {
		return nil, k.openErr(show, err)
	}
	return k.readPathFD(fd, show)
}

// readPathFD checks the O_PATH descriptor fd (closed on return) and reads its file:
// opening a device or a FIFO for reading can block or act, so only a regular file is
// opened, through the descriptor, which names the very file checked.
func (k Kind) readPathFD(fd int, show string) ([]byte, error) {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &FileError{Kind: k, Path: show, Problem: err.Error(), Err: err}
	}
	if err := k.checkStat(show, &st); err != nil {
		return nil, err
	}
	rfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, k.openErr(show, err)
	}
	f := os.NewFile(uintptr(rfd), show)
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, k.Limit+1))
	if err != nil {
		return nil, &FileError{Kind: k, Path: show, Problem: err.Error(), Err: err}
	}
	if int64(len(data)) > k.Limit {
		return nil, k.tooBig(show) // it grew while being read
	}
	return data, nil
}

func (k Kind) checkStat(show string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &FileError{Kind: k, Path: show,
			Problem: "is " + describeType(st.Mode) + linkNote(show) + ", not a regular file: hutch reads the " + k.What + " only from a regular file; replace it with the file itself"}
	}
	if st.Size > k.Limit {
		return k.tooBig(show)
	}
	return nil
}

func (k Kind) tooBig(show string) error {
	return &FileError{Kind: k, Path: show,
		Problem: fmt.Sprintf("is larger than %s, hutch's limit for the %s: %s", Size(k.Limit), k.What, k.Fix)}
}

func (k Kind) openErr(show string, err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) && errno == unix.ENOENT {
		return &FileError{Kind: k, Path: show, Problem: "no such file", Err: fs.ErrNotExist}
	}
	if errors.As(err, &errno) && errno == unix.ENXIO {
		return &FileError{Kind: k, Path: show, Problem: "is a socket, not a regular file: hutch reads the " + k.What + " only from a regular file; replace it with the file itself", Err: err}
	}
	return &FileError{Kind: k, Path: show, Problem: err.Error(), Err: err}
}

func describeType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFIFO:
		return "a named pipe (FIFO)"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "not a regular file"
}

// linkNote says where a symlink at p points, for messages (" (a symbolic link to X)").
func linkNote(p string) string {
	if t, err := os.Readlink(p); err == nil {
		return " (a symbolic link to " + t + ")"
	}
	return ""
}

func isMagic(p string) bool {
	t, err := os.Readlink(p)
	return err == nil && len(t) >= 6 && t[:6] == "/proc/"
}

// Size writes n bytes as KiB, MiB or GiB when it is a whole number of them.
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= MiB && n%MiB == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// ReadUserDB reads an image's /etc/passwd and /etc/group inside its root file system
// root (UserDB's limit, symlinks resolved in the root), for resolving a user name. A
// file the image lacks is a nil reader, as the user database readers take it.
func ReadUserDB(root string) (passwd, group io.Reader, err error) {
	read := func(p string) (io.Reader, error) {
		data, err := UserDB.ReadInRoot(root, p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(data), nil
	}
	if passwd, err = read("/etc/passwd"); err != nil {
		return nil, nil, err
	}
	if group, err = read("/etc/group"); err != nil {
		return nil, nil, err
	}
	return passwd, group, nil
}
