package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/rootless-containers/rootlesskit/v2/pkg/port"
	"github.com/rootless-containers/rootlesskit/v2/pkg/port/builtin"
	"golang.org/x/sys/unix"
)

// forwarder runs both halves of rootlesskit's builtin port driver in this process: the
// parent half listens on the host, the child half dials the container's port inside its
// network namespace (entered per connection: this process is root in the user
// namespace that owns it) and hands the connected socket back.
type forwarder struct {
	pd           port.ParentDriver
	quitC, quitP chan struct{}
	ids          []int
	dir          string
	dirFD        *os.File
}

// The builtin driver's files in its state directory.
var driverFiles = []string{".bp.sock", ".bp-ready.pipe"}

func startForwarder(ctx context.Context, dir, netnsPath string, ports []PortMapping) (_ *forwarder, retErr error) {
	for _, f := range driverFiles {
		_ = os.Remove(filepath.Join(dir, f)) // left by a forwarder that was killed
	}
	// The driver's socket is reached through a descriptor of the directory: a unix socket
	// path has at most 107 bytes, and a runtime directory can be longer than that.
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("starting the port forwarder: %w", err)
	}
	pd, err := builtin.NewParentDriver(io.Discard, "/proc/self/fd/"+strconv.Itoa(int(d.Fd())))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("starting the port forwarder: %w", err)
	}
	f := &forwarder{pd: pd, quitC: make(chan struct{}), quitP: make(chan struct{}), dir: dir, dirFD: d}
	defer func() {
		if retErr != nil {
			f.close()
		}
	}()
	cd := builtin.NewChildDriver(io.Discard)
	errC := make(chan error, 2)
	go func() {
		if err := cd.RunChildDriver(pd.OpaqueForChild(), f.quitC, netnsPath); err != nil {
			errC <- fmt.Errorf("the port forwarder (container side): %w", err)
		}
	}()
	initDone := make(chan struct{}, 1)
	go func() {
		if err := pd.RunParentDriver(initDone, f.quitP, nil); err != nil {
			errC <- fmt.Errorf("the port forwarder (host side): %w", err)
		}
	}()
	select {
	case <-initDone:
	case err := <-errC:
		return nil, err
	case <-ctx.Done():
		return nil, fmt.Errorf("the port forwarder did not start in time: %w", ctx.Err())
	}
	for _, p := range ports {
		st, err := pd.AddPort(ctx, port.Spec{Proto: p.Protocol, ParentIP: p.HostIP, ParentPort: p.HostPort,
			ChildIP: "127.0.0.1", ChildPort: p.ContainerPort})
		if err != nil {
			if !errors.Is(err, unix.EADDRINUSE) && strings.Contains(err.Error(), "address already in use") {
				err = unix.EADDRINUSE
			}
			if !errors.Is(err, unix.EACCES) && strings.Contains(err.Error(), "permission denied") {
				err = unix.EACCES
			}
			return nil, bindError(p, err)
		}
		f.ids = append(f.ids, st.ID)
	}
	return f, nil
}

func (f *forwarder) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, id := range f.ids {
		_ = f.pd.RemovePort(ctx, id)
	}
	f.ids = nil
	close(f.quitC)
	close(f.quitP)
	for _, n := range driverFiles {
		_ = os.Remove(filepath.Join(f.dir, n))
	}
	f.dirFD.Close()
}

// HelperMain is `hutch-port`: the port forwarder of a detached container, started by
// its monitor with the container's network namespace on fd 3, a descriptor that reaches
// end of file when the container ends (or the monitor dies) on fd 4, and a pipe for its
// report on fd 5.
func HelperMain() {
	// Executed as /proc/self/exe, it would be called "exe" in ps -o comm.
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("hutch-port\x00")[0])), 0, 0, 0)
	unix.CloseOnExec(3)
	unix.CloseOnExec(4)
	unix.CloseOnExec(5)
	report := os.NewFile(5, "report")
	fail := func(err error) {
		b, _ := json.Marshal(helperReport{Error: err.Error()})
		_, _ = report.Write(b) // a parent gone cannot be told
		os.Exit(1)
	}
	var spec helperSpec
	if err := json.Unmarshal([]byte(os.Getenv(envHelperSpec)), &spec); err != nil {
		fail(fmt.Errorf("internal error: bad %s: %w", envHelperSpec, err))
	}
	// Killed with its monitor (SIGTERM as parent-death signal), it still cleans up.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	f, err := startForwarder(ctx, spec.Dir, "/proc/self/fd/3", spec.Ports)
	cancel()
	if err != nil {
		fail(err)
	}
	_, _ = report.Write([]byte("{}\n"))
	report.Close()
	ended := make(chan struct{})
	go func() {
		b := make([]byte, 1)
		for {
			if _, err := unix.Read(4, b); err != unix.EINTR {
				break
			}
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-sigs:
	}
	f.close()
	os.Exit(0)
}
