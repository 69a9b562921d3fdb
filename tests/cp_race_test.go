package tests

// hutch cp against a container that races it: the CVE-2018-15664 class (issue 12, hole
// 2). The container swaps a directory and a symlink to a host directory with
// renameat2(RENAME_EXCHANGE) without pause (probe swap) while hutch copies a tree of
// files into the directory, or out of it. hutch at 3c4d7fc resolved each path with
// securejoin and then used it by name, and lost: files landed in the host directory,
// the host directory was chmodded to the source's 0777, host files were read into the
// copy. docs/security.md, "Copying files (hutch cp)".

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	cpRaceFiles  = 200 // files in the copied tree
	cpRaceRounds = 25  // copies each way, each against the swapping container
)

// TestCopyRace: while the container swaps, nothing is written to, read from or
// re-moded in the host directory its symlink names, over cpRaceRounds copies of
// cpRaceFiles files each way (the figures are logged; 3c4d7fc fails here).
func TestCopyRace(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		loadProbe(t, sb)
		lcCleanupContainers(t, sb)
		t.Run("in", func(t *testing.T) { testCopyRaceIn(lcAt(sb, t)) })
		t.Run("out", func(t *testing.T) { testCopyRaceOut(lcAt(sb, t)) })
	})
}

// cpRaceDir makes a 0700 host directory of the user's with files name -> content, and
// returns a check that counts, and then undoes, what changed in it: entries added,
// contents changed, the mode changed.
func cpRaceDir(sb *sandbox, name string, files map[string]string) (dir string, check func() (added, changed int, mode fs.FileMode)) {
	t := sb.t
	t.Helper()
	dir = lcOwnedDir(t, sb, name)
	for n, content := range files {
		sb.writeUserFile(filepath.Join(dir, n), content)
		if err := os.Chmod(filepath.Join(dir, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, func() (int, int, fs.FileMode) {
		t.Helper()
		added, changed := 0, 0
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() {
			t.Fatalf("the host directory %s is gone or replaced: %v", dir, err)
		}
		mode := fi.Mode().Perm()
		if mode != 0o700 {
			_ = os.Chmod(dir, 0o700)
		}
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			p := filepath.Join(dir, e.Name())
			want, ok := files[e.Name()]
			if !ok {
				added++
				_ = os.RemoveAll(p)
				continue
			}
			b, err := os.ReadFile(p)
			fi, _ := os.Lstat(p)
			if err != nil || string(b) != want || fi.Mode().Perm() != 0o600 {
				changed++
				_ = os.Remove(p)
				sb.writeUserFile(p, want)
				_ = os.Chmod(p, 0o600)
			}
		}
		return added, changed, mode
	}
}

// cpRaceSwapper runs a container that sets itself up with script and then swaps
// /race/dir (a directory) and /race/lnk (a symlink to target on the host) until it is
// stopped; it returns once the swapping has begun. stop ends it and returns how many
// swaps it made.
func cpRaceSwapper(sb *sandbox, name, target, script string) (stop func() int) {
	t := sb.t
	t.Helper()
	setup := strings.Join([]string{
		"set -e", "mkdir -p /race/dir", script,
		"ln -s " + target + " /race/lnk",
		"exec probe swap /race dir lnk",
	}, "\n")
	lcRunD(sb, "--name", name, "--network", "none", "localhost/probe:1", "sh", "-c", setup)
	lcWaitLog(sb, name, "swapping", 30*time.Second)
	return func() int {
		t.Helper()
		sb.ok("stop", name)
		logs := sb.ok("logs", name).stdout
		m := regexp.MustCompile(`swapped (\d+) times`).FindStringSubmatch(logs)
		if m == nil {
			t.Fatalf("the swapper did not say how often it swapped:\n%s", logs)
		}
		n, _ := strconv.Atoi(m[1])
		sb.ok("rm", name)
		return n
	}
}

// cpRaceTree writes the tree that is copied in: cpRaceFiles files in a 0777 directory
// (so that a chmod through the swapped link would show on the host directory).
func cpRaceTree(sb *sandbox) string {
	src := lcOwnedDir(sb.t, sb, "src")
	for i := 0; i < cpRaceFiles; i++ {
		sb.writeUserFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), fmt.Sprintf("copied %03d\n", i))
	}
	if err := os.Chmod(src, 0o777); err != nil {
		sb.t.Fatal(err)
	}
	return src
}

