package container

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
)

// checkProcess checks the process settings against this host: the hard limits (an
// unprivileged user can only lower them), and the sysctls' namespaces.
func checkProcess(s Settings) error {
	for _, r := range s.Ulimits {
		if err := nsinit.CheckRlimit(r); err != nil {
			return err
		}
	}
	for _, h := range s.Network.ExtraHosts {
		if name, ip, _ := strings.Cut(h, ":"); ip == network.HostGateway && s.Network.Mode == network.ModeNone {
			return fmt.Errorf("--add-host %s:host-gateway: with --network none the container has no way to the host; leave --network none out, or give an address", name)
		}
	}
	for k := range s.Sysctls {
		if err := nsinit.CheckSysctl(k, newNetns(s.Network), s.IpcMode == ""); err != nil {
			return err
		}
	}
	return nil
}

// addGroups adds --group-add's groups (names from the image's /etc/group, or ids) to
// u's supplementary groups (keep-groups: see the spec's KeepGroups).
func addGroups(rootfs string, u nsinit.User, groups []string, image string) (nsinit.User, error) {
	if len(groups) == 1 && groups[0] == KeepGroups {
		u.AdditionalGids = nil
		return u, nil
	}
	for _, g := range groups {
		gid, err := nsinit.LookupGroup(rootfs, g)
		if err != nil {
			return u, fmt.Errorf("--group-add %s: %w in the image %s (its /etc/group): use a name from there or a numeric id", g, err, image)
		}
		if !slices.Contains(u.AdditionalGids, gid) {
			u.AdditionalGids = append(u.AdditionalGids, gid)
		}
	}
	return u, nil
}

// namespaceOf is the path of the namespace name (pid, ipc, uts, net) of the running
// container id, to join.
func (m *Manager) namespaceOf(id, name string) (string, error) {
	c, err := m.Records.Get(id)
	if err != nil {
		return "", fmt.Errorf("the container whose %s namespace this one joins: %w", name, err)
	}
	st, err := m.Records.Current(id)
	if err != nil {
		return "", err
	}
	if st.Status != StatusRunning || st.Pid <= 0 {
		return "", fmt.Errorf("container %s, whose %s namespace this one joins, is %s: start it first (`hutch start %s`)", c.Name, name, st.Status, c.Name)
	}
	return fmt.Sprintf("/proc/%d/ns/%s", st.Pid, name), nil
}

// resolveNamespaces checks the namespace modes of r and names the containers they
// join by ID (a rename does not lose them): each must exist; --hostname cannot be set
// in a UTS namespace that is not the container's own, whose hostname it takes.
func (m *Manager) resolveNamespaces(r *Request) error {
	o := &r.Options
	if o.UTSMode != "" && o.Hostname != "" {
		return fmt.Errorf("--hostname cannot be set with --uts %s: the UTS namespace is not the container's own (its hostname is that namespace's)", o.UTSMode)
	}
	for _, ns := range []struct {
		flag string
		mode *string
	}{{"--pid", &o.PidMode}, {"--ipc", &o.IpcMode}, {"--uts", &o.UTSMode}} {
		name := nsContainer(*ns.mode)
		if name == "" {
			continue
		}
		c, err := m.Records.Get(name)
		if err != nil {
			return fmt.Errorf("%s %s: %w", ns.flag, *ns.mode, err)
		}
		*ns.mode = "container:" + c.ID
		if ns.flag == "--uts" {
			r.utsHostname = c.Hostname
		}
	}
	if o.UTSMode == nsinit.NSHost {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		r.utsHostname = h
	}
	if o.Network.Mode == network.ModeContainer {
		c, err := m.Records.Get(o.Network.Container)
		if err != nil {
			return fmt.Errorf("--network container:%s: %w", o.Network.Container, err)
		}
		o.Network.Container = c.ID
	}
	return nil
}

// checkCIDFile refuses a --cidfile that exists already (as Docker: another container's
// ID may be in it).
func checkCIDFile(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("--cidfile %s: the file exists already (another container's ID may be in it): remove it, or name another", path)
	}
	return nil
}

// writeCIDFile writes the container's ID to --cidfile's path, which must not exist.
func writeCIDFile(path, id string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("--cidfile: %w", err)
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("--cidfile %s: %w", path, err)
	}
	return nil
}

// Replace removes the container named name, if there is one, for `run --replace`:
// stopped first when it runs (its stop signal, then SIGKILL after its timeout).
func (m *Manager) Replace(name string) error {
	c, err := m.Records.Get(name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.Name != name {
		return nil // an ID prefix, not the name: nothing holds the name
	}
	if st, err := m.Records.Current(c.ID); err == nil && st.Status == StatusRunning {
		timeout := 10 * time.Second
		if c.StopTimeout != nil {
			timeout = time.Duration(*c.StopTimeout) * time.Second
		}
		if err := m.Records.Stop(c, timeout); err != nil {
			return fmt.Errorf("--replace: stopping %s: %w", name, err)
		}
	}
	if err := m.Remove(c, false); err != nil {
		return fmt.Errorf("--replace: removing %s: %w", name, err)
	}
	return nil
}

// checkDetachedJoins refuses to start c under a monitor when it joins another
// container's pid, IPC or UTS namespace (container:NAME): the init is cloned from a
// thread that joined them and cannot leave (nsinit's startJoined), and the monitor hands
// over to its C half by executing it from that thread (its parent-death signal is that
// thread's), after which the monitor lives in those namespaces — harmless for another's
// network namespace (--network container: works detached), not for its pid namespace,
// where the monitor's health probes would be born, and not done yet for IPC and UTS.
func checkDetachedJoins(c *Config) error {
	for _, ns := range []struct{ flag, mode string }{{"--pid", c.PidMode}, {"--ipc", c.IpcMode}, {"--uts", c.UTSMode}} {
		if nsContainer(ns.mode) != "" {
			return fmt.Errorf("%s container:…: joining another container's pid, IPC or UTS namespace works for a container in the foreground only (`hutch run` without -d, `hutch start -a`), not under a detached monitor yet (--network container: works detached): run it in the foreground, or share with %s host", ns.flag, ns.flag)
		}
	}
	return nil
}

// Dependents are the containers that join the namespaces of the containers refs name
// (--network, --pid, --ipc, --uts container:), and theirs in turn, each once, those
// that depend on others first: what `rm --depend` removes before them. refs that name
// no container are left to the removal to report.
func (r *Records) Dependents(refs []string) ([]string, error) {
	all, err := r.List()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var queue []string
	for _, ref := range refs {
		if c, err := r.Get(ref); err == nil && !seen[c.ID] {
			seen[c.ID] = true
			queue = append(queue, c.ID)
		}
	}
	var out []string
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, c := range all {
			if seen[c.ID] || !c.joins(id) {
				continue
			}
			seen[c.ID] = true
			out = append([]string{c.ID}, out...) // the deeper, the earlier
			queue = append(queue, c.ID)
		}
	}
	return out, nil
}

// joins says whether c joins a namespace of container id.
func (c *Config) joins(id string) bool {
	for _, mode := range []string{c.PidMode, c.IpcMode, c.UTSMode, containerMode(c.Network)} {
		if nsContainer(mode) == id {
			return true
		}
	}
	return false
}
