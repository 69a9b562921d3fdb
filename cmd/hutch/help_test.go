package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// walkTree calls fn for every command a user can reach, cobra's own (help, completion)
// included.
func walkTree(t *testing.T, fn func(c *cobra.Command)) {
	t.Helper()
	root, _ := newRootCommand()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		fn(c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// TestEveryCommandHasExamples: `--help` of every command shows how to use it.
func TestEveryCommandHasExamples(t *testing.T) {
	n := 0
	walkTree(t, func(c *cobra.Command) {
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example for its --help", c.CommandPath())
		} else if !strings.Contains(c.Example, "hutch") {
			t.Errorf("%s: its Example runs no hutch command: %q", c.CommandPath(), c.Example)
		}
	})
	if n < 50 {
		t.Fatalf("walked %d commands: the tree is not all there", n)
	}
}

// TestNoBackticksInFlagUsage: pflag takes a `quoted` word of a usage string as the flag's
// value name, so "seconds `hutch stop` waits" printed as "--stop-timeout hutch stop".
func TestNoBackticksInFlagUsage(t *testing.T) {
	walkTree(t, func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Usage, "`") {
				t.Errorf("%s --%s: a backtick in its usage %q", c.CommandPath(), f.Name, f.Usage)
			}
		})
	})
}

// TestUsageLineHasNoFlagsTwice: a Use that names [OPTIONS] gets no "[flags]" after it.
func TestUsageLineHasNoFlagsTwice(t *testing.T) {
	walkTree(t, func(c *cobra.Command) {
		if line := c.UseLine(); strings.Contains(line, "[OPTIONS]") && strings.Contains(line, "[flags]") {
			t.Errorf("%s: usage line %q", c.CommandPath(), line)
		}
	})
}
