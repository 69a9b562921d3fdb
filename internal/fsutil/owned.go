package fsutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MkdirTempOwned makes a new directory in dir named prefix, this process's PID, "-" and
// a random part: who made it stays readable, so that what a killed process left can be
// told from what a live one is using (RemoveDeadOwned).
func MkdirTempOwned(dir, prefix string) (string, error) {
	return os.MkdirTemp(dir, prefix+strconv.Itoa(os.Getpid())+"-")
}

// CreateTempOwned is MkdirTempOwned for a file.
func CreateTempOwned(dir, prefix string) (*os.File, error) {
	return os.CreateTemp(dir, prefix+strconv.Itoa(os.Getpid())+"-")
}

// OwnerPID reads the PID from a name MkdirTempOwned or CreateTempOwned made with prefix.
func OwnerPID(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	p, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

// OwnerGone tells whether the process that made name (with prefix) has ended.
func OwnerGone(name, prefix string) bool {
	pid, ok := OwnerPID(name, prefix)
	return ok && !ProcessAlive(pid)
}

// ProcessAlive tells whether process pid runs: it exists and is not a zombie (a killed
// process stays one until its parent, or init, reaps it).
func ProcessAlive(pid int) bool {
	f := procStat(pid)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// ProcessStart is when process pid started, in clock ticks after boot (/proc/PID/stat's
// starttime): with its pid, what names a process across pid reuse. False when it is gone
// or a zombie.
func ProcessStart(pid int) (uint64, bool) {
	f := procStat(pid)
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	t, err := strconv.ParseUint(f[19], 10, 64)
	return t, err == nil
}

// procStat is /proc/PID/stat's fields after the command name (state first); nil when
// the process is gone.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

// RemoveDeadOwned removes the entries of dir made with prefix by processes that have
// ended, and returns their paths.
func RemoveDeadOwned(dir, prefix string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if OwnerGone(e.Name(), prefix) {
			p := filepath.Join(dir, e.Name())
			if os.RemoveAll(p) == nil {
				out = append(out, p)
			}
		}
	}
	return out
}
