package engine

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/sys/unix"

	"hutch.dev/hutch/cgroups"
	"hutch.dev/hutch/config"
	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/diag"
	"hutch.dev/hutch/internal/lock"
	"hutch.dev/hutch/overlay"
	"hutch.dev/hutch/userns"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests use hutch's real-root path (no user namespace): run as root (as CI does)")
	}
}

// userEnv points HOME and the XDG variables at a fresh tree and returns its root.
func userEnv(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Setenv("HOME", filepath.Join(root, "home"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(root, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(root, "data"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "cache"))
	rt := filepath.Join(root, "run")
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", rt)
	t.Setenv("TMPDIR", root)
	t.Setenv(envPaths, "")
	t.Setenv(contract.UsernsState, "")
	return root
}

func writeUserConfig(t *testing.T, root, content string) string {
	t.Helper()
	dir := filepath.Join(root, "config", "hutch")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadAsRoot(t *testing.T) {
	requireRoot(t)
	root := userEnv(t)
	h, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !h.Inside || !h.NS.Root || h.NS.UID != 0 {
		t.Errorf("as root: inside %v ns %+v", h.Inside, h.NS)
	}
	want := config.Paths{
		ConfigDir:  filepath.Join(root, "config", "hutch"),
		UserConfig: filepath.Join(root, "config", "hutch", "config.toml"),
		DataDir:    filepath.Join(root, "data", "hutch"),
		GraphRoot:  filepath.Join(root, "data", "hutch", "storage"),
		CacheDir:   filepath.Join(root, "cache", "hutch"),
		RuntimeDir: filepath.Join(root, "run", "hutch"),
		RunRoot:    filepath.Join(root, "run", "hutch", "storage"),
		VolumeDir:  filepath.Join(root, "data", "hutch", "volumes"),
	}
	if *h.Paths != want {
		t.Errorf("paths = %+v\nwant    %+v", *h.Paths, want)
	}
	if len(h.Sources) != 2 || h.Sources[0].Path != config.SystemFile || h.Sources[1] != (config.Source{Path: want.UserConfig}) {
		t.Errorf("sources = %+v", h.Sources)
	}
}

func TestLoadGraphRootFromConfig(t *testing.T) {
	requireRoot(t)
	root := userEnv(t)
	store := filepath.Join(root, "elsewhere", "store")
	p := writeUserConfig(t, root, "[storage]\ngraphroot = \""+store+"\"\ndriver = \"vfs\"\n")
	h, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if h.Paths.GraphRoot != store || h.Config.Storage.Driver != "vfs" {
		t.Errorf("graph root %q driver %q", h.Paths.GraphRoot, h.Config.Storage.Driver)
	}
	if h.driverSource() != p {
		t.Errorf("driverSource = %q, want %q", h.driverSource(), p)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	requireRoot(t)
	root := userEnv(t)
	p := writeUserConfig(t, root, "[storage]\ngraphroot = \"relative/store\"\n")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), `graphroot = "relative/store" must be an absolute path`) {
		t.Errorf("relative graphroot: %v", err)
	}
	writeUserConfig(t, root, "[storage]\ndriver = \"vfs\"\ndirver = \"x\"\n")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), p+`:3: unknown key "storage.dirver"`) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestLoadPathsFromParent(t *testing.T) {
	requireRoot(t)
	userEnv(t)
	given := config.Paths{ConfigDir: "/p/config", UserConfig: "/p/config/config.toml", GraphRoot: "/p/graph", RunRoot: "/p/run", RuntimeDir: "/p/rt"}
	b, _ := json.Marshal(given)
	t.Setenv(envPaths, string(b))
	h, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if *h.Paths != given {
		t.Errorf("paths = %+v, want the parent's %+v", *h.Paths, given)
	}
	t.Setenv(envPaths, "{bad")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "internal error: bad "+envPaths) {
		t.Errorf("damaged paths: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	h := &Host{
		NS:    &userns.State{Warnings: []diag.Warning{{ID: "single-id", Text: "one"}}},
		Paths: &config.Paths{RuntimeFallback: "XDG_RUNTIME_DIR is not set; using /tmp/hutch-1000"},
	}
	ws := h.Warnings()
	if len(ws) != 2 || ws[0].ID != "single-id" || ws[1].ID != "runtime-dir" || ws[1].Text != h.Paths.RuntimeFallback {
		t.Errorf("warnings = %+v", ws)
	}
	// The namespace's own list is not modified.
	if len(h.NS.Warnings) != 1 {
		t.Errorf("NS warnings grew to %d", len(h.NS.Warnings))
	}
	h.Paths.RuntimeFallback = ""
	if ws := h.Warnings(); len(ws) != 1 {
		t.Errorf("without a fallback: %+v", ws)
	}
}

func TestDriverSource(t *testing.T) {
	h := &Host{}
	if h.driverSource() != "config.toml" {
		t.Errorf("no sources: %q", h.driverSource())
	}
	h.Sources = []config.Source{{Path: "/etc/hutch/config.toml", Found: true}, {Path: "/home/u/.config/hutch/config.toml"}}
	if h.driverSource() != "/etc/hutch/config.toml" {
		t.Errorf("system only: %q", h.driverSource())
	}
	h.Sources[1].Found = true
	if h.driverSource() != "/home/u/.config/hutch/config.toml" {
		t.Errorf("both: %q", h.driverSource())
	}
}

func TestSystemContextStaysInHutchDirs(t *testing.T) {
	rt := t.TempDir()
	h := &Host{Config: &config.Config{Registries: config.RegistriesConfig{Insecure: []string{"127.0.0.1:5000"}}},
		Paths: &config.Paths{ConfigDir: "/c/hutch", CacheDir: "/k/hutch", GraphRoot: "/g/storage", RuntimeDir: rt}}
	sc := h.SystemContext()
	// The registries.conf go.podman.io/image reads is hutch's own, made from config.toml.
	if sc.SystemRegistriesConfPath != filepath.Join(rt, "registries.conf") {
		t.Errorf("registries.conf = %q, want it in the runtime dir", sc.SystemRegistriesConfPath)
	}
	if b, err := os.ReadFile(sc.SystemRegistriesConfPath); err != nil || !strings.Contains(string(b), "location = \"127.0.0.1:5000\"\ninsecure = true") {
		t.Errorf("registries.conf: %v\n%s", err, b)
	}
	for name, p := range map[string]string{
		"registries.conf.d": sc.SystemRegistriesConfDirPath,
		"registries.d":      sc.RegistriesDirPath,
		"auth":              sc.AuthFilePath,
		"policy":            sc.SignaturePolicyPath,
	} {
		if !strings.HasPrefix(p, "/c/hutch/") {
			t.Errorf("%s = %q, outside the config dir", name, p)
		}
	}
	if sc.BlobInfoCacheDir != "/k/hutch/blob-info" || sc.BigFilesTemporaryDir != "/g/storage/tmp" {
		t.Errorf("cache %q tmp %q", sc.BlobInfoCacheDir, sc.BigFilesTemporaryDir)
	}
}

func TestOpenStore(t *testing.T) {
	requireRoot(t)
	root := userEnv(t)
	p := writeUserConfig(t, root, "[storage]\ndriver = \"vfs\"\n")
	h, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.OpenStore()
	if err != nil {
		t.Fatal(err)
	}
	if s.Manifest.Driver.Name != "vfs" || s.GraphDriverName() != "vfs" || s.Options.GraphRoot != h.Paths.GraphRoot {
		t.Errorf("store: %+v", s.Manifest)
	}
	info := h.Info(s, nil)
	if info.Store.Driver == nil || info.Store.Driver.Name != "vfs" || info.Store.Images != 0 || info.Store.Error != "" {
		t.Errorf("info store = %+v", info.Store)
	}
	_, _ = s.Shutdown(true)

	// Forcing another driver later names the file that does it.
	writeUserConfig(t, root, "[storage]\ndriver = \"overlay\"\n")
	h, err = Load()
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.OpenStore()
	if err == nil || !strings.Contains(err.Error(), "but "+p+" asks for overlay") {
		t.Errorf("switching drivers: %v", err)
	}

	h.Inside = false
	if _, err := h.OpenStore(); err == nil || !strings.Contains(err.Error(), "only be opened inside the user namespace") {
		t.Errorf("outside the namespace: %v", err)
	}
}

func TestLockStore(t *testing.T) {
	graph := filepath.Join(t.TempDir(), "new", "graph")
	h := &Host{Paths: &config.Paths{GraphRoot: graph}}
	l, err := h.LockStore()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if fi, err := os.Stat(graph); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("graph root: %v %v", fi, err)
	}
	if h := lock.Holder(filepath.Join(graph, "hutch.lock")); !strings.HasPrefix(h, "PID ") {
		t.Errorf("holder = %q", h)
	}
}

