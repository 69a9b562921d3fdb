package container

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

// NetworkSlirp is the default network: slirp4netns behind the container's own network
// namespace, with published ports forwarded by rootlesskit's builtin driver.
const NetworkSlirp = network.ModeSlirp

// attachTimeout bounds how long slirp4netns and the port forwarder may take to come up.
const attachTimeout = 20 * time.Second

// newNetns says whether the container gets a network namespace of its own.
func newNetns(o Options) bool { return o.Network != NetworkHost }

// checkNetwork validates the network options before a container is created: the mode,
// slirp4netns and /dev/net/tun when it is used, and that every fixed host port is free
// and allowed.
func (m *Manager) checkNetwork(o *Options) error {
	if o.NetworkOptions == nil || o.NetworkOptions.Mode != o.Network {
		c, err := network.Parse(o.Network, network.Defaults{})
		if err != nil {
			return err
		}
		o.Network, o.NetworkOptions = c.Mode, &c
	}
	if o.Network != NetworkSlirp {
		if len(o.Ports) > 0 || o.PublishAll {
			return &networkError{"-p/--publish and -P need --network slirp4netns (the default): with --network " + o.Network + " there is nothing to publish to"}
		}
		return nil
	}
	if _, err := network.FindSlirp(m.SlirpPath); err != nil {
		return err
	}
	if err := network.CheckTun(); err != nil {
		return err
	}
	return network.CheckPorts(o.Ports)
}

type networkError struct{ msg string }

func (e *networkError) Error() string { return e.msg }

// netDir is where the network of container id keeps its state.
func (m *Manager) netDir(key string) string {
	if len(key) > 12 {
		key = key[:12]
	}
	return filepath.Join(m.NetDir, key)
}

// pendingNet is a network being attached in the background, while the container is
// set up.
type pendingNet struct {
	done chan struct{}
	att  *network.Attachment
	err  error
}

// attachNetwork starts connecting the network namespace of the init pid for a container
// with options o; key names its state directory. It returns at once (nil for a
// container without slirp4netns); wait gives the result.
func (m *Manager) attachNetwork(o Options, key string, pid int, ports []network.PortMapping, handover bool, log io.Writer) *pendingNet {
	if o.Network != NetworkSlirp {
		return nil
	}
	p := &pendingNet{done: make(chan struct{})}
	opts := network.AttachOptions{Config: netConfig(o), Ports: ports, Slirp: m.SlirpPath,
		StateDir: m.netDir(key), Handover: handover, Log: log}
	if m.NetDir == "" {
		opts.StateDir = ""
	}
	run := func() {
		defer close(p.done)
		ctx, cancel := context.WithTimeout(context.Background(), attachTimeout)
		defer cancel()
		p.att, p.err = network.Attach(ctx, pid, opts)
	}
	if handover {
		run() // on this (locked) thread: the parent-death signal belongs to it
	} else {
		go run()
	}
	return p
}

// wait waits for the network; nil when the container has none to attach.
func (p *pendingNet) wait() (*network.Attachment, error) {
	if p == nil {
		return nil, nil
	}
	<-p.done
	return p.att, p.err
}

// close ends the network (when it came up).
func (p *pendingNet) close() {
	if att, err := p.wait(); err == nil && att != nil {
		att.Close()
	}
}

// publish publishes the container's ports on a network attached without them, before
// the container had an id: its state directory takes the id's name now, so that `rm`
// finds it when this process is killed outright.
func (m *Manager) publish(att *network.Attachment, c *Config) error {
	if att == nil {
		return nil
	}
	if m.NetDir != "" {
		if err := att.Move(m.netDir(c.ID)); err != nil {
			return err
		}
	}
	if len(c.Options.Ports) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), attachTimeout)
	defer cancel()
	return att.Publish(ctx, c.Options.Ports)
}

// handoverEnv gives the C half of the monitor the network's descriptor and processes.
func handoverEnv(att *network.Attachment) (*os.File, []string) {
	if att == nil {
		return nil, nil
	}
	f, slirp, helper := att.Handover()
	return f, []string{contract.CmNetFD + "=" + strconv.Itoa(int(f.Fd())), contract.CmSlirp + "=" + strconv.Itoa(slirp),
		contract.CmPorts + "=" + strconv.Itoa(helper)}
}

// reapNetwork waits (a moment at most) for the port forwarder the C half of the monitor
// handed back in contract.NetPIDs: it ends when the C half executes hutch again, and the
// exit is recorded only once it did, so that `stop` returns with the ports free again.
func reapNetwork() {
	v := os.Getenv(contract.NetPIDs)
	os.Unsetenv(contract.NetPIDs)
	// slirp4netns, the first, is not waited for (network.Attachment.Close says why).
	if _, ports, ok := strings.Cut(v, ","); ok {
		pid, _ := strconv.Atoi(ports)
		if pid <= 0 {
			return
		}
		done := make(chan struct{})
		go func() {
			var ws unix.WaitStatus
			for {
				if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
					break
				}
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = unix.Kill(pid, unix.SIGKILL)
			<-done
		}
	}
}

// netFailed handles a network that could not be attached to the init proc: when the
// init died meanwhile (its own set-up failed, and its network namespace went with it),
// its failure is the one to report; otherwise the init is killed and err reported.
func netFailed(proc *nsinit.Process, err error) (int, error) {
	// An init that failed may still be on its way out (its namespaces go before it is
	// a zombie): give it a moment (only on this error path).
	for i := 0; i < 20 && network.Alive(proc.Pid()); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if !network.Alive(proc.Pid()) {
		// Dead, it cannot run the command: Release only reads why it ended.
		if rerr := proc.Release(); rerr != nil {
			var ee *nsinit.ExecError
			if errors.As(rerr, &ee) {
				return ee.Code, ee
			}
		}
	}
	proc.Kill()
	return nsinit.ExitEngine, err
}

// removeNetDir removes what a container's network left behind (a monitor killed
// outright cannot clean up).
func (m *Manager) removeNetDir(id string) {
	if m.NetDir != "" {
		_ = os.RemoveAll(m.netDir(id))
	}
}
