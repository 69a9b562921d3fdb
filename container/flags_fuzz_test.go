package container

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzMountFlags runs -v, --mount and --tmpfs on any text: no panic, and what is
// accepted is a mount of a known type at an absolute, clean-able destination, a bind
// from an absolute source, a volume by a valid name (or anonymous), a tmpfs without one.
//
//	go test -run '^$' -fuzz FuzzMountFlags -fuzztime 10m ./container/
func FuzzMountFlags(f *testing.F) {
	for _, s := range []string{
		"/data", "vol:/data:ro", "/host:/ctr", "./rel:/x:rw,z", "a:b:c:d", ":/x", "/x:",
		"type=bind,source=/h,target=/c,readonly", "type=volume,src=v,dst=/d,ro=false",
		"type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777", "type=bind,target=/c", "readonly=maybe,target=/x",
		"/t:size=64m,mode=1777,noexec", "/t:bogus", "relative", "=", ",,,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for name, parse := range map[string]func(string) (MountSpec, error){"-v": ParseVolume, "--mount": ParseMount, "--tmpfs": ParseTmpfs} {
			m, err := parse(v)
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("%s %q: the error does not name the flag: %v", name, v, err)
				}
				continue
			}
			if !strings.HasPrefix(m.Destination, "/") {
				t.Fatalf("%s %q: accepted a relative destination %q", name, v, m.Destination)
			}
			switch m.Type {
			case "bind":
				if !filepath.IsAbs(m.Source) {
					t.Fatalf("%s %q: a bind from a relative source %q", name, v, m.Source)
				}
			case "volume":
				if m.Source != "" && strings.ContainsAny(m.Source, "/:") {
					t.Fatalf("%s %q: a volume named %q", name, v, m.Source)
				}
			case "tmpfs":
				if m.Source != "" {
					t.Fatalf("%s %q: a tmpfs with a source %q", name, v, m.Source)
				}
			default:
				t.Fatalf("%s %q: unknown mount type %q", name, v, m.Type)
			}
		}
	})
}
