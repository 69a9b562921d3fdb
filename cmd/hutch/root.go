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
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "", "log messages at or above this level: debug, info, warn, error (default warn, or [engine] log_level)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%v\nSee '%s --help'", err, cmd.CommandPath())
	})
	root.AddCommand(
		newImagesCommand(a), newRmiCommand(a), newTagCommand(a), newLoadCommand(a),
		newSaveCommand(a), newImportCommand(a), newInspectCommand(a), newImageCommand(a),
		newInfoCommand(a), newVersionCommand(), newSystemCommand(a), newUnshareCommand(a),
		newRunCommand(a), newCreateCommand(a), newStartCommand(a), newRmCommand(a), newVolumeCommand(a),
		newPsCommand(a), newLogsCommand(a), newExecCommand(a), newStopCommand(a), newKillCommand(a),
		newWaitCommand(a), newRestartCommand(a), newAttachCommand(a), newTopCommand(a), newRenameCommand(a),
		newPortCommand(a), newCpCommand(a), newContainerCommand(a),
		newPullCommand(a), newPushCommand(a), newLoginCommand(a), newLogoutCommand(a),
		newBuildCommand(a), newEventsCommand(a),
		newStatsCommand(a), newUpdateCommand(a), newPauseCommand(a), newUnpauseCommand(a),
	)
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
	sess, err := engine.Open(a.logLevel)
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
	fmt.Fscanln(in, &answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}
