package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tiocsti tries to type a command into the terminal it was started from, as a hostile
// image would: ioctl(TIOCSTI) pushes characters into a terminal's input queue, and the
// next program to read that terminal (the user's shell, once the container's command
// ends) reads them as if the user had typed them. The kernel allows it only on the
// caller's controlling terminal (and only with dev.tty.legacy_tiocsti=1, or
// CAP_SYS_ADMIN in the initial user namespace).
//
//	probe tiocsti [--report PATH] LINE
//
// It tries fds 0, 1 and 2 and /dev/tty in turn, each with the whole LINE and a newline,
// and reports one line per target: "tiocsti TARGET: injected" or the error's name
// (EPERM, ENOTTY, ENXIO, EIO, …); first a line naming its controlling terminal as
// /proc/self/stat has it ("tiocsti ctty: none" or "tiocsti ctty: DEV"). With --report
// the report goes to PATH (a FIFO the test reads, for a detached process) instead of
// standard output.
func init() {
	probes["tiocsti"] = func(args []string) int {
		report := ""
		if len(args) >= 2 && args[0] == "--report" {
			report, args = args[1], args[2:]
		}
		if len(args) != 1 {
			fmt.Fprintln(os.Stderr, "usage: probe tiocsti [--report PATH] LINE")
			return 2
		}
		var out strings.Builder
		fmt.Fprintf(&out, "tiocsti ctty: %s\n", controllingTerminal())
		line := args[0] + "\n"
		for _, fd := range []int{0, 1, 2} {
			fmt.Fprintf(&out, "tiocsti fd%d: %s\n", fd, inject(fd, line))
		}
		tty, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintf(&out, "tiocsti /dev/tty: %s\n", errName(err))
		} else {
			fmt.Fprintf(&out, "tiocsti /dev/tty: %s\n", inject(tty, line))
			unix.Close(tty)
		}
		if report == "" {
			fmt.Print(out.String())
			return 0
		}
		if err := os.WriteFile(report, []byte(out.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
}

// inject pushes line into fd's terminal one character at a time, as TIOCSTI takes them.
func inject(fd int, line string) string {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); e != 0 {
			err := error(e)
			if i > 0 {
				return fmt.Sprintf("%s after %d characters", errName(err), i)
			}
			return errName(err)
		}
	}
	return "injected"
}

// controllingTerminal is field 7 of /proc/self/stat (tty_nr): 0 when there is none.
func controllingTerminal() string {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	s := string(b)
	// The command name (field 2) is in parentheses and may hold spaces.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 5 {
		return "unknown (" + s + ")"
	}
	if f[4] == "0" {
		return "none"
	}
	return f[4]
}

// errName names an errno as the kernel headers do (EPERM), for the tests to match.
func errName(err error) string {
	var en unix.Errno
	if errors.As(err, &en) {
		if n := unix.ErrnoName(en); n != "" {
			return n
		}
	}
	return err.Error()
}
