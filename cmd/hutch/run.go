package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/engine"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/detachkeys"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
)

// createFlags are the flags `run` and `create` share.
type createFlags struct {
	name, entrypoint, workdir, user, hostname, network, userns string
	env, envFiles, capAdd, capDrop, securityOpt                []string
	volumes, mounts, tmpfs, labels                             []string
	publish                                                    []string
	publishAll                                                 bool
	restart, stopSignal, pull                                  string
	registry                                                   registryFlags
	stopTimeout                                                int
	privileged, readOnly, init, rm, interactive, tty           bool
	detach                                                     bool
	limits                                                     limitFlags
	logDriver                                                  string
	logOpts                                                    []string
	health                                                     healthFlags
	devices                                                    []string
	gpus                                                       string
	volumesFrom                                                []string
	imageVolume                                                string
	// the process and namespace settings (container.ParseProcess) and DNS
	process                            container.ProcessFlags
	addHost, dns, dnsSearch, dnsOption []string
	// lifecycle
	cidfile, platform, initPath, detachKeys string
	labelFiles, attach                      []string
	replace, sigProxy                       bool
	// Docker's flags that change nothing here, or name what hutch has one of
	quiet, contentTrustOff       bool
	annotations                  []string
	volumeDriver, isolation, mac string
	discarded                    discardedFlags
}

// discardedFlags are Docker's cgroup v1 knobs, which cgroup v2 (the only delegation a
// rootless engine gets) has no file for: accepted and discarded with a warning, as
// Docker does on a cgroup v2 host.
type discardedFlags struct {
	memorySwappiness int64
	kernelMemory     string
	oomKillDisable   bool
}

func (d *discardedFlags) register(fs *pflag.FlagSet) {
	fs.Int64Var(&d.memorySwappiness, "memory-swappiness", -1, "cgroup v1's swappiness: accepted and discarded with a warning (cgroup v2 has none)")
	fs.StringVar(&d.kernelMemory, "kernel-memory", "", "cgroup v1's kernel memory limit: accepted and discarded with a warning (cgroup v2 counts it in --memory)")
	fs.BoolVar(&d.oomKillDisable, "oom-kill-disable", false, "cgroup v1's OOM-killer switch: accepted and discarded with a warning (cgroup v2 has none)")
}

// warn says, once per flag given, what is discarded and why.
func (d *discardedFlags) warn(fs *pflag.FlagSet, w io.Writer) {
	for _, c := range []struct{ flag, why string }{
		{"memory-swappiness", "cgroup v2 has no per-cgroup swappiness"},
		{"kernel-memory", "cgroup v2 has no separate kernel memory limit: --memory counts kernel memory too"},
		{"oom-kill-disable", "cgroup v2 cannot disable the OOM killer for a cgroup"},
	} {
		if fs.Changed(c.flag) {
			fmt.Fprintf(w, "Warning: --%s discarded: %s (Docker discards it on cgroup v2 too)\n", c.flag, c.why)
		}
	}
}

