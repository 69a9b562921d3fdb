package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.podman.io/image/v5/docker/reference"
)

// The flags of `hutch build` that need more than cobra reads, each checked here once.

// ContextDir is the build context's directory for the CONTEXT argument: a local
// directory, made absolute.
func ContextDir(arg string) (string, error) {
	if strings.Contains(arg, "://") || strings.HasPrefix(arg, "git@") {
		return "", fmt.Errorf("build context %q: only a local directory can be a build context", arg)
	}
	dir, err := filepath.Abs(arg)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("build context %s: not a directory (give the directory holding the files COPY uses, e.g. `hutch build .`)", arg)
	}
	return dir, nil
}

// ParseBuildArgs reads --build-arg KEY=VALUE, or KEY to take it from the environment
// (lookup; left out when it is not set there).
func ParseBuildArgs(values []string, lookup func(string) (string, bool)) map[string]string {
	args := map[string]string{}
	for _, ba := range values {
		k, v, ok := strings.Cut(ba, "=")
		if !ok {
			if v, ok = lookup(k); !ok {
				continue
			}
		}
		args[k] = v
	}
	return args
}

// ParseLabels reads --label KEY=VALUE.
func ParseLabels(values []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, l := range values {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, fmt.Errorf("--label %q: use KEY=VALUE", l)
		}
		labels[k] = v
	}
	return labels, nil
}

// ParseSecrets reads --secret id=ID,src=FILE (type=file; src defaults to the id): the
// secret's absolute path by id, each file checked.
func ParseSecrets(values []string) (map[string]string, error) {
	secrets := map[string]string{}
	for _, s := range values {
		id, src := "", ""
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "id":
				id = v
			case "src", "source":
				src = v
			case "type":
				if v != "file" {
					return nil, fmt.Errorf("--secret %q: only file secrets (type=file) are supported", s)
				}
			default:
				return nil, fmt.Errorf("--secret %q: use id=ID,src=FILE", s)
			}
		}
		if id == "" {
			return nil, fmt.Errorf("--secret %q: use id=ID,src=FILE", s)
		}
		if src == "" {
			src = id
		}
		if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("--secret id=%s: %w", id, err)
		}
		abs, _ := filepath.Abs(src)
		secrets[id] = abs
	}
	return secrets, nil
}

// ParseTimestamp is the time a reproducible build sets everywhere: --timestamp when
// given (set), else $SOURCE_DATE_EPOCH (epoch) when set, else none.
func ParseTimestamp(flag int64, set bool, epoch string) (*time.Time, error) {
	if set {
		if flag < 0 {
			return nil, fmt.Errorf("--timestamp %d: give a Unix time in seconds (0 or more)", flag)
		}
		t := time.Unix(flag, 0).UTC()
		return &t, nil
	}
	if epoch == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: must be a Unix time in seconds", epoch)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}

// ParseSSH reads --ssh values: default (the agent $SSH_AUTH_SOCK names, from lookup),
// ID (the same, under that id) or ID=SOCKET, each an SSH agent's Unix socket (a key
// file, which Docker also takes, is refused: hutch runs no agent of its own).
func ParseSSH(values []string, lookup func(string) (string, bool)) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range values {
		id, sock, hasSock := strings.Cut(v, "=")
		if id == "" || strings.Contains(sock, ",") {
			return nil, fmt.Errorf("--ssh %q: expected default, ID, or ID=SOCKET (an SSH agent's socket)", v)
		}
		if !hasSock {
			s, ok := lookup("SSH_AUTH_SOCK")
			if !ok || s == "" {
				return nil, fmt.Errorf("--ssh %s: SSH_AUTH_SOCK is not set (no agent runs): start one (`eval $(ssh-agent)` and `ssh-add`), or give its socket with --ssh %s=SOCKET", v, id)
			}
			sock = s
		}
		abs, err := filepath.Abs(sock)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("--ssh %s: %w", v, err)
		}
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("--ssh %s: %s is not a socket: hutch binds an SSH agent's socket into the step and runs no agent of its own, so key files are not taken (load the key into an agent: `ssh-add FILE`)", v, abs)
		}
		out[id] = abs
	}
	return out, nil
}

