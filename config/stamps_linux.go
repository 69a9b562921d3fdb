package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
)

// Stamps records every path the choice of the runtime directory (UserPathsRecorded) and
// the checks of the paths (CheckRecorded) looked at, each as it looked then (Token), in
// the order they were first looked at: with the environment that chose the paths, all
// that their verdict depends on. A verdict made of them (Verdict) lets a later command
// that finds every stamp unchanged take the paths as checked without checking them again
// (the kept namespace's constructor, which cannot check them from inside: there, the
// user's files and root's show as the overflow uid alike).
//
// A nil *Stamps records nothing.
type Stamps struct {
	order  []string
	tokens map[string]string
	// spoiled says why no verdict can be made of these stamps ("" when one can): a
	// path looked different twice in one command (it changed while it was checked).
	spoiled string
}

// NewStamps starts an empty record.
func NewStamps() *Stamps { return &Stamps{tokens: map[string]string{}} }

// Token is what path looks like now (lstat: a symbolic link is stamped, not followed),
// in the form the verdict and the constructor (kept.c, hutch_verdict_token) write:
//
//	e:ERRNO                        lstat failed, not with ENOENT (EACCES, ENOTDIR, …)
//	d:DEV:INO:MODE:UID:GID         a directory
//	f:DEV:INO:MODE:UID:GID:CTIME   anything else (CTIME as SEC.NSEC)
//
// and "-" when it does not exist (ENOENT).
//
// A directory has no ctime: it changes with every entry made or removed in it (the
// runtime directory's at every command, /tmp's all the time), and nothing of what the
// checks judge in a directory — its type, owner, group and mode — can change without
// changing those fields; what a directory holds that the checks look at is stamped on
// its own (the next component of a path). A file's ctime changes with its content (a
// config file names the graph root) and with chmod and chown; a symbolic link's, when
// another one takes its place.
func Token(path string) string {
	var st syscall.Stat_t
	err := syscall.Lstat(path, &st)
	return token(&st, err)
}

func token(st *syscall.Stat_t, err error) string {
	if err != nil {
		var errno syscall.Errno
		switch {
		case errors.Is(err, syscall.ENOENT):
			return "-"
		case errors.As(err, &errno):
			return fmt.Sprintf("e:%d", int(errno))
		default:
			return "e:?"
		}
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return fmt.Sprintf("d:%d:%d:%o:%d:%d", st.Dev, st.Ino, st.Mode, st.Uid, st.Gid)
	}
	return fmt.Sprintf("f:%d:%d:%o:%d:%d:%d.%09d", st.Dev, st.Ino, st.Mode, st.Uid, st.Gid, st.Ctim.Sec, st.Ctim.Nsec)
}

// lstat is syscall.Lstat, recorded.
func (s *Stamps) lstat(path string, st *syscall.Stat_t) error {
	err := syscall.Lstat(path, st)
	s.see(path, st, err)
	return err
}

// see records what path looked like when it was judged; a path that looks different
// the second time spoils the record. The path is recorded as it was looked at (the
// constructor looks at the same string).
func (s *Stamps) see(path string, st *syscall.Stat_t, err error) {
	if s == nil {
		return
	}
	tok := token(st, err)
	old, ok := s.tokens[path]
	switch {
	case !ok:
		s.order = append(s.order, path)
		s.tokens[path] = tok
	case old != tok && s.spoiled == "":
		s.spoiled = fmt.Sprintf("%s changed while hutch checked it (%s, then %s)", path, old, tok)
	}
}

// spoil says that no verdict can be made of the record, and why.
func (s *Stamps) spoil(why string) {
	if s != nil && s.spoiled == "" {
		s.spoiled = why
	}
}

// made records path again after hutch made it (or changed its mode), with the
// directories above it that were missing before: what the checks would find now.
func (s *Stamps) made(path string) {
	if s == nil {
		return
	}
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if old, ok := s.tokens[p]; p == filepath.Clean(path) || ok && old == "-" {
			tok := Token(p)
			if !ok {
				s.order = append(s.order, p)
			}
			s.tokens[p] = tok
		}
		if p == "/" || p == "." {
			return
		}
	}
}

// Stamp is one path and its token.
type Stamp struct{ Token, Path string }

// List is the record, in the order the paths were first looked at.
func (s *Stamps) List() []Stamp {
	out := make([]Stamp, 0, len(s.order))
	for _, p := range s.order {
		out = append(out, Stamp{s.tokens[p], p})
	}
	return out
}

// Spoiled says why no verdict can be made of the record ("" when one can).
func (s *Stamps) Spoiled() string { return s.spoiled }
