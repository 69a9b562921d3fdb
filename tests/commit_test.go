package tests

// System tests of `hutch commit` (issue 14): an image of a container's changes, with
// the container's configuration and --change on top of the image's, -a/-m, --format,
// --squash, -q; a running container held still while its layer is read (SIGSTOP without
// a cgroup, the freezer in a delegated one), and the commit event.

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var commitID = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// TestCommit: a stopped container's changes become a layer on its image, hutch's own
// mount points left out; the container's environment, working directory, labels and
// command go into the image, --change over them; -q, --format docker, --squash.
func TestCommit(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, sb *sandbox) {
		lcImport(t, sb)
		begin := time.Now().Format(time.RFC3339Nano)
		sb.ok("run", "--name", "c1", "-e", "FOO=bar", "-w", "/srv", "--label", "team=blue", lcImage,
			"sh", "-c", "echo hi > /srv/hello.txt && rm /etc/hello")
		r := sb.ok("commit", "-a", "Ann <ann@example.com>", "-m", "first snapshot", "c1", "snap")
		if !commitID.MatchString(r.stdout) {
			t.Fatalf("commit should print sha256:ID:\n%s", r)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(r.stdout, "sha256:"), "\n")
		base, img := sb.inspect(lcImage), sb.inspect("snap")
		assertEqual(t, img.ID, "sha256:"+id, "the image commit printed")
		assertEqual(t, strings.Join(img.RepoTags, " "), "localhost/snap:latest", "its name")
		assertEqual(t, len(img.RootFS.Layers), len(base.RootFS.Layers)+1, "one layer on the image's")
		assertEqual(t, img.RootFS.Layers[0], base.RootFS.Layers[0], "the image's layer under it")
		assertEqual(t, strings.Join(img.Config.Cmd, " "), "sh -c echo hi > /srv/hello.txt && rm /etc/hello", "Cmd: the container's")
		assertEqual(t, img.Config.WorkingDir, "/srv", "WorkingDir: the container's -w")
		assertEqual(t, img.Config.Labels["team"], "blue", "Labels: the container's")
		if !slices.Contains(img.Config.Env, "FOO=bar") || slices.ContainsFunc(img.Config.Env, func(e string) bool { return strings.HasPrefix(e, "HOSTNAME=") }) {
			t.Fatalf("Env: want the container's FOO=bar and not the HOSTNAME hutch sets: %v", img.Config.Env)
		}
		last := img.History[len(img.History)-1]
		assertEqual(t, last.Comment, "first snapshot", "the history's comment")
		assertEqual(t, last.CreatedBy, "sh -c echo hi > /srv/hello.txt && rm /etc/hello", "the history's created_by")
		assertEqual(t, sb.ok("image", "inspect", "--format", "{{.Author}}|{{.Comment}}", "snap").stdout,
			"Ann <ann@example.com>|first snapshot\n", "Author and Comment")
		// The layer holds the container's changes, and nothing hutch made for its mounts.
		assertEqual(t, sb.ok("image", "diff", "snap").stdout, "C /etc\nD /etc/hello\nA /srv\nA /srv/hello.txt\n", "the committed layer")
		assertEqual(t, sb.ok("run", "--rm", "snap", "sh", "-c", "cat hello.txt; test -e /etc/hello || echo gone").stdout, "hi\ngone\n", "a container of the image")

		// --change over the container's configuration; -q; --format docker; the name moves.
		r = sb.ok("container", "commit", "-q", "--format", "docker", "-c", `CMD ["cat", "/srv/hello.txt"]`,
			"--change", "ENV FOO=baz MODE=prod", "-c", "WORKDIR /", "c1", "snap")
		q := strings.TrimSpace(r.stdout)
		if !lcHexID.MatchString(q) {
			t.Fatalf("commit -q should print the ID alone:\n%s", r)
		}
		img2 := sb.inspect("snap")
		assertEqual(t, img2.ID, "sha256:"+q, "the name moved to the new image")
		assertEqual(t, strings.Join(img2.Config.Cmd, " "), "cat /srv/hello.txt", "CMD from --change")
		assertEqual(t, img2.Config.WorkingDir, "/", "WORKDIR from --change")
		if !slices.Contains(img2.Config.Env, "FOO=baz") || !slices.Contains(img2.Config.Env, "MODE=prod") {
			t.Fatalf("ENV from --change: %v", img2.Config.Env)
		}
		assertEqual(t, sb.ok("image", "inspect", "--format", "{{.ManifestType}}", "snap").stdout,
			"application/vnd.docker.distribution.manifest.v2+json\n", "--format docker")
		assertEqual(t, sb.ok("run", "--rm", "snap").stdout, "hi\n", "the committed CMD")
		assertContains(t, sb.ok("images", "-q", "--no-trunc").stdout, id, "the first image, unnamed now, is kept")

		// --squash: one layer of the whole file system, the steps kept in the history.
		sb.ok("commit", "--squash", "c1", "flat")
		flat := sb.inspect("flat")
		assertEqual(t, len(flat.RootFS.Layers), 1, "--squash: one layer")
		assertEqual(t, len(flat.History), len(img.History), "--squash: the history's steps")
		assertEqual(t, sb.ok("run", "--rm", "flat", "sh", "-c", "cat /srv/hello.txt; test -e /etc/hello || echo gone; test -x /bin/busybox && echo bb").stdout,
			"hi\ngone\nbb\n", "a container of the squashed image")
		diff := sb.ok("image", "diff", "flat").stdout
		for _, p := range []string{"/proc", "/sys", "/dev", "/etc/hostname", "/etc/resolv.conf", "/etc/hosts"} {
			if strings.Contains("\n"+diff, "\nA "+p+"\n") {
				t.Fatalf("--squash: hutch's mount point %s is in the layer:\n%s", p, diff)
			}
		}

		// No IMAGE: an unnamed image. Errors: one line, 125, nothing made.
		r = sb.ok("commit", "c1")
		assertContains(t, sb.ok("images", "-q", "--no-trunc", "--filter", "dangling=true").stdout,
			strings.TrimPrefix(strings.TrimSpace(r.stdout), "sha256:"), "commit without a name: a dangling image")
		n := len(sb.images(true))
		assertOneLineError(t, sb.expect(125, "commit", "nothing-by-this-name", "x"), "nothing-by-this-name")
		assertOneLineError(t, sb.expect(125, "commit", "-c", "FROBNICATE x", "c1", "x"), "FROBNICATE")
		assertOneLineError(t, sb.expect(125, "commit", "--format", "v1", "c1", "x"), "--format", "oci or docker")
		assertEqual(t, len(sb.images(true)), n, "images after the refused commits")

		// The event: Docker's, a container event with the image's ID and name.
		var commits []string
		for _, e := range evHistory(sb, "--since", begin, "--filter", "event=commit") {
			commits = append(commits, e.short()+" "+e.Actor.Attributes["imageRef"])
		}
		assertEqual(t, strings.Join(commits, "\n"), "container commit c1 localhost/snap:latest\ncontainer commit c1 localhost/snap:latest\ncontainer commit c1 localhost/flat:latest\ncontainer commit c1 ", "commit events")
		sb.ok("rm", "c1")
		lcAssertClean(t, sb, "commit")
	})
}