func (f *createFlags) register(fs *pflag.FlagSet, run bool) {
	fs.SetInterspersed(false)                       // everything after the image belongs to the command
	fs.Bool("help", false, "help for this command") // -h is --hostname, as in Docker
	fs.StringVar(&f.name, "name", "", "name the container")
	stringArrayVarP(fs, &f.env, "env", "e", "set an environment variable (KEY=VALUE, or KEY to pass the host's value)")
	stringArrayVar(fs, &f.envFiles, "env-file", "read environment variables from a file (KEY=VALUE lines)")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "override the image's entrypoint (\"\" clears it)")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "run as USER[:GROUP] (names from the image's /etc/passwd and /etc/group, or numbers)")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "the container's hostname")
	stringArrayVar(fs, &f.capAdd, "cap-add", "add a capability (e.g. NET_ADMIN, or ALL)")
	stringArrayVar(fs, &f.capDrop, "cap-drop", "drop a capability (e.g. CHOWN, or ALL)")
	stringArrayVar(fs, &f.securityOpt, "security-opt", "security option (repeatable): "+security.Accepted+" (docs/security.md)")
	fs.BoolVar(&f.privileged, "privileged", false, "give the container every capability of the user namespace and unmask /proc and /sys")
	stringArrayVarP(fs, &f.volumes, "volume", "v", "bind mount SRC:DST[:ro], named volume NAME:DST[:ro], or anonymous volume DST")
	stringArrayVar(fs, &f.mounts, "mount", "mount type=bind|volume|tmpfs|image,source=…,target=…[,readonly] (image: [,subpath=DIR][,rw=true])")
	stringArrayVar(fs, &f.tmpfs, "tmpfs", "mount a tmpfs at DST[:size=…,mode=…]")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the container's root file system read-only")
	fs.StringVar(&f.network, "network", "", "network: slirp4netns[:mtu=N,allow_host_loopback=true,cidr=…,enable_ipv6=true] (default; see [network] in config.toml), none, host, or container:NAME (join a running container's)")
	stringArrayVarP(fs, &f.publish, "publish", "p", "publish a container's port on the host: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], ranges as 8000-8010:80-90")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish every port the image EXPOSEs on a free host port")
	fs.StringVar(&f.network, "net", "", "same as --network")
	_ = fs.MarkHidden("net")
	fs.StringVar(&f.userns, "userns", "", "keep-id[:uid=U,gid=G]: run as your own uid and gid (or as U:G, still you on the host), so files written to bind mounts are yours")
	fs.BoolVar(&f.init, "init", false, "run a minimal init as pid 1 that forwards signals and reaps zombies")
	fs.BoolVar(&f.rm, "rm", false, "remove the container (and its anonymous volumes) when it exits")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep standard input open")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a terminal")
	stringArrayVarP(fs, &f.labels, "label", "l", "set a label KEY=VALUE")
	fs.StringVar(&f.pull, "pull", "missing", "pull the image: missing (when not in the store), always, never, or newer (when the registry's differs)")
	fs.BoolVar(&f.registry.tlsVerify, "tls-verify", true, "require HTTPS with a trusted certificate when pulling")
	fs.StringVar(&f.restart, "restart", "no", "restart policy while the monitor lives: no, always, unless-stopped, on-failure[:N]")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops the container (default: the image's, or SIGTERM)")
	fs.IntVar(&f.stopTimeout, "stop-timeout", 10, "seconds to wait after the stop signal before SIGKILL (the default of stop and restart for this container)")
	fs.StringVar(&f.logDriver, "log-driver", "", "where the output is kept: json-file (Docker's format; the default, or [containers] log_driver in config.toml), k8s-file (Podman's) or none")
	stringArrayVar(fs, &f.logOpts, "log-opt", "log driver option: max-size=10m, max-file=3 (rotation), labels=…, env=…, tag=… (shown by logs --details)")
	stringArrayVar(fs, &f.addHost, "add-host", "add a line to /etc/hosts: NAME:IP, or NAME:host-gateway (the host as the container reaches it)")
	stringArrayVar(fs, &f.dns, "dns", "a nameserver for /etc/resolv.conf (replaces the network's)")
	stringArrayVar(fs, &f.dnsSearch, "dns-search", "a search domain for /etc/resolv.conf (replaces the host's; . for none)")
	stringArrayVar(fs, &f.dnsOption, "dns-option", "an option for /etc/resolv.conf, e.g. ndots:2 (replaces the host's)")
	stringArrayVar(fs, &f.process.Expose, "expose", "expose a port or range (PORT[/tcp|udp], START-END): -P publishes it too")
	fs.StringVar(&f.process.Domainname, "domainname", "", "the container's NIS domain name")
	stringArrayVar(fs, &f.process.Ulimits, "ulimit", "a resource limit NAME=SOFT[:HARD] (nofile, nproc, core, stack …; -1: unlimited); a hard limit can only be lowered")
	stringArrayVar(fs, &f.process.Sysctls, "sysctl", "a namespaced kernel parameter KEY=VALUE: net.* (with a network of its own), kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*")
	stringArrayVar(fs, &f.process.GroupAdd, "group-add", "an additional group of the process (a name from the image's /etc/group, or an id), or keep-groups (keep yours)")
	fs.StringVar(&f.process.ShmSize, "shm-size", "", "size of /dev/shm (e.g. 256m; default 64m)")
	fs.StringVar(&f.process.Pid, "pid", "", "pid namespace: private (default), host, or container:NAME (join a running container's)")
	fs.StringVar(&f.process.IPC, "ipc", "", "IPC namespace: private (default; shareable is the same), host, or container:NAME")
	fs.StringVar(&f.process.UTS, "uts", "", "UTS namespace (hostname): private (default), host, or container:NAME")
	fs.StringVar(&f.process.Cgroupns, "cgroupns", "", "cgroup namespace: private (default: the container's cgroup is its root) or host")
	fs.StringVar(&f.cidfile, "cidfile", "", "write the container's ID to this file (which must not exist)")
	stringArrayVar(fs, &f.labelFiles, "label-file", "read labels from a file (KEY=VALUE lines)")
	fs.BoolVar(&f.replace, "replace", false, "with --name: remove a container of that name first (stopped, if it runs), as Podman")
	fs.StringVar(&f.platform, "platform", "", "the image's platform: only this machine's (linux/"+goarch()+")")
	fs.StringVar(&f.initPath, "init-path", "", "refused: hutch's --init is built in (no separate init binary)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "say nothing while pulling the image")
	stringArrayVar(fs, &f.annotations, "annotation", "add an annotation KEY=VALUE (shown by inspect)")
	fs.BoolVar(&f.contentTrustOff, "disable-content-trust", true, "skip image verification: always true here (hutch has no Notary content trust)")
	fs.StringVar(&f.volumeDriver, "volume-driver", "", "the volume driver: local only")
	fs.StringVar(&f.isolation, "isolation", "", "container isolation: default only (the others are Windows')")
	fs.StringVar(&f.mac, "mac-address", "", "the MAC address of the container's slirp4netns interface (tap0), e.g. 92:d0:c6:0a:29:33")
	f.discarded.register(fs)
	if run {
		fs.BoolVar(&f.sigProxy, "sig-proxy", true, "pass the signals hutch gets on to the container (false: the container runs on until it ends)")
		stringArrayVarP(fs, &f.attach, "attach", "a", "attach to STDIN, STDOUT or STDERR only (repeatable; default: stdout and stderr, stdin with -i)")
		fs.BoolVarP(&f.detach, "detach", "d", false, "run in the background under a monitor and print the container ID")
		detachKeysFlag(fs, &f.detachKeys)
	}
	f.limits.register(fs, false)
	f.health.register(fs)
	stringArrayVar(fs, &f.devices, "device", "add a host device HOST[:CONTAINER[:PERMISSIONS]] (a bind of a node you may open), or a CDI device vendor.com/class=name")
	stringArrayVar(fs, &f.volumesFrom, "volumes-from", "mount the volumes and bind mounts of a container: CONTAINER[:ro|rw]")
	fs.StringVar(&f.imageVolume, "image-volume", "bind", "what an image's VOLUME becomes: bind (an anonymous volume), tmpfs, or ignore")
	fs.StringVar(&f.gpus, "gpus", "", "GPUs through CDI: all, or device=ID[,ID…] (as --device nvidia.com/gpu=…)")
}

// options turns the flags into container options; each malformed flag is an error
// naming it.
func (f *createFlags) options(cmd *cobra.Command, image string, args []string) (container.Options, error) {
	o := container.Options{
		Name: f.name, Image: image, WorkingDir: f.workdir, User: f.user, Hostname: f.hostname,
		Settings: container.Settings{Cmd: args, CapAdd: f.capAdd, CapDrop: f.capDrop, Privileged: f.privileged,
			ReadOnly: f.readOnly, Init: f.init, AutoRemove: f.rm, Interactive: f.interactive, TTY: f.tty,
			ByRun: cmd.Name() == "run"},
	}
	sec, err := security.Parse(f.securityOpt)
	if err != nil {
		return o, err
	}
	o.Security = sec
	if err := container.ValidRestart(f.restart); err != nil {
		return o, err
	}
	res, err := f.limits.resources(cmd.Flags())
	if err != nil {
		return o, err
	}
	o.Resources = res
	if f.restart != "no" && f.rm {
		return o, fmt.Errorf("--restart %s and --rm cannot be combined", f.restart)
	}
	o.Restart = f.restart
	if err := f.health.apply(cmd.Flags(), &o, f.restart); err != nil {
		return o, err
	}
	if o.Devices, o.CDIDevices, err = container.ParseDevices(f.devices, f.gpus); err != nil {
		return o, err
	}
	switch f.imageVolume {
	case "bind", "tmpfs", "ignore":
		o.ImageVolume, o.VolumesFrom = f.imageVolume, f.volumesFrom
	default:
		return o, fmt.Errorf("--image-volume %q: use bind (an anonymous volume), tmpfs or ignore", f.imageVolume)
	}
	if f.stopSignal != "" {
		if _, err := container.ParseSignal(f.stopSignal); err != nil {
			return o, fmt.Errorf("--stop-signal: %w", err)
		}
		o.StopSignal = f.stopSignal
	}
	if cmd.Flags().Changed("stop-timeout") {
		t := f.stopTimeout
		o.StopTimeout = &t
	}
	if cmd.Flags().Changed("entrypoint") {
		ep := []string{}
		if f.entrypoint != "" {
			ep = []string{f.entrypoint}
		}
		o.Entrypoint = &ep
	}
	if f.workdir != "" && !strings.HasPrefix(f.workdir, "/") {
		return o, fmt.Errorf("-w %q: the working directory must be an absolute path", f.workdir)
	}
	if err := container.CheckUser(f.user); err != nil {
		return o, err
	}
	if o.Userns, err = container.ParseUserns(f.userns); err != nil {
		return o, err
	}
	if o.Env, err = container.ParseEnvironment(f.envFiles, f.env, os.LookupEnv); err != nil {
		return o, err
	}
	if o.Mounts, err = container.ParseMounts(f.volumes, f.mounts, f.tmpfs); err != nil {
		return o, err
	}
	if cmd.Flags().Changed("init-path") {
		return o, fmt.Errorf("--init-path: hutch's --init is its own reaper, built into hutch (there is no separate init binary to name): use --init")
	}
	if err := images.CheckPlatform("--platform", f.platform); err != nil {
		return o, err
	}
	if f.replace && f.name == "" {
		return o, fmt.Errorf("--replace needs --name: it replaces the container of that name")
	}
	if f.cidfile != "" {
		if o.CIDFile, err = filepath.Abs(f.cidfile); err != nil {
			return o, err
		}
	}
	if o.Labels, err = container.ParseLabelFiles(f.labelFiles, f.labels); err != nil {
		return o, err
	}
	if o.ProcessSettings, err = container.ParseProcess(f.process); err != nil {
		return o, err
	}
	if o.Annotations, err = parseAnnotations(f.annotations); err != nil {
		return o, err
	}
	if !f.contentTrustOff {
		return o, fmt.Errorf("--disable-content-trust=false: hutch has no content trust (Docker's Notary signatures); images are checked against their digests only")
	}
	if f.volumeDriver != "" && f.volumeDriver != "local" {
		return o, fmt.Errorf("--volume-driver %q: hutch's volumes use the local driver (there are no volume plugins)", f.volumeDriver)
	}
	if f.isolation != "" && f.isolation != "default" {
		return o, fmt.Errorf("--isolation %q: on Linux the only isolation is default (process and hyperv are Windows')", f.isolation)
	}
	f.discarded.warn(cmd.Flags(), cmd.ErrOrStderr())
	return o, nil
}

// parseAnnotations reads --annotation KEY=VALUE flags.
func parseAnnotations(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--annotation %q: expected KEY=VALUE", kv)
		}
		m[k] = v
	}
	return m, nil
}

