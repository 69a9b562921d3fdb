package nsinit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// What setupRootfs asks of the kernel, replaced by the unit tests, which record the
// mounts a spec turns into (rootfs_linux_test.go).
var (
	mount    = sysMount
	readOnly = sysReadOnly
	pivot    = sysPivot
)

// sysMount wraps mount(2) with an error that names the target (and the source of a bind).
func sysMount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		what := fstype
		if flags&unix.MS_BIND != 0 {
			what = "bind " + source
		}
		return &os.PathError{Op: "mount " + what + " on", Path: target, Err: err}
	}
	return nil
}

// sysReadOnly makes the mount at path (and, when recursive, everything below it)
// read-only with mount_setattr, which keeps the flags the kernel locked in place.
func sysReadOnly(path string, recursive bool) error {
	flags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.MountSetattr(fd, "", flags, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return &os.PathError{Op: "making read-only", Path: path, Err: err}
	}
	return nil
}

// inRoot resolves a container path inside rootfs, following symlinks as if rootfs were
// "/", so no path from an image can lead outside it.
func inRoot(rootfs, path string) (string, error) {
	p, err := securejoin.SecureJoin(rootfs, path)
	if err != nil {
		return "", fmt.Errorf("resolving %s in the container: %w", path, err)
	}
	return p, nil
}

// ensure creates the mount target: a directory, or an empty file for a file bind.
func ensure(target string, file bool) error {
	if file {
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			if fi, serr := os.Stat(target); serr == nil && !fi.IsDir() {
				return nil
			}
			return err
		}
		return f.Close()
	}
	return os.MkdirAll(target, 0o755)
}

// setupRootfs builds the container's file system under spec.Rootfs and pivots into it.
func setupRootfs(spec *Spec) error {
	root := spec.Rootfs
	// Nothing we mount may propagate back to the parent's namespace.
	if err := mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	// pivot_root needs the new root to be a mount point.
	if err := mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	for _, step := range []func(*Spec) error{mountProc, mountDev, mountSys} {
		if err := step(spec); err != nil {
			return err
		}
	}
	for _, m := range spec.Mounts {
		if err := userMount(root, m); err != nil {
			return err
		}
	}
	if !spec.Privileged {
		if err := maskPaths(root, spec); err != nil {
			return err
		}
	}
	if spec.ReadOnly {
		// Only the root mount itself: the mounts on top keep their own modes.
		if err := readOnly(root, false); err != nil {
			return err
		}
	}
	return pivot(root)
}

