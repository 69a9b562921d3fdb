package recovery

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/fsutil"
)

// stray is a mount program left serving a mount for a hutch that is gone.
type stray struct {
	pid int
	// start is its start time (clock ticks after boot) when the check found it: the
	// repair runs later (after the store's, which may take minutes), when the pid may
	// be another process's.
	start uint64
	what  string
}

// kill ends the stray, through a pidfd, if its pid still names the process the check
// found; one that is gone (its pid free, or reused) is no error.
func (s stray) kill() error {
	proc := "/proc/" + strconv.Itoa(s.pid)
	fd, err := unix.PidfdOpen(s.pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "pidfd_open", Path: proc, Err: err}
	}
	defer unix.Close(fd)
	// Checked with the pidfd open: a pid reused before has another start time; after,
	// the pidfd still names the process checked.
	if st, ok := fsutil.ProcessStart(s.pid); !ok || st != s.start {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return &os.PathError{Op: "kill", Path: proc, Err: err}
	}
	return nil
}

// strayMountPrograms finds the fuse-overlayfs processes serving a layer of the store at
// graphRoot whose mount namespace holds nothing else: the hutch (or monitor, or build)
// that mounted it is gone, and the mount it keeps alive serves no one.
func strayMountPrograms(graphRoot string) []stray {
	type proc struct {
		pid   int
		start uint64
		mnt   string
		fuse  bool
		layer string
	}
	var procs []proc
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		mnt, err := os.Readlink(filepath.Join(dir, "ns", "mnt"))
		start, alive := fsutil.ProcessStart(pid)
		if err != nil || !alive {
			continue // not ours to read, or a zombie
		}
		p := proc{pid: pid, start: start, mnt: mnt}
		if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
			args := bytes.Split(bytes.TrimRight(cmd, "\x00"), []byte{0})
			if len(args) > 0 && filepath.Base(string(args[0])) == "fuse-overlayfs" && bytes.Contains(cmd, []byte(graphRoot+"/")) {
				p.fuse = true
				p.layer = mountedLayer(args, graphRoot)
			}
		}
		procs = append(procs, p)
	}
	busy := map[string]bool{} // mount namespaces with something besides mount programs
	for _, p := range procs {
		if !p.fuse {
			busy[p.mnt] = true
		}
	}
	var out []stray
	for _, p := range procs {
		if p.fuse && !busy[p.mnt] && fsutil.ProcessAlive(p.pid) && servesMount(p.pid, graphRoot) {
			what := "a mount"
			if p.layer != "" {
				what = "layer " + short(p.layer)
			}
			out = append(out, stray{pid: p.pid, start: p.start, what: what})
		}
	}
	return out
}

// mountedLayer reads the layer a fuse-overlayfs command line mounts (its mount point,
// GRAPHROOT/overlay/ID/merged).
func mountedLayer(args [][]byte, graphRoot string) string {
	prefix := graphRoot + "/overlay/"
	for i := len(args) - 1; i >= 0; i-- {
		a := string(args[i])
		if rest, ok := strings.CutPrefix(a, prefix); ok {
			if id, _, ok := strings.Cut(rest, "/"); ok {
				return id
			}
		}
	}
	return ""
}

// openUnder is the set of paths under dir (and their ancestors below dir) that a live
// process has open.
func openUnder(dir string) map[string]bool {
	out := map[string]bool{}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			t, err := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(t, prefix) {
				continue
			}
			for p := strings.TrimSuffix(t, " (deleted)"); strings.HasPrefix(p, prefix); p = filepath.Dir(p) {
				out[p] = true
			}
		}
	}
	return out
}

// processExists tells whether the process with the decimal PID pid runs.
func processExists(pid string) bool {
	n, err := strconv.Atoi(pid)
	return err == nil && fsutil.ProcessAlive(n)
}

// servesMount tells whether the mount program pid still has a FUSE mount under
// graphRoot in its mount namespace: one that was unmounted is on its way out.
func servesMount(pid int, graphRoot string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		_, rest, ok := strings.Cut(l, " - ")
		if !ok || len(f) < 5 || !strings.HasPrefix(f[4], graphRoot+"/") {
			continue
		}
		if rf := strings.Fields(rest); len(rf) > 0 && strings.HasPrefix(rf[0], "fuse") {
			return true
		}
	}
	return false
}
