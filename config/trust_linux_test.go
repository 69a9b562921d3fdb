package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// me is the uid the trust tests check for: a plain user's, not root's (the tests run
// as root, which chowns the fixtures).
const me = 4242

// mkdirOwned makes dir with mode, owned by uid.
func mkdirOwned(t *testing.T, dir string, mode os.FileMode, uid int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	return dir
}

func untrusted(t *testing.T, err error, culprit string, foreign bool, needles ...string) {
	t.Helper()
	var ue *UntrustedError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want an UntrustedError about %s", err, culprit)
	}
	if ue.Culprit != culprit || ue.Foreign != foreign {
		t.Fatalf("culprit %q foreign %v, want %q %v (%v)", ue.Culprit, ue.Foreign, culprit, foreign, err)
	}
	for _, n := range append(needles, culprit) {
		if !strings.Contains(err.Error(), n) {
			t.Fatalf("error %q does not mention %q", err, n)
		}
	}
}

func TestCheckPrivate(t *testing.T) {
	requireRoot(t)
	base := t.TempDir() // root-owned, 0700: fine on the way
	home := mkdirOwned(t, filepath.Join(base, "home"), 0o755, me)
	store := mkdirOwned(t, filepath.Join(home, "store"), 0o700, me)
	if err := CheckPrivate(store, me); err != nil {
		t.Fatalf("the user's own store: %v", err)
	}
	// Not there yet: hutch will make it in a directory that passed.
	if err := CheckPrivate(filepath.Join(home, "new", "store"), me); err != nil {
		t.Fatalf("a store still to be made: %v", err)
	}

	// Another user's directory, on the way or as the store itself.
	bob := mkdirOwned(t, filepath.Join(base, "bob"), 0o755, otherUID)
	inBob := mkdirOwned(t, filepath.Join(bob, "alice-store"), 0o700, me)
	untrusted(t, CheckPrivate(inBob, me), bob, true, "belongs to nobody (uid 65534)")
	bobStore := mkdirOwned(t, filepath.Join(home, "bobs"), 0o700, otherUID)
	untrusted(t, CheckPrivate(bobStore, me), bobStore, true, "belongs to nobody")
	untrusted(t, CheckPrivate(filepath.Join(bob, "not-yet"), me), bob, true)

	// A directory on the way that others may write, without the sticky bit.
	shared := mkdirOwned(t, filepath.Join(base, "shared"), 0o777, 0)
	inShared := mkdirOwned(t, filepath.Join(shared, "alice"), 0o700, me)
	untrusted(t, CheckPrivate(inShared, me), shared, false, "writable by everyone (mode 0777) without the sticky bit", "chmod +t")
	// With it (as /tmp), fine.
	tmp := mkdirOwned(t, filepath.Join(base, "tmp"), os.ModeSticky|0o777, 0)
	inTmp := mkdirOwned(t, filepath.Join(tmp, "alice"), 0o700, me)
	if err := CheckPrivate(inTmp, me); err != nil {
		t.Fatalf("a store in a sticky directory: %v", err)
	}
	// The user's own group-writable directory on the way; the store writable by others.
	grp := mkdirOwned(t, filepath.Join(home, "grp"), 0o775, me)
	inGrp := mkdirOwned(t, filepath.Join(grp, "store"), 0o700, me)
	if err := os.Chown(grp, me, 0); err != nil { // group root: only root is in it
		t.Fatal(err)
	}
	if err := CheckPrivate(inGrp, me); err != nil {
		t.Fatalf("group-writable by root's group: %v", err)
	}
	if err := os.Chown(grp, me, 4343); err != nil { // a group others may be in
		t.Fatal(err)
	}
	untrusted(t, CheckPrivate(inGrp, me), grp, false, "writable by its group gid 4343", "chmod go-w "+grp)
	open := mkdirOwned(t, filepath.Join(home, "open"), os.ModeSticky|0o777, me)
	untrusted(t, CheckPrivate(open, me), open, false, "writable by everyone", "chmod go-w "+open)

	// Symbolic links are followed and judged by their targets; one made by another
	// user is not trusted at all.
	link := filepath.Join(home, "link")
	if err := os.Symlink(store, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, me, me); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivate(link, me); err != nil {
		t.Fatalf("a link to the user's own store: %v", err)
	}
	toBob := filepath.Join(home, "to-bob")
	if err := os.Symlink(filepath.Join("..", "bob", "alice-store"), toBob); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(toBob, me, me); err != nil {
		t.Fatal(err)
	}
	untrusted(t, CheckPrivate(filepath.Join(toBob, "sub"), me), bob, true)
	bobLink := filepath.Join(tmp, "planted")
	if err := os.Symlink(store, bobLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(bobLink, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	untrusted(t, CheckPrivate(bobLink, me), bobLink, true, "a symbolic link that belongs to nobody")
	loop := filepath.Join(home, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(loop, me, me); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivate(loop, me); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Fatalf("a symlink loop: %v", err)
	}
}

func TestSoleMember(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	if err := os.WriteFile(passwd, []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\ncarol:x:1002:100::/home/carol:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(group, []byte("users:x:100:alice,bob\nalice:x:1000:\nbob:x:1001:alice\ndev:x:2000:alice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		gid  uint32
		want bool
	}{
		{1000, true},  // alice's private group
		{1001, false}, // bob's group (alice is a member, but it is bob's)
		{100, false},  // users: carol's primary group, and bob is a member
		{2000, false}, // not alice's primary group
	} {
		if got := soleMember(c.gid, 1000, passwd, group); got != c.want {
			t.Errorf("soleMember(%d, alice) = %v, want %v", c.gid, got, c.want)
		}
	}
}

// TestPathsCheck: Check names what it refuses, the directory at fault and the fix that
// fits where the path came from.
func TestPathsCheck(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	home := mkdirOwned(t, filepath.Join(base, "home"), 0o755, me)
	bob := mkdirOwned(t, filepath.Join(base, "bob"), 0o777, otherUID)
	p := &Paths{
		ConfigDir: filepath.Join(home, ".config", "hutch"), UserConfig: filepath.Join(home, ".config", "hutch", "config.toml"),
		DataDir: filepath.Join(home, ".local", "share", "hutch"), GraphRoot: filepath.Join(bob, "store"),
		CacheDir: filepath.Join(home, ".cache", "hutch"),
	}
	err := p.Check(me, "/etc/x/config.toml", mapEnv(nil))
	untrusted(t, err, bob, true, "refusing the store (graph root) "+p.GraphRoot, "set [storage] graphroot in /etc/x/config.toml")

	err = p.Check(me, "--root", mapEnv(nil))
	untrusted(t, err, bob, true, "refusing the store (graph root) "+p.GraphRoot, "give --root a directory of your own")

	p.GraphRoot = filepath.Join(p.DataDir, "storage")
	p.RuntimeDir, p.RunRoot = filepath.Join(home, "rt"), filepath.Join(bob, "run")
	err = p.Check(me, "", mapEnv(nil))
	untrusted(t, err, bob, true, "refusing the run root "+p.RunRoot, "give --runroot a directory of your own")
	p.RunRoot = filepath.Join(p.RuntimeDir, "storage")

	p.CacheDir = filepath.Join(bob, "cache")
	err = p.Check(me, "", mapEnv(map[string]string{"XDG_CACHE_HOME": bob}))
	untrusted(t, err, bob, true, "refusing the cache directory", "set XDG_CACHE_HOME to a directory of your own")

	p.CacheDir = filepath.Join(home, ".cache", "hutch")
	if err := p.Check(me, "", mapEnv(nil)); err != nil {
		t.Fatalf("the user's own paths: %v", err)
	}
	mkdirOwned(t, p.ConfigDir, 0o700, me)
	cfg := filepath.Join(p.ConfigDir, "config.toml")
	if err := os.WriteFile(cfg, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cfg, me, me); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg, 0o666); err != nil {
		t.Fatal(err)
	}
	err = p.Check(me, "", mapEnv(nil))
	untrusted(t, err, cfg, false, "refusing the config file", "writable by everyone", "chmod go-w "+cfg)
}
