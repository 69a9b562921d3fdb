package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"hutch.dev/hutch/internal/fsutil"
)

// The verdict: RUNTIME_DIR/verdict says that a plain-user hutch resolved these paths and
// Check passed them, and records all that decision depended on: the user's ids, the host
// name, the environment variables that chose the paths, and every path the choice of the
// runtime directory and Check looked at, with its Token (Stamps) — a config file that was
// absent as absent, a passed-over runtime directory as it was. A command that would run
// whole in the kept user namespace joins it in its C constructor, before the Go runtime
// starts (internal/nsenter/kept.c), where it can no longer check the paths: inside, the
// user's files and root's both show as the overflow uid. So the constructor, still the
// plain user, compares the verdict with what it finds (lstat only, no judgement) and
// joins only when everything is as it was; then the paths the verdict holds are the ones
// Check would pass now. Otherwise it does not join, and Go checks the paths as the plain
// user, writes the verdict again and enters through userns.EnterKept.
//
// The file (written by WriteVerdict, read by kept.c's verdict_match):
//
//	hutch-verdict 1
//	uid UID gid GID groups G1,G2,…   (the process's; they decide what mkdir may make)
//	exe TOKEN                        (the binary: another build may check otherwise)
//	host NAME                        (names the runtime directory's last fallback)
//	env NAME[=VALUE]                 (each of VerdictEnv; no "=" when unset or empty)
//	dir RUNTIME_DIR
//	stamp TOKEN PATH                 (one per path looked at, in order)
//	paths
//	JSON of Paths, to the end
const (
	// VerdictFile is the verdict's name in the runtime directory.
	VerdictFile = "verdict"
	verdictHead = "hutch-verdict 1\n"
)

// VerdictEnv are the environment variables that choose the paths (UserPaths; HOME also
// through the user's home, TMPDIR through os.TempDir).
var VerdictEnv = []string{"HOME", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"}

// MakeVerdict writes the verdict on paths p, checked with every look recorded in rec,
// from environment env; an error says why there can be none (a record spoiled by a
// change while it was made, a value the format cannot hold, HOME unset: the home then
// comes from the user database, which is not stamped).
func MakeVerdict(p *Paths, rec *Stamps, env Env) ([]byte, error) {
	if rec == nil {
		return nil, errors.New("nothing was recorded")
	}
	if why := rec.Spoiled(); why != "" {
		return nil, errors.New(why)
	}
	if env("HOME") == "" {
		return nil, errors.New("HOME is not set")
	}
	js, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	groups, err := os.Getgroups()
	if err != nil {
		return nil, err
	}
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.Itoa(g)
	}
	var b bytes.Buffer
	b.WriteString(verdictHead)
	fmt.Fprintf(&b, "uid %d gid %d groups %s\n", os.Getuid(), os.Getgid(), strings.Join(gs, ","))
	var exe syscall.Stat_t
	lines := []string{"exe " + token(&exe, syscall.Stat("/proc/self/exe", &exe)), "host " + host}
	for _, name := range VerdictEnv {
		if v := env(name); v != "" {
			lines = append(lines, "env "+name+"="+v)
		} else {
			lines = append(lines, "env "+name)
		}
	}
	lines = append(lines, "dir "+p.RuntimeDir)
	for _, s := range rec.List() {
		lines = append(lines, "stamp "+s.Token+" "+s.Path)
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\n\x00") {
			return nil, fmt.Errorf("%q has a newline", l)
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString("paths\n")
	b.Write(js)
	return b.Bytes(), nil
}

// WriteVerdict writes the verdict on p (MakeVerdict) into its runtime directory,
// atomically, unless the one there says the same already. It returns why there is none
// (nil when there is one).
func WriteVerdict(p *Paths, rec *Stamps, env Env) error {
	v, err := MakeVerdict(p, rec, env)
	file := filepath.Join(p.RuntimeDir, VerdictFile)
	if err != nil {
		// A verdict that no longer holds must not stay.
		_ = os.Remove(file)
		return err
	}
	if old, err := os.ReadFile(file); err == nil && bytes.Equal(old, v) {
		return nil
	}
	return fsutil.ReplaceFile(file, v, 0o600)
}
