package cgroups

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Limited is one process tree (a container's init, a build step) to be started under
// limits in a cgroup of its own. Put File in nsinit.Spec.Cgroup (the init is cloned into
// the cgroup), call Started once it runs and before it executes the command, and Abort if
// the start fails. Cgroup is nil when the process gets none: no delegated cgroup, and
// nothing asked that needs one.
type Limited struct {
	Cgroup     *Cgroup
	File       *os.File  // the cgroup's open directory, for CLONE_INTO_CGROUP
	Applied    []Setting // what was written, for inspect
	NotApplied string    // with on_unavailable = "warn": the limits left out, and why
	res        *Resources
	later      *Resources // written once the process runs
}

// Prepare makes the cgroup name (Prefix+ID) in the delegated directory and writes r's
// limits into it, following the [cgroups] policy: limits that cannot be applied are an
// *UnavailableError, or, with on_unavailable = "warn", are passed to warn and left out.
// A start without a delegated cgroup and without limits gets no cgroup; one whose
// cgroup cannot be made although nothing was asked runs without, after warn.
func (d *Delegation) Prepare(name string, r *Resources, warn func(error)) (*Limited, error) {
	l := &Limited{res: r}
	apply := r
	if err := d.Check(r); err != nil {
		if !d.opts.Warn() {
			return nil, err
		}
		warn(err)
		l.NotApplied = strings.TrimPrefix(err.Error(), "cannot apply ")
		apply = d.Applicable(r)
	}
	if !d.Usable() {
		return l, nil
	}
	// pids.max counts threads: the init, hutch's Go runtime, needs a few until it
	// executes the command, so that limit is written once it runs.
	now, later := apply.Split("--pids-limit")
	cg, applied, err := d.Create(name, now)
	if err != nil {
		if r.Empty() {
			warn(fmt.Errorf("running without a cgroup of its own (no stats, pause or OOM report): %w", err))
			return l, nil
		}
		return nil, err
	}
	f, err := cg.Open()
	if err != nil {
		_ = cg.Remove()
		return nil, err
	}
	l.Cgroup, l.File, l.Applied, l.later = cg, f, applied, later
	return l, nil
}

// Started finishes the set-up once the process runs (pid, in the caller's pid
// namespace), before it executes its command: the cgroup's directory is closed and
// the deferred --pids-limit and --oom-score-adj are written. On error the caller kills
// the process and calls Abort.
func (l *Limited) Started(pid int) error {
	if l.File != nil {
		l.File.Close()
		l.File = nil
	}
	if l.Cgroup != nil && !l.later.Empty() {
		applied, err := l.Cgroup.Apply(l.later, "")
		if err != nil {
			return err
		}
		l.Applied = append(l.Applied, applied...)
	}
	if l.res == nil {
		return nil
	}
	if v, ok := l.res.Requested["--oom-score-adj"]; ok {
		path := "/proc/" + strconv.Itoa(pid) + "/oom_score_adj"
		if err := os.WriteFile(path, []byte(strconv.Itoa(l.res.OomScoreAdj)), 0); err != nil {
			return fmt.Errorf("--oom-score-adj %s: %w (an unprivileged user may raise the score but not lower it below its own, which needs CAP_SYS_RESOURCE on the host)", v, err)
		}
		l.Applied = append(l.Applied, Setting{Flag: "--oom-score-adj", Requested: v, File: "oom_score_adj", Value: strconv.Itoa(l.res.OomScoreAdj)})
	}
	return nil
}

// Abort removes the cgroup of a start that failed.
func (l *Limited) Abort() {
	if l == nil {
		return
	}
	if l.File != nil {
		l.File.Close()
		l.File = nil
	}
	if l.Cgroup != nil {
		_ = l.Cgroup.Remove()
	}
}

// Done is the end of a one-shot process tree (a build step): whether the OOM killer
// killed in its cgroup, read before the cgroup is removed.
func (l *Limited) Done() (oomKilled bool, err error) {
	if l == nil || l.Cgroup == nil {
		return false, nil
	}
	oomKilled = l.Cgroup.OOMKills() > 0
	return oomKilled, l.Cgroup.Remove()
}
