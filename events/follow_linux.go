package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Window selects events by time: Since ≤ time ≤ Until (a zero bound is open).
type Window struct{ Since, Until time.Time }

func (w Window) holds(ns int64) bool {
	return (w.Since.IsZero() || ns >= w.Since.UnixNano()) && (w.Until.IsZero() || ns <= w.Until.UnixNano())
}

// Read calls fn for every event of the window in the log, oldest first (the previous
// file, then the current one), and returns; fn's error stops it.
func (l *Log) Read(w Window, fn func(Message) error) error {
	return l.Follow(w, true, false, fn)
}

// tailBytes is how much of events.log a follower without history reads back, for the
// events stamped after it started but appended before it opened the file.
const tailBytes = 64 << 10

// Follow calls fn for the events of the window: with history, those already in the log
// first; then, with stream, each event as it is appended, until the window's end (or
// for ever, when it has none). Without history only events stamped from Since on (now,
// if Since is zero) are shown. It watches the log's directory with inotify, and follows
// events.log across rotations: a file renamed away is drained to its end before the new
// one is read (appends hold the lock that a rotation takes exclusively, so a renamed file
// is complete), and a previous file this follower never opened (two rotations between
// two wake-ups) is read too. A follower that falls further behind than that (more than
// twice the limit) misses what was in the files deleted meanwhile.
func (l *Log) Follow(w Window, history, stream bool, fn func(Message) error) error {
	if !history && w.Since.IsZero() {
		w.Since = time.Now()
	}
	f := &follower{log: l, w: w, fn: fn}
	defer f.close()
	if stream {
		if err := os.MkdirAll(l.Dir, 0o700); err != nil {
			return err
		}
		var err error
		if f.watch, err = newWatcher(l.Dir); err != nil {
			return err
		}
	}
	prev, cur, err := l.openPair()
	if err != nil {
		return err
	}
	f.cur, f.held = cur, prev
	if history && prev != nil {
		if err := prev.drain(f.emit); err != nil {
			return err
		}
	}
	if cur != nil {
		if !history {
			cur.skipTo(tailBytes)
		}
		if err := f.cur.drain(f.emit); err != nil {
			return err
		}
	}
	if !stream || !w.Until.IsZero() && !time.Now().Before(w.Until) {
		return nil
	}
	logrus.Debugf("following the event log in %s", l.Dir)
	for {
		timeout := -1
		if !w.Until.IsZero() {
			left := time.Until(w.Until)
			if left <= 0 {
				return f.step()
			}
			timeout = int(left/time.Millisecond) + 1
		}
		woke, gone, err := f.watch.wait(timeout)
		if err != nil {
			return err
		}
		if gone || f.watch.replaced(l.Dir) {
			// The directory went (system reset): make it again and start from nothing.
			if err := f.restart(); err != nil {
				return err
			}
			continue
		}
		if err := f.step(); err != nil {
			return err
		}
		if !woke && !w.Until.IsZero() && !time.Now().Before(w.Until) {
			return nil
		}
	}
}

// follower is the state of one Follow.
type follower struct {
	log   *Log
	w     Window
	fn    func(Message) error
	watch *watcher
	cur   *tail // events.log as this follower knows it (nil: there was none)
	held  *tail // the last file read to its end (or events.log.1 at the start), kept open
}

func (f *follower) close() {
	f.cur.close()
	f.held.close()
	f.watch.close()
}

// emit passes on one line of the log, if its event is in the window; a line that is not
// an event is skipped.
func (f *follower) emit(line []byte) error {
	if ns, ok := lineTime(line); ok && !f.w.holds(ns) {
		return nil
	}
	var m Message
	if err := json.Unmarshal(line, &m); err != nil || m.Type == "" {
		return nil
	}
	if !f.w.holds(m.When().UnixNano()) {
		return nil
	}
	return f.fn(m)
}

