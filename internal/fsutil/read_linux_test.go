package fsutil

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var small = Kind{What: "test file", Limit: 16, Fix: "make it smaller"}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err error, needles ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", needles)
	}
	for _, n := range needles {
		if !strings.Contains(err.Error(), n) {
			t.Fatalf("error %q does not mention %q", err, n)
		}
	}
}

// done fails the test if f does not return within a few seconds: a FIFO must never
// block a read.
func done(t *testing.T, f func()) {
	t.Helper()
	c := make(chan struct{})
	go func() { f(); close(c) }()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("the read blocked")
	}
}

func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	write(t, p, "hello")
	b, err := small.Read(p)
	if err != nil || string(b) != "hello" {
		t.Fatalf("Read = %q, %v", b, err)
	}
	// Exactly the limit is fine, one byte more is not.
	write(t, p, strings.Repeat("x", 16))
	if _, err := small.Read(p); err != nil {
		t.Fatalf("a file of exactly the limit: %v", err)
	}
	write(t, p, strings.Repeat("x", 17))
	_, err = small.Read(p)
	wantErr(t, err, "test file "+p, "larger than 16 bytes", "make it smaller")

	// A symlink to a regular file is followed.
	link := filepath.Join(dir, "link")
	write(t, p, "via link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if b, err := small.Read(link); err != nil || string(b) != "via link" {
		t.Fatalf("Read(link) = %q, %v", b, err)
	}

	_, err = small.Read(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	wantErr(t, err, filepath.Join(dir, "missing"))
}

func TestReadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, c := range []struct{ path, what string }{
		{"/dev/zero", "a character device"},
		{zero, "a character device (a symbolic link to /dev/zero)"},
		{fifo, "a named pipe (FIFO)"},
		{sock, "a socket"},
		{dir, "a directory"},
	} {
		done(t, func() {
			_, err := small.Read(c.path)
			wantErr(t, err, c.path, c.what, "not a regular file", "replace it")
			wantErr(t, small.Check(c.path), c.path, c.what)
		})
	}
}

func TestReadBeneath(t *testing.T) {
	ctx := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	write(t, outside, "secret")
	write(t, filepath.Join(ctx, "real"), "inside")
	links := map[string]string{
		"inside":   "real",          // stays in the context: fine
		"abs":      outside,         // an absolute link out
		"rel":      "../" + outside, // climbs out
		"zero":     "/dev/zero",
		"procself": "/proc/self/root/etc/passwd",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(ctx, name)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := small.ReadBeneath(ctx, "inside"); err != nil || string(b) != "inside" {
		t.Fatalf("ReadBeneath(inside) = %q, %v", b, err)
	}
	for _, name := range []string{"abs", "rel", "zero", "procself"} {
		_, err := small.ReadBeneath(ctx, name)
		wantErr(t, err, filepath.Join(ctx, name), "leads out of "+ctx, links[name])
	}
	_, err := small.ReadBeneath(ctx, "../x")
	wantErr(t, err, "leads out of "+ctx)
	if _, err := small.ReadBeneath(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	fifo := filepath.Join(ctx, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done(t, func() {
		_, err := small.ReadBeneath(ctx, "fifo")
		wantErr(t, err, fifo, "a named pipe (FIFO)")
	})
}

func TestReadInRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "etc", "passwd.real"), "root:x:0:0::/root:/bin/sh\n")
	// The image's absolute symlink means a path inside the image, not on the host.
	if err := os.Symlink("/etc/passwd.real", filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	b, err := small.ReadInRoot(root, "/etc/passwd")
	if err == nil {
		t.Fatalf("the limit of 16 bytes was not applied: %q", b)
	}
	big := Kind{What: "user database", Limit: 1 << 10}
	if b, err := big.ReadInRoot(root, "/etc/passwd"); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Fatalf("ReadInRoot = %q, %v", b, err)
	}
	// A symlink to a host device is resolved in the root: there is no such file there.
	if err := os.Symlink("/dev/zero", filepath.Join(root, "etc", "group")); err != nil {
		t.Fatal(err)
	}
	if _, err := big.ReadInRoot(root, "/etc/group"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadInRoot(/etc/group -> /dev/zero) = %v, want not found inside the root", err)
	}
}

func TestReadStream(t *testing.T) {
	b, err := small.ReadStream(strings.NewReader("short"), "standard input")
	if err != nil || string(b) != "short" {
		t.Fatalf("ReadFrom = %q, %v", b, err)
	}
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = small.ReadStream(f, "standard input")
	wantErr(t, err, "test file standard input", "larger than 16 bytes")
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{500 << 10: "500 KiB", 4 << 20: "4 MiB", 1 << 30: "1 GiB", 17: "17 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
