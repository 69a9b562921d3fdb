// Package builder turns a Dockerfile and a build context into an image in the user's
// store: `hutch build`. Parsing is buildkit's (frontend/dockerfile/{parser,
// instructions,shell}); everything after it — variable scoping, stages, the step cache,
// layers, running RUN steps with hutch's own runtime, writing the image — is here.
package builder

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// File is a parsed Dockerfile.
type File struct {
	Name     string // as messages name it: "Dockerfile", "build/Containerfile", "-"
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand
	Escape   rune
	Syntax   string // the `# syntax=` directive, if any (ignored)
	Warnings []string
}

// instructionNames are the instructions a Dockerfile may use.
var instructionNames = []string{"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
	"HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER",
	"VOLUME", "WORKDIR"}

// Parse parses a Dockerfile; name is how errors refer to it. Errors name the file and
// the line, and an unknown instruction comes with the nearest known one.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Name: name}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, f.wrap(err)
	}
	f.Escape = res.EscapeToken
	if s, _, _, ok := parser.DetectSyntax(data); ok {
		f.Syntax = s
	}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s:%d: %s", name, line, w.Short))
	}
	stages, metas, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, f.wrap(err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s has no FROM instruction: a Dockerfile starts with `FROM IMAGE` (or `FROM scratch`)", name)
	}
	f.Stages, f.MetaArgs = stages, metas
	return f, nil
}

// wrap turns a parser error into hutch's form: what is wrong, where, and the fix.
func (f *File) wrap(err error) error {
	var ui *instructions.UnknownInstructionError
	if errors.As(err, &ui) {
		word := strings.ToUpper(ui.Instruction)
		msg := fmt.Sprintf("unknown instruction %s (%s:%d)", word, f.Name, ui.Line)
		if s := Suggest(word, instructionNames); s != "" {
			return fmt.Errorf("%s: did you mean %s?", msg, s)
		}
		return fmt.Errorf("%s: a Dockerfile instruction is one of %s", msg, strings.Join(instructionNames, ", "))
	}
	msg := err.Error()
	// The parser's own prefix repeats the line we add.
	if i := strings.Index(msg, "dockerfile parse error on line "); i >= 0 {
		rest := msg[i+len("dockerfile parse error on line "):]
		if j := strings.Index(rest, ": "); j >= 0 {
			msg = rest[j+2:]
		}
	}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return fmt.Errorf("%s:%d: %s", f.Name, le.Locations[0][0].Start.Line, msg)
	}
	return fmt.Errorf("%s: %s", f.Name, msg)
}

// Suggest returns the option nearest to word (case-insensitive), or "" when none is
// close enough to be what was meant.
func Suggest(word string, options []string) string {
	best, bestD := "", 1<<30
	lw := strings.ToLower(word)
	for _, o := range options {
		d := levenshtein.Distance(lw, strings.ToLower(o), nil)
		if d < bestD || (d == bestD && o < best) {
			best, bestD = o, d
		}
	}
	limit := 2
	if len(word) <= 3 {
		limit = 1
	}
	if bestD > limit || best == "" {
		return ""
	}
	return best
}

// stageNames lists the stages as `--target` accepts them (name, or index).
func (f *File) stageNames() []string {
	var out []string
	for i, s := range f.Stages {
		if s.Name != "" {
			out = append(out, s.Name)
		} else {
			out = append(out, fmt.Sprint(i))
		}
	}
	return out
}

// stageIndex finds a stage by name (case-insensitive, as Docker) or index, among the
// stages before `before` (-1: all).
func (f *File) stageIndex(ref string, before int) (int, bool) {
	n := len(f.Stages)
	if before >= 0 && before < n {
		n = before
	}
	for i := 0; i < n; i++ {
		if f.Stages[i].Name != "" && strings.EqualFold(f.Stages[i].Name, ref) {
			return i, true
		}
	}
	var idx int
	if _, err := fmt.Sscanf(ref, "%d", &idx); err == nil && fmt.Sprint(idx) == ref && idx >= 0 && idx < n {
		return idx, true
	}
	return 0, false
}

// TargetIndex resolves --target; the error lists the stages.
func (f *File) TargetIndex(target string) (int, error) {
	if target == "" {
		return len(f.Stages) - 1, nil
	}
	if i, ok := f.stageIndex(target, -1); ok {
		return i, nil
	}
	names := f.stageNames()
	msg := fmt.Sprintf("--target %q: no such stage in %s; its stages are: %s", target, f.Name, strings.Join(names, ", "))
	if s := Suggest(target, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return 0, errors.New(msg)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
