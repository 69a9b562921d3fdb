package container

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// logCursor reads a container's log files in the order they were written, across
// rotations (PATH is renamed PATH.1, PATH.1 PATH.2 … up to PATH.N-1 with max-file=N,
// and a new PATH begun: monitor.c's rotate, LogFile.rotate). It holds the file it
// reads open, so a file rotated away is still read to its end, and it moves on to
// the file written after it by identity, not by name (the names shift under it while
// it reads). So a reader loses nothing unless the log turns over more than max-file
// times between two of its looks: the file after the one it holds is then deleted
// too.
type logCursor struct {
	path  string
	files int // max-file: the rotated files are PATH.1 … PATH.files-1
	f     *os.File
	rd    *bufio.Reader
	// alive tells whether the writer may still be at work (the container runs): a
	// rotation half done (a name between its rename and its successor) is waited
	// out only then.
	alive func() bool
}

// logTestHook, when set (by tests), is called where a rotation that happens next is
// the hardest on the reader: "eof" after a file is read to its end, "found" once the
// file read is found under its new name, before the file after it is opened.
var logTestHook func(at string)

func (l *logCursor) name(i int) string {
	if i == 0 {
		return l.path
	}
	return l.path + "." + strconv.Itoa(i)
}

func (l *logCursor) set(f *os.File) {
	if l.f != nil {
		l.f.Close()
	}
	l.f = f
	if l.rd == nil {
		l.rd = bufio.NewReader(f)
	} else {
		l.rd.Reset(f)
	}
}

func (l *logCursor) Close() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// openOldest opens the oldest log file there is; false when there is none (an error
// when one is there but cannot be read).
func (l *logCursor) openOldest() (bool, error) {
retry:
	for i := l.files - 1; i >= 0; i-- {
		f, err := os.Open(l.name(i))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return false, err
		}
		// PATH.i+1 was not there a moment ago: if it is now, a rotation moved the
		// file opened before it was opened, and an older one is to be read first.
		if i < l.files-1 {
			if _, err := os.Lstat(l.name(i + 1)); err == nil {
				f.Close()
				goto retry
			}
		}
		l.set(f)
		return true, nil
	}
	return false, nil
}

// read hands every complete entry from the reader's place to the end of its file to
// use. A file emptied under the reader (max-file=1 truncates it) is read again from
// its start.
func (l *logCursor) read(use func(LogEntry)) {
	if fi, err := l.f.Stat(); err == nil {
		if pos, err := l.f.Seek(0, io.SeekCurrent); err == nil && fi.Size() < pos {
			if _, err := l.f.Seek(0, io.SeekStart); err == nil {
				l.rd.Reset(l.f)
			}
		}
	}
	readLog(l.rd, l.f, use)
}

// Where the reader is after advance.
const (
	logCurrent = iota // in the log being written (PATH): at its end for now
	logMoved          // in the file written after the one it had read to its end
	logEnded          // nowhere to go: the log is gone, or its writer died mid-rotation
)

// advance moves to the file written after the one held when that is no longer the
// log being written, handing use what was written to it since it was last read (it is
// whole: a file rotated away is not written to again).
func (l *logCursor) advance(use func(LogEntry)) int {
	for {
		fi, err := l.f.Stat()
		if err != nil {
			return logEnded
		}
		// Where the file held is now. Files only move up (PATH.k to PATH.k+1), one
		// at a time, so a scan upwards cannot pass the file while it moves.
		k := -1
		for i := 0; i < l.files; i++ {
			if pi, err := os.Stat(l.name(i)); err == nil && os.SameFile(fi, pi) {
				k = i
				break
			}
		}
		if k == 0 {
			return logCurrent
		}
		l.read(use)
		switch {
		case k < 0:
			// Rotated past PATH.N-1 (the log turned over max-file times since it was
			// opened; what was written after it is the oldest file, or lost), or
			// removed with the container.
			if ok, _ := l.openOldest(); ok {
				return logMoved
			}
		default:
			if logTestHook != nil {
				logTestHook("found")
			}
			if nf, err := os.Open(l.name(k - 1)); err == nil {
				// Still PATH.k after PATH.k-1 was opened: no rotation came between
				// (one would have moved it first), so nf is the file after it.
				if pi, err := os.Stat(l.name(k)); err == nil && os.SameFile(fi, pi) {
					l.set(nf)
					return logMoved
				}
				nf.Close()
				continue
			}
		}
		// A rotation under way: PATH.k-1 is between its rename and its successor's
		// (or PATH between its rename and its creation).
		if !l.alive() {
			return logEnded
		}
		time.Sleep(5 * time.Millisecond)
	}
}
