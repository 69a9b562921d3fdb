package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"hutch.dev/hutch/engine"
	"hutch.dev/hutch/internal/diag"
	"hutch.dev/hutch/storage"
)

// needsNamespace marks commands that run inside the user namespace (they touch the store).
const needsNamespace = "hutch.userns"

// app is the state one command invocation shares between its steps.
type app struct {
	logLevel string
	host     *engine.Host
	store    *storage.Store
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
		newBuildCommand(a),
	)
	return root, a
}

// prepare loads the host description and, for commands that need the store, moves the
// command into the user namespace: the plain-user process re-executes itself there and
// exits with the child's status; the child carries on here.
func (a *app) prepare(cmd *cobra.Command) error {
	if standalone(cmd) {
		return nil
	}
	level := a.logLevel
	host, err := engine.Load()
	if err != nil {
		return err
	}
	a.host = host
	if level == "" {
		level = host.Config.Engine.LogLevel
	}
	if level == "" {
		level = "warn"
	}
	lv, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	logrus.SetLevel(lv)
	logrus.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})

	if !wantsNamespace(cmd) {
		return nil
	}
	if !host.Inside {
		code, err := host.Enter(os.Args[1:])
		if err != nil {
			return err
		}
		os.Exit(code)
	}
	return nil
}

// standalone commands need nothing of the host (they work with a broken config).
func standalone(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		switch c.Name() {
		case "version", "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return true
		}
	}
	return false
}

func wantsNamespace(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[needsNamespace] != "" {
			return true
		}
	}
	return false
}

// openStore opens the store (inside the namespace) and prints the host's warnings once.
func (a *app) openStore() (*storage.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	s, err := a.host.OpenStore()
	if err != nil {
		return nil, err
	}
	a.store = s
	diag.PrintOnce(os.Stderr, a.host.Paths.RuntimeDir, a.host.Warnings())
	return s, nil
}

// lockedStore opens the store and takes hutch's store lock, for commands that change
// the store; the returned function releases the lock.
func (a *app) lockedStore() (*storage.Store, func(), error) {
	s, err := a.openStore()
	if err != nil {
		return nil, nil, err
	}
	l, err := a.host.LockStore()
	if err != nil {
		return nil, nil, err
	}
	return s, l.Unlock, nil
}

func (a *app) close() {
	if a.store != nil {
		a.store.Shutdown(false)
		a.store = nil
	}
}

// inNamespace marks a command as needing the user namespace.
func inNamespace(c *cobra.Command) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[needsNamespace] = "yes"
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
