package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"hutch.dev/hutch/engine"
)

// usesStore marks commands that work on the store (the engine moves them to where it
// can be opened before they run).
const usesStore = "hutch.store"

// app is the state one command invocation shares between its steps.
type app struct {
	logLevel string
	store    engine.StoreFlags // --root, --runroot, --storage-driver, --storage-opt
	authFile string            // --authfile of the registry commands
	sess     *engine.Session
}

func newRootCommand() (*cobra.Command, *app) {
	a := &app{}
	root := &cobra.Command{
		Use:   "hutch",
		Short: "Build, run, push and pull containers as an ordinary user: no root, no daemon",
		Long: `hutch is a rootless, daemonless container engine: one per-user command that
keeps images in your own store, inside a user namespace where you are root and your
subordinate ids are mapped. Commands and flags follow Docker's and Podman's.`,
		Example: `  hutch import rootfs.tar demo           # a root file system tarball becomes an image
  hutch run --rm -it demo sh              # a container, in the foreground
  hutch run -d --name web demo httpd -f   # a service; then ps, logs, exec, stop, rm
  hutch push demo registry.example.com/me/demo:1
  hutch info                              # what hutch found on this machine, and fixes`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.prepare(cmd)
		},
	}
	// `hutch --version`, as `docker --version` and `podman --version` (scripts check it).
	root.Version = versionLine()
	root.SetVersionTemplate("hutch version {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.logLevel, "log-level", "", "log messages at or above this level: debug, info, warn, error (default warn, or [engine] log_level)")
	pf.StringVar(&a.store.Root, "root", "", "use the store in this directory for this command: images, containers and volumes (default ~/.local/share/hutch/storage, or [storage] graphroot)")
	pf.StringVar(&a.store.RunRoot, "runroot", "", "the store's run-time directory for this command (default: storage in hutch's runtime directory)")
	pf.StringVar(&a.store.Driver, "storage-driver", "", "storage driver for this command: overlay, fuse-overlayfs or vfs; a store keeps the driver it was made with")
	stringArrayVar(pf, &a.store.Opts, "storage-opt", "a storage driver option for this command: overlay.mount_program=PATH, overlay.mountopt=OPTIONS, vfs.ignore_chown_errors=true, … (repeatable)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help'", err, cmd.CommandPath())
	})
	addCommands(root, a)
	for _, c := range root.Commands() {
		groupCommand(c)
	}
	finishHelp(root)
	return root, a
}

// groupCommand makes a command that only groups others (image, container, system,
// volume) refuse an unknown subcommand, as an engine error (125), instead of printing
// its help; without one, it prints its help.
func groupCommand(c *cobra.Command) {
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // as cobra's default for the root
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", s[0])
		}
		return fmt.Errorf("%s: run '%s --help' for its commands", msg, cmd.CommandPath())
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
}

// prepare opens the engine session and, for commands that work on the store, lets the
// engine move the command to where the store can be opened.
func (a *app) prepare(cmd *cobra.Command) error {
	if standalone(cmd) {
		return nil
	}
	sess, err := engine.OpenWith(a.options())
	if err != nil {
		return err
	}
	a.sess = sess
	if needsStore(cmd) {
		return sess.UseStore()
	}
	return nil
}

// standalone commands need nothing of the host (they work with a broken config); a
// group's own help is one of them.
func standalone(cmd *cobra.Command) bool {
	if cmd.HasSubCommands() && cmd.HasParent() {
		return true
	}
	for c := cmd; c != nil; c = c.Parent() {
		switch c.Name() {
		case "version", "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return true
		}
	}
	return false
}

func needsStore(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[usesStore] != "" {
			return true
		}
	}
	return false
}

func (a *app) close() { a.sess.Close() }

// options are the global flags (and --authfile) for the engine.
func (a *app) options() engine.Options {
	return engine.Options{LogLevel: a.logLevel, Store: a.store, AuthFile: a.authFile}
}

// authFileFlag adds --authfile to a command that reaches registries.
func (a *app) authFileFlag(c *cobra.Command) {
	c.Flags().StringVar(&a.authFile, "authfile", "", "registry credentials file (default $REGISTRY_AUTH_FILE, else ~/.config/hutch/auth.json)")
}

// onStore marks a command as working on the store.
func onStore(c *cobra.Command) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[usesStore] = "yes"
	return c
}

// confirm asks a yes/no question on the terminal; anything but y/yes is no.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	var answer string
	_, _ = fmt.Fscanln(in, &answer) // no answer (an empty line, end of input) is no
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}
