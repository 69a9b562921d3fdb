package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/container"
)

// limitFlags are the resource limit flags (--memory, --cpus …) of run, create, update
// and build, read as Docker reads them.
type limitFlags struct {
	single map[string]*string
	multi  map[string]*[]string
}

// register adds the limit flags to fs; update takes only those Docker's update takes.
func (l *limitFlags) register(fs *pflag.FlagSet, update bool) {
	l.single, l.multi = map[string]*string{}, map[string]*[]string{}
	for _, f := range cgroups.Flags {
		if update && !f.Update {
			continue
		}
		if f.Repeat {
			l.multi[f.Name] = stringArrayP(fs, f.Name, f.Shorthand, f.Usage)
		} else {
			l.single[f.Name] = fs.StringP(f.Name, f.Shorthand, "", f.Usage)
		}
	}
}

// resources reads the limit flags given on the command line (nil when none was).
func (l *limitFlags) resources(fs *pflag.FlagSet) (*cgroups.Resources, error) {
	r := &cgroups.Resources{}
	for _, f := range cgroups.Flags {
		if !fs.Changed(f.Name) {
			continue
		}
		var values []string
		if p, ok := l.single[f.Name]; ok {
			values = []string{*p}
		} else if p, ok := l.multi[f.Name]; ok {
			values = *p
		}
		for _, v := range values {
			if err := r.Parse(f.Name, v); err != nil {
				return nil, err
			}
		}
	}
	if r.Empty() {
		return nil, nil
	}
	return r, nil
}

func newPauseCommand(a *app) *cobra.Command {
	var p pick
	c := &cobra.Command{
		Use:     "pause CONTAINER [CONTAINER...]",
		Short:   "Freeze every process of running containers (cgroup.freeze)",
		Example: "  hutch pause web\n  hutch unpause web\n  hutch pause --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := p.refs(a, cmd, args, func(s container.Summary) bool { return container.Running(s) && !container.PausedOnly(s) })
			if err != nil {
				return err
			}
			m := a.sess.ContainerControl()
			return eachContainer(a, cmd, refs, m.Pause)
		},
	}
	p.register(c.Flags(), "pause every running container")
	return c
}

func newUnpauseCommand(a *app) *cobra.Command {
	var p pick
	c := &cobra.Command{
		Use:     "unpause CONTAINER [CONTAINER...]",
		Short:   "Let paused containers run again",
		Example: "  hutch pause web\n  hutch unpause web\n  hutch unpause --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := p.refs(a, cmd, args, container.PausedOnly)
			if err != nil {
				return err
			}
			m := a.sess.ContainerControl()
			return eachContainer(a, cmd, refs, m.Unpause)
		},
	}
	p.register(c.Flags(), "unpause every paused container")
	return c
}

func newUpdateCommand(a *app) *cobra.Command {
	var l limitFlags
	c := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Change the resource limits of containers (running ones at once)",
		Example: `  hutch update --memory 256m --cpus 0.5 web
  hutch update --pids-limit 100 web`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := l.resources(cmd.Flags())
			if err != nil {
				return err
			}
			if r == nil {
				return fmt.Errorf("give at least one limit to change (e.g. --memory 256m, --cpus 0.5, --pids-limit 100)")
			}
			m := a.sess.ContainerControl()
			// Refused limits are an engine error (125), as with run.
			for _, ref := range args {
				ct, err := m.Get(ref)
				if err != nil {
					return err
				}
				if err := m.Update(ct, r); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			return nil
		},
	}
	l.register(c.Flags(), true)
	return c
}

