package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunBadInput: every malformed flag is one line naming it, exit 125, before
// anything is made; an unknown image gets the `hutch images` hint.
func TestRunBadInput(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t, userWithRange)
	importRunImages(t, sb, imgRun)
	badEnv := sb.path("work", "bad.env")
	sb.writeUserFile(badEnv, "GOOD=1\nBAD KEY=2\n")
	for _, c := range []struct {
		args    []string
		mention []string
	}{
		{[]string{"no-such-image:1"}, []string{"no-such-image:1", "hutch images"}},
		{[]string{"-v", "relative/dst", imgRun}, []string{"-v", "relative/dst"}},
		{[]string{"-v", "/src:relative", imgRun}, []string{"-v", "/src:relative"}},
		{[]string{"-v", "/src:/dst:bogus", imgRun}, []string{"-v", "bogus"}},
		{[]string{"-v", "/a:/b:ro:x", imgRun}, []string{"-v", "/a:/b:ro:x"}},
		{[]string{"-v", ":/dst", imgRun}, []string{"-v", ":/dst"}},
		{[]string{"-v", "bad name!:/dst", imgRun}, []string{"-v", "bad name!"}},
		{[]string{"--mount", "type=bind,target=/x", imgRun}, []string{"--mount", "source"}},
		{[]string{"--mount", "type=nfs,target=/x", imgRun}, []string{"--mount", "type=nfs"}},
		{[]string{"--mount", "type=tmpfs,source=/a,target=/x", imgRun}, []string{"--mount"}},
		{[]string{"--mount", "type=bind,source=/tmp,target=relative", imgRun}, []string{"--mount", "target"}},
		{[]string{"--mount", "type=bind,source=/tmp,target=/x,bogus=1", imgRun}, []string{"--mount", "bogus"}},
		{[]string{"--mount", "type=bind,source=/tmp,target=/x,readonly=maybe", imgRun}, []string{"--mount", "readonly"}},
		{[]string{"--tmpfs", "relative", imgRun}, []string{"--tmpfs", "relative"}},
		{[]string{"--tmpfs", "/x:bogus", imgRun}, []string{"--tmpfs", "bogus"}},
		{[]string{"-u", "a:b:c", imgRun}, []string{"-u", "a:b:c"}},
		{[]string{"-u", ":grp", imgRun}, []string{"-u", ":grp"}},
		{[]string{"-u", "a b", imgRun}, []string{"-u"}},
		{[]string{"-e", "=value", imgRun}, []string{"-e", "=value"}},
		{[]string{"-e", "BAD KEY=1", imgRun}, []string{"-e", "BAD KEY=1"}},
		{[]string{"--env-file", sb.path("work", "missing.env"), imgRun}, []string{"--env-file", "missing.env"}},
		{[]string{"--env-file", badEnv, imgRun}, []string{"--env-file", "bad.env:2"}},
		{[]string{"-w", "relative", imgRun}, []string{"-w", "relative"}},
		{[]string{"--cap-add", "NOT_A_CAP", imgRun}, []string{"--cap-add", "NOT_A_CAP"}},
		{[]string{"--cap-drop", "NOT_A_CAP", imgRun}, []string{"--cap-drop", "NOT_A_CAP"}},
		{[]string{"--security-opt", "seccomp-unconfined", imgRun}, []string{"--security-opt", "seccomp-unconfined"}},
		{[]string{"--userns", "bogus", imgRun}, []string{"--userns", "bogus"}},
		{[]string{"--network", "bogus", imgRun}, []string{"--network", "bogus"}},
		{[]string{"--name", "bad/name", imgRun}, []string{"--name", "bad/name"}},
		{[]string{"--label", "=v", imgRun}, []string{"--label"}},
		{[]string{"--no-such-flag", imgRun}, []string{"--no-such-flag"}},
	} {
		for _, verb := range []string{"run", "create"} {
			args := append([]string{verb}, c.args...)
			if verb == "run" {
				args = append([]string{verb, "--rm"}, c.args...)
			}
			r := sb.expect(125, args...)
			if strings.HasPrefix(c.args[0], "--no-such-flag") {
				// cobra's own message, with its usage hint.
				assertContains(t, r.stderr, "--no-such-flag", "unknown flag")
				continue
			}
			assertOneLineError(t, r, c.mention...)
			assertEqual(t, r.stdout, "", "stdout of "+shellJoin(args))
		}
	}
	assertEqual(t, len(listVolumes(t, sb)), 0, "volumes after refused runs")
	assertNothingLeft(t, sb, nil, "the refused runs")
}

