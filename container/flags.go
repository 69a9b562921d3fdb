package container

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/volumes"
)

// MountSpec is a mount the user asked for, before volumes are resolved.
type MountSpec struct {
	Type        string   `json:"Type"`             // bind, volume or tmpfs
	Source      string   `json:"Source,omitempty"` // host path (bind) or volume name ("" = anonymous)
	Destination string   `json:"Destination"`
	ReadOnly    bool     `json:"ReadOnly,omitempty"`
	Options     []string `json:"Options,omitempty"` // tmpfs options
}

// ParseVolume reads -v/--volume: SRC:DST[:ro|rw], NAME:DST[:ro|rw] or DST (anonymous).
func ParseVolume(v string) (MountSpec, error) {
	bad := func(why string) (MountSpec, error) {
		return MountSpec{}, fmt.Errorf("-v %q: %s (expected SRC:DST[:ro|rw], NAME:DST or DST)", v, why)
	}
	parts := strings.Split(v, ":")
	var m MountSpec
	switch len(parts) {
	case 1:
		m = MountSpec{Type: "volume", Destination: parts[0]}
	case 2, 3:
		m = MountSpec{Source: parts[0], Destination: parts[1]}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro", "readonly":
					m.ReadOnly = true
				case "rw", "z", "Z", "":
				default:
					return bad("unknown option " + strconv.Quote(o))
				}
			}
		}
	default:
		return bad("too many colons")
	}
	if !strings.HasPrefix(m.Destination, "/") {
		return bad("the destination must be an absolute path")
	}
	if m.Type == "volume" {
		return m, nil
	}
	switch {
	case m.Source == "":
		return bad("empty source")
	case strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, "."):
		abs, err := filepath.Abs(m.Source)
		if err != nil {
			return bad(err.Error())
		}
		m.Type, m.Source = "bind", abs
	case volumes.ValidName(m.Source):
		m.Type = "volume"
	default:
		return bad("the source is neither an absolute path nor a volume name")
	}
	return m, nil
}

// ParseMount reads --mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…][,tmpfs-mode=…].
func ParseMount(v string) (MountSpec, error) {
	bad := func(why string) (MountSpec, error) {
		return MountSpec{}, fmt.Errorf("--mount %q: %s", v, why)
	}
	m := MountSpec{Type: "volume"}
	for _, field := range strings.Split(v, ",") {
		k, val, hasVal := strings.Cut(field, "=")
		switch strings.ToLower(k) {
		case "type":
			m.Type = val
		case "source", "src":
			m.Source = val
		case "target", "destination", "dst":
			m.Destination = val
		case "readonly", "ro":
			if !hasVal {
				m.ReadOnly = true
				continue
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad("readonly takes true or false")
			}
			m.ReadOnly = b
		case "tmpfs-size":
			m.Options = append(m.Options, "size="+val)
		case "tmpfs-mode":
			m.Options = append(m.Options, "mode="+val)
		case "bind-propagation", "consistency", "z", "Z":
			// accepted for compatibility; mounts are private here
		default:
			return bad(fmt.Sprintf("unknown key %q (use type, source, target, readonly, tmpfs-size, tmpfs-mode)", k))
		}
	}
	if !strings.HasPrefix(m.Destination, "/") {
		return bad("target= must be an absolute path")
	}
	switch m.Type {
	case "bind":
		if m.Source == "" {
			return bad("a bind mount needs source=")
		}
		abs, err := filepath.Abs(m.Source)
		if err != nil {
			return bad(err.Error())
		}
		m.Source = abs
	case "volume":
		if m.Source != "" && !volumes.ValidName(m.Source) {
			return bad("invalid volume name " + strconv.Quote(m.Source))
		}
	case "tmpfs":
		if m.Source != "" {
			return bad("a tmpfs mount takes no source")
		}
	default:
		return bad("type must be bind, volume or tmpfs")
	}
	return m, nil
}

// ParseTmpfs reads --tmpfs DST[:OPTIONS].
func ParseTmpfs(v string) (MountSpec, error) {
	dst, opts, _ := strings.Cut(v, ":")
	if !strings.HasPrefix(dst, "/") {
		return MountSpec{}, fmt.Errorf("--tmpfs %q: the destination must be an absolute path", v)
	}
	m := MountSpec{Type: "tmpfs", Destination: dst}
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "":
		case o == "ro":
			m.ReadOnly = true
		case o == "rw", o == "noexec", o == "exec", o == "nosuid", o == "suid", o == "nodev", o == "dev":
		case strings.HasPrefix(o, "size="), strings.HasPrefix(o, "mode="), strings.HasPrefix(o, "uid="), strings.HasPrefix(o, "gid="), strings.HasPrefix(o, "nr_inodes="):
			m.Options = append(m.Options, o)
		default:
			return MountSpec{}, fmt.Errorf("--tmpfs %q: unknown option %q", v, o)
		}
	}
	return m, nil
}

// ParseEnv reads -e values: KEY=VALUE, or KEY alone to take the host's value (skipped
// when the host has none, as Docker does).
func ParseEnv(values []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, e := range values {
		k, _, hasVal := strings.Cut(e, "=")
		if k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, fmt.Errorf("-e %q: expected KEY=VALUE or KEY", e)
		}
		if hasVal {
			out = append(out, e)
		} else if v, ok := lookup(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out, nil
}

// ParseEnvFile reads an --env-file: KEY=VALUE lines, KEY alone (host value), # comments.
func ParseEnvFile(path string, lookup func(string) (string, bool)) ([]string, error) {
	data, err := fsutil.EnvFile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, _, _ := strings.Cut(line, "="); strings.ContainsAny(k, " \t") || k == "" {
			return nil, fmt.Errorf("--env-file %s:%d: expected KEY=VALUE, got %q", path, n, line)
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", path, err)
	}
	return ParseEnv(lines, lookup)
}

// MergeEnv applies overrides (KEY=VALUE) on top of base, keeping base's order.
func MergeEnv(base []string, overrides ...[]string) []string {
	out := append([]string{}, base...)
	idx := map[string]int{}
	for i, e := range out {
		k, _, _ := strings.Cut(e, "=")
		idx[k] = i
	}
	for _, o := range overrides {
		for _, e := range o {
			k, _, _ := strings.Cut(e, "=")
			if i, ok := idx[k]; ok {
				out[i] = e
			} else {
				idx[k] = len(out)
				out = append(out, e)
			}
		}
	}
	return out
}