// statsRow is one line of `hutch stats`, with Docker's template fields.
type statsRow struct {
	Container, ID, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

var statsHeader = map[string]string{"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}

func newStatsCommand(a *app) *cobra.Command {
	var noStream, all, noTrunc bool
	var format string
	c := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Show containers' resource usage from their cgroups (CPU %, memory, block I/O, PIDs)",
		Example: `  hutch stats
  hutch stats --no-stream web
  hutch stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}}' web
  hutch stats --no-stream --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			m := a.sess.ContainerControl()
			cts, err := statsTargets(m, args, all)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "" {
				format = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
			}
			prev := map[string]cgroups.Stats{}
			sample := func() ([]statsRow, error) {
				var rows []statsRow
				for _, ct := range cts {
					s, err := m.Stats(ct)
					if err != nil {
						if len(args) > 0 {
							return nil, err
						}
						if errors.Is(err, container.ErrNoCgroup) || all && errors.Is(err, container.ErrNotRunning) {
							// Listed, not hidden: it has no figures.
							rows = append(rows, statsRow{Container: ct.Name, ID: ct.ID[:12], Name: ct.Name, CPUPerc: "--",
								MemUsage: "-- / --", MemPerc: "--", NetIO: "--", BlockIO: "--", PIDs: "--"})
						}
						continue // or stopped meanwhile
					}
					rows = append(rows, statsLine(ct, s, prev[ct.ID], noTrunc))
					prev[ct.ID] = s
				}
				return rows, nil
			}
			if _, err := sample(); err != nil {
				return err
			}
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
			defer signal.Stop(sigs)
			clear := !noStream && term.IsTerminal(int(os.Stdout.Fd()))
			for {
				wait := time.Second
				if noStream {
					wait = 500 * time.Millisecond
				}
				select {
				case <-sigs:
					return nil
				case <-time.After(wait):
				}
				rows, err := sample()
				if err != nil {
					return err
				}
				if clear {
					fmt.Fprint(out, "\033[2J\033[H")
				}
				if format == "json" {
					for _, r := range rows {
						b, _ := json.Marshal(r)
						fmt.Fprintln(out, string(b))
					}
				} else if err := printRows(out, format, statsHeader, rows); err != nil {
					return err
				}
				if noStream || len(rows) == 0 && len(args) > 0 {
					return nil
				}
			}
		},
	}
	f := c.Flags()
	f.BoolVar(&noStream, "no-stream", false, "print one reading and exit")
	f.BoolVarP(&all, "all", "a", false, "show all containers (stopped ones have no figures)")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs")
	f.StringVar(&format, "format", "", "Go template (fields .Container .ID .Name .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO .PIDs), 'table TEMPLATE', or json")
	return c
}

// statsTargets are the named containers, or every running one.
func statsTargets(m *container.Manager, refs []string, all bool) ([]*container.Config, error) {
	if len(refs) > 0 {
		var out []*container.Config
		for _, ref := range refs {
			ct, err := m.Get(ref)
			if err != nil {
				return nil, err
			}
			out = append(out, ct)
		}
		return out, nil
	}
	sums, err := m.Records.Summaries()
	if err != nil {
		return nil, err
	}
	var out []*container.Config
	for _, s := range sums {
		if all || s.State.Status == container.StatusRunning {
			out = append(out, s.Config)
		}
	}
	return out, nil
}

func statsLine(ct *container.Config, s, prev cgroups.Stats, noTrunc bool) statsRow {
	id := ct.ID
	if !noTrunc {
		id = id[:12]
	}
	r := statsRow{Container: ct.Name, ID: id, Name: ct.Name, NetIO: "--", MemUsage: "-- / --", MemPerc: "--",
		PIDs: fmt.Sprint(s.Pids), BlockIO: units.HumanSizeWithPrecision(float64(s.ReadBytes), 3) + " / " + units.HumanSizeWithPrecision(float64(s.WriteBytes), 3)}
	r.CPUPerc = "--"
	if !prev.Time.IsZero() {
		r.CPUPerc = fmt.Sprintf("%.2f%%", cgroups.CPUPercent(prev, s))
	}
	if s.MemKnown {
		r.MemUsage = units.BytesSize(float64(s.MemUsage)) + " / " + units.BytesSize(float64(s.MemLimit))
		if s.MemLimit > 0 {
			r.MemPerc = fmt.Sprintf("%.2f%%", float64(s.MemUsage)/float64(s.MemLimit)*100)
		}
	}
	return r
}

// limitsInfo prints, for `hutch info`, which limits are available and why not.
func limitsInfo(d *cgroups.Delegation, p func(string, ...any)) {
	if d.Base != "" {
		p("  delegated cgroup: %s (controllers: %s)", d.Base, strings.Join(d.BaseControllers, " "))
	} else {
		p("  delegated cgroup: none: %s", d.Why)
	}
	for _, av := range d.Availability {
		switch {
		case av.Available:
			p("  %s: available (%s)", av.Controller, strings.Join(av.Flags, " "))
		case d.Base != "":
			// Which controller the delegated cgroup lacks, and the fix (without one,
			// the reason is the line above).
			p("  %s: unavailable (%s): %s", av.Controller, strings.Join(av.Flags, " "), av.Why)
		default:
			p("  %s: unavailable (%s)", av.Controller, strings.Join(av.Flags, " "))
		}
	}
}
