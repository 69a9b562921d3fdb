package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLogLineFormats(t *testing.T) {
	now := time.Date(2026, 12, 7, 5, 2, 22, 176707657, time.UTC)
	for _, driver := range []string{LogJSONFile, LogK8sFile} {
		for _, e := range []LogEntry{
			{now, "stdout", "hello \"world\"\n"},
			{now, "stderr", "no newline"},
			{now, "stdout", "\n"},
			{now, "stdout", "tab\tand \x01 and é\n"},
		} {
			b := formatLogLine(driver, e)
			if strings.Count(string(b), "\n") != 1 || !strings.HasSuffix(string(b), "\n") {
				t.Fatalf("%s: %q is not one line", driver, b)
			}
			got, ok := parseLogLine(b)
			if !ok || got != e {
				t.Fatalf("%s: %q read back as %+v (%v), wrote %+v", driver, b, got, ok, e)
			}
		}
	}
	want := `{"log":"hi\n","stream":"stdout","time":"2026-12-07T05:02:22.176707657Z"}` + "\n"
	if got := string(formatLogLine(LogJSONFile, LogEntry{now, "stdout", "hi\n"})); got != want {
		t.Fatalf("json-file line %q, want Docker's %q", got, want)
	}
	if got := string(formatLogLine(LogK8sFile, LogEntry{now, "stderr", "hi\n"})); got != "2026-12-07T05:02:22.176707657Z stderr F hi\n" {
		t.Fatalf("k8s-file line %q", got)
	}
	// hutch's format before log drivers.
	got, ok := parseLogLine([]byte(`{"t":"2026-12-07T05:02:22.176707657Z","s":"stderr","l":"old\n"}`))
	if !ok || got != (LogEntry{now, "stderr", "old\n"}) {
		t.Fatalf("old line read as %+v %v", got, ok)
	}
	for _, bad := range []string{"", "{", "{}", "garbage", "notatime stdout F x"} {
		if _, ok := parseLogLine([]byte(bad)); ok {
			t.Fatalf("%q read as a log entry", bad)
		}
	}
}

func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	r := &Records{Dir: dir}
	c := &Config{ID: "abc", Settings: Settings{LogConfig: &LogConfig{Type: LogJSONFile, Config: map[string]string{"max-size": "1k", "max-file": "3"}}}}
	if err := os.MkdirAll(filepath.Join(dir, "abc"), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := r.OpenLog(c)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		l.Write("stdout", []byte("a line of output\n"))
	}
	l.Write("stderr", []byte("unfinished"))
	l.Close()
	files, _ := filepath.Glob(r.LogPath("abc") + "*")
	if len(files) != 3 || files[0] != r.LogPath("abc") || files[2] != r.LogPath("abc")+".2" {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Size() > 1024 {
			t.Fatalf("%s: %d bytes past max-size 1k", f, fi.Size())
		}
	}
	var out, errs strings.Builder
	if err := r.Logs(c, LogOptions{Tail: 2}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a line of output\n" || errs.String() != "unfinished" {
		t.Fatalf("tail 2: %q %q", out.String(), errs.String())
	}
}

