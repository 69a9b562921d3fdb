package nsinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// How the init is cloned for a spec: its namespaces and ids.
func TestInitCmd(t *testing.T) {
	base := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP)
	cgroup, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cgroup.Close()
	keepID := []IDMap{{ContainerID: 0, HostID: 1, Size: 1000}, {ContainerID: 1000, HostID: 0, Size: 1}}
	for _, c := range []struct {
		name  string
		spec  Spec
		check func(t *testing.T, a *syscall.SysProcAttr)
	}{
		{"the host's network", Spec{}, func(t *testing.T, a *syscall.SysProcAttr) {
			if a.Cloneflags != base || a.Setctty || a.UseCgroupFD || len(a.UidMappings) > 0 {
				t.Errorf("%+v", a)
			}
		}},
		{"a network of its own", Spec{NewNetwork: true}, func(t *testing.T, a *syscall.SysProcAttr) {
			if a.Cloneflags != base|unix.CLONE_NEWNET {
				t.Errorf("flags %#x", a.Cloneflags)
			}
		}},
		// keep-id: a user namespace of its own, with the maps, entered as its root.
		{"keep-id", Spec{UIDMap: keepID, GIDMap: keepID}, func(t *testing.T, a *syscall.SysProcAttr) {
			want := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1, Size: 1000}, {ContainerID: 1000, HostID: 0, Size: 1}}
			if a.Cloneflags&unix.CLONE_NEWUSER == 0 || !reflect.DeepEqual(a.UidMappings, want) || !reflect.DeepEqual(a.GidMappings, want) ||
				a.Credential == nil || a.Credential.Uid != 0 || !a.GidMappingsEnableSetgroups {
				t.Errorf("%+v", a)
			}
		}},
		// -t: the terminal is the controlling terminal of the init's session; with --init,
		// of the reaper's child's (the init must not hold it).
		{"-t", Spec{Terminal: true}, func(t *testing.T, a *syscall.SysProcAttr) {
			if !a.Setctty || a.Ctty != 0 {
				t.Errorf("%+v", a)
			}
		}},
		{"-t --init", Spec{Terminal: true, Init: true}, func(t *testing.T, a *syscall.SysProcAttr) {
			if a.Setctty {
				t.Errorf("%+v", a)
			}
		}},
		{"a cgroup", Spec{Cgroup: cgroup}, func(t *testing.T, a *syscall.SysProcAttr) {
			if !a.UseCgroupFD || a.CgroupFD != int(cgroup.Fd()) {
				t.Errorf("%+v", a)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := initCmd(&c.spec, Stdio{}, true, os.Stdin, os.Stdout)
			a := cmd.SysProcAttr
			// Always: a session of its own (never the user's terminal as controlling
			// terminal), killed with its parent, its spec and status on fds 3 and 4, an
			// empty environment.
			if !a.Setsid || a.Pdeathsig != unix.SIGKILL || len(cmd.ExtraFiles) != 2 || len(cmd.Env) != 0 || !reflect.DeepEqual(cmd.Args, []string{InitName}) {
				t.Errorf("%+v, args %q, env %q", a, cmd.Args, cmd.Env)
			}
			c.check(t, a)
		})
	}
}

func TestCapabilities(t *testing.T) {
	all := AllCaps()
	for _, c := range DefaultCaps {
		if !slices.Contains(all, c) {
			t.Errorf("Docker's default %s is not a capability of this kernel", c)
		}
	}
	caps, err := parseCaps([]string{"chown", "CAP_NET_RAW", "Sys_Admin"})
	if err != nil || len(caps) != 3 {
		t.Errorf("parseCaps = %v, %v", caps, err)
	}
	if _, err := parseCaps([]string{"CAP_FLY"}); err == nil || !strings.Contains(err.Error(), `unknown capability "CAP_FLY"`) {
		t.Errorf("an unknown capability: %v", err)
	}
	if CanonicalCap("net_admin") != "CAP_NET_ADMIN" || CanonicalCap("CAP_KILL") != "CAP_KILL" {
		t.Error("CanonicalCap")
	}
}

// The command is found in the container's PATH, with Docker's exit statuses.
func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"tool": 0o755, "data": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=/nonexistent:" + dir}
	if p, code, err := lookPath("tool", env); err != nil || p != filepath.Join(dir, "tool") || code != 0 {
		t.Errorf("tool: %s, %d, %v", p, code, err)
	}
	for _, c := range []struct {
		name string
		code int
		msg  string
	}{
		{"nosuch", ExitNotFound, "nosuch: executable file not found in $PATH"},
		{"data", ExitCannot, dir + "/data: permission denied"},
		{dir + "/missing", ExitNotFound, dir + "/missing: no such file or directory"},
		{dir, ExitCannot, dir + ": is a directory"},
		{"", ExitNotFound, "no command given"},
	} {
		_, code, err := lookPath(c.name, env)
		if code != c.code || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %d, %v; want %d, %q", c.name, code, err, c.code, c.msg)
		}
	}
	// exec's own failures map the same way.
	if execCode(&exec.Error{Err: unix.ENOENT}) != ExitNotFound || execCode(unix.EACCES) != ExitCannot {
		t.Error("execCode")
	}
}
