package cgroups

import (
	"strings"
	"testing"
)

// FuzzLimitFlags runs the limit flags (--memory, --cpus, --pids-limit, --device-read-bps
// …) on any value: no panic; an error names the flag; what is accepted validates or
// says why not, and turns into cgroup settings without panicking.
//
//	go test -run '^$' -fuzz FuzzLimitFlags -fuzztime 10m ./cgroups/
func FuzzLimitFlags(f *testing.F) {
	for i, v := range []string{"512m", "0.5", "1024", "100000", "-1", "0-3,5", "/dev/null:1mb", "/dev/null:100", "-1000", "1g", "", "x", "9999999999999999999g", "0,0,0", "3-1"} {
		f.Add(uint8(i), v, "")
	}
	f.Add(uint8(0), "32m", "64m")
	f.Fuzz(func(t *testing.T, which uint8, value, second string) {
		flag := Flags[int(which)%len(Flags)]
		r := &Resources{}
		if err := r.Parse(flag.Name, value); err != nil {
			if !strings.Contains(err.Error(), "--"+flag.Name) {
				t.Fatalf("--%s %q: the error does not name the flag: %v", flag.Name, value, err)
			}
			return
		}
		if second != "" {
			other := Flags[(int(which)+1)%len(Flags)]
			if err := r.Parse(other.Name, second); err != nil {
				return
			}
		}
		if err := r.Validate(2); err != nil {
			return
		}
		_ = r.RequestedFlags()
		_ = r.Controllers()
		_, _ = r.Settings(func(string) bool { return true })
		_, _ = r.Split(flag.Name)
	})
}
