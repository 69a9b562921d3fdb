package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hutch.dev/hutch/builder"
	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/engine"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/network"
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
  hutch build --secret id=token,src=$HOME/.token -t app .`,
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
	if strings.Contains(contextArg, "://") || strings.HasPrefix(contextArg, "git@") {
		return fmt.Errorf("build context %q: only a local directory can be a build context", contextArg)
	}
	ctxDir, err := filepath.Abs(contextArg)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(ctxDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("build context %s: not a directory (give the directory holding the files COPY uses, e.g. `hutch build .`)", contextArg)
	}
	pull, err := images.ParseBuildPullPolicy(f.pull)
	if err != nil {
		return err
	}
	// RUN steps' network: --network, else [network] of config.toml, as for run.
	netCfg, err := network.Parse(f.network, a.sess.NetworkDefaults())
	if err != nil {
		return err
	}
	sec, err := security.Parse(f.securityOpt)
	if err != nil {
		return err
	}
	res, err := f.limits.resources(cmd.Flags())
	if err != nil {
		return err
	}
	if err := builder.CheckLimits(a.sess.CgroupOptions(), res); err != nil {
		return err // exit 125, naming the limit and the fix
	}
	data, name, hostPath, err := readDockerfile(f.file, contextArg, ctxDir, cmd.InOrStdin())
	if err != nil {
		return err
	}
	file, err := builder.Parse(name, data)
	if err != nil {
		return err
	}
	buildArgs := map[string]string{}
	for _, ba := range f.buildArgs {
		k, v, ok := strings.Cut(ba, "=")
		if !ok {
			ev, found := os.LookupEnv(k)
			if !found {
				continue
			}
			v = ev
		}
		buildArgs[k] = v
	}
	labels := map[string]string{}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return fmt.Errorf("--label %q: use KEY=VALUE", l)
		}
		labels[k] = v
	}
	secrets := map[string]string{}
	for _, s := range f.secrets {
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
					return fmt.Errorf("--secret %q: only file secrets (type=file) are supported", s)
				}
			default:
				return fmt.Errorf("--secret %q: use id=ID,src=FILE", s)
			}
		}
		if id == "" {
			return fmt.Errorf("--secret %q: use id=ID,src=FILE", s)
		}
		if src == "" {
			src = id
		}
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("--secret id=%s: %w", id, err)
		}
		abs, _ := filepath.Abs(src)
		secrets[id] = abs
	}
	var ts *time.Time
	if cmd.Flags().Changed("timestamp") {
		if f.timestamp < 0 {
			return fmt.Errorf("--timestamp %d: give a Unix time in seconds (0 or more)", f.timestamp)
		}
		t := time.Unix(f.timestamp, 0).UTC()
		ts = &t
	} else if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: must be a Unix time in seconds", v)
		}
		t := time.Unix(n, 0).UTC()
		ts = &t
	}
	for _, t := range f.tags {
		if _, err := images.NormalizeLocal(t); err != nil {
			return fmt.Errorf("-t %s: %w", t, err)
		}
	}

	s, unlock, err := a.sess.LockedStore()
	if err != nil {
		return err
	}
	defer unlock()
	out := cmd.OutOrStdout()
	if f.quiet {
		out = io.Discard
	}
	o := builder.Options{
		Context: ctxDir, File: file, IgnoreFile: hostPath, Tags: f.tags, BuildArgs: buildArgs,
		Target: f.target, NoCache: f.noCache, Layers: f.layers, Format: f.format, Labels: labels,
		Network: netCfg, Secrets: secrets, Timestamp: ts, Stdout: out, Stderr: cmd.ErrOrStderr(),
		Quiet: f.quiet, RunStdout: os.Stdout, RunStderr: os.Stderr,
		Security: sec, Resources: res, Warn: warnBuildLimits(cmd.ErrOrStderr()),
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
	if f.iidfile != "" {
		if err := fsutil.WriteFileAtomic(f.iidfile, []byte("sha256:"+built.ID), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	fmt.Fprintln(cmd.OutOrStdout(), built.ID)
	return nil
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
