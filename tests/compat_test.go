package tests

// The everyday one-liners of issue 14 (fourteen of its fifteen: see 8 below), typed as a user types them, with hutch
// standing in for docker: an interactive bash of the test user on a real terminal
// (script(1)), `alias docker=hutch`, in a project directory. Each line's output and
// status are read from the terminal. What a line is expected to print is never written
// in the line itself (the terminal echoes what is typed), so a match is the command's.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestCompatOneLiners(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcCleanupContainers(t, sb)
	proj := sb.path("work", "proj")
	sb.userDir(proj)
	sb.userFile(filepath.Join(proj, "hello.txt"), "hello from the project\n")
	sb.userFile(filepath.Join(proj, "Dockerfile"), "FROM "+lcImage+"\nRUN echo built-$((6*7)) > /built\nCMD [\"cat\", \"/built\"]\n")
	if err := os.Chmod(proj, 0o755); err != nil {
		t.Fatal(err)
	}

	h := startHostShell(t, sb)
	h.do("alias docker=" + hutchBin)
	h.do("cd " + proj)
	seq := 0
	// line types one line and returns what it printed (without the echo of the line)
	// and its status.
	line := func(l string) (string, int) {
		t.Helper()
		seq++
		mark := fmt.Sprintf("@@RC%d", seq)
		// The line is typed between two printed marks, quoted in the typed text so that
		// its echo (which the terminal may wrap over several lines) never matches them.
		begin := fmt.Sprintf("@@BEGIN%d", seq)
		out := strings.ReplaceAll(h.do(`echo "`+begin+`"; `+l+`; echo "`+mark+`=$?"`), "\r\n", "\n")
		m := regexp.MustCompile(`(?s)(?:^|\n)` + regexp.QuoteMeta(begin) + `\n(.*?)` + regexp.QuoteMeta(mark) + `=(\d+)\n`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no status on the terminal:\n%s", l, out)
		}
		rc, _ := strconv.Atoi(m[2]) // \d+
		return m[1], rc
	}
	ok := func(what, l string, wants ...string) string {
		t.Helper()
		out, rc := line(l)
		if rc != 0 {
			t.Fatalf("%s: `%s` exited %d:\n%s", what, l, rc, out)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Fatalf("%s: `%s` printed no %q:\n%s", what, l, w, out)
			}
		}
		return out
	}

	// 1. run -it with the project mounted and as the working directory.
	ok("run -it -v $PWD:/w -w /w", `docker run -it --rm -v $PWD:/w -w /w lc sh -c 'cat hello.txt; test -t 0 && test -t 1 && echo tty-$((1+1))'`,
		"hello from the project", "tty-2")
	// 2. ps --format '{{.Names}}'.
	ok("run -d", `docker run -d --name web lc sh -c 'touch /made; echo ready; exec sleep 1000'`)
	lcWaitLog(sb, "web", "ready", cmdTimeout)
	out := ok("ps --format", `docker ps --format '{{.Names}}'`)
	if strings.TrimSpace(out) != "web" {
		t.Fatalf("docker ps --format '{{.Names}}': %q", out)
	}
	// 3. inspect -f '{{.State.Status}}'.
	out = ok("inspect -f", `docker inspect -f '{{.State.Status}}' web`)
	assertEqual(t, strings.TrimSpace(out), "running", "docker inspect -f '{{.State.Status}}' web")
	// 5. exec -it.
	ok("exec -it", `docker exec -it web sh -c 'test -t 0 && echo exec-$((2+3))'`, "exec-5")
	// 12. diff.
	ok("diff", `docker diff web`, "A /made")
	// 13. export | tar t.
	out = ok("export | tar t", `docker export web | tar t | grep -c '^bin/busybox$'`)
	assertEqual(t, strings.TrimSpace(out), "1", "docker export web | tar t")
	// 10. commit (a named image, and an unnamed one for the dangling filter below).
	out = ok("commit", `docker commit web snap`)
	if !regexp.MustCompile(`sha256:[0-9a-f]{64}`).MatchString(out) {
		t.Fatalf("docker commit web snap: %q", out)
	}
	dangling := regexp.MustCompile(`sha256:([0-9a-f]{64})`).FindStringSubmatch(ok("commit without a name", `docker commit web`))
	if dangling == nil {
		t.Fatal("docker commit web printed no ID")
	}
	// 11. history.
	ok("history", `docker history snap`, "IMAGE", "CREATED BY", "touch /made")
	// 7. images --filter dangling=true -q.
	out = ok("images --filter dangling=true -q", `docker images --filter dangling=true -q`)
	assertEqual(t, strings.TrimSpace(out), dangling[1][:12], "docker images --filter dangling=true -q")
	// 6. build -t x -f Dockerfile .
	ok("build", `docker build -t x -f Dockerfile .`)
	ok("run the build", `docker run --rm x`, "built-42")
	// 4. logs --tail 5 -f: the last five lines, then followed until the container ends.
	ok("run -d counter", `docker run -d --name counter lc sh -c 'for i in $(seq 1 20); do echo n$i; done; while [ ! -e /stop ]; do sleep 0.1; done; echo last-$((3*3))'`)
	lcWaitLog(sb, "counter", "n20", cmdTimeout)
	// The container ends only once the five lines are read (a stop triggered beside
	// the logs could come first, and the last five would be others).
	out = ok("logs --tail 5 -f", `docker logs --tail 5 -f counter | (head -5; docker exec counter touch /stop; cat)`, "n16\n", "n20\n", "last-9")
	if strings.Contains(out, "n15\n") {
		t.Fatalf("docker logs --tail 5 -f printed more than the last five lines:\n%s", out)
	}
	// 9. run -d --restart unless-stopped.
	ok("run --restart unless-stopped", `docker run -d --restart unless-stopped --name keeper lc sleep 1000`)
	assertEqual(t, sb.ok("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.State.Status}}", "keeper").stdout,
		"unless-stopped running\n", "the restart policy")
	// 15. start a b.
	ok("create a", `docker create --name a lc true`)
	ok("create b", `docker create --name b lc true`)
	out = ok("start a b", `docker start a b`)
	assertEqual(t, strings.Join(lines(out), " "), "a b", "docker start a b")
	// 14. events --since (with --until, so that it ends).
	out = ok("events --since", `docker events --since 10m --until "$(($(date +%s)+1))" --filter event=commit --format '{{.Action}} {{.Actor.Attributes.name}}'`)
	assertEqual(t, strings.Join(lines(out), "|"), "commit web|commit web", "docker events --since")
	// 8. system prune -af: stopped containers, unused images and the build cache go;
	// the running containers and their image stay.
	ok("system prune -af", `docker system prune -af`, "Total reclaimed space")
	out = ok("ps -a after prune", `docker ps -a --format '{{.Names}}' | sort | tr '\n' ' '`)
	assertEqual(t, strings.TrimSpace(out), "keeper web", "containers after docker system prune -af")
	out = ok("images after prune", `docker images --format '{{.Repository}}' | sort | tr '\n' ' '`)
	assertEqual(t, strings.TrimSpace(out), "localhost/lc", "images after docker system prune -af")
	h.exit()
	sb.ok("rm", "-f", "web", "keeper")
}
