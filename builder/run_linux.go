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
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/idmap"
	"hutch.dev/hutch/launch"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

// runNetwork is the network of one RUN step: its own --network=none|host, else
// (--network=default, or none given) the build's --network.
func (b *Builder) runNetwork(c *instructions.RunCommand) network.Config {
	switch n := instructions.GetNetwork(c); n {
	case instructions.NetworkHost:
		return network.Config{Mode: network.ModeHost, ExtraHosts: b.o.Network.ExtraHosts}
	case instructions.NetworkNone:
		return network.Config{Mode: network.ModeNone, ExtraHosts: b.o.Network.ExtraHosts}
	}
	return b.o.Network
}

// netOptions is how a step's network is attached (nil: none to attach), once what it
// needs is found: slirp4netns and /dev/net/tun (a missing one named with its fix).
func (b *Builder) netOptions(n network.Config) (*network.AttachOptions, error) {
	if n.Mode != network.ModeSlirp {
		return nil, nil
	}
	bin, err := network.FindSlirp(b.o.SlirpPath)
	if err != nil {
		return nil, err
	}
	if err := network.CheckTun(); err != nil {
		return nil, err
	}
	return &network.AttachOptions{Config: n, Slirp: bin, Log: b.o.Stderr}, nil
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
func (b *Builder) runStep(st *state, c *instructions.RunCommand, p *stepPlan) error {
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
func (b *Builder) runIn(rootfs string, st *state, c *instructions.RunCommand, p *stepPlan, env []string, net network.Config) error {
	dir, err := os.MkdirTemp(b.tmp, "build-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	spec, release, err := b.stepSpec(rootfs, st, c, p, env, net, dir)
	defer release()
	if err != nil {
		return err
	}
	created := missingPaths(rootfs, mountPoints(spec))
	defer removeCreated(rootfs, created)
	out, errOut, closeIO, err := b.runIO()
	if err != nil {
		return err
	}
	defer closeIO()
	// The step's process runs without the store lock: other builds, rmi, pull go on.
	var code int
	var oomKilled bool
	err = b.unlocked(func() (err error) {
		code, oomKilled, err = b.runProcess(spec, net, nsinit.Stdio{Stdout: out, Stderr: errOut})
		return err
	})
	if b.sig.err() != nil {
		return ErrInterrupted
	}
	var ee *nsinit.ExecError
	switch {
	case errors.As(err, &ee):
		return &ErrRunFailed{Code: ee.Code, Msg: b.stepFailure(c, fmt.Sprintf("%s (exit status %d)", ee.Msg, ee.Code))}
	case err != nil:
		return err
	case code != 0:
		what := fmt.Sprintf("command exited with status %d", code)
		if oomKilled {
			what = b.oomFailure() + ": " + what
		}
		return &ErrRunFailed{Code: code, Msg: b.stepFailure(c, what)}
	}
	return nil
}

// stepSpec is the spec of a RUN step in the mounted root: its command, user and
// environment, working directory (made), confinement, network, /etc files and mounts
// (--mount); release undoes what the mounts needed (it is never nil).
func (b *Builder) stepSpec(rootfs string, st *state, c *instructions.RunCommand, p *stepPlan, env []string, net network.Config, dir string) (*nsinit.Spec, func(), error) {
	release := func() {}
	cfg := &st.Config.Config
	args, extra, err := runArgs(cfg, c, dir)
	if err != nil {
		return nil, release, err
	}
	u, err := nsinit.LookupUser(rootfs, cfg.User)
	if err != nil {
		return nil, release, userError("USER "+cfg.User, "USER 1000:1000", err)
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
			return nil, release, err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, release, fmt.Errorf("WORKDIR %s: %w", cwd, err)
		}
	}
	spec := &nsinit.Spec{
		Rootfs: rootfs, Args: args, Env: env, Cwd: cwd, Hostname: "hutch-build",
		User: u.User, Caps: nsinit.DefaultCaps, TTYGroup: idmap.SelfGIDMapped(5),
		// slirp4netns and none get a network namespace of their own (lo up), host
		// keeps the host's.
		NewNetwork: net.Mode != network.ModeHost,
		Rlimits:    b.o.Ulimits, ShmSize: b.o.ShmSize,
	}
	if err := b.confine(spec); err != nil {
		return nil, release, err
	}
	etc, err := launch.Etc{Network: net, Hostname: spec.Hostname}.Write(filepath.Join(dir, "etc"))
	if err != nil {
		return nil, release, err
	}
	spec.Mounts = append(append(spec.Mounts, etc...), extra...)
	mounts, release, err := b.runMounts(st, p.mounts, dir, &spec.Env)
	if err != nil {
		return nil, release, err
	}
	spec.Mounts = append(spec.Mounts, mounts...)
	return spec, release, nil
}

// mountPoints are the paths the runtime creates in the root if they are missing: the
// standard mounts' and each mount's destination with its parents (not under /dev, a
// tmpfs of the step's own).
func mountPoints(spec *nsinit.Spec) []string {
	points := []string{"/proc", "/dev", "/sys"}
	for _, m := range spec.Mounts {
		if strings.HasPrefix(m.Destination, "/dev/") {
			continue
		}
		for d := path.Clean(m.Destination); d != "/"; d = path.Dir(d) {
			points = append(points, d)
		}
	}
	return points
}

// runProcess runs a step's process through launch's start sequence, in a cgroup of its
// own with the build's limits, and waits for it: its exit status and whether the OOM
// killer killed in its cgroup, or why it did not run (an *nsinit.ExecError when the
// command could not be executed).
func (b *Builder) runProcess(spec *nsinit.Spec, net network.Config, stdio nsinit.Stdio) (int, bool, error) {
	netOpts, err := b.netOptions(net)
	if err != nil {
		return 0, false, err
	}
	lim, err := b.stepCgroup()
	if err != nil {
		return 0, false, err
	}
	s, err := launch.Begin(spec, launch.Options{Stdio: stdio, Cgroup: lim, Network: netOpts, Context: b.ctx})
	if err != nil {
		return 0, false, err
	}
	b.sig.setKill(func() { _ = s.Signal(syscall.SIGKILL) })
	defer b.sig.setKill(nil)
	r, err := s.Finish(spec)
	if err != nil {
		return 0, false, err
	}
	if r.Network != nil {
		defer r.Network.Close()
	}
	code, err := r.Wait()
	oomKilled, cgErr := lim.Done()
	if err == nil {
		err = cgErr
	}
	return code, oomKilled, err
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
