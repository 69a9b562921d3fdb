package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"hutch.dev/hutch/recovery"
)

func newSystemCheckCommand(a *app) *cobra.Command {
	var o recovery.Options
	var format string
	c := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Check the store and hutch's records for what a crash left behind; repair with --repair",
		Long: `Check the store (go.podman.io/storage's own check of layers, images and
containers) and hutch's records around it: containers whose store entry or monitor is
gone, records and store entries without each other, leftover mounts and mount programs,
network state, cgroups, volume and build-cache leftovers, scratch files of killed
commands. Every problem is listed with what --repair does about it; nothing is changed
without --repair. Exit status: 0 clean (or all repaired), 1 problems remain.
docs/recovery.md says what to do after a crash.`,
		Example: `  hutch system check
  hutch system check --repair
  hutch system check --quick --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "json" {
				return fmt.Errorf("--format %q: only json is supported", format)
			}
			s, unlock, err := a.sess.LockedStore()
			if err != nil {
				return err
			}
			defer unlock()
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			ck := &recovery.Checker{Store: s.Store, Manager: m, Volumes: m.Volumes}
			r, err := ck.Run(o)
			if err != nil {
				return err
			}
			if format == "json" {
				if err := printJSON(cmd.OutOrStdout(), r); err != nil {
					return err
				}
			} else {
				printCheck(cmd.OutOrStdout(), r)
			}
			if !r.Clean() {
				return exitCode(1)
			}
			return nil
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.Repair, "repair", "r", false, "repair what is found (each problem says what that does)")
	f.BoolVarP(&o.Quick, "quick", "q", false, "leave out the checks that read every layer's content")
	f.DurationVarP(&o.MaxAge, "max-age", "m", 0, "count a layer no image or container uses as left over only once it is this old (hutch holds its store lock while it checks, so 0 is safe)")
	f.StringVar(&format, "format", "", "json: print the report as JSON")
	return onStore(c)
}

func printCheck(w io.Writer, r *recovery.Report) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("Checked:")
	for _, c := range r.Checked {
		p("  %s", c)
	}
	if len(r.Problems) == 0 {
		p("No problems found.")
		return
	}
	p("Problems (%d):", len(r.Problems))
	for _, pr := range r.Problems {
		who := pr.Kind + " " + shortRef(pr.ID)
		if pr.Name != "" {
			who += " (" + pr.Name + ")"
		}
		p("  %s: %s", who, pr.Found)
		switch {
		case !r.Repair:
			p("    --repair: %s", pr.Repair)
		case pr.Repaired:
			p("    repaired: %s", pr.Repair)
		default:
			p("    NOT repaired (%s): %s", pr.Repair, pr.Error)
		}
	}
	switch {
	case !r.Repair:
		p("Run `hutch system check --repair` to repair them (docs/recovery.md).")
	case r.Clean():
		p("All repaired; a second check found nothing.")
	default:
		p("Some problems remain: see above, and docs/recovery.md (`hutch system reset` starts over).")
	}
}

func shortRef(id string) string {
	if len(id) == 64 {
		return id[:12]
	}
	return id
}

// explain adds to an error what to do about it: a full disk is named with its free
// space, damage in the store points to `hutch system check --repair`.
func (a *app) explain(err error) error {
	root := ""
	if a.sess != nil && a.sess.Host != nil {
		root = a.sess.Host.Paths.GraphRoot
	}
	return recovery.Explain(err, root)
}
