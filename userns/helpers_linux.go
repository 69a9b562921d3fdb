package userns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Helper is the verdict on one of the setuid id-mapping helpers.
type Helper struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	OK      bool   `json:"ok"`
	How     string `json:"how,omitempty"`     // "setuid root" or "file capability cap_setuid"
	Problem string `json:"problem,omitempty"` // what is wrong, with the fix
}

// Linux capability numbers the helpers need.
const (
	capSetgid = 6
	capSetuid = 7
)

// CheckHelper looks newuidmap or newgidmap up on $PATH (and in /usr/bin, /usr/sbin) and
// checks, before it is ever run, that it can do its job: owned by root and either setuid
// or carrying the cap_setuid / cap_setgid file capability.
func CheckHelper(name string) Helper {
	h := Helper{Name: name}
	capNum, capName := capSetuid, "cap_setuid"
	if name == "newgidmap" {
		capNum, capName = capSetgid, "cap_setgid"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/bin/", "/usr/sbin/", "/bin/"} {
			if _, serr := os.Stat(dir + name); serr == nil {
				path, err = dir+name, nil
				break
			}
		}
	}
	if err != nil {
		h.Problem = fmt.Sprintf("%s is not installed: ask an admin to run `apt-get install uidmap` (Debian/Ubuntu) or `dnf install shadow-utils` (Fedora)", name)
		return h
	}
	h.Path = path
	fi, err := os.Stat(path)
	if err != nil {
		h.Problem = fmt.Sprintf("cannot stat %s: %v", path, err)
		return h
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 0 {
		h.Problem = fmt.Sprintf("%s belongs to uid %d, not root, so it cannot map ids: use the distribution's package (`apt-get install uidmap`) instead of a private copy", path, st.Uid)
		return h
	}
	if fi.Mode()&os.ModeSetuid != 0 {
		h.OK, h.How = true, "setuid root"
		return h
	}
	if hasFileCap(path, capNum) {
		h.OK, h.How = true, "file capability "+capName
		return h
	}
	h.Problem = fmt.Sprintf("%s is neither setuid nor has the %s file capability: ask an admin to run `chmod u+s %s` or `setcap %s+ep %s`", path, capName, path, capName, path)
	return h
}

// hasFileCap reports whether the security.capability xattr of path grants capability
// num in its permitted set (struct vfs_cap_data, revisions 1 to 3).
func hasFileCap(path string, num int) bool {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, "security.capability", buf)
	if err != nil || n < 12 {
		return false
	}
	buf = buf[:n]
	word, bit := num/32, uint(num%32)
	off := 4 + word*8 // magic_etc, then {permitted, inheritable} pairs
	if off+4 > len(buf) {
		return false
	}
	return binary.LittleEndian.Uint32(buf[off:])&(1<<bit) != 0
}

// KernelProblem reads the sysctls that forbid unprivileged user namespaces and returns
// what is set and the fix, or "" when none is in the way.
func KernelProblem() string {
	read := func(p string) (string, bool) {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", false
		}
		return string(trimNL(b)), true
	}
	if v, ok := read("/proc/sys/kernel/unprivileged_userns_clone"); ok && v == "0" {
		return "the kernel forbids unprivileged user namespaces (kernel.unprivileged_userns_clone = 0): ask an admin to run `sysctl -w kernel.unprivileged_userns_clone=1` and add it to /etc/sysctl.d/"
	}
	if v, ok := read("/proc/sys/user/max_user_namespaces"); ok && v == "0" {
		return "the kernel allows no user namespaces (user.max_user_namespaces = 0): ask an admin to run `sysctl -w user.max_user_namespaces=28633` and add it to /etc/sysctl.d/"
	}
	if v, ok := read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); ok && v == "1" {
		exe, _ := os.Executable()
		return fmt.Sprintf("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): ask an admin to add a profile for %s with a `userns,` rule in /etc/apparmor.d/hutch and load it with `apparmor_parser -r /etc/apparmor.d/hutch`", exe)
	}
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

var errNoUserns = errors.New("cannot create a user namespace")
