package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/buildfs"
	"hutch.dev/hutch/internal/fsutil"
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

// runMounts turns a RUN's --mount flags into runtime mounts. release undoes what
// they needed (locks, overlays, copies) and must be called after the step.
func (b *Builder) runMounts(st *state, ms []*instructions.Mount, dir string, env *[]string) ([]nsinit.Mount, func(), error) {
	var out []nsinit.Mount
	var undo []func()
	secrets := "" // the tmpfs holding the secrets' files, once one is needed
	release := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	for i, m := range ms {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			wd := st.Config.Config.WorkingDir
			if wd == "" {
				wd = "/"
			}
			target = path.Join(wd, target)
		}
		switch m.Type {
		case instructions.MountTypeCache:
			if target == "" {
				return nil, release, fmt.Errorf("RUN --mount=type=cache needs a target")
			}
			id := m.CacheID
			if id == "" {
				id = target
			}
			d := b.cacheDirFor(id)
			if _, err := os.Stat(d); os.IsNotExist(err) {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return nil, release, err
				}
				if m.Mode != nil {
					_ = os.Chmod(d, os.FileMode(*m.Mode))
				}
				if m.UID != nil || m.GID != nil {
					uid, gid := 0, 0
					if m.UID != nil {
						uid = int(*m.UID)
					}
					if m.GID != nil {
						gid = int(*m.GID)
					}
					_ = os.Lchown(d, uid, gid)
				}
			}
			if m.CacheSharing == instructions.MountSharingLocked {
				l, err := lock.Acquire(d+".lock", b.o.Stderr)
				if err != nil {
					return nil, release, err
				}
				undo = append(undo, l.Unlock)
			}
			out = append(out, nsinit.Mount{Type: "bind", Source: d, Destination: target, ReadOnly: m.ReadOnly})
		case instructions.MountTypeTmpfs:
			if target == "" {
				return nil, release, fmt.Errorf("RUN --mount=type=tmpfs needs a target")
			}
			var opts []string
			if m.SizeLimit > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", m.SizeLimit))
			}
			out = append(out, nsinit.Mount{Type: "tmpfs", Destination: target, Options: opts})
		case instructions.MountTypeBind:
			if target == "" {
				return nil, release, fmt.Errorf("RUN --mount=type=bind needs a target")
			}
			_, root, ign, err := b.copySource(m.From, st.stage)
			if err != nil {
				return nil, release, err
			}
			src, err := securejoin.SecureJoin(root, m.Source)
			if err != nil {
				return nil, release, err
			}
			fi, err := os.Stat(src)
			if err != nil {
				return nil, release, fmt.Errorf("RUN --mount=type=bind,source=%s: %w", m.Source, err)
			}
			copied := false
			if m.From == "" && ign != nil && len(ign.Patterns) > 0 {
				// What the ignore file leaves out of the context is not in the mount
				// either (as Docker): the step sees a copy without it.
				if src, err = b.ignoredOut(m.Source, ign, filepath.Join(dir, fmt.Sprintf("bindctx%d", i))); err != nil {
					return nil, release, err
				}
				copied = true
			}
			if !m.ReadOnly && !copied {
				// Writable, but what the step writes there is thrown away.
				if fi.IsDir() {
					upper := filepath.Join(dir, fmt.Sprintf("bind%d", i))
					for _, d := range []string{upper + "/u", upper + "/w", upper + "/m"} {
						if err := os.MkdirAll(d, 0o755); err != nil {
							return nil, release, err
						}
					}
					data := fmt.Sprintf("lowerdir=%s,upperdir=%s/u,workdir=%s/w,userxattr", src, upper, upper)
					if err := unix.Mount("overlay", upper+"/m", "overlay", 0, data); err != nil {
						return nil, release, fmt.Errorf("RUN --mount=type=bind,rw: an overlay over %s: %w", m.Source, err)
					}
					undo = append(undo, func() { _ = unix.Unmount(upper+"/m", unix.MNT_DETACH) })
					src = upper + "/m"
				} else {
					cp := filepath.Join(dir, fmt.Sprintf("bind%d", i))
					if err := copyFile(src, cp, fi.Mode().Perm()); err != nil {
						return nil, release, err
					}
					src = cp
				}
			}
			out = append(out, nsinit.Mount{Type: "bind", Source: src, Destination: target, ReadOnly: m.ReadOnly, File: !fi.IsDir()})
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = m.Source
			}
			if id == "" {
				id = path.Base(m.Target)
			}
			srcFile, ok := b.o.Secrets[id]
			if !ok {
				if m.Required {
					return nil, release, fmt.Errorf("RUN --mount=type=secret,id=%s: no such secret: give it with `hutch build --secret id=%s,src=FILE`", id, id)
				}
				continue
			}
			data, err := fsutil.Secret.Read(srcFile)
			if err != nil {
				return nil, release, fmt.Errorf("--secret id=%s: %w", id, err)
			}
			if m.Env != nil {
				*env = append(*env, *m.Env+"="+string(data))
				if m.Target == "" {
					continue
				}
			}
			if target == "" {
				target = "/run/secrets/" + id
			}
			mode := os.FileMode(0o400)
			if m.Mode != nil {
				mode = os.FileMode(*m.Mode)
			}
			if secrets == "" {
				// A tmpfs of the build's own mount namespace: a secret never reaches the
				// disk, and vanishes with the build even when it is killed outright.
				secrets = filepath.Join(dir, "secrets")
				if err := os.Mkdir(secrets, 0o700); err != nil {
					return nil, release, err
				}
				if err := unix.Mount("tmpfs", secrets, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
					return nil, release, fmt.Errorf("RUN --mount=type=secret: mounting a tmpfs for the secrets on %s: %w", secrets, err)
				}
				undo = append(undo, func() { _ = unix.Unmount(secrets, unix.MNT_DETACH) })
			}
			cp := filepath.Join(secrets, "secret-"+fmt.Sprint(i))
			if err := os.WriteFile(cp, data, 0o600); err != nil {
				return nil, release, err
			}
			_ = os.Chmod(cp, mode)
			uid, gid := 0, 0
			if m.UID != nil {
				uid = int(*m.UID)
			}
			if m.GID != nil {
				gid = int(*m.GID)
			}
			_ = os.Lchown(cp, uid, gid)
			out = append(out, nsinit.Mount{Type: "bind", Source: cp, Destination: target, ReadOnly: true, File: true})
		case instructions.MountTypeSSH:
			return nil, release, fmt.Errorf("RUN --mount=type=ssh is not supported by hutch build: pass what the step needs with --secret")
		default:
			return nil, release, fmt.Errorf("RUN --mount=type=%s is not supported", m.Type)
		}
	}
	return out, release, nil
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
