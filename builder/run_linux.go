package builder

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

// runNetwork is the network of one RUN step: its own --network=none|host, else
// (--network=default, or none given) the build's --network.
func (b *Builder) runNetwork(c *instructions.RunCommand) network.Config {
	switch n := instructions.GetNetwork(c); n {
	case instructions.NetworkHost:
		return network.Config{Mode: network.ModeHost}
	case instructions.NetworkNone:
		return network.Config{Mode: network.ModeNone}
	}
	return b.o.Network
}

// networkSpec applies a network choice to the step's spec and gives its /etc/hosts and
// /etc/resolv.conf: slirp4netns and none get a network namespace of their own (lo up),
// host keeps the host's.
func networkSpec(n network.Config, spec *nsinit.Spec) (hosts string, resolv []byte) {
	resolv, _ = os.ReadFile("/etc/resolv.conf")
	hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	switch n.Mode {
	case network.ModeHost:
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
			if !strings.HasSuffix(hosts, "\n") {
				hosts += "\n"
			}
		}
	case network.ModeSlirp:
		spec.NewNetwork = true
		resolv = network.ResolvConf(resolv, n)
	default:
		spec.NewNetwork = true
	}
	return hosts + network.Hosts(n, spec.Hostname), resolv
}

// attachNetwork connects a step started with a slirp4netns network (nil otherwise).
func (b *Builder) attachNetwork(n network.Config, pid int) (*network.Attachment, error) {
	if n.Mode != network.ModeSlirp {
		return nil, nil
	}
	// What is missing, with the fix (the package, the path in config.toml, the device).
	bin, err := network.FindSlirp(b.o.SlirpPath)
	if err != nil {
		return nil, err
	}
	if err := network.CheckTun(); err != nil {
		return nil, err
	}
	return network.Attach(b.ctx, pid, network.AttachOptions{Config: n, Slirp: bin, Log: b.o.Stderr})
}

// runArgs is the command of a RUN: exec form as is; shell form through SHELL; a
// heredoc is the script itself (`RUN <<EOF`) or stays for the shell to read.
func runArgs(cfg *images.ContainerConfig, c *instructions.RunCommand, scriptDir string) ([]string, []nsinit.Mount, error) {
	if !c.PrependShell {
		return append([]string{}, c.CmdLine...), nil, nil
	}
	sh := shellOf(cfg)
	line := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 0 {
		return append(append([]string{}, sh...), line), nil, nil
	}
	if len(c.Files) == 1 && strings.HasPrefix(strings.TrimSpace(line), "<<") && len(strings.Fields(line)) == 1 {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data) // <<-EOF: leading tabs go
		}
		if strings.HasPrefix(data, "#!") {
			// A script with its own interpreter: run it as a file (on /dev, a tmpfs, so
			// that it never lands in the layer).
			p := filepath.Join(scriptDir, "heredoc")
			if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
				return nil, nil, err
			}
			target := "/dev/.hutch-heredoc"
			return []string{target}, []nsinit.Mount{{Type: "bind", Source: p, Destination: target, ReadOnly: true, File: true}}, nil
		}
		return append(append([]string{}, sh...), data), nil, nil
	}
	var script strings.Builder
	script.WriteString(line)
	script.WriteByte('\n')
	for _, f := range c.Files {
		script.WriteString(f.Data)
		if !strings.HasSuffix(f.Data, "\n") {
			script.WriteByte('\n')
		}
		script.WriteString(f.Name)
		script.WriteByte('\n')
	}
	return append(append([]string{}, sh...), script.String()), nil, nil
}

// runStep runs a RUN in a new layer with hutch's own runtime.
func (b *Builder) runStep(st *state, c *instructions.RunCommand, p *prepared) error {
	cfg := &st.Config.Config
	env := append([]string{}, cfg.Env...)
	env = append(env, argEnv(st.args, cfg.Env)...)
	env = append(env, b.args.proxyEnv()...)
	if _, ok := (&envGetter{env: env}).Get("PATH"); !ok {
		env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	}
	net := b.runNetwork(c)
	err := b.layerStep(st, func(rootfs string) error {
		return b.runIn(rootfs, st, c, p, env, net)
	})
	if err != nil {
		return err
	}
	b.historyLayer(st, runCreatedBy(st, c))
	return nil
}

