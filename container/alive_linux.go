package container

import (
	"os"
	"strconv"
	"strings"
	"time"
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
