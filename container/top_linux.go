package container

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Process is one row of `hutch top`.
type Process struct {
	UID   string
	PID   int
	PPID  int
	STIME string
	TIME  string
	CMD   string
}

// Top lists the container's processes (host pids), read from /proc without entering a
// namespace: every process of the init's pid namespace, or, when the container's own
// /proc cannot be read (an init running as a subordinate id), the init's process tree.
func (r *Records) Top(c *Config) ([]Process, error) {
	st, err := r.Current(c.ID)
	if err != nil {
		return nil, err
	}
	if st.Status != StatusRunning {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRunning, c.Name, st.Status)
	}
	var out []Process
	if pids, ok := pidsInNamespace(st.Pid); ok {
		for _, pid := range pids {
			if p, ok := readProcess(pid); ok {
				out = append(out, p)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
		return out, nil
	}
	queue := []int{st.Pid}
	seen := map[int]bool{}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		p, ok := readProcess(pid)
		if !ok {
			continue
		}
		out = append(out, p)
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, t := range tasks {
			b, _ := os.ReadFile(t)
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					queue = append(queue, n)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

func readProcess(pid int) (Process, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Process{}, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return Process{}, false
	}
	p := Process{PID: pid}
	p.PPID, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	cpu := time.Duration(utime+stime) * time.Second / 100
	p.TIME = fmt.Sprintf("%02d:%02d:%02d", int(cpu.Hours()), int(cpu.Minutes())%60, int(cpu.Seconds())%60)
	p.STIME = processStart(pid).Format("15:04")
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				if fs := strings.Fields(v); len(fs) > 0 {
					p.UID = fs[0]
				}
			}
		}
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	p.CMD = strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	if p.CMD == "" {
		p.CMD = "[" + strings.Trim(s[strings.IndexByte(s, '(')+1:strings.LastIndexByte(s, ')')], " ") + "]"
	}
	return p, true
}

// pidsInNamespace finds the host pids of the processes in init's pid namespace. The
// container's own /proc (reached as /proc/INIT/root/proc) lists them by their pids in
// the container; a host process is one of them when its innermost pid (the last NSpid)
// and its start time match. This finds a process started with `exec -d` too, which is
// adopted outside the init's tree. ok is false when the container's /proc is unreadable.
func pidsInNamespace(init int) ([]int, bool) {
	cproc := fmt.Sprintf("/proc/%d/root/proc", init)
	entries, err := os.ReadDir(cproc)
	if err != nil {
		return nil, false
	}
	type key struct {
		pid   int
		start string
	}
	inside := map[key]bool{}
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			if s := startTicks(filepath.Join(cproc, e.Name(), "stat")); s != "" {
				inside[key{n, s}] = true
			}
		}
	}
	var pids []int
	statuses, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, p := range statuses {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(line, "NSpid:")
			if !ok {
				continue
			}
			f := strings.Fields(v)
			if len(f) < 2 {
				break
			}
			cpid, _ := strconv.Atoi(f[len(f)-1])
			host, _ := strconv.Atoi(f[0])
			if inside[key{cpid, startTicks(filepath.Join(filepath.Dir(p), "stat"))}] {
				pids = append(pids, host)
			}
			break
		}
	}
	return pids, len(pids) > 0
}

// startTicks is field 22 of a /proc/PID/stat file: when the process started, in clock
// ticks since boot, the same in every pid namespace.
func startTicks(stat string) string {
	b, err := os.ReadFile(stat)
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}
