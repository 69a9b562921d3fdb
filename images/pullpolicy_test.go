package images

import (
	"strings"
	"testing"
)

func TestParsePullPolicy(t *testing.T) {
	for in, want := range map[string]PullPolicy{"": PullMissing, "missing": PullMissing, "always": PullAlways,
		"never": PullNever, "newer": PullNewer, "Always": PullAlways} {
		got, err := ParsePullPolicy(in)
		if err != nil || got != want {
			t.Errorf("ParsePullPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// Docker's boolean form is build's only.
	for _, in := range []string{"true", "false", "sometimes", "ifnewer"} {
		if _, err := ParsePullPolicy(in); err == nil || !strings.Contains(err.Error(), `"`+in+`"`) ||
			!strings.Contains(err.Error(), "missing, always, never or newer") {
			t.Errorf("ParsePullPolicy(%q) = %v; want an error naming the value and the choices", in, err)
		}
	}
}

func TestParseBuildPullPolicy(t *testing.T) {
	for in, want := range map[string]PullPolicy{"true": PullAlways, "false": PullMissing, "missing": PullMissing,
		"always": PullAlways, "never": PullNever, "newer": PullNewer} {
		got, err := ParseBuildPullPolicy(in)
		if err != nil || got != want {
			t.Errorf("ParseBuildPullPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseBuildPullPolicy("yes"); err == nil || !strings.Contains(err.Error(), "true, false") {
		t.Errorf("ParseBuildPullPolicy(yes) = %v; want an error listing true and false too", err)
	}
}

func TestPullPolicyWants(t *testing.T) {
	for _, c := range []struct {
		p            PullPolicy
		stored, want bool
	}{
		{PullMissing, false, true}, {PullMissing, true, false},
		{PullAlways, false, true}, {PullAlways, true, true},
		{PullNever, false, false}, {PullNever, true, false},
		{PullNewer, false, true}, {PullNewer, true, false},
	} {
		if got := c.p.Wants(c.stored); got != c.want {
			t.Errorf("%s.Wants(stored=%t) = %t, want %t", c.p, c.stored, got, c.want)
		}
	}
}
