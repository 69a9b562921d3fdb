// Package engine ties hutch's parts together for one command: the configuration, the
// user's paths, the user namespace, and the store. The CLI asks it for a Host as the
// plain user, re-executes through it into the namespace, and opens the store there.
package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"go.podman.io/image/v5/types"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/config"
	"hutch.dev/hutch/container"
	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/diag"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/internal/lock"
	"hutch.dev/hutch/internal/nsenter"
	"hutch.dev/hutch/storage"
	"hutch.dev/hutch/userns"
)

// envPaths hands the parent's resolved paths to the re-executed child.
const envPaths = contract.Paths

// Host is everything known about the user and the machine before the store is opened.
type Host struct {
	Config  *config.Config
	Sources []config.Source
	Paths   *config.Paths
	NS      *userns.State
	Inside  bool // running in the user namespace (or as real root)
	// Kept is the kept namespace's holder this process joined in its constructor
	// (nil: it did not).
	Kept *nsenter.Kept
}

// Load reads the configuration and the user's paths, and learns how to enter (or, in
// the re-executed child, how it entered) the user namespace.
func Load() (*Host, error) {
	h := &Host{}
	kept := nsenter.KeptOutcome()
	if kept.Joined {
		h.Kept = &kept
	}
	handed := false
	if ns, ok := userns.Inside(); ok {
		h.NS, h.Inside, handed = ns, true, true
	} else if kept.Joined {
		// Joined by the constructor, with no parent: the plan is the holder's.
		ns, err := userns.Joined(kept)
		if err != nil {
			return nil, err
		}
		h.NS, h.Inside = ns, true
	} else {
		ns, err := userns.Plan()
		if err != nil {
			return nil, err
		}
		h.NS, h.Inside = ns, ns.Root
	}
	if v := os.Getenv(envPaths); v != "" && h.Inside {
		// The parent resolved (and checked the ownership of) the paths as the plain user.
		h.Paths = &config.Paths{}
		if err := json.Unmarshal([]byte(v), h.Paths); err != nil {
			return nil, fmt.Errorf("internal error: bad %s: %w", envPaths, err)
		}
	} else if kept.Joined {
		// In the namespace, the user's own files show as root's.
		paths, err := config.UserPathsAs(h.NS.UID, os.Getuid(), h.NS.Home, os.Getenv)
		if err != nil {
			return nil, err
		}
		h.Paths = paths
		if !sameDir(paths.RuntimeDir, kept.Dir) {
			return nil, fmt.Errorf("internal error: joined the kept namespace of %s, but the runtime directory is %s", kept.Dir, paths.RuntimeDir)
		}
		if !handed {
			// What a parent hands a re-executed hutch, for the processes this one
			// starts (a container's monitor reads them as a re-executed hutch does).
			if err := h.handDown(); err != nil {
				return nil, err
			}
		}
	} else {
		paths, err := config.UserPaths(h.NS.UID, h.NS.Home, os.Getenv)
		if err != nil {
			return nil, err
		}
		h.Paths = paths
	}
	cfg, srcs, err := config.Load(config.SystemFile, h.Paths.UserConfig)
	if err != nil {
		return nil, err
	}
	h.Config, h.Sources = cfg, srcs
	if cfg.Storage.GraphRoot != "" {
		if !filepath.IsAbs(cfg.Storage.GraphRoot) {
			return nil, fmt.Errorf("config: [storage] graphroot = %q must be an absolute path", cfg.Storage.GraphRoot)
		}
		h.Paths.GraphRoot = cfg.Storage.GraphRoot
	}
	return h, nil
}

// Enter executes hutch with args (and env added to the environment) in the user's kept
// namespace (made first if needed) and returns its exit status.
func (h *Host) Enter(args []string, env ...string) (int, error) {
	p, err := json.Marshal(h.Paths)
	if err != nil {
		return 125, err
	}
	return userns.EnterKept(h.Paths.RuntimeDir, h.NS, h.runningMonitors, args, append([]string{envPaths + "=" + string(p)}, env...)...)
}