func TestInfo(t *testing.T) {
	requireRoot(t)
	userEnv(t)
	h, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	in := h.Info(nil, errors.New("store is broken"))
	if in.Store.Error != "store is broken" || in.Store.Driver != nil {
		t.Errorf("store = %+v", in.Store)
	}
	if in.Version == "" || !strings.HasPrefix(in.Go, "go") || in.Kernel == "" {
		t.Errorf("version %q go %q kernel %q", in.Version, in.Go, in.Kernel)
	}
	if in.User.UID != 0 || in.User.Name != "root" || in.IDMaps.Source != "none: running as root, without a user namespace" {
		t.Errorf("user %+v idmaps %+v", in.User, in.IDMaps)
	}
	if in.Paths != h.Paths || in.Store.GraphRoot != h.Paths.GraphRoot {
		t.Errorf("paths not reported")
	}
	hasCgroupWarning := false
	for _, w := range in.Warnings {
		if w.ID == "cgroup-limits" {
			hasCgroupWarning = true
			if strings.Contains(w.Text, "unavailable: ") {
				t.Errorf("warning text keeps the verdict prefix: %q", w.Text)
			}
		}
	}
	if hasCgroupWarning != (in.Cgroups.Limits != "available") {
		t.Errorf("cgroup limits %q but cgroup warning %v", in.Cgroups.Limits, hasCgroupWarning)
	}
	b, err := json.Marshal(in)
	if err != nil || !strings.Contains(string(b), `"idMappings"`) {
		t.Errorf("info JSON: %v", err)
	}
}

