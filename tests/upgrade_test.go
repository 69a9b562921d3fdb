package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpgradeRecords: containers created by a hutch from before the record's version 2
// (config.json with the command line's options in an "Options" object, several of them
// repeated beside it) still list, inspect, start in the foreground and detached, stop
// and are removed; the first change to such a record writes it in the new layout.
func TestUpgradeRecords(t *testing.T) {
	t.Parallel()
	sb := lcSandbox(t)
	once := strings.TrimSpace(sb.ok("create", "--name", "old-once", "--label", "k=v", "-e", "A=1", "-w", "/tmp",
		"--network", "slirp4netns:mtu=1500", lcImage, "sh", "-c", "echo from-old $A $(pwd) $(hostname)").stdout)
	sleeper := strings.TrimSpace(sb.ok(append([]string{"create", "--name", "old-sleeper", "--stop-timeout", "5", "--network", "none", lcImage}, lcSleeper...)...).stdout)
	unnamed := strings.TrimSpace(sb.ok("create", "--network", "none", lcImage, "true").stdout)
	for _, id := range []string{once, sleeper, unnamed} {
		downgradeRecord(t, sb, id)
	}

	names := sb.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
	for _, want := range []string{"old-once Created", "old-sleeper Created", unnamed[:12] + " Created"} {
		assertContains(t, names, want, "ps -a lists the containers of old records")
	}
	in := lcInspect(sb, "old-once")
	assertEqual(t, in.Name, "/old-once", "inspect: the name")
	var raw []map[string]any
	mustJSON(t, sb.ok("inspect", "old-once"), &raw)
	hc, _ := raw[0]["HostConfig"].(map[string]any)
	cfg, _ := raw[0]["Config"].(map[string]any)
	assertEqual(t, hc["NetworkMode"], any("slirp4netns"), "inspect: HostConfig.NetworkMode")
	if labels, _ := cfg["Labels"].(map[string]any); labels["k"] != "v" {
		t.Errorf("inspect: Config.Labels %v", cfg["Labels"])
	}
	ns, _ := raw[0]["NetworkSettings"].(map[string]any)
	if slirp, _ := ns["Slirp4netns"].(map[string]any); slirp["MTU"] != float64(1500) {
		t.Errorf("inspect: NetworkSettings.Slirp4netns %v (the record's network options are kept)", ns["Slirp4netns"])
	}

	// Started in the foreground: the command, environment, working directory and
	// hostname of the old record.
	r := sb.ok("start", "-a", "old-once")
	assertEqual(t, r.stdout, "from-old 1 /tmp "+once[:12]+"\n", "start -a of an old record")

	// Detached, stopped (its --stop-timeout kept), removed.
	assertEqual(t, sb.ok("start", "old-sleeper").stdout, "old-sleeper\n", "start of an old record")
	lcWaitStatus(sb, "old-sleeper", "running", 20*time.Second)
	sb.ok("stop", "old-sleeper")
	lcWaitStatus(sb, "old-sleeper", "exited", 20*time.Second)

	// A change writes the record in the new layout.
	sb.ok("rename", "old-sleeper", "renamed")
	b, err := os.ReadFile(filepath.Join(sb.graphRoot(), "hutch-containers", sleeper, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, old := m["Options"]; old || m["Version"] != float64(2) || m["Name"] != "renamed" {
		t.Errorf("the record of %s after a rename:\n%s", sleeper[:12], b)
	}

	sb.ok("rm", "old-once", "renamed", unnamed)
	assertEqual(t, sb.ok("ps", "-aq").stdout, "", "ps -aq after rm")
}

// downgradeRecord rewrites a container's config.json in the layout hutch wrote before
// the record's version 2: what the user asked in an "Options" object (with the network
// as NetworkMode and NetworkOptions, and --name, --security-opt and the image as given
// a second time), no Version.
func downgradeRecord(t *testing.T, sb *sandbox, id string) {
	t.Helper()
	path := filepath.Join(sb.graphRoot(), "hutch-containers", id, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["Version"] != float64(2) {
		t.Fatalf("the record of %s is not of version 2:\n%s", id[:12], b)
	}
	opts := map[string]any{"Image": m["ImageName"]}
	for _, k := range []string{"Entrypoint", "Cmd", "CapAdd", "CapDrop", "Privileged", "ReadonlyRootfs", "PortBindings",
		"PublishAllPorts", "Init", "AutoRemove", "OpenStdin", "Tty", "Labels", "RestartPolicy", "StopTimeout", "UsernsMode", "Resources"} {
		if v, ok := m[k]; ok {
			opts[k] = v
			delete(m, k)
		}
	}
	net, _ := m["Network"].(map[string]any)
	opts["NetworkMode"], opts["NetworkOptions"] = net["Mode"], net
	delete(m, "Network")
	if name := m["Name"].(string); name != id[:12] {
		opts["Name"] = name
	}
	if sec, ok := m["Security"].(map[string]any); ok && sec["Raw"] != nil {
		opts["SecurityOpt"] = sec["Raw"]
	}
	opts["Env"], opts["WorkingDir"] = []string{}, m["WorkingDir"]
	delete(m, "Version")
	m["Options"] = opts
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	sb.writeUserFile(path, string(out))
}