func newRunCommand(a *app) *cobra.Command {
	f := &createFlags{}
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in a new container",
		Example: `  hutch run --rm demo echo hello
  hutch run --rm -it demo sh
  hutch run --rm -v "$PWD:/src" -w /src demo ls
  hutch run --rm --network none --read-only demo id
  hutch run -d -p 127.0.0.1:8080:80 demo httpd -f -p 80`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := a.detachKeys(cmd)
			if err != nil {
				return err
			}
			req, img, m, err := a.runRequest(cmd, f, args)
			if err != nil {
				return err
			}
			if f.detach {
				if len(f.attach) > 0 {
					return fmt.Errorf("-a and -d cannot be combined: a detached container's output goes to its log (`hutch logs`)")
				}
				if !f.sigProxy {
					return fmt.Errorf("--sig-proxy=false and -d cannot be combined: nothing is proxied for a detached container")
				}
				cfg, err := m.Create(req, img)
				if err != nil {
					return err
				}
				if err := m.StartDetached(cfg); err != nil {
					_ = m.Remove(cfg, true)
					return runResult(0, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), cfg.ID)
				return nil
			}
			stdio, err := f.stdio()
			if err != nil {
				return err
			}
			if f.tty && f.interactive && len(keys) > 0 && len(f.attach) == 0 {
				// Detaching may be possible: the container runs under its monitor, as with
				// -d, attached from the start (container.RunDetachable).
				cfg, err := m.Create(req, img)
				if err != nil {
					return err
				}
				var code int
				if container.Detachable(cfg, true, keys) {
					stdio.DetachKeys = keys
					code, err = m.RunDetachable(cfg, stdio)
				} else {
					code, err = m.RunAttached(cfg, stdio)
				}
				if err != nil {
					_ = m.Remove(cfg, true) // it never ran: leave nothing behind
				}
				return runResult(code, err)
			}
			cfg, code, err := m.Run(req, img, stdio)
			if err != nil && cfg != nil {
				// The command never ran: leave nothing behind (Docker would keep a
				// "Created" container around).
				_ = m.Remove(cfg, true)
			}
			return runResult(code, err)
		},
	}
	f.register(c.Flags(), true)
	a.authFileFlag(c)
	return onStore(c)
}

