package cgroups

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Stats are one reading of a cgroup's own counters.
type Stats struct {
	Time       time.Time `json:"-"`
	CPUUsec    uint64    `json:"cpuUsageUsec"` // cpu.stat usage_usec
	Throttled  uint64    `json:"nrThrottled"`  // cpu.stat nr_throttled (0 without the cpu controller)
	MemKnown   bool      `json:"-"`            // memory.current exists (the memory controller is on)
	MemUsage   uint64    `json:"memoryUsage"`  // memory.current less inactive file pages, as Docker counts
	MemLimit   uint64    `json:"memoryLimit"`  // memory.max, or the host's memory when "max"
	Pids       uint64    `json:"pids"`         // pids.current, or the tasks in cgroup.threads
	ReadBytes  uint64    `json:"blkioRead"`    // io.stat rbytes, all devices
	WriteBytes uint64    `json:"blkioWrite"`   // io.stat wbytes, all devices
	OOMKills   int64     `json:"oomKills"`
}

// Stats reads the cgroup's counters.
func (c *Cgroup) Stats() (Stats, error) {
	s := Stats{Time: time.Now()}
	if _, err := os.Stat(filepath.Join(c.Dir, "cgroup.procs")); err != nil {
		return s, err
	}
	if v := keyValue(filepath.Join(c.Dir, "cpu.stat"), "usage_usec"); v > 0 {
		s.CPUUsec = uint64(v)
	}
	if v := keyValue(filepath.Join(c.Dir, "cpu.stat"), "nr_throttled"); v > 0 {
		s.Throttled = uint64(v)
	}
	if b, err := os.ReadFile(filepath.Join(c.Dir, "memory.current")); err == nil {
		s.MemKnown = true
		cur, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if inactive := keyValue(filepath.Join(c.Dir, "memory.stat"), "inactive_file"); inactive > 0 && uint64(inactive) < cur {
			cur -= uint64(inactive)
		}
		s.MemUsage = cur
		s.MemLimit = hostMemory()
		if b, err := os.ReadFile(filepath.Join(c.Dir, "memory.max")); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n < s.MemLimit {
				s.MemLimit = n
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(c.Dir, "pids.current")); err == nil {
		s.Pids, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	} else {
		s.Pids = uint64(len(readFields(filepath.Join(c.Dir, "cgroup.threads"))))
	}
	if f, err := os.Open(filepath.Join(c.Dir, "io.stat")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			for _, kv := range fields[1:] {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseUint(v, 10, 64)
				switch k {
				case "rbytes":
					s.ReadBytes += n
				case "wbytes":
					s.WriteBytes += n
				}
			}
		}
		f.Close()
	}
	s.OOMKills = max(c.OOMKills(), 0)
	return s, nil
}

// CPUPercent is the CPU used between two readings, in percent of one CPU (Docker's
// figure: 200% is two CPUs busy).
func CPUPercent(prev, cur Stats) float64 {
	wall := cur.Time.Sub(prev.Time).Microseconds()
	if wall <= 0 || cur.CPUUsec < prev.CPUUsec {
		return 0
	}
	return float64(cur.CPUUsec-prev.CPUUsec) / float64(wall) * 100
}

func hostMemory() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// waitFor polls cond for up to two seconds.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(2 * time.Second); ; {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}
