package builder

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/internal/fsutil"
)

// stepCgroups is where RUN steps' cgroups go: the delegated directory, found once per
// build, and whether the warning about limits left out was given.
type stepCgroups struct {
	deleg  *cgroups.Delegation
	warned bool
}

// CheckLimits refuses, before anything is built, limits that cannot be applied here
// (the error names each limit, what is missing and the fix; the CLI exits 125). With
// [cgroups] on_unavailable = "warn" it leaves the single warning to the first RUN step.
func CheckLimits(o cgroups.Options, r *cgroups.Resources) error {
	if r.Empty() {
		return nil
	}
	if err := r.Validate(runtime.NumCPU()); err != nil {
		return err
	}
	if o.Warn() {
		return nil
	}
	return cgroups.Discover(o).Check(r)
}

// stepCgroup makes a RUN step's cgroup, named hutch-build-PID-START-RANDOM beside the
// containers' ones (stepCgroupName: the build process's pid and start time, which
// name it across pid reuse), with the build's limits written in it: the step's init is
// cloned into it. Without a delegated cgroup and without limits the step gets none
// (Limited.Cgroup nil).
func (b *Builder) stepCgroup() (*cgroups.Limited, error) {
	if b.cg == nil {
		b.cg = &stepCgroups{deleg: cgroups.Discover(b.o.Cgroups)}
		sweepStepCgroups(b.cg.deleg.Base)
	}
	name, err := stepCgroupName()
	if err != nil {
		return nil, err
	}
	return b.cg.deleg.Prepare(name, b.o.Resources, func(err error) {
		if !b.cg.warned && b.o.Warn != nil {
			b.cg.warned = true
			b.o.Warn(err)
		}
	})
}

// stepCgroupPrefix starts every RUN step's cgroup's name.
const stepCgroupPrefix = cgroups.Prefix + "build-"

// stepCgroupName is a new step cgroup's name: the prefix, the owner (this process's pid
// and start time in clock ticks) and 8 random bytes in hex.
func stepCgroupName() (string, error) {
	pid := os.Getpid()
	start, ok := fsutil.ProcessStart(pid)
	if !ok {
		return "", fmt.Errorf("reading this build's start time in /proc/%d/stat: is /proc mounted?", pid)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%d-%d-%s", stepCgroupPrefix, pid, start, hex.EncodeToString(id[:])), nil
}

// stepCgroupOwnerGone tells, from a step cgroup's name, whether the build that made it
// is gone (its pid ended, or names another process now: another start time). Names
// without an owner (hutch-build-<32 hex digits>, made by hutch up to 7da392a) count as
// gone: their empty cgroups are swept as before.
func stepCgroupOwnerGone(name string) bool {
	rest, ok := strings.CutPrefix(name, stepCgroupPrefix)
	if !ok {
		return false
	}
	f := strings.Split(rest, "-")
	if len(f) != 3 {
		return len(f) == 1 && len(f[0]) == 32 // the former names
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return false // not a name hutch makes: left alone
	}
	now, alive := fsutil.ProcessStart(pid)
	return !alive || now != start
}

// oomFailure is what a failed RUN step says when the OOM killer killed in its cgroup.
func (b *Builder) oomFailure() string {
	what := "RUN step was killed: out of memory"
	var lims []string
	for _, f := range []string{"--memory", "--memory-swap"} {
		if b.o.Resources.Empty() {
			break
		}
		if v, ok := b.o.Resources.Requested[f]; ok {
			lims = append(lims, f+" "+v)
		}
	}
	if len(lims) > 0 {
		what += " (" + strings.Join(lims, ", ") + ")"
	}
	return what
}

// sweepStepCgroups removes the empty cgroups of RUN steps whose build was killed
// outright (SIGKILL leaves no one to remove them; the step's processes died with it):
// those whose owner, named in the cgroup's name, is gone (stepCgroupOwnerGone). A
// parallel build's step cgroup is left alone even while it is still empty (made, its
// init not yet cloned into it), and so is a populated one.
func sweepStepCgroups(base string) {
	if base == "" {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(base, stepCgroupPrefix+"*"))
	for _, d := range dirs {
		if !stepCgroupOwnerGone(filepath.Base(d)) || cgroups.At(d).Populated() {
			continue
		}
		_ = unix.Rmdir(d)
	}
}