// TestCommitRunning: a running container without a cgroup of its own is held with
// SIGSTOP while its layer is read and sent SIGCONT after (its shell's CONT trap runs);
// in a delegated cgroup it is frozen (pause, commit, unpause: Docker's events); with
// --pause=false it is left alone. It runs on after each.
func TestCommitRunning(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcCleanupContainers(t, sb)
	lcRunD(sb, "--name", "r1", "--network", "none", lcImage, "sh", "-c",
		`trap "echo continued >> /conts" CONT; trap "echo usr1 >> /conts" USR1; echo y > /y; echo ready; while :; do sleep 0.1; done`)
	lcWaitLog(sb, "r1", "ready", 30*time.Second)
	if r := sb.run(runOpts{}, "exec", "r1", "test", "-e", "/conts"); r.code == 0 {
		t.Fatal("/conts exists before the commit")
	}
	sb.ok("commit", "r1", "live")
	assertEqual(t, sb.ok("run", "--rm", "live", "cat", "/y").stdout, "y\n", "the running container's file in the image")
	lcEventually(t, 10*time.Second, "the container's shell saw SIGCONT", func() (bool, string) {
		r := sb.run(runOpts{}, "exec", "r1", "cat", "/conts")
		return r.code == 0 && strings.Contains(r.stdout, "continued"), r.String()
	})
	assertEqual(t, lcInspect(sb, "r1").State.Status, "running", "r1 after the commit")
	// --pause=false: not stopped, so no SIGCONT either.
	sb.ok("exec", "r1", "rm", "/conts")
	sb.ok("commit", "--pause=false", "r1", "live2")
	// A SIGCONT the commit sent would be pending before this USR1: once the USR1 trap has
	// run, the CONT trap would have run too.
	sb.ok("kill", "-s", "USR1", "r1")
	lcEventually(t, 10*time.Second, "the container's shell saw SIGUSR1", func() (bool, string) {
		r := sb.run(runOpts{}, "exec", "r1", "cat", "/conts")
		return r.code == 0 && strings.Contains(r.stdout, "usr1"), r.String()
	})
	if out := sb.ok("exec", "r1", "cat", "/conts").stdout; strings.Contains(out, "continued") {
		t.Fatalf("--pause=false: the container was stopped and continued:\n%s", out)
	}
	sb.ok("rm", "-f", "r1")

	// In a delegated cgroup: the freezer, with Docker's pause and unpause events.
	deleg := cgDelegate(t, sb)
	cgOKIn(sb, deleg, "run", "-d", "--name", "fz", "--network", "none", lcImage, "sh", "-c", "echo z > /z; echo ready; exec sleep 1000")
	lcWaitLog(sb, "fz", "ready", 30*time.Second)
	begin := time.Now().Format(time.RFC3339Nano)
	sb.ok("commit", "fz", "frozen")
	assertEqual(t, evShorts(evHistory(sb, "--since", begin, "--filter", "container=fz")),
		"container pause fz\ncontainer commit fz\ncontainer unpause fz", "events of a commit in a cgroup (Docker's order)")
	assertEqual(t, lcInspect(sb, "fz").State.Status, "running", "fz after the commit")
	// A paused container stays paused.
	sb.ok("pause", "fz")
	begin = time.Now().Format(time.RFC3339Nano)
	sb.ok("commit", "fz", "frozen2")
	assertEqual(t, evShorts(evHistory(sb, "--since", begin, "--filter", "container=fz")), "container commit fz", "events of a commit of a paused container")
	assertEqual(t, lcInspect(sb, "fz").State.Status, "paused", "a paused container after the commit")
	assertEqual(t, sb.ok("run", "--rm", "frozen2", "cat", "/z").stdout, "z\n", "the frozen container's file")
	sb.ok("rm", "-f", "fz")
}
