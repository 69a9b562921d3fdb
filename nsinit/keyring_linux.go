package nsinit

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Session keyrings (docs/security.md, "Keyrings"). A process inherits its session
// keyring, and whoever has a keyring as session keyring possesses it and every key in
// it: started by the user's shell, a container would read the user's Kerberos or AFS
// tickets in clear. Each container's processes join a session keyring of their own
// instead, before anything of the container runs, as runc does: named after the
// container, so that the processes `hutch exec` starts in it join the same one.

// keyringPerm lets the keyring's possessors do anything with it, and its owner (the
// container's root, as the init and the exec child are when they join) view, read,
// search and link it; searching is what lets a later exec join it by name. Keyring
// names are per user namespace: no process outside hutch's can find it by name.
const keyringPerm = 0x3f000000 | // possessor: all
	0x00010000 | 0x00020000 | 0x00080000 | 0x00100000 // user: view, read, search, link

// SessionKeyring is the name of container id's session keyring.
func SessionKeyring(id string) string { return "_ses." + id }

// joinSessionKeyring replaces the process's session keyring with the one named name in
// this user namespace (made if there is none), or with a new anonymous one when name is
// empty. With owner (the container's init), it then sets the keyring's permissions,
// which fails unless this process owns it: a keyring of that name made by anyone else
// is refused, not shared.
func joinSessionKeyring(name string, owner bool) error {
	var id int
	var err error
	what := name
	if name == "" {
		what = "anonymous"
		id, err = unix.KeyctlInt(unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0) // NULL: anonymous
	} else {
		id, err = unix.KeyctlJoinSessionKeyring(name)
	}
	switch {
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
		// A kernel without keys, or keyctl refused to hutch itself (a seccomp filter
		// of the environment hutch runs in, which the container inherits): nothing of
		// the user's keyrings is within the container's reach through keyctl either.
		return nil
	case errors.Is(err, unix.EDQUOT):
		return fmt.Errorf("joining a session keyring of its own (%s): the kernel's key quota of your user is used up (every running container holds one keyring; the quota is %s keys and %s bytes per user): remove keys you no longer need, or raise it: sudo sysctl -w kernel.keys.maxkeys=2000 kernel.keys.maxbytes=200000",
			what, sysctlValue("kernel/keys/maxkeys"), sysctlValue("kernel/keys/maxbytes"))
	case err != nil:
		return fmt.Errorf("joining a session keyring of its own (%s): %w", what, err)
	}
	if name == "" || !owner {
		return nil
	}
	if err := unix.KeyctlSetperm(id, keyringPerm); err != nil {
		return fmt.Errorf("setting the permissions of the session keyring %s: %w", name, err)
	}
	return nil
}

func sysctlValue(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
