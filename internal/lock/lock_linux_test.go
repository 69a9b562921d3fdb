package lock

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envChild makes the test binary a lock holder: it takes the lock at the path in the
// variable, prints "locked", and holds it until its standard input closes.
const envChild = "HUTCH_LOCK_TEST_HOLDER"

func TestMain(m *testing.M) {
	if p := os.Getenv(envChild); p != "" {
		l, err := Acquire(p, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		l.Unlock()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for Acquire's waiting goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// holder starts a child process that holds the lock at path; closing the returned
// writer makes it release the lock and exit.
func holder(t *testing.T, path string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return cmd, stdin
}

type acquired struct {
	l   *Lock
	err error
	at  time.Time
}

func acquireAsync(path string, w io.Writer) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		l, err := Acquire(path, w)
		ch <- acquired{l, err, time.Now()}
	}()
	return ch
}

func TestAcquireUncontended(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hutch.lock")
	var out syncBuffer
	start := time.Now()
	l, err := Acquire(path, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("an uncontended lock took %v", d)
	}
	if out.String() != "" {
		t.Errorf("an uncontended lock printed %q", out.String())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, want 0600", fi.Mode().Perm())
	}
	want := "PID " + strconv.Itoa(os.Getpid()) + " ("
	if h := Holder(path); !strings.HasPrefix(h, want) || !strings.Contains(h, "lock.test") {
		t.Errorf("Holder = %q, want %q… naming the command line", h, want)
	}
}

func TestAcquireWaitsForAnotherProcessAndNamesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hutch.lock")
	cmd, release := holder(t, path)
	var out syncBuffer
	start := time.Now()
	ch := acquireAsync(path, &out)

	select {
	case a := <-ch:
		t.Fatalf("Acquire returned (%v) while another process holds the lock", a.err)
	case <-time.After(1200 * time.Millisecond):
	}
	want := fmt.Sprintf("hutch: waiting for the lock %s, held by PID %d (", path, cmd.Process.Pid)
	got := out.String()
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ")\n") || strings.Count(got, "\n") != 1 {
		t.Fatalf("while waiting printed %q, want one line starting %q", got, want)
	}
	if !strings.Contains(got, "-test.run=^$") {
		t.Errorf("the holder line %q does not show the holder's command line", got)
	}

	release.Close()
	var a acquired
	select {
	case a = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire did not return after the holder released the lock")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.l.Unlock()
	if a.at.Sub(start) < 1200*time.Millisecond {
		t.Errorf("Acquire returned after %v, before the holder released", a.at.Sub(start))
	}
	if h := Holder(path); !strings.HasPrefix(h, "PID "+strconv.Itoa(os.Getpid())+" (") {
		t.Errorf("after taking the lock, Holder = %q, want this process", h)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("printed %q, want exactly one line", out.String())
	}
}

func TestAcquireShortWaitPrintsNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hutch.lock")
	_, release := holder(t, path)
	var out syncBuffer
	ch := acquireAsync(path, &out)
	time.Sleep(100 * time.Millisecond)
	release.Close()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatal(a.err)
		}
		a.l.Unlock()
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire did not return")
	}
	time.Sleep(600 * time.Millisecond) // the waiting goroutine's timer would have fired
	if out.String() != "" {
		t.Errorf("a wait of about 0.1 s printed %q", out.String())
	}
}

func TestAcquireAfterHolderDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hutch.lock")
	cmd, _ := holder(t, path)
	ch := acquireAsync(path, nil) // a nil writer is allowed
	time.Sleep(700 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatal(a.err)
		}
		a.l.Unlock()
	case <-time.After(10 * time.Second):
		t.Fatal("a dead holder still blocks the lock")
	}
}

func TestAcquireConflictsWithinOneProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hutch.lock")
	first, err := Acquire(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	ch := acquireAsync(path, &out)
	select {
	case <-ch:
		t.Fatal("a second Acquire in the same process did not wait")
	case <-time.After(700 * time.Millisecond):
	}
	if want := "held by PID " + strconv.Itoa(os.Getpid()); !strings.Contains(out.String(), want) {
		t.Errorf("printed %q, want it to contain %q", out.String(), want)
	}
	first.Unlock()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatal(a.err)
		}
		a.l.Unlock()
	case <-time.After(10 * time.Second):
		t.Fatal("Unlock did not release the lock")
	}
	// Unlock is idempotent and nil-safe.
	first.Unlock()
	var nilLock *Lock
	nilLock.Unlock()
}

func TestAcquireRecordReplacesLongerOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hutch.lock")
	if err := os.WriteFile(path, []byte("999999 "+strings.Repeat("a-very-long-old-command-line ", 20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "a-very-long-old") || strings.Count(string(b), "\n") != 1 {
		t.Errorf("the old record was not replaced: %q", b)
	}
}

func TestAcquireUnopenablePath(t *testing.T) {
	_, err := Acquire(filepath.Join(t.TempDir(), "missing", "hutch.lock"), nil)
	if err == nil || !strings.Contains(err.Error(), "opening lock") {
		t.Errorf("err = %v", err)
	}
}

func TestHolder(t *testing.T) {
	dir := t.TempDir()
	if h := Holder(filepath.Join(dir, "missing")); h != "another process" {
		t.Errorf("missing file: %q", h)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if h := Holder(empty); h != "another process" {
		t.Errorf("empty record: %q", h)
	}
	rec := filepath.Join(dir, "rec")
	if err := os.WriteFile(rec, []byte("1234 hutch rmi foo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if h := Holder(rec); h != "PID 1234 (hutch rmi foo)" {
		t.Errorf("Holder = %q", h)
	}
}

// TestShared: shared holders hold at once and keep the exclusive lock out; the
// exclusive holder keeps shared ones out.
func TestShared(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	try := func(how int) error {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	}
	a, err := Shared(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Shared(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := try(syscall.LOCK_EX); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("an exclusive lock while two shared ones are held: %v, want EWOULDBLOCK", err)
	}
	a.Unlock()
	if err := try(syscall.LOCK_EX); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("an exclusive lock while one shared one is held: %v, want EWOULDBLOCK", err)
	}
	b.Unlock()
	x, err := Acquire(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := try(syscall.LOCK_SH); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("a shared lock while the exclusive one is held: %v, want EWOULDBLOCK", err)
	}
	got := make(chan error, 1)
	go func() {
		s, err := Shared(p)
		s.Unlock()
		got <- err
	}()
	x.Unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
