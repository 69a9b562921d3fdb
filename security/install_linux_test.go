package security

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain doubles as the child of TestKernelFilter: with HUTCH_TEST_SECCOMP_CHILD set, it
// installs the builtin filter and reports what the kernel answers.
func TestMain(m *testing.M) {
	if os.Getenv("HUTCH_TEST_SECCOMP_CHILD") != "" {
		os.Exit(seccompChild())
	}
	os.Exit(m.Run())
}

func seccompChild() int {
	runtime.LockOSThread()
	p, err := (&Cache{}).Program(Seccomp{Mode: SeccompBuiltin}, defaultCaps)
	if err != nil {
		fmt.Println("compile:", err)
		return 1
	}
	b := p.Bytes()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("no_new_privs:", err)
		return 1
	}
	start := time.Now()
	if err := Install(b, p.Flags); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("installed %d instructions in %v\n", len(p.Insns), time.Since(start))
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Seccomp:") {
			fmt.Println(strings.Join(strings.Fields(l), " "))
		}
	}
	_, _, e := unix.Syscall(unix.SYS_KEYCTL, 0, 0, 0)
	fmt.Println("keyctl:", errName(e))
	_, _, e = unix.Syscall(unix.SYS_PERSONALITY, 0x0400000, 0, 0)
	fmt.Println("personality:", errName(e))
	var u unix.Utsname
	fmt.Println("uname:", errName(errnoOf(unix.Uname(&u))))
	// A new thread gets the filter too (TSYNC, and inherited).
	done := make(chan unix.Errno)
	go func() {
		runtime.LockOSThread()
		_, _, e := unix.Syscall(unix.SYS_ADD_KEY, 0, 0, 0)
		done <- e
	}()
	fmt.Println("add_key in a new thread:", errName(<-done))
	return 0
}

func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

func errName(e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	return unix.ErrnoName(e)
}

// TestKernelFilter loads the compiled default profile into a real process: the kernel
// accepts it and it answers as Docker's does.
func TestKernelFilter(t *testing.T) {
	if !Supported() {
		t.Skip()
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HUTCH_TEST_SECCOMP_CHILD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	for _, want := range []string{"Seccomp: 2", "keyctl: EPERM", "personality: EPERM", "uname: ok", "add_key in a new thread: EPERM"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("missing %q", want)
		}
	}
}
