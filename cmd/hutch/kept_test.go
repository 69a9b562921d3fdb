package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"hutch.dev/hutch/internal/nsenter"
)

// TestKeptWantsMatchesCommands: the C constructor joins the kept user namespace for
// exactly the commands that run whole in it (annotated onStore, and unshare), and the
// split commands whose first half only reads records (inspect; rm without -f), found
// in the command line as cobra finds them, and gives build and unshare a mount namespace
// of its own; every other command (the plain user's, and the split ones whose first half must
// run as the plain user) is left alone.
func TestKeptWantsMatchesCommands(t *testing.T) {
	root, _ := newRootCommand()
	n := 0
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, s := range c.Commands() {
			for _, name := range append([]string{s.Name()}, s.Aliases...) {
				p := append(append([]string{}, path...), name)
				want := 0
				if (needsStore(s) && !standalone(s)) || s.Name() == "unshare" || s.Name() == "inspect" || s.Name() == "rm" && s.Parent().Name() != "image" && s.Parent().Name() != "volume" {
					want = 1
					if s.Name() == "build" || s.Name() == "unshare" {
						want = 2
					}
				}
				for _, args := range [][]string{
					append([]string{"hutch"}, p...),
					append(append([]string{"hutch", "--log-level", "debug"}, p...), "--help"),
					append([]string{"hutch", "--log-level=info"}, p...),
				} {
					w := want
					if s.Name() == "rm" && !needsStore(s) && args[len(args)-1] == "--help" {
						w = 0 // any flag but -v may be -f: rm --help stays outside
					}
					if got := nsenter.KeptWants(args); got != w {
						t.Errorf("KeptWants(%q) = %d, want %d", strings.Join(args, " "), got, w)
					}
					n++
				}
				walk(s, p)
			}
		}
	}
	walk(root, nil)
	if n < 100 {
		t.Fatalf("checked only %d command lines", n)
	}
	for _, args := range [][]string{
		{"hutch"}, {"hutch", "--help"}, {"hutch", "image"}, {"hutch", "--log-level", "run", "ps"},
		{"hutch-monitor", "0123abcd"}, {"hutch", "--", "run"}, {"hutch", "help", "run"},
	} {
		if got := nsenter.KeptWants(args); got != 0 {
			t.Errorf("KeptWants(%q) = %d, want 0", strings.Join(args, " "), got)
		}
	}
	// Flags of the command itself come after its name: the words are found first.
	if got := nsenter.KeptWants([]string{"hutch", "run", "--rm", "-it", "bb", "ps"}); got != 1 {
		t.Errorf("run --rm -it bb ps: %d, want 1", got)
	}
	// rm joins unless it may be forced: with -f its first half stops containers as the
	// plain user.
	for args, want := range map[string]int{
		"rm a b": 1, "rm -v a": 1, "rm --volumes a": 1, "--log-level debug rm a": 1, "rm a --log-level=info": 1,
		"rm -f a": 0, "rm --force a": 0, "rm -fv a": 0, "rm -vf a": 0, "rm a -f": 0, "rm --force=true a": 0,
		"container rm a": 1, "container rm -f a": 0, "image rm a": 1, "volume rm a": 1,
	} {
		if got := nsenter.KeptWants(append([]string{"hutch"}, strings.Fields(args)...)); got != want {
			t.Errorf("KeptWants(%q) = %d, want %d", args, got, want)
		}
	}
}

// TestKeptStoreFlags: a command given a global flag that moves the store is not joined
// in the constructor (its paths are checked as the plain user, and handed on): every
// global flag but --log-level is one, in every spelling, wherever it stands.
func TestKeptStoreFlags(t *testing.T) {
	root, _ := newRootCommand()
	n := 0
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "log-level" {
			return
		}
		n++
		for _, args := range [][]string{
			{"hutch", "--" + f.Name, "/x", "images"}, {"hutch", "--" + f.Name + "=/x", "images"},
			{"hutch", "images", "--" + f.Name, "/x"}, {"hutch", "run", "--rm", "bb", "--" + f.Name + "=x"},
		} {
			if !nsenter.KeptStoreFlags(args) {
				t.Errorf("KeptStoreFlags(%q) = false: the constructor would join", strings.Join(args, " "))
			}
		}
	})
	if n != 4 {
		t.Errorf("%d global store flags, want 4 (--root, --runroot, --storage-driver, --storage-opt)", n)
	}
	for _, args := range [][]string{
		{"hutch", "images"}, {"hutch", "--log-level", "debug", "run", "--rm", "bb"}, {"hutch", "run", "--rootfs", "x"},
		{"hutch", "run", "bb", "ls", "/root"}, {"hutch", "--rooted"},
	} {
		if nsenter.KeptStoreFlags(args) {
			t.Errorf("KeptStoreFlags(%q) = true", strings.Join(args, " "))
		}
	}
}
