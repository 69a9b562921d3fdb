package container

import (
	"bufio"
	"bytes"
	"encoding/csv"
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
	// NoCopy: a volume that is empty is not filled with what the image has at its
	// destination (-v …:nocopy, --mount volume-nocopy).
	NoCopy bool `json:"NoCopy,omitempty"`
	// Chown: the source is given to the container's user before each start (-v …:U).
	Chown bool `json:"Chown,omitempty"`
	// Overlay: a host directory seen through an overlay whose upper layer is the
	// container's own (-v …:O): writes stay in the container, gone with it.
	Overlay bool `json:"Overlay,omitempty"`
	// ImageID is the image of a type=image mount (Source is its name as given), found
	// or pulled when the container is created; SubPath the directory of it mounted
	// ("": its whole root), resolved inside the image's root.
	ImageID string `json:"ImageID,omitempty"`
	SubPath string `json:"SubPath,omitempty"`
	// VolumeOptions are the local driver's options for a volume this mount creates
	// (--mount volume-opt=KEY=VALUE): see volumes.CheckOptions.
	VolumeOptions map[string]string `json:"VolumeOptions,omitempty"`
	// NoExec and Suid are a tmpfs mount's flags: Docker's --tmpfs and --mount type=tmpfs
	// mount noexec and nosuid unless told exec or suid (records older than these fields
	// had neither: their tmpfs mounts stay as they were, exec and nosuid).
	NoExec bool `json:"NoExec,omitempty"`
	Suid   bool `json:"Suid,omitempty"`
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
				case "rw", "", "cached", "delegated", "consistent":
					// Docker Desktop's file-sharing hints: nothing to do on Linux.
				case "z", "Z":
					// SELinux relabelling: meaningless without SELinux, which hutch does not use.
				case "U":
					m.Chown = true
				case "nocopy":
					m.NoCopy = true
				case "O":
					m.Overlay = true
				default:
					return bad("unknown option " + strconv.Quote(o) + " (use ro, rw, U, nocopy, z, Z, cached, delegated, consistent)")
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
	if m.Overlay && (m.Type != "bind" || m.ReadOnly || m.Chown) {
		return bad(":O is an overlay over a host directory: not with a volume, ro or U")
	}
	return m, nil
}

// ParseMount reads --mount type=bind|volume|tmpfs|image,source=…,target=…[,readonly][,volume-opt=K=V…][,tmpfs-size=…][,tmpfs-mode=…][,rw=…][,subpath=…] (image).
func ParseMount(v string) (MountSpec, error) {
	bad := func(why string) (MountSpec, error) {
		return MountSpec{}, fmt.Errorf("--mount %q: %s", v, why)
	}
	m := MountSpec{Type: "volume"}
	rw := "" // type=image's rw= ("": not given)
	// As Docker's: the fields are CSV, so that a value with a comma is quoted
	// ("volume-opt=o=size=64m,uid=1000").
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return bad("the fields are comma-separated KEY=VALUE, quoted when a value holds a comma: " + err.Error())
	}
	for _, field := range fields {
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
		case "volume-nocopy":
			m.NoCopy = !hasVal || val == "true" || val == "1"
		case "volume-driver":
			if val != "local" {
				return bad("volume-driver=" + val + ": hutch's volumes are directories of its own (the local driver); there are no volume plugins")
			}
		case "volume-opt":
			ok, ov, isKV := strings.Cut(val, "=")
			if !isKV || ok == "" {
				return bad("volume-opt=" + val + ": expected volume-opt=KEY=VALUE (type, device or o)")
			}
			if m.VolumeOptions == nil {
				m.VolumeOptions = map[string]string{}
			}
			m.VolumeOptions[ok] = ov
		case "rw", "readwrite":
			rw = "true"
			if hasVal {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return bad(k + " takes true or false")
				}
				rw = strconv.FormatBool(b)
			}
		case "subpath":
			m.SubPath = val
		default:
			return bad(fmt.Sprintf("unknown key %q (use type, source, target, readonly, volume-nocopy, volume-opt, tmpfs-size, tmpfs-mode; rw and subpath with type=image)", k))
		}
	}
	if !strings.HasPrefix(m.Destination, "/") {
		return bad("target= must be an absolute path")
	}
	if m.VolumeOptions != nil && m.Type != "volume" {
		return bad("volume-opt= is for type=volume")
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
		if err := volumes.CheckOptions(m.VolumeOptions); err != nil {
			return bad(err.Error())
		}
	case "tmpfs":
		if m.Source != "" {
			return bad("a tmpfs mount takes no source")
		}
		m.NoExec = true // as Docker's: noexec, nosuid, nodev
	case "image":
		if m.Source == "" {
			return bad("an image mount needs source=IMAGE")
		}
		// Read-only unless rw=true (Podman's default); readonly=false alone is not rw.
		m.ReadOnly = rw != "true"
		if err := checkSubPath(m.SubPath); err != nil {
			return bad(err.Error())
		}
	default:
		return bad("type must be bind, volume, tmpfs or image")
	}
	if m.Type != "image" && (rw != "" || m.SubPath != "") {
		return bad("rw= and subpath= are options of type=image (use readonly for the others)")
	}
	return m, nil
}

