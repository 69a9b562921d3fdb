package container

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// fakeMonitor is the monitor's end of an attach connection, speaking its protocol
// (cmonitor/monitor.c): the terminal's master first, then output, then the status.
type fakeMonitor struct {
	t      *testing.T
	conn   *os.File
	slave  *os.File // the container's end of the terminal
	master *os.File
}

func newFakeMonitor(t *testing.T) (*fakeMonitor, *os.File) {
	t.Helper()
	mine, theirs, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	master, slave, err := openPTY()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		t.Fatal(err)
	}
	m := &fakeMonitor{t: t, conn: theirs, slave: slave, master: master}
	t.Cleanup(func() { theirs.Close(); master.Close(); slave.Close() })
	rights := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(int(theirs.Fd()), []byte{msgMaster}, rights, nil, 0); err != nil {
		t.Fatal(err)
	}
	return m, mine
}

func (m *fakeMonitor) send(kind byte, s string) {
	m.t.Helper()
	if _, err := m.conn.Write(append([]byte{kind}, s...)); err != nil {
		m.t.Fatal(err)
	}
}

// session runs attachSession with stdin and stdout pipes; it returns the stdin writer,
// the stdout reader and the session's outcome.
func session(t *testing.T, conn *os.File, keys []byte) (*os.File, *os.File, chan attached) {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inR.Close(); inW.Close(); outR.Close(); outW.Close() })
	done := make(chan attached, 1)
	go func() {
		a, err := attachSession(conn, IO{Stdin: inR, Stdout: outW, Stderr: outW, DetachKeys: keys}, true, nil)
		if err != nil {
			t.Error(err)
		}
		done <- a
	}()
	return inW, outR, done
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func outcome(t *testing.T, done chan attached) attached {
	t.Helper()
	select {
	case a := <-done:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("the attach session did not end")
	}
	return attached{}
}

// TestAttachSessionDetach: typed input reaches the container's terminal but for the
// detach keys, which end the session (detached), leaving the monitor's end hung up.
func TestAttachSessionDetach(t *testing.T) {
	m, conn := newFakeMonitor(t)
	in, out, done := session(t, conn, []byte{0x10, 0x11})
	m.send(msgOutput, "prompt$ ")
	if got := readN(t, out, 8); got != "prompt$ " {
		t.Fatalf("output: %q", got)
	}
	if _, err := in.Write([]byte("ls\x10x\x10")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, m.slave, 4); got != "ls\x10x" {
		t.Fatalf("the container's terminal read %q, want the typed bytes and the false start", got)
	}
	if _, err := in.Write([]byte("\x11")); err != nil {
		t.Fatal(err)
	}
	if a := outcome(t, done); !a.detached || a.exited {
		t.Fatalf("after ctrl-p ctrl-q: %+v, want detached", a)
	}
	// The monitor sees the client gone.
	b := make([]byte, 8)
	if n, err := m.conn.Read(b); n != 0 || err != io.EOF {
		t.Fatalf("the monitor's end after the detach: %d, %v; want end of file", n, err)
	}
}

// TestAttachSessionExit: the container's status ends the session; with no keys,
// ctrl-p ctrl-q are passed on.
func TestAttachSessionExit(t *testing.T) {
	m, conn := newFakeMonitor(t)
	in, out, done := session(t, conn, nil)
	if _, err := in.Write([]byte("\x10\x11")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, m.slave, 2); got != "\x10\x11" {
		t.Fatalf("with detaching off the container's terminal read %q", got)
	}
	m.send(msgOutput, "bye\r\n")
	m.send(msgExit, "7")
	if a := outcome(t, done); a.detached || !a.exited || a.code != 7 {
		t.Fatalf("after the exit message: %+v, want exited with 7", a)
	}
	if got := readN(t, out, 5); !bytes.Equal([]byte(got), []byte("bye\r\n")) {
		t.Fatalf("output: %q", got)
	}
}