// runningMonitors lists the owners of the containers recorded as running (their
// monitors, or the hutch running one in the foreground): processes that may still be
// in a kept namespace whose holder is gone.
func (h *Host) runningMonitors() []int {
	r := &container.Records{Dir: filepath.Join(h.Paths.GraphRoot, "hutch-containers")}
	cs, err := r.List()
	if err != nil {
		return nil
	}
	var pids []int
	for _, c := range cs {
		if st, err := r.State(c.ID); err == nil && st.Status == container.StatusRunning && st.MonitorPid > 0 {
			pids = append(pids, st.MonitorPid)
		}
	}
	return pids
}

// handDown sets, for the processes this one starts, what a parent hands a re-executed
// hutch: the state and the paths.
func (h *Host) handDown() error {
	st, err := json.Marshal(h.NS)
	if err != nil {
		return err
	}
	p, err := json.Marshal(h.Paths)
	if err != nil {
		return err
	}
	os.Setenv(userns.EnvState, string(st))
	os.Setenv(envPaths, string(p))
	return nil
}

func sameDir(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// Join runs hutch with args (and env added to the environment) inside the user and
// mount namespaces of process pid (a container's monitor, which holds its mounts) and
// returns its exit status.
func (h *Host) Join(pid int, args []string, extra ...string) (int, error) {
	p, err := json.Marshal(h.Paths)
	if err != nil {
		return 125, err
	}
	st, err := json.Marshal(h.NS)
	if err != nil {
		return 125, err
	}
	env := append(os.Environ(), envPaths+"="+string(p), userns.EnvState+"="+string(st))
	env = append(env, nsenter.Env(pid, unix.CLONE_NEWUSER|unix.CLONE_NEWNS, false, false)...)
	env = append(env, extra...)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 125, err
	}
	return 0, nil
}

// Warnings lists every finding about the host, each with its fix.
func (h *Host) Warnings() []diag.Warning {
	ws := append([]diag.Warning{}, h.NS.Warnings...)
	if h.Paths.RuntimeFallback != "" {
		ws = append(ws, diag.Warning{ID: "runtime-dir", Text: h.Paths.RuntimeFallback})
	}
	if w := lingerWarning(h.NS.User, "/run/systemd/system", "/var/lib/systemd/linger"); w != nil {
		ws = append(ws, *w)
	}
	return ws
}

// lingerWarning says when systemd will stop the user's detached containers at logout:
// systemd runs the machine (systemdDir exists) and lingering is off for the user.
func lingerWarning(user, systemdDir, lingerDir string) *diag.Warning {
	if user == "" || user == "root" {
		return nil
	}
	if _, err := os.Stat(systemdDir); err != nil {
		return nil // no systemd-logind: nothing stops a user's processes at logout
	}
	if _, err := os.Stat(filepath.Join(lingerDir, user)); err == nil {
		return nil
	}
	return &diag.Warning{ID: "linger", Text: fmt.Sprintf("lingering is off for %s, so systemd stops your detached containers (run -d) when you log out: "+
		"run `loginctl enable-linger %s` (or ask an admin to)", user, user)}
}

// driverSource names where the forced driver was set, for messages.
func (h *Host) driverSource() string {
	src := "config.toml"
	for _, s := range h.Sources {
		if s.Found {
			src = s.Path
		}
	}
	return src
}

// OpenStore opens the user's store. It must be called inside the namespace.
func (h *Host) OpenStore() (*storage.Store, error) {
	if !h.Inside {
		return nil, fmt.Errorf("internal error: the store may only be opened inside the user namespace")
	}
	return storage.Open(storage.Options{
		GraphRoot:    h.Paths.GraphRoot,
		RunRoot:      h.Paths.RunRoot,
		Driver:       h.Config.Storage.Driver,
		DriverSource: h.driverSource(),
		MountProgram: h.Config.Storage.MountProgram,
		SingleID:     h.NS.SingleID,
	})
}

