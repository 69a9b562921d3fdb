package cgroups

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// Resources are the limits asked for a container, under Docker's HostConfig names and
// in Docker's units (bytes, nano-CPUs, microseconds). Zero means "not asked".
type Resources struct {
	Memory               int64            `json:"Memory"`
	MemoryReservation    int64            `json:"MemoryReservation"`
	MemorySwap           int64            `json:"MemorySwap"` // -1: unlimited
	NanoCPUs             int64            `json:"NanoCpus"`
	CPUShares            int64            `json:"CpuShares"`
	CPUPeriod            int64            `json:"CpuPeriod"`
	CPUQuota             int64            `json:"CpuQuota"`
	CpusetCpus           string           `json:"CpusetCpus"`
	CpusetMems           string           `json:"CpusetMems"`
	PidsLimit            *int64           `json:"PidsLimit"` // ≤ 0: unlimited
	BlkioWeight          uint16           `json:"BlkioWeight"`
	BlkioDeviceReadBps   []ThrottleDevice `json:"BlkioDeviceReadBps"`
	BlkioDeviceWriteBps  []ThrottleDevice `json:"BlkioDeviceWriteBps"`
	BlkioDeviceReadIOps  []ThrottleDevice `json:"BlkioDeviceReadIOps"`
	BlkioDeviceWriteIOps []ThrottleDevice `json:"BlkioDeviceWriteIOps"`
	OomScoreAdj          int              `json:"OomScoreAdj"`
	// Requested keeps each flag as the user typed it ("--memory" → "32m"), for inspect.
	Requested map[string]string `json:"Requested,omitempty"`
}

// ThrottleDevice is one --device-{read,write}-{bps,iops} PATH:RATE.
type ThrottleDevice struct {
	Path string `json:"Path"`
	Rate uint64 `json:"Rate"`
}

// Flag is one limit flag of run, create, update and build.
type Flag struct {
	Name       string // without the dashes
	Shorthand  string
	Controller string // the cgroup v2 controller it needs ("" for none)
	Repeat     bool   // may be given several times (a StringArray)
	Update     bool   // `hutch update` takes it too
	Usage      string
}

// Flags are every limit flag, in Docker's names and order.
var Flags = []Flag{
	{Name: "memory", Shorthand: "m", Controller: "memory", Update: true, Usage: "memory limit (e.g. 32m, 1g; at least 6m)"},
	{Name: "memory-reservation", Controller: "memory", Update: true, Usage: "memory soft limit (memory.low)"},
	{Name: "memory-swap", Controller: "memory", Update: true, Usage: "memory plus swap limit (-1: unlimited swap; default: twice --memory)"},
	{Name: "cpus", Controller: "cpu", Update: true, Usage: "number of CPUs (e.g. 0.5)"},
	{Name: "cpu-shares", Shorthand: "c", Controller: "cpu", Update: true, Usage: "relative CPU weight (2–262144, default 1024)"},
	{Name: "cpu-period", Controller: "cpu", Update: true, Usage: "CPU CFS period in microseconds (1000–1000000)"},
	{Name: "cpu-quota", Controller: "cpu", Update: true, Usage: "CPU CFS quota in microseconds per period (≥ 1000, -1: none)"},
	{Name: "cpuset-cpus", Controller: "cpuset", Update: true, Usage: "CPUs the container may use (0-3, 0,1)"},
	{Name: "cpuset-mems", Controller: "cpuset", Update: true, Usage: "memory nodes the container may use (0-3, 0,1)"},
	{Name: "pids-limit", Controller: "pids", Update: true, Usage: "maximum number of processes and threads (-1: unlimited)"},
	{Name: "blkio-weight", Controller: "io", Update: true, Usage: "relative block I/O weight (10–1000)"},
	{Name: "device-read-bps", Controller: "io", Repeat: true, Usage: "limit read rate from a device (PATH:RATE, e.g. /dev/sda:1mb)"},
	{Name: "device-write-bps", Controller: "io", Repeat: true, Usage: "limit write rate to a device (PATH:RATE, e.g. /dev/sda:1mb)"},
	{Name: "device-read-iops", Controller: "io", Repeat: true, Usage: "limit read operations per second from a device (PATH:N)"},
	{Name: "device-write-iops", Controller: "io", Repeat: true, Usage: "limit write operations per second to a device (PATH:N)"},
	{Name: "oom-score-adj", Update: false, Usage: "tune the OOM killer's preference for the container (-1000–1000; unprivileged users may only raise it)"},
}