func TestReset(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	p := &config.Paths{
		GraphRoot:  filepath.Join(root, "data", "storage"),
		RunRoot:    filepath.Join(root, "rt", "storage"),
		CacheDir:   filepath.Join(root, "cache"),
		RuntimeDir: filepath.Join(root, "rt"),
	}
	for _, d := range []string{filepath.Join(p.GraphRoot, "vfs", "dir", "sub"), p.RunRoot, p.CacheDir, filepath.Join(p.RuntimeDir, "other")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(p.GraphRoot, "vfs", "dir", "f"), []byte("x"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.RuntimeDir, "warned-x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "data", "keep"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A mount left in the store (a container's root file system) is taken off first.
	mnt := filepath.Join(p.GraphRoot, "vfs", "dir", "sub")
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(mnt, "in-tmpfs"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := Reset(p, false); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{p.GraphRoot, p.RunRoot, p.CacheDir} {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the reset (%v)", d, err)
		}
	}
	es, err := os.ReadDir(p.RuntimeDir)
	if err != nil {
		t.Fatalf("the runtime dir itself must stay: %v", err)
	}
	if len(es) != 0 {
		t.Errorf("runtime dir still holds %d entries", len(es))
	}
	if _, err := os.Stat(filepath.Join(root, "data", "keep")); err != nil {
		t.Errorf("a file beside the store was removed: %v", err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), mnt) {
		t.Error("the mount under the store is still there")
	}
	// A second reset of nothing is fine.
	if err := Reset(p, false); err != nil {
		t.Errorf("resetting again: %v", err)
	}
}

// TestResetStoreOnly: the reset of a store --root chose leaves the user's cache and
// runtime state alone.
func TestResetStoreOnly(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	p := &config.Paths{
		GraphRoot:  filepath.Join(root, "other", "storage"),
		RunRoot:    filepath.Join(root, "other", "run"),
		CacheDir:   filepath.Join(root, "cache"),
		RuntimeDir: filepath.Join(root, "rt"),
	}
	for _, d := range []string{filepath.Join(p.GraphRoot, "vfs"), p.RunRoot, p.CacheDir, filepath.Join(p.RuntimeDir, "storage")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := Reset(p, true); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{p.GraphRoot, p.RunRoot} {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the reset (%v)", d, err)
		}
	}
	for _, d := range []string{p.CacheDir, filepath.Join(p.RuntimeDir, "storage")} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s went with the reset of another store: %v", d, err)
		}
	}
}

