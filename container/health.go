package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"hutch.dev/hutch/images"
)

// Health statuses, as Docker's.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Docker's defaults for what a healthcheck leaves unset.
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthStartInterval = 5 * time.Second
	DefaultHealthRetries       = 3
)

// healthLogSize is how many probe results a container's health keeps (Docker's five).
const healthLogSize = 5

// healthOutputMax is how much of a probe's output is kept (Docker's 4 KiB).
const healthOutputMax = 4096

// HealthFlags are the --health-* flags as given: the zero values are "not given".
type HealthFlags struct {
	Cmd                                           string
	CmdSet                                        bool
	Interval, Timeout, StartPeriod, StartInterval time.Duration
	Retries                                       int
	None                                          bool // --no-healthcheck
	OnFailure                                     string
}

// ParseHealth checks the --health-* flags and makes the healthcheck they ask for
// (nil: none asked; the image's stays). --health-cmd is a shell command ("CMD-SHELL")
// or, as Podman reads it, a JSON array (["CMD", …]); "none" disables the check as
// --no-healthcheck does.
func ParseHealth(f HealthFlags) (*images.Healthcheck, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--health-interval", f.Interval}, {"--health-timeout", f.Timeout}, {"--health-start-period", f.StartPeriod}, {"--health-start-interval", f.StartInterval}} {
		if d.v < 0 || d.v > 0 && d.v < time.Millisecond {
			return nil, fmt.Errorf("%s %s: give a duration of at least 1ms (e.g. 30s, 1m)", d.name, d.v)
		}
	}
	if f.Retries < 0 {
		return nil, fmt.Errorf("--health-retries %d: give a count of 1 or more", f.Retries)
	}
	if err := ValidHealthOnFailure(f.OnFailure); err != nil {
		return nil, err
	}
	cmd := strings.TrimSpace(f.Cmd)
	if f.None && f.CmdSet && !strings.EqualFold(cmd, "none") {
		return nil, errors.New("--no-healthcheck and --health-cmd cannot be combined: --no-healthcheck disables the image's check, --health-cmd sets one")
	}
	if f.None || f.CmdSet && strings.EqualFold(cmd, "none") {
		return &images.Healthcheck{Test: []string{"NONE"}}, nil
	}
	h := &images.Healthcheck{Interval: f.Interval, Timeout: f.Timeout, StartPeriod: f.StartPeriod,
		StartInterval: f.StartInterval, Retries: f.Retries}
	if f.CmdSet {
		if cmd == "" {
			return nil, errors.New(`--health-cmd "": give the command that checks the container (e.g. --health-cmd 'wget -q -O- http://localhost/ || exit 1')`)
		}
		if strings.HasPrefix(cmd, "[") {
			var args []string
			if err := json.Unmarshal([]byte(cmd), &args); err != nil || len(args) == 0 {
				return nil, fmt.Errorf("--health-cmd %s: a JSON array must be a non-empty list of strings, as [\"CMD\", \"/bin/check\", \"arg\"]", cmd)
			}
			if args[0] != "CMD" && args[0] != "CMD-SHELL" && args[0] != "NONE" {
				args = append([]string{"CMD"}, args...)
			}
			h.Test = args
		} else {
			h.Test = []string{"CMD-SHELL", cmd}
		}
	}
	if !f.CmdSet && h.Interval == 0 && h.Timeout == 0 && h.StartPeriod == 0 && h.StartInterval == 0 && h.Retries == 0 {
		return nil, nil
	}
	return h, nil
}

// ValidHealthOnFailure checks --health-on-failure (Podman's): none, kill, restart, stop.
func ValidHealthOnFailure(v string) error {
	switch v {
	case "", "none", "kill", "restart", "stop":
		return nil
	}
	return fmt.Errorf("--health-on-failure %q: use none, kill, restart or stop", v)
}

// mergeHealth is the container's healthcheck: the flags' fields over the image's (as
// Docker merges them), none when either says NONE or neither has a test.
func mergeHealth(user, image *images.Healthcheck) *images.Healthcheck {
	var h images.Healthcheck
	if image != nil {
		h = *image
		h.Test = append([]string{}, image.Test...)
	}
	if user != nil {
		if len(user.Test) > 0 {
			h.Test = append([]string{}, user.Test...)
		}
		if user.Interval != 0 {
			h.Interval = user.Interval
		}
		if user.Timeout != 0 {
			h.Timeout = user.Timeout
		}
		if user.StartPeriod != 0 {
			h.StartPeriod = user.StartPeriod
		}
		if user.StartInterval != 0 {
			h.StartInterval = user.StartInterval
		}
		if user.Retries != 0 {
			h.Retries = user.Retries
		}
	}
	if len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	return &h
}

// healthTiming is h with Docker's defaults filled in.
func healthTiming(h *images.Healthcheck) images.Healthcheck {
	t := *h
	if t.Interval <= 0 {
		t.Interval = DefaultHealthInterval
	}
	if t.Timeout <= 0 {
		t.Timeout = DefaultHealthTimeout
	}
	if t.StartInterval <= 0 {
		t.StartInterval = DefaultHealthStartInterval
	}
	if t.Retries <= 0 {
		t.Retries = DefaultHealthRetries
	}
	return t
}

// healthArgs is the command a probe runs: CMD's arguments, or CMD-SHELL's through
// /bin/sh -c.
func healthArgs(h *images.Healthcheck) ([]string, error) {
	switch {
	case len(h.Test) >= 2 && h.Test[0] == "CMD":
		return h.Test[1:], nil
	case len(h.Test) == 2 && h.Test[0] == "CMD-SHELL":
		return []string{"/bin/sh", "-c", h.Test[1]}, nil
	}
	return nil, fmt.Errorf("healthcheck test %q: expected [\"CMD\", args…] or [\"CMD-SHELL\", command]", h.Test)
}

// Health is a container's health, as Docker's State.Health: its status, how many
// probes in a row failed, and the last five results. The monitor's probe keeps it in
// the container's health.json (beside state.json, which only the container's owner
// writes), written atomically under health.lock.
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
	// Run is the StartedAt of the run these results belong to: a record of an earlier
	// run is no news about this one.
	Run time.Time `json:"Run"`
}

// HealthResult is one probe.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// record adds a probe's result to h and returns the new status: a success makes the
// container healthy; a failure counts towards the retries, except while it is still
// starting within its start period.
func (h *Health) record(res HealthResult, hc images.Healthcheck, startedAt time.Time) {
	h.Log = append(h.Log, res)
	if len(h.Log) > healthLogSize {
		h.Log = append([]HealthResult{}, h.Log[len(h.Log)-healthLogSize:]...)
	}
	if res.ExitCode == 0 {
		h.Status, h.FailingStreak = HealthHealthy, 0
		return
	}
	if h.Status == HealthStarting && res.Start.Sub(startedAt) < hc.StartPeriod {
		return
	}
	h.FailingStreak++
	if h.FailingStreak >= hc.Retries {
		h.Status = HealthUnhealthy
	}
}

// healthSuffix is what ps adds to "Up …": " (healthy)", " (health: starting)".
func healthSuffix(h *Health) string {
	switch {
	case h == nil:
		return ""
	case h.Status == HealthStarting:
		return " (health: starting)"
	}
	return " (" + h.Status + ")"
}
