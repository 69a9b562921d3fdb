package nsinit

import (
	"fmt"
	"strconv"
	"strings"
)

// RlimitNames are the resource limits --ulimit knows, by Docker's names.
var RlimitNames = []string{"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
	"nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

// ParseRlimit reads NAME=SOFT[:HARD] (Docker's --ulimit); -1 or "unlimited" is no
// limit; HARD defaults to SOFT.
func ParseRlimit(v string) (Rlimit, error) {
	name, val, ok := strings.Cut(v, "=")
	name = strings.ToLower(strings.TrimPrefix(strings.ToUpper(name), "RLIMIT_"))
	if !ok || val == "" {
		return Rlimit{}, fmt.Errorf("--ulimit %q: expected NAME=SOFT[:HARD], e.g. nofile=1024:2048", v)
	}
	known := false
	for _, n := range RlimitNames {
		known = known || n == name
	}
	if !known {
		return Rlimit{}, fmt.Errorf("--ulimit %q: unknown limit %q (one of %s)", v, name, strings.Join(RlimitNames, ", "))
	}
	num := func(s string) (uint64, error) {
		if s == "-1" || s == "unlimited" {
			return Unlimited, nil
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("--ulimit %q: %q is not a number (or -1, unlimited)", v, s)
		}
		return n, nil
	}
	soft, hard, hasHard := strings.Cut(val, ":")
	r := Rlimit{Name: name}
	var err error
	if r.Soft, err = num(soft); err != nil {
		return r, err
	}
	r.Hard = r.Soft
	if hasHard {
		if r.Hard, err = num(hard); err != nil {
			return r, err
		}
	}
	if r.Soft > r.Hard {
		return r, fmt.Errorf("--ulimit %q: the soft limit is above the hard limit", v)
	}
	return r, nil
}

// Unlimited is RLIM_INFINITY.
const Unlimited = ^uint64(0)

// FormatLimit shows a limit as --ulimit takes it.
func FormatLimit(n uint64) string {
	if n == Unlimited {
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}

// CheckSysctl says whether key (dotted, as sysctl -w takes it) belongs to a namespace a
// container has of its own, and so may be set for it: net.* (with a network of its own),
// the IPC keys kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.*, and the UTS keys
// kernel.hostname and kernel.domainname (which --hostname and --domainname set).
func CheckSysctl(key string, ownNetwork, ownIPC bool) error {
	switch {
	case strings.HasPrefix(key, "net."):
		if !ownNetwork {
			return fmt.Errorf("--sysctl %s: a net.* key needs a network namespace of the container's own, and this container shares another's (--network host or container:…): it would change that one", key)
		}
		return nil
	case strings.HasPrefix(key, "kernel.shm"), strings.HasPrefix(key, "kernel.msg"), key == "kernel.sem",
		strings.HasPrefix(key, "fs.mqueue."):
		if !ownIPC {
			return fmt.Errorf("--sysctl %s: an IPC key needs an IPC namespace of the container's own, and this container shares another's (--ipc host or container:…): it would change that one", key)
		}
		return nil
	case key == "kernel.hostname":
		return fmt.Errorf("--sysctl %s: use --hostname", key)
	case key == "kernel.domainname":
		return fmt.Errorf("--sysctl %s: use --domainname", key)
	}
	return fmt.Errorf("--sysctl %s: not a namespaced key: it is the whole machine's, which a container may not change (allowed: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)", key)
}

// ParseSysctl reads KEY=VALUE (the key dotted or with slashes).
func ParseSysctl(v string) (string, string, error) {
	k, val, ok := strings.Cut(v, "=")
	k = strings.ReplaceAll(strings.TrimSpace(k), "/", ".")
	if !ok || k == "" || strings.Contains(k, "..") || strings.HasPrefix(k, ".") {
		return "", "", fmt.Errorf("--sysctl %q: expected KEY=VALUE, e.g. net.ipv4.ip_forward=1", v)
	}
	return k, val, nil
}
