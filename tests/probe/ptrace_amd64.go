package main

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// injectTIOCSTI makes the stopped tracee pid call ioctl(fd, TIOCSTI, &c) for each
// character of line, and puts it back as it was. The code is the tracee's own: the
// instruction word at its program counter is replaced by "syscall; int3" for the time
// of the calls, the character goes into the word at its stack pointer. It returns
// "injected" or the name of the error the first failing call returned.
func injectTIOCSTI(pid, fd int, line string) (string, error) {
	var saved syscall.PtraceRegs
	if err := syscall.PtraceGetRegs(pid, &saved); err != nil {
		return "", fmt.Errorf("getregs: %w", err)
	}
	text := make([]byte, 8)
	if _, err := syscall.PtracePeekText(pid, uintptr(saved.Rip), text); err != nil {
		return "", fmt.Errorf("peektext: %w", err)
	}
	stack := make([]byte, 8)
	if _, err := syscall.PtracePeekData(pid, uintptr(saved.Rsp), stack); err != nil {
		return "", fmt.Errorf("peekdata: %w", err)
	}
	code := append([]byte{0x0f, 0x05, 0xcc}, text[3:]...) // syscall; int3
	if _, err := syscall.PtracePokeText(pid, uintptr(saved.Rip), code); err != nil {
		return "", fmt.Errorf("poketext: %w", err)
	}
	defer func() {
		_, _ = syscall.PtracePokeText(pid, uintptr(saved.Rip), text)
		_, _ = syscall.PtracePokeData(pid, uintptr(saved.Rsp), stack)
		_ = syscall.PtraceSetRegs(pid, &saved)
	}()
	for i := 0; i < len(line); i++ {
		word := make([]byte, 8)
		copy(word, stack)
		word[0] = line[i]
		if _, err := syscall.PtracePokeData(pid, uintptr(saved.Rsp), word); err != nil {
			return "", fmt.Errorf("pokedata: %w", err)
		}
		regs := saved
		regs.Rax = unix.SYS_IOCTL
		regs.Orig_rax = ^uint64(0) // no system call to restart
		regs.Rdi = uint64(fd)
		regs.Rsi = unix.TIOCSTI
		regs.Rdx = saved.Rsp
		if err := syscall.PtraceSetRegs(pid, &regs); err != nil {
			return "", fmt.Errorf("setregs: %w", err)
		}
		if err := syscall.PtraceCont(pid, 0); err != nil {
			return "", fmt.Errorf("cont: %w", err)
		}
		if err := waitStop(pid, syscall.SIGTRAP); err != nil {
			return "", err
		}
		if err := syscall.PtraceGetRegs(pid, &regs); err != nil {
			return "", fmt.Errorf("getregs: %w", err)
		}
		if ret := int64(regs.Rax); ret < 0 {
			name := errName(syscall.Errno(-ret))
			if i > 0 {
				return fmt.Sprintf("%s after %d characters", name, i), nil
			}
			return name, nil
		}
	}
	return "injected", nil
}
