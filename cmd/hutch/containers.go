package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/network"
)

// psRow is one line of `hutch ps`, with Docker's template fields.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, State, Ports, Names string
	Labels, Mounts, Networks, Size                                         string
	LocalVolumes                                                           int
	labels                                                                 map[string]string
}

// Label is the value of one of the container's labels ({{.Label "team"}}), as Docker's.
func (r psRow) Label(key string) string { return r.labels[key] }

var psHeader = map[string]string{"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS", "Names": "NAMES",
	"Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "Size": "SIZE", "LocalVolumes": "LOCAL VOLUMES"}

func newPsCommand(a *app) *cobra.Command {
	var all, quiet, latest, noTrunc, noHeading, size bool
	var last int
	var format, sortBy string
	var filters []string
	c := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers (running ones; -a for all)",
		Example: `  hutch ps
  hutch ps -a --filter status=exited --filter status=created
  hutch ps --filter label=team=web --filter publish=80 --sort names
  hutch ps -s --format '{{.Names}} {{.Size}}'
  hutch ps --format '{{.Names}} {{.Status}} {{.Label "team"}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fl, err := container.ParseFilters(filters)
			if err != nil {
				return err
			}
			if !slices.Contains(container.SortKeys, sortBy) {
				return fmt.Errorf("--sort %q: sort by %s", sortBy, strings.Join(container.SortKeys, ", "))
			}
			// As Docker: a template that shows .Size measures, as -s does.
			size = size || strings.Contains(format, ".Size") || sortBy == "size"
			if size {
				// The writable layers are measured where the store can be opened.
				if err := a.sess.UseStore(); err != nil {
					return err
				}
			}
			sums, err := a.sess.Records().Summaries()
			if err != nil {
				return err
			}
			if err := fl.Bind(sums); err != nil {
				return err
			}
			if latest {
				last = 1
			}
			var list []container.Summary
			for _, s := range sums {
				// As Docker: only a status filter (or -n, -l) looks beyond running ones.
				if !all && last <= 0 && !fl.ShowsStopped() && s.State.Status != container.StatusRunning {
					continue
				}
				if fl.Match(s) {
					list = append(list, s)
				}
			}
			if last > 0 && len(list) > last {
				list = list[:last]
			}
			var sizes map[string]container.Size
			if size {
				st, err := a.sess.Store()
				if err != nil {
					return err
				}
				ids := make([]string, len(list))
				for i, s := range list {
					ids[i] = s.Config.ID
				}
				sizes = container.Sizes(st, ids)
			}
			if err := container.Sort(list, sortBy, sizes); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				type js struct {
					*container.Config
					State      *container.State
					SizeRw     *int64 `json:"SizeRw,omitempty"`
					SizeRootFs *int64 `json:"SizeRootFs,omitempty"`
				}
				rows := []js{}
				for _, s := range list {
					j := js{Config: s.Config, State: s.State}
					if sz, ok := sizes[s.Config.ID]; ok {
						j.SizeRw, j.SizeRootFs = &sz.RW, &sz.RootFS
					}
					rows = append(rows, j)
				}
				return printJSON(out, rows)
			}
			now := time.Now()
			var rows []psRow
			for _, s := range list {
				rows = append(rows, newPsRow(s, now, noTrunc, sizes))
			}
			if quiet {
				format = "{{.ID}}"
			}
			if format == "" {
				format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
				if size {
					format += "\t{{.Size}}"
				}
			}
			if noHeading {
				format = withoutHeading(format)
			}
			return printRows(out, format, psHeader, rows)
		},
	}
	f := c.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers, not only running ones")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show container IDs")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest created container")
	f.IntVarP(&last, "last", "n", -1, "show the N last created containers")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs, commands and mounts")
	f.BoolVar(&noHeading, "noheading", false, "print no header line")
	f.BoolVarP(&size, "size", "s", false, "show the size of each container's writable layer, and (virtual) of its whole file system")
	f.StringVar(&sortBy, "sort", "created", "sort by "+strings.Join(container.SortKeys, ", ")+" (created: newest first)")
	stringArrayVarP(f, &filters, "filter", "f", "filter (repeatable; one key's values: any; different keys: all): status=, name=REGEXP, id=, label=KEY[=VALUE] (all must hold), ancestor=IMAGE, exited=CODE, before=CONTAINER, since=CONTAINER, volume=NAME|DEST, network=MODE, publish=PORT[/PROTO], expose=PORT[/PROTO], health=")
	f.StringVar(&format, "format", "", "Go template (fields .ID .Image .Command .RunningFor .CreatedAt .Status .State .Ports .Names .Labels .Label \"KEY\" .Mounts .Networks .Size .LocalVolumes), 'table TEMPLATE', or json")
	return c
}

// newPsRow is a container's line, as Docker's ps prints it.
func newPsRow(s container.Summary, now time.Time, noTrunc bool, sizes map[string]container.Size) psRow {
	c := s.Config
	id, command := c.ID[:12], strings.Join(c.Args, " ")
	if noTrunc {
		id = c.ID
	} else if len(command) > 20 {
		command = command[:19] + "…"
	}
	r := psRow{ID: id, Image: c.ImageName, Command: strconv.Quote(command),
		CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: since(c.Created),
		Status: s.StatusText(now), State: s.StateText(), Ports: network.Format(portsOf(s)), Names: c.Name,
		Networks: c.Network.Mode, labels: c.Labels}
	var labels []string
	for k, v := range c.Labels {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	r.Labels = strings.Join(labels, ",")
	var mounts []string
	for _, m := range c.Mounts {
		name := m.Source
		if name == "" {
			name = m.Destination
		}
		if !noTrunc {
			name = ellipsis(name, 15)
		}
		mounts = append(mounts, name)
		if m.Type == "volume" {
			r.LocalVolumes++
		}
	}
	r.Mounts = strings.Join(mounts, ",")
	if sz, ok := sizes[c.ID]; ok {
		if sz.RW < 0 {
			r.Size = "N/A"
		} else {
			r.Size = humanSize(sz.RW) + " (virtual " + humanSize(sz.RootFS) + ")"
		}
	}
	return r
}

func newLogsCommand(a *app) *cobra.Command {
	var o container.LogOptions
	var tail, sinceS, untilS string
	var names bool
	c := &cobra.Command{
		Use:     "logs [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Show containers' output (stdout to stdout, stderr to stderr)",
		Example: "  hutch logs web\n  hutch logs -f --tail 10 web\n  hutch logs --names web db       # each line after its container's name",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := a.sess.Records()
			var cts []*container.Config
			for _, arg := range args {
				ct, err := r.Get(arg)
				if err != nil {
					return err
				}
				cts = append(cts, ct)
			}
			o.Tail = -1
			if tail != "" && tail != "all" {
				n, err := strconv.Atoi(tail)
				if err != nil || n < 0 {
					return fmt.Errorf("--tail %q: a number of lines, or all", tail)
				}
				o.Tail = n
			}
			now := time.Now()
			var err error
			if o.Since, err = container.ParseTime(sinceS, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if o.Until, err = container.ParseTime(untilS, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			if len(cts) == 1 && !names {
				return r.Logs(cts[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			// Several containers (Podman's): each line after the container's ID, or
			// its name with --names; followed side by side.
			out := &lockedWriter{w: cmd.OutOrStdout()}
			errw := &lockedWriter{w: cmd.ErrOrStderr(), mu: &out.m}
			errs := make([]error, len(cts))
			var wg sync.WaitGroup
			for i, ct := range cts {
				oi := o
				oi.Prefix = ct.ID[:12] + " "
				if names {
					oi.Prefix = ct.Name + " "
				}
				run := func() { errs[i] = r.Logs(ct, oi, out, errw) }
				if !o.Follow {
					run()
					continue
				}
				wg.Add(1)
				go func() { defer wg.Done(); run() }()
			}
			wg.Wait()
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVar(&names, "names", false, "put the container's name before each line (Podman's; its -n is Docker's --tail here)")
	c.Flags().BoolVar(&o.Details, "details", false, "put the log's attributes (--log-opt labels=, env=, tag=) before each line")
	c.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep following the output while the container runs")
	c.Flags().StringVarP(&tail, "tail", "n", "all", "show only the last N lines")
	c.Flags().BoolVarP(&o.Timestamps, "timestamps", "t", false, "show the time of each line")
	c.Flags().StringVar(&sinceS, "since", "", "show lines since a time (RFC 3339, Unix time, or a duration like 10m)")
	c.Flags().StringVar(&untilS, "until", "", "show lines until a time (RFC 3339, Unix time, or a duration like 10m)")
	return c
}

func newExecCommand(a *app) *cobra.Command {
	var o container.ExecOptions
	var env, envFiles []string
	c := &cobra.Command{
		Use:     "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short:   "Run a command in a running container",
		Example: "  hutch exec web ls /srv\n  hutch exec -it web sh",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := a.sess.Records()
			ct, err := r.Get(args[0])
			if err != nil {
				return err
			}
			var e []string
			for _, f := range envFiles {
				fe, err := container.ParseEnvFile(f, os.LookupEnv)
				if err != nil {
					return err
				}
				e = append(e, fe...)
			}
			pe, err := container.ParseEnv(env, os.LookupEnv)
			if err != nil {
				return err
			}
			o.Env, o.Cmd = container.MergeEnv(e, pe), args[1:]
			if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
				return fmt.Errorf("-w %q: the working directory must be an absolute path", o.Workdir)
			}
			o.Seccomp = a.sess.SeccompCache()
			keys, err := a.detachKeys(cmd)
			if err != nil {
				return err
			}
			code, err := r.Exec(ct, o, container.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, DetachKeys: keys})
			return runResult(code, err)
		},
	}
	f := c.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "keep standard input open")
	f.BoolVarP(&o.TTY, "tty", "t", false, "allocate a terminal")
	detachKeysFlag(f, new(string))
	f.BoolVarP(&o.Detach, "detach", "d", false, "run the command in the background")
	stringArrayVarP(f, &env, "env", "e", "set an environment variable")
	stringArrayVar(f, &envFiles, "env-file", "read environment variables from a file")
	f.StringVarP(&o.User, "user", "u", "", "run as USER[:GROUP]")
	f.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	f.BoolVar(&o.Privileged, "privileged", false, "give the command every capability")
	return c
}

func newStopCommand(a *app) *cobra.Command {
	var timeout int
	var sig string
	var p pick
	c := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop containers: the stop signal, then SIGKILL after the timeout",
		Example: `  hutch stop web
  hutch stop -t 0 web db
  hutch stop -s SIGINT web
  hutch stop --all
  hutch stop --filter label=team=web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if sig != "" {
				if _, err := container.ParseSignal(sig); err != nil {
					return err
				}
			}
			refs, err := p.refs(a, cmd, args, container.Running)
			if err != nil {
				return err
			}
			given := cmd.Flags().Changed("time") || cmd.Flags().Changed("timeout")
			return eachContainer(a, cmd, refs, func(ct *container.Config) error {
				t := timeout
				if !given && ct.StopTimeout != nil {
					t = *ct.StopTimeout
				}
				return a.sess.Records().StopWith(ct, sig, time.Duration(t)*time.Second)
			})
		},
	}
	timeFlags(c.Flags(), &timeout)
	c.Flags().StringVarP(&sig, "signal", "s", "", "the signal to stop with (default: the container's stop signal, else SIGTERM)")
	p.register(c.Flags(), "stop every running container")
	return c
}

