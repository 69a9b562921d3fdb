// Package nsinit is hutch's container runtime at its lowest level: it starts a process
// in new namespaces and, inside them, builds the container's file system (proc, a tmpfs
// /dev with the host's device nodes, devpts, shm, mqueue, a read-only /sys, the user's
// mounts, masked paths), pivots into it, drops capabilities and executes the command, or
// runs a minimal reaper as pid 1 (--init). The parent side is Start; the child side runs
// when hutch is re-executed as "hutch-init".
package nsinit

import (
	"os"
	"path"
	"slices"
)

// Spec is everything the init needs to set up one container; it travels as JSON over a pipe.
type Spec struct {
	Rootfs   string   `json:"rootfs"` // the mounted image root, in the parent's mount namespace
	Args     []string `json:"args"`
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`
	User     User     `json:"user"`
	Hostname string   `json:"hostname"`
	// Domainname is the NIS domain name (--domainname); "": left as it is.
	Domainname string `json:"domainname,omitempty"`
	// KeepGroups leaves the supplementary groups as the caller's (no setgroups):
	// --group-add keep-groups.
	KeepGroups bool `json:"keepGroups,omitempty"`
	// Rlimits are set before the command runs (--ulimit): a hard limit can only be
	// lowered by an unprivileged user.
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// Sysctls are written to /proc/sys before the root is built (--sysctl); only keys
	// of the container's own namespaces (CheckSysctl).
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// ShmSize is the size of /dev/shm in bytes (--shm-size); 0: 64 MiB.
	ShmSize int64 `json:"shmSize,omitempty"`
	// Caps are kept in the bounding, permitted and effective sets (for uid 0); every
	// other capability is dropped.
	Caps            []string `json:"caps"`
	NoNewPrivileges bool     `json:"noNewPrivileges"`
	// Seccomp is the compiled filter (security.Program.Bytes), none when empty: it is
	// installed just before the command runs (loadSeccomp).
	Seccomp      []byte `json:"seccomp,omitempty"`
	SeccompFlags uint32 `json:"seccompFlags,omitempty"`
	// Mask adds paths to MaskedPaths; Unmask takes paths (or patterns) out of
	// MaskedPaths and ReadonlyPaths, "ALL" all of them (--security-opt mask=, unmask=).
	Mask   []string `json:"mask,omitempty"`
	Unmask []string `json:"unmask,omitempty"`
	// Privileged keeps /proc and /sys unmasked.
	Privileged bool `json:"privileged"`
	ReadOnly   bool `json:"readOnly"`
	NewNetwork bool `json:"newNetwork"` // a network namespace of its own (bring lo up)
	// PidNS, IPCNS, UTSNS and NetNS say which namespaces are not the init's own: ""
	// a new one (NetNS: as NewNetwork says), NSHost the caller's (hutch's, which for
	// these is the host's), or a path /proc/PID/ns/TYPE of another container's to join.
	// CgroupNS is "" (a new one, rooted at the container's cgroup) or NSHost.
	PidNS    string  `json:"pidNS,omitempty"`
	IPCNS    string  `json:"ipcNS,omitempty"`
	UTSNS    string  `json:"utsNS,omitempty"`
	NetNS    string  `json:"netNS,omitempty"`
	CgroupNS string  `json:"cgroupNS,omitempty"`
	Mounts   []Mount `json:"mounts"`
	Terminal bool    `json:"terminal"`
	// Init runs a reaper as pid 1 that starts the command as pid 2, forwards signals to
	// it and reaps every orphan.
	Init bool `json:"init"`
	// SessionKeyring names the session keyring the container's processes share
	// (SessionKeyring(ID)); empty: a new anonymous one. Never the caller's.
	SessionKeyring string `json:"sessionKeyring,omitempty"`
	// TTYGroup says whether gid 5 (tty) exists in the namespace, for devpts.
	TTYGroup bool `json:"ttyGroup"`
	// UIDMap and GIDMap, when set, put the container in a user namespace of its own
	// (nested in hutch's) with these mappings, in hutch's ids (--userns=keep-id).
	UIDMap []IDMap `json:"uidMap,omitempty"`
	GIDMap []IDMap `json:"gidMap,omitempty"`
	// Cgroup, when set, is the open directory of the container's cgroup (v2): the init
	// is cloned straight into it (CLONE_INTO_CGROUP), and its cgroup namespace has it
	// as root.
	Cgroup *os.File `json:"-"`
}

// NSHost is a namespace the init shares with its caller (--pid host …).
const NSHost = "host"

// Rlimit is one resource limit (setrlimit), by its name without RLIMIT_ (nofile, nproc …).
type Rlimit struct {
	Name string `json:"name"`
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// IDMap maps Size ids from ContainerID (in the container) to HostID (in hutch's namespace).
type IDMap struct {
	ContainerID int `json:"containerID"`
	HostID      int `json:"hostID"`
	Size        int `json:"size"`
}

// User is the process's identity inside the container.
type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
}

// Mount is one mount into the container, applied in order after the standard ones.
type Mount struct {
	Type        string   `json:"type"` // "bind", "tmpfs" or "overlay" (Options: its lowerdir, upperdir, workdir)
	Source      string   `json:"source,omitempty"`
	Destination string   `json:"destination"`
	ReadOnly    bool     `json:"readOnly,omitempty"`
	Options     []string `json:"options,omitempty"` // tmpfs data options (size=…, mode=…)
	// File says the bind source is a file, so the target is created as a file.
	File bool `json:"file,omitempty"`
	// NoExec and Suid are a tmpfs's flags (it is always nodev, and nosuid unless Suid).
	NoExec bool `json:"noExec,omitempty"`
	Suid   bool `json:"suid,omitempty"`
}

// Exit statuses for failures before the command runs, as Docker uses them.
const (
	ExitEngine   = 125 // the container could not be set up
	ExitCannot   = 126 // the command exists but cannot be executed
	ExitNotFound = 127 // the command was not found
)

// DefaultCaps is Docker's default capability set.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// MaskedPaths are hidden from a container (unless privileged), as Docker does.
var MaskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

// ReadonlyPaths are visible but read-only (unless privileged).
var ReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// Masks are the masked and read-only paths once mask and unmask (--security-opt) are
// applied to the defaults.
func Masks(mask, unmask []string) (masked, readonly []string) {
	keep := func(p string) bool {
		for _, u := range unmask {
			if u == "ALL" || u == p {
				return false
			}
			if ok, _ := path.Match(u, p); ok {
				return false
			}
		}
		return true
	}
	for _, p := range append(append([]string{}, MaskedPaths...), mask...) {
		if keep(p) && !slices.Contains(masked, p) {
			masked = append(masked, p)
		}
	}
	for _, p := range ReadonlyPaths {
		if keep(p) {
			readonly = append(readonly, p)
		}
	}
	return masked, readonly
}
