package nsinit

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/moby/sys/user"

	"hutch.dev/hutch/internal/fsutil"
)

// Identity is a USER[:GROUP] resolved against a root's /etc/passwd and /etc/group.
type Identity struct {
	User
	// Home is the user's home from passwd; "/root" for uid 0 and "/" for anyone else
	// when passwd gives none (Docker's HOME for a uid the image does not know).
	Home string
}

// Why a USER[:GROUP] could not be resolved (LookupUser wraps them; each caller says
// which flag or instruction it came from).
var (
	ErrUnknownUser = errors.New("no such user or group")
	ErrIDRange     = errors.New("id out of range")
)

// LookupUser resolves spec (USER[:GROUP], names or numbers; "" is root) against the
// passwd and group files of the tree at root ("/" inside a container), both read inside
// it through fsutil's bounded reader (UserDB: regular files only, at most 16 MiB,
// symlinks resolved in the root), so that an image's symlinks cannot lead out and a
// FIFO or a device in their place is refused, not waited on. A user named without a
// group gets its passwd group and the groups that list it; numeric ids need no entry.
// Every process hutch starts in a container (run, exec, a build's RUN and the --chown
// of COPY and ADD) resolves its user here. A file that cannot be read is an
// *fsutil.FileError (naming it and the fix), not ErrUnknownUser.
func LookupUser(root, spec string) (Identity, error) {
	passwd, group, err := fsutil.ReadUserDB(root)
	if err != nil {
		return Identity{}, err
	}
	return lookupUser(spec, passwd, group)
}

// lookupUser resolves spec against passwd and group (nil: the file is missing, and
// only numeric ids resolve).
func lookupUser(spec string, passwd, group io.Reader) (Identity, error) {
	u, err := user.GetExecUser(spec, &user.ExecUser{}, passwd, group)
	if err != nil {
		switch {
		case errors.Is(err, user.ErrRange):
			return Identity{}, fmt.Errorf("%w: %w", ErrIDRange, err)
		case errors.Is(err, user.ErrNoPasswdEntries), errors.Is(err, user.ErrNoGroupEntries):
			return Identity{}, fmt.Errorf("%w: %w", ErrUnknownUser, err)
		}
		return Identity{}, err
	}
	id := Identity{User: User{UID: uint32(u.Uid), GID: uint32(u.Gid)}, Home: u.Home}
	for _, g := range u.Sgids {
		id.AdditionalGids = append(id.AdditionalGids, uint32(g))
	}
	if id.Home == "" {
		id.Home = "/"
		if id.UID == 0 {
			id.Home = "/root"
		}
	}
	return id, nil
}

// LookupGroup resolves a group name or id against the group file of the tree at root
// (read as LookupUser reads it).
func LookupGroup(root, name string) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	_, group, err := fsutil.ReadUserDB(root)
	if err != nil {
		return 0, err
	}
	if group == nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownUser, name)
	}
	gs, err := user.ParseGroupFilter(group, func(g user.Group) bool { return g.Name == name })
	if err != nil {
		return 0, err
	}
	if len(gs) == 0 {
		return 0, fmt.Errorf("%w: %q", ErrUnknownUser, name)
	}
	return uint32(gs[0].Gid), nil
}
