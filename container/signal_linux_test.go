package container

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"": unix.SIGTERM, "TERM": unix.SIGTERM, "sigusr1": unix.SIGUSR1, "9": unix.SIGKILL,
		"SIGRTMIN": 34, "RTMIN+3": 37, "SIGRTMAX": 64, "SIGRTMAX-1": 63, "rtmin+30": 64,
	} {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"NOPE", "0", "65", "RTMIN+31", "RTMAX-31", "RTMIN-1", "RTMAX+1", "RTMINX", "RTMIN+", "RTMIN+-1"} {
		if got, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %d, want an error", in, got)
		}
	}
}