// TestRunFailuresLeaveNothing: failures after the container exists (a bind source that
// does not exist, a user not in the image, a mount the kernel refuses, a command that
// cannot run) exit 125/126/127 with one line, and leave no container, mount, process
// or anonymous volume; --rm leaves nothing after a run either.
func TestRunFailuresLeaveNothing(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun, imgVol)
		file := sb.path("work", "a-file")
		writeOwned(t, sb, file, "a file\n")
		dir := bindDir(t, sb, "a-dir")
		missing := sb.path("work", "missing")
		for _, c := range []struct {
			code    int
			args    []string
			mention []string
		}{
			{125, []string{"-v", missing + ":/x", imgRun, "true"}, []string{missing}},
			{125, []string{"--mount", "type=bind,source=" + missing + ",target=/x", imgRun, "true"}, []string{missing}},
			{125, []string{"-u", "ghost", imgRun, "true"}, []string{"ghost", "/etc/passwd", "localhost/" + imgRun}},
			{125, []string{"-u", "alice:ghostgroup", imgVol, "true"}, []string{"alice:ghostgroup", "/etc/group", "localhost/" + imgVol}},
			{125, []string{"-v", file + ":/bin", imgVol, "true"}, []string{"/bin"}},
			{125, []string{"-v", dir + ":/etc/hello", imgVol, "true"}, []string{"/etc/hello"}},
			{125, []string{"--tmpfs", "/x:size=lots", imgVol, "true"}, []string{"/x"}},
			{125, []string{"-w", "/etc/hello", imgVol, "true"}, []string{"/etc/hello"}},
			{126, []string{"-v", "named:/srv/seed", imgVol, "/bin/notexec"}, []string{"/bin/notexec"}},
			{127, []string{imgVol, "no-such-command"}, []string{"no-such-command", "executable file not found in $PATH"}},
			{127, []string{"--init", imgVol, "no-such-command"}, []string{"no-such-command"}},
			{127, []string{"-t", imgVol, "no-such-command"}, []string{"no-such-command"}},
		} {
			for _, rm := range []bool{false, true} {
				args := append([]string{"run"}, c.args...)
				if rm {
					args = append([]string{"run", "--rm"}, c.args...)
				}
				r := sb.expect(c.code, args...)
				assertOneLineError(t, r, c.mention...)
				assertNothingLeft(t, sb, nil, shellJoin(args))
				for _, v := range listVolumes(t, sb) {
					if v != "named" {
						t.Fatalf("after %s, volume %s is left behind", shellJoin(args), v)
					}
				}
			}
		}
		// create, then a start that fails (its bind source went away): 125 with the path,
		// the container stays (create made it) until rm, nothing else does.
		later := bindDir(t, sb, "later")
		sb.ok("create", "--name", "broken", "-v", later+":/x", imgRun, "true")
		if err := os.Remove(later); err != nil {
			t.Fatal(err)
		}
		r := sb.expect(125, "start", "-a", "broken")
		assertOneLineError(t, r, later)
		assertEqual(t, sb.df()["Containers"].Total, 1, "containers after a failed start")
		sb.ok("rm", "broken")
		assertNothingLeft(t, sb, nil, "a failed start and rm")

		// --rm after a run that worked, and one that failed in the command.
		sb.ok("run", "--rm", imgVol, "sh", "-c", "cat /srv/seed/file > /dev/null")
		sb.expect(3, "run", "--rm", "-v", filepath.Join(sb.path("work"))+":/w", imgVol, "sh", "-c", "exit 3")
		assertNothingLeft(t, sb, nil, "--rm runs")
		assertEqual(t, strings.Join(listVolumes(t, sb), " "), "named", "volumes after --rm runs (only the named one)")
	})
}

// TestRunHutchKilled: when hutch itself is killed (SIGKILL: no clean-up can run), the
// container's processes die with it — as root or as another user, with or without
// --init — and `hutch rm` removes what is left.
//
// On the fuse-overlayfs leg the fuse-overlayfs daemon of the killed run stays until
// that rm (nothing unmounted it, and it holds its own mount namespace): the first check
// leaves it out, the one after rm does not.
func TestRunHutchKilled(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		importRunImages(t, sb, imgRun)
		for i, c := range []struct{ user, init string }{{"0", ""}, {"1000", ""}, {"1000", "--init"}, {"0", "--init"}} {
			marker := uniqueSleep()
			name := "killed" + strconv.Itoa(i)
			args := []string{"run", "--rm", "--name", name, "-u", c.user}
			if c.init != "" {
				args = append(args, c.init)
			}
			args = append(args, imgRun, "sh", "-c", "echo ready; exec sleep "+marker)
			b := sb.startRun(runOpts{}, args...)
			b.waitOutput("ready\n", 30*time.Second)
			waitForProcess(t, "sleep\x00"+marker+"\x00", 10*time.Second)
			b.signal(syscall.SIGKILL)
			r := b.wait()
			assertEqual(t, r.code, 128+9, "hutch killed by SIGKILL")
			var left []sbProc
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				left = left[:0]
				for _, p := range sandboxProcesses(sb, nil) {
					if !strings.Contains(p.args, "fuse-overlayfs") {
						left = append(left, p)
					}
				}
				if len(left) == 0 {
					break
				}
			}
			if len(left) > 0 {
				for _, p := range left {
					_ = syscall.Kill(p.pid, syscall.SIGKILL)
				}
				t.Fatalf("after SIGKILL to %s, processes are left (killed now): %+v", shellJoin(args), left)
			}
			// rm removes the container the killed run could not remove, and with it
			// the rest (the fuse-overlayfs daemon on that leg).
			sb.ok("rm", "-f", name)
			assertNothingLeft(t, sb, nil, "SIGKILL to "+shellJoin(args)+", then rm")
		}
	})
}
