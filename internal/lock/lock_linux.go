// Package lock is hutch's one kind of lock: an flock on a file that also records who
// holds it, so a command that has to wait can say what it is waiting for.
package lock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is a held lock; Unlock releases it.
type Lock struct{ f *os.File }

// Acquire takes the exclusive lock at path. When another process holds it for longer
// than a moment, one line on wait names the holder (its PID and command line), then
// Acquire keeps waiting; a holder that died released its flock with it, so a stale
// record never blocks anyone.
func Acquire(path string, wait io.Writer) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(500 * time.Millisecond):
				if wait != nil {
					fmt.Fprintf(wait, "hutch: waiting for the lock %s, held by %s\n", path, Holder(path))
				}
			}
		}()
		err = flockRetry(f)
		close(done)
		if err != nil {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
	}
	cmdline, _ := os.ReadFile("/proc/self/cmdline")
	rec := strconv.Itoa(os.Getpid()) + " " + strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(rec+"\n"), 0)
	return &Lock{f: f}, nil
}

func flockRetry(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}

// Holder describes the process recorded in the lock file at path.
func Holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "another process"
	}
	pid, cmd, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	return fmt.Sprintf("PID %s (%s)", pid, cmd)
}

// Unlock releases the lock. The record stays; it is overwritten by the next holder.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// Shared takes the lock at path shared: many holders at once, none while an Acquire
// holds it (which waits for them). It waits without saying so: its holders hold it for
// a moment only.
func Shared(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_SH)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return &Lock{f: f}, nil
}