// stdio are the streams a foreground run attaches (-a), and whether signals are passed
// on (--sig-proxy).
func (f *createFlags) stdio() (container.IO, error) {
	io := container.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, NoSigProxy: !f.sigProxy}
	if len(f.attach) == 0 {
		return io, nil
	}
	want := map[string]bool{}
	for _, s := range f.attach {
		switch v := strings.ToLower(s); v {
		case "stdin", "stdout", "stderr":
			want[v] = true
		default:
			return io, fmt.Errorf("-a %q: use stdin, stdout or stderr", s)
		}
	}
	if want["stdin"] && !f.interactive {
		return io, fmt.Errorf("-a stdin needs -i (standard input kept open)")
	}
	if f.tty && !want["stdout"] {
		return io, fmt.Errorf("-a without stdout and -t: a terminal is one stream, attached as standard output")
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return io, err
	}
	if !want["stdin"] {
		io.Stdin = null
	}
	if !want["stdout"] {
		io.Stdout = null
	}
	if !want["stderr"] {
		io.Stderr = null
	}
	return io, nil
}

// runRequest is what `run` and `create` share: the flags parsed, checked against the
// host, and the image found or pulled as the --pull policy says (each once).
func (a *app) runRequest(cmd *cobra.Command, f *createFlags, args []string) (*container.Request, *cstorage.Image, *container.Manager, error) {
	f.process.DefaultUlimits = a.sess.Host.Config.Containers.DefaultUlimits
	o, err := f.options(cmd, args[0], args[1:])
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.networkOptions(f, &o); err != nil {
		return nil, nil, nil, err
	}
	if o.LogConfig, err = container.ParseLogConfig(f.logDriver, f.logOpts, a.sess.LogDriver()); err != nil {
		return nil, nil, nil, err
	}
	// The run's own manager checks the limits: the cgroup delegation it discovers
	// is the one the start uses (found once per command).
	m, err := a.sess.Containers()
	if err != nil {
		return nil, nil, nil, err
	}
	if cmd.Name() == "run" {
		m.DiscoverCgroups() // while the image is resolved
	}
	req, err := m.Check(o)
	if err != nil {
		return nil, nil, nil, err
	}
	img, err := a.ensureImage(o.Image, f.pull, &f.registry, f.quiet)
	if err != nil {
		return nil, nil, nil, err
	}
	// The images of --mount type=image, found or pulled as the container's own is.
	found := map[string]string{o.Image: img.ID}
	for i, mt := range req.Mounts {
		if mt.Type != "image" {
			continue
		}
		if id, ok := found[mt.Source]; ok {
			req.Mounts[i].ImageID = id
			continue
		}
		mimg, err := a.ensureImage(mt.Source, f.pull, &f.registry, f.quiet)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--mount type=image,source=%s: %w", mt.Source, err)
		}
		found[mt.Source], req.Mounts[i].ImageID = mimg.ID, mimg.ID
	}
	if f.replace {
		if err := m.Replace(f.name); err != nil {
			return nil, nil, nil, err
		}
	}
	return req, img, m, nil
}

