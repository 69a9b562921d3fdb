package main

import (
	"fmt"
	"io"
	"runtime"
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
		Short: "Show hutch's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := map[string]string{"Version": version.Version, "GoVersion": runtime.Version(),
				"OsArch": runtime.GOOS + "/" + runtime.GOARCH}
			switch format {
			case "":
				fmt.Fprintf(cmd.OutOrStdout(), "Version:    %s\nGo Version: %s\nOS/Arch:    %s\n", v["Version"], v["GoVersion"], v["OsArch"])
				return nil
			case "json":
				return printJSON(cmd.OutOrStdout(), v)
			default:
				return printRows(cmd.OutOrStdout(), format, nil, []map[string]string{v})
			}
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Go template (fields .Version .GoVersion .OsArch) or json")
	return c
}

func newInfoCommand(a *app) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "info",
		Short: "Show what hutch found on this machine: user namespace, storage, paths, cgroups, and every warning with its fix",
		Example: `  hutch info
  hutch info --format json
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
				return printRows(cmd.OutOrStdout(), format, nil, []*engine.Info{in})
			}
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Go template or json")
	return onStore(c)
}

func printInfo(w io.Writer, in *engine.Info) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("hutch %s (%s), kernel %s", in.Version, in.Go, in.Kernel)
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
		if in.Kept.OwnMounts {
			p("  mount namespace: this command's own (it runs in another mount namespace than the one the kept one was made from)")
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
		if d.Forced {
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
	if len(in.Warnings) == 0 {
		p("warnings: none")
		return
	}
	p("warnings:")
	for _, w := range in.Warnings {
		p("  - %s", w.Text)
	}
}

func newSystemCommand(a *app) *cobra.Command {
	c := &cobra.Command{Use: "system", Short: "Manage hutch's storage: df, prune, reset, migrate, info"}
	info := newInfoCommand(a)
	c.AddCommand(newDfCommand(a), newSystemPruneCommand(a), newResetCommand(a), newMigrateCommand(a), info)
	return c
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
		Args: cobra.NoArgs,
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
		Use:   "df",
		Short: "Show disk space used by images and containers",
		Args:  cobra.NoArgs,
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

func (a *app) prune(cmd *cobra.Command, all, force bool, what string) error {
	if !force && !confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), "WARNING! This will remove "+what+".\nAre you sure you want to continue?") {
		return nil
	}
	s, unlock, err := a.sess.LockedStore()
	if err != nil {
		return err
	}
	defer unlock()
	removed, freed, err := images.Prune(s, all)
	for _, id := range removed {
		fmt.Fprintln(cmd.OutOrStdout(), "Deleted: sha256:"+id)
	}
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
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data: dangling images (with -a, every image no container uses)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "all dangling images"
			if all {
				what = "all images without at least one container associated to them"
			}
			return a.prune(cmd, all, force, what)
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return onStore(c)
}

func newImagePruneCommand(a *app) *cobra.Command {
	c := newSystemPruneCommand(a)
	c.Short = "Remove dangling images (with -a, every image no container uses)"
	return c
}

func newResetCommand(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "reset [OPTIONS]",
		Short: "Delete all images, containers and hutch state of this user; works even when the store is broken",
		Args:  cobra.NoArgs,
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
