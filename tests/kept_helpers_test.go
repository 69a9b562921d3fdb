package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holderFiles are where the sandbox's holder file can be: its runtime directory, or
// the private fallback under its TMPDIR when a test unset XDG_RUNTIME_DIR.
func (sb *sandbox) holderFiles() []string {
	return []string{filepath.Join(sb.runtimeDir(), "holder"), sb.path("tmp", "hutch-"+strconv.Itoa(sb.user.uid), "holder")}
}

// holderLine reads the holder's pid and start time from a holder file (0 when there is
// none).
func holderLine(file string) (pid int, start string) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, ""
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return 0, ""
	}
	f := strings.Fields(lines[1])
	if len(f) < 4 || f[0] != "pid" {
		return 0, ""
	}
	pid, _ = strconv.Atoi(f[1])
	return pid, f[3]
}

// holderPids are the live processes the sandbox's holder files name.
func (sb *sandbox) holderPids() map[int]bool {
	out := map[int]bool{}
	for _, f := range sb.holderFiles() {
		if pid, _ := holderLine(f); pid > 0 && procAlive(pid) {
			out[pid] = true
		}
	}
	return out
}

// procAlive: the process exists and is not a zombie.
func procAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// sandboxHolders lists the live hutch-holder processes of the sandbox (tied to it by
// their command line, which names its runtime directory), the one its file names or
// not.
func sandboxHolders(sb *sandbox) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !procAlive(pid) {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.TrimSpace(string(comm)) == "hutch-holder" && strings.Contains(string(cmdline), sb.dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// holder returns the pid of the sandbox's one holder, failing the test unless there is
// exactly one, named by its file.
func (sb *sandbox) holder(t *testing.T) int {
	t.Helper()
	hs := sandboxHolders(sb)
	pid, _ := holderLine(filepath.Join(sb.runtimeDir(), "holder"))
	if len(hs) != 1 || hs[0] != pid {
		t.Fatalf("want exactly one hutch-holder of the sandbox, the one its file names (%d); found %v", pid, hs)
	}
	return pid
}

// waitGone waits until process pid has ended (its pidfd turns readable).
func waitGone(t *testing.T, pid int, timeout time.Duration, what string) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(timeout.Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if n == 1 {
			return
		}
		t.Fatalf("%s: process %d still alive after %s", what, pid, timeout)
	}
}

// nsOf is the inode of a namespace of process pid, "" when it cannot be read.
func nsOf(pid int, ns string) string {
	l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + ns)
	return l
}