// FlagByName finds a limit flag.
func FlagByName(name string) (Flag, bool) {
	for _, f := range Flags {
		if f.Name == name {
			return f, true
		}
	}
	return Flag{}, false
}

// MinMemory is Docker's smallest --memory (and --memory-reservation).
const MinMemory = 6 * 1024 * 1024

// DefaultCPUPeriod is the CFS period --cpus uses, in microseconds.
const DefaultCPUPeriod = 100000

// Parse sets one flag (named without dashes) from its text, as Docker reads it. Repeated
// flags are added to. Cross-flag rules are Validate's.
func (r *Resources) Parse(name, value string) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("--%s %q: %s", name, value, fmt.Sprintf(format, a...))
	}
	if r.Requested == nil {
		r.Requested = map[string]string{}
	}
	if prev, ok := r.Requested["--"+name]; ok {
		r.Requested["--"+name] = prev + " " + value
	} else {
		r.Requested["--"+name] = value
	}
	switch name {
	case "memory", "memory-reservation":
		n, err := units.RAMInBytes(value)
		if err != nil || n < 0 {
			return bad("expected a size such as 512m or 1g (b, k, m, g units)")
		}
		if name == "memory" {
			r.Memory = n
		} else {
			r.MemoryReservation = n
		}
	case "memory-swap":
		if value == "-1" {
			r.MemorySwap = -1
			return nil
		}
		n, err := units.RAMInBytes(value)
		if err != nil || n < 0 {
			return bad("expected a size such as 1g, or -1 for unlimited swap")
		}
		r.MemorySwap = n
	case "cpus":
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return bad("expected a number of CPUs such as 0.5 or 2")
		}
		n := f * 1e9
		if math.Abs(n-math.Round(n)) > 1e-3 {
			return bad("value is too precise")
		}
		r.NanoCPUs = int64(math.Round(n))
	case "cpu-shares", "cpu-period", "cpu-quota", "oom-score-adj", "pids-limit":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return bad("expected an integer")
		}
		switch name {
		case "cpu-shares":
			r.CPUShares = n
		case "cpu-period":
			r.CPUPeriod = n
		case "cpu-quota":
			r.CPUQuota = n
		case "oom-score-adj":
			if n < -1000 || n > 1000 {
				return bad("invalid value %d, range for oom score adj is [-1000, 1000]", n)
			}
			r.OomScoreAdj = int(n)
		case "pids-limit":
			r.PidsLimit = &n
		}
	case "cpuset-cpus", "cpuset-mems":
		if _, err := ParseList(value); err != nil {
			return bad("%v", err)
		}
		if name == "cpuset-cpus" {
			r.CpusetCpus = value
		} else {
			r.CpusetMems = value
		}
	case "blkio-weight":
		n, err := strconv.ParseUint(value, 10, 16)
		if err != nil {
			return bad("expected a weight from 10 to 1000")
		}
		r.BlkioWeight = uint16(n)
	case "device-read-bps", "device-write-bps", "device-read-iops", "device-write-iops":
		path, rate, ok := strings.Cut(value, ":")
		if !ok || !strings.HasPrefix(path, "/dev/") {
			return bad("expected PATH:RATE with PATH a device under /dev")
		}
		var n uint64
		if strings.HasSuffix(name, "bps") {
			v, err := units.RAMInBytes(rate)
			if err != nil || v <= 0 {
				return bad("the rate must be a positive size such as 1mb or 512k")
			}
			n = uint64(v)
		} else {
			v, err := strconv.ParseUint(rate, 10, 64)
			if err != nil || v == 0 {
				return bad("the rate must be a positive integer of operations per second")
			}
			n = v
		}
		if _, err := deviceNumber(path); err != nil {
			return bad("%v", err)
		}
		d := ThrottleDevice{Path: path, Rate: n}
		switch name {
		case "device-read-bps":
			r.BlkioDeviceReadBps = append(r.BlkioDeviceReadBps, d)
		case "device-write-bps":
			r.BlkioDeviceWriteBps = append(r.BlkioDeviceWriteBps, d)
		case "device-read-iops":
			r.BlkioDeviceReadIOps = append(r.BlkioDeviceReadIOps, d)
		default:
			r.BlkioDeviceWriteIOps = append(r.BlkioDeviceWriteIOps, d)
		}
	default:
		return fmt.Errorf("--%s: not a resource limit flag", name)
	}
	return nil
}

