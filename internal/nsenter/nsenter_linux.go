// Package nsenter joins the namespaces of a running process before the Go runtime
// starts (see nsenter.c), for `hutch exec` and for signalling containers whose processes
// run as subordinate ids. Import it for its side effect; Join starts such a process.
package nsenter

// #cgo CFLAGS: -Wall -I${SRCDIR}/../contract
// #include <stdlib.h>
import "C"

import (
	"errors"
	"hutch.dev/hutch/internal/contract"
	"os"
	"strconv"
	"unsafe"
)

// Roles a process can have after the constructor ran.
const (
	RoleNone   = ""       // no join was asked for
	RoleJoined = "joined" // joined, no fork
	RoleChild  = "child"  // joined and forked: this is the child, inside the pid namespace
)

// Result is what the constructor did in this process.
type Result struct {
	Role string
	Err  error // the join failed
}

// cgetenv reads the C library's environment, which the constructor changed after the
// Go runtime had taken its own copy.
func cgetenv(k string) string {
	ck := C.CString(k)
	defer C.free(unsafe.Pointer(ck))
	if v := C.getenv(ck); v != nil {
		return C.GoString(v)
	}
	return ""
}

// Outcome reads what the constructor did, and removes its variables from Go's copy of
// the environment so that no process this one starts joins anything.
func Outcome() Result {
	r := Result{Role: cgetenv(contract.NsenterRole)}
	if e := cgetenv(contract.NsenterError); e != "" {
		r.Err = errors.New(e)
	}
	for _, k := range []string{contract.NsenterPID, contract.NsenterFlags, contract.NsenterFork, contract.NsenterDetach} {
		os.Unsetenv(k)
	}
	return r
}

// Env returns the environment entries that make a newly started hutch join the
// namespaces (flags: CLONE_NEW*) of pid. With fork, the process forks into the pid
// namespace and stays behind as a relay of the child (which returns at once with detach).
func Env(pid, flags int, fork, detach bool) []string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	return []string{contract.NsenterPID + "=" + strconv.Itoa(pid), contract.NsenterFlags + "=" + strconv.Itoa(flags),
		contract.NsenterFork + "=" + b(fork), contract.NsenterDetach + "=" + b(detach)}
}
