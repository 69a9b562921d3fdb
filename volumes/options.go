package volumes

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The kinds of volume the local driver's options make (Docker's `-o type=… -o device=…
// -o o=…`). Rootless, the kernel lets hutch mount only a tmpfs or a bind of a directory the
// user can reach; a device or a network file system needs root on the host.
const (
	KindDirectory = ""      // a directory of hutch's own (no options)
	KindTmpfs     = "tmpfs" // type=tmpfs: memory, private to the container that mounts it
	KindBind      = "bind"  // type=none, o=bind, device=DIR: a host directory
)

// tmpfsData are the tmpfs options (o=…) passed to the kernel as they are; tmpfsFlags the
// mount flags accepted, which change nothing: nosuid and nodev are set on every tmpfs
// hutch mounts.
var (
	tmpfsData  = []string{"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"}
	tmpfsFlags = []string{"nosuid", "nodev", "rw"}
)

// CheckOptions checks a volume's driver options: Docker's local driver's type, device
// and o, for the kinds hutch can mount without root.
func CheckOptions(opts map[string]string) error {
	_, err := kindOf(opts)
	return err
}

func kindOf(opts map[string]string) (string, error) {
	for k := range opts {
		if k != "type" && k != "device" && k != "o" {
			return "", fmt.Errorf("volume option %q: the local driver takes type, device and o (as Docker's: -o type=tmpfs -o device=tmpfs -o o=size=64m)", k)
		}
	}
	typ, device, o := opts["type"], opts["device"], opts["o"]
	switch typ {
	case "":
		if device != "" || o != "" {
			return "", fmt.Errorf("volume options device=%q o=%q without type=: add -o type=tmpfs, or -o type=none with -o o=bind for a host directory", device, o)
		}
		return KindDirectory, nil
	case "tmpfs":
		if _, err := tmpfsOptions(o); err != nil {
			return "", err
		}
		return KindTmpfs, nil
	case "none", "bind":
		bind := false
		for _, f := range strings.Split(o, ",") {
			switch f {
			case "bind", "rbind":
				bind = true
			case "":
			default:
				return "", fmt.Errorf("volume option o=%q: a bind volume takes o=bind (or rbind) alone, not %q", o, f)
			}
		}
		if !bind {
			return "", fmt.Errorf("volume option type=%s mounts a host directory only with o=bind: add -o o=bind -o device=/path/to/dir", typ)
		}
		if !filepath.IsAbs(device) {
			return "", fmt.Errorf("volume option device=%q: a bind volume needs the host directory as an absolute path", device)
		}
		return KindBind, nil
	default:
		return "", fmt.Errorf("volume option type=%s: mounting a %s file system needs root on the host (rootless, the kernel lets hutch mount only tmpfs and binds): ask an admin to mount it and use `-v /mounted/path:/dest`, or make a bind volume of it with -o type=none -o o=bind -o device=/mounted/path", typ, typ)
	}
}

// tmpfsOptions checks a tmpfs volume's o=… and returns its data options for the kernel.
func tmpfsOptions(o string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(o, ",") {
		if f == "" {
			continue
		}
		k, v, hasVal := strings.Cut(f, "=")
		switch {
		case !hasVal && contains(tmpfsFlags, k):
		case hasVal && contains(tmpfsData, k):
			if err := checkTmpfsValue(k, v); err != nil {
				return nil, fmt.Errorf("volume option o=%q: %w", o, err)
			}
			out = append(out, f)
		default:
			known := append(append([]string{}, tmpfsData...), tmpfsFlags...)
			sort.Strings(known)
			return nil, fmt.Errorf("volume option o=%q: %q is not a tmpfs option hutch passes on (use %s)", o, f, strings.Join(known, ", "))
		}
	}
	return out, nil
}

func checkTmpfsValue(k, v string) error {
	switch k {
	case "mode":
		if _, err := strconv.ParseUint(v, 8, 32); err != nil {
			return fmt.Errorf("mode=%s: an octal mode such as 1777", v)
		}
	case "uid", "gid", "nr_inodes", "nr_blocks":
		if _, err := strconv.ParseUint(strings.TrimRight(v, "kKmMgG"), 10, 64); err != nil {
			return fmt.Errorf("%s=%s: a number", k, v)
		}
	case "size":
		n := strings.TrimRight(v, "kKmMgG%")
		if _, err := strconv.ParseUint(n, 10, 64); err != nil || len(v)-len(n) > 1 {
			return fmt.Errorf("size=%s: bytes, or a number with k, m, g or %% (64m)", v)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Kind is what the volume's options make of it: KindDirectory, KindTmpfs or KindBind.
func (v *Volume) Kind() string {
	k, err := kindOf(v.Options)
	if err != nil {
		return KindDirectory // a record made by hand: the start refuses it (MountOptions)
	}
	return k
}

// Source is the directory a container's bind of the volume comes from: the host
// directory of a bind volume, the volume's own directory otherwise.
func (v *Volume) Source() string {
	if v.Kind() == KindBind {
		return filepath.Clean(v.Options["device"])
	}
	return v.Mountpoint
}

// TmpfsOptions are a tmpfs volume's data options for the kernel (size=…, mode=…), after
// the record's options are checked again (a record edited by hand is refused).
func (v *Volume) TmpfsOptions() ([]string, error) {
	if _, err := kindOf(v.Options); err != nil {
		return nil, fmt.Errorf("volume %s: %w", v.Name, err)
	}
	return tmpfsOptions(v.Options["o"])
}
