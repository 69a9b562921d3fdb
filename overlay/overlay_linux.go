// Package overlay decides how a container's root file system is assembled: the kernel's
// own overlay inside the user namespace when it allows it, fuse-overlayfs otherwise, vfs
// (full copies) last. The decision is probed once, with a real mount, and its reason and
// probe log are kept so that `hutch info` can show them.
package overlay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Names of the three ways, as the user writes them in config.toml.
const (
	Native = "overlay"
	Fuse   = "fuse-overlayfs"
	VFS    = "vfs"
)

// Choice is the decision and how it was reached.
type Choice struct {
	Name         string   `json:"name"`                   // overlay, fuse-overlayfs or vfs
	MountProgram string   `json:"mountProgram,omitempty"` // fuse-overlayfs binary, for Fuse
	Reason       string   `json:"reason"`
	Probe        []string `json:"probe"` // one line per step tried, with its result
	Forced       bool     `json:"forced"`
}

// StorageDriver is the go.podman.io/storage driver name for the choice.
func (c Choice) StorageDriver() string {
	if c.Name == VFS {
		return "vfs"
	}
	return "overlay"
}

// Choose probes in scratch (a directory on the store's file system; it must be called
// inside the user namespace). forced names a driver from config.toml ("" = probe);
// mountProgram overrides the fuse-overlayfs path.
func Choose(scratch, forced, mountProgram string) (Choice, error) {
	return ChooseFrom(scratch, forced, "config.toml", mountProgram)
}

// ChooseFrom is Choose for a driver forced by source: "config.toml", or
// "--storage-driver" (the flag, for one command).
func ChooseFrom(scratch, forced, source, mountProgram string) (Choice, error) {
	fix := "remove the `driver` line to let hutch fall back, or set driver = \"fuse-overlayfs\""
	if source != "config.toml" {
		fix = "leave out " + source + " to let hutch fall back, or give " + source + " fuse-overlayfs"
	}
	c := Choice{Forced: forced != ""}
	var nativeErr, fuseErr error
	var fuseProg string
	if forced == "" || forced == Native {
		nativeErr = probeNative(scratch)
		c.Probe = append(c.Probe, "native overlay (kernel, userxattr): "+result(nativeErr))
	}
	if forced == Fuse || (forced == "" && nativeErr != nil) {
		fuseProg, fuseErr = probeFuse(scratch, mountProgram)
		c.Probe = append(c.Probe, "fuse-overlayfs: "+result(fuseErr))
	}
	if forced == VFS || (forced == "" && nativeErr != nil && fuseErr != nil) {
		c.Probe = append(c.Probe, "vfs: ok (always available)")
	}

	switch forced {
	case Native:
		if nativeErr != nil {
			return c, fmt.Errorf("%s forces storage driver %q, but the kernel refuses overlay mounts in a user namespace here: %w; %s", source, Native, nativeErr, fix)
		}
		c.Name, c.Reason = Native, "forced by "+source
	case Fuse:
		if fuseErr != nil {
			return c, fmt.Errorf("%s forces storage driver %q, but it cannot be used: %w", source, Fuse, fuseErr)
		}
		c.Name, c.MountProgram, c.Reason = Fuse, fuseProg, "forced by "+source
	case VFS:
		c.Name, c.Reason = VFS, "forced by "+source
	case "":
		switch {
		case nativeErr == nil:
			c.Name, c.Reason = Native, "the kernel allows overlay mounts inside the user namespace (fastest)"
		case fuseErr == nil:
			c.Name, c.MountProgram = Fuse, fuseProg
			c.Reason = "native overlay failed (" + nativeErr.Error() + "); fuse-overlayfs works"
		default:
			c.Name = VFS
			c.Reason = "native overlay failed (" + nativeErr.Error() + ") and fuse-overlayfs failed (" + fuseErr.Error() +
				"); vfs copies every layer in full: install fuse-overlayfs (`apt-get install fuse-overlayfs`) for speed"
		}
	default:
		return c, fmt.Errorf("unknown storage driver %q", forced)
	}
	return c, nil
}

func result(err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	return "ok"
}

// layout makes lower/upper/work/merged under a fresh directory in scratch, with a file
// in lower, and returns its path and the overlay options for it.
func layout(scratch string) (string, string, error) {
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return "", "", err
	}
	dir, err := os.MkdirTemp(scratch, "probe-")
	if err != nil {
		return "", "", err
	}
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			os.RemoveAll(dir)
			return "", "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "lower", "f"), []byte("lower"), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	return dir, opts, nil
}

// exercise writes through the merged view and checks that the write landed in upper
// and that the lower file is visible: a mount that only pretends to work fails here.
func exercise(dir string) error {
	merged := filepath.Join(dir, "merged")
	if b, err := os.ReadFile(filepath.Join(merged, "f")); err != nil || string(b) != "lower" {
		return fmt.Errorf("lower layer not visible through the mount: %w", err)
	}
	if err := os.WriteFile(filepath.Join(merged, "g"), []byte("upper"), 0o600); err != nil {
		return fmt.Errorf("writing through the mount: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "upper", "g")); err != nil {
		return errors.New("a write through the mount did not reach the upper layer")
	}
	return nil
}

func probeNative(scratch string) error {
	dir, opts, err := layout(scratch)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	merged := filepath.Join(dir, "merged")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts+",userxattr"); err != nil {
		return fmt.Errorf("mount -t overlay: %w (needs Linux 5.11 or later)", err)
	}
	defer func() { _ = unix.Unmount(merged, unix.MNT_DETACH) }()
	return exercise(dir)
}

func probeFuse(scratch, prog string) (string, error) {
	if prog == "" {
		p, err := exec.LookPath("fuse-overlayfs")
		if err != nil {
			return "", errors.New("fuse-overlayfs is not installed: `apt-get install fuse-overlayfs`")
		}
		prog = p
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return prog, errors.New("/dev/fuse is not accessible (mode 0600?): ask an admin to run `chmod 0666 /dev/fuse` (the distribution default)")
		}
		return prog, fmt.Errorf("/dev/fuse: %w", err)
	}
	f.Close()
	dir, opts, err := layout(scratch)
	if err != nil {
		return prog, err
	}
	defer os.RemoveAll(dir)
	merged := filepath.Join(dir, "merged")
	out, err := exec.Command(prog, "-o", opts, merged).CombinedOutput()
	if err != nil {
		return prog, fmt.Errorf("%s: %w: %s", prog, err, strings.TrimSpace(string(out)))
	}
	defer func() { _ = unix.Unmount(merged, unix.MNT_DETACH) }()
	return prog, exercise(dir)
}
