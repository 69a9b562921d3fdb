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

// Top lists the container's processes: its init and every descendant, read from /proc
// (the children files need no privilege, so this works without entering a namespace).
func (r *Records) Top(c *Config) ([]Process, error) {
	st, err := r.Current(c.ID)
	if err != nil {
		return nil, err
	}
	if st.Status != StatusRunning {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRunning, c.Name, st.Status)
	}
	var out []Process
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