// checkSubPath refuses an image mount's subpath= that could name anything outside the
// image: a `..` component (symbolic links in it are resolved inside the image's root
// when it is mounted).
func checkSubPath(p string) error {
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return fmt.Errorf("subpath=%s: a path inside the image, without `..`", p)
		}
	}
	return nil
}

// ParseTmpfs reads --tmpfs DST[:OPTIONS].
func ParseTmpfs(v string) (MountSpec, error) {
	dst, opts, _ := strings.Cut(v, ":")
	if !strings.HasPrefix(dst, "/") {
		return MountSpec{}, fmt.Errorf("--tmpfs %q: the destination must be an absolute path", v)
	}
	m := MountSpec{Type: "tmpfs", Destination: dst, NoExec: true}
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "":
		case o == "ro":
			m.ReadOnly = true
		case o == "exec", o == "noexec":
			m.NoExec = o == "noexec"
		case o == "suid", o == "nosuid":
			m.Suid = o == "suid"
		case o == "rw", o == "nodev", o == "dev": // dev: a user namespace's mounts are nodev all the same
		case strings.HasPrefix(o, "size="), strings.HasPrefix(o, "mode="), strings.HasPrefix(o, "uid="), strings.HasPrefix(o, "gid="), strings.HasPrefix(o, "nr_inodes="):
			m.Options = append(m.Options, o)
		default:
			return MountSpec{}, fmt.Errorf("--tmpfs %q: unknown option %q", v, o)
		}
	}
	return m, nil
}

// UsernsKeepID is --userns keep-id: the container runs as your own uid and gid.
const UsernsKeepID = "keep-id"

// ParseUserns reads --userns: "" or host (the container is root in hutch's namespace,
// i.e. you) or keep-id[:uid=U,gid=G]. Podman's nomap and auto are refused (auto picks a
// range of /etc/subuid per container, which needs a registry of ranges in use shared by
// every container of yours, and hutch keeps none).
func ParseUserns(v string) (string, error) {
	switch {
	case v == "" || v == "host":
		return "", nil
	case v == UsernsKeepID:
		return v, nil
	case v == "nomap":
		// Podman's nomap (your own ids not mapped inside): the container's init builds
		// its root from inside its user namespace, and without your uid it cannot enter
		// the store's directories, which only you may (mode 0700).
		return "", fmt.Errorf("--userns nomap: not supported yet: the container's init sets up its root from inside its user namespace, and without your uid it cannot enter your store (its directories are yours alone); use keep-id, or leave it out")
	case strings.HasPrefix(v, UsernsKeepID+":"):
		if _, _, err := KeepIDOptions(v, 1, 1); err != nil {
			return "", err
		}
		return v, nil
	case v == "auto" || strings.HasPrefix(v, "auto:"):
		return "", fmt.Errorf("--userns %s: not supported: auto gives each container a range of its own out of /etc/subuid, which needs a record of the ranges in use shared by all your containers, and hutch keeps none; use keep-id (your ids inside), or leave it out (you are root inside)", v)
	case v == "private" || strings.HasPrefix(v, "ns:") || strings.HasPrefix(v, "container:"):
		return "", fmt.Errorf("--userns %s: not supported: every container runs in hutch's user namespace (or, with keep-id, one of its own nested in it); use keep-id, or leave it out", v)
	}
	return "", fmt.Errorf("--userns %q: use keep-id[:uid=U,gid=G] (your own uid and gid inside), or leave it out", v)
}