func TestLingerWarning(t *testing.T) {
	dir := t.TempDir()
	systemd := filepath.Join(dir, "systemd")
	linger := filepath.Join(dir, "linger")
	if w := lingerWarning("alice", systemd, linger); w != nil {
		t.Errorf("no systemd: got %+v, want no warning", w)
	}
	if err := os.MkdirAll(systemd, 0o755); err != nil {
		t.Fatal(err)
	}
	w := lingerWarning("alice", systemd, linger)
	if w == nil || w.ID != "linger" || !strings.Contains(w.Text, "loginctl enable-linger alice") {
		t.Fatalf("systemd without linger: got %+v", w)
	}
	if err := os.MkdirAll(linger, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(linger, "alice"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if w := lingerWarning("alice", systemd, linger); w != nil {
		t.Errorf("lingering on: got %+v", w)
	}
}

func TestParseStorageOpts(t *testing.T) {
	opts, prog, err := parseStorageOpts([]string{"", "overlay.mountopt=nodev", "overlay.mount_program=/usr/bin/fuse-overlayfs", "vfs.ignore_chown_errors=true"})
	if err != nil || prog != "/usr/bin/fuse-overlayfs" || len(opts) != 2 || opts[0] != "overlay.mountopt=nodev" || opts[1] != "vfs.ignore_chown_errors=true" {
		t.Errorf("parseStorageOpts = %v %q %v", opts, prog, err)
	}
	if _, prog, err := parseStorageOpts([]string{"mount_program=/bin/fo"}); err != nil || prog != "/bin/fo" {
		t.Errorf("mount_program=: %q %v", prog, err)
	}
	for in, want := range map[string]string{
		"mountopt=nodev":                  "overlay.mountopt or vfs.mountopt",
		"overlay.mountopt":                "DRIVER.OPTION=VALUE",
		"=x":                              "DRIVER.OPTION=VALUE",
		"overlay.mount_program=fuse-over": "absolute path",
	} {
		if _, _, err := parseStorageOpts([]string{in}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--storage-opt %s: %v, want %q", in, err, want)
		}
	}
}

func TestStoreFlagsLine(t *testing.T) {
	for _, c := range []struct {
		f    StoreFlags
		want string
	}{
		{StoreFlags{}, ""},
		{StoreFlags{Driver: "vfs"}, ""},
		{StoreFlags{Root: "/a/b"}, "--root /a/b"},
		{StoreFlags{Root: "/a b", RunRoot: "/r"}, "--root '/a b' --runroot /r"},
		{StoreFlags{RunRoot: "/it's"}, `--runroot '/it'\''s'`},
	} {
		if got := c.f.flags(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.f, got, c.want)
		}
	}
}

// TestInfoView: `info --format` reaches Docker's names, Podman's and hutch's own, where
// they share a name too.
func TestInfoView(t *testing.T) {
	in := &Info{
		Version: "1.2.3", Commit: "abc", Kernel: "6.1.0",
		Paths:    &config.Paths{GraphRoot: "/g", RunRoot: "/r", VolumeDir: "/g/volumes", UserConfig: "/c/config.toml"},
		Store:    InfoStore{GraphRoot: "/g", RunRoot: "/r", Driver: &overlay.Choice{Name: overlay.Fuse, MountProgram: "/usr/bin/fuse-overlayfs"}, Images: 4, Status: map[string]string{"b": "2", "a": "1"}},
		Cgroups:  &cgroups.Delegation{Layout: cgroups.Layout{Mode: "v2"}, Availability: []cgroups.Availability{{Controller: "memory", Available: true}, {Controller: "cpu"}}},
		Seccomp:  InfoSeccomp{Enabled: true, Profile: "builtin"},
		Rootless: true,
		Host: InfoHost{Hostname: "box", OS: "linux", Arch: "amd64", Machine: "x86_64", CPUs: 2, MemTotal: 1 << 30,
			Distribution: InfoDistribution{ID: "debian", Version: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}},
		Containers:      InfoContainers{Total: 3, Running: 1, Paused: 1, Stopped: 1},
		Registries:      InfoRegistries{Search: []string{"docker.io"}},
		SecurityOptions: []string{"name=seccomp,profile=builtin", "name=rootless"},
		Warnings:        []diag.Warning{{ID: "x", Text: "first"}, {ID: "y", Text: "second"}},
		IDMaps:          InfoIDMaps{UIDMap: []userns.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}},
	}
	for tmpl, want := range map[string]string{
		"{{.ServerVersion}} {{.Driver}} {{.OperatingSystem}} {{.OSVersion}} {{.NCPU}} {{.MemTotal}}":                                        "1.2.3 overlay Debian GNU/Linux 12 (bookworm) 12 2 1073741824",
		"{{.CgroupVersion}} {{.CgroupDriver}} {{.MemoryLimit}} {{.CpuCfsQuota}} {{.PidsLimit}}":                                             "2 cgroupfs true false false",
		"{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}":                                               "3 1 1 1",
		"{{.Images}} {{.DockerRootDir}} {{.KernelVersion}} {{.Architecture}} {{.Name}} {{.OSType}}":                                         "4 /g 6.1.0 x86_64 box linux",
		"{{json .SecurityOptions}} {{json .DriverStatus}}":                                                                                  `["name=seccomp,profile=builtin","name=rootless"] [["a","1"],["b","2"]]`,
		"{{range .Warnings}}{{.}};{{end}}":                                                                                                  "first;second;",
		"{{.Host.Arch}} {{.Host.OCIRuntime.Name}} {{.Host.Kernel}} {{.Host.Rootless}} {{.Host.CgroupVersion}}":                              "amd64 hutch 6.1.0 true v2",
		"{{.Host.Distribution.Distribution}} {{.Host.Distribution.Codename}} {{(index .Host.IDMappings.UIDMap 0).HostID}}":                  "debian bookworm 1000",
		"{{.Store.GraphDriverName}} {{.Store.GraphRoot}} {{.Store.RunRoot}} {{.Store.ImageStore.Number}} {{.Store.ContainerStore.Running}}": "overlay /g /r 4 1",
		"{{.Store.VolumePath}} {{.Store.ConfigFile}} {{index .Store.GraphOptions \"overlay.mount_program\"}}":                               "/g/volumes /c/config.toml map[Executable:/usr/bin/fuse-overlayfs]",
		"{{.Version}} {{.Version.Version}} {{.Version.GitCommit}} {{index .Registries \"search\"}}":                                         "1.2.3 1.2.3 abc [docker.io]",
		// hutch's own, shared names included.
		"{{.Store.Driver.Name}} {{.Store.Images}} {{.Commit}} {{.Paths.GraphRoot}} {{.Info.Host.Machine}} {{.Info.Containers.Paused}}": "fuse-overlayfs 4 abc /g x86_64 1",
	} {
		tp, err := template.New("").Funcs(template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}).Parse(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := tp.Execute(&b, in.View()); err != nil {
			t.Errorf("%s: %v", tmpl, err)
			continue
		}
		if b.String() != want {
			t.Errorf("%s:\n got %q\nwant %q", tmpl, b.String(), want)
		}
	}
}

