package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"hutch.dev/hutch/builder"
	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/container"
	"hutch.dev/hutch/engine"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
)

type buildFlags struct {
	tags, buildArgs, labels, secrets []string
	securityOpt                      []string
	file, target, pull, format       string
	iidfile, network                 string
	noCache, layers, quiet           bool
	timestamp                        int64
	registry                         registryFlags
	limits                           limitFlags
	platform, progress, shmSize      string
	logfile                          string
	addHosts, ulimits, ssh           []string
	outputs, cacheFrom, cacheTo      []string
}

func newBuildCommand(a *app) *cobra.Command {
	f := &buildFlags{}
	c := &cobra.Command{
		Use:   "build [OPTIONS] CONTEXT",
		Short: "Build an image from a Dockerfile (or Containerfile)",
		Long: `Build an image from the Dockerfile (or Containerfile) in CONTEXT, unprivileged:
RUN steps run in hutch's own containers, each RUN, COPY and ADD makes a layer, and
steps whose inputs did not change come from the cache without running anything.`,
		Example: `  hutch build -t demo .
  hutch build -f build/Containerfile --build-arg VERSION=2 -t me/app:2 .
  hutch build --target test --no-cache .
  hutch build --timestamp 0 -t repro .          # the same image ID wherever it is built
  hutch build --secret id=token,src=$HOME/.token -t app .
  hutch build -o bin/ .                         # the final stage's files into ./bin, no image
  hutch build -o - . | tar t                    # the same as a tar archive on standard output`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.build(cmd, f, args)
		},
	}
	fl := c.Flags()
	stringArrayVarP(fl, &f.tags, "tag", "t", "name the image (repeatable)")
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile, else CONTEXT/Containerfile; - reads standard input)")
	stringArrayVar(fl, &f.buildArgs, "build-arg", "set an ARG: KEY=VALUE, or KEY to take it from the environment (repeatable)")
	fl.StringVar(&f.target, "target", "", "build up to this stage (name or index)")
	fl.BoolVar(&f.noCache, "no-cache", false, "run every step, using no cached one")
	fl.StringVar(&f.pull, "pull", "missing", "pull base images: missing, always, never, or newer (when the registry's differs); true is always, false missing")
	fl.Lookup("pull").NoOptDefVal = "always"
	fl.BoolVar(&f.layers, "layers", true, "cache each step (false: no step cache is written or read)")
	fl.StringVar(&f.format, "format", "oci", "image format: oci or docker (docker keeps HEALTHCHECK, SHELL, ONBUILD natively)")
	stringArrayVar(fl, &f.labels, "label", "add a label to the image: KEY=VALUE (repeatable)")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to this file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.StringVar(&f.network, "network", "", "network of RUN steps: slirp4netns[:OPTIONS] (default; [network] in config.toml), none or host")
	stringArrayVar(fl, &f.secrets, "secret", "a secret for RUN --mount=type=secret: id=ID,src=FILE (repeatable)")
	stringArrayVar(fl, &f.securityOpt, "security-opt", "security option for RUN steps (repeatable): "+security.Accepted+" (docs/security.md)")
	fl.Int64Var(&f.timestamp, "timestamp", 0, "set every time in the image to this Unix time, for reproducible images (default: $SOURCE_DATE_EPOCH when set)")
	fl.StringVar(&f.platform, "platform", "", "the image's platform: only this machine's (linux/"+goarch()+")")
	fl.StringVar(&f.progress, "progress", "auto", "output: auto or plain (the steps and RUN output, as text), quiet (as -q)")
	stringArrayVar(fl, &f.addHosts, "add-host", "add a line to RUN steps' /etc/hosts: NAME:IP, or NAME:host-gateway")
	stringArrayVar(fl, &f.ulimits, "ulimit", "a resource limit of RUN steps NAME=SOFT[:HARD] (a hard limit can only be lowered)")
	fl.StringVar(&f.shmSize, "shm-size", "", "size of RUN steps' /dev/shm (default 64m)")
	stringArrayVar(fl, &f.ssh, "ssh", "an SSH agent for RUN --mount=type=ssh: default ($SSH_AUTH_SOCK), or ID=SOCKET (repeatable)")
	stringArrayVarP(fl, &f.outputs, "output", "o", "write the final stage's files instead of making an image (with -t, as well): type=local,dest=DIR (or DIR), type=tar,dest=FILE|- (or -: standard output)")
	stringArrayVar(fl, &f.cacheFrom, "cache-from", "a registry repository to take steps' images from, tagged with their cache keys (repeatable; as Buildah)")
	stringArrayVar(fl, &f.cacheTo, "cache-to", "a registry repository to push each layer step's image to, tagged with its cache key (as Buildah)")
	fl.StringVar(&f.logfile, "logfile", "", "write the steps, RUN output and notes to this file instead (the image ID is still printed)")
	f.registry.register(c)
	f.limits.register(fl, false) // applied to every RUN step (docs/limits.md)
	a.authFileFlag(c)
	return onStore(c)
}

