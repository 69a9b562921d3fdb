package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// docSections reads docs/commands.md into its `## ` sections: for each name a heading
// names (headings list names separated by ", " and " and ", in backticks or not), the
// text of every section naming it, subsections included.
func docSections(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	var names []string
	var body strings.Builder
	flush := func() {
		for _, n := range names {
			sections[n] += body.String()
		}
		body.Reset()
	}
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			flush()
			names = nil
			h = strings.ReplaceAll(strings.TrimSpace(h), "`", "")
			for _, part := range strings.Split(h, ", ") {
				for _, n := range strings.Split(part, " and ") {
					names = append(names, strings.TrimSpace(n))
				}
			}
		}
		body.WriteString(line)
	}
	flush()
	return sections
}

// globalFlags are the root's flags, described once under "Global flags" (checked there);
// help is every command's.
var globalFlags = map[string]bool{"help": true, "log-level": true, "root": true, "runroot": true, "storage-driver": true, "storage-opt": true}

// docVerbs is every verb of the command tree with the path it is documented under: the
// top-level verbs, and the verbs of a group that are not a top-level verb under the
// group's name (those the command tree's table points to: `image ls` is `images`).
// cobra's own `completion` SHELL is documented under `completion`.
func docVerbs(root *cobra.Command) map[string]*cobra.Command {
	ptr := func(f func(*app) *cobra.Command) uintptr { return reflect.ValueOf(f).Pointer() }
	top := map[uintptr]bool{}
	for _, vb := range topVerbs {
		top[ptr(vb.make)] = true
	}
	aliasOf := map[string]bool{}
	for _, g := range groups {
		for _, vb := range g.verbs {
			if top[ptr(vb.make)] {
				aliasOf[g.name+" "+vb.build(&app{}).Name()] = true
			}
		}
	}
	isGroup := map[string]bool{}
	for _, g := range groups {
		isGroup[g.name] = true
	}
	verbs := map[string]*cobra.Command{}
	for _, c := range root.Commands() {
		if c.Hidden {
			continue
		}
		if !c.HasSubCommands() {
			verbs[c.Name()] = c
			continue
		}
		for _, sub := range c.Commands() {
			path := c.Name() + " " + sub.Name()
			switch {
			case sub.Hidden || aliasOf[path]:
			case isGroup[c.Name()]:
				verbs[path] = sub
			default: // cobra's completion
				verbs[c.Name()+"\x00"+path] = sub
			}
		}
	}
	return verbs
}

// TestCommandsDocumented: docs/commands.md is the command reference. Every verb of the
// tree has a `## ` section naming it, and every flag of the verb is named there as
// --FLAG (the root's flags have their own section).
func TestCommandsDocumented(t *testing.T) {
	sections := docSections(t, "../../docs/commands.md")
	root, _ := newRootCommand()
	verbs := docVerbs(root)
	if len(verbs) < 60 {
		t.Fatalf("only %d verbs found in the command tree: the walk is broken", len(verbs))
	}
	// The root's own flags, --version with them (cobra adds it when the command runs):
	// in "Global flags".
	root.InitDefaultVersionFlag()
	root.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !regexp.MustCompile(`--`+regexp.QuoteMeta(f.Name)+`([^A-Za-z0-9-]|$)`).MatchString(sections["Global flags"]) {
			t.Errorf("`hutch --%s` is not in the section `## Global flags` of docs/commands.md", f.Name)
		}
	})
	for key, c := range verbs {
		doc, path, _ := strings.Cut(key, "\x00")
		if path == "" {
			path = doc
		}
		text, ok := sections[doc]
		if !ok {
			t.Errorf("`hutch %s` has no section in docs/commands.md: a `## %s` heading (its synopsis, every flag, the differences from Docker and Podman)", path, doc)
			continue
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || globalFlags[f.Name] {
				return
			}
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(f.Name) + `([^A-Za-z0-9-]|$)`).MatchString(text) {
				t.Errorf("`hutch %s --%s` is not in its section `## %s` of docs/commands.md", path, f.Name, doc)
			}
		})
	}
}
