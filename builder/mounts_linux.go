package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/buildfs"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/internal/inroot"
	"hutch.dev/hutch/internal/lock"
	"hutch.dev/hutch/nsinit"
)

// unsafeChars is compiled on first use, not at every hutch process's start.
var unsafeChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9_.-]+`) })

// cacheDirFor is the per-user directory of a RUN --mount=type=cache: by id (default
// the target), kept across builds under CacheDir.
func (b *Builder) cacheDirFor(id string) string {
	sum := sha256.Sum256([]byte(id))
	name := strings.Trim(unsafeChars().ReplaceAllString(id, "-"), "-.")
	if len(name) > 40 {
		name = name[:40]
	}
	return filepath.Join(b.o.CacheDir, "build-cache", name+"-"+hex.EncodeToString(sum[:6]))
}

// mountPlan is one RUN --mount, checked, before anything is made for it.
type mountPlan struct {
	*instructions.Mount
	// target is the absolute path in the container (relative ones are under WORKDIR).
	target string
	// id names a cache (default: the target) or a secret (default: its source, else the
	// target's base name); file is the secret's file on the host.
	id, file string
}

// planMount checks a RUN --mount and resolves its target and id; a secret that is not
// given and not required is left out (nil, nil).
func (b *Builder) planMount(m *instructions.Mount, workdir string) (*mountPlan, error) {
	p := &mountPlan{Mount: m, target: m.Target}
	if p.target != "" && !path.IsAbs(p.target) {
		if workdir == "" {
			workdir = "/"
		}
		p.target = path.Join(workdir, p.target)
	}
	switch m.Type {
	case instructions.MountTypeCache, instructions.MountTypeTmpfs, instructions.MountTypeBind:
		if p.target == "" {
			return nil, fmt.Errorf("RUN --mount=type=%s needs a target", m.Type)
		}
		p.id = m.CacheID
		if p.id == "" {
			p.id = p.target
		}
	case instructions.MountTypeSecret:
		p.id = firstOf(m.CacheID, m.Source, path.Base(m.Target))
		file, ok := b.o.Secrets[p.id]
		if !ok {
			if m.Required {
				return nil, fmt.Errorf("RUN --mount=type=secret,id=%s: no such secret: give it with `hutch build --secret id=%s,src=FILE`", p.id, p.id)
			}
			return nil, nil
		}
		p.file = file
		if p.target == "" {
			p.target = "/run/secrets/" + p.id
		}
	case instructions.MountTypeSSH:
		p.id = firstOf(m.CacheID, "default")
		sock, ok := b.o.SSH[p.id]
		if !ok {
			if m.Required {
				return nil, fmt.Errorf("RUN --mount=type=ssh,id=%s: no such SSH agent: give it with `hutch build --ssh %s` (your $SSH_AUTH_SOCK) or --ssh %s=SOCKET", p.id, p.id, p.id)
			}
			return nil, nil
		}
		p.file = sock
		if p.target == "" {
			p.target = "/run/buildkit/ssh_agent.0"
		}
	default:
		return nil, fmt.Errorf("RUN --mount=type=%s is not supported", m.Type)
	}
	return p, nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// runMounts turns a RUN's --mount flags into runtime mounts, made in dir (a directory
// of the step's own). release undoes what they needed (locks, overlays, the secrets'
// tmpfs) and must be called after the step, also on error.
func (b *Builder) runMounts(st *state, ms []*instructions.Mount, dir string, env *[]string) ([]nsinit.Mount, func(), error) {
	r := &mountsMade{dir: dir}
	var out []nsinit.Mount
	for i, m := range ms {
		p, err := b.planMount(m, st.Config.Config.WorkingDir)
		if err != nil {
			return nil, r.release, err
		}
		if p == nil {
			continue
		}
		var mt *nsinit.Mount
		switch m.Type {
		case instructions.MountTypeCache:
			mt, err = b.cacheMount(p, r)
		case instructions.MountTypeTmpfs:
			mt = tmpfsMount(p)
		case instructions.MountTypeBind:
			mt, err = b.bindMount(st, p, i, r)
		case instructions.MountTypeSecret:
			mt, err = secretMount(p, i, env, r)
		case instructions.MountTypeSSH:
			// The agent's socket, bound into the step; SSH_AUTH_SOCK names it
			// (unless the step's environment does).
			mt = &nsinit.Mount{Type: "bind", Source: p.file, Destination: p.target, File: true}
			if !hasEnvKey(*env, "SSH_AUTH_SOCK") {
				*env = append(*env, "SSH_AUTH_SOCK="+p.target)
			}
		}
		if err != nil {
			return nil, r.release, err
		}
		if mt != nil {
			out = append(out, *mt)
		}
	}
	return out, r.release, nil
}

// mountsMade is what a step's mounts made: undone by release, last first.
type mountsMade struct {
	dir     string
	undo    []func()
	secrets string // the tmpfs holding the secrets' files, once one is needed
}

func (r *mountsMade) release() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
	r.undo = nil
}

// cacheMount is a RUN --mount=type=cache: a directory of the user's kept across builds
// (made with the mount's mode and owner), locked for the step with sharing=locked.
func (b *Builder) cacheMount(p *mountPlan, r *mountsMade) (*nsinit.Mount, error) {
	d := b.cacheDirFor(p.id)
	if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		if p.Mode != nil {
			_ = os.Chmod(d, os.FileMode(*p.Mode))
		}
		if p.UID != nil || p.GID != nil {
			_ = os.Lchown(d, idOr0(p.UID), idOr0(p.GID))
		}
	}
	if p.CacheSharing == instructions.MountSharingLocked {
		l, err := lock.Acquire(d+".lock", b.o.Stderr)
		if err != nil {
			return nil, err
		}
		r.undo = append(r.undo, l.Unlock)
	}
	return &nsinit.Mount{Type: "bind", Source: d, Destination: p.target, ReadOnly: p.ReadOnly}, nil
}

func idOr0(id *uint64) int {
	if id == nil {
		return 0
	}
	return int(*id)
}

// tmpfsMount is a RUN --mount=type=tmpfs.
func tmpfsMount(p *mountPlan) *nsinit.Mount {
	var opts []string
	if p.SizeLimit > 0 {
		opts = append(opts, fmt.Sprintf("size=%d", p.SizeLimit))
	}
	return &nsinit.Mount{Type: "tmpfs", Destination: p.target, Options: opts}
}

// bindMount is a RUN --mount=type=bind of the build context (what the ignore file
// leaves out is left out of it too), an earlier stage or an image. A writable one is
// writable for the step only: what it writes is thrown away (an overlay over a
// directory, a copy of a file).
func (b *Builder) bindMount(st *state, p *mountPlan, i int, r *mountsMade) (*nsinit.Mount, error) {
	_, root, ign, err := b.copySource(p.From, st.stage)
	if err != nil {
		return nil, err
	}
	h, fi, err := openBindSource(root, p.Source)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var src string
	copied := false
	if p.From == "" && ign != nil && len(ign.Patterns) > 0 {
		// What the ignore file leaves out of the context is not in the mount either (as
		// Docker): the step sees a copy without it.
		if src, err = b.ignoredOut(p.Source, ign, filepath.Join(r.dir, fmt.Sprintf("bindctx%d", i))); err != nil {
			return nil, err
		}
		copied = true
	} else if src, err = bindHandle(h, fi, p.Source, filepath.Join(r.dir, fmt.Sprintf("bindsrc%d", i)), r); err != nil {
		return nil, err
	}
	if !p.ReadOnly && !copied {
		if src, err = writableFor(p, src, fi, filepath.Join(r.dir, fmt.Sprintf("bind%d", i)), r); err != nil {
			return nil, err
		}
	}
	return &nsinit.Mount{Type: "bind", Source: src, Destination: p.target, ReadOnly: p.ReadOnly, File: !fi.IsDir()}, nil
}

// openBindSource resolves a bind mount's source once, inside root (every symlink, `..`
// included, taken as if root were "/": internal/inroot), to an O_PATH handle: what the
// step gets is bound from that handle (bindHandle), never by the path again, so that
// the owner of the tree (a build context another process writes to, a stage's files)
// renaming a component into a symlink that leads out of it between the check and the
// bind changes nothing.
func openBindSource(root, source string) (*os.File, os.FileInfo, error) {
	rt, err := inroot.OpenRoot(root)
	if err != nil {
		return nil, nil, err
	}
	defer rt.Close()
	h, err := rt.OpenFile(source, unix.O_PATH)
	if err != nil {
		return nil, nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", source, err)
	}
	fi, err := h.Stat()
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", source, err)
	}
	return h, fi, nil
}

// bindHandle binds what h names (its FileInfo fi) onto at, a new path in the step's own
// directory, through /proc/self/fd (the kernel takes the file the descriptor names, not
// a path), and returns at: the step's mount is made from there, a place no one else
// writes to. The bind is undone by r.
func bindHandle(h *os.File, fi os.FileInfo, source, at string, r *mountsMade) (string, error) {
	if fi.IsDir() {
		if err := os.Mkdir(at, 0o700); err != nil {
			return "", err
		}
	} else {
		f, err := os.OpenFile(at, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		f.Close()
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), at, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("RUN --mount=type=bind,source=%s: binding it onto %s: %w", source, at, err)
	}
	r.undo = append(r.undo, func() { _ = unix.Unmount(at, unix.MNT_DETACH) })
	return at, nil
}

// writableFor is src (fi) made writable for one step in work: an overlay over a
// directory, a copy of a file.
func writableFor(p *mountPlan, src string, fi os.FileInfo, work string, r *mountsMade) (string, error) {
	if !fi.IsDir() {
		if err := copyFile(src, work, fi.Mode().Perm()); err != nil {
			return "", err
		}
		return work, nil
	}
	for _, d := range []string{work + "/u", work + "/w", work + "/m"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	// The paths are escaped: src holds names of the build context's (source=x:/home
	// would otherwise add the host's /home as a second lower directory, and a ',' a
	// mount option of the context's choosing).
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", overlayEscape(src), overlayEscape(work+"/u"), overlayEscape(work+"/w"))
	if err := unix.Mount("overlay", work+"/m", "overlay", 0, data); err != nil {
		return "", fmt.Errorf("RUN --mount=type=bind,rw: an overlay over %s: %w", p.Source, err)
	}
	r.undo = append(r.undo, func() { _ = unix.Unmount(work+"/m", unix.MNT_DETACH) })
	return work + "/m", nil
}

// overlayEscape escapes a path for overlayfs's mount options, where ',' separates the
// options and ':' the lower directories: the kernel reads `\\`, `\,` and `\:` as the
// character escaped.
func overlayEscape(p string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(p)
}

// secretMount is a RUN --mount=type=secret: the secret's content as an environment
// variable (env=) and/or a read-only file on a tmpfs of the build's own mount namespace,
// so that a secret never reaches the disk and vanishes with the build even when it is
// killed outright.
func secretMount(p *mountPlan, i int, env *[]string, r *mountsMade) (*nsinit.Mount, error) {
	data, err := fsutil.Secret.Read(p.file)
	if err != nil {
		return nil, fmt.Errorf("--secret id=%s: %w", p.id, err)
	}
	if p.Env != nil {
		*env = append(*env, *p.Env+"="+string(data))
		if p.Target == "" {
			return nil, nil
		}
	}
	if r.secrets == "" {
		r.secrets = filepath.Join(r.dir, "secrets")
		if err := os.Mkdir(r.secrets, 0o700); err != nil {
			return nil, err
		}
		if err := unix.Mount("tmpfs", r.secrets, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
			return nil, fmt.Errorf("RUN --mount=type=secret: mounting a tmpfs for the secrets on %s: %w", r.secrets, err)
		}
		dir := r.secrets
		r.undo = append(r.undo, func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	}
	cp := filepath.Join(r.secrets, "secret-"+fmt.Sprint(i))
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		return nil, err
	}
	mode := os.FileMode(0o400)
	if p.Mode != nil {
		mode = os.FileMode(*p.Mode)
	}
	_ = os.Chmod(cp, mode)
	_ = os.Lchown(cp, idOr0(p.UID), idOr0(p.GID))
	return &nsinit.Mount{Type: "bind", Source: cp, Destination: p.target, ReadOnly: true, File: true}, nil
}

// ignoredOut copies the context's source (what a RUN --mount=type=bind without from=
// names) to dir, leaving out what ign excludes, and returns the copy's path.
func (b *Builder) ignoredOut(source string, ign *buildfs.Ignore, dir string) (string, error) {
	if source == "" {
		source = "."
	}
	srcs, err := buildfs.Sources(b.o.Context, []string{source}, ign)
	if err != nil {
		return "", fmt.Errorf("RUN --mount=type=bind,source=%s: %w", source, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	dest, out := "/", dir
	if !srcs[0].Info.IsDir() {
		dest, out = "/"+filepath.Base(srcs[0].Path), filepath.Join(dir, filepath.Base(srcs[0].Path))
	}
	o := buildfs.CopyOptions{Ignore: ign, IgnoreChownErrors: b.o.SingleID}
	if err := buildfs.CopyInto(dir, dest, srcs, o); err != nil {
		return "", fmt.Errorf("RUN --mount=type=bind,source=%s: %w", source, err)
	}
	return out, nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func hasEnvKey(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}
