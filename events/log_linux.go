package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// The log's files, in its directory.
const (
	CurrentFile  = "events.log"
	PreviousFile = "events.log.1"
	lockFile     = "events.lock"
)

// DefaultLimit is the size past which events.log is rotated: the log keeps at most about
// twice as much (a few thousand events).
const DefaultLimit = 1 << 20

// MaxLine bounds an event's line (newline included): below PIPE_BUF, so that one write
// of it is one indivisible append.
const MaxLine = 4000

// Log is the event log in directory Dir (created, 0700, on the first append).
type Log struct {
	Dir string
	// Limit is the size past which events.log is rotated (0: DefaultLimit).
	Limit int64

	mu       sync.Mutex // orders this process's appends (the flock is per open file)
	lockFD   int        // events.lock, open once per process
	lockOpen bool
}

// At is the log in dir.
func At(dir string) *Log { return &Log{Dir: dir} }

func (l *Log) limit() int64 {
	if l.Limit > 0 {
		return l.Limit
	}
	return DefaultLimit
}

func (l *Log) path(name string) string { return filepath.Join(l.Dir, name) }

// Append adds m to the log as one line: one write(2) to events.log opened O_APPEND, under
// a shared flock of events.lock; then, if the file has grown past the limit, it rotates
// it. Nothing is synced to disk.
func (l *Log) Append(m Message) error {
	line, err := encode(m)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lfd, err := l.lock()
	if err != nil {
		return err
	}
	if err := flock(lfd, unix.LOCK_SH); err != nil {
		return &os.PathError{Op: "flock", Path: l.path(lockFile), Err: err}
	}
	end, err := appendLine(l.path(CurrentFile), line)
	_ = flock(lfd, unix.LOCK_UN)
	if err != nil {
		return err
	}
	if end > l.limit() {
		return l.rotate(lfd)
	}
	return nil
}

// appendLine writes line at the end of the file at path (made if missing) and returns
// the file's offset after it.
func appendLine(path string, line []byte) (int64, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, line)
	if err == nil && n != len(line) {
		err = fmt.Errorf("short write (%d of %d bytes)", n, len(line))
	}
	if err != nil {
		return 0, &os.PathError{Op: "write", Path: path, Err: err}
	}
	end, err := unix.Seek(fd, 0, unix.SEEK_CUR)
	if err != nil {
		return 0, nil
	}
	return end, nil
}

// rotate renames events.log to events.log.1 under the exclusive lock, unless another
// writer did it meanwhile.
func (l *Log) rotate(lfd int) error {
	if err := flock(lfd, unix.LOCK_EX); err != nil {
		return &os.PathError{Op: "flock", Path: l.path(lockFile), Err: err}
	}
	defer func() { _ = flock(lfd, unix.LOCK_UN) }()
	var st unix.Stat_t
	if err := unix.Stat(l.path(CurrentFile), &st); err != nil || st.Size <= l.limit() {
		return nil
	}
	if err := unix.Rename(l.path(CurrentFile), l.path(PreviousFile)); err != nil {
		return &os.LinkError{Op: "rename", Old: l.path(CurrentFile), New: l.path(PreviousFile), Err: err}
	}
	return nil
}

// lock returns this process's descriptor of events.lock, opening it (and making the
// directory) the first time.
func (l *Log) lock() (int, error) {
	if l.lockOpen {
		var st unix.Stat_t
		if unix.Fstat(l.lockFD, &st) == nil && st.Nlink > 0 {
			return l.lockFD, nil
		}
		// Removed with the directory (system reset): a new one is made.
		unix.Close(l.lockFD)
		l.lockOpen = false
	}
	p := l.path(lockFile)
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.ENOENT) {
		if err := os.MkdirAll(l.Dir, 0o700); err != nil {
			return 0, err
		}
		fd, err = unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	}
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: p, Err: err}
	}
	l.lockFD, l.lockOpen = fd, true
	return fd, nil
}

func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// encode is m's line: the JSON encoding/json makes of a Message (a unit test holds
// them equal), assembled by hand because encoding/json's first encoding of a struct
// type costs a command tens of microseconds; strings are still quoted by encoding/json.
// A line that would reach MaxLine (an exec's long command, many labels) loses what
// matters least: the labels' attributes, then the length of what is left.
func encode(m Message) ([]byte, error) {
	b := appendMessage(make([]byte, 0, 512), &m)
	if len(b) < MaxLine {
		return append(b, '\n'), nil
	}
	core := map[string]bool{"name": true, "image": true, "exitCode": true, "signal": true, "execID": true,
		"oldName": true, "driver": true}
	attrs := map[string]string{}
	for k, v := range m.Actor.Attributes {
		if core[k] {
			attrs[k] = cut(v, 256)
		}
	}
	m.Actor.Attributes = attrs
	m.Action, m.Status = cut(m.Action, 512), cut(m.Status, 512)
	m.From = cut(m.From, 256)
	b = appendMessage(b[:0], &m)
	if len(b) >= MaxLine {
		return nil, fmt.Errorf("event %s %s too long (%d bytes)", m.Type, m.Action, len(b))
	}
	return append(b, '\n'), nil
}

// appendMessage appends m's JSON: Message's fields in order, the attributes sorted by
// key, as encoding/json writes them.
func appendMessage(b []byte, m *Message) []byte {
	b = append(b, '{')
	for _, f := range []struct{ key, val string }{{"status", m.Status}, {"id", m.ID}, {"from", m.From}} {
		if f.val != "" {
			b = append(b, '"')
			b = append(b, f.key...)
			b = append(b, `":`...)
			b = appendString(b, f.val)
			b = append(b, ',')
		}
	}
	b = append(b, `"Type":`...)
	b = appendString(b, m.Type)
	b = append(b, `,"Action":`...)
	b = appendString(b, m.Action)
	b = append(b, `,"Actor":{"ID":`...)
	b = appendString(b, m.Actor.ID)
	b = append(b, `,"Attributes":`...)
	if m.Actor.Attributes == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, m.Actor.Attributes[k])
		}
		b = append(b, '}')
	}
	b = append(b, `},"scope":`...)
	b = appendString(b, m.Scope)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, m.Time, 10)
	b = append(b, `,"timeNano":`...)
	b = strconv.AppendInt(b, m.TimeNano, 10)
	return append(b, '}')
}

// appendString appends s quoted as encoding/json quotes it.
func appendString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		return append(b, `""`...)
	}
	return append(b, q...)
}

// cut shortens s to at most n bytes, on a UTF-8 boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
