package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// The command tree, in one place: the verbs at the top level and the management
// commands (groups) with the verbs each reaches, as Docker and Podman have them.
// TestDockerVerbsReachable walks Docker's and Podman's lists against it.

// verb is a command at one place of the tree: make builds it (afresh for every place it
// appears), renamed there to name ("" keeps its own) with aliases (nil keeps its own).
type verb struct {
	make    func(*app) *cobra.Command
	name    string
	aliases []string
}

func v(make func(*app) *cobra.Command) verb { return verb{make: make} }

func as(name string, make func(*app) *cobra.Command, aliases ...string) verb {
	if aliases == nil {
		aliases = []string{}
	}
	return verb{make: make, name: name, aliases: aliases}
}

// group is a management command and its verbs; store marks all of them as working on
// the store.
type group struct {
	name, short, example string
	store                bool
	verbs                []verb
}

var topVerbs = []verb{
	// images
	v(newImagesCommand), v(newRmiCommand), v(newTagCommand), v(newUntagCommand), v(newLoadCommand),
	v(newSaveCommand), v(newImportCommand), v(newHistoryCommand), v(newPullCommand), v(newPushCommand),
	v(newLoginCommand), v(newLogoutCommand), v(newBuildCommand),
	// containers
	v(newRunCommand), v(newCreateCommand), v(newStartCommand), v(newStopCommand), v(newRestartCommand),
	v(newKillCommand), v(newRmCommand), v(newPsCommand), v(newLogsCommand), v(newExecCommand),
	v(newAttachCommand), v(newWaitCommand), v(newTopCommand), v(newRenameCommand), v(newPortCommand),
	v(newCpCommand), v(newDiffCommand), v(newExportCommand), v(newStatsCommand), v(newUpdateCommand),
	v(newPauseCommand), v(newUnpauseCommand), v(newCommitCommand),
	// either, and the host
	v(newInspectCommand), v(newInfoCommand), v(newEventsCommand), v(func(*app) *cobra.Command { return newVersionCommand() }),
	v(newUnshareCommand),
}

var groups = []group{
	{name: "image", short: "Manage images: ls, rm, tag, untag, history, diff, exists, inspect, pull, push, load, save, import, build, prune",
		example: "  hutch image ls\n  hutch image rm demo\n  hutch image history demo\n  hutch image prune -a",
		verbs: []verb{
			as("ls", newImagesCommand, "list"), as("rm", newRmiCommand, "remove"), v(newTagCommand), v(newUntagCommand),
			v(newHistoryCommand), as("diff", newImageDiffCommand), as("exists", newImageExistsCommand),
			as("inspect", newImageInspectCommand), v(newPullCommand), v(newPushCommand), v(newLoadCommand),
			v(newSaveCommand), v(newImportCommand), v(newBuildCommand), as("prune", newImagePruneCommand),
		}},
	{name: "container", short: "Manage containers: ls, commit, create, run, start, stop, rm, exec, logs, inspect, diff, export, exists, prune, …",
		example: "  hutch container ls -a\n  hutch container rm -f web\n  hutch container prune",
		verbs: []verb{
			as("ls", newPsCommand, "list", "ps"), v(newCommitCommand), v(newCreateCommand), v(newRunCommand), v(newStartCommand),
			v(newStopCommand), v(newRestartCommand), v(newKillCommand), as("rm", newRmCommand, "remove"), v(newExecCommand),
			v(newLogsCommand), v(newAttachCommand), v(newWaitCommand), v(newTopCommand), v(newRenameCommand),
			v(newPortCommand), v(newCpCommand), as("diff", newContainerDiffCommand), v(newExportCommand),
			as("inspect", newContainerInspectCommand), as("exists", newContainerExistsCommand), v(newStatsCommand),
			v(newUpdateCommand), v(newPauseCommand), v(newUnpauseCommand), as("prune", newContainerPruneCommand),
		}},
	{name: "system", short: "Manage hutch's storage and see what it found: df, info, events, prune, check, reset, migrate",
		example: "  hutch system df\n  hutch system prune -a\n  hutch system check --repair\n  hutch system events --since 1h\n  hutch system reset\n  hutch system migrate",
		verbs: []verb{v(newDfCommand), v(newInfoCommand), v(newEventsCommand), v(newSystemPruneCommand),
			as("check", newSystemCheckCommand), v(newResetCommand), v(newMigrateCommand)}},
	{name: "builder", short: "Manage builds: build, prune (the build cache)", store: true,
		example: "  hutch builder build -t app .\n  hutch builder prune -a -f",
		verbs:   []verb{v(newBuildCommand), v(newBuilderPruneCommand)}},
	{name: "healthcheck", short: "Run a container's healthcheck: run",
		example: "  hutch healthcheck run web",
		verbs:   []verb{v(newHealthcheckRunCommand)}},
	{name: "volume", short: "Manage named volumes: create, ls, inspect, exists, rm, prune", store: true,
		example: "  hutch volume create data\n  hutch volume ls\n  hutch volume rm data",
		verbs: []verb{
			v(newVolumeCreate), as("ls", newVolumeLs, "list"), v(newVolumeInspect), as("exists", newVolumeExists),
			as("rm", newVolumeRm, "remove"), v(newVolumePrune),
		}},
}

// build makes the command of a verb at its place.
func (vb verb) build(a *app) *cobra.Command {
	c := vb.make(a)
	if vb.name != "" {
		if _, rest, ok := strings.Cut(c.Use, " "); ok {
			c.Use = vb.name + " " + rest
		} else {
			c.Use = vb.name
		}
	}
	if vb.aliases != nil {
		c.Aliases = vb.aliases
	}
	return c
}

// addCommands builds the tree under root from topVerbs and groups.
func addCommands(root *cobra.Command, a *app) {
	for _, vb := range topVerbs {
		root.AddCommand(vb.build(a))
	}
	for _, g := range groups {
		c := &cobra.Command{Use: g.name, Short: g.short, Example: g.example}
		for _, vb := range g.verbs {
			c.AddCommand(vb.build(a))
		}
		if g.store {
			onStore(c)
		}
		root.AddCommand(c)
	}
}
