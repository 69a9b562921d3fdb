package container

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	cstorage "go.podman.io/storage"

	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
	"hutch.dev/hutch/volumes"
)

// fakeStore is the store as a container's start uses it: a root "mounted" in a
// directory of the test's, a run directory, the run root (where the mounts lock
// lives), and the mount count.
type fakeStore struct {
	cstorage.Store
	rootfs, runDir, runRoot string
	mounted                 int
}

func (s *fakeStore) RunRoot() string { return s.runRoot }

func (s *fakeStore) Mount(id, label string) (string, error) { s.mounted++; return s.rootfs, nil }
func (s *fakeStore) Unmount(id string, force bool) (bool, error) {
	s.mounted = 0
	return false, nil
}
func (s *fakeStore) ContainerRunDirectory(id string) (string, error) { return s.runDir, nil }

// An image's root: passwd and group, and a directory an anonymous volume copies.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range map[string]string{
		"etc/passwd":    "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
		"etc/group":     "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\n",
		"data/seed.txt": "from the image\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func testManager(t *testing.T) (*Manager, *fakeStore) {
	t.Helper()
	dir := t.TempDir()
	st := &fakeStore{rootfs: fakeRoot(t), runDir: filepath.Join(dir, "run"), runRoot: dir}
	return &Manager{Store: st, Records: &Records{Dir: filepath.Join(dir, "records")},
		Volumes: &volumes.Store{Dir: filepath.Join(dir, "volumes")}, Seccomp: &security.Cache{Dir: filepath.Join(dir, "seccomp")}}, st
}

// The spec a container's record turns into at a start (prepare), with the store faked.
func TestPrepareSpec(t *testing.T) {
	m, st := testManager(t)
	hostDir := t.TempDir()
	slirp, _ := network.Parse("", network.Defaults{})
	c := &Config{ID: testID, Name: "web", Args: []string{"sh"}, Env: []string{"PATH=/bin"}, Cwd: "/", User: "alice",
		Hostname: "h1", Caps: nsinit.DefaultCaps,
		Mounts: []MountSpec{
			{Type: "volume", Destination: "/data"},
			{Type: "bind", Source: hostDir, Destination: "/src", ReadOnly: true},
			{Type: "tmpfs", Destination: "/tmp", Options: []string{"size=1m"}},
			{Type: "bind", Source: filepath.Join(hostDir), Destination: "/etc/hosts"},
		},
		Security: &security.Options{NoNewPrivileges: true, Mask: []string{"/secret"}, Seccomp: security.Seccomp{Mode: security.SeccompBuiltin}},
		Settings: Settings{Network: slirp, TTY: true, ReadOnly: true},
	}
	if err := m.Records.Save(c); err != nil {
		t.Fatal(err)
	}
	spec, err := m.prepare(c)
	if err != nil {
		t.Fatal(err)
	}
	if st.mounted != 1 || spec.Rootfs != st.rootfs {
		t.Errorf("the root: %s, mounted %d times", spec.Rootfs, st.mounted)
	}
	// The user from the image's files, HOME from passwd; the record's process.
	if want := (nsinit.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{50}}); !reflect.DeepEqual(spec.User, want) {
		t.Errorf("user %+v", spec.User)
	}
	if !reflect.DeepEqual(spec.Env, []string{"PATH=/bin", "HOME=/home/alice"}) || spec.Hostname != "h1" || !reflect.DeepEqual(spec.Args, []string{"sh"}) {
		t.Errorf("process: %+v", spec)
	}
	if !spec.NewNetwork || !spec.Terminal || !spec.ReadOnly || spec.Privileged || !spec.NoNewPrivileges ||
		!reflect.DeepEqual(spec.Mask, []string{"/secret"}) || len(spec.Seccomp) == 0 || spec.SessionKeyring != nsinit.SessionKeyring(testID) {
		t.Errorf("confinement: %+v", spec)
	}

	// Mounts: parents before children; at equal depth the user's /etc/hosts after the
	// generated one (it wins).
	var dests []string
	for _, mt := range spec.Mounts {
		dests = append(dests, mt.Destination)
	}
	if want := []string{"/data", "/src", "/tmp", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/hosts"}; !reflect.DeepEqual(dests, want) {
		t.Errorf("mount order %q, want %q", dests, want)
	}
	// The anonymous volume: made, named in the record, filled from the image's /data.
	vol := spec.Mounts[0]
	if vol.Type != "bind" || !strings.HasPrefix(vol.Source, m.Volumes.Dir) {
		t.Fatalf("volume mount %+v", vol)
	}
	if b, err := os.ReadFile(filepath.Join(vol.Source, "seed.txt")); err != nil || string(b) != "from the image\n" {
		t.Errorf("the volume was not filled from the image: %q, %v", b, err)
	}
	saved, err := m.Records.Get("web")
	if err != nil || saved.Mounts[0].Source == "" || saved.Mounts[0].Source != c.Mounts[0].Source {
		t.Errorf("the anonymous volume's name is not recorded: %+v, %v", saved, err)
	}
	if got := spec.Mounts[1]; got.Source != hostDir || !got.ReadOnly || got.File {
		t.Errorf("bind %+v", got)
	}
	if got := spec.Mounts[2]; got.Type != "tmpfs" || !reflect.DeepEqual(got.Options, []string{"size=1m"}) {
		t.Errorf("tmpfs %+v", got)
	}
	hosts, err := os.ReadFile(filepath.Join(st.runDir, "hosts"))
	if err != nil || !strings.HasSuffix(string(hosts), "10.0.2.100\th1 web\n") {
		t.Errorf("/etc/hosts names the hostname and the name: %q, %v", hosts, err)
	}

	// --privileged: no seccomp filter (nor masked paths, in nsinit).
	c.Privileged = true
	if spec, err = m.prepare(c); err != nil || len(spec.Seccomp) != 0 || !spec.Privileged {
		t.Errorf("--privileged: %+v, %v", spec, err)
	}
}