func TestOSRelease(t *testing.T) {
	p := filepath.Join(t.TempDir(), "os-release")
	if err := os.WriteFile(p, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := osRelease(p)
	if d != (InfoDistribution{ID: "debian", Version: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}) {
		t.Errorf("osRelease = %+v", d)
	}
}

// TestRootGetsItsOwnRunRoot: --root alone gives the store a run root of its own, the
// same one every time; --runroot, or --root naming the default store, keeps theirs.
func TestRootGetsItsOwnRunRoot(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	for _, k := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"} {
		t.Setenv(k, filepath.Join(root, strings.ToLower(k)))
	}
	if err := os.MkdirAll(filepath.Join(root, "xdg_runtime_dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	def, err := LoadWith(StoreFlags{})
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "other")
	a, err := LoadWith(StoreFlags{Root: other})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := LoadWith(StoreFlags{Root: other})
	if a.Paths.RunRoot == def.Paths.RunRoot || a.Paths.RunRoot != b.Paths.RunRoot || filepath.Dir(a.Paths.RunRoot) != def.Paths.RuntimeDir {
		t.Errorf("--root alone: run root %s (default %s, again %s)", a.Paths.RunRoot, def.Paths.RunRoot, b.Paths.RunRoot)
	}
	if a.Paths.GraphRoot != other || a.Paths.VolumeDir != filepath.Join(other, "volumes") {
		t.Errorf("--root: %+v", a.Paths)
	}
	c, _ := LoadWith(StoreFlags{Root: other, RunRoot: filepath.Join(root, "rr")})
	if c.Paths.RunRoot != filepath.Join(root, "rr") {
		t.Errorf("--root --runroot: run root %s", c.Paths.RunRoot)
	}
	d, _ := LoadWith(StoreFlags{Root: def.Paths.GraphRoot})
	if d.Paths.RunRoot != def.Paths.RunRoot {
		t.Errorf("--root of the default store: run root %s, want %s", d.Paths.RunRoot, def.Paths.RunRoot)
	}
}
