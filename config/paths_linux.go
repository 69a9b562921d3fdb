package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Paths are where hutch keeps its files for one user.
type Paths struct {
	ConfigDir  string `json:"configDir"`  // $XDG_CONFIG_HOME/hutch
	UserConfig string `json:"userConfig"` // ConfigDir/config.toml
	DataDir    string `json:"dataDir"`    // $XDG_DATA_HOME/hutch
	GraphRoot  string `json:"graphRoot"`  // DataDir/storage unless [storage] graphroot
	CacheDir   string `json:"cacheDir"`   // $XDG_CACHE_HOME/hutch
	RuntimeDir string `json:"runtimeDir"` // $XDG_RUNTIME_DIR/hutch, or the private fallback
	RunRoot    string `json:"runRoot"`    // RuntimeDir/storage, or --runroot
	// VolumeDir holds the named volumes: DataDir/volumes, or with --root ROOT/volumes
	// (the store's own, as Podman keeps them).
	VolumeDir string `json:"volumeDir"`
	// RuntimeFallback says why RuntimeDir is not under $XDG_RUNTIME_DIR; empty when it is.
	RuntimeFallback string `json:"runtimeFallback,omitempty"`
}

// Env looks up an environment variable (os.Getenv in production, a map in tests).
type Env func(string) string

// UserPaths resolves the XDG locations for uid with home directory home. It does not
// create anything except the runtime directory (and, when it falls back to the cache
// directory, that directory), which it must check for ownership.
func UserPaths(uid int, home string, env Env) (*Paths, error) {
	return UserPathsRecorded(uid, home, env, nil)
}

// UserPathsRecorded is UserPaths recording in rec every path the choice of the runtime
// directory looked at (rec may be nil).
func UserPathsRecorded(uid int, home string, env Env, rec *Stamps) (*Paths, error) {
	xdg := func(name, def string) string {
		if v := env(name); v != "" && filepath.IsAbs(v) {
			return v
		}
		return filepath.Join(home, def)
	}
	p := &Paths{
		ConfigDir: filepath.Join(xdg("XDG_CONFIG_HOME", ".config"), "hutch"),
		DataDir:   filepath.Join(xdg("XDG_DATA_HOME", ".local/share"), "hutch"),
		CacheDir:  filepath.Join(xdg("XDG_CACHE_HOME", ".cache"), "hutch"),
	}
	p.UserConfig = filepath.Join(p.ConfigDir, "config.toml")
	p.GraphRoot = filepath.Join(p.DataDir, "storage")
	p.VolumeDir = filepath.Join(p.DataDir, "volumes")
	dir, fallback, err := runtimeDir(uid, p.CacheDir, env, rec)
	if err != nil {
		return nil, err
	}
	p.RuntimeDir, p.RuntimeFallback = dir, fallback
	p.RunRoot = filepath.Join(p.RuntimeDir, "storage")
	return p, nil
}

