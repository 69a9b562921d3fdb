// Command hutch is a rootless, daemonless container engine. This package only parses
// flags and prints; the work is done by the packages it calls.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.podman.io/storage/pkg/reexec"

	"hutch.dev/hutch/userns"
)

// Exit statuses, as Docker and Podman use them.
const (
	exitEngine = 125 // hutch itself failed
)

// exitError carries a specific exit status out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// go.podman.io/storage re-executes this binary for some of its helpers.
	if reexec.Init() {
		return
	}
	relaxStartupGC()
	code := run(os.Args[1:])
	userns.ReportDone(code)
	os.Exit(code)
}

func run(args []string) int {
	root, a := newRootCommand()
	defer a.close()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	err = a.explain(err)
	fmt.Fprintln(os.Stderr, "Error: "+strings.TrimSpace(err.Error()))
	return exitEngine
}
