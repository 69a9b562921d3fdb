package container

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/fsutil"
)

// execing tells whether pid, whose /proc/PID/stat reads as a zombie, is in fact executing
// a program from a thread other than its first: while the kernel makes that thread the
// leader, the old leader shows as a zombie, but another task of the process still lives.
// The monitor executes hutch that way (from the thread that started the container), and
// `stop` or `rm` right after `run -d` must not take it for dead.
func execing(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, t := range tasks {
		if t.Name() == strconv.Itoa(pid) {
			continue
		}
		b, err := os.ReadFile(dir + "/" + t.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 0 && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// confirmDead calls alive until it says yes, a few times over up to 50 ms: a monitor
// that executes hutch (into its C half and back) is unreadable in /proc, or reads as a
// zombie, for a moment, and `stop`/`rm` right after `run -d` must not take it for dead
// (they would leave the container running, unrecorded). Only a record that says
// "running" for a process that is really gone pays the wait.
func confirmDead(alive func() bool) bool {
	for i := 0; ; i++ {
		if alive() {
			return true
		}
		if i == 10 {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// MonitorGone waits (at most timeout) until the monitor of container id, pid, has ended:
// a stopped container's monitor still unmounts and writes the store for a moment after
// the exit is recorded, and what deletes the store must not race it. It returns at once
// when pid is no monitor of id.
func MonitorGone(pid int, id string, timeout time.Duration) {
	if !monitorAlive(pid, id) {
		return
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if !monitorAlive(pid, id) { // the pid may have been reused before the pidfd was open
		return
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
		if n == 1 || (err != nil && err != unix.EINTR) {
			return
		}
	}
}

// self is this process, as an Owner.
func self() *Owner {
	st, _ := fsutil.ProcessStart(os.Getpid())
	return &Owner{Pid: os.Getpid(), Start: st}
}

// Alive tells whether the process still runs (false for nil).
func (o *Owner) Alive() bool {
	if o == nil || o.Pid <= 0 {
		return false
	}
	st, ok := fsutil.ProcessStart(o.Pid)
	return ok && st == o.Start
}

// Starting tells whether a process is starting the container right now (State.Starter):
// it has not recorded it as running yet, and what it mounted and attached is its own.
func Starting(st *State) bool {
	return st.Status != StatusRunning && st.Starter.Alive()
}

// Started waits (at most timeout) while a process is starting container id (Starting),
// and returns its state then, as Current reads it: `rm -f` must see a container its
// starter is about to run as running, not remove it from under the start.
func (r *Records) Started(id string, timeout time.Duration) (*State, error) {
	for deadline := time.Now().Add(timeout); ; {
		st, err := r.State(id)
		if err != nil || !Starting(st) || time.Now().After(deadline) {
			return r.Current(id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