// A start that cannot be prepared leaves nothing mounted, and says why.
func TestPrepareFailures(t *testing.T) {
	m, st := testManager(t)
	none := network.Config{Mode: network.ModeNone}
	for _, c := range []struct {
		cfg *Config
		err string
	}{
		{&Config{ID: testID, Name: "a", Args: []string{"sh"}, User: "mallory", ImageName: "bb", Settings: Settings{Network: none}},
			`-u "mallory": no such user or group in the image bb`},
		{&Config{ID: testID, Name: "a", Args: []string{"sh"}, Settings: Settings{Network: none},
			Mounts: []MountSpec{{Type: "bind", Source: "/nonexistent/dir", Destination: "/m"}}}, "bind mount source /nonexistent/dir: no such file or directory"},
	} {
		_, err := m.prepare(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v, want %q", err, c.err)
		}
		if st.mounted != 0 {
			t.Errorf("%q: the root stays mounted", c.err)
		}
	}
}

func TestInitShape(t *testing.T) {
	keep := []nsinit.IDMap{{ContainerID: 0, HostID: 1, Size: 1}}
	m := &Manager{}
	s, err := m.initShape(&Config{UIDMap: keep, GIDMap: keep, Settings: Settings{Network: network.Config{Mode: network.ModeHost}, TTY: true, Init: true,
		ProcessSettings: ProcessSettings{PidMode: "host", CgroupnsMode: "host"}}})
	if err != nil || s.NewNetwork || !s.Terminal || !s.Init || !slices.Equal(s.UIDMap, keep) || s.PidNS != nsinit.NSHost || s.CgroupNS != nsinit.NSHost || s.IPCNS != "" || s.NetNS != "" {
		t.Errorf("%+v %v", s, err)
	}
}
