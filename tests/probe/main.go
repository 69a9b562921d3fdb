// Command probe is a small static program the system tests put into a test image
// (localhost/probe:1, see probeArchive in tests/fixtures_test.go) to try, from inside a
// container, what a hostile process would try: each subcommand is one attempt and
// reports what the kernel answered. It is built with CGO_ENABLED=0, so it needs no libc
// in the image.
//
//	probe NAME [ARGS…]
//
// Each subcommand lives in a file of its own and registers itself in init.
//
// The Go runtime is kept from reading the cgroup's CPU limit (it would keep
// cpu.max open: a descriptor the fds probe would have to tell from inherited ones).
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"fmt"
	"os"
	"sort"
)

// probes maps a subcommand's name to its function, which returns the exit status.
var probes = map[string]func(args []string) int{}

func main() {
	if len(os.Args) < 2 || probes[os.Args[1]] == nil {
		var names []string
		for n := range probes {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: probe NAME [ARGS…]; NAME is one of %v\n", names)
		os.Exit(2)
	}
	os.Exit(probes[os.Args[1]](os.Args[2:]))
}
