package security

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads a compiled program (Program.Bytes) into the calling process, every
// thread of it (TSYNC, in flags): from then on it and everything it executes is
// filtered. It needs no_new_privs, or CAP_SYS_ADMIN in the current user namespace.
func Install(prog []byte, flags uint32) error {
	p, err := programFromBytes(prog, flags)
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(p.Insns)), Filter: &p.Insns[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog)))
	switch {
	case errno == unix.EACCES:
		return fmt.Errorf("installing the seccomp filter: %w (it needs no_new_privs or CAP_SYS_ADMIN)", errno)
	case errno != 0:
		return fmt.Errorf("installing the seccomp filter: %w", errno)
	case r != 0:
		return fmt.Errorf("installing the seccomp filter: thread %d could not be synchronised", r)
	}
	return nil
}