// step reads what was appended, and moves to a new events.log if it was rotated.
func (f *follower) step() error {
	if f.cur != nil {
		if err := f.cur.drain(f.emit); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	err := unix.Stat(f.log.path(CurrentFile), &st)
	if err == nil && f.cur != nil && st.Ino == f.cur.ino {
		if f.held.deleted() {
			f.held.close()
			f.held = nil
		}
		return nil // not rotated
	}
	if err != nil && f.cur == nil {
		return nil // still none
	}
	// events.log is another file now (or there is none): ours was renamed, and is
	// complete; the previous file is read too when this follower never saw it.
	prev, next, err := f.log.openPair()
	if err != nil {
		return err
	}
	finished := f.cur
	if prev != nil && !f.knows(prev.ino) {
		err = prev.drain(f.emit)
		finished = prev
	}
	if finished == nil {
		finished = f.held
	}
	// The newest file read to its end stays open, so that its inode cannot be another
	// file's while this follower compares it with events.log.1; unless it was deleted
	// (then it is not events.log.1, and it must not keep a removed directory alive).
	if finished.deleted() {
		finished = nil
	}
	for _, t := range []*tail{f.held, f.cur, prev} {
		if t != finished {
			t.close()
		}
	}
	f.held, f.cur = finished, next
	if err != nil {
		return err
	}
	if next != nil {
		return next.drain(f.emit)
	}
	return nil
}

// knows tells whether ino is a file this follower has open, and so has read.
func (f *follower) knows(ino uint64) bool {
	return f.cur != nil && f.cur.ino == ino || f.held != nil && f.held.ino == ino
}

// restart starts over in a directory that was removed and made again.
func (f *follower) restart() error {
	f.cur.close()
	f.held.close()
	f.cur, f.held = nil, nil
	if err := os.MkdirAll(f.log.Dir, 0o700); err != nil {
		return err
	}
	if err := f.watch.add(f.log.Dir); err != nil {
		return err
	}
	return f.step()
}

// openPair opens the previous and the current file (either may be nil) under the
// shared lock, so that no rotation happens between the two. A reader never makes the
// lock file: without one there is no log yet (and a follower must not make files in a
// directory that `system reset` is removing).
func (l *Log) openPair() (prev, cur *tail, err error) {
	p := l.path(lockFile)
	lfd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
	switch {
	case err == nil:
		defer unix.Close(lfd)
		if err := flock(lfd, unix.LOCK_SH); err != nil {
			return nil, nil, &os.PathError{Op: "flock", Path: p, Err: err}
		}
	case !errors.Is(err, unix.ENOENT):
		return nil, nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	if prev, err = openTail(l.path(PreviousFile)); err != nil {
		return nil, nil, err
	}
	if cur, err = openTail(l.path(CurrentFile)); err != nil {
		prev.close()
		return nil, nil, err
	}
	return prev, cur, nil
}

// tail reads one file of the log line by line, keeping a line not yet complete.
type tail struct {
	f       *os.File
	ino     uint64
	partial []byte
	skip    bool // drop the first (partial) line: reading began mid-file
}

// openTail opens a file of the log; nil when there is none.
func openTail(path string) (*tail, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	return &tail{f: f, ino: st.Ino}, nil
}

// deleted tells whether the file has no name any more.
func (t *tail) deleted() bool {
	if t == nil {
		return false
	}
	var st unix.Stat_t
	return unix.Fstat(int(t.f.Fd()), &st) == nil && st.Nlink == 0
}

func (t *tail) close() {
	if t != nil {
		t.f.Close()
	}
}

// skipTo moves to the last n bytes of the file, at the start of a line.
func (t *tail) skipTo(n int64) {
	size, err := t.f.Seek(0, io.SeekEnd)
	if err != nil || size <= n {
		_, _ = t.f.Seek(0, io.SeekStart)
		return
	}
	if _, err := t.f.Seek(size-n, io.SeekStart); err == nil {
		t.skip = true
	}
}

// drain passes every complete line from where it stopped to the end of the file.
func (t *tail) drain(line func([]byte) error) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := t.f.Read(buf)
		if n > 0 {
			data := buf[:n]
			if len(t.partial) > 0 {
				data = append(t.partial, data...)
				t.partial = nil
			}
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				if t.skip {
					t.skip = false
				} else if err := line(data[:i]); err != nil {
					return err
				}
				data = data[i+1:]
			}
			t.partial = append([]byte(nil), data...)
		}
		if errors.Is(err, io.EOF) || n == 0 && err == nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lineTime reads the timeNano of a line cheaply (events.log's lines end with it), so
// that lines outside the window are not decoded.
func lineTime(line []byte) (int64, bool) {
	const key = `"timeNano":`
	i := bytes.LastIndex(line, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := line[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return ns, err == nil && j > 0
}

// watcher is an inotify watch of the log's directory.
type watcher struct {
	fd, wd int
	ino    uint64 // the directory's
}

const watchMask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

func newWatcher(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	w := &watcher{fd: fd, wd: -1}
	if err := w.add(dir); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return w, nil
}

func (w *watcher) add(dir string) error {
	if w.wd >= 0 {
		_, _ = unix.InotifyRmWatch(w.fd, uint32(w.wd)) // gone already, unless moved
	}
	wd, err := unix.InotifyAddWatch(w.fd, dir, watchMask)
	if err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	w.wd, w.ino = wd, st.Ino
	return nil
}

// replaced tells whether dir is no longer the directory watched. The watch says so
// (IN_DELETE_SELF) only once nothing holds the directory, and a follower may hold a file
// of it open.
func (w *watcher) replaced(dir string) bool {
	var st unix.Stat_t
	return unix.Stat(dir, &st) != nil || st.Ino != w.ino
}

func (w *watcher) close() {
	if w != nil {
		unix.Close(w.fd)
	}
}

// wait blocks until something happens in the directory, or timeout milliseconds pass
// (-1: no timeout); it consumes every queued notification. gone: the directory was
// removed or moved (the watch is over).
func (w *watcher) wait(timeout int) (woke, gone bool, err error) {
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, false, os.NewSyscallError("poll", err)
		}
		if n == 0 {
			return false, false, nil
		}
		break
	}
	buf := make([]byte, 16<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return true, gone, nil
		}
		if err != nil {
			return false, false, os.NewSyscallError("read inotify", err)
		}
		if n <= 0 {
			return true, gone, nil
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 && int(ev.Wd) == w.wd {
				gone = true
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}
