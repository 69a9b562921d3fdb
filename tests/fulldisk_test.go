package tests

// A full disk: the store on a small file system (tmpfs, or ext4 on a loop file) that a
// container fills. Every command that frees space still works; a command that needs
// space says that the disk is full, naming the file system and what is free on it.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// smallDisk mounts a file system of mib MiB (kind "tmpfs", or "ext4" on a loop file) at
// the sandbox's hutch data directory, which holds the store and the volumes, owned by
// the user. Its cleanup, which runs before the sandbox's, removes the containers and
// unmounts it. It returns the mount point.
func smallDisk(t *testing.T, sb *sandbox, kind string, mib int) string {
	t.Helper()
	mp := sb.path("data", "hutch")
	sb.userDir(mp)
	switch kind {
	case "tmpfs":
		opts := "size=" + itoa(mib) + "m,mode=0700,uid=" + itoa(sb.user.uid) + ",gid=" + itoa(sb.user.gid)
		if err := unix.Mount("tmpfs", mp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			t.Fatalf("mounting a tmpfs at %s: %v", mp, err)
		}
	case "ext4":
		img := sb.path("disk.img")
		if err := os.Truncate(createFile(t, img), int64(mib)<<20); err != nil {
			t.Fatal(err)
		}
		// -m 0: no blocks kept for root, so the user meets the real end of the disk.
		for _, args := range [][]string{{"mkfs.ext4", "-q", "-F", "-m", "0", img}, {"mount", "-o", "loop", img, mp}} {
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		if err := os.Chown(mp, sb.user.uid, sb.user.gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(mp, 0o700); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(filepath.Join(mp, "lost+found"))
	default:
		t.Fatalf("smallDisk: unknown kind %q", kind)
	}
	sb.harnessMounts = append(sb.harnessMounts, mp)
	t.Cleanup(func() {
		if ids := lines(sb.run(runOpts{}, "ps", "-aq", "--no-trunc").stdout); len(ids) > 0 {
			sb.run(runOpts{}, append([]string{"rm", "-f"}, ids...)...)
		}
		for _, p := range lcProcs(sb) {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		sb.run(runOpts{}, "system", "reset", "-f")
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", mp, err)
		}
	})
	return mp
}

func createFile(t *testing.T, p string) string {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// freeBytes is what an unprivileged user may still write on the file system at p.
func freeBytes(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fillScript fills the container's root file system (and so the store's file system) to
// the last block, then prints nothing and ends with status code, or, with code < 0,
// stays until stopped, as `sleep 1000` (the sign that it is done filling).
func fillScript(code int) string {
	s := "dd if=/dev/zero of=/fill bs=1M 2>/dev/null; dd if=/dev/zero of=/fill2 bs=4k 2>/dev/null; "
	if code >= 0 {
		return s + "exit " + itoa(code)
	}
	return s + "trap 'exit 0' TERM; sleep 1000 & wait"
}

// fillDisk starts a container (named name) that fills the disk at mp, and waits until it
// has: its `sleep 1000` runs, and the file system has no room left.
func fillDisk(t *testing.T, sb *sandbox, mp, name string) {
	t.Helper()
	lcRunD(sb, "--name", name, lcImage, "sh", "-c", fillScript(-1))
	lcEventually(t, 60*time.Second, "the container "+name+" filled the disk", func() (bool, string) {
		done := false
		for _, p := range lcProcs(sb) {
			done = done || (p.inContainer && p.args == "sleep 1000")
		}
		return done, lcProcList(lcProcs(sb))
	})
	if free := freeBytes(t, mp); free > 64<<10 {
		t.Fatalf("the container %s finished filling, but %d bytes are still free on %s", name, free, mp)
	}
}

// TestFullDisk: on a store whose file system a container filled, rm -f of that
// container works and gives the space back; import says the disk is full (naming the
// file system and its free space) instead of blaming the archive; run --rm whose command
// filled the disk ends with the command's status and leaves nothing; rmi, volume rm,
// system check --repair and container prune all work on the full disk.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"tmpfs", "ext4"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t, userWithRange)
			mp := smallDisk(t, sb, kind, 64)
			lcImport(t, sb)
			sb.ok("import", lcRootfs(t), "spare")
			sb.ok("volume", "create", "data")
			sb.ok("run", "--rm", "-v", "data:/data", lcImage, "sh", "-c", "echo kept > /data/file")
			sb.ok("system", "check") // the reserve is made when the store is opened
			roomy := freeBytes(t, mp)

			// rm -f of the container that filled the disk.
			fillDisk(t, sb, mp, "filler")
			assertEqual(t, sb.ok("rm", "-f", "filler").stdout, "filler\n", "rm -f on a full disk")
			if free := freeBytes(t, mp); free < roomy/2 {
				t.Fatalf("rm -f gave back too little: %d bytes free, %d before the filling", free, roomy)
			}
			assertCheckClean(t, sb, "rm -f on a full disk")

			// import onto the full store.
			fillDisk(t, sb, mp, "filler")
			r := sb.expect(125, "import", lcRootfs(t), "more")
			assertOneLineError(t, r, "no space left on device", "the disk is full", mp, "free of")
			assertNotContains(t, r.stderr, "truncated", "import onto a full store")
			if strings.Contains(sb.ok("images").stdout, "more") {
				t.Fatal("the failed import left an image")
			}
			// Freeing space on the full disk: rmi, system prune, volume rm, check --repair
			// (after the filler's monitor is killed), container prune.
			sb.ok("rmi", "spare")
			sb.ok("system", "prune", "-f")
			assertEqual(t, sb.ok("volume", "rm", "data").stdout, "data\n", "volume rm on a full disk")
			mon := lcMonitorOf(sb, lcInspect(sb, "filler").ID)
			if err := syscall.Kill(mon.pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			lcEventually(t, 10*time.Second, "the filler's monitor is gone", func() (bool, string) { return !lcAlive(mon.pid), "" })
			if c, r := sb.check("--repair"); r.code != 0 {
				t.Fatalf("system check --repair on a full disk:\n%s", c)
			}
			sb.ok("container", "prune", "-f")
			if free := freeBytes(t, mp); free < roomy/2 {
				t.Fatalf("container prune gave back too little: %d bytes free", free)
			}
			sb.ok("import", lcRootfs(t), "more")

			// run --rm whose command fills the disk: its status, nothing left.
			r = sb.expect(5, "run", "--rm", lcImage, "sh", "-c", fillScript(5))
			assertEqual(t, r.stderr, "", "run --rm that filled the disk: stderr")
			lcAssertClean(t, sb, "run --rm that filled the disk")
			if free := freeBytes(t, mp); free < roomy/2 {
				t.Fatalf("run --rm left the disk full: %d bytes free", free)
			}
			assertCheckClean(t, sb, "run --rm that filled the disk")
		})
	}
}