// runResult turns a container's end into hutch's exit: its own status, or the
// Docker-style status of a failure before it ran, with the message.
func runResult(code int, err error) error {
	if err != nil {
		var ee *nsinit.ExecError
		if errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "Error: "+ee.Msg)
			return exitCode(ee.Code)
		}
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

func newCreateCommand(a *app) *cobra.Command {
	f := &createFlags{}
	c := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND [ARG...]]",
		Short: "Create a container without starting it (start it with `hutch start -a`)",
		Example: `  id=$(hutch create --name hello demo echo hello)
  hutch start -a hello`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, img, m, err := a.runRequest(cmd, f, args)
			if err != nil {
				return err
			}
			cfg, err := m.Create(req, img)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), cfg.ID)
			return nil
		},
	}
	f.register(c.Flags(), false)
	a.authFileFlag(c)
	return onStore(c)
}

func newStartCommand(a *app) *cobra.Command {
	var attach, interactive bool
	var p pick
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start containers: in the background, or one attached with -a",
		Example: `  hutch start web
  hutch start web db cache
  hutch start -a hello
  hutch start --all
  hutch start --filter label=team=web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := p.refs(a, cmd, args, container.Stopped)
			if err != nil {
				return err
			}
			keys, err := a.detachKeys(cmd)
			if err != nil {
				return err
			}
			if attach && len(refs) != 1 {
				return fmt.Errorf("start -a attaches to one container: name one (%d given)", len(refs))
			}
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			if attach {
				cfg, err := m.Get(refs[0])
				if err != nil {
					return err
				}
				if interactive {
					cfg.Interactive = true
				}
				stdio := container.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, DetachKeys: keys}
				if interactive && container.Detachable(cfg, true, keys) {
					code, err := m.RunDetachable(cfg, stdio)
					return runResult(code, err)
				}
				stdio.DetachKeys = nil
				code, err := m.RunAttached(cfg, stdio)
				return runResult(code, err)
			}
			start := func(ref string) error {
				cfg, err := m.Get(ref)
				if err != nil {
					return err
				}
				if st, err := m.Records.Current(cfg.ID); err == nil && st.Status == container.StatusRunning {
					return nil
				}
				return m.StartDetached(cfg)
			}
			if len(args) == 1 {
				// One container named: its error is the command's (125, or 126/127
				// when its command cannot be executed), as before.
				if err := start(refs[0]); err != nil {
					return runResult(0, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), refs[0])
				return nil
			}
			// Several: each one's error on its own line, the others started, status 1
			// when any failed (Docker's).
			rep := a.reporter(cmd)
			for _, ref := range refs {
				err := start(ref)
				var ee *nsinit.ExecError
				if errors.As(err, &ee) {
					err = errors.New(ee.Msg)
				}
				rep.report(ref, err)
			}
			return rep.result()
		},
	}
	c.Flags().BoolVarP(&attach, "attach", "a", false, "attach to the container's output and wait for it")
	detachKeysFlag(c.Flags(), new(string))
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach standard input")
	// -a is --attach here, as Docker's: --all has no short form.
	c.Flags().BoolVar(&p.all, "all", false, "start every container that is not running")
	stringArrayVar(c.Flags(), &p.filters, "filter", "pick the containers by ps's filters (repeatable; KEY=VALUE, the keys of ps --filter)")
	return onStore(c)
}

func newRmCommand(a *app) *cobra.Command {
	var o engine.RemoveOptions
	var timeout int
	var depend bool
	var p pick
	c := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove containers (-f stops running ones first)",
		Example: `  hutch rm hello
  hutch rm -f web
  hutch rm -f -t 5 web
  hutch rm -i maybe-gone
  hutch rm --all
  hutch rm --filter status=exited`,
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := p.refs(a, cmd, args, nil)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("time") {
				if timeout < 0 {
					return fmt.Errorf("--time %d: a number of seconds, 0 or more", timeout)
				}
				o.Timeout = time.Duration(timeout) * time.Second
			}
			// --depend: the containers that join these ones' namespaces go first.
			if depend {
				deps, err := a.sess.Records().Dependents(refs)
				if err != nil {
					return err
				}
				refs = append(deps, refs...)
			}
			rep := a.reporter(cmd)
			if err := a.sess.RemoveContainers(refs, o, rep.report); err != nil {
				return err
			}
			return rep.result()
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.Force, "force", "f", false, "stop running containers first; ignore containers that do not exist")
	f.BoolVarP(&o.Volumes, "volumes", "v", false, "remove the container's anonymous volumes too")
	f.BoolVarP(&o.Ignore, "ignore", "i", false, "ignore containers that do not exist")
	f.IntVarP(&timeout, "time", "t", 0, "with -f: seconds a running container has to end on its stop signal before SIGKILL (default: SIGKILL at once)")
	f.BoolVar(&depend, "depend", false, "also remove the containers that depend on these (that join their namespaces: --network, --pid, --ipc, --uts container:), first")
	p.register(f, "remove every container (running ones with -f)")
	return c
}

// detachKeysFlag is --detach-keys (run, start, attach, exec).
func detachKeysFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "detach-keys", detachkeys.Default, "the key sequence that leaves a terminal container running (-it): ctrl-X or letters, comma-separated; \"\" turns it off (default: config.toml's detach_keys, else ctrl-p,ctrl-q)")
}

// detachKeys is the sequence in force for cmd: its --detach-keys, else config.toml's.
func (a *app) detachKeys(cmd *cobra.Command) ([]byte, error) {
	fl := cmd.Flags().Lookup("detach-keys")
	var config *string
	if a.sess != nil && a.sess.Host != nil && a.sess.Host.Config != nil {
		config = a.sess.Host.Config.Engine.DetachKeys
	}
	return detachkeys.Choose(fl.Value.String(), fl.Changed, config)
}