func TestParseLogConfig(t *testing.T) {
	lc, err := ParseLogConfig("", []string{"max-size=10m", "max-file=3"}, "k8s-file")
	if err != nil || lc.Type != LogK8sFile || lc.Config["max-file"] != "3" {
		t.Fatalf("%+v %v", lc, err)
	}
	JournalSocket = filepath.Join(t.TempDir(), "nosocket")
	for _, bad := range [][]string{{"journald"}, {"syslog"}, {"", "max-file=2"}, {"none", "max-size=1k"}, {"", "max-size=-1"}, {"", "x=y"}} {
		if _, err := ParseLogConfig(bad[0], bad[1:], ""); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// TestLogsAcrossRotations: a reader of the log follows it across rotations that come
// at the worst moments (after it read a file to its end, and between finding the file
// it read under its new name and opening the next), several between two of its looks:
// every line, in order.
func TestLogsAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	r := &Records{Dir: dir}
	c := &Config{ID: "abc", Settings: Settings{LogConfig: &LogConfig{Type: LogJSONFile, Config: map[string]string{"max-size": "1k", "max-file": "3"}}}}
	if err := os.MkdirAll(filepath.Join(dir, "abc"), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := r.OpenLog(c)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := 0
	write := func(k int) {
		for ; k > 0; k-- {
			n++
			l.Write("stdout", []byte(fmt.Sprintf("line-%d\n", n)))
		}
	}
	rotate := func() {
		l.mu.Lock()
		l.rotate()
		l.mu.Unlock()
	}
	write(5)
	var eofs, founds, retried int
	logTestHook = func(at string) {
		switch {
		case at == "eof" && eofs < 10:
			eofs++
			write(3)
			rotate()
			write(2)
		case at == "found" && founds < 20:
			// Every other time: the retry after a rotation goes through.
			founds++
			if founds%2 == 1 {
				rotate()
				write(2)
			} else {
				retried++
			}
		}
	}
	defer func() { logTestHook = nil }()
	var out, errs strings.Builder
	if err := r.Logs(c, LogOptions{Tail: -1}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&want, "line-%d\n", i)
	}
	if out.String() != want.String() {
		t.Fatalf("read across rotations (%d rotations after a file's end, %d between finding it and opening the next):\n%s\nwant\n%s", eofs, founds-retried, out.String(), want.String())
	}
	if eofs < 10 || retried < 5 {
		t.Fatalf("the rotations did not come where they were meant to: %d after a file's end, %d retries", eofs, retried)
	}
}

// TestLogCursorTruncated: with max-file=1 the log is emptied when full; a reader at
// its old end goes back to its start.
func TestLogCursorTruncated(t *testing.T) {
	dir := t.TempDir()
	r := &Records{Dir: dir}
	c := &Config{ID: "abc", Settings: Settings{LogConfig: &LogConfig{Type: LogJSONFile, Config: map[string]string{"max-size": "1k"}}}}
	if err := os.MkdirAll(filepath.Join(dir, "abc"), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := r.OpenLog(c)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 10; i++ {
		l.Write("stdout", []byte("before\n"))
	}
	lc := &logCursor{path: r.LogPath(c.ID), files: 1, alive: func() bool { return true }}
	defer lc.Close()
	if ok, err := lc.openOldest(); !ok {
		t.Fatal("no log", err)
	}
	var got []string
	use := func(e LogEntry) { got = append(got, e.Line) }
	lc.read(use)
	l.mu.Lock()
	l.rotate()
	l.mu.Unlock()
	l.Write("stdout", []byte("after\n"))
	if lc.advance(use) != logCurrent {
		t.Fatal("an emptied log is still the log")
	}
	lc.read(use)
	if len(got) != 11 || got[10] != "after\n" {
		t.Fatalf("read across an emptying: %q", got)
	}
}

// TestLogCursorConcurrentWriter: a reader beside a writer that rotates the log as it
// goes, in bursts of up to two files (fewer than max-file), each once the reader has
// read the last: every line, in order, whatever the interleaving of their renames,
// stats and opens.
func TestLogCursorConcurrentWriter(t *testing.T) {
	dir := t.TempDir()
	r := &Records{Dir: dir}
	c := &Config{ID: "abc", Settings: Settings{LogConfig: &LogConfig{Type: LogJSONFile, Config: map[string]string{"max-size": "1k", "max-file": "3"}}}}
	if err := os.MkdirAll(filepath.Join(dir, "abc"), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := r.OpenLog(c)
	if err != nil {
		t.Fatal(err)
	}
	const total = 3000
	var seen atomic.Int64
	var done atomic.Bool
	go func() {
		defer done.Store(true)
		defer l.Close()
		for n := 1; n <= total; {
			burst := 1 + n%25 // ≤ 25 lines of ≤ 80 bytes: at most two rotations of 1k
			for end := min(n+burst, total+1); n < end; n++ {
				l.Write("stdout", []byte(fmt.Sprintf("line-%d\n", n)))
			}
			for seen.Load() < int64(n-1) {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	lc := &logCursor{path: r.LogPath(c.ID), files: 3, alive: func() bool { return !done.Load() }}
	defer lc.Close()
	if ok, err := lc.openOldest(); !ok {
		t.Fatal("no log", err)
	}
	next := int64(1)
	use := func(e LogEntry) {
		if e.Line != fmt.Sprintf("line-%d\n", next) {
			t.Fatalf("read %q, want line-%d", e.Line, next)
		}
		seen.Store(next)
		next++
	}
	for {
		alive := lc.alive()
		lc.read(use)
		if lc.advance(use) == logMoved {
			continue
		}
		if !alive {
			break
		}
		time.Sleep(20 * time.Microsecond)
	}
	if next != total+1 {
		t.Fatalf("read %d lines of %d", next-1, total)
	}
}