// runtimeDir picks the private directory for runtime state (locks, the run root, mount
// points, warnings already shown), the first of:
//
//  1. $XDG_RUNTIME_DIR/hutch: a login session's tmpfs, cleared at logout;
//  2. $TMPDIR/hutch-UID, or /tmp/hutch-UID without TMPDIR (as su, sudo -u and cron
//     leave it);
//  3. CACHE/run-HOSTNAME (~/.cache/hutch/run-HOST): under the user's own home, where no
//     other user can plant anything (the host name keeps machines that share a home
//     apart).
//
// that is, or can be made, a 0700 directory of uid's own on a path only uid and root
// control (CheckPrivate). Why the ones before it were passed over is the returned
// fallback note (empty for 1). Another user's /tmp/hutch-UID therefore no longer stops
// hutch: it goes on in the home directory, says so once, and writes nothing there.
func runtimeDir(uid int, cacheDir string, env Env, rec *Stamps) (string, string, error) {
	var why []string
	if rt := env("XDG_RUNTIME_DIR"); rt == "" {
		why = append(why, "XDG_RUNTIME_DIR is not set (as under su, sudo -u or cron)")
	} else if !filepath.IsAbs(rt) {
		why = append(why, fmt.Sprintf("XDG_RUNTIME_DIR=%s is not an absolute path", rt))
	} else if err := checkOwnedDir(rt, uid, rec); err != nil {
		why = append(why, fmt.Sprintf("XDG_RUNTIME_DIR=%s cannot be used: %v", rt, err))
	} else {
		dir := filepath.Join(rt, "hutch")
		if err := usePrivateDir(dir, uid, false, rec); err != nil {
			why = append(why, fmt.Sprintf("%s cannot be used: %v", dir, err))
		} else {
			return dir, "", nil
		}
	}
	tmp := filepath.Join(os.TempDir(), "hutch-"+strconv.Itoa(uid))
	if err := usePrivateDir(tmp, uid, true, rec); err != nil {
		why = append(why, fmt.Sprintf("%s cannot be used: %v", tmp, err))
	} else {
		return tmp, strings.Join(why, "; ") + "; using the private directory " + tmp +
			" instead (it is not cleaned at logout; log in with `ssh` or `machinectl shell USER@` for a real session)", nil
	}
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", "_", "\x00", "_").Replace(host)
	if host == "" || host == "." || host == ".." {
		host = "localhost"
	}
	home := filepath.Join(cacheDir, "run-"+host)
	var err error
	if uerr := recording(uid, rec).check(cacheDir); uerr != nil {
		err = uerr
	}
	if err == nil {
		if err = os.MkdirAll(cacheDir, 0o700); err == nil {
			rec.made(cacheDir)
			err = usePrivateDir(home, uid, true, rec)
		}
	}
	if err == nil {
		return home, strings.Join(why, "; ") + "; using the private directory " + home +
			" in your home instead (emptied when the machine has rebooted)", nil
	}
	why = append(why, fmt.Sprintf("%s cannot be used: %v", home, err))
	return "", "", fmt.Errorf("no private runtime directory for hutch: %s: set TMPDIR to a directory that is yours alone "+
		"(e.g. `mkdir -m 0700 /var/tmp/$USER-hutch && export TMPDIR=/var/tmp/$USER-hutch`) and run the command again", strings.Join(why, "; "))
}

// checkOwnedDir says why dir is not a real directory owned by uid (rec records what it
// looked at).
func checkOwnedDir(dir string, uid int, rec *Stamps) error {
	var st syscall.Stat_t
	if err := rec.lstat(dir, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFLNK:
		return fmt.Errorf("%s is a symbolic link", dir)
	case syscall.S_IFDIR:
	default:
		return fmt.Errorf("%s is not a directory", dir)
	}
	if int(st.Uid) != uid {
		return fmt.Errorf("%s belongs to %s, not to uid %d (another user may have made it to read or redirect your state: ask them or an admin to remove it)", dir, who(st.Uid), uid)
	}
	return nil
}