func testCopyRaceIn(sb *sandbox) {
	t := sb.t
	victim, check := cpRaceDir(sb, "victim", map[string]string{"canary": "the user's own file\n"})
	cpRaceTree(sb)
	if err := os.Chmod(lcOwnedDir(t, sb, "empty"), 0o777); err != nil {
		t.Fatal(err)
	}
	// The container also makes the host directory's path inside itself, and the
	// copy's files in both directories, so that a copier that resolves a path inside
	// the container at one moment and uses it at the next finds what it expects and
	// carries on instead of stopping at the first file.
	stop := cpRaceSwapper(sb, "race-in", victim, strings.Join([]string{
		"mkdir -p " + victim,
		fmt.Sprintf("i=0; while [ $i -lt %d ]; do f=f$(printf %%03d $i); echo old > /race/dir/$f; echo old > %s/$f; i=$((i+1)); done", cpRaceFiles, victim),
	}, "\n"))
	var added, changed, remoded, failed int
	for round := 0; round < cpRaceRounds; round++ {
		// The tree's contents into the directory, then an empty 0777 directory's: with
		// nothing to copy, all that is left is the directory's chmod and chtimes.
		for _, src := range []string{"src/.", "empty/."} {
			r := sb.run(runOpts{}, "cp", src, "race-in:/race/dir")
			if r.code != 0 {
				if failed++; failed == 1 {
					t.Logf("the first copy that failed said: %s", strings.TrimSpace(r.stderr))
				}
				if !strings.Contains(r.stderr, "/race/") {
					t.Errorf("round %d: a failed cp should name the entry in the race:\n%s", round, r)
				}
			}
			a, c, mode := check()
			added, changed = added+a, changed+c
			if mode != 0o700 {
				remoded++
				t.Logf("round %d: cp %s made the 0700 host directory %o", round, src, mode)
			}
		}
	}
	swaps := stop()
	t.Logf("%s: cp in: %d rounds (%d files, then an empty directory) against %d swaps: %d files written into the host directory, %d host files changed, %d chmods of the 0700 host directory, %d of %d copies failed",
		sb.driver, cpRaceRounds, cpRaceFiles, swaps, added, changed, remoded, failed, 2*cpRaceRounds)
	if swaps < cpRaceRounds {
		t.Fatalf("the container swapped only %d times: the race did not run", swaps)
	}
	if added+changed+remoded > 0 {
		t.Fatalf("hutch cp wrote through the container's swapped symlink onto the host: %d files written, %d changed, %d chmods", added, changed, remoded)
	}
}

func testCopyRaceOut(sb *sandbox) {
	t := sb.t
	// The host directory holds files of the same names as the container's, so that a
	// path that goes through the swapped link finds one.
	secrets := map[string]string{}
	var script []string
	for i := 0; i < cpRaceFiles; i++ {
		secrets[fmt.Sprintf("f%03d", i)] = fmt.Sprintf("HOST SECRET %03d\n", i)
	}
	script = append(script, fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo container > /race/dir/f$(printf %%03d $i); i=$((i+1)); done", cpRaceFiles))
	secret, check := cpRaceDir(sb, "secret", secrets)
	stop := cpRaceSwapper(sb, "race-out", secret, strings.Join(script, "\n"))
	var read, copied, failed int
	for round := 0; round < cpRaceRounds; round++ {
		out := fmt.Sprintf("out%02d", round)
		r := sb.run(runOpts{}, "cp", "race-out:/race/dir", out)
		if r.code != 0 {
			if failed++; failed == 1 {
				t.Logf("the first copy that failed said: %s", strings.TrimSpace(r.stderr))
			}
			if !strings.Contains(r.stderr, "/race/") {
				t.Errorf("round %d: a failed cp should name the entry in the race:\n%s", round, r)
			}
		}
		_ = filepath.WalkDir(sb.path("work", out), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			copied++
			if b, _ := os.ReadFile(p); strings.HasPrefix(string(b), "HOST SECRET") {
				read++
			}
			return nil
		})
		if a, c, mode := check(); a+c > 0 || mode != 0o700 {
			t.Errorf("round %d: the host directory changed while reading: %d added, %d changed, mode %o", round, a, c, mode)
		}
		if err := os.RemoveAll(sb.path("work", out)); err != nil {
			t.Fatal(err)
		}
	}
	swaps := stop()
	t.Logf("%s: cp out: %d rounds of %d files against %d swaps: %d host files read into the copy (of %d files copied), %d copies failed",
		sb.driver, cpRaceRounds, cpRaceFiles, swaps, read, copied, failed)
	if swaps < cpRaceRounds {
		t.Fatalf("the container swapped only %d times: the race did not run", swaps)
	}
	if read > 0 {
		t.Fatalf("hutch cp read %d host files through the container's swapped symlink", read)
	}
}
