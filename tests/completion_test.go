package tests

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// complete runs `hutch __complete ARGS…` (what the bash, zsh and fish scripts of
// `hutch completion` call) as the sandbox's user and returns the words it offered,
// without their descriptions, and the directive (the last line, ":N").
func complete(sb *sandbox, args ...string) ([]string, string, time.Duration) {
	sb.t.Helper()
	r := sb.ok(append([]string{"__complete"}, args...)...)
	ls := lines(r.stdout)
	if len(ls) == 0 || !strings.HasPrefix(ls[len(ls)-1], ":") {
		sb.t.Fatalf("__complete printed no directive line:\n%s", r)
	}
	var words []string
	for _, l := range ls[:len(ls)-1] {
		w, _, _ := strings.Cut(l, "\t")
		words = append(words, w)
	}
	return words, ls[len(ls)-1], r.elapsed
}

// TestCompletionNames: the names of the user's containers (as the command wants them:
// running ones for stop, stopped ones for start), images (full and short names, IDs by
// prefix) and volumes, and flag values (--network, --log-level, --pull, a --format's
// fields, signals), as the unprivileged user; and how long completing a name takes.
func TestCompletionNames(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	sb.ok("tag", lcImage, "registry.example.com/team/tool:2")
	sb.ok("create", "--name", "made", lcImage, "true")
	web := lcRunD(sb, "--name", "web", lcImage, "sh", "-c", "sleep 1000")
	sb.ok("volume", "create", "data")

	words, directive, _ := complete(sb, "rm", "")
	sameStrings(t, words, []string{"made", "web"}, "__complete rm ''")
	assertEqual(t, directive, ":4", "rm's directive (no file names)")
	words, _, _ = complete(sb, "rm", "web", "")
	sameStrings(t, words, []string{"made"}, "__complete rm web '' (web given already)")
	words, _, _ = complete(sb, "stop", "")
	sameStrings(t, words, []string{"web"}, "__complete stop '' (running ones)")
	words, _, _ = complete(sb, "start", "")
	sameStrings(t, words, []string{"made"}, "__complete start '' (stopped ones)")
	words, _, _ = complete(sb, "container", "logs", "w")
	sameStrings(t, words, []string{"web"}, "__complete container logs w")
	words, _, _ = complete(sb, "rm", web[:5])
	sameStrings(t, words, []string{web[:12]}, "__complete rm ID-PREFIX")
	words, directive, _ = complete(sb, "cp", "we")
	sameStrings(t, words, []string{"web:"}, "__complete cp we")
	assertEqual(t, directive, ":6", "cp's directive (no space after CONTAINER:)")

	imgs := []string{"localhost/lc:latest", "lc:latest", "registry.example.com/team/tool:2"}
	words, _, _ = complete(sb, "run", "")
	sameStrings(t, words, imgs, "__complete run ''")
	words, _, _ = complete(sb, "run", "--rm", "l")
	sameStrings(t, words, []string{"localhost/lc:latest", "lc:latest"}, "__complete run --rm l")
	words, _, _ = complete(sb, "image", "rm", "")
	sameStrings(t, words, imgs, "__complete image rm ''")
	words, _, _ = complete(sb, "inspect", "")
	sameStrings(t, words, append([]string{"made", "web"}, imgs...), "__complete inspect '' (containers and images)")
	words, _, _ = complete(sb, "volume", "rm", "")
	sameStrings(t, words, []string{"data"}, "__complete volume rm ''")

	words, _, _ = complete(sb, "run", "--network", "")
	sameStrings(t, words, []string{"slirp4netns", "none", "host"}, "__complete run --network ''")
	words, _, _ = complete(sb, "run", "--network", "slirp4netns:mtu=1500,allow")
	sameStrings(t, words, []string{"slirp4netns:mtu=1500,allow_host_loopback=true", "slirp4netns:mtu=1500,allow_host_loopback=false"}, "__complete run --network slirp4netns:…")
	words, _, _ = complete(sb, "--log-level", "")
	sameStrings(t, words, []string{"debug", "info", "warn", "error"}, "__complete --log-level ''")
	words, _, _ = complete(sb, "run", "--pull", "")
	sameStrings(t, words, []string{"missing", "always", "never", "newer"}, "__complete run --pull ''")
	words, _, _ = complete(sb, "ps", "--format", "{{.St")
	sameStrings(t, words, []string{"{{.Status}}", "{{.State}}"}, "__complete ps --format {{.St")
	words, _, _ = complete(sb, "kill", "-s", "US")
	sameStrings(t, words, []string{"USR1", "USR2"}, "__complete kill -s US")
	words, _, _ = complete(sb, "ps", "--filter", "name=")
	sameStrings(t, words, []string{"name=made", "name=web"}, "__complete ps --filter name=")

	// Fast: records and the image index are plain files; no namespace, no store opened.
	median := func(f func() time.Duration) (time.Duration, time.Duration, time.Duration) {
		var times []time.Duration
		for range 5 {
			times = append(times, f())
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		return times[2], times[0], times[4]
	}
	med, lo, hi := median(func() time.Duration { _, _, d := complete(sb, "rm", ""); return d })
	imed, _, _ := median(func() time.Duration { _, _, d := complete(sb, "rmi", ""); return d })
	// For scale: a command that enters the user namespace and opens the store.
	smed, _, _ := median(func() time.Duration { return sb.ok("images", "-q").elapsed })
	t.Logf("hutch __complete rm '' (2 containers): median %s of 5 (min %s, max %s); __complete rmi '': %s; images -q (namespace and store): %s", med, lo, hi, imed, smed)
	if med > time.Second {
		t.Fatalf("completing container names took %s (median of 5): it should read plain files only", med)
	}
}
