// Command hutch is a rootless, daemonless container engine. This package only parses
// flags and prints; the work is done by the packages it calls.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.podman.io/storage/pkg/reexec"

	"hutch.dev/hutch/engine"
)

// Exit statuses, as Docker and Podman use them.
const (
	exitEngine = 125 // hutch itself failed
)

// exitCode ends a command with a specific exit status (what there was to say is said).
func exitCode(code int) error { return &engine.ExitError{Code: code} }

func main() {
	// A helper process: one of hutch's roles (engine/roles_linux.go), or one of
	// go.podman.io/storage's.
	if reexec.Init() {
		return
	}
	relaxStartupGC()
	code := run(os.Args[1:])
	engine.Done(code)
	os.Exit(code)
}

func run(args []string) int {
	root, a := newRootCommand()
	defer a.close()
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		// Only when a shell asks: attaching them costs every other command about 1 ms.
		registerCompletions(root, a)
	}
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *engine.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	err = a.explain(err)
	fmt.Fprintln(os.Stderr, "Error: "+strings.TrimSpace(err.Error()))
	return exitEngine
}