// TestRunRmRemovalFails: when the removal of a --rm container fails after its command
// ran, hutch exits with the command's status and says on its own line that the removal
// failed and how to finish it. (The test makes the container's record directory
// immutable while the command runs.)
func TestRunRmRemovalFails(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	in, feed := io.Pipe()
	bg := lcStart(sb, runOpts{stdin: in}, "run", "--rm", "-i", "--name", "stuck", lcImage, "sh", "-c", "echo ran; read x; exit 3")
	lcEventually(t, 30*time.Second, "the command runs", func() (bool, string) { return strings.Contains(bg.stdout.String(), "ran"), bg.stderr.String() })
	rec := filepath.Join(sb.recordsDir(), lcInspect(sb, "stuck").ID)
	setImmutable(t, rec, true)
	t.Cleanup(func() { setImmutable(t, rec, false) })
	_, _ = feed.Write([]byte("go\n"))
	feed.Close()
	r := bg.wait(t, 30*time.Second)
	if r.code != 3 {
		t.Fatalf("run --rm whose removal failed should exit with the command's status 3:\n%s", r)
	}
	assertEqual(t, r.stdout, "ran\n", "the command's output")
	assertOneLineError(t, r, "exited with status 3", "removing it (--rm) failed", "hutch rm stuck")
	setImmutable(t, rec, false)
	sb.ok("rm", "stuck")
	lcAssertClean(t, sb, "rm of the --rm container whose removal failed")
	assertCheckClean(t, sb, "rm of the --rm container whose removal failed")
}

// setImmutable sets or clears a file's immutable attribute (chattr +i), which even the
// user namespace's root cannot override.
func setImmutable(t *testing.T, p string, on bool) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		if !on && errors.Is(err, fs.ErrNotExist) {
			return
		}
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Fatalf("reading the attributes of %s: %v", p, err)
	}
	if on {
		flags |= fsImmutableFL
	} else {
		flags &^= fsImmutableFL
	}
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
		t.Fatalf("setting the attributes of %s: %v", p, err)
	}
}

// fsImmutableFL is FS_IMMUTABLE_FL of <linux/fs.h>.
const fsImmutableFL = 0x10

// TestFullDiskAtOnce: a command that fills the store's file system as the first thing
// it does cannot fail hutch's record of its start (recorded before the command runs):
// `run --rm` ends with the command's status, nothing on stderr, the space given back,
// every time; a detached one's exit is recorded with its status although the disk it
// filled stays full (the monitor gives up the reserve to write it).
func TestFullDiskAtOnce(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	mp := smallDisk(t, sb, "tmpfs", 64)
	lcImport(t, sb)
	roomy := freeBytes(t, mp)
	for i := 0; i < 10; i++ {
		r := sb.expect(5, "run", "--rm", lcImage, "sh", "-c", fillScript(5))
		assertEqual(t, r.stderr, "", "run --rm that filled the disk at once: stderr")
		// (slirp4netns, which run does not wait for, may hold a copy of the root's
		// mount in its mount namespace for a moment after hutch removed it.)
		lcEventually(t, 30*time.Second, "run --rm gave the space back", func() (bool, string) {
			free := freeBytes(t, mp)
			return free >= roomy/2, fmt.Sprintf("run --rm %d: %d bytes free (%d before)\n%s", i, free, roomy, lcProcList(lcProcs(sb)))
		})
	}
	lcAssertClean(t, sb, "run --rm that filled the disk at once")
	assertCheckClean(t, sb, "run --rm that filled the disk at once")

	id := lcRunD(sb, "--name", "full", lcImage, "sh", "-c", fillScript(7))
	in := lcWaitStatus(sb, id, "exited", time.Minute)
	assertEqual(t, in.State.ExitCode, 7, "exit code recorded for the detached container that filled the disk")
	assertEqual(t, sb.ok("rm", "full").stdout, "full\n", "rm of the container that filled the disk")
	assertCheckClean(t, sb, "rm of the container that filled the disk")
}
