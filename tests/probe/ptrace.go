package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ptrace-tiocsti is the background variant of tiocsti: a process already running in the
// container waits for another one named COMM to appear (a command the user starts with
// `hutch exec`), attaches to it with ptrace and makes it call ioctl(TIOCSTI) on its own
// fds 0, 1 and 2, so that the characters are typed into that process's controlling
// terminal — the user's, if hutch left it that. It then kills the target (so that the
// user's `hutch exec` ends) and exits.
//
//	probe ptrace-tiocsti COMM LINE
//
// Report lines: "ptrace target: PID", "ptrace ctty: …" (the target's, as tiocsti reports
// its own), then "ptrace attach: ok" or the error, and "ptrace fdN: injected" or the
// error the target's ioctl returned.
func init() {
	probes["ptrace-tiocsti"] = func(args []string) int {
		if len(args) != 2 {
			fmt.Fprintln(os.Stderr, "usage: probe ptrace-tiocsti COMM LINE")
			return 2
		}
		comm, line := args[0], args[1]+"\n"
		fmt.Printf("ptrace waiting for: %s\n", comm)
		pid := waitForComm(comm)
		fmt.Printf("ptrace target: %d\n", pid)
		fmt.Printf("ptrace ctty: %s\n", ttyOf(pid))
		// Every ptrace request must come from the thread that attached.
		runtime.LockOSThread()
		defer func() { _ = syscall.Kill(pid, syscall.SIGKILL) }()
		if err := syscall.PtraceAttach(pid); err != nil {
			fmt.Printf("ptrace attach: %s\n", errName(err))
			return 0
		}
		if err := waitStop(pid, syscall.SIGSTOP); err != nil {
			fmt.Printf("ptrace attach: %v\n", err)
			return 0
		}
		fmt.Println("ptrace attach: ok")
		for _, fd := range []int{0, 1, 2} {
			res, err := injectTIOCSTI(pid, fd, line)
			if err != nil {
				fmt.Printf("ptrace fd%d: injection failed: %v\n", fd, err)
				return 1
			}
			fmt.Printf("ptrace fd%d: %s\n", fd, res)
			if res == "injected" {
				break
			}
		}
		_ = syscall.PtraceDetach(pid)
		return 0
	}
}

// waitForComm polls /proc until a process other than this one has the name comm.
func waitForComm(comm string) int {
	self := os.Getpid()
	for {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/comm")
			if err == nil && strings.TrimSpace(string(b)) == comm {
				return pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ttyOf is the controlling terminal of pid, as controllingTerminal reads its own.
func ttyOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 5 {
		return "unknown"
	}
	if f[4] == "0" {
		return "none"
	}
	return f[4]
}

// waitStop waits until the tracee stops with sig.
func waitStop(pid int, sig syscall.Signal) error {
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
			if err == syscall.EINTR {
				continue
			}
			return err
		}
		if !ws.Stopped() {
			return fmt.Errorf("the target did not stop (wait status %#x)", uint32(ws))
		}
		if ws.StopSignal() == sig {
			return nil
		}
		return fmt.Errorf("the target stopped with %v, not %v", ws.StopSignal(), sig)
	}
}