// Validate applies Docker's rules between flags; ncpu is the number of CPUs online.
func (r *Resources) Validate(ncpu int) error {
	switch {
	case r.Memory > 0 && r.Memory < MinMemory:
		return fmt.Errorf("--memory: minimum memory limit allowed is 6MB")
	case r.MemoryReservation > 0 && r.MemoryReservation < MinMemory:
		return fmt.Errorf("--memory-reservation: minimum memory reservation allowed is 6MB")
	case r.MemorySwap > 0 && r.Memory == 0:
		return fmt.Errorf("--memory-swap: you should always set the memory limit (--memory) when using a memory+swap limit")
	case r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return fmt.Errorf("--memory-swap: minimum memoryswap limit should be larger than the memory limit (--memory %s)", units.BytesSize(float64(r.Memory)))
	case r.Memory > 0 && r.MemoryReservation > r.Memory:
		return fmt.Errorf("--memory-reservation: minimum memory limit (--memory) can not be less than memory reservation limit")
	case r.NanoCPUs > 0 && r.CPUPeriod != 0:
		return fmt.Errorf("conflicting options: --cpus and --cpu-period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota != 0:
		return fmt.Errorf("conflicting options: --cpus and --cpu-quota cannot both be set")
	case r.NanoCPUs < 0 || ncpu > 0 && r.NanoCPUs > int64(ncpu)*1e9:
		return fmt.Errorf("--cpus: range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
	case r.NanoCPUs > 0 && r.NanoCPUs < 1e7:
		return fmt.Errorf("--cpus: range of CPUs is from 0.01 to %d.00", ncpu)
	case r.CPUShares < 0:
		return fmt.Errorf("--cpu-shares: must be positive (2–262144)")
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return fmt.Errorf("--cpu-period: CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case r.CPUQuota > 0 && r.CPUQuota < 1000:
		return fmt.Errorf("--cpu-quota: CPU cfs quota can not be less than 1ms (i.e. 1000)")
	case r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000):
		return fmt.Errorf("--blkio-weight: range of blkio weight is from 10 to 1000")
	}
	return nil
}

// Merge sets in r every limit u asks for (`hutch update`): only the flags u.Requested names.
func (r *Resources) Merge(u *Resources) {
	for flag := range u.Requested {
		switch flag {
		case "--memory":
			r.Memory = u.Memory
		case "--memory-reservation":
			r.MemoryReservation = u.MemoryReservation
		case "--memory-swap":
			r.MemorySwap = u.MemorySwap
		case "--cpus":
			// --cpus replaces --cpu-period and --cpu-quota, and they replace it: a
			// replaced flag leaves Requested too, or the next start would write it.
			r.NanoCPUs, r.CPUPeriod, r.CPUQuota = u.NanoCPUs, 0, 0
			delete(r.Requested, "--cpu-period")
			delete(r.Requested, "--cpu-quota")
		case "--cpu-shares":
			r.CPUShares = u.CPUShares
		case "--cpu-period":
			r.CPUPeriod, r.NanoCPUs = u.CPUPeriod, 0
			delete(r.Requested, "--cpus")
		case "--cpu-quota":
			r.CPUQuota, r.NanoCPUs = u.CPUQuota, 0
			delete(r.Requested, "--cpus")
		case "--cpuset-cpus":
			r.CpusetCpus = u.CpusetCpus
		case "--cpuset-mems":
			r.CpusetMems = u.CpusetMems
		case "--pids-limit":
			r.PidsLimit = u.PidsLimit
		case "--blkio-weight":
			r.BlkioWeight = u.BlkioWeight
		}
		if r.Requested == nil {
			r.Requested = map[string]string{}
		}
		r.Requested[flag] = u.Requested[flag]
	}
}

// ForUpdate is r, the limits merged with update u, narrowed to what u changes: what
// `hutch update` writes into a running container's cgroup. A new --memory writes an
// earlier explicit --memory-swap again: memory.swap.max counts swap alone, so it moves
// with the memory limit (written alone, the default swap would replace the one asked).
func (r *Resources) ForUpdate(u *Resources) *Resources {
	only := *r
	only.Requested = maps.Clone(u.Requested)
	_, memory := u.Requested["--memory"]
	_, swap := u.Requested["--memory-swap"]
	if v, ok := r.Requested["--memory-swap"]; ok && memory && !swap {
		only.Requested["--memory-swap"] = v
	}
	return &only
}

// Split parts r in two: the limits of the named flags, and the others (nil when empty).
func (r *Resources) Split(flags ...string) (others, named *Resources) {
	if r.Empty() {
		return r, nil
	}
	a, b := *r, *r
	a.Requested, b.Requested = map[string]string{}, map[string]string{}
	for k, v := range r.Requested {
		if contains(flags, k) {
			b.Requested[k] = v
		} else {
			a.Requested[k] = v
		}
	}
	if len(b.Requested) == 0 {
		return &a, nil
	}
	return &a, &b
}

// Empty reports whether no limit at all is asked.
func (r *Resources) Empty() bool { return r == nil || len(r.Requested) == 0 }

// RequestedFlags are the flags asked, in Flags' order.
func (r *Resources) RequestedFlags() []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, f := range Flags {
		if _, ok := r.Requested["--"+f.Name]; ok {
			out = append(out, "--"+f.Name)
		}
	}
	return out
}

// Controllers are the cgroup controllers the asked limits need, sorted.
func (r *Resources) Controllers() []string {
	set := map[string]bool{}
	for _, fl := range r.RequestedFlags() {
		f, _ := FlagByName(strings.TrimPrefix(fl, "--"))
		if f.Controller != "" {
			set[f.Controller] = true
		}
	}
	var out []string
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Setting is one value written to a cgroup file for a flag.
type Setting struct {
	Flag      string `json:"Flag"`      // --memory
	Requested string `json:"Requested"` // 32m, as typed
	File      string `json:"File"`      // memory.max
	Value     string `json:"Value"`     // 33554432
	// Optional settings are defaults hutch adds (the implicit swap limit): written when
	// the file exists, skipped quietly otherwise.
	Optional bool `json:"-"`
}

// Settings turns the asked limits into cgroup v2 files and values (cgroup v2's
// equivalents of Docker's v1 knobs, converted as runc and crun convert them). exists
// tells whether a file exists in the container's cgroup (io.bfq.weight or io.weight).
func (r *Resources) Settings(exists func(file string) bool) ([]Setting, error) {
	if r.Empty() {
		return nil, nil
	}
	var out []Setting
	add := func(flag, file, value string) {
		out = append(out, Setting{Flag: flag, Requested: r.Requested[flag], File: file, Value: value})
	}
	has := func(flag string) bool { _, ok := r.Requested[flag]; return ok }
	if has("--memory") {
		add("--memory", "memory.max", limitValue(r.Memory))
	}
	if has("--memory-reservation") {
		add("--memory-reservation", "memory.low", strconv.FormatInt(r.MemoryReservation, 10))
	}
	switch {
	case has("--memory-swap") && r.MemorySwap == -1:
		add("--memory-swap", "memory.swap.max", "max")
	case has("--memory-swap") && r.MemorySwap > 0:
		// Docker's limit counts memory plus swap; cgroup v2's counts swap alone.
		add("--memory-swap", "memory.swap.max", strconv.FormatInt(r.MemorySwap-r.Memory, 10))
	case has("--memory") && r.Memory > 0:
		// Docker's default: as much swap as memory.
		out = append(out, Setting{Flag: "--memory-swap", Requested: "(default: twice --memory)", File: "memory.swap.max",
			Value: strconv.FormatInt(r.Memory, 10), Optional: true})
	}
	switch {
	case has("--cpus") && r.NanoCPUs == 0:
		// Docker's --cpus 0: no limit (a quota of 0 is no value the kernel takes).
		add("--cpus", "cpu.max", fmt.Sprintf("max %d", DefaultCPUPeriod))
	case has("--cpus"):
		add("--cpus", "cpu.max", fmt.Sprintf("%d %d", r.NanoCPUs*DefaultCPUPeriod/1e9, DefaultCPUPeriod))
	case has("--cpu-quota") || has("--cpu-period"):
		period := r.CPUPeriod
		if period == 0 {
			period = DefaultCPUPeriod
		}
		quota := "max"
		if r.CPUQuota > 0 {
			quota = strconv.FormatInt(r.CPUQuota, 10)
		}
		flag := "--cpu-quota"
		if !has(flag) {
			flag = "--cpu-period"
		}
		add(flag, "cpu.max", quota+" "+strconv.FormatInt(period, 10))
	}
	if has("--cpu-shares") && r.CPUShares != 0 {
		add("--cpu-shares", "cpu.weight", strconv.FormatUint(SharesToWeight(r.CPUShares), 10))
	}
	if has("--cpuset-cpus") {
		add("--cpuset-cpus", "cpuset.cpus", r.CpusetCpus)
	}
	if has("--cpuset-mems") {
		add("--cpuset-mems", "cpuset.mems", r.CpusetMems)
	}
	if has("--pids-limit") && r.PidsLimit != nil {
		add("--pids-limit", "pids.max", limitValue(*r.PidsLimit))
	}
	if has("--blkio-weight") && r.BlkioWeight != 0 {
		if exists("io.bfq.weight") {
			add("--blkio-weight", "io.bfq.weight", strconv.Itoa(int(r.BlkioWeight)))
		} else {
			add("--blkio-weight", "io.weight", "default "+strconv.FormatUint(BlkioToIOWeight(r.BlkioWeight), 10))
		}
	}
	for _, d := range []struct {
		flag, key string
		devs      []ThrottleDevice
	}{{"--device-read-bps", "rbps", r.BlkioDeviceReadBps}, {"--device-write-bps", "wbps", r.BlkioDeviceWriteBps},
		{"--device-read-iops", "riops", r.BlkioDeviceReadIOps}, {"--device-write-iops", "wiops", r.BlkioDeviceWriteIOps}} {
		for _, dev := range d.devs {
			num, err := deviceNumber(dev.Path)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", d.flag, dev.Path, err)
			}
			out = append(out, Setting{Flag: d.flag, Requested: fmt.Sprintf("%s:%d", dev.Path, dev.Rate), File: "io.max",
				Value: fmt.Sprintf("%s %s=%d", num, d.key, dev.Rate)})
		}
	}
	return out, nil
}

// limitValue is a byte or count limit in cgroup v2's words: ≤ 0 is "max".
func limitValue(n int64) string {
	if n <= 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// SharesToWeight converts cgroup v1 cpu.shares (2–262144) to cgroup v2 cpu.weight
// (1–10000) on the line runc and crun use: 2 → 1, 1024 → 39, 262144 → 10000.
func SharesToWeight(shares int64) uint64 {
	if shares <= 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return uint64(1 + ((shares-2)*9999)/262142)
}

// BlkioToIOWeight converts a v1 blkio weight (10–1000) to cgroup v2 io.weight (1–10000),
// as runc does: 10 → 1, 500 → 4950, 1000 → 10000.
func BlkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	return uint64(1 + (int(w)-10)*9999/990)
}

// maxListID bounds the CPU and memory node numbers a cpuset list may name: far above
// what any kernel has (NR_CPUS is at most 8192), and low enough that a list is read in a
// fixed amount of memory (a range like 0-444444447 once took minutes and gigabytes).
const maxListID = 1 << 16

// ParseList reads a cpuset list such as 0-3,5 into its members, in order, each once.
func ParseList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty list (expected e.g. 0-3 or 0,1)")
	}
	var set [maxListID / 64]uint64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a list of numbers and ranges (e.g. 0-3 or 0,1)", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a list of numbers and ranges (e.g. 0-3 or 0,1)", s)
			}
		}
		if b >= maxListID {
			return nil, fmt.Errorf("%q names %d: CPU and memory node numbers go up to %d", s, b, maxListID-1)
		}
		for i := a; i <= b; {
			if i%64 == 0 && b-i >= 63 {
				set[i/64] = ^uint64(0) // a whole word at once
				i += 64
				continue
			}
			set[i/64] |= 1 << (i % 64)
			i++
		}
	}
	var out []int
	for w, word := range set {
		for ; word != 0; word &= word - 1 {
			out = append(out, w*64+bits.TrailingZeros64(word))
		}
	}
	return out, nil
}

// deviceNumber is a block device's MAJ:MIN, as io.max names it.
func deviceNumber(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return "", fmt.Errorf("%s is not a block device", path)
	}
	return fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))), nil
}
