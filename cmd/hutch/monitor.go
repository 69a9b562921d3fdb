package main

import (
	"encoding/json"
	"os"
	"strconv"

	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/engine"
)

func init() {
	reexec.Register(container.MonitorName, monitorMain)
}

// monitorMain is a detached container's monitor: started by `run -d`/`start` inside
// hutch's namespaces, with fd 3 on which it reports the container's start.
func monitorMain() {
	// `hutch-monitor ID` starts the container (fd 3 hears how that went);
	// `hutch-monitor ID exited STATUS` is the C half handing back when it ended.
	var ready *os.File
	var exited *int
	if len(os.Args) == 4 && os.Args[2] == "exited" {
		code, _ := strconv.Atoi(os.Args[3])
		exited = &code
	} else {
		// Nothing the monitor starts (fuse-overlayfs, the container) may hold the
		// report pipe open: its reader waits for the report, not for end-of-file.
		unix.CloseOnExec(3)
		ready = os.NewFile(3, "ready")
	}
	fail := func(err error) {
		if ready != nil {
			b, _ := json.Marshal(map[string]any{"code": 125, "error": err.Error()})
			ready.Write(b)
		}
		os.Exit(1)
	}
	_ = os.Chdir("/")
	host, err := engine.Load()
	if err != nil {
		fail(err)
	}
	s, err := host.OpenStore()
	if err != nil {
		fail(err)
	}
	a := &app{host: host, store: s}
	m, err := a.manager()
	if err != nil {
		fail(err)
	}
	code := m.Monitor(os.Args[1], ready, exited)
	s.Shutdown(false)
	os.Exit(code)
}
