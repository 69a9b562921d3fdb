package storage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.podman.io/storage/pkg/reexec"

	"hutch.dev/hutch/overlay"
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
		t.Fatal("opening a store outside a user namespace needs root: run as root (as CI does)")
	}
}

func TestNetworkFSName(t *testing.T) {
	for magic, want := range map[int64]string{
		0x6969:     "NFS",
		0xFF534D42: "CIFS",
		0xFE534D42: "SMB2",
		0x517B:     "SMB",
		0x00C36400: "CephFS",
		0x01021997: "9p",
		0x0BD00BD0: "Lustre",
		0x47504653: "GPFS",
		0x786F4256: "VirtualBox shared folder",
		0xEF53:     "", // ext4
		0x58465342: "", // xfs
		0x01021994: "", // tmpfs
		0x794C7630: "", // overlayfs
		0:          "",
	} {
		if got := NetworkFSName(magic); got != want {
			t.Errorf("NetworkFSName(%#x) = %q, want %q", magic, got, want)
		}
	}
}

func TestCheckLocalFS(t *testing.T) {
	dir := t.TempDir()
	if err := CheckLocalFS(dir); err != nil {
		t.Errorf("a local directory: %v", err)
	}
	// Not there yet: the nearest existing parent is checked.
	if err := CheckLocalFS(filepath.Join(dir, "a", "b", "c")); err != nil {
		t.Errorf("a path below a local directory: %v", err)
	}
	if err := CheckLocalFS("/"); err != nil {
		t.Errorf("/: %v", err)
	}
	// A path that cannot be walked (a file on the way) is an error, not a loop.
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := CheckLocalFS(filepath.Join(f, "sub"))
	if err == nil || !strings.Contains(err.Error(), "statfs") {
		t.Errorf("a path through a file: %v", err)
	}
}

func openVFS(t *testing.T, root string, driver string) (*Store, error) {
	t.Helper()
	s, err := Open(Options{
		GraphRoot:    filepath.Join(root, "graph"),
		RunRoot:      filepath.Join(root, "run"),
		Driver:       driver,
		DriverSource: "/home/u/.config/hutch/config.toml",
	})
	if err == nil {
		t.Cleanup(func() { _, _ = s.Shutdown(true) })
	}
	return s, err
}