// timeFlags are -t/--time and its alias --timeout: seconds to wait before SIGKILL.
func timeFlags(fs *pflag.FlagSet, timeout *int) {
	fs.IntVarP(timeout, "time", "t", 10, "seconds to wait before SIGKILL")
	fs.IntVar(timeout, "timeout", 10, "the same as --time")
}

func newKillCommand(a *app) *cobra.Command {
	var sig string
	var p pick
	c := &cobra.Command{
		Use:     "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Send a signal (default SIGKILL) to containers",
		Example: "  hutch kill web\n  hutch kill -s HUP web\n  hutch kill -a",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := container.ParseSignal(sig)
			if err != nil {
				return err
			}
			refs, err := p.refs(a, cmd, args, container.Running)
			if err != nil {
				return err
			}
			return eachContainer(a, cmd, refs, func(ct *container.Config) error {
				return a.sess.Records().Signal(ct, s)
			})
		},
	}
	c.Flags().StringVarP(&sig, "signal", "s", "KILL", "the signal to send")
	p.register(c.Flags(), "signal every running container")
	return c
}

func newWaitCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "wait CONTAINER [CONTAINER...]",
		Short:   "Wait for containers to stop and print their exit codes",
		Example: "  hutch wait web\n  status=$(hutch wait job) && echo \"job exited with $status\"",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := a.sess.Records()
			for _, ref := range args {
				ct, err := r.Get(ref)
				if err != nil {
					return err
				}
				st, err := r.WaitExit(ct.ID, 0)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), st.ExitCode)
			}
			return nil
		},
	}
}

