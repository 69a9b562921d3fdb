package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// otherUID is a uid that is not ours; as root the tests chown directories to it.
const otherUID = 65534

func mapEnv(m map[string]string) Env { return func(k string) string { return m[k] } }

// isolateTmp points os.TempDir at a fresh directory, where the fallback runtime dir goes.
func isolateTmp(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if os.TempDir() != tmp {
		t.Fatalf("os.TempDir() = %q after setting TMPDIR=%q", os.TempDir(), tmp)
	}
	return tmp
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test chowns files to another uid and must run as root (as CI does)")
	}
}

func statMode(t *testing.T, p string) (os.FileMode, int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode(), int(fi.Sys().(*syscall.Stat_t).Uid)
}

func TestUserPathsXDGHonoured(t *testing.T) {
	isolateTmp(t)
	rt := t.TempDir()
	uid := os.Getuid()
	env := mapEnv(map[string]string{
		"XDG_CONFIG_HOME": "/xdg/config",
		"XDG_DATA_HOME":   "/xdg/data",
		"XDG_CACHE_HOME":  "/xdg/cache",
		"XDG_RUNTIME_DIR": rt,
	})
	p, err := UserPaths(uid, "/home/u", env)
	if err != nil {
		t.Fatal(err)
	}
	want := Paths{
		ConfigDir:  "/xdg/config/hutch",
		UserConfig: "/xdg/config/hutch/config.toml",
		DataDir:    "/xdg/data/hutch",
		GraphRoot:  "/xdg/data/hutch/storage",
		CacheDir:   "/xdg/cache/hutch",
		RuntimeDir: filepath.Join(rt, "hutch"),
		RunRoot:    filepath.Join(rt, "hutch", "storage"),
		VolumeDir:  "/xdg/data/hutch/volumes",
	}
	if *p != want {
		t.Errorf("paths = %+v\nwant    %+v", *p, want)
	}
	mode, owner := statMode(t, p.RuntimeDir)
	if !mode.IsDir() || mode.Perm() != 0o700 || owner != uid {
		t.Errorf("runtime dir %s: mode %v owner %d, want a 0700 directory of uid %d", p.RuntimeDir, mode, owner, uid)
	}
	// Nothing else is created.
	for _, d := range []string{"/xdg"} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s was created", d)
		}
	}
}

func TestUserPathsRelativeXDGIgnored(t *testing.T) {
	isolateTmp(t)
	rt := t.TempDir()
	env := mapEnv(map[string]string{
		"XDG_CONFIG_HOME": "rel/config",
		"XDG_DATA_HOME":   "./data",
		"XDG_CACHE_HOME":  "~/.cache",
		"XDG_RUNTIME_DIR": rt,
	})
	p, err := UserPaths(os.Getuid(), "/home/u", env)
	if err != nil {
		t.Fatal(err)
	}
	if p.ConfigDir != "/home/u/.config/hutch" || p.DataDir != "/home/u/.local/share/hutch" ||
		p.CacheDir != "/home/u/.cache/hutch" || p.GraphRoot != "/home/u/.local/share/hutch/storage" ||
		p.UserConfig != "/home/u/.config/hutch/config.toml" {
		t.Errorf("relative XDG values were used: %+v", p)
	}
}

func TestUserPathsDefaultsWithoutXDG(t *testing.T) {
	isolateTmp(t)
	rt := t.TempDir()
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(map[string]string{"XDG_RUNTIME_DIR": rt}))
	if err != nil {
		t.Fatal(err)
	}
	if p.ConfigDir != "/home/u/.config/hutch" || p.DataDir != "/home/u/.local/share/hutch" || p.CacheDir != "/home/u/.cache/hutch" {
		t.Errorf("defaults: %+v", p)
	}
	if p.RuntimeFallback != "" {
		t.Errorf("unexpected fallback: %s", p.RuntimeFallback)
	}
}

// checkFallback asserts that p uses the private fallback directory in tmp, created 0700,
// and that the reason contains why.
func checkFallback(t *testing.T, p *Paths, tmp string, uid int, why string) {
	t.Helper()
	want := filepath.Join(tmp, "hutch-"+strconv.Itoa(uid))
	if p.RuntimeDir != want {
		t.Errorf("RuntimeDir = %q, want the fallback %q", p.RuntimeDir, want)
	}
	if p.RunRoot != filepath.Join(want, "storage") {
		t.Errorf("RunRoot = %q", p.RunRoot)
	}
	if !strings.Contains(p.RuntimeFallback, why) || !strings.Contains(p.RuntimeFallback, want) {
		t.Errorf("RuntimeFallback = %q, want it to contain %q and %q", p.RuntimeFallback, why, want)
	}
	mode, owner := statMode(t, want)
	if !mode.IsDir() || mode.Perm() != 0o700 || owner != uid {
		t.Errorf("fallback %s: mode %v owner %d, want a 0700 directory of uid %d", want, mode, owner, uid)
	}
}

