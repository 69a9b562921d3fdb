// Package security reads `--security-opt` and confines containers with seccomp: it
// resolves Docker's default profile (github.com/moby/profiles/seccomp) or a profile in
// Docker's JSON format for a container's capabilities, compiles it to a BPF program
// with its own compiler, and caches the program by the profile's digest, so that
// starting a container only reads a small file. Loading the program is nsinit's part
// (just before the command runs). See docs/security.md.
package security

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
)

// Seccomp modes.
const (
	SeccompBuiltin    = "builtin"    // Docker's default profile
	SeccompUnconfined = "unconfined" // no filter
	SeccompFile       = "file"       // a profile from a file, kept in the record
)

// Seccomp is the seccomp profile a container asked for.
type Seccomp struct {
	Mode string `json:"Mode"` // builtin, unconfined or file
	// Path is the file the profile was read from (file), as given, made absolute.
	Path string `json:"Path,omitempty"`
	// Digest is sha256 of the file's content (file).
	Digest string `json:"Digest,omitempty"`
	// Content is the profile itself (file): the container does not depend on the file
	// staying where it was, as with Docker.
	Content string `json:"Content,omitempty"`
}

// Options is what `--security-opt` asked for, checked; the zero value is the default
// (builtin seccomp profile, privileges may be gained through set-user-ID files, the
// default masked paths).
type Options struct {
	Seccomp         Seccomp `json:"Seccomp"`
	NoNewPrivileges bool    `json:"NoNewPrivileges,omitempty"`
	// Mask adds paths to the masked ones; Unmask removes some ("ALL": every masked
	// and read-only path).
	Mask   []string `json:"Mask,omitempty"`
	Unmask []string `json:"Unmask,omitempty"`
	// Label and AppArmor are accepted and have no effect: hutch applies no SELinux
	// label and no AppArmor profile.
	Label    []string `json:"Label,omitempty"`
	AppArmor string   `json:"AppArmor,omitempty"`
	// Raw are the options as given (Docker's HostConfig.SecurityOpt).
	Raw []string `json:"Raw,omitempty"`
}

// Accepted lists the forms Parse takes, for error messages and help.
const Accepted = "seccomp=unconfined|builtin|PROFILE.json, no-new-privileges[=true|false], " +
	"mask=/PATH[:/PATH…], unmask=/PATH[:/PATH…]|ALL, systempaths=unconfined, " +
	"label=disable|nested|user:…|role:…|type:…|level:…|filetype:…, apparmor=unconfined"

// Parse reads `--security-opt` values (KEY=VALUE, or Docker's older KEY:VALUE). A
// profile file is read now (relative to the current directory), parsed and compiled
// once to check it; its content is kept in the result.
func Parse(opts []string) (*Options, error) {
	o := &Options{Seccomp: Seccomp{Mode: SeccompBuiltin}}
	for _, opt := range opts {
		if err := o.parse(opt); err != nil {
			return nil, fmt.Errorf("--security-opt %q: %w", opt, err)
		}
		o.Raw = append(o.Raw, opt)
	}
	return o, nil
}

func (o *Options) parse(opt string) error {
	key, val, hasVal := strings.Cut(opt, "=")
	if !hasVal {
		if k, v, ok := strings.Cut(opt, ":"); ok {
			key, val, hasVal = k, v, true
		}
	}
	switch key {
	case "no-new-privileges":
		if !hasVal {
			o.NoNewPrivileges = true
			return nil
		}
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("no-new-privileges takes true or false, not %q", val)
		}
		o.NoNewPrivileges = b
		return nil
	case "seccomp":
		switch val {
		case "":
			return fmt.Errorf("seccomp needs a value: unconfined, builtin, or the path of a profile in Docker's JSON format")
		case SeccompUnconfined:
			o.Seccomp = Seccomp{Mode: SeccompUnconfined}
		case SeccompBuiltin:
			o.Seccomp = Seccomp{Mode: SeccompBuiltin}
		default:
			s, err := ReadProfile(val)
			if err != nil {
				return err
			}
			o.Seccomp = *s
		}
		return nil
	case "mask", "unmask":
		if val == "" {
			return fmt.Errorf("%s needs paths: %s=/PATH[:/PATH…]", key, key)
		}
		for _, p := range strings.Split(val, ":") {
			if key == "unmask" && p == "ALL" {
				o.Unmask = append(o.Unmask, p)
				continue
			}
			if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
				return fmt.Errorf("%q is not a clean absolute path (e.g. /proc/kcore)", p)
			}
			if key == "unmask" {
				if _, err := path.Match(p, p); err != nil {
					return fmt.Errorf("%q: %w", p, err)
				}
				o.Unmask = append(o.Unmask, p)
			} else {
				o.Mask = append(o.Mask, p)
			}
		}
		return nil
	case "systempaths":
		if val != "unconfined" {
			return fmt.Errorf("systempaths takes unconfined (the same as unmask=ALL)")
		}
		o.Unmask = append(o.Unmask, "ALL")
		return nil
	case "label":
		k, _, _ := strings.Cut(val, ":")
		switch {
		case val == "disable", val == "nested":
		case strings.Contains(val, ":") && (k == "user" || k == "role" || k == "type" || k == "level" || k == "filetype"):
		default:
			return fmt.Errorf("label takes disable, nested, user:USER, role:ROLE, type:TYPE, level:LEVEL or filetype:TYPE")
		}
		o.Label = append(o.Label, val)
		return nil
	case "apparmor":
		if val != "unconfined" {
			return fmt.Errorf("hutch applies no AppArmor profile (%s), so it cannot confine a container with profile %q: leave the option out, or use apparmor=unconfined", appArmorState(), val)
		}
		o.AppArmor = val
		return nil
	}
	return fmt.Errorf("unknown security option; hutch accepts %s", Accepted)
}

func appArmorState() string {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || strings.TrimSpace(string(b)) != "Y" {
		return "and AppArmor is not enabled on this host"
	}
	return "although AppArmor is enabled on this host"
}

// SeccompFor is the profile in effect for a container: none with --privileged, as
// Docker does.
func (o *Options) SeccompFor(privileged bool) Seccomp {
	if o == nil {
		return Seccomp{Mode: SeccompBuiltin}
	}
	if privileged {
		return Seccomp{Mode: SeccompUnconfined}
	}
	return o.Seccomp
}

// Describe names a profile for `inspect`: builtin, unconfined, or the file and its digest.
func (s Seccomp) Describe() string {
	switch s.Mode {
	case SeccompFile:
		return s.Path + " (" + s.Digest + ")"
	case "":
		return SeccompBuiltin
	}
	return s.Mode
}
