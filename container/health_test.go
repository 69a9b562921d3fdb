package container

import (
	"strings"
	"testing"
	"time"

	"hutch.dev/hutch/images"
)

func TestParseHealth(t *testing.T) {
	for _, c := range []struct {
		f    HealthFlags
		want []string // the Test; nil: no healthcheck asked
		err  string
	}{
		{f: HealthFlags{}, want: nil},
		{f: HealthFlags{Cmd: "curl -f http://x/ || exit 1", CmdSet: true}, want: []string{"CMD-SHELL", "curl -f http://x/ || exit 1"}},
		{f: HealthFlags{Cmd: `["/bin/check", "a b"]`, CmdSet: true}, want: []string{"CMD", "/bin/check", "a b"}},
		{f: HealthFlags{Cmd: `["CMD-SHELL", "true"]`, CmdSet: true}, want: []string{"CMD-SHELL", "true"}},
		{f: HealthFlags{Cmd: "none", CmdSet: true}, want: []string{"NONE"}},
		{f: HealthFlags{None: true}, want: []string{"NONE"}},
		{f: HealthFlags{None: true, Cmd: "true", CmdSet: true}, err: "cannot be combined"},
		{f: HealthFlags{Cmd: "", CmdSet: true}, err: "give the command"},
		{f: HealthFlags{Cmd: "[1,2]", CmdSet: true}, err: "JSON array"},
		{f: HealthFlags{Interval: -time.Second}, err: "--health-interval"},
		{f: HealthFlags{Timeout: time.Microsecond}, err: "at least 1ms"},
		{f: HealthFlags{Retries: -2}, err: "--health-retries"},
		{f: HealthFlags{OnFailure: "reboot"}, err: "none, kill, restart or stop"},
	} {
		h, err := ParseHealth(c.f)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseHealth(%+v): error %v, want one with %q", c.f, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHealth(%+v): %v", c.f, err)
			continue
		}
		if c.want == nil {
			if h != nil {
				t.Errorf("ParseHealth(%+v) = %+v, want nil", c.f, h)
			}
			continue
		}
		if h == nil || strings.Join(h.Test, "|") != strings.Join(c.want, "|") {
			t.Errorf("ParseHealth(%+v) = %+v, want Test %q", c.f, h, c.want)
		}
	}
	// Timing alone (no command) is kept, to be laid over the image's check.
	h, err := ParseHealth(HealthFlags{Interval: 2 * time.Second})
	if err != nil || h == nil || h.Interval != 2*time.Second || len(h.Test) != 0 {
		t.Fatalf("--health-interval alone: %+v, %v", h, err)
	}
}

func TestMergeHealth(t *testing.T) {
	image := &images.Healthcheck{Test: []string{"CMD", "/check"}, Interval: time.Minute, Retries: 5}
	if h := mergeHealth(nil, image); h == nil || h.Interval != time.Minute || h.Test[1] != "/check" {
		t.Errorf("the image's alone: %+v", h)
	}
	if h := mergeHealth(&images.Healthcheck{Interval: time.Second}, image); h == nil || h.Interval != time.Second || h.Retries != 5 || h.Test[1] != "/check" {
		t.Errorf("--health-interval over the image's: %+v", h)
	}
	if h := mergeHealth(&images.Healthcheck{Test: []string{"CMD-SHELL", "true"}}, image); h == nil || h.Test[0] != "CMD-SHELL" || h.Interval != time.Minute {
		t.Errorf("--health-cmd over the image's: %+v", h)
	}
	if h := mergeHealth(&images.Healthcheck{Test: []string{"NONE"}}, image); h != nil {
		t.Errorf("--no-healthcheck: %+v", h)
	}
	if h := mergeHealth(nil, &images.Healthcheck{Test: []string{"NONE"}}); h != nil {
		t.Errorf("HEALTHCHECK NONE: %+v", h)
	}
	if h := mergeHealth(&images.Healthcheck{Interval: time.Second}, nil); h != nil {
		t.Errorf("timing without a command anywhere: %+v", h)
	}
}

func TestHealthRecord(t *testing.T) {
	start := time.Now()
	hc := healthTiming(&images.Healthcheck{Test: []string{"CMD", "x"}, StartPeriod: time.Minute, Retries: 2})
	h := &Health{Status: HealthStarting}
	fail := func(at time.Duration) HealthResult { return HealthResult{Start: start.Add(at), ExitCode: 1} }
	h.record(fail(time.Second), hc, start)
	h.record(fail(2*time.Second), hc, start)
	if h.Status != HealthStarting || h.FailingStreak != 0 {
		t.Fatalf("failures in the start period counted: %+v", h)
	}
	h.record(HealthResult{Start: start.Add(3 * time.Second)}, hc, start)
	if h.Status != HealthHealthy {
		t.Fatalf("a success: %+v", h)
	}
	h.record(fail(4*time.Second), hc, start) // healthy: the start period is over for it
	if h.Status != HealthHealthy || h.FailingStreak != 1 {
		t.Fatalf("one failure of two retries: %+v", h)
	}
	h.record(fail(5*time.Second), hc, start)
	if h.Status != HealthUnhealthy || h.FailingStreak != 2 {
		t.Fatalf("two failures of two retries: %+v", h)
	}
	for i := 0; i < 10; i++ {
		h.record(fail(time.Duration(6+i)*time.Second), hc, start)
	}
	if len(h.Log) != healthLogSize || !h.Log[healthLogSize-1].Start.Equal(start.Add(15*time.Second)) {
		t.Fatalf("the log keeps the last %d: %d entries, last %v", healthLogSize, len(h.Log), h.Log[len(h.Log)-1].Start)
	}
	if healthSuffix(&Health{Status: HealthStarting}) != " (health: starting)" || healthSuffix(h) != " (unhealthy)" || healthSuffix(nil) != "" {
		t.Fatal("ps's health suffixes")
	}
	if got := healthSchedule(&images.Healthcheck{Test: []string{"CMD", "x"}, Interval: 2 * time.Second}); got != "2000:30000:0:5000" {
		t.Fatalf("healthSchedule = %q", got)
	}
}
