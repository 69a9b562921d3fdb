package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Paths are where hutch keeps its files for one user.
type Paths struct {
	ConfigDir  string `json:"configDir"`  // $XDG_CONFIG_HOME/hutch
	UserConfig string `json:"userConfig"` // ConfigDir/config.toml
	DataDir    string `json:"dataDir"`    // $XDG_DATA_HOME/hutch
	GraphRoot  string `json:"graphRoot"`  // DataDir/storage unless [storage] graphroot
	CacheDir   string `json:"cacheDir"`   // $XDG_CACHE_HOME/hutch
	RuntimeDir string `json:"runtimeDir"` // $XDG_RUNTIME_DIR/hutch, or the private fallback
	RunRoot    string `json:"runRoot"`    // RuntimeDir/storage
	// RuntimeFallback says why RuntimeDir is not under $XDG_RUNTIME_DIR; empty when it is.
	RuntimeFallback string `json:"runtimeFallback,omitempty"`
}

// Env looks up an environment variable (os.Getenv in production, a map in tests).
type Env func(string) string

// UserPaths resolves the XDG locations for uid with home directory home. It does not
// create anything except the runtime directory, which it must check for ownership.
func UserPaths(uid int, home string, env Env) (*Paths, error) {
	return UserPathsAs(uid, uid, home, env)
}

// UserPathsAs is UserPaths in a process where uid's own files show as owned by owner:
// 0 in hutch's user namespace, which a command joins before it resolves its paths.
func UserPathsAs(uid, owner int, home string, env Env) (*Paths, error) {
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

	rt, why := env("XDG_RUNTIME_DIR"), ""
	switch {
	case rt == "":
		why = "XDG_RUNTIME_DIR is not set (as under su, sudo -u or cron)"
	case !filepath.IsAbs(rt):
		why = fmt.Sprintf("XDG_RUNTIME_DIR=%s is not an absolute path", rt)
	default:
		if err := checkOwnedDir(rt, owner); err != nil {
			why = fmt.Sprintf("XDG_RUNTIME_DIR=%s cannot be used: %v", rt, err)
		}
	}
	if why == "" {
		p.RuntimeDir = filepath.Join(rt, "hutch")
		if err := ensurePrivateDir(p.RuntimeDir, owner); err != nil {
			return nil, err
		}
	} else {
		p.RuntimeDir = filepath.Join(os.TempDir(), "hutch-"+strconv.Itoa(uid))
		p.RuntimeFallback = why + "; using the private directory " + p.RuntimeDir +
			" instead (it is not cleaned at logout; log in with `ssh` or `machinectl shell USER@` for a real session)"
		if err := ensurePrivateDir(p.RuntimeDir, owner); err != nil {
			return nil, err
		}
	}
	p.RunRoot = filepath.Join(p.RuntimeDir, "storage")
	return p, nil
}

// checkOwnedDir says why dir is not a real directory owned by uid.
func checkOwnedDir(dir string, uid int) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		return fmt.Errorf("%s belongs to uid %d, not to uid %d", dir, st.Uid, uid)
	}
	return nil
}

// ensurePrivateDir creates dir with mode 0700 or checks that the existing one is a
// directory (not a symlink) owned by uid, tightening its mode if needed. Anything else
// is refused: another user could have planted it to read or redirect our state.
func ensurePrivateDir(dir string, uid int) error {
	err := os.Mkdir(dir, 0o700)
	if err == nil || !errors.Is(err, os.ErrExist) {
		if err != nil {
			return fmt.Errorf("creating runtime directory: %w", err)
		}
		return nil
	}
	if err := checkOwnedDir(dir, uid); err != nil {
		return fmt.Errorf("refusing runtime directory: %w: remove it (or ask its owner to) and run the command again", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("making runtime directory private: %w", err)
		}
	}
	return nil
}