func TestUserPathsRuntimeFallbackUnset(t *testing.T) {
	tmp := isolateTmp(t)
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), "XDG_RUNTIME_DIR is not set")
}

func TestUserPathsRuntimeFallbackRelative(t *testing.T) {
	tmp := isolateTmp(t)
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(map[string]string{"XDG_RUNTIME_DIR": "run/user/1000"}))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), "XDG_RUNTIME_DIR=run/user/1000 is not an absolute path")
	if _, err := os.Stat("run"); err == nil {
		t.Error("a relative runtime directory was created in the working directory")
	}
}

func TestUserPathsRuntimeFallbackSymlink(t *testing.T) {
	tmp := isolateTmp(t)
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "rt")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(map[string]string{"XDG_RUNTIME_DIR": link}))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), link+" is a symbolic link")
	if _, err := os.Lstat(filepath.Join(real, "hutch")); err == nil {
		t.Error("hutch created its runtime directory through the symlink")
	}
}

func TestUserPathsRuntimeFallbackOtherOwner(t *testing.T) {
	requireRoot(t)
	tmp := isolateTmp(t)
	rt := t.TempDir()
	if err := os.Chown(rt, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(map[string]string{"XDG_RUNTIME_DIR": rt}))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), "belongs to nobody (uid 65534), not to uid 0")
	if _, err := os.Lstat(filepath.Join(rt, "hutch")); err == nil {
		t.Error("hutch created its runtime directory in another user's directory")
	}
}

func TestUserPathsRuntimeFallbackNotADirOrMissing(t *testing.T) {
	tmp := isolateTmp(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(map[string]string{"XDG_RUNTIME_DIR": file}))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), "is not a directory")

	missing := filepath.Join(t.TempDir(), "gone")
	p, err = UserPaths(os.Getuid(), "/home/u", mapEnv(map[string]string{"XDG_RUNTIME_DIR": missing}))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), "XDG_RUNTIME_DIR="+missing+" cannot be used")
}

// checkHomeFallback asserts that p uses the fallback under the cache directory of home,
// created 0700, and that the reason names the planted directory and why.
func checkHomeFallback(t *testing.T, p *Paths, home string, uid int, planted, why string) {
	t.Helper()
	host, _ := os.Hostname()
	want := filepath.Join(home, ".cache", "hutch", "run-"+host)
	if p.RuntimeDir != want || p.RunRoot != filepath.Join(want, "storage") {
		t.Fatalf("RuntimeDir = %q, RunRoot = %q, want the home fallback %q", p.RuntimeDir, p.RunRoot, want)
	}
	for _, n := range []string{planted, why, want} {
		if !strings.Contains(p.RuntimeFallback, n) {
			t.Errorf("RuntimeFallback = %q, want it to contain %q", p.RuntimeFallback, n)
		}
	}
	mode, owner := statMode(t, want)
	if !mode.IsDir() || mode.Perm() != 0o700 || owner != uid {
		t.Errorf("fallback %s: mode %v owner %d, want a 0700 directory of uid %d", want, mode, owner, uid)
	}
}

// TestUserPathsFallbackPlantedSymlink: a symlink planted where the /tmp fallback goes is
// passed over (nothing is created through it) for the directory in the home.
func TestUserPathsFallbackPlantedSymlink(t *testing.T) {
	tmp := isolateTmp(t)
	home := t.TempDir()
	target := t.TempDir()
	fallback := filepath.Join(tmp, "hutch-"+strconv.Itoa(os.Getuid()))
	if err := os.Symlink(target, fallback); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), home, mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkHomeFallback(t, p, home, os.Getuid(), fallback, "is a symbolic link")
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("hutch wrote through the planted symlink: %v", entries)
	}
}