// KeepIDOptions reads keep-id[:uid=U,gid=G]: the uid and gid you are inside (default
// uid and gid).
func KeepIDOptions(v string, uid, gid int) (int, int, error) {
	_, opts, _ := strings.Cut(v, ":")
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			continue
		}
		k, val, _ := strings.Cut(o, "=")
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return 0, 0, fmt.Errorf("--userns %s: %q: expected uid=N or gid=N", v, o)
		}
		if n == 0 {
			return 0, 0, fmt.Errorf("--userns %s: uid and gid 0 are what a container is without --userns (you are root inside); leave it out", v)
		}
		switch k {
		case "uid":
			uid = n
		case "gid":
			gid = n
		default:
			return 0, 0, fmt.Errorf("--userns %s: unknown option %q (keep-id takes uid= and gid=)", v, k)
		}
	}
	return uid, gid, nil
}

// ParseMounts reads -v/--volume, --mount and --tmpfs, in that order.
func ParseMounts(volumes, mounts, tmpfs []string) ([]MountSpec, error) {
	var out []MountSpec
	for _, flag := range []struct {
		values []string
		parse  func(string) (MountSpec, error)
	}{{volumes, ParseVolume}, {mounts, ParseMount}, {tmpfs, ParseTmpfs}} {
		for _, v := range flag.values {
			m, err := flag.parse(v)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// ParseEnvironment reads --env-file files, then -e values over them.
func ParseEnvironment(files, values []string, lookup func(string) (string, bool)) ([]string, error) {
	var env []string
	for _, file := range files {
		e, err := ParseEnvFile(file, lookup)
		if err != nil {
			return nil, err
		}
		env = append(env, e...)
	}
	e, err := ParseEnv(values, lookup)
	if err != nil {
		return nil, err
	}
	return MergeEnv(env, e), nil
}

// ParseLabels reads --label KEY=VALUE (nil without any).
func ParseLabels(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	labels := map[string]string{}
	for _, l := range values {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, fmt.Errorf("--label %q: expected KEY=VALUE", l)
		}
		labels[k] = v
	}
	return labels, nil
}

// ParseLabelFiles reads --label-file files (KEY=VALUE lines, # comments), then --label
// values over them (nil without any).
func ParseLabelFiles(files, values []string) (map[string]string, error) {
	var all []string
	for _, file := range files {
		data, err := fsutil.EnvFile.Read(file)
		if err != nil {
			return nil, fmt.Errorf("--label-file: %w", err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if k, _, _ := strings.Cut(line, "="); k == "" {
				return nil, fmt.Errorf("--label-file %s:%d: expected KEY=VALUE, got %q", file, n+1, line)
			}
			all = append(all, line)
		}
	}
	return ParseLabels(append(all, values...))
}

// CheckUser checks -u USER[:GROUP] (names or numbers, resolved in the image at start).
func CheckUser(v string) error {
	if v == "" {
		return nil
	}
	u, g, _ := strings.Cut(v, ":")
	if u == "" || strings.Contains(g, ":") || strings.ContainsAny(v, " \t") {
		return fmt.Errorf("-u %q: expected USER[:GROUP], e.g. -u 1000:1000 or -u nobody", v)
	}
	return nil
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
