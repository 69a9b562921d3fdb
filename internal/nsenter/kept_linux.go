package nsenter

// #cgo CFLAGS: -Wall -I${SRCDIR}/../contract
// #include <stdlib.h>
// int hutch_kept_joined(void);
// int hutch_kept_own_mounts(void);
// const char *hutch_kept_state(void);
// const char *hutch_kept_dir(void);
// const char *hutch_kept_paths(void);
// const char *hutch_kept_miss(void);
// long hutch_kept_pid(void);
// unsigned long long hutch_kept_start(void);
// int hutch_kept_wants(int argc, char **argv);
// int hutch_kept_store_flags(int argc, char **argv);
// const char *hutch_kept_verdict(char *dir, size_t size, char **paths);
// void hutch_verdict_token(const char *path, char *out, size_t size);
// int hutch_verdict_nenv(void);
// const char *hutch_verdict_env(int i);
// void hutch_kept_stamp(const char *path, char *out, size_t size);
// unsigned long long hutch_kept_proc_start(long pid);
// void hutch_kept_lookpath(const char *name, char *out, size_t size);
// int hutch_kept_same_dir(long pid, const char *path, int fd);
import "C"

import (
	"os"
	"unsafe"

	"hutch.dev/hutch/internal/contract"
)

// Kept is what the constructor did about the kept user namespace (kept.c).
type Kept struct {
	Joined bool
	// State is the holder's state (userns.State, JSON) as its file holds it.
	State []byte
	// Dir is the runtime directory the holder's file was found in.
	Dir string
	// Paths are the paths the verdict the constructor found holding names (JSON of
	// config.Paths; config/verdict_linux.go): checked as the plain user, and unchanged
	// since.
	Paths []byte
	// PID and Start (clock ticks after boot) are the holder joined.
	PID   int
	Start uint64
	// OwnMounts: this process joined the user namespace only and has a mount
	// namespace of its own (a build, or a command from a mount namespace other than
	// the one the kept one was copied from).
	OwnMounts bool
	// Miss says why the constructor did not join although the command line wanted it
	// to ("" when it did, or did not want to): Go then enters through EnsureKept.
	Miss string
}

// KeptOutcome reads what the constructor did (nothing, unless this process joined the
// kept namespace before its Go runtime started), and removes the forced-join request
// from Go's copy of the environment so that nothing this process starts inherits it.
func KeptOutcome() Kept {
	os.Unsetenv(contract.KeptJoin)
	os.Unsetenv(contract.KeptDir)
	os.Unsetenv(contract.OwnMounts)
	if C.hutch_kept_joined() == 0 {
		return Kept{Miss: C.GoString(C.hutch_kept_miss())}
	}
	return Kept{Joined: true, State: []byte(C.GoString(C.hutch_kept_state())), Dir: C.GoString(C.hutch_kept_dir()),
		Paths: []byte(C.GoString(C.hutch_kept_paths())), PID: int(C.hutch_kept_pid()),
		Start: uint64(C.hutch_kept_start()), OwnMounts: C.hutch_kept_own_mounts() != 0}
}

// KeptWants says how the command line args (args[0] the program) wants the kept
// namespace: 0 not at all, 1 joined, 2 joined with a mount namespace of its own.
func KeptWants(args []string) int {
	argv, free := cArgv(args)
	defer free()
	return int(C.hutch_kept_wants(C.int(len(args)), &argv[0]))
}

// KeptStoreFlags says whether the command line args (args[0] the program) has a global
// flag that moves the store, with which the constructor does not join.
func KeptStoreFlags(args []string) bool {
	argv, free := cArgv(args)
	defer free()
	return C.hutch_kept_store_flags(C.int(len(args)), &argv[0]) != 0
}

// cArgv is args as a C argv (NULL-terminated), and what frees it.
func cArgv(args []string) ([]*C.char, func()) {
	argv := make([]*C.char, len(args)+1)
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	return argv, func() {
		for _, p := range argv {
			if p != nil {
				C.free(unsafe.Pointer(p))
			}
		}
	}
}

// Verdict is what the constructor finds of the verdict on the user's paths from this
// process's environment: the runtime directory and the paths when it holds, else why not.
func Verdict() (dir string, paths []byte, why string) {
	buf := make([]byte, 4096)
	var cp *C.char
	w := C.hutch_kept_verdict((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &cp)
	if w != nil {
		return "", nil, C.GoString(w)
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), []byte(C.GoString(cp)), ""
}

// VerdictToken is the constructor's token of path (config.Token writes the same).
func VerdictToken(path string) string {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	buf := make([]byte, 256)
	C.hutch_verdict_token(cp, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}

// VerdictEnv lists the variables the constructor compares (config.VerdictEnv's).
func VerdictEnv() []string {
	var out []string
	for i := 0; i < int(C.hutch_verdict_nenv()); i++ {
		out = append(out, C.GoString(C.hutch_verdict_env(C.int(i))))
	}
	return out
}

// KeptStamp is the constructor's stamp of path (see userns: the two must agree).
func KeptStamp(path string) string {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	buf := make([]byte, 160)
	C.hutch_kept_stamp(cp, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}

// KeptLookPath is where the constructor finds an id-mapping helper ("-": nowhere).
func KeptLookPath(name string) string {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	buf := make([]byte, 4096)
	C.hutch_kept_lookpath(cn, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}

// ProcStart is the constructor's reading of a process's start time (0: gone).
func ProcStart(pid int) uint64 { return uint64(C.hutch_kept_proc_start(C.long(pid))) }

// KeptSameDir is the constructor's test of the working directory before it joins the
// kept mount namespace: whether path, resolved in the mount namespace of process pid,
// is the directory open as f.
func KeptSameDir(pid int, path string, f *os.File) bool {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return C.hutch_kept_same_dir(C.long(pid), cp, C.int(f.Fd())) != 0
}
