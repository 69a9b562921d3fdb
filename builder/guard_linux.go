package builder

import (
	"bufio"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"hutch.dev/hutch/storage"
)

// GuardName is the helper that outlives a build killed outright (SIGKILL) on a store
// whose mounts are served by a program (fuse-overlayfs): such a daemon keeps its own
// mount namespace, and so itself, alive. The build tells the guard over a pipe which
// layers it has mounted; if the pipe closes without "done", the guard ends the mount
// programs serving them.
const GuardName = "hutch-build-guard"

type guard struct{ w *os.File }

// startGuard starts the guard when the store mounts through a program; nil otherwise.
func startGuard(graphOptions []string) *guard {
	if !storage.UsesMountProgram(graphOptions) {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{GuardName}, ExtraFiles: []*os.File{r},
		Stdin: null, Stdout: null, Stderr: null, SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	err = cmd.Start()
	r.Close()
	if null != nil {
		null.Close()
	}
	if err != nil {
		w.Close()
		return nil
	}
	go func() { _ = cmd.Wait() }()
	return &guard{w: w}
}

func (g *guard) mounted(id string) {
	if g != nil {
		_, _ = g.w.WriteString("mount " + id + "\n")
	}
}

func (g *guard) unmounted(id string) {
	if g != nil {
		_, _ = g.w.WriteString("unmount " + id + "\n")
	}
}

func (g *guard) done() {
	if g != nil {
		_, _ = g.w.WriteString("done\n")
		g.w.Close()
	}
}

// GuardMain is hutch-build-guard (see GuardName).
func GuardMain() {
	f := os.NewFile(3, "guard")
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		verb, id, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "mount":
			ids[id] = true
		case "unmount":
			delete(ids, id)
		case "done":
			os.Exit(0)
		}
	}
	// The build died: end the mount programs of what it had mounted.
	storage.KillMountPrograms(slices.Collect(maps.Keys(ids))...)
	os.Exit(0)
}