// runCreatedBy is the RUN's history line, as Docker writes it: the ARGs in use first
// ("|2 A=1 B=2"), then the command.
func runCreatedBy(st *state, c *instructions.RunCommand) string {
	var cmd string
	if len(c.Files) > 0 {
		cmd = text(c)
	} else if c.PrependShell {
		cmd = strings.Join(append(append([]string{}, shellOf(&st.Config.Config)...), strings.Join(c.CmdLine, " ")), " ")
	} else {
		cmd = strings.Join(c.CmdLine, " ")
	}
	args := argEnv(st.args, nil)
	if len(args) == 0 {
		return cmd
	}
	return fmt.Sprintf("|%d %s %s", len(args), strings.Join(args, " "), cmd)
}

// runIn runs the command in the mounted root. Mount points the runtime had to create
// (/proc, /etc/hosts, a secret's file …) are removed again, so that they do not land in
// the layer.
func (b *Builder) runIn(rootfs string, st *state, c *instructions.RunCommand, p *prepared, env []string, net network.Config) error {
	dir, err := os.MkdirTemp(b.tmp, "build-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := &st.Config.Config
	args, extra, err := runArgs(cfg, c, dir)
	if err != nil {
		return err
	}
	u, err := runUser(rootfs, cfg.User)
	if err != nil {
		return err
	}
	if _, ok := (&envGetter{env: env}).Get("HOME"); !ok {
		env = append(env, "HOME="+u.Home)
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if cwd != "/" {
		// WORKDIR makes the directory (Docker's rule), owned by root.
		d, err := securejoin.SecureJoin(rootfs, cwd)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("WORKDIR %s: %w", cwd, err)
		}
	}
	spec := &nsinit.Spec{
		Rootfs: rootfs, Args: args, Env: env, Cwd: cwd, Hostname: "hutch-build",
		User: nsinit.User{UID: uint32(u.Uid), GID: uint32(u.Gid)},
		Caps: nsinit.DefaultCaps, TTYGroup: gidMapped(5),
	}
	for _, g := range u.Sgids {
		spec.User.AdditionalGids = append(spec.User.AdditionalGids, uint32(g))
	}
	if err := b.confine(spec); err != nil {
		return err
	}
	hosts, resolv := networkSpec(net, spec)
	for _, f := range []struct {
		name string
		data []byte
	}{{"hosts", []byte(hosts)}, {"resolv.conf", resolv}} {
		fp := filepath.Join(dir, f.name)
		if err := os.WriteFile(fp, f.data, 0o644); err != nil {
			return err
		}
		spec.Mounts = append(spec.Mounts, nsinit.Mount{Type: "bind", Source: fp, Destination: "/etc/" + f.name, File: true})
	}
	spec.Mounts = append(spec.Mounts, extra...)
	mounts, release, err := b.runMounts(st, p.mounts, dir, &spec.Env)
	defer release()
	if err != nil {
		return err
	}
	spec.Mounts = append(spec.Mounts, mounts...)

	// What the runtime creates as mount points, to remove afterwards.
	var points []string
	for _, m := range []string{"/proc", "/dev", "/sys"} {
		points = append(points, m)
	}
	for _, m := range spec.Mounts {
		if strings.HasPrefix(m.Destination, "/dev/") {
			continue
		}
		for d := path.Clean(m.Destination); d != "/"; d = path.Dir(d) {
			points = append(points, d)
		}
	}
	created := missingPaths(rootfs, points)

	out, errOut, closeIO, err := b.runIO()
	if err != nil {
		return err
	}
	defer closeIO()
	// The step's process tree runs in a cgroup of its own, with the build's limits.
	lim, err := b.stepCgroup()
	if err != nil {
		return err
	}
	spec.Cgroup = lim.File
	proc, err := nsinit.Start(spec, nsinit.Stdio{Stdin: nil, Stdout: out, Stderr: errOut}, true)
	if err != nil {
		lim.Abort()
		return err
	}
	spec.Cgroup = nil
	if err := lim.Started(proc.Pid()); err != nil {
		proc.Kill()
		lim.Abort()
		return err
	}
	att, err := b.attachNetwork(net, proc.Pid())
	if err != nil {
		proc.Kill()
		lim.Abort()
		return err
	}
	if att != nil {
		defer att.Close()
	}
	b.sig.setKill(func() { _ = proc.Signal(syscall.SIGKILL) })
	defer b.sig.setKill(nil)
	code := 0
	if err := proc.Release(); err != nil {
		var ee *nsinit.ExecError
		if !errors.As(err, &ee) {
			proc.Kill()
			lim.Abort()
			return err
		}
		_, _ = lim.Done()
		if b.sig.err() != nil {
			return ErrInterrupted
		}
		removeCreated(rootfs, created)
		return &ErrRunFailed{Code: ee.Code, Msg: b.stepFailure(c, fmt.Sprintf("%s (exit status %d)", ee.Msg, ee.Code))}
	}
	code, err = proc.Wait()
	oomKilled, cgErr := lim.Done()
	removeCreated(rootfs, created)
	if b.sig.err() != nil {
		return ErrInterrupted
	}
	if err != nil {
		return err
	}
	if code != 0 {
		what := fmt.Sprintf("command exited with status %d", code)
		if oomKilled {
			what = b.oomFailure() + ": " + what
		}
		return &ErrRunFailed{Code: code, Msg: b.stepFailure(c, what)}
	}
	return cgErr
}

// stepFailure is the message of a failed RUN: the step as written, the file and line.
func (b *Builder) stepFailure(c instructions.Command, what string) string {
	line := 0
	if loc := c.Location(); len(loc) > 0 {
		line = loc[0].Start.Line
	}
	text := text(c)
	if b.triggerLine > 0 {
		line, text = b.triggerLine, "ONBUILD "+text
	}
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i] + " …"
	}
	return fmt.Sprintf("building at STEP %q (%s:%d): %s", text, b.f.Name, line, what)
}

