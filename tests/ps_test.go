package tests

// System tests of `hutch ps` (issue 14): every Docker filter key, several ANDed and
// ORed as Docker does, --sort, --noheading, -s, and the template fields .Labels,
// .Label, .Mounts, .Networks, .Size, .RunningFor, .State.

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPsFilters(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcCleanupContainers(t, sb)
	web := lcRunD(sb, "--name", "web", "--label", "team=web", "--label", "tier=front", "-p", "80", "-v", "data:/data",
		lcImage, "sh", "-c", "echo ready; exec sleep 1000")
	lcWaitLog(sb, "web", "ready", 30*time.Second)
	sb.expect(3, "run", "--name", "job", "--network", "none", "--label", "team=web", lcImage, "sh", "-c", "head -c 300000 /dev/zero > /big; exit 3")
	sb.ok("create", "--name", "idle", "--network", "none", lcImage)
	jobID := strings.TrimSpace(sb.ok("ps", "-aq", "--no-trunc", "--filter", "name=job").stdout)

	names := func(args ...string) string {
		t.Helper()
		r := sb.ok(append(append([]string{"ps"}, args...), "--format", "{{.Names}}")...)
		return strings.Join(lines(r.stdout), " ")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "web"},
		{[]string{"-a"}, "idle job web"},
		// One key's values: any of them; a status filter looks beyond running ones.
		{[]string{"--filter", "status=exited", "--filter", "status=created"}, "idle job"},
		// Different keys: all of them.
		{[]string{"-a", "--filter", "label=team=web", "--filter", "status=exited"}, "job"},
		// label's values: every one must hold (Docker's).
		{[]string{"-a", "--filter", "label=team=web", "--filter", "label=tier"}, "web"},
		{[]string{"-a", "--filter", "label=team"}, "job web"},
		{[]string{"-a", "--filter", "name=^(i|w)"}, "idle web"},
		{[]string{"-a", "--filter", "id=" + jobID[:10]}, "job"},
		{[]string{"-a", "--filter", "ancestor=" + lcImage}, "idle job web"},
		{[]string{"-a", "--filter", "exited=3"}, "job"},
		{[]string{"-a", "--filter", "exited=0"}, ""},
		{[]string{"-a", "--filter", "before=idle"}, "job web"},
		{[]string{"-a", "--filter", "since=web"}, "idle job"},
		{[]string{"-a", "--filter", "since=web", "--filter", "before=idle"}, "job"},
		{[]string{"-a", "--filter", "volume=data"}, "web"},
		{[]string{"-a", "--filter", "volume=/data"}, "web"},
		{[]string{"-a", "--filter", "network=none"}, "idle job"},
		{[]string{"-a", "--filter", "network=slirp4netns"}, "web"},
		{[]string{"-a", "--filter", "publish=80/tcp"}, "web"},
		{[]string{"-a", "--filter", "publish=81-90"}, ""},
		{[]string{"-a", "--filter", "expose=80"}, "web"},
		{[]string{"-a", "--filter", "health=none"}, "idle job web"},
		{[]string{"-a", "--filter", "health=healthy"}, ""},
		// --sort, Podman's keys.
		{[]string{"-a", "--sort", "names"}, "idle job web"},
		{[]string{"-a", "--sort", "status"}, "idle job web"},
		{[]string{"-a", "--sort", "created"}, "idle job web"},
		{[]string{"-a", "--sort", "size"}, "idle web job"},
	} {
		assertEqual(t, names(tc.args...), tc.want, "ps "+strings.Join(tc.args, " "))
	}

	// Template fields.
	r := sb.ok("ps", "--format", `{{.Labels}}|{{.Label "tier"}}|{{.Mounts}}|{{.Networks}}|{{.State}}|{{.LocalVolumes}}|{{.RunningFor}}`)
	f := strings.Split(strings.TrimSpace(r.stdout), "|")
	assertEqual(t, strings.Join(f[:6], "|"), "team=web,tier=front|front|data|slirp4netns|running|1", "ps template fields")
	assertContains(t, f[6], "ago", ".RunningFor")
	// .Size (measured, as -s measures): the writable layer, and the whole file system.
	r = sb.ok("ps", "-a", "--filter", "name=job", "--format", "{{.Size}}")
	m := regexp.MustCompile(`^(\d+(?:\.\d+)?)kB \(virtual (\d+(?:\.\d+)?)MB\)\n$`).FindStringSubmatch(r.stdout)
	if kb, err := strconv.ParseFloat(safeIndex(m, 1), 64); err != nil || kb < 300 || kb > 400 {
		t.Fatalf("ps .Size of a container that wrote 300 kB: %q", r.stdout)
	}
	table := sb.ok("ps", "-a", "-s").stdout
	assertContains(t, lines(table)[0], "SIZE", "ps -s: the SIZE column")
	assertContains(t, table, "(virtual ", "ps -s")
	// --noheading.
	assertContains(t, sb.ok("ps", "-a").stdout, "CONTAINER ID", "ps's header")
	nh := lines(sb.ok("ps", "-a", "--noheading").stdout)
	if len(nh) != 3 || strings.Contains(nh[0], "CONTAINER ID") {
		t.Fatalf("ps --noheading:\n%s", strings.Join(nh, "\n"))
	}
	// Errors: one line, 125.
	for _, bad := range [][]string{{"--filter", "colour=red", "colour"}, {"--filter", "status=sleeping", "status is"},
		{"--filter", "before=nothing-by-this-name", "nothing-by-this-name"}, {"--sort", "colour", "colour"}, {"--filter", "exited=x", "exit code"}} {
		assertOneLineError(t, sb.expect(125, "ps", "-a", bad[0], bad[1]), bad[2])
	}
	assertEqual(t, strings.TrimSpace(sb.ok("ps", "-q", "--no-trunc").stdout), web, "ps -q --no-trunc")
	sb.ok("rm", "-f", "web", "job", "idle")
}

func safeIndex(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}
