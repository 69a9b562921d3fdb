//go:build !amd64

package main

import (
	"fmt"
	"runtime"
)

// injectTIOCSTI is written for amd64 only (it writes amd64 instructions into the
// tracee); on another architecture the ptrace-tiocsti probe reports that it cannot try.
func injectTIOCSTI(pid, fd int, line string) (string, error) {
	return "", fmt.Errorf("the ptrace-tiocsti probe injects amd64 code; this is %s", runtime.GOARCH)
}
