package buildfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Source is one COPY/ADD source found in the context.
type Source struct {
	Rel  string      // slash path relative to the context ("." for the context itself)
	Path string      // absolute host path, every symlink on the way resolved INSIDE the context
	Info fs.FileInfo // Lstat of Path

	// real is Path relative to the context, slash-separated: the name the ignore
	// patterns see for what is inside a directory source. "" means Rel.
	real string
}

// ignoreRel is the context-relative name of the source's real location.
func (s Source) ignoreRel() string {
	if s.real != "" {
		return s.real
	}
	return cleanRel(s.Rel)
}

// NotFoundError is returned by Sources when a source argument matches nothing.
type NotFoundError struct {
	Instruction string // "COPY" unless the caller changes it (e.g. to "ADD") before printing
	Source      string // the argument as written
	Context     string // the context directory
	// ExcludedBy is the ignore file that left the source out, "" when it does not exist.
	ExcludedBy string
}

func (e *NotFoundError) Error() string {
	ins := e.Instruction
	if ins == "" {
		ins = "COPY"
	}
	if e.ExcludedBy != "" {
		return fmt.Sprintf("%s source %q not found in the build context %s: it is excluded by %s (remove the pattern that matches it, or add the exception line \"!%s\")",
			ins, e.Source, e.Context, e.ExcludedBy, cleanRel(e.Source))
	}
	return fmt.Sprintf("%s source %q not found in the build context %s (check the path and .dockerignore)", ins, e.Source, e.Context)
}

// Sources expands COPY/ADD source arguments in contextDir: filepath.Match globs (as
// Docker), "." and "dir/"; `..` stops at the context root; symlinks are resolved inside
// the context; ignored files are left out. A source that matches nothing is a
// *NotFoundError.
func Sources(contextDir string, patterns []string, ign *Ignore) ([]Source, error) {
	abs, err := filepath.Abs(contextDir)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", contextDir, err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", contextDir, err)
	}
	var out []Source
	for _, pat := range patterns {
		rel := cleanRel(pat)
		var candidates []string
		if hasMeta(rel) {
			candidates, err = expandGlob(root, rel)
			if err != nil {
				return nil, fmt.Errorf("COPY source %q in the build context %s: %w", pat, abs, err)
			}
		} else {
			candidates = []string{rel}
		}
		found, excluded := 0, false
		for _, c := range candidates {
			src, ok, err := resolveSource(root, c)
			if err != nil {
				return nil, fmt.Errorf("COPY source %q in the build context %s: %w", pat, abs, err)
			}
			if !ok {
				continue
			}
			ex, err := sourceExcluded(src, ign)
			if err != nil {
				return nil, err
			}
			if ex {
				excluded = true
				continue
			}
			out = append(out, src)
			found++
		}
		if found == 0 {
			nf := &NotFoundError{Instruction: "COPY", Source: pat, Context: abs}
			if excluded {
				nf.ExcludedBy = ign.File
			}
			return nil, nf
		}
	}
	return out, nil
}

// resolveSource resolves the context-relative rel inside root; ok is false when nothing
// is there (including a symlink whose target does not exist).
func resolveSource(root, rel string) (Source, bool, error) {
	p, err := securejoin.SecureJoin(root, rel)
	if errors.Is(err, unix.ELOOP) {
		return Source{}, false, fmt.Errorf("the symlinks on the way to %s form a loop", rel)
	}
	if err != nil {
		return Source{}, false, err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return Source{}, false, nil
	}
	if err != nil {
		return Source{}, false, err
	}
	real, err := filepath.Rel(root, p)
	if err != nil {
		return Source{}, false, err
	}
	return Source{Rel: rel, Path: p, Info: fi, real: filepath.ToSlash(real)}, true, nil
}