// usePrivateDir makes dir a directory of uid's alone: it creates it with mode 0700, or
// checks that the existing one is a directory (not a symlink) owned by uid, tightening
// its mode if needed; the directories above it must pass CheckPrivate. Anything else is
// refused: another user could have planted it to read or redirect our state. With
// rebootClear, the directory is emptied when the machine has rebooted since it was
// last used, as the tmpfs of a login session would be.
func usePrivateDir(dir string, uid int, rebootClear bool, rec *Stamps) error {
	if _, uerr := recording(uid, rec).walk(filepath.Dir(dir), false, 0); uerr != nil {
		return uerr
	}
	err := os.Mkdir(dir, 0o700)
	if err != nil && !errors.Is(err, os.ErrExist) {
		// What made it fail (a file there, a directory not writable) is stamped.
		var st syscall.Stat_t
		_ = rec.lstat(dir, &st)
		return err
	}
	if err == nil {
		rec.made(dir)
	} else {
		if err := checkOwnedDir(dir, uid, rec); err != nil {
			return err
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != 0o700 {
			if err := os.Chmod(dir, 0o700); err != nil {
				return fmt.Errorf("making %s private: %w", dir, err)
			}
			rec.made(dir)
		}
	}
	if rebootClear {
		clearAfterReboot(dir)
	}
	return nil
}

// clearAfterReboot empties dir (but for its boot-id record) when the boot id it records
// is not this boot's: nothing in it can be in use, and stale mount points and warnings
// already shown would mislead. The check is made under a lock on the record, so that
// two commands started at once after a boot do not empty each other's new state.
func clearAfterReboot(dir string) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil || len(boot) == 0 {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "boot-id"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX) != nil {
		return
	}
	defer func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }() // closing f unlocks it too
	buf := make([]byte, 64)
	n, _ := f.ReadAt(buf, 0)
	if string(buf[:n]) == string(boot) {
		return
	}
	if n > 0 { // an earlier boot's state; a new directory (n == 0) has none
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != "boot-id" {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt(boot, 0)
}

// Check refuses the directories hutch keeps the user's data and settings in when they
// are not the user's alone (CheckPrivate): the config directory and config.toml, the
// data directory (volumes), the store (graph root), the cache; and /etc/hutch/config.toml
// when it is not root's alone; and the run root when --runroot moved it. graphRootFile
// names the config file that set [storage] graphroot, or the flag that did (--root),
// or "" for the default. A store in another user's directory would be used
// silently otherwise, and that user could delete or plant its records. env is the
// environment the paths came from (for the fix: which variable to set).
func (p *Paths) Check(uid int, graphRootFile string, env Env) error {
	return p.CheckRecorded(uid, graphRootFile, env, nil)
}

// CheckRecorded is Check recording in rec every path it looked at (rec may be nil).
func (p *Paths) CheckRecorded(uid int, graphRootFile string, env Env, rec *Stamps) error {
	t := recording(uid, rec)
	own := func(name string) string {
		if v := env(name); v != "" && filepath.IsAbs(v) {
			return "set " + name + " to a directory of your own (or unset it to use the one in your home)"
		}
		return "use a directory of your own: set " + name + " to one"
	}
	graphFix := own("XDG_DATA_HOME")
	switch {
	case strings.HasPrefix(graphRootFile, "--"):
		graphFix = fmt.Sprintf("give %s a directory of your own (or leave it out to use %s)", graphRootFile, filepath.Join(p.DataDir, "storage"))
	case graphRootFile != "":
		graphFix = fmt.Sprintf("set [storage] graphroot in %s to a directory of your own (or remove it to use %s)", graphRootFile, filepath.Join(p.DataDir, "storage"))
	}
	checks := []struct{ what, path, fix string }{
		{"the config directory", p.ConfigDir, own("XDG_CONFIG_HOME")},
		{"the config file", p.UserConfig, own("XDG_CONFIG_HOME")},
		{"the data directory", p.DataDir, own("XDG_DATA_HOME")},
		{"the store (graph root)", p.GraphRoot, graphFix},
		{"the cache directory", p.CacheDir, own("XDG_CACHE_HOME")},
	}
	// --runroot: the runtime directory (checked when it was chosen) holds it otherwise.
	if p.RunRoot != "" && p.RunRoot != filepath.Join(p.RuntimeDir, "storage") {
		checks = append(checks, struct{ what, path, fix string }{"the run root", p.RunRoot,
			fmt.Sprintf("give --runroot a directory of your own (or leave it out to use %s)", filepath.Join(p.RuntimeDir, "storage"))})
	}
	for _, c := range checks {
		if err := t.check(c.path); err != nil {
			return refusal(c.what, c.path, err, c.fix)
		}
	}
	if err := recording(0, rec).check(SystemFile); err != nil {
		return refusal("the system config file", SystemFile, err, "ask an admin to make it root's alone (`chown root: "+SystemFile+"; chmod 644 "+SystemFile+"`)")
	}
	return nil
}

// refusal words the error of Check: what is refused, why, and the fix.
func refusal(what, path string, e *UntrustedError, fix string) error {
	msg := fmt.Sprintf("refusing %s %s: %s", what, path, e.Problem)
	if e.Foreign && fix != "" {
		msg += "; " + fix
	}
	return &UntrustedError{Path: path, Culprit: e.Culprit, Foreign: e.Foreign, Problem: msg}
}
