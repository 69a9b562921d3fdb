// Package diag holds what hutch found wrong with the host: warnings that carry their
// fix, shown in full by `hutch info` and printed once (not on every command).
package diag

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Warning is one finding about the host. ID is stable (it names the once-marker);
// Text says what is wrong, what follows from it and how to fix it.
type Warning struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// String is the warning's text (as a template prints it: `info --format '{{range
// .Warnings}}{{.}}{{end}}'` lists texts, as Docker's does).
func (w Warning) String() string { return w.Text }

// PrintOnce writes each warning to w the first time it is seen for this login session:
// a marker file in dir (the runtime directory, a tmpfs cleared at logout) records it.
func PrintOnce(w io.Writer, dir string, ws []Warning) {
	for _, warn := range ws {
		marker := filepath.Join(dir, "warned-"+warn.ID)
		f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			continue // already warned (or the runtime dir is unusable: info still shows it)
		}
		f.Close()
		fmt.Fprintf(w, "hutch: warning: %s (shown once; `hutch info` lists it)\n", warn.Text)
	}
}

// FirstInSession reports whether the check named id has not run yet in this login
// session, and marks it as run: for a check too costly for every command (reading the
// host's user database), done by the first command of a session and by `hutch info`.
// Without a usable dir it reports true.
func FirstInSession(dir, id string) bool {
	if !filepath.IsAbs(dir) {
		return true
	}
	f, err := os.OpenFile(filepath.Join(dir, "checked-"+id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return !errors.Is(err, fs.ErrExist)
	}
	f.Close()
	return true
}
