package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"hutch.dev/hutch/container"
)

// healthFlags are run's and create's --health-* flags.
type healthFlags struct{ f container.HealthFlags }

func (h *healthFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&h.f.Cmd, "health-cmd", "", "command that checks the container's health, run in it by its monitor (a shell command, a JSON array [\"CMD\", …], or none)")
	fs.DurationVar(&h.f.Interval, "health-interval", 0, "time between checks (default 30s)")
	fs.DurationVar(&h.f.Timeout, "health-timeout", 0, "time a check may take before it is killed and counts as failed (default 30s)")
	fs.IntVar(&h.f.Retries, "health-retries", 0, "failures in a row that make the container unhealthy (default 3)")
	fs.DurationVar(&h.f.StartPeriod, "health-start-period", 0, "time the container has to start: failures in it do not count (default 0s)")
	fs.DurationVar(&h.f.StartInterval, "health-start-interval", 0, "time between checks during the start period (default 5s)")
	fs.BoolVar(&h.f.None, "no-healthcheck", false, "run no healthcheck, not even the image's HEALTHCHECK")
	fs.StringVar(&h.f.OnFailure, "health-on-failure", "none", "what to do when the container turns unhealthy: none, kill, restart or stop")
}

// apply parses the flags into o; restart is --restart's value.
func (h *healthFlags) apply(fs *pflag.FlagSet, o *container.Options, restart string) error {
	h.f.CmdSet = fs.Changed("health-cmd")
	hc, err := container.ParseHealth(h.f)
	if err != nil {
		return err
	}
	o.Healthcheck = hc
	if h.f.OnFailure != "none" {
		o.HealthOnFailure = h.f.OnFailure
	}
	if h.f.OnFailure == "restart" && restart != "" && restart != "no" {
		return fmt.Errorf("--health-on-failure restart and --restart %s cannot be combined: the container's monitor restarts an unhealthy container itself (use --health-on-failure kill to leave it to --restart)", restart)
	}
	return nil
}

func newHealthcheckRunCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "run CONTAINER",
		Short: "Run a container's healthcheck now: exit 0 when healthy, 1 when not",
		Long: "Run a container's healthcheck now, as its monitor does on its schedule: the result is recorded\n" +
			"(inspect's .State.Health), and a change of status is an event and applies --health-on-failure.\n" +
			"Exit status: 0 healthy, 1 unhealthy (or still starting), 125 when the check could not run.",
		Example: "  hutch healthcheck run web\n  hutch healthcheck run web && echo ok",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := a.sess.Records()
			ct, err := r.Get(args[0])
			if err != nil {
				return err
			}
			h, err := r.Healthcheck(ct, container.HealthcheckOptions{Seccomp: a.sess.SeccompCache()})
			if h == nil && err != nil {
				return err
			}
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "Error: "+err.Error())
			}
			if h.Status != container.HealthHealthy {
				fmt.Fprintln(cmd.OutOrStdout(), h.Status)
				return exitCode(1)
			}
			return nil
		},
	}
}
