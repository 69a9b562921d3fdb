package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hutch.dev/hutch/builder"
	"hutch.dev/hutch/engine"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/version"
)

func newVersionCommand() *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "version",
		Short: "Show hutch's version, the commit it was built from, and its Go version",
		Example: `  hutch version
  hutch version --format json
  hutch version --format '{{.Client.Version}} {{.Client.GitCommit}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Docker's shape: the client's fields under "Client" (hutch has no server).
			v := struct{ Client version.Info }{version.Get()}
			switch format {
			case "":
				printVersion(cmd.OutOrStdout(), v.Client)
				return nil
			case "json":
				return printJSON(cmd.OutOrStdout(), v)
			default:
				return printRows(cmd.OutOrStdout(), format, nil, []any{v})
			}
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "json, or a Go template (fields .Client.Version .Client.GitCommit .Client.GitTreeState .Client.GoVersion .Client.Os .Client.Arch .Client.OsArch .Client.BuildTime)")
	return c
}

func printVersion(w io.Writer, v version.Info) {
	commit := v.GitCommit
	switch {
	case commit == "":
		commit = "unknown"
	case v.GitTreeState == "dirty":
		commit += " (built from a tree with uncommitted changes)"
	}
	fmt.Fprintf(w, "Version:    %s\nGit Commit: %s\nGo Version: %s\n", v.Version, commit, v.GoVersion)
	if v.BuildTime != "" {
		fmt.Fprintf(w, "Built:      %s\n", v.BuildTime)
	}
	fmt.Fprintf(w, "OS/Arch:    %s\n", v.OsArch)
}

func newInfoCommand(a *app) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "info",
		Short: "Show what hutch found on this machine: user namespace, storage, paths, cgroups, and every warning with its fix",
		Example: `  hutch info
  hutch info --format json                       # hutch's own structure, in full
  hutch info --format '{{.ServerVersion}} {{.Driver}} {{.CgroupVersion}}'   # Docker's names
  hutch info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphRoot}}'     # Podman's names
  hutch info --format '{{.Store.Driver.Name}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := a.sess.Info()
			switch format {
			case "":
				printInfo(cmd.OutOrStdout(), in)
				return nil
			case "json":
				return printJSON(cmd.OutOrStdout(), in)
			default:
				return printRows(cmd.OutOrStdout(), format, nil, []*engine.InfoView{in.View()})
			}
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "json (hutch's own structure), or a Go template of Docker's fields (.ServerVersion .Driver .OperatingSystem .NCPU .MemTotal .CgroupVersion .CgroupDriver .Containers .ContainersRunning .Images .DockerRootDir .KernelVersion .Architecture .SecurityOptions …), Podman's (.Host.Arch .Host.OCIRuntime.Name .Host.Kernel .Store.GraphDriverName .Store.GraphRoot .Store.RunRoot .Version.Version …) or hutch's (.Store.Driver.Name .Paths.GraphRoot .Commit .Warnings …)")
	return onStore(c)
}

