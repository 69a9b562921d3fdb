package buildfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"hutch.dev/hutch/internal/fsutil"
)

// Ignore is a parsed .dockerignore. The nil *Ignore excludes nothing.
type Ignore struct {
	// File is the ignore file the patterns came from ("" when there was none).
	File string
	// Patterns are the cleaned patterns, in file order (`!` marks an exception).
	Patterns []string
	pm       *patternmatcher.PatternMatcher
}

// LoadIgnore reads the ignore file of a build: <dockerfile>.dockerignore next to the
// Dockerfile (dockerfile is the path the builder opened; skipped when "" or "-"), else
// CONTEXT/.dockerignore, else CONTEXT/.containerignore. With none of them the returned
// Ignore excludes nothing. Only a regular file of at most fsutil.IgnoreFile.Limit is
// read, and one inside the context is read without leaving it (a symlink out of the
// context, to a device or to the user's files, is refused).
func LoadIgnore(contextDir, dockerfile string) (*Ignore, error) {
	var candidates []string
	if dockerfile != "" && dockerfile != "-" {
		candidates = append(candidates, dockerfile+".dockerignore")
	}
	candidates = append(candidates,
		filepath.Join(contextDir, ".dockerignore"),
		filepath.Join(contextDir, ".containerignore"))
	for _, name := range candidates {
		var data []byte
		var err error
		if rel, rerr := filepath.Rel(contextDir, name); rerr == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			data, err = fsutil.IgnoreFile.ReadBeneath(contextDir, rel)
		} else {
			data, err = fsutil.IgnoreFile.Read(name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading the ignore file %s: %w", name, err)
		}
		return NewIgnore(name, patterns)
	}
	return &Ignore{}, nil
}

// NewIgnore compiles patterns (already read from file, as ignorefile.ReadAll returns
// them) into an Ignore; file only names them in messages.
func NewIgnore(file string, patterns []string) (*Ignore, error) {
	ign := &Ignore{File: file, Patterns: patterns}
	if len(patterns) == 0 {
		return ign, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern in the ignore file %s: %w (patterns follow Go's filepath.Match syntax plus `**`)", file, err)
	}
	ign.pm = pm
	return ign, nil
}

// Excluded reports whether rel (slash-separated, relative to the context) is left out
// of the build context: it, or one of its parent directories, matches a pattern and no
// later `!` exception brings it back.
func (i *Ignore) Excluded(rel string) (bool, error) {
	if i == nil || i.pm == nil {
		return false, nil
	}
	rel = cleanRel(rel)
	if rel == "." {
		return false, nil
	}
	ex, err := i.pm.MatchesOrParentMatches(rel)
	if err != nil {
		return false, fmt.Errorf("matching %q against the ignore file %s: %w", rel, i.File, err)
	}
	return ex, nil
}

// hasExceptions reports whether some `!` pattern may bring back files below an
// excluded directory, so that such a directory must still be walked.
func (i *Ignore) hasExceptions() bool {
	return i != nil && i.pm != nil && i.pm.Exclusions()
}

func (i *Ignore) active() bool { return i != nil && i.pm != nil }

// cleanRel cleans a slash path relative to a root: "" and "/" become ".", `..` stops at
// the root, a leading "/" or "./" is dropped.
func cleanRel(rel string) string {
	rel = path.Clean("/" + filepath.ToSlash(rel))
	rel = strings.TrimPrefix(rel, "/")
	if rel == "" {
		return "."
	}
	return rel
}
