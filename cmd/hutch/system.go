package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

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
	var verbose bool
	c := &cobra.Command{
		Use:     "df [OPTIONS]",
		Short:   "Show disk space used by images, containers, volumes and the build cache",
		Example: "  hutch system df\n  hutch system df -v\n  hutch system df --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			du, err := a.sess.DiskUsage(verbose)
			if err != nil {
				return err
			}
			if format == "json" {
				if verbose {
					return printJSON(cmd.OutOrStdout(), map[string]any{"Usage": du.Rows, "BuildCache": du.Cache})
				}
				return printJSON(cmd.OutOrStdout(), du.Rows)
			}
			type row struct{ Type, Total, Active, Size, Reclaimable string }
			var out []row
			for _, u := range du.Rows {
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
			if err := printRows(cmd.OutOrStdout(), format, map[string]string{"Type": "TYPE", "Total": "TOTAL",
				"Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}, out); err != nil {
				return err
			}
			if !verbose {
				return nil
			}
			type rec struct{ ID, CacheType, Size, CreatedAt, InUse string }
			var recs []rec
			for _, r := range du.Cache {
				id := r.ID
				if len(id) > 12 {
					id = id[:12]
				}
				recs = append(recs, rec{id, r.Type, humanSize(r.Size), units.HumanDuration(time.Since(r.Created)) + " ago", fmt.Sprint(r.InUse)})
			}
			fmt.Fprintln(cmd.OutOrStdout(), "\nBuild cache usage: "+humanSize(du.Rows[len(du.Rows)-1].Size)+"\n")
			return printRows(cmd.OutOrStdout(), "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedAt}}\t{{.InUse}}",
				map[string]string{"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedAt": "CREATED", "InUse": "IN USE"}, recs)
		},
	}
	c.Flags().StringVar(&format, "format", "", "Go template (fields .Type .Total .Active .Size .Reclaimable) or json")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "list the build cache's records too")
	return onStore(c)
}

// pruneFlags are the flags of the prune commands.
type pruneFlags struct {
	all, force, volumes bool
	filters             []string
}

// prune asks (without -f), runs the prune and prints what went, as Docker.
func (a *app) prune(cmd *cobra.Command, f *pruneFlags, o engine.PruneOptions, what string) error {
	keys := images.PruneFilterKeys
	if !o.Images && !o.Containers {
		keys = []string{images.FilterUntil} // builder prune: its entries have no labels
	}
	filter, err := images.ParseFilter(f.filters, keys, time.Now())
	if err != nil {
		return err
	}
	if !f.force && !confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), "WARNING! This will remove:\n"+what+"\nAre you sure you want to continue?") {
		return nil
	}
	o.All, o.Filter = f.all, filter
	r, err := a.sess.Prune(o)
	w := cmd.OutOrStdout()
	// Docker's output: image prune lists "Deleted: sha256:…" lines; system and builder
	// prune a titled section per kind.
	titled := o.Containers || o.Volumes || !o.Images
	section := func(title string, ids []string, prefix string) {
		if len(ids) == 0 {
			return
		}
		if titled {
			fmt.Fprintln(w, title)
		}
		for _, id := range ids {
			fmt.Fprintln(w, prefix+id)
		}
		if titled {
			fmt.Fprintln(w)
		}
	}
	if r != nil {
		section("Deleted Containers:", r.Containers, "")
		section("Deleted Volumes:", r.Volumes, "")
		section("Deleted Images:", r.Images, "Deleted: sha256:")
		var cache []string
		for _, id := range r.CacheImages {
			cache = append(cache, "sha256:"+id)
		}
		if r.Cache.Removed > 0 {
			cache = append(cache, fmt.Sprintf("%d step cache entries", r.Cache.Removed))
		}
		if o.BuildCache {
			section("Deleted build cache objects:", cache, "")
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Total reclaimed space: %s\n", humanSize(r.Freed))
	return nil
}

func (f *pruneFlags) register(c *cobra.Command, all, filter string) {
	c.Flags().BoolVarP(&f.all, "all", "a", false, all)
	stringArrayVar(c.Flags(), &f.filters, "filter", filter)
	c.Flags().BoolVarP(&f.force, "force", "f", false, "do not ask for confirmation")
}

const pruneFilterUsage = "remove only what was created before until=TIME (a duration like 24h, a Unix time or RFC 3339), with label=KEY[=VALUE], or without label!=KEY[=VALUE] (repeatable; all must match)"

func newSystemPruneCommand(a *app) *cobra.Command {
	f := &pruneFlags{}
	c := &cobra.Command{
		Use:     "prune [OPTIONS]",
		Short:   "Remove unused data: stopped containers, dangling images (with -a, every image no container uses) and the build cache (--volumes: unused volumes too)",
		Example: "  hutch system prune\n  hutch system prune -a -f\n  hutch system prune -f --volumes --filter until=24h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "  - all stopped containers\n"
			if f.volumes {
				what += "  - all volumes not used by at least one container\n"
			}
			if f.all {
				what += "  - all images without at least one container associated to them\n  - all build cache"
			} else {
				what += "  - all dangling images\n  - unused build cache"
			}
			return a.prune(cmd, f, engine.PruneOptions{Containers: true, Images: true, BuildCache: true, Volumes: f.volumes}, what)
		},
	}
	f.register(c, "remove all unused images and all of the build cache, not just dangling ones", pruneFilterUsage)
	c.Flags().BoolVar(&f.volumes, "volumes", false, "remove the volumes no container uses too")
	return onStore(c)
}

func newImagePruneCommand(a *app) *cobra.Command {
	f := &pruneFlags{}
	c := &cobra.Command{
		Use:     "prune [OPTIONS]",
		Short:   "Remove dangling images (with -a, every image no container uses)",
		Example: "  hutch image prune\n  hutch image prune -a -f",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "  - all dangling images"
			if f.all {
				what = "  - all images without at least one container associated to them"
			}
			return a.prune(cmd, f, engine.PruneOptions{Images: true}, what)
		},
	}
	f.register(c, "remove all unused images, not just dangling ones", "remove only images created before until=TIME (a duration like 24h, a Unix time or RFC 3339), with label=KEY[=VALUE], or without label!=KEY[=VALUE] (repeatable; all must match)")
	return onStore(c)
}

func newBuilderPruneCommand(a *app) *cobra.Command {
	f := &pruneFlags{}
	c := &cobra.Command{
		Use:     "prune [OPTIONS]",
		Short:   "Remove the build cache: unused entries (with -a, all of it)",
		Example: "  hutch builder prune\n  hutch builder prune -a -f\n  hutch builder prune -f --filter until=24h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "  - unused build cache"
			if f.all {
				what = "  - all build cache"
			}
			return a.prune(cmd, f, engine.PruneOptions{BuildCache: true}, what)
		},
	}
	f.register(c, "remove all of the build cache, not just unused entries", "remove only entries made before until=TIME (a duration like 24h, a Unix time or RFC 3339)")
	return onStore(c)
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

// versionLine is what `hutch --version` prints after "hutch version ": the version and,
// as Docker's, the build (the commit's first 12 characters; "-dirty" when the tree was).
func versionLine() string {
	v := version.Get()
	build := v.GitCommit
	if len(build) > 12 {
		build = build[:12]
	}
	if build == "" {
		build = "unknown"
	}
	if v.GitTreeState == "dirty" {
		build += "-dirty"
	}
	return v.Version + ", build " + build
}
