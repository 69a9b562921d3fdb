package nsinit

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// joins are the namespaces of other containers spec's init is cloned into (the
// PidNS, IPCNS, UTSNS and NetNS that are paths).
func joins(spec *Spec) []nsJoin {
	var out []nsJoin
	for _, j := range []nsJoin{{spec.PidNS, "pid", unix.CLONE_NEWPID}, {spec.IPCNS, "ipc", unix.CLONE_NEWIPC},
		{spec.UTSNS, "uts", unix.CLONE_NEWUTS}, {spec.NetNS, "net", unix.CLONE_NEWNET}} {
		if strings.HasPrefix(j.path, "/") {
			out = append(out, j)
		}
	}
	return out
}

type nsJoin struct {
	path, name string
	flag       int
}

// startJoined starts cmd; when spec joins other containers' namespaces, from a thread
// that joined them first (setns: the pid namespace as the one of its children, the
// others as its own), so that the clone is born in them. That thread cannot return to
// hutch's namespaces (they are the host's, which hutch's user namespace does not own),
// and the init's parent-death signal is tied to it: it stays parked, locked to its
// goroutine, for the life of this process (one thread per such start), or until this
// process executes another program from it (the returned thread's Exec: a detached
// container's monitor hands over to its C half so). It returns nil when nothing is
// joined (cmd was started from the caller's thread).
func startJoined(cmd *exec.Cmd, spec *Spec) (*joinedThread, error) {
	js := joins(spec)
	if len(js) == 0 {
		return nil, cmd.Start()
	}
	t := &joinedThread{exec: make(chan execRequest)}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		for _, j := range js {
			f, err := os.Open(j.path)
			if err == nil {
				err = unix.Setns(int(f.Fd()), j.flag)
				f.Close()
			}
			if err != nil {
				// The goroutine ends locked: Go ends its thread, nothing was started.
				done <- fmt.Errorf("joining the %s namespace %s: %w (has that container stopped?)", j.name, j.path, err)
				return
			}
		}
		err := cmd.Start()
		done <- err
		if err != nil {
			return
		}
		// Parked (a goroutine locked to its thread keeps it) until an Exec.
		for req := range t.exec {
			req.err <- unix.Exec(req.path, req.argv, req.env)
		}
	}()
	return t, <-done
}

// joinedThread is the thread an init was cloned from in other containers' namespaces.
type joinedThread struct{ exec chan execRequest }

type execRequest struct {
	path      string
	argv, env []string
	err       chan error
}

// Exec executes path in place of this process from the joined thread (which survives
// the exec as the new program's only thread: the init's parent-death signal stays
// armed), the process entering that thread's namespaces. It returns only on failure.
func (t *joinedThread) Exec(path string, argv, env []string) error {
	req := execRequest{path: path, argv: argv, env: env, err: make(chan error, 1)}
	t.exec <- req
	return <-req.err
}
