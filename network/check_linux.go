package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TunDevice is the device slirp4netns opens in the container's network namespace.
const TunDevice = "/dev/net/tun"

// ErrUnavailable marks a host that cannot give containers a slirp4netns network.
var ErrUnavailable = errors.New("slirp4netns networking is unavailable")

// FindSlirp returns the slirp4netns binary: configured (an absolute path), or found on
// $PATH. Its error says what to install.
func FindSlirp(configured string) (string, error) {
	if configured != "" {
		fi, err := os.Stat(configured)
		if err != nil {
			return "", fmt.Errorf("%w: [network] slirp4netns_path = %q in config.toml: %w: install slirp4netns (sudo apt-get install slirp4netns) or fix the path; or run with --network none or --network host", ErrUnavailable, configured, errors.Unwrap(err))
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%w: [network] slirp4netns_path = %q in config.toml is not an executable file", ErrUnavailable, configured)
		}
		return configured, nil
	}
	p, err := exec.LookPath("slirp4netns")
	if err != nil {
		return "", fmt.Errorf("%w: slirp4netns is not installed (not found in $PATH=%s): install it (sudo apt-get install slirp4netns), or set [network] slirp4netns_path in config.toml; or run with --network none or --network host", ErrUnavailable, os.Getenv("PATH"))
	}
	return p, nil
}

// CheckTun checks that this user can open /dev/net/tun, which slirp4netns needs.
func CheckTun() error {
	fd, err := unix.Open(TunDevice, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		return fmt.Errorf("%w: %s does not exist (%w): load the tun module (sudo modprobe tun) and create the device (sudo mkdir -p /dev/net && sudo mknod -m 0666 /dev/net/tun c 10 200); or run with --network none or --network host", ErrUnavailable, TunDevice, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: %s is not accessible to you (%w): make it usable by every user (sudo chmod 0666 %s, as most distributions ship it); or run with --network none or --network host", ErrUnavailable, TunDevice, err, TunDevice)
	default:
		return fmt.Errorf("%w: opening %s: %w", ErrUnavailable, TunDevice, err)
	}
}

// UnprivilegedPortStart is net.ipv4.ip_unprivileged_port_start: the lowest port an
// unprivileged user may bind (1024 when it cannot be read).
func UnprivilegedPortStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 1024
	}
	return n
}

// CheckPorts checks the host side of fixed mappings before a container is made: the
// port is allowed for an unprivileged user, and nobody listens there already. Mappings
// to any free port (HostPort 0) are chosen at start.
func CheckPorts(ports []PortMapping) error {
	seen := map[string]PortMapping{}
	for _, p := range ports {
		k := p.HostAddr() + "/" + p.Protocol
		if q, dup := seen[k]; dup && p.HostPort != 0 {
			return fmt.Errorf("-p %s and -p %s both publish host port %d/%s: give each its own host port", q.String(), p.String(), p.HostPort, p.Protocol)
		}
		seen[k] = p
	}
	start := -1
	for _, p := range ports {
		if p.HostPort == 0 {
			continue
		}
		if start < 0 {
			start = UnprivilegedPortStart()
		}
		if p.HostPort < start {
			return privilegedError(p, start)
		}
		if err := probe(p); err != nil {
			return err
		}
	}
	return nil
}

func privilegedError(p PortMapping, start int) error {
	return fmt.Errorf("-p %s: host port %d is privileged: ports below net.ipv4.ip_unprivileged_port_start (%d on this machine) need root; publish a high port instead (-p %d:%d), or have an administrator lower the limit: sudo sysctl net.ipv4.ip_unprivileged_port_start=%d (and add that line to /etc/sysctl.d/ to keep it)",
		p.String(), p.HostPort, start, 8000+p.HostPort%1000, p.ContainerPort, p.HostPort)
}

// probe binds the host side once and lets it go: a port taken fails here, naming it.
func probe(p PortMapping) error {
	addr := p.HostAddr()
	var err error
	if p.Protocol == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			l.Close()
		}
	}
	return bindError(p, err)
}

// bindError explains a failure to bind the host side of p (nil stays nil).
func bindError(p PortMapping, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EADDRINUSE):
		return fmt.Errorf("-p %s: host port %d/%s on %s is already in use by another program: choose another host port (e.g. -p %d:%d), or stop the program listening there (ss -lntup shows it)",
			p.String(), p.HostPort, p.Protocol, hostIPText(p), p.HostPort+1, p.ContainerPort)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		if start := UnprivilegedPortStart(); p.HostPort < start {
			return privilegedError(p, start)
		}
		return fmt.Errorf("-p %s: binding the host port: %w", p.String(), err)
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return fmt.Errorf("-p %s: %s is not an address of this host: use one of its addresses, 127.0.0.1, or leave the address out (all addresses)", p.String(), p.HostIP)
	default:
		return fmt.Errorf("-p %s: binding the host port: %w", p.String(), err)
	}
}

func hostIPText(p PortMapping) string {
	if p.HostIP == "" {
		return "all addresses"
	}
	return p.HostIP
}

// chooseFree gives every mapping without a host port a free one, picked by the kernel.
func chooseFree(ports []PortMapping) ([]PortMapping, error) {
	out := make([]PortMapping, len(ports))
	for i, p := range ports {
		out[i] = p
		if p.HostPort != 0 {
			continue
		}
		addr := net.JoinHostPort(p.HostIP, "0")
		if p.Protocol == "udp" {
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				return nil, fmt.Errorf("-p %s: finding a free host port: %w", p.Key(), err)
			}
			out[i].HostPort = c.LocalAddr().(*net.UDPAddr).Port
			c.Close()
		} else {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return nil, fmt.Errorf("-p %s: finding a free host port: %w", p.Key(), err)
			}
			out[i].HostPort = l.Addr().(*net.TCPAddr).Port
			l.Close()
		}
	}
	return out, nil
}
