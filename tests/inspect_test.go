package tests

// System tests of `hutch inspect` (issue 14): several --format (the last wins), -s,
// --type container|image|volume|network, and Docker's .NetworkSettings.Networks,
// .Mounts and .State.Health (absent without a healthcheck).

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestInspectShapes(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	lcCleanupContainers(t, sb)
	host := sb.path("work", "hostdir")
	sb.userDir(host)
	lcRunD(sb, "--name", "iw", "-v", "vol1:/data", "-v", host+":/host:ro", lcImage,
		"sh", "-c", "head -c 200000 /dev/zero > /big; echo ready; exec sleep 1000")
	lcWaitLog(sb, "iw", "ready", 30*time.Second)
	sb.ok("create", "--name", "in", "--network", "none", lcImage)

	assertEqual(t, sb.ok("inspect", "-f", "{{.State.Status}}", "iw").stdout, "running\n", "inspect -f .State.Status")
	assertEqual(t, sb.ok("inspect", "-f", "{{.Name}}", "--format", "{{.State.Status}}", "iw", "in").stdout, "running\ncreated\n", "two --format: the last")

	// Networks, Docker's: the container's network by name, its addresses while it runs.
	var nets map[string]struct {
		NetworkID, IPAddress, Gateway string
		IPPrefixLen                   int
	}
	mustJSON(t, sb.ok("inspect", "-f", "{{json .NetworkSettings.Networks}}", "iw"), &nets)
	sl, ok := nets["slirp4netns"]
	if len(nets) != 1 || !ok || sl.IPAddress != "10.0.2.100" || sl.Gateway != "10.0.2.2" || sl.IPPrefixLen != 24 {
		t.Fatalf(".NetworkSettings.Networks of a slirp4netns container: %+v", nets)
	}
	assertEqual(t, sb.ok("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}:{{$v.IPAddress}}{{end}}", "in").stdout, "none:\n", "Networks of --network none")

	// Mounts, Docker's fields.
	assertEqual(t, sb.ok("inspect", "-f", "{{range .Mounts}}{{.Type}}|{{.Name}}|{{.Destination}}|{{.RW}}|{{.Mode}}|{{.Driver}}|{{.Propagation}};{{end}}", "iw").stdout,
		"volume|vol1|/data|true||local|;bind||/host|false|ro||rprivate;\n", ".Mounts")

	// State.Health: absent without a healthcheck; no sizes without -s.
	var raw []map[string]json.RawMessage
	mustJSON(t, sb.ok("inspect", "iw"), &raw)
	var state map[string]json.RawMessage
	if err := json.Unmarshal(raw[0]["State"], &state); err != nil {
		t.Fatal(err)
	}
	if _, ok := state["Health"]; ok {
		t.Fatalf("State.Health of a container without a healthcheck: %s", state["Health"])
	}
	if _, ok := raw[0]["SizeRw"]; ok {
		t.Fatal("SizeRw without -s")
	}
	assertEqual(t, sb.ok("inspect", "-f", "{{if .State.Health}}yes{{else}}none{{end}}", "iw").stdout, "none\n", ".State.Health in a template")

	// -s: the writable layer (the 200 kB file) and the whole file system.
	f := strings.Fields(sb.ok("inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "iw").stdout)
	rw, err1 := strconv.ParseInt(f[0], 10, 64)
	root, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || rw < 200000 || rw > 300000 || root <= rw {
		t.Fatalf("inspect -s: SizeRw %s, SizeRootFs %s", f[0], f[1])
	}

	// --type: volume, network, image, container; without it, each in turn.
	assertEqual(t, sb.ok("inspect", "--type", "volume", "-f", "{{.Name}}", "vol1").stdout, "vol1\n", "--type volume")
	assertEqual(t, sb.ok("inspect", "-f", "{{.Name}}", "vol1").stdout, "vol1\n", "a volume without --type")
	id := lcInspect(sb, "iw").ID
	r := sb.ok("inspect", "--type", "network", "-f", `{{.Driver}} {{.Scope}} {{range $id, $c := .Containers}}{{$c.Name}}={{$c.IPv4Address}} {{end}}`, "slirp4netns")
	assertEqual(t, r.stdout, "slirp4netns local iw=10.0.2.100/24 \n", "--type network slirp4netns")
	assertContains(t, sb.ok("inspect", "--type", "network", "slirp4netns").stdout, id, "the network lists the container by ID")
	assertEqual(t, sb.ok("inspect", "-f", "{{.Driver}}", "none").stdout, "null\n", "the none network without --type")
	assertEqual(t, sb.ok("inspect", "--type", "image", "-f", "{{.RepoTags}}", lcImage).stdout, "[localhost/lc:latest]\n", "--type image")
	assertOneLineError(t, sb.expect(125, "inspect", "--type", "container", lcImage), lcImage)
	assertOneLineError(t, sb.expect(125, "inspect", "--type", "volume", "iw"), "iw")
	assertOneLineError(t, sb.expect(125, "inspect", "--type", "network", "bridge"), "no such network")
	assertOneLineError(t, sb.expect(125, "inspect", "nothing-by-this-name"), "nothing-by-this-name", "hutch images")
	assertOneLineError(t, sb.expect(125, "inspect", "--type", "pod", "iw"), "--type")
	sb.ok("rm", "-f", "iw", "in")
}
