package engine

import (
	"encoding/json"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/events"
)

// monitorMain is a detached container's monitor (the hutch-monitor role): started by
// `run -d`/`start` inside hutch's namespaces, with fd 3 on which it reports the
// container's start. A role's main function is the process's main: it exits.
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
			_, _ = ready.Write(b) // a parent gone cannot be told
		}
		os.Exit(1)
	}
	_ = os.Chdir("/")
	host, err := Load()
	if err != nil {
		fail(err)
	}
	events.Use(host.EventLog())
	// The store is opened without the host's warnings: they are the user's commands' to
	// print, on a terminal, not a monitor's.
	st, err := host.OpenStore()
	if err != nil {
		fail(err)
	}
	s := &Session{Host: host, store: st}
	m, err := s.Containers()
	if err != nil {
		fail(err)
	}
	code := m.Monitor(os.Args[1], ready, exited)
	s.Close()
	os.Exit(code)
}
