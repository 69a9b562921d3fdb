package builder

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
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

// stepCgroup makes a RUN step's cgroup, named hutch-build-RANDOM beside the
// containers' ones, with the build's limits written in it: the step's init is cloned
// into it. Without a delegated cgroup and without limits the step gets none
// (Limited.Cgroup nil).
func (b *Builder) stepCgroup() (*cgroups.Limited, error) {
	if b.cg == nil {
		b.cg = &stepCgroups{deleg: cgroups.Discover(b.o.Cgroups)}
		sweepStepCgroups(b.cg.deleg.Base)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	return b.cg.deleg.Prepare(cgroups.Prefix+"build-"+hex.EncodeToString(id[:]), b.o.Resources, func(err error) {
		if !b.cg.warned && b.o.Warn != nil {
			b.cg.warned = true
			b.o.Warn(err)
		}
	})
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
// outright (SIGKILL leaves no one to remove them; the step's processes died with it).
// A cgroup still in use by another build is busy, and stays.
func sweepStepCgroups(base string) {
	if base == "" {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(base, cgroups.Prefix+"build-*"))
	for _, d := range dirs {
		if cgroups.At(d).Populated() {
			continue
		}
		_ = unix.Rmdir(d)
	}
}