// sourceExcluded: a source is left out when its name or its real location is ignored;
// an ignored directory still counts when `!` exceptions may bring back files in it.
func sourceExcluded(src Source, ign *Ignore) (bool, error) {
	if !ign.active() {
		return false, nil
	}
	for _, rel := range []string{cleanRel(src.Rel), src.ignoreRel()} {
		ex, err := ign.Excluded(rel)
		if err != nil {
			return false, err
		}
		if ex {
			if src.Info.IsDir() && ign.hasExceptions() {
				n, err := countEntries(src, ign)
				if err != nil {
					return false, err
				}
				return n == 0, nil
			}
			return true, nil
		}
	}
	return false, nil
}

func countEntries(src Source, ign *Ignore) (int, error) {
	n := 0
	err := walkSource(src, ign, func(e entry) error {
		if e.rel != "." {
			n++
		}
		return nil
	})
	return n, err
}

// hasMeta reports whether p holds a filepath.Match metacharacter.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// expandGlob matches rel, component by component, against the context's directories
// (resolved inside root), returning the matching context-relative names sorted.
func expandGlob(root, rel string) ([]string, error) {
	if _, err := path.Match(rel, ""); err != nil {
		return nil, fmt.Errorf("bad pattern: %w", err)
	}
	current := []string{""}
	for _, comp := range strings.Split(rel, "/") {
		var next []string
		for _, base := range current {
			if !hasMeta(comp) {
				next = append(next, path.Join(base, comp))
				continue
			}
			dir, err := securejoin.SecureJoin(root, base)
			if err != nil {
				return nil, err
			}
			names, err := readDirNames(dir)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
					continue
				}
				return nil, err
			}
			for _, n := range names {
				ok, err := path.Match(comp, n)
				if err != nil {
					return nil, fmt.Errorf("bad pattern: %w", err)
				}
				if ok {
					next = append(next, path.Join(base, n))
				}
			}
		}
		current = next
	}
	sort.Strings(current)
	return current, nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	sort.Strings(names)
	return names, nil
}

// entry is one file met while walking a source.
type entry struct {
	rel  string // relative to the source ("." for the source itself), slash-separated
	path string // host path
	info fs.FileInfo
}

// walkSource calls fn for the source and, for a directory, every entry below it in
// lexical depth-first order (a directory before its contents), leaving out what ign
// excludes. Symlinks are not followed. An excluded directory is walked only when `!`
// exceptions may bring back something below it, and is reported only then.
func walkSource(src Source, ign *Ignore, fn func(entry) error) error {
	if err := fn(entry{rel: ".", path: src.Path, info: src.Info}); err != nil {
		return err
	}
	if !src.Info.IsDir() {
		return nil
	}
	_, err := walkDir(src.Path, ".", src.ignoreRel(), ign, fn, false)
	return err
}

// walkDir walks dir; when lazy, entries are only reported once the caller knows the
// directory has something included (returns the buffered list otherwise).
func walkDir(dir, rel, ctxRel string, ign *Ignore, fn func(entry) error, lazy bool) ([]entry, error) {
	names, err := readDirNames(dir)
	if err != nil {
		return nil, err
	}
	var buffered []entry
	emit := func(e entry) error {
		if lazy {
			buffered = append(buffered, e)
			return nil
		}
		return fn(e)
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		erel := path.Join(rel, n)
		ectx := path.Join(ctxRel, n)
		fi, err := os.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while we walked
			}
			return nil, err
		}
		ex, err := ign.Excluded(ectx)
		if err != nil {
			return nil, err
		}
		e := entry{rel: erel, path: p, info: fi}
		if ex {
			if !fi.IsDir() || !ign.hasExceptions() {
				continue
			}
			sub, err := walkDir(p, erel, ectx, ign, fn, true)
			if err != nil {
				return nil, err
			}
			if len(sub) == 0 {
				continue
			}
			if err := emit(e); err != nil {
				return nil, err
			}
			for _, s := range sub {
				if err := emit(s); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := emit(e); err != nil {
			return nil, err
		}
		if fi.IsDir() {
			sub, err := walkDir(p, erel, ectx, ign, fn, lazy)
			if err != nil {
				return nil, err
			}
			buffered = append(buffered, sub...)
		}
	}
	return buffered, nil
}
