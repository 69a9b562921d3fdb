package container

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/nsinit"
)

// checkDevices resolves the request's CDI devices (their nodes, mounts and
// environment join the request's own) and checks that every device node is one this
// user may open as asked: rootless, a device is a bind mount of the host's node, and
// the container opens it with the user's own access to it (there is no device cgroup
// to grant or deny more).
func (m *Manager) checkDevices(r *Request) error {
	if len(r.CDIDevices) > 0 {
		dirs := m.CDISpecDirs
		if len(dirs) == 0 {
			dirs = DefaultCDISpecDirs
		}
		e, err := ResolveCDI(dirs, r.CDIDevices)
		if err != nil {
			return err
		}
		r.Devices = append(append([]DeviceSpec{}, r.Devices...), e.Devices...)
		r.Mounts = append(append([]MountSpec{}, r.Mounts...), e.Mounts...)
		r.Env = MergeEnv(e.Env, r.Env)
	}
	for _, d := range r.Devices {
		if err := checkDevice(d); err != nil {
			return err
		}
	}
	return nil
}

// checkDevice checks one device node: a character or block device this user may open
// for reading (and writing, when its permissions have w).
func checkDevice(d DeviceSpec) error {
	var st unix.Stat_t
	if err := unix.Stat(d.PathOnHost, &st); err != nil {
		return fmt.Errorf("--device %s: %w", d.PathOnHost, unwrapPath(&os.PathError{Op: "stat", Path: d.PathOnHost, Err: err}))
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFCHR && t != unix.S_IFBLK {
		return fmt.Errorf("--device %s: not a device node (a file or directory goes in with -v %s:%s)", d.PathOnHost, d.PathOnHost, d.PathInContainer)
	}
	mode, what := uint32(unix.R_OK), "read"
	if strings.Contains(d.CgroupPermissions, "w") {
		mode, what = mode|unix.W_OK, "read and write"
	}
	if err := unix.Access(d.PathOnHost, mode); err != nil {
		return fmt.Errorf("--device %s: you may not %s it (%w; it is %s): rootless, a container gets a device by a bind mount and opens it as you, so you must be able to open it yourself — for a group's device, add yourself to its group (`sudo usermod -aG GROUP $USER`, then log in again), or ask for less (:r)",
			d.PathOnHost, what, err, describeNode(d.PathOnHost, &st))
	}
	return nil
}

func describeNode(_ string, st *unix.Stat_t) string {
	return fmt.Sprintf("mode %04o, owner %d, group %d", st.Mode&0o7777, st.Uid, st.Gid)
}

// deviceMounts are the container's devices as mounts: each host node bound onto its
// path in the container's /dev (a tmpfs without nodev) or wherever it is asked.
func deviceMounts(c *Config) ([]nsinit.Mount, error) {
	var out []nsinit.Mount
	for _, d := range c.Devices {
		var st unix.Stat_t
		if err := unix.Stat(d.PathOnHost, &st); err != nil {
			return nil, fmt.Errorf("the device %s of container %s: %w", d.PathOnHost, c.Name, err)
		}
		if t := st.Mode & unix.S_IFMT; t != unix.S_IFCHR && t != unix.S_IFBLK {
			return nil, fmt.Errorf("the device %s of container %s is no longer a device node", d.PathOnHost, c.Name)
		}
		out = append(out, nsinit.Mount{Type: "bind", Source: d.PathOnHost, Destination: d.PathInContainer, File: true})
	}
	return out, nil
}
