package container

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/network"
)

// NetworkSlirp is the default network: slirp4netns behind the container's own network
// namespace, with published ports forwarded by rootlesskit's builtin driver.
const NetworkSlirp = network.ModeSlirp

// newNetns says whether a container on network n gets a network namespace of its own.
func newNetns(n network.Config) bool {
	return n.Mode != NetworkHost && n.Mode != network.ModeContainer
}

// checkNetwork checks the network settings before a container is created: slirp4netns
// and /dev/net/tun when it is used, and that every fixed host port is free and allowed.
func (m *Manager) checkNetwork(s Settings) error {
	if s.Network.Mode == "" {
		return errors.New("internal error: the container's network was not chosen (network.Parse)")
	}
	if s.Network.Mode != NetworkSlirp {
		if len(s.Ports) > 0 || s.PublishAll {
			return &networkError{"-p/--publish and -P need --network slirp4netns (the default): with --network " + s.Network.Mode + " there is nothing to publish to"}
		}
		return nil
	}
	if _, err := network.FindSlirp(m.SlirpPath); err != nil {
		return err
	}
	if err := network.CheckTun(); err != nil {
		return err
	}
	return network.CheckPorts(s.Ports)
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

// netOptions is how the container's network is attached as it starts (launch's
// Options.Network); nil when it has none to attach.
func (m *Manager) netOptions(c *Config, how starting) *network.AttachOptions {
	if c.Network.Mode != NetworkSlirp {
		return nil
	}
	o := &network.AttachOptions{Config: c.Network, Ports: c.Ports, Slirp: m.SlirpPath,
		StateDir: m.netDir(c.ID), Handover: how.handover, Log: how.log}
	if m.NetDir == "" {
		o.StateDir = ""
	}
	return o
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

// removeNetDir removes what a container's network left behind (a monitor killed
// outright cannot clean up).
func (m *Manager) removeNetDir(id string) {
	if m.NetDir != "" {
		_ = os.RemoveAll(m.netDir(id))
	}
}