// SystemContext points every path go.podman.io/image would read or write at hutch's own
// folders, so neither the host's nor Podman's configuration leaks in. Registry settings
// come from config.toml, written for it as a registries.conf in the runtime dir.
func (h *Host) SystemContext() *types.SystemContext {
	conf := filepath.Join(h.Paths.RuntimeDir, "registries.conf")
	if err := fsutil.ReplaceFile(conf, registriesConf(h.Config.Registries), 0o600); err != nil {
		conf = filepath.Join(h.Paths.ConfigDir, "registries.conf.none")
	}
	return &types.SystemContext{
		SystemRegistriesConfPath:    conf,
		DockerPerHostCertDirPath:    filepath.Join(h.Paths.ConfigDir, "certs.d"),
		SystemRegistriesConfDirPath: filepath.Join(h.Paths.ConfigDir, "registries.conf.d"),
		RegistriesDirPath:           filepath.Join(h.Paths.ConfigDir, "registries.d"),
		AuthFilePath:                filepath.Join(h.Paths.ConfigDir, "auth.json"),
		BlobInfoCacheDir:            filepath.Join(h.Paths.CacheDir, "blob-info"),
		BigFilesTemporaryDir:        filepath.Join(h.Paths.GraphRoot, "tmp"),
		SignaturePolicyPath:         filepath.Join(h.Paths.ConfigDir, "policy.json"),
	}
}

// LockStore takes hutch's store lock for a command that changes the store; a second
// writer waits, saying who holds it.
func (h *Host) LockStore() (*lock.Lock, error) {
	if err := os.MkdirAll(h.Paths.GraphRoot, 0o700); err != nil {
		return nil, err
	}
	l, err := lock.Acquire(filepath.Join(h.Paths.GraphRoot, "hutch.lock"), os.Stderr)
	if err != nil {
		return nil, err
	}
	// Whatever a killed load or import left in the store's scratch space is not in use
	// by anyone now that we hold the lock (only locked commands create these).
	tmp := filepath.Join(h.Paths.GraphRoot, "tmp")
	if entries, err := os.ReadDir(tmp); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "container_images_") || strings.HasPrefix(e.Name(), "import-") {
				_ = os.RemoveAll(filepath.Join(tmp, e.Name()))
			}
		}
	}
	return l, nil
}

// registriesConf renders [registries] as go.podman.io/image's registries.conf (v2).
func registriesConf(r config.RegistriesConfig) []byte {
	var b strings.Builder
	b.WriteString("# written by hutch from config.toml [registries]; edit that instead\n")
	b.WriteString("unqualified-search-registries = []\n")
	regs := map[string]*regConf{}
	var order []string
	get := func(loc string) *regConf {
		if regs[loc] == nil {
			regs[loc] = &regConf{}
			order = append(order, loc)
		}
		return regs[loc]
	}
	for _, l := range r.Insecure {
		get(l).insecure = true
	}
	for _, l := range r.Blocked {
		get(l).blocked = true
	}
	for _, m := range r.Mirror {
		rc := get(m.Registry)
		rc.mirrors = append(rc.mirrors, m)
	}
	for _, loc := range order {
		rc := regs[loc]
		fmt.Fprintf(&b, "\n[[registry]]\nlocation = %q\ninsecure = %t\nblocked = %t\n", loc, rc.insecure, rc.blocked)
		for _, m := range rc.mirrors {
			fmt.Fprintf(&b, "[[registry.mirror]]\nlocation = %q\ninsecure = %t\n", m.Location, m.Insecure)
		}
	}
	return []byte(b.String())
}

type regConf struct {
	insecure, blocked bool
	mirrors           []config.MirrorConfig
}
