package container

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hutch.dev/hutch/volumes"
)

// FuzzMountFlags runs -v, --mount and --tmpfs (ParseMounts) on any text: no panic, and what is
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
		`type=volume,src=v,dst=/d,volume-opt=type=tmpfs,"volume-opt=o=size=1m,uid=1"`, `type=volume,dst=/d,"volume-opt=type=nfs`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		// Through ParseMounts, as the CLI reads the three flags.
		for name, parse := range map[string]func(string) ([]MountSpec, error){
			"-v":      func(v string) ([]MountSpec, error) { return ParseMounts([]string{v}, nil, nil) },
			"--mount": func(v string) ([]MountSpec, error) { return ParseMounts(nil, []string{v}, nil) },
			"--tmpfs": func(v string) ([]MountSpec, error) { return ParseMounts(nil, nil, []string{v}) },
		} {
			ms, err := parse(v)
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("%s %q: the error does not name the flag: %v", name, v, err)
				}
				continue
			}
			if len(ms) != 1 {
				t.Fatalf("%s %q: %d mounts", name, v, len(ms))
			}
			m := ms[0]
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
				if err := volumes.CheckOptions(m.VolumeOptions); err != nil {
					t.Fatalf("%s %q: accepted volume options %v: %v", name, v, m.VolumeOptions, err)
				}
			case "tmpfs":
				if m.Source != "" {
					t.Fatalf("%s %q: a tmpfs with a source %q", name, v, m.Source)
				}
			case "image":
				if m.Source == "" || slices.Contains(strings.Split(m.SubPath, "/"), "..") {
					t.Fatalf("%s %q: an image mount of %q, subpath %q", name, v, m.Source, m.SubPath)
				}
			default:
				t.Fatalf("%s %q: unknown mount type %q", name, v, m.Type)
			}
		}
	})
}

// FuzzCreateFlags runs the other flags of run and create that the container package
// parses (-e, --label, -u, --userns) on any text: no panic, an error names its flag, and
// what is accepted keeps its shape (a KEY=VALUE environment, a label with a key, a
// --userns hutch knows).
//
//	go test -run '^$' -fuzz FuzzCreateFlags -fuzztime 10m ./container/
func FuzzCreateFlags(f *testing.F) {
	for _, s := range []string{"A=1", "A", "=x", "A B=1", "k=v=w", "1000:1000", "nobody", ":1", "a:b:c", "keep-id", "host", "", " "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		lookup := func(k string) (string, bool) { return "host-" + k, k == "HOST" }
		if env, err := ParseEnvironment(nil, []string{v}, lookup); err != nil {
			if !strings.Contains(err.Error(), "-e ") {
				t.Fatalf("-e %q: the error does not name the flag: %v", v, err)
			}
		} else {
			for _, e := range env {
				if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
					t.Fatalf("-e %q: accepted as %q", v, e)
				}
			}
		}
		if labels, err := ParseLabels([]string{v}); err != nil {
			if !strings.Contains(err.Error(), "--label") {
				t.Fatalf("--label %q: the error does not name the flag: %v", v, err)
			}
		} else if _, ok := labels[""]; ok {
			t.Fatalf("--label %q: a label without a key", v)
		}
		if err := CheckUser(v); err != nil && !strings.Contains(err.Error(), "-u ") {
			t.Fatalf("-u %q: the error does not name the flag: %v", v, err)
		}
		if u, err := ParseUserns(v); err != nil {
			if !strings.Contains(err.Error(), "--userns") {
				t.Fatalf("--userns %q: the error does not name the flag: %v", v, err)
			}
		} else if u != "" && u != UsernsKeepID {
			t.Fatalf("--userns %q: accepted as %q", v, u)
		}
	})
}