func mountProc(spec *Spec) error {
	target, err := inRoot(spec.Rootfs, "/proc")
	if err != nil {
		return err
	}
	if err := ensure(target, false); err != nil {
		return err
	}
	if spec.PidNS == NSHost {
		// The host's pid namespace is not the user namespace's to mount a proc of:
		// bind the host's /proc, as Podman does.
		return mount("/proc", target, "", unix.MS_BIND|unix.MS_REC, "")
	}
	return mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// hostDevices are bind-mounted from the host into the container's tmpfs /dev: an
// unprivileged user cannot create device nodes, but can bind the existing ones.
var hostDevices = []string{"null", "zero", "full", "random", "urandom", "tty"}

func mountDev(spec *Spec) error {
	dev, err := inRoot(spec.Rootfs, "/dev")
	if err != nil {
		return err
	}
	if err := ensure(dev, false); err != nil {
		return err
	}
	if err := mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, d := range hostDevices {
		t := filepath.Join(dev, d)
		if err := ensure(t, true); err != nil {
			return err
		}
		if err := mount("/dev/"+d, t, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return err
	}
	opts := "newinstance,ptmxmode=0666,mode=0620"
	if spec.TTYGroup {
		opts += ",gid=5"
	}
	if err := mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, opts); err != nil {
		return err
	}
	if err := os.Symlink("pts/ptmx", filepath.Join(dev, "ptmx")); err != nil {
		return err
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return err
	}
	shmSize := "size=65536k"
	if spec.ShmSize > 0 {
		shmSize = "size=" + strconv.FormatInt(spec.ShmSize, 10)
	}
	mq := filepath.Join(dev, "mqueue")
	if err := os.Mkdir(mq, 0o755); err != nil {
		return err
	}
	if spec.IPCNS == NSHost {
		// The host's IPC namespace: its /dev/shm and message queues, bound (a new
		// mqueue of it is not the user namespace's to mount).
		if err := mount("/dev/shm", shm, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if _, err := os.Stat("/dev/mqueue"); err == nil {
			if err := mount("/dev/mqueue", mq, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return err
			}
		}
	} else {
		if err := mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,"+shmSize); err != nil {
			return err
		}
		if err := mount("mqueue", mq, "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return err
		}
	}
	for link, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "core": "/proc/kcore"} {
		if err := os.Symlink(target, filepath.Join(dev, link)); err != nil {
			return err
		}
	}
	if spec.Terminal {
		// The terminal is the init's stdin: make it /dev/console too, as Docker does.
		console := filepath.Join(dev, "console")
		if err := ensure(console, true); err != nil {
			return err
		}
		// The terminal was opened in the parent's mount namespace, and the kernel refuses
		// (EINVAL) to bind a file of a mount outside the caller's namespace, which
		// /proc/self/fd/0 is. Bind its path instead: this namespace's copy of that mount
		// resolves it, and it must be the same device.
		src, err := os.Readlink("/proc/self/fd/0")
		if err != nil {
			return fmt.Errorf("finding the terminal: %w", err)
		}
		var want, got unix.Stat_t
		if err := unix.Fstat(0, &want); err != nil {
			return fmt.Errorf("the terminal: %w", err)
		}
		if err := unix.Stat(src, &got); err != nil || got.Rdev != want.Rdev || want.Mode&unix.S_IFMT != unix.S_IFCHR {
			return fmt.Errorf("the terminal %s is not reachable from the container's mount namespace", src)
		}
		if err := mount(src, console, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	return nil
}

func mountSys(spec *Spec) error {
	sys, err := inRoot(spec.Rootfs, "/sys")
	if err != nil {
		return err
	}
	if err := ensure(sys, false); err != nil {
		return err
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY)
	if spec.NewNetwork {
		// A sysfs of our own needs a network namespace of our own.
		if err := mount("sysfs", sys, "sysfs", flags, ""); err != nil {
			return err
		}
		cg := filepath.Join(sys, "fs", "cgroup")
		if fi, err := os.Stat(cg); err == nil && fi.IsDir() {
			// Best effort: a cgroup namespace shows the container's own cgroup as root.
			_ = mount("cgroup2", cg, "cgroup2", flags, "")
		}
		return nil
	}
	// With the host's network, bind the host's /sys, read-only all the way down.
	if err := mount("/sys", sys, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if spec.Privileged {
		return nil
	}
	return readOnly(sys, true)
}

func userMount(root string, m Mount) error {
	target, err := inRoot(root, m.Destination)
	if err != nil {
		return err
	}
	switch m.Type {
	case "bind":
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("bind mount source: %w", err)
		}
		if err := ensure(target, !fi.IsDir()); err != nil {
			return fmt.Errorf("creating mount point %s: %w", m.Destination, err)
		}
		if err := mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
	case "tmpfs":
		if err := ensure(target, false); err != nil {
			return fmt.Errorf("creating mount point %s: %w", m.Destination, err)
		}
		data := strings.Join(m.Options, ",")
		flags := uintptr(unix.MS_NODEV)
		if !m.Suid {
			flags |= unix.MS_NOSUID
		}
		if m.NoExec {
			flags |= unix.MS_NOEXEC
		}
		if err := mount("tmpfs", target, "tmpfs", flags, data); err != nil {
			return err
		}
	case "overlay":
		// -v DIR:DST:O: the host directory under an upper layer of the container's own
		// (the options name both; userxattr: an overlay mounted in a user namespace).
		if err := ensure(target, false); err != nil {
			return fmt.Errorf("creating mount point %s: %w", m.Destination, err)
		}
		if err := mount("overlay", target, "overlay", 0, strings.Join(m.Options, ",")); err != nil {
			return err
		}
	default:
		return fmt.Errorf("mount type %q is not supported", m.Type)
	}
	if m.ReadOnly {
		return readOnly(target, true)
	}
	return nil
}

// maskPaths hides what Docker hides (a /dev/null bind over files, an empty read-only
// tmpfs over directories) and makes the kernel's tunables read-only.
func maskPaths(root string, spec *Spec) error {
	masked, readonly := Masks(spec.Mask, spec.Unmask)
	for _, p := range masked {
		t, err := inRoot(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(t)
		if err != nil {
			continue // not on this kernel
		}
		if fi.IsDir() {
			err = mount("tmpfs", t, "tmpfs", unix.MS_RDONLY, "size=0")
		} else {
			err = mount("/dev/null", t, "", unix.MS_BIND, "")
		}
		if err != nil {
			return err
		}
	}
	for _, p := range readonly {
		t, err := inRoot(root, p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(t); err != nil {
			continue
		}
		if err := mount(t, t, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if err := readOnly(t, true); err != nil {
			return err
		}
	}
	return nil
}

// sysPivot makes root the new "/" and detaches the old root entirely.
func sysPivot(root string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/", Err: err}
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: root, Err: err}
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "mount", Path: "old root", Err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "unmount", Path: "old root", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	return nil
}