// eachContainer applies fn to every named container, printing each name on success and
// each error on its own line, as Docker does; any failure makes the exit status 1.
func eachContainer(a *app, cmd *cobra.Command, refs []string, fn func(*container.Config) error) error {
	rep := a.reporter(cmd)
	for _, ref := range refs {
		ct, err := a.sess.Records().Get(ref)
		if err == nil {
			err = fn(ct)
		}
		rep.report(ref, err)
	}
	return rep.result()
}

// containerReport prints how each container of a multi-container command went.
type containerReport struct {
	cmd     *cobra.Command
	explain func(error) error // what to do about an error (full disk, damage)
	failed  bool
}

func (a *app) reporter(cmd *cobra.Command) *containerReport {
	return &containerReport{cmd: cmd, explain: a.explain}
}

func (r *containerReport) report(ref string, err error) {
	if err != nil {
		fmt.Fprintln(r.cmd.ErrOrStderr(), "Error: "+r.explain(err).Error())
		r.failed = true
		return
	}
	fmt.Fprintln(r.cmd.OutOrStdout(), ref)
}

// result is the command's end: exit status 1 when any container failed.
func (r *containerReport) result() error {
	if r.failed {
		return exitCode(1)
	}
	return nil
}

func newRestartCommand(a *app) *cobra.Command {
	var timeout int
	var p pick
	c := &cobra.Command{
		Use:     "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Stop and start containers again",
		Example: "  hutch restart web\n  hutch restart -t 0 web db\n  hutch restart --filter status=exited",
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := p.refs(a, cmd, args, nil)
			if err != nil {
				return err
			}
			rep := a.reporter(cmd)
			if err := a.sess.RestartContainers(refs, time.Duration(timeout)*time.Second, rep.report); err != nil {
				return err
			}
			return rep.result()
		},
	}
	timeFlags(c.Flags(), &timeout)
	p.register(c.Flags(), "restart every container")
	return c
}