func (a *app) build(cmd *cobra.Command, f *buildFlags, args []string) error {
	contextArg := "."
	if len(args) == 1 {
		contextArg = args[0]
	}
	var ctxDir string
	var err error
	if contextArg == "-" {
		if f.file == "-" {
			return fmt.Errorf("-f - and the context - both read standard input: give the Dockerfile in the archive, or the context as a directory")
		}
		if ctxDir, err = builder.ContextFromStdin(cmd.InOrStdin(), a.sess.Host.Paths.RuntimeDir); err != nil {
			return err
		}
		defer os.RemoveAll(filepath.Dir(ctxDir))
	} else if ctxDir, err = builder.ContextDir(contextArg); err != nil {
		return err
	}
	pull, err := images.ParseBuildPullPolicy(f.pull)
	if err != nil {
		return err
	}
	o, err := a.buildOptions(cmd, f, contextArg, ctxDir)
	if err != nil {
		return err
	}
	// The build takes the store lock itself, only while it changes the store.
	s, err := a.sess.Store()
	if err != nil {
		return err
	}
	b := a.sess.Builder(s, o, engine.ImageRequest{Policy: pull, SkipTLSVerify: f.registry.skipTLS(), Progress: progress(f.quiet)})
	built, err := b.Build(context.Background())
	if err != nil {
		var rf *builder.ErrRunFailed
		if errors.As(err, &rf) {
			fmt.Fprintln(cmd.ErrOrStderr(), "Error: "+rf.Msg)
			return exitCode(1)
		}
		if errors.Is(err, builder.ErrInterrupted) {
			fmt.Fprintln(cmd.ErrOrStderr(), "Error: "+err.Error())
			return exitCode(130)
		}
		return err
	}
	if built.ID == "" {
		return nil // --output without -t: the files are the result, no image was made
	}
	if f.iidfile != "" {
		if err := fsutil.WriteFileAtomic(f.iidfile, []byte("sha256:"+built.ID), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if o.Output.ToStdout() {
		return nil // standard output is the tar's; the steps' COMMIT lines named the image
	}
	fmt.Fprintln(cmd.OutOrStdout(), built.ID)
	return nil
}

// buildOptions are the build's flags, each parsed and checked: RUN steps' network
// (with config.toml's [network], as for run), security options and limits (refused
// here when they cannot be applied), the Dockerfile, build args, labels, secrets, the
// timestamp, the tags.
func (a *app) buildOptions(cmd *cobra.Command, f *buildFlags, contextArg, ctxDir string) (builder.Options, error) {
	var o builder.Options
	var err error
	if o.Network, err = network.Parse(f.network, a.sess.NetworkDefaults()); err != nil {
		return o, err
	}
	if o.Security, err = security.Parse(f.securityOpt); err != nil {
		return o, err
	}
	if err := images.CheckPlatform("--platform", f.platform); err != nil {
		return o, err
	}
	switch f.progress {
	case "auto", "plain", "tty", "":
	case "quiet":
		f.quiet = true
	default:
		return o, fmt.Errorf("--progress %q: use auto, plain or quiet (hutch's output is plain text: auto is plain)", f.progress)
	}
	for _, h := range f.addHosts {
		e, err := container.ParseAddHost(h)
		if err != nil {
			return o, err
		}
		if strings.HasSuffix(e, ":"+network.HostGateway) && o.Network.Mode == network.ModeNone {
			return o, fmt.Errorf("--add-host %s with --network none: RUN steps have no way to the host", h)
		}
		o.Network.ExtraHosts = append(o.Network.ExtraHosts, e)
	}
	ps, err := container.ParseProcess(container.ProcessFlags{Ulimits: f.ulimits, ShmSize: f.shmSize})
	if err != nil {
		return o, err
	}
	for _, r := range ps.Ulimits {
		if err := nsinit.CheckRlimit(r); err != nil {
			return o, err
		}
	}
	o.Ulimits, o.ShmSize = ps.Ulimits, ps.ShmSize
	if o.Resources, err = f.limits.resources(cmd.Flags()); err != nil {
		return o, err
	}
	if err := builder.CheckLimits(a.sess.CgroupOptions(), o.Resources); err != nil {
		return o, err // exit 125, naming the limit and the fix
	}
	data, name, hostPath, err := readDockerfile(f.file, contextArg, ctxDir, cmd.InOrStdin())
	if err != nil {
		return o, err
	}
	if o.File, err = builder.Parse(name, data); err != nil {
		return o, err
	}
	if o.Labels, err = builder.ParseLabels(f.labels); err != nil {
		return o, err
	}
	if o.Secrets, err = builder.ParseSecrets(f.secrets); err != nil {
		return o, err
	}
	if o.SSH, err = builder.ParseSSH(f.ssh, os.LookupEnv); err != nil {
		return o, err
	}
	if o.Timestamp, err = builder.ParseTimestamp(f.timestamp, cmd.Flags().Changed("timestamp"), os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		return o, err
	}
	for _, t := range f.tags {
		if _, err := images.NormalizeLocal(t); err != nil {
			return o, fmt.Errorf("-t %s: %w", t, err)
		}
	}
	if o.Output, err = parseBuildOutput(f, cmd.OutOrStdout()); err != nil {
		return o, err
	}
	if o.CacheFrom, err = builder.ParseCacheRepos("--cache-from", f.cacheFrom); err != nil {
		return o, err
	}
	cacheTo, err := builder.ParseCacheRepos("--cache-to", f.cacheTo)
	if err != nil {
		return o, err
	}
	switch {
	case len(cacheTo) > 1:
		return o, fmt.Errorf("--cache-to given %d times: hutch pushes to one repository", len(cacheTo))
	case len(cacheTo) == 1:
		o.CacheTo = cacheTo[0]
	}
	if (len(o.CacheFrom) > 0 || o.CacheTo != "") && !f.layers {
		return o, fmt.Errorf("--cache-from and --cache-to need the step cache: drop --layers=false")
	}
	out := cmd.OutOrStdout()
	runOut := os.Stdout
	if o.Output.ToStdout() {
		// Standard output is the tar's: the steps and RUN output go to stderr.
		out, runOut, o.TarStream = cmd.ErrOrStderr(), os.Stderr, cmd.OutOrStdout()
	}
	if f.quiet {
		out = io.Discard
	}
	o.Context, o.IgnoreFile, o.Tags, o.BuildArgs = ctxDir, hostPath, f.tags, builder.ParseBuildArgs(f.buildArgs, os.LookupEnv)
	o.Target, o.NoCache, o.Layers, o.Format = f.target, f.noCache, f.layers, f.format
	o.Stdout, o.Stderr, o.Quiet, o.RunStdout, o.RunStderr = out, cmd.ErrOrStderr(), f.quiet, runOut, os.Stderr
	if f.logfile != "" {
		// Left open for the build; the process's end closes it.
		lf, err := os.OpenFile(f.logfile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return o, fmt.Errorf("--logfile: %w", err)
		}
		o.Stdout, o.Stderr, o.RunStdout, o.RunStderr = lf, lf, lf, lf
		if f.quiet {
			o.Stdout = io.Discard
		}
	}
	o.Warn = warnBuildLimits(o.Stderr)
	return o, nil
}

// parseBuildOutput reads --output (one at most). A tar to standard output is refused
// when that is a terminal, as Docker does; --iidfile needs an image, which --output
// makes only with -t.
func parseBuildOutput(f *buildFlags, stdout io.Writer) (*builder.Output, error) {
	switch len(f.outputs) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("--output given %d times: hutch writes one output per build (%s)", len(f.outputs), strings.Join(f.outputs, ", "))
	}
	out, err := builder.ParseOutput(f.outputs[0])
	if err != nil {
		return nil, err
	}
	if out.ToStdout() {
		if t, ok := stdout.(*os.File); ok && term.IsTerminal(int(t.Fd())) {
			return nil, fmt.Errorf("--output %s: standard output is a terminal, and a tar archive would be written to it: redirect it (hutch build -o - . > out.tar) or give a file (-o type=tar,dest=out.tar)", f.outputs[0])
		}
	}
	if f.iidfile != "" && len(f.tags) == 0 {
		return nil, fmt.Errorf("--iidfile with --output: no image is made with --output unless -t names one (add -t NAME to keep the image as well)")
	}
	return out, nil
}

// warnBuildLimits says, with [cgroups] on_unavailable = "warn", which limits the RUN
// steps run without, and why.
func warnBuildLimits(w io.Writer) func(error) {
	return func(err error) {
		var ue *cgroups.UnavailableError
		if errors.As(err, &ue) {
			fmt.Fprintln(w, "Warning: "+ue.Warning("RUN steps run"))
			return
		}
		fmt.Fprintln(w, "Warning: "+err.Error())
	}
}

// readDockerfile finds and reads the Dockerfile: -f FILE, -f - (stdin), or
// CONTEXT/Dockerfile, else CONTEXT/Containerfile. It returns the data, the name errors
// use, and the path on the host ("" for stdin). Only a regular file of at most
// fsutil.Dockerfile.Limit is read; one found in the context must stay inside it.
func readDockerfile(flag, contextArg, ctxDir string, stdin io.Reader) ([]byte, string, string, error) {
	if flag == "-" {
		data, err := fsutil.Dockerfile.ReadStream(stdin, "(standard input)")
		if err != nil {
			return nil, "", "", err
		}
		return data, "Dockerfile (stdin)", "", nil
	}
	if flag != "" {
		data, err := fsutil.Dockerfile.Read(flag)
		if err != nil {
			return nil, "", "", err
		}
		abs, _ := filepath.Abs(flag)
		return data, flag, abs, nil
	}
	for _, n := range []string{"Dockerfile", "Containerfile"} {
		data, err := fsutil.Dockerfile.ReadBeneath(ctxDir, n)
		if err == nil {
			return data, filepath.Join(contextArg, n), filepath.Join(ctxDir, n), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, "", "", err
		}
	}
	return nil, "", "", fmt.Errorf("no Dockerfile or Containerfile in the build context %s: write one there, or name it with -f FILE", contextArg)
}
