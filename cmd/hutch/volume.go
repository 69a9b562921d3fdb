package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newVolumeCreate(a *app) *cobra.Command {
	var labels, opts []string
	var driver string
	c := &cobra.Command{
		Use:   "create [OPTIONS] [NAME]",
		Short: "Create a volume (a random name when none is given)",
		Example: `  hutch volume create data
  hutch run --rm -v data:/data demo ls /data
  hutch volume create -o type=tmpfs -o device=tmpfs -o o=size=64m,uid=1000 scratch
  hutch volume create -o type=none -o o=bind -o device=$HOME/src src`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != "local" {
				return fmt.Errorf("--driver %q: hutch's volumes use the local driver (there are no volume plugins)", driver)
			}
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			l, err := keyValues("--label", labels)
			if err != nil {
				return err
			}
			o, err := keyValues("--opt", opts)
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			v, err := m.Volumes.Create(name, l, o, false)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		},
	}
	stringArrayVarP(c.Flags(), &labels, "label", "l", "set a label KEY=VALUE")
	stringArrayVarP(c.Flags(), &opts, "opt", "o", "a local driver option KEY=VALUE: type=tmpfs (device=tmpfs, o=size=…,mode=…,uid=…,gid=…) or type=none with o=bind and device=DIR")
	c.Flags().StringVarP(&driver, "driver", "d", "local", "the volume driver (local only)")
	return c
}

// keyValues reads repeated KEY=VALUE flags into a map.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%s %q: expected KEY=VALUE", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

func newVolumeLs(a *app) *cobra.Command {
	var quiet bool
	var format string
	c := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Example: "  hutch volume ls\n  hutch volume ls -q\n  hutch volume ls --format '{{.Name}} {{.Mountpoint}}'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			vs, err := m.Volumes.List()
			if err != nil {
				return err
			}
			if format == "json" {
				if vs == nil {
					return printJSON(cmd.OutOrStdout(), []any{})
				}
				return printJSON(cmd.OutOrStdout(), vs)
			}
			if quiet {
				format = "{{.Name}}"
			}
			if format == "" {
				format = "table {{.Driver}}\t{{.Name}}"
			}
			return printRows(cmd.OutOrStdout(), format, map[string]string{"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT"}, vs)
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show names")
	c.Flags().StringVar(&format, "format", "", "Go template (fields .Name .Driver .Mountpoint .CreatedAt .Labels), 'table TEMPLATE', or json")
	return c
}

func newVolumeInspect(a *app) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:     "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short:   "Show details of volumes as JSON",
		Example: "  hutch volume inspect data\n  hutch volume inspect --format '{{.Mountpoint}}' data",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			var out []any
			for _, n := range args {
				v, err := m.Volumes.Get(n)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			if format == "" || format == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			return printRows(cmd.OutOrStdout(), format, nil, out)
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Go template, or json (the default)")
	return c
}

func newVolumeRm(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes (refused while a container uses one, unless -f)",
		Example: "  hutch volume rm data\n  hutch volume rm -f data cache",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			users, err := m.VolumeUsers()
			if err != nil {
				return err
			}
			failed := false
			for _, n := range args {
				if err := m.Volumes.Remove(n, users[n], force); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "Error: "+a.explain(err).Error())
					failed = true
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			if failed {
				return exitCode(1)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "remove even when containers use the volume")
	return c
}

func newVolumePrune(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "prune [OPTIONS]",
		Short:   "Remove every volume no container uses",
		Example: "  hutch volume prune\n  hutch volume prune -f",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), "WARNING! This will remove all volumes not used by at least one container.\nAre you sure you want to continue?") {
				return nil
			}
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			users, err := m.VolumeUsers()
			if err != nil {
				return err
			}
			vs, err := m.Volumes.List()
			if err != nil {
				return err
			}
			for _, v := range vs {
				if len(users[v.Name]) > 0 {
					continue
				}
				if err := m.Volumes.Remove(v.Name, nil, false); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return c
}
