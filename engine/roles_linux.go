package engine

import (
	"fmt"
	"os"

	"go.podman.io/storage/pkg/reexec"

	"hutch.dev/hutch/builder"
	"hutch.dev/hutch/container"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/userns"
)

// Role is a name hutch is executed under (as argv[0], through /proc/self/exe) to be a
// helper process instead of the CLI, and what that process runs.
type Role struct {
	Name string
	Main func()
	// What the process is, who starts it, and how it is told what to do.
	What string
}

// Roles are every helper process hutch becomes, in one table: main() runs the one
// os.Args[0] names (reexec.Init) before anything else. go.podman.io/storage registers
// its own (storage-untar, storage-applyDiff, …) in its packages.
var Roles = []Role{
	{nsinit.InitName, nsinit.InitMain,
		"a container's init: started by run/start in new namespaces, reads the spec on fd 3, builds the root, pivots, drops capabilities and executes the command (nsinit/init_linux.go)"},
	{nsinit.ExecName, nsinit.ExecMain,
		"a command in a running container (`hutch exec`): the C constructor joins the container's namespaces (contract.Nsenter*) and forks; the spec is in contract.Exec (nsinit/exec_linux.go)"},
	{container.MonitorName, monitorMain,
		"a detached container's monitor: started by run -d/start, mounts and starts the container, reports on fd 3, then hands over to its C half (container/cmonitor), which executes it again as `hutch-monitor ID exited STATUS` (engine/monitor_linux.go)"},
	{container.HealthName, healthMain,
		"one probe of a container's healthcheck: started by the monitor's C half on the check's schedule (contract.CmHealth), runs the check as an exec, records the result and applies --health-on-failure (engine/monitor_linux.go, container/health_linux.go)"},
	{container.SignalName, container.SignalMain,
		"signals a container process that runs as a subordinate id, from inside hutch's user namespace (joined by the C constructor) (container/control_linux.go)"},
	{network.HelperName, network.HelperMain,
		"hutch-port, the port forwarder of a detached container: started by its monitor with the network namespace on fd 3 and the spec in contract.PortSpec (network/forward_linux.go)"},
	{builder.GuardName, builder.GuardMain,
		"outlives a build killed outright, to end the fuse-overlayfs daemons serving its mounts; told what is mounted on fd 3 (builder/guard_linux.go)"},
	{userns.HolderName, holderMain,
		"holds the kept user namespace: started by the first command that needs it (userns.EnsureKept) with contract.Hold and pipes on fds 3-4; its C constructor never returns (internal/nsenter/kept.c), so this main runs only when it was started some other way"},
}

// holderMain is hutch-holder started without contract.Hold: nothing to hold.
func holderMain() {
	fmt.Fprintln(os.Stderr, "Error: "+userns.HolderName+" holds hutch's kept user namespace and is started by hutch itself, never by hand")
	os.Exit(125)
}

func init() {
	for _, r := range Roles {
		reexec.Register(r.Name, r.Main)
	}
}