// TestUserPathsFallbackPlantedByOtherUser: /tmp/hutch-UID made by another user (as under
// su or cron, where XDG_RUNTIME_DIR is unset) no longer stops hutch.
func TestUserPathsFallbackPlantedByOtherUser(t *testing.T) {
	requireRoot(t)
	tmp := isolateTmp(t)
	home := t.TempDir()
	fallback := filepath.Join(tmp, "hutch-"+strconv.Itoa(os.Getuid()))
	if err := os.Mkdir(fallback, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(fallback, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), home, mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkHomeFallback(t, p, home, os.Getuid(), fallback, "belongs to nobody (uid 65534)")
	if entries, _ := os.ReadDir(fallback); len(entries) != 0 {
		t.Errorf("hutch wrote into the other user's directory: %v", entries)
	}
}

// TestUserPathsNoPrivateDir: when the home is not the user's either, the error names
// every directory tried and a TMPDIR the user can set.
func TestUserPathsNoPrivateDir(t *testing.T) {
	requireRoot(t)
	tmp := isolateTmp(t)
	home := t.TempDir()
	if err := os.Chown(home, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	fallback := filepath.Join(tmp, "hutch-"+strconv.Itoa(os.Getuid()))
	if err := os.Symlink("/", fallback); err != nil {
		t.Fatal(err)
	}
	_, err := UserPaths(os.Getuid(), home, mapEnv(nil))
	if err == nil {
		t.Fatal("no error although no directory is private")
	}
	for _, n := range []string{fallback, home, "belongs to nobody", "export TMPDIR="} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not mention %q", err, n)
		}
	}
}

// TestUserPathsParentNotPrivate: a TMPDIR that others may write (without the sticky
// bit) is passed over: they could rename hutch's directory away and plant their own.
func TestUserPathsParentNotPrivate(t *testing.T) {
	tmp := isolateTmp(t)
	home := t.TempDir()
	if err := os.Chmod(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), home, mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkHomeFallback(t, p, home, os.Getuid(), tmp, "without the sticky bit")
	if _, err := os.Lstat(filepath.Join(tmp, "hutch-"+strconv.Itoa(os.Getuid()))); err == nil {
		t.Error("hutch made its directory in a TMPDIR everyone may write")
	}
	// With the sticky bit (as /tmp) it is fine.
	if err := os.Chmod(tmp, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	p, err = UserPaths(os.Getuid(), home, mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), "XDG_RUNTIME_DIR is not set")
}

// TestUserPathsClearedAfterReboot: a fallback directory that records another boot is
// emptied (but not one of this boot).
func TestUserPathsClearedAfterReboot(t *testing.T) {
	tmp := isolateTmp(t)
	dir := filepath.Join(tmp, "hutch-"+strconv.Itoa(os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "warned-linger")
	if err := os.WriteFile(filepath.Join(dir, "boot-id"), []byte("an-earlier-boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := UserPaths(os.Getuid(), t.TempDir(), mapEnv(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Fatal("the state of an earlier boot was kept")
	}
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := UserPaths(os.Getuid(), t.TempDir(), mapEnv(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatal("the state of this boot was removed")
	}
}

func TestUserPathsFallbackModeTightened(t *testing.T) {
	tmp := isolateTmp(t)
	fallback := filepath.Join(tmp, "hutch-"+strconv.Itoa(os.Getuid()))
	if err := os.Mkdir(fallback, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fallback, 0o777); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), "XDG_RUNTIME_DIR is not set")
}

func TestUserPathsRuntimeSubdirSymlinkPassedOver(t *testing.T) {
	tmp := isolateTmp(t)
	rt := t.TempDir()
	target := t.TempDir()
	if err := os.Symlink(target, filepath.Join(rt, "hutch")); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(map[string]string{"XDG_RUNTIME_DIR": rt}))
	if err != nil {
		t.Fatal(err)
	}
	checkFallback(t, p, tmp, os.Getuid(), filepath.Join(rt, "hutch")+" is a symbolic link")
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("hutch wrote through the symlink: %v", entries)
	}
}

func TestUserPathsRuntimeSubdirTightened(t *testing.T) {
	isolateTmp(t)
	rt := t.TempDir()
	sub := filepath.Join(rt, "hutch")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := UserPaths(os.Getuid(), "/home/u", mapEnv(map[string]string{"XDG_RUNTIME_DIR": rt}))
	if err != nil {
		t.Fatal(err)
	}
	if p.RuntimeDir != sub || p.RuntimeFallback != "" {
		t.Fatalf("paths = %+v", p)
	}
	if mode, _ := statMode(t, sub); mode.Perm() != 0o700 {
		t.Errorf("mode of %s = %v, want 0700", sub, mode.Perm())
	}
}
