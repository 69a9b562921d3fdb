package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/internal/contract"
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
		if os.Getenv(contract.CmClient) != "" {
			unix.CloseOnExec(4) // nor the attach client's socket (run -it, start -ai)
		}
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

// healthMain is one probe of a container's healthcheck, `hutch-health ID`,
// started by the monitor's C half on the check's schedule (container/cmonitor): it
// runs the check, records the result and acts on it (container.Records.Healthcheck),
// and exits. It needs the records and the seccomp cache, not the store.
func healthMain() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "Error: "+container.HealthName+" is one probe of a container's healthcheck, started by the container's monitor; run `hutch healthcheck run CONTAINER` instead")
		os.Exit(125)
	}
	id := os.Args[1]
	_ = os.Chdir("/")
	host, err := Load()
	if err != nil {
		os.Exit(125)
	}
	events.Use(host.EventLog())
	s := &Session{Host: host}
	r := s.Records()
	c, err := r.Get(id)
	if err != nil {
		os.Exit(125)
	}
	h, err := r.Healthcheck(c, container.HealthcheckOptions{Seccomp: s.SeccompCache()})
	if err != nil || h.Status != container.HealthHealthy {
		os.Exit(1)
	}
	os.Exit(0)
}
