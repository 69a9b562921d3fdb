// Package engine ties hutch's parts together for one command: the configuration, the
// user's paths, the user namespace, and the store. The CLI asks it for a Host as the
// plain user, re-executes through it into the namespace, and opens the store there.
package engine

import (
	"crypto/sha256"
	"encoding/hex"
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
	// KeptDirect: this process joined the kept namespace in its constructor on its own,
	// the verdict on the paths holding (not as the half a plain-user hutch started).
	KeptDirect bool
	// KeptMiss says why the constructor did not join although the command wanted it to
	// (the outside route then checks the paths and enters through userns.EnsureKept).
	KeptMiss string
	// Store is what the global flags asked of the store for this command.
	Store StoreFlags
	// driverOpts are Store.Opts for the driver (the mount program taken out).
	driverOpts []string
}

// StoreFlags are the global flags that choose a store for one command, Podman's names.
type StoreFlags struct {
	// Root and RunRoot move the store's graph root (and with it the containers' records
	// and the named volumes) and its run root (--root, --runroot); "" keeps the
	// configured ones. A Root without a RunRoot gets a run root of its own in the
	// runtime directory (storage-HASH).
	Root, RunRoot string
	// Driver forces a storage driver (--storage-driver), as [storage] driver does.
	Driver string
	// Opts are --storage-opt's: overlay.mount_program=PATH stands for [storage]
	// mount_program; the others are the driver's own options (overlay.mountopt=…,
	// vfs.ignore_chown_errors=…). An empty one is no option (Podman's way to clear them).
	Opts []string
}