func printInfo(w io.Writer, in *engine.Info) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("hutch %s (commit %s, %s), kernel %s", in.Version, in.Commit, in.Go, in.Kernel)
	p("user: %s (uid %d, gid %d), home %s", in.User.Name, in.User.UID, in.User.GID, in.User.Home)
	p("user namespace:")
	p("  id source: %s", in.IDMaps.Source)
	for _, m := range in.IDMaps.UIDMap {
		p("  uid map: %d -> %d (%d ids)", m.ContainerID, m.HostID, m.Size)
	}
	for _, m := range in.IDMaps.GIDMap {
		p("  gid map: %d -> %d (%d ids)", m.ContainerID, m.HostID, m.Size)
	}
	if in.IDMaps.SingleID {
		p("  single-id namespace: yes (ignore_chown_errors: files of other owners are stored as yours)")
	}
	if in.Kept.Kept {
		p("  kept by: %s pid %d, since %s (%s)", "hutch-holder", in.Kept.HolderPID, in.Kept.Since.Local().Format("2006-01-02 15:04:05"), in.Kept.File)
		if in.Kept.JoinedBy == "constructor" {
			p("  joined: before start-up, the verdict on the paths holding")
		} else {
			p("  joined: through a plain-user hutch, which checked the paths")
		}
		if in.Kept.OwnMounts {
			p("  mount namespace: this command's own (it runs in another mount namespace than the one the kept one was made from, or its working directory's path leads elsewhere in the kept one)")
		}
	} else {
		p("  kept by: %s", in.Kept.Note)
	}
	for _, h := range in.IDMaps.Helpers {
		if h.OK {
			p("  %s: %s, %s", h.Name, h.Path, h.How)
		} else {
			p("  %s: NOT USABLE: %s", h.Name, h.Problem)
		}
	}
	p("config files:")
	for _, s := range in.Config {
		state := "not present"
		if s.Found {
			state = "read"
		}
		p("  %s (%s)", s.Path, state)
	}
	p("paths:")
	p("  store (graph root): %s", in.Paths.GraphRoot)
	p("  run root:           %s", in.Paths.RunRoot)
	p("  runtime dir:        %s", in.Paths.RuntimeDir)
	if in.Paths.RuntimeFallback != "" {
		p("  runtime dir is a fallback: %s", in.Paths.RuntimeFallback)
	}
	p("  config dir:         %s", in.Paths.ConfigDir)
	p("  cache dir:          %s", in.Paths.CacheDir)
	p("storage:")
	if d := in.Store.Driver; d != nil {
		forced := ""
		switch {
		case d.Forced && strings.Contains(d.Reason, "--storage-driver"):
			forced = " (forced by --storage-driver when the store was made)"
		case d.Forced:
			forced = " (forced in config.toml)"
		}
		p("  driver: %s%s", d.Name, forced)
		if d.MountProgram != "" {
			p("  mount program: %s", d.MountProgram)
		}
		p("  why: %s", d.Reason)
		for _, line := range d.Probe {
			p("  probe: %s", line)
		}
		keys := make([]string, 0, len(in.Store.Status))
		for k := range in.Store.Status {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("  %s: %s", k, in.Store.Status[k])
		}
		p("  images: %d", in.Store.Images)
	}
	if in.Store.Error != "" {
		p("  ERROR: %s", in.Store.Error)
	}
	p("cgroups:")
	p("  layout: %s", in.Cgroups.Mode)
	if in.Cgroups.V2Mount != "" {
		p("  cgroup2 mount: %s", in.Cgroups.V2Mount)
		p("  own cgroup: %s (delegated to you: %t)", in.Cgroups.Own, in.Cgroups.Delegated)
		p("  controllers offered: %s", strings.Join(in.Cgroups.Controllers, " "))
	}
	p("  resource limits: %s", in.Cgroups.Limits)
	limitsInfo(in.Cgroups, p)
	if n := in.Network; n != nil {
		p("network:")
		p("  default: %s (host loopback allowed: %t)", n.Default, n.AllowHostLoopback)
		if n.Slirp4netns != "" {
			p("  slirp4netns: %s (%s)", n.Slirp4netns, n.Version)
			p("  slirp4netns features: %s", strings.Join(n.Features, " "))
		} else {
			p("  slirp4netns: not found")
		}
		p("  /dev/net/tun: %s", n.Tun)
		p("  port forwarder: %s", n.PortForwarder)
		p("  lowest port you may publish: %d (net.ipv4.ip_unprivileged_port_start)", n.UnprivilegedPortStart)
	}
	p("security:")
	if in.Seccomp.Enabled {
		p("  seccomp: enabled, default profile %s (%s)", in.Seccomp.Profile, in.Seccomp.Source)
	} else {
		p("  seccomp: NOT AVAILABLE: %s", in.Seccomp.Problem)
	}
	p("  security options: %s", strings.Join(in.SecurityOptions, " "))
	if len(in.Warnings) == 0 {
		p("warnings: none")
		return
	}
	p("warnings:")
	for _, w := range in.Warnings {
		p("  - %s", w.Text)
	}
}

func newMigrateCommand(a *app) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "migrate [OPTIONS]",
		Short: "Stop every running container and end hutch's kept user namespace, so that the next command makes it from your current subordinate id ranges",
		Long: `After an admin changed your subordinate id ranges (/etc/subuid, /etc/subgid), hutch
keeps the user namespace its running containers use until they stop. migrate stops them
(the stop signal, then SIGKILL after the timeout) and ends the namespace's holder; the
next command makes a new namespace with the new ranges. Start the containers again with
` + "`hutch start`" + `. Files already in the store keep the host ids of the old ranges: when
the ranges moved (not just grew), ` + "`hutch system reset`" + ` starts the store afresh.`,
		Example: "  hutch system migrate\n  hutch system migrate -t 30",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := a.sess.Migrate(time.Duration(timeout)*time.Second, func(name string, err error) {
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "Error: stopping %s: %v\n", name, err)
					return
				}
				fmt.Fprintf(cmd.OutOrStdout(), "stopped %s\n", name)
			})
			if pid > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "ended the kept user namespace (hutch-holder pid %d)\n", pid)
			}
			return err
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait for each container before SIGKILL")
	return c
}