func newAttachCommand(a *app) *cobra.Command {
	var noStdin bool
	c := &cobra.Command{
		Use:     "attach [OPTIONS] CONTAINER",
		Short:   "Attach to a running container's output (and input, if it was started with -i)",
		Example: "  hutch attach web                # its output from now on; Ctrl-C is sent to the container\n  hutch attach --no-stdin web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := a.sess.Records()
			ct, err := r.Get(args[0])
			if err != nil {
				return err
			}
			keys, err := a.detachKeys(cmd)
			if err != nil {
				return err
			}
			code, err := r.Attach(ct, !noStdin, container.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, DetachKeys: keys})
			return runResult(code, err)
		},
	}
	c.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach standard input")
	detachKeysFlag(c.Flags(), new(string))
	return c
}

func newTopCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "top CONTAINER",
		Short:   "List a container's processes",
		Example: "  hutch top web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := a.sess.Records()
			ct, err := r.Get(args[0])
			if err != nil {
				return err
			}
			ps, err := r.Top(ct)
			if err != nil {
				return err
			}
			return printRows(cmd.OutOrStdout(), "table {{.UID}}\t{{.PID}}\t{{.PPID}}\t{{.STIME}}\t{{.TIME}}\t{{.CMD}}",
				map[string]string{"UID": "UID", "PID": "PID", "PPID": "PPID", "STIME": "STIME", "TIME": "TIME", "CMD": "CMD"}, ps)
		},
	}
}

func newRenameCommand(a *app) *cobra.Command {
	return onStore(&cobra.Command{
		Use:     "rename CONTAINER NEW_NAME",
		Short:   "Rename a container",
		Example: "  hutch rename web web-old",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			ct, err := m.Get(args[0])
			if err != nil {
				return err
			}
			return m.Rename(ct, args[1])
		},
	})
}

func newContainerPruneCommand(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "prune [OPTIONS]",
		Short:   "Remove all stopped containers",
		Example: "  hutch container prune\n  hutch container prune -f",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") {
				return nil
			}
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			removed, err := m.Prune()
			for _, id := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), id)
			}
			return err
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return onStore(c)
}

func newCpCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH",
		Short: "Copy files between a container and the host",
		Example: `  hutch cp web:/etc/hostname .
  hutch cp ./site web:/srv/`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.sess.Copy(args[0], args[1])
		},
	}
}

// lockedWriter keeps the lines of several writers whole: each Write at once.
type lockedWriter struct {
	w  io.Writer
	m  sync.Mutex
	mu *sync.Mutex // shared with another lockedWriter; nil: m
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	mu := l.mu
	if mu == nil {
		mu = &l.m
	}
	mu.Lock()
	defer mu.Unlock()
	return l.w.Write(p)
}

// pick is the --all and --filter of a verb of several containers (start, stop, restart,
// kill, pause, unpause, rm), as Podman has them.
type pick struct {
	all     bool
	filters []string
}

func (p *pick) register(fs *pflag.FlagSet, which string) {
	fs.BoolVarP(&p.all, "all", "a", false, which)
	stringArrayVar(fs, &p.filters, "filter", "pick the containers by ps's filters (repeatable; KEY=VALUE, the keys of ps --filter)")
}

// refs are the containers named, or those --all and --filter pick in state (nil: any),
// as full IDs.
func (p *pick) refs(a *app, cmd *cobra.Command, args []string, state func(container.Summary) bool) ([]string, error) {
	if !p.all && len(p.filters) == 0 {
		if len(args) == 0 {
			return nil, fmt.Errorf("name at least one container, or use --all or --filter (hutch %s --help)", cmd.CommandPath()[len("hutch "):])
		}
		return args, nil
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("give container names or --all/--filter, not both")
	}
	sel, err := a.sess.Records().Select(p.filters, state)
	if err != nil {
		return nil, err
	}
	refs := make([]string, len(sel))
	for i, s := range sel {
		refs[i] = s.Config.ID
	}
	return refs, nil
}