// flags are the --root and --runroot that chose the store, as a command line says them
// ("" for the user's own store).
func (f StoreFlags) flags() string {
	var out []string
	if f.Root != "" {
		out = append(out, "--root "+shellQuote(f.Root))
	}
	if f.RunRoot != "" {
		out = append(out, "--runroot "+shellQuote(f.RunRoot))
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]{}~#!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Moved reports whether --root or --runroot chose a store other than the user's own.
func (f StoreFlags) Moved() bool { return f.Root != "" || f.RunRoot != "" }

// any reports whether any global store flag was given.
func (f StoreFlags) any() bool { return f.Moved() || f.Driver != "" || len(f.Opts) > 0 }

// Load reads the configuration and the user's paths, and learns how to enter (or, in
// the re-executed child, how it entered) the user namespace.
func Load() (*Host, error) { return LoadWith(StoreFlags{}) }

// LoadWith is Load for a command given the global flags f. A process the parent
// handed its paths to takes the parent's flags with them (a monitor has none of its
// own): the store a command chose is the one every process it starts works on.
func LoadWith(f StoreFlags) (*Host, error) {
	h := &Host{}
	kept := nsenter.KeptOutcome()
	if kept.Joined {
		h.Kept = &kept
	}
	h.KeptMiss = kept.Miss
	if ns, ok := userns.Inside(); ok {
		h.NS, h.Inside = ns, true
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
	v := os.Getenv(envPaths)
	fromParent := v != "" && h.Inside
	// Joined by the constructor, with no parent: the paths are those of the verdict
	// the constructor found holding (config/verdict_linux.go), which a plain-user hutch
	// checked; they cannot be checked from here, where the user's files and root's both
	// show as the overflow uid.
	joined := kept.Joined && !fromParent
	h.KeptDirect = joined
	// As the plain user, everything the checks look at is recorded, for the verdict.
	var rec *config.Stamps
	switch {
	case fromParent:
		// The parent resolved (and checked the ownership of) the paths as the plain user,
		// --root and --runroot applied (absolute: a process that joins a container's
		// mount namespace starts in its root).
		handed := handedPaths{Paths: &config.Paths{}}
		if err := json.Unmarshal([]byte(v), &handed); err != nil {
			return nil, fmt.Errorf("internal error: bad %s: %w", envPaths, err)
		}
		h.Paths, f = handed.Paths, handed.Store
	case joined:
		if f.any() {
			return nil, errors.New("internal error: the kept namespace was joined by a command with global store flags")
		}
		h.Paths = &config.Paths{}
		if err := json.Unmarshal(kept.Paths, h.Paths); err != nil {
			return nil, fmt.Errorf("internal error: the verdict on the paths in %s: %w", kept.Dir, err)
		}
		if !sameDir(h.Paths.RuntimeDir, kept.Dir) {
			return nil, fmt.Errorf("internal error: joined the kept namespace of %s, but the verdict's runtime directory is %s", kept.Dir, h.Paths.RuntimeDir)
		}
	default:
		if !h.Inside {
			rec = config.NewStamps()
		}
		paths, err := config.UserPathsRecorded(h.NS.UID, h.NS.Home, os.Getenv, rec)
		if err != nil {
			return nil, err
		}
		h.Paths = paths
	}
	driverOpts, mountProgram, err := parseStorageOpts(f.Opts)
	if err != nil {
		return nil, err
	}
	cfg, srcs, err := config.Load(config.SystemFile, h.Paths.UserConfig)
	if err != nil {
		return nil, err
	}
	h.Config, h.Sources = cfg, srcs
	graphFrom := ""
	if joined {
		// The verdict's graph root is the one the config named when it was checked;
		// the constructor found the config file unchanged, but it may have changed
		// since, before it was read here.
		want := filepath.Join(h.Paths.DataDir, "storage")
		if cfg.Storage.GraphRoot != "" {
			want = cfg.Storage.GraphRoot
		}
		if want != h.Paths.GraphRoot {
			return nil, fmt.Errorf("the configuration changed while this command started (the store is now %s, not %s): run the command again", want, h.Paths.GraphRoot)
		}
	} else if cfg.Storage.GraphRoot != "" && !fromParent {
		if !filepath.IsAbs(cfg.Storage.GraphRoot) {
			return nil, fmt.Errorf("config: [storage] graphroot = %q must be an absolute path", cfg.Storage.GraphRoot)
		}
		h.Paths.GraphRoot = cfg.Storage.GraphRoot
		graphFrom = h.driverSource()
	}
	if f.Root != "" && !fromParent {
		abs, err := filepath.Abs(f.Root)
		if err != nil {
			return nil, fmt.Errorf("--root %s: %w", f.Root, err)
		}
		f.Root = abs
		if abs != h.Paths.GraphRoot && f.RunRoot == "" {
			// A run root of its own: two stores sharing one would overwrite each
			// other's record of what is mounted.
			sum := sha256.Sum256([]byte(abs))
			h.Paths.RunRoot = filepath.Join(h.Paths.RuntimeDir, "storage-"+hex.EncodeToString(sum[:6]))
		}
		h.Paths.GraphRoot, h.Paths.VolumeDir, graphFrom = abs, filepath.Join(abs, "volumes"), "--root"
	}
	if f.RunRoot != "" && !fromParent {
		abs, err := filepath.Abs(f.RunRoot)
		if err != nil {
			return nil, fmt.Errorf("--runroot %s: %w", f.RunRoot, err)
		}
		f.RunRoot = abs
		h.Paths.RunRoot = abs
	}
	switch f.Driver {
	case "":
	case config.DriverOverlay, config.DriverFuse, config.DriverVFS:
		h.Config.Storage.Driver = f.Driver
	default:
		return nil, fmt.Errorf("--storage-driver %q is not a driver hutch knows: use overlay, fuse-overlayfs or vfs", f.Driver)
	}
	if mountProgram != "" {
		h.Config.Storage.MountProgram = mountProgram
	}
	h.Store, h.driverOpts = f, driverOpts
	if !fromParent && !joined && v == "" {
		// As the plain user (the child trusts the parent's verdict): a store or config
		// another user can change is refused before anything is read from it.
		if err := h.Paths.CheckRecorded(h.NS.UID, graphFrom, os.Getenv, rec); err != nil {
			return nil, err
		}
		if rec != nil && !f.any() {
			// The verdict, for the commands that join the kept namespace in their
			// constructor (kept.c). Without one they come this way: slower, not less safe.
			_ = config.WriteVerdict(h.Paths, rec, os.Getenv)
		}
	}
	if joined {
		// What a parent hands a re-executed hutch, for the processes this one starts
		// (a container's monitor reads them as a re-executed hutch does).
		if err := h.handDown(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// handedPaths is what a parent hands the processes it starts in contract.Paths: its
// paths and its store flags.
type handedPaths struct {
	*config.Paths
	Store StoreFlags `json:"store"`
}

func (h *Host) handedPaths() ([]byte, error) {
	return json.Marshal(handedPaths{Paths: h.Paths, Store: h.Store})
}

// Enter executes hutch with args (and env added to the environment, files handed to it:
// userns.HandFiles) in the user's kept namespace (made first if needed) and returns its
// exit status.
func (h *Host) Enter(files []*os.File, args []string, env ...string) (int, error) {
	p, err := h.handedPaths()
	if err != nil {
		return 125, err
	}
	return userns.EnterKept(h.Paths.RuntimeDir, h.NS, h.runningMonitors, files, args, append([]string{envPaths + "=" + string(p)}, env...)...)
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
	p, err := h.handedPaths()
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

// Join runs hutch with args (and extra added to the environment, files handed to it:
// userns.HandFiles) inside the user and mount namespaces of process pid (a container's
// monitor, which holds its mounts) and returns its exit status.
func (h *Host) Join(pid int, files []*os.File, args []string, extra ...string) (int, error) {
	p, err := h.handedPaths()
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
	userns.HandFiles(cmd, files)
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

// Warnings lists the findings about the host, each with its fix, for printing once.
// The subordinate ranges are checked against other users' by the first command of a
// login session only (info lists every finding: allWarnings).
func (h *Host) Warnings() []diag.Warning { return h.warnings(false) }

func (h *Host) allWarnings() []diag.Warning { return h.warnings(true) }

func (h *Host) warnings(all bool) []diag.Warning {
	ws := append([]diag.Warning{}, h.NS.Warnings...)
	if all || diag.FirstInSession(h.Paths.RuntimeDir, "subid-ranges") {
		ws = append(ws, h.NS.RangeWarnings()...)
	}
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
		GraphRoot:     h.Paths.GraphRoot,
		RunRoot:       h.Paths.RunRoot,
		Driver:        h.Config.Storage.Driver,
		DriverSource:  h.driverSource(),
		DriverFlag:    h.Store.Driver != "",
		MountProgram:  h.Config.Storage.MountProgram,
		SingleID:      h.NS.SingleID,
		DriverOptions: h.driverOpts,
		Flags:         h.Store.flags(),
	})
}

// parseStorageOpts splits --storage-opt into the driver's options and the mount
// program (overlay.mount_program=, or mount_program=); each driver option must name its
// driver (overlay.… or vfs.…), as Podman's do.
func parseStorageOpts(opts []string) (driverOpts []string, mountProgram string, err error) {
	for _, o := range opts {
		if o == "" {
			continue
		}
		k, v, ok := strings.Cut(o, "=")
		switch {
		case !ok || k == "":
			return nil, "", fmt.Errorf("--storage-opt %q: use DRIVER.OPTION=VALUE (e.g. overlay.mountopt=nodev)", o)
		case k == "mount_program" || k == "overlay.mount_program":
			if !filepath.IsAbs(v) {
				return nil, "", fmt.Errorf("--storage-opt %s: the mount program must be an absolute path", o)
			}
			mountProgram = v
		case strings.HasPrefix(k, "overlay.") || strings.HasPrefix(k, "vfs."):
			driverOpts = append(driverOpts, o)
		default:
			return nil, "", fmt.Errorf("--storage-opt %q: name the driver the option is for: overlay.%s or vfs.%s", o, k, k)
		}
	}
	return driverOpts, mountProgram, nil
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