func newDfCommand(a *app) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:     "df",
		Short:   "Show disk space used by images and containers",
		Example: "  hutch system df\n  hutch system df --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.sess.Store()
			if err != nil {
				return err
			}
			cat, err := images.ReadCatalog(s)
			if err != nil {
				return err
			}
			rows := []images.Usage{cat.ImageUsage(), cat.ContainerUsage()}
			if format == "json" {
				return printJSON(cmd.OutOrStdout(), rows)
			}
			type row struct{ Type, Total, Active, Size, Reclaimable string }
			var out []row
			for _, u := range rows {
				pct := 0
				if u.Size > 0 {
					pct = int(100 * u.Reclaimable / u.Size)
				}
				out = append(out, row{u.Type, fmt.Sprint(u.Total), fmt.Sprint(u.Active), humanSize(u.Size),
					fmt.Sprintf("%s (%d%%)", humanSize(u.Reclaimable), pct)})
			}
			if format == "" {
				format = "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
			}
			return printRows(cmd.OutOrStdout(), format, map[string]string{"Type": "TYPE", "Total": "TOTAL",
				"Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}, out)
		},
	}
	c.Flags().StringVar(&format, "format", "", "Go template (fields .Type .Total .Active .Size .Reclaimable) or json")
	return onStore(c)
}

func (a *app) prune(cmd *cobra.Command, all, force bool, what string, filters []string) error {
	filter, err := images.ParseFilter(filters, images.PruneFilterKeys, time.Now())
	if err != nil {
		return err
	}
	if !force && !confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), "WARNING! This will remove "+what+".\nAre you sure you want to continue?") {
		return nil
	}
	s, unlock, err := a.sess.LockedStore()
	if err != nil {
		return err
	}
	defer unlock()
	removed, freed, err := images.Prune(s, images.PruneOptions{All: all, Filter: filter})
	for _, id := range removed {
		fmt.Fprintln(cmd.OutOrStdout(), "Deleted: sha256:"+id)
	}
	if err != nil {
		return err
	}
	// What removals and loads cut short left: containers' half-removed records and store
	// entries, then the layers nothing uses any more.
	if m, err := a.sess.Containers(); err == nil {
		if _, err := m.RemoveLeftovers(); err != nil {
			return err
		}
	}
	_, lfreed, err := images.PruneLayers(s)
	freed += lfreed
	if err != nil {
		return err
	}
	if _, err := builder.PruneCache(s.Store); err != nil {
		return fmt.Errorf("pruning the build cache: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Total reclaimed space: %s\n", humanSize(freed))
	return nil
}

func newSystemPruneCommand(a *app) *cobra.Command {
	var all, force bool
	var filters []string
	c := &cobra.Command{
		Use:     "prune [OPTIONS]",
		Short:   "Remove unused data: dangling images (with -a, every image no container uses)",
		Example: "  hutch system prune\n  hutch system prune -a -f",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "all dangling images"
			if all {
				what = "all images without at least one container associated to them"
			}
			return a.prune(cmd, all, force, what, filters)
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	stringArrayVar(c.Flags(), &filters, "filter", "remove only images created before until=TIME (a duration like 24h, a Unix time or RFC 3339), with label=KEY[=VALUE], or without label!=KEY[=VALUE] (repeatable; all must match)")
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return onStore(c)
}

func newImagePruneCommand(a *app) *cobra.Command {
	c := newSystemPruneCommand(a)
	c.Short = "Remove dangling images (with -a, every image no container uses)"
	c.Example = "  hutch image prune\n  hutch image prune -a -f"
	return c
}

func newResetCommand(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "reset [OPTIONS]",
		Short:   "Delete all images, containers and hutch state of this user; works even when the store is broken",
		Example: "  hutch system reset        # asks first\n  hutch system reset -f",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ask func(graphRoot, runtimeDir string) bool
			if !force {
				ask = func(graphRoot, runtimeDir string) bool {
					return confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), fmt.Sprintf("WARNING! This deletes every image and container in %s and the state in %s.\nAre you sure you want to continue?", graphRoot, runtimeDir))
				}
			}
			return a.sess.ResetAll(ask, func(w string) { fmt.Fprintln(cmd.ErrOrStderr(), "Warning: "+w) })
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return c
}

func newUnshareCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "unshare [COMMAND [ARG...]]",
		Short: "Run a command (default: your shell) inside hutch's user namespace",
		Long: `Run a command inside hutch's user namespace, where you are root and your
subordinate ids are mapped: the way to read or delete files that belong to them, such as
files a container wrote into a bind mount. HUTCH_GRAPHROOT and HUTCH_RUNROOT are set.`,
		Example: `  hutch unshare rm -rf ./build-output
  hutch unshare ls -ln ~/.local/share/hutch/storage`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
				return cmd.Help()
			}
			return a.sess.Shell(args)
		},
	}
	return c
}