// runIO gives the RUN's output streams: the caller's, or /dev/null when quiet.
func (b *Builder) runIO() (*os.File, *os.File, func(), error) {
	if !b.o.Quiet && b.o.RunStdout != nil {
		errOut := b.o.RunStderr
		if errOut == nil {
			errOut = b.o.RunStdout
		}
		return b.o.RunStdout, errOut, func() {}, nil
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	return null, null, func() { null.Close() }, nil
}

// missingPaths returns the container paths that do not exist in rootfs.
func missingPaths(rootfs string, paths []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		hp, err := securejoin.SecureJoin(rootfs, p)
		if err != nil {
			continue
		}
		if _, err := os.Lstat(hp); errors.Is(err, os.ErrNotExist) {
			out = append(out, p)
		}
	}
	// Deepest first, for removal.
	sort.Slice(out, func(i, j int) bool { return strings.Count(out[i], "/") > strings.Count(out[j], "/") })
	return out
}

// removeCreated removes mount points the run created, if still empty.
func removeCreated(rootfs string, paths []string) {
	for _, p := range paths {
		hp, err := securejoin.SecureJoin(rootfs, p)
		if err != nil {
			continue
		}
		fi, err := os.Lstat(hp)
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() && fi.Size() == 0 || fi.IsDir() {
			_ = unix.Rmdir(hp)
			if !fi.IsDir() {
				_ = os.Remove(hp)
			}
		}
	}
}

// runUser resolves USER against the root's passwd and group files.
func runUser(rootfs, spec string) (*user.ExecUser, error) {
	passwd, group, err := fsutil.ReadUserDB(rootfs)
	if err != nil {
		return nil, err
	}
	home := "/"
	if name, _, _ := strings.Cut(spec, ":"); name == "" || name == "0" || name == "root" {
		home = "/root"
	}
	u, err := user.GetExecUser(spec, &user.ExecUser{Uid: 0, Gid: 0, Home: home}, passwd, group)
	if err != nil {
		return nil, fmt.Errorf("USER %s: no such user or group in the image's /etc/passwd and /etc/group: use numeric ids (USER 1000:1000)", spec)
	}
	if u.Home == "" {
		u.Home = home
	}
	return u, nil
}

// gidMapped reports whether gid exists in this user namespace.
func gidMapped(gid uint32) bool {
	b, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		var start, host, size uint64
		if _, err := fmt.Sscanf(line, "%d %d %d", &start, &host, &size); err == nil && uint64(gid) >= start && uint64(gid) < start+size {
			return true
		}
	}
	return false
}

// confine applies --security-opt to a RUN step: Docker's seccomp profile (or the one
// asked) compiled for the step's capabilities, no_new_privs, masked paths.
func (b *Builder) confine(spec *nsinit.Spec) error {
	sec := b.o.Security
	p, err := b.o.Seccomp.Program(sec.SeccompFor(false), spec.Caps)
	if err != nil {
		return err
	}
	if p != nil {
		spec.Seccomp, spec.SeccompFlags = p.Bytes(), p.Flags
	}
	if sec != nil {
		spec.NoNewPrivileges = sec.NoNewPrivileges
		spec.Mask, spec.Unmask = sec.Mask, sec.Unmask
	}
	return nil
}
