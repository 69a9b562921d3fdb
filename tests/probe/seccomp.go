package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompCalls are syscalls Docker's default seccomp profile blocks (or answers
// itself), each made with arguments that, without a filter, get a distinctive answer
// from the kernel (EFAULT, EBADF, EINVAL, success …) rather than EPERM, so that a
// filter's EPERM is told apart from the kernel's own refusal.
var seccompCalls = []struct {
	name string
	call func() unix.Errno
}{
	{"keyctl", func() unix.Errno { // KEYCTL_GET_KEYRING_ID of the session keyring
		return raw(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(negOne(3)), 0)
	}},
	{"add_key", func() unix.Errno { // a key in this process's own keyring: gone when it exits
		_, err := unix.AddKey("user", "hutch-probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return errnoOf(err)
	}},
	{"request_key", func() unix.Errno {
		_, err := unix.RequestKey("user", "hutch-probe-none", "", unix.KEY_SPEC_PROCESS_KEYRING)
		return errnoOf(err)
	}},
	{"io_uring_setup", func() unix.Errno { return raw(unix.SYS_IO_URING_SETUP, 1, 0, 0) }}, // NULL params: EFAULT
	{"perf_event_open", func() unix.Errno { // NULL attr: EFAULT
		return raw6(unix.SYS_PERF_EVENT_OPEN, 0, 0, uintptr(negOne(1)), uintptr(negOne(1)), 0, 0)
	}},
	{"personality(READ_IMPLIES_EXEC)", func() unix.Errno {
		r, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, readImpliesExec, 0, 0)
		if e == 0 {
			_, _, _ = unix.RawSyscall(unix.SYS_PERSONALITY, r, 0, 0) // back as it was
		}
		return e
	}},
	{"unshare(CLONE_NEWUSER)", func() unix.Errno { // a multithreaded process: EINVAL
		return raw(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	}},
	{"setns", func() unix.Errno { return raw(unix.SYS_SETNS, uintptr(negOne(1)), 0, 0) }}, // EBADF
	{"mount", func() unix.Errno { return raw6(unix.SYS_MOUNT, 0, 0, 0, 0, 0, 0) }},        // EFAULT
	{"bpf", func() unix.Errno { return raw(unix.SYS_BPF, 1000, 0, 0) }},                   // no such command: EINVAL
	{"userfaultfd", func() unix.Errno {
		r, _, e := unix.RawSyscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|uffdUserModeOnly, 0, 0)
		if e == 0 {
			unix.Close(int(r))
		}
		return e
	}},
	{"open_by_handle_at", func() unix.Errno { // EBADF
		return raw(unix.SYS_OPEN_BY_HANDLE_AT, uintptr(negOne(1)), 0, 0)
	}},
	{"set_mempolicy", func() unix.Errno { return raw(unix.SYS_SET_MEMPOLICY, unix.MPOL_DEFAULT, 0, 0) }},
	{"socket(AF_VSOCK)", func() unix.Errno { return socket(unix.AF_VSOCK) }},
	{"socket(AF_ALG)", func() unix.Errno { return socket(unix.AF_ALG) }},
	// The kernel refuses these itself (EPERM) in a user namespace: listed for the
	// record; the tests do not compare them.
	{"kexec_load", func() unix.Errno { return raw6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0) }},
	// Docker's profile answers ENOSYS, so that libc falls back to clone.
	{"clone3", func() unix.Errno { return raw(unix.SYS_CLONE3, 0, 0, 0) }},
	// Allowed by Docker's profile on kernels from 4.8: ptrace(PTRACE_TRACEME) would
	// succeed, so a harmless PTRACE_PEEKUSR of no process (ESRCH).
	{"ptrace", func() unix.Errno {
		return raw6(unix.SYS_PTRACE, unix.PTRACE_PEEKUSR, uintptr(negOne(1)), 0, 0, 0, 0)
	}},
	// Allowed everywhere: a custom profile may block it.
	{"uname", func() unix.Errno {
		var u unix.Utsname
		return raw(unix.SYS_UNAME, uintptr(unsafe.Pointer(&u)), 0, 0)
	}},
}

// Not in x/sys/unix: linux/personality.h and linux/userfaultfd.h.
const (
	readImpliesExec  = 0x0400000
	uffdUserModeOnly = 1
)

func raw(nr, a1, a2, a3 uintptr) unix.Errno {
	_, _, e := unix.RawSyscall(nr, a1, a2, a3)
	return e
}

func raw6(nr, a1, a2, a3, a4, a5, a6 uintptr) unix.Errno {
	_, _, e := unix.RawSyscall6(nr, a1, a2, a3, a4, a5, a6)
	return e
}

// negOne is -n as a register value.
func negOne(n int) int { return -n }

func socket(family int) unix.Errno {
	fd, err := unix.Socket(family, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	return errnoOf(err)
}

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	if e := unix.Errno(0); errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// seccomp prints the Seccomp: line of /proc/self/status, then one line per syscall:
// NAME ERRNO (ok when it succeeded).
//
//	probe seccomp [NAME…]   only the named calls
func init() {
	probes["seccomp"] = func(args []string) int {
		runtime.LockOSThread()
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "Seccomp:") {
				fmt.Println("Seccomp: " + strings.TrimSpace(strings.TrimPrefix(l, "Seccomp:")))
			}
		}
		for _, c := range seccompCalls {
			if len(args) > 0 && !contains(args, c.name) {
				continue
			}
			e := c.call()
			name := "ok"
			if e != 0 {
				name = unix.ErrnoName(e)
			}
			fmt.Println(c.name, name)
		}
		return 0
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