// Output is --output (-o): the final stage's files — its whole root file system, not
// an image — written to a directory on the host (type=local) or as a tar archive
// (type=tar) to a file or, Dest "-", to standard output.
type Output struct {
	Type string // OutputLocal or OutputTar
	Dest string // a directory (local), a file or "-" (tar), as given
}

// The types of --output.
const (
	OutputLocal = "local"
	OutputTar   = "tar"
)

func (o *Output) String() string { return "type=" + o.Type + ",dest=" + o.Dest }

// ToStdout says the tar goes to standard output (and the build's own output must not).
func (o *Output) ToStdout() bool { return o != nil && o.Type == OutputTar && o.Dest == "-" }

// outputForms is what --output accepts, for its errors.
const outputForms = "type=local,dest=DIR (or just DIR), type=tar,dest=FILE, type=tar,dest=- (or just -: to standard output)"

// ParseOutput reads --output as Docker's buildx does: type=local,dest=DIR,
// type=tar,dest=FILE|-, or a value without "=": "-" (a tar on standard output) or a
// directory (local).
func ParseOutput(s string) (*Output, error) {
	bad := func(why string) error {
		return fmt.Errorf("--output %q: %s; use %s", s, why, outputForms)
	}
	if s == "" {
		return nil, bad("empty")
	}
	if !strings.Contains(s, "=") {
		if s == "-" {
			return &Output{Type: OutputTar, Dest: "-"}, nil
		}
		if strings.Contains(s, ",") {
			return nil, bad("a directory with a comma must be given as type=local,dest=DIR")
		}
		return &Output{Type: OutputLocal, Dest: s}, nil
	}
	o := &Output{}
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || seen[k] {
			return nil, bad(fmt.Sprintf("%q is not KEY=VALUE, or repeats a key", kv))
		}
		seen[k] = true
		switch k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		default:
			return nil, bad(fmt.Sprintf("unknown key %q (hutch takes type and dest)", k))
		}
	}
	switch o.Type {
	case OutputLocal, OutputTar:
	case "":
		return nil, bad("no type=")
	case "image", "docker", "oci", "registry", "cacheonly":
		return nil, bad(fmt.Sprintf("type=%s is not supported (without --output the build makes an image in the store: hutch save or hutch push it)", o.Type))
	default:
		return nil, bad(fmt.Sprintf("unknown type %q", o.Type))
	}
	switch {
	case o.Dest == "":
		return nil, bad("no dest=")
	case o.Type == OutputLocal && o.Dest == "-":
		return nil, bad("type=local writes a directory; standard output takes a tar")
	}
	return o, nil
}

// ParseCacheRepos reads --cache-from or --cache-to (flag): each a registry repository
// without a tag (Buildah's form: every layer step's image is tagged there with its cache
// key), returned fully qualified.
func ParseCacheRepos(flag string, values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		if strings.Contains(v, "=") {
			return nil, fmt.Errorf("%s %q: give a registry repository, e.g. %s 127.0.0.1:5000/me/app-cache (BuildKit's type=…,ref=… forms are not taken: hutch tags each step's image with its cache key, as Buildah does)", flag, v, flag)
		}
		named, err := reference.ParseNormalizedNamed(strings.TrimPrefix(v, "docker://"))
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, v, err)
		}
		if !reference.IsNameOnly(named) {
			return nil, fmt.Errorf("%s %s: give the repository without a tag or digest (each step's image is tagged with its cache key)", flag, v)
		}
		if reference.Domain(named) == "localhost" {
			return nil, fmt.Errorf("%s %s: a registry's repository is needed (localhost/ names are local images), e.g. 127.0.0.1:5000/%s", flag, v, reference.Path(named))
		}
		out = append(out, named.String())
	}
	return out, nil
}