func readManifest(t *testing.T, graphRoot string) Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(graphRoot, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenRecordsDriver(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	s, err := openVFS(t, root, overlay.VFS)
	if err != nil {
		t.Fatal(err)
	}
	graph := filepath.Join(root, "graph")
	if s.GraphDriverName() != "vfs" {
		t.Errorf("driver = %q", s.GraphDriverName())
	}
	m := readManifest(t, graph)
	if m.Version != 1 || m.Driver.Name != overlay.VFS || !m.Driver.Forced || m.Driver.Reason != "forced by config.toml" || m.Created.IsZero() {
		t.Errorf("manifest = %+v", m)
	}
	if s.Manifest.Driver.Name != overlay.VFS || s.Options.GraphRoot != graph {
		t.Errorf("store = %+v %+v", s.Manifest, s.Options)
	}
	fi, err := os.Stat(filepath.Join(graph, ManifestFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("manifest file: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(graph, "probe")); err == nil {
		t.Error("the probe directory was left behind")
	}
	// The store works: a layer can be made.
	if _, err := s.CreateLayer("", "", nil, "", true, nil); err != nil {
		t.Errorf("creating a layer: %v", err)
	}
}

func TestOpenRefusesADifferentForcedDriver(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	s, err := openVFS(t, root, overlay.VFS)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Shutdown(true)

	_, err = openVFS(t, root, overlay.Native)
	if err == nil {
		t.Fatal("a store made with vfs was opened with overlay")
	}
	for _, want := range []string{"created with the vfs driver", "asks for overlay", "/home/u/.config/hutch/config.toml", "hutch system reset"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if m := readManifest(t, filepath.Join(root, "graph")); m.Driver.Name != overlay.VFS {
		t.Errorf("the refused open changed the manifest to %+v", m)
	}
}

// TestDriverFlag: --storage-driver forces a new store's driver (and says so), and is
// refused for a store recorded with another, with the fix in the flag's terms; the
// driver options it is given must be the store's driver's.
func TestDriverFlag(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	o := Options{GraphRoot: filepath.Join(root, "graph"), RunRoot: filepath.Join(root, "run"), Driver: overlay.VFS, DriverFlag: true,
		DriverSource: "/home/u/.config/hutch/config.toml"}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Shutdown(true)
	if m := readManifest(t, o.GraphRoot); m.Driver.Reason != "forced by --storage-driver" || !m.Driver.Forced {
		t.Errorf("manifest = %+v", m)
	}
	o.Driver, o.Flags = overlay.Native, "--root /else"
	_, err = Open(o)
	if err == nil {
		t.Fatal("a store made with vfs was opened with --storage-driver overlay")
	}
	for _, want := range []string{"created with the vfs driver", "--storage-driver asks for overlay", "leaving out --storage-driver", "--root DIR", "`hutch --root /else --storage-driver overlay system reset`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "config.toml") {
		t.Errorf("the flag's refusal speaks of config.toml: %v", err)
	}
	o.Driver, o.DriverOptions = "", []string{"overlay.mountopt=nodev"}
	if _, err := Open(o); err == nil || !strings.Contains(err.Error(), `uses the vfs driver, whose options start with "vfs."`) {
		t.Errorf("an overlay option on a vfs store: %v", err)
	}
	// A store of its own: go.podman.io/storage keeps one store per root in a process.
	o = Options{Flags: "--root /else", GraphRoot: filepath.Join(root, "graph2"), RunRoot: filepath.Join(root, "run2"), Driver: overlay.VFS, DriverFlag: true}
	o.DriverOptions = []string{"vfs.mountopt=nodev"}
	if _, err := Open(o); err == nil || !strings.Contains(err.Error(), "with --storage-opt vfs.mountopt=nodev") || strings.Contains(err.Error(), "system reset") {
		t.Errorf("an option vfs refuses: %v", err)
	}
	o.GraphRoot, o.RunRoot = filepath.Join(root, "graph3"), filepath.Join(root, "run3")
	o.DriverOptions = []string{"vfs.ignore_chown_errors=true"}
	s, err = Open(o)
	if err != nil {
		t.Fatalf("a vfs option: %v", err)
	}
	_, _ = s.Shutdown(true)
}

func TestOpenWithoutForcedDriverKeepsRecorded(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	s, err := openVFS(t, root, overlay.VFS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateLayer("", "", nil, "", true, nil); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Shutdown(true)

	// As root the probe would choose native overlay: the record must win.
	s, err = openVFS(t, root, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Manifest.Driver.Name != overlay.VFS || s.GraphDriverName() != "vfs" {
		t.Errorf("reopened with %q / %q, want the recorded vfs", s.Manifest.Driver.Name, s.GraphDriverName())
	}
	layers, err := s.Layers()
	if err != nil || len(layers) != 1 {
		t.Errorf("layers after reopening: %d, %v", len(layers), err)
	}
}

func TestOpenDamagedManifest(t *testing.T) {
	root := t.TempDir()
	graph := filepath.Join(root, "graph")
	if err := os.MkdirAll(graph, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(graph, ManifestFile), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := openVFS(t, root, "")
	if err == nil || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "hutch system reset") {
		t.Errorf("err = %v", err)
	}
}

func TestOpenFuseManifestWithMissingProgram(t *testing.T) {
	root := t.TempDir()
	graph := filepath.Join(root, "graph")
	if err := os.MkdirAll(graph, 0o700); err != nil {
		t.Fatal(err)
	}
	m := Manifest{Version: 1, Driver: overlay.Choice{Name: overlay.Fuse, MountProgram: "/nonexistent/fuse-overlayfs"}}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(graph, ManifestFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := openVFS(t, root, "")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/fuse-overlayfs is gone") {
		t.Errorf("err = %v", err)
	}
}

func TestOpenAdoptsPreManifestVFSStore(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	graph := filepath.Join(root, "graph")
	// A store made before hutch wrote manifests: it has a vfs directory.
	if err := os.MkdirAll(filepath.Join(graph, "vfs"), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := openVFS(t, root, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Manifest.Driver.Name != overlay.VFS || s.Manifest.Driver.Forced || s.Manifest.Driver.Reason != "kept from the data already in the store" {
		t.Errorf("manifest = %+v", s.Manifest)
	}
}

func TestExistingDriver(t *testing.T) {
	dir := t.TempDir()
	if d := existingDriver(dir); d != "" {
		t.Errorf("an empty graph root: %q", d)
	}
	ov := filepath.Join(dir, "overlay")
	if err := os.MkdirAll(ov, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ov, ".has-mount-program"), []byte("true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if d := existingDriver(dir); d != overlay.Fuse {
		t.Errorf("overlay with a mount program: %q", d)
	}
	if err := os.WriteFile(filepath.Join(ov, ".has-mount-program"), []byte("false"), 0o600); err != nil {
		t.Fatal(err)
	}
	if d := existingDriver(dir); d != overlay.Native {
		t.Errorf("overlay without a mount program: %q", d)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vfs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if d := existingDriver(dir); d != overlay.VFS {
		t.Errorf("a vfs directory: %q", d)
	}
}

func TestOpenProbesNativeOverlayAsRoot(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	s, err := openVFS(t, root, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Manifest.Driver.Name != overlay.Native || s.GraphDriverName() != "overlay" {
		t.Errorf("a new store as root chose %+v (%s)", s.Manifest.Driver, s.GraphDriverName())
	}
	if m := readManifest(t, filepath.Join(root, "graph")); m.Driver.Name != overlay.Native || m.Driver.Forced {
		t.Errorf("manifest = %+v", m)
	}
}
