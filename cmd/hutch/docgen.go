//go:build hutch_docgen

package main

// Built with the tag hutch_docgen, this package is not hutch but the generator of its
// manual pages (the Makefile runs it; the pages are never committed):
//
//	go build -tags "$(cat hack/tags) hutch_docgen" -o bin/hutch-docgen ./cmd/hutch
//	bin/hutch-docgen -out man -config docs/config.md [-date EPOCH] [-version V]
//
// It writes hutch(1), one page per command from the command tree (hutch-run(1),
// hutch-container-ls(1), …), and hutch-config.toml(5) from docs/config.md. The date in the
// pages is -date (seconds since the epoch), else SOURCE_DATE_EPOCH, so that a build is
// reproducible.

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra/doc"

	"hutch.dev/hutch/internal/version"
)

func init() {
	if err := docgen(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hutch-docgen: "+err.Error())
		os.Exit(1)
	}
	os.Exit(0)
}

func docgen(args []string) error {
	fs := flag.NewFlagSet("hutch-docgen", flag.ContinueOnError)
	out := fs.String("out", "man", "directory to write the pages into (man1/ and man5/ under it)")
	config := fs.String("config", "docs/config.md", "the configuration document, for hutch-config.toml(5)")
	epoch := fs.String("date", os.Getenv("SOURCE_DATE_EPOCH"), "the pages' date, in seconds since the epoch (default: SOURCE_DATE_EPOCH, else now)")
	ver := fs.String("version", version.Version, "the version the pages name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	date := time.Now().UTC()
	if *epoch != "" {
		sec, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("-date %q: not seconds since the epoch", *epoch)
		}
		date = time.Unix(sec, 0).UTC()
	}
	man1, man5 := filepath.Join(*out, "man1"), filepath.Join(*out, "man5")
	for _, d := range []string{man1, man5} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}

	root, _ := newRootCommand()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Section: "1", Date: &date,
		Source: "hutch " + *ver, Manual: "hutch Manual"}
	if err := doc.GenManTree(root, header, man1); err != nil {
		return fmt.Errorf("man pages of the commands: %w", err)
	}
	if err := addFiles(filepath.Join(man1, "hutch.1")); err != nil {
		return err
	}

	md, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	page, err := configPage(md, date, *ver)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	return os.WriteFile(filepath.Join(man5, "hutch-config.toml.5"), page, 0o644)
}

// addFiles gives hutch(1) a FILES section naming the configuration page, which the
// command tree does not know of.
func addFiles(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	files := ".SH FILES\n.PP\n\\fB/etc/hutch/config.toml\\fP, \\fB$XDG_CONFIG_HOME/hutch/config.toml\\fP: see \\fBhutch-config.toml(5)\\fP.\n"
	i := bytes.Index(b, []byte(".SH SEE ALSO"))
	if i < 0 {
		return fmt.Errorf("%s: no SEE ALSO section to put FILES before", path)
	}
	b = append(b[:i:i], append([]byte(files), b[i:]...)...)
	b = bytes.Replace(b, []byte(".SH SEE ALSO\n"), []byte(".SH SEE ALSO\n\\fBhutch-config.toml(5)\\fP, "), 1)
	return os.WriteFile(path, b, 0o644)
}

var (
	mdLink  = regexp.MustCompile(`\[([^\]]+)\]\(([^)#]+)\.md(#[^)]*)?\)`)
	mdLevel = regexp.MustCompile(`(?m)^(#{2,6}) `)
)

// configPage turns docs/config.md into hutch-config.toml(5): its first heading becomes
// the NAME and DESCRIPTION, its sections the page's sections, and its links to the other
// documents their names in hutch's source tree.
func configPage(md []byte, date time.Time, ver string) ([]byte, error) {
	s := string(md)
	first, rest, ok := strings.Cut(s, "\n")
	if !ok || !strings.HasPrefix(first, "# ") {
		return nil, fmt.Errorf("does not start with a '# Title' line")
	}
	// Headings go one level up (## Keys → a section); the code inside fenced blocks is
	// TOML whose comments start with '#', so only lines outside fences are touched.
	// A table becomes a list (a man page is 80 columns wide; the table's rows are not).
	var b strings.Builder
	inFence, tableRow := false, 0
	for _, line := range strings.SplitAfter(rest, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence {
			b.WriteString(line)
			continue
		}
		if h := mdLevel.FindString(line); h != "" {
			// A section of the page: one level up, in capitals as man pages have them.
			line = strings.ToUpper(line[1:])
		}
		line = mdLink.ReplaceAllString(line, "$1 (docs/$2.md in hutch's source)")
		if strings.HasPrefix(line, "|") {
			tableRow++
			cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
			if tableRow <= 2 || len(cells) < 2 { // the header and its rule
				continue
			}
			for i := range cells {
				cells[i] = strings.TrimSpace(strings.ReplaceAll(cells[i], `\|`, "|"))
			}
			line = "- **" + cells[0] + "**: " + strings.Join(cells[1:], "; ") + "\n"
		} else {
			tableRow = 0
		}
		b.WriteString(line)
	}
	text := fmt.Sprintf("%% \"HUTCH-CONFIG.TOML\" \"5\" \"%s\" \"hutch %s\" \"hutch Manual\"\n"+
		"# NAME\nhutch-config.toml - hutch's configuration files\n\n"+
		"# SYNOPSIS\n**/etc/hutch/config.toml**, **$XDG_CONFIG_HOME/hutch/config.toml**\n\n"+
		"# DESCRIPTION\n%s\n# SEE ALSO\n**hutch(1)**, **hutch-info(1)**\n",
		date.Format("Jan 2006"), ver, b.String())
	return md2man.Render([]byte(text)), nil
}
