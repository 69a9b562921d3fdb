package container

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/security"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testImage is an image that sets everything merge reads.
func testImage() images.ContainerConfig {
	return images.ContainerConfig{
		Entrypoint: []string{"/entry"}, Cmd: []string{"default"},
		Env:        []string{"PATH=/img/bin", "A=image", "B=image"},
		WorkingDir: "/work", User: "nobody", StopSignal: "SIGQUIT",
		Volumes:      map[string]struct{}{"/data": {}, "/cache": {}},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
	}
}

func slirpNet(t *testing.T) network.Config {
	t.Helper()
	n, err := network.Parse("", network.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Create's merge of the image's configuration and the options, rule by rule (Docker's).
func TestMerge(t *testing.T) {
	net := slirpNet(t)
	req := func(o Options) *Request {
		o.Network = net
		if o.Image == "" {
			o.Image = "bb"
		}
		return &Request{Options: o, caps: []string{"CAP_CHOWN"}}
	}
	mustMerge := func(r *Request, ic images.ContainerConfig) *Config {
		t.Helper()
		c, err := merge(r, testID, "feedface", []string{"localhost/bb:latest"}, ic)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Nothing asked: the image's everything.
	c := mustMerge(req(Options{}), testImage())
	want := &Config{
		Version: recordVersion, ID: testID, Name: "0123456789ab", ImageID: "feedface", ImageName: "localhost/bb:latest",
		Args: []string{"/entry", "default"}, Env: []string{"PATH=/img/bin", "A=image", "B=image", "HOSTNAME=0123456789ab"},
		Cwd: "/work", User: "nobody", Hostname: "0123456789ab", Caps: []string{"CAP_CHOWN"}, StopSignal: "SIGQUIT",
		// An anonymous volume for each VOLUME, in order.
		Mounts:   []MountSpec{{Type: "volume", Destination: "/cache"}, {Type: "volume", Destination: "/data"}},
		Settings: Settings{Network: net},
		// The image's exposed ports, sorted, for ps --filter expose=.
		ExposedPorts: []string{"53/udp", "80/tcp"},
	}
	c.Created = want.Created
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("merge without options:\n%+v\nwant\n%+v", c, want)
	}
	if c.Named() {
		t.Error("a container without --name is Named")
	}

	// A command replaces the image's Cmd, not its Entrypoint.
	if c := mustMerge(req(Options{Settings: Settings{Cmd: []string{"x", "y"}}}), testImage()); !reflect.DeepEqual(c.Args, []string{"/entry", "x", "y"}) {
		t.Errorf("a command: %q", c.Args)
	}
	// --entrypoint replaces the Entrypoint and clears the image's Cmd.
	ep := []string{"/e2"}
	if c := mustMerge(req(Options{Settings: Settings{Entrypoint: &ep}}), testImage()); !reflect.DeepEqual(c.Args, []string{"/e2"}) {
		t.Errorf("--entrypoint: %q", c.Args)
	}
	if c := mustMerge(req(Options{Settings: Settings{Entrypoint: &ep, Cmd: []string{"z"}}}), testImage()); !reflect.DeepEqual(c.Args, []string{"/e2", "z"}) {
		t.Errorf("--entrypoint and a command: %q", c.Args)
	}
	// --entrypoint "" and no command: nothing to run.
	none := []string{}
	if _, err := merge(req(Options{Settings: Settings{Entrypoint: &none}}), testID, "feedface", nil, testImage()); err == nil || !strings.Contains(err.Error(), "has no command") {
		t.Errorf("no command at all: %v", err)
	}

	// The options' environment over the image's, in the image's order; HOSTNAME from
	// -h, or from -e when it sets it.
	c = mustMerge(req(Options{Env: []string{"B=mine", "C=new"}, Hostname: "h1"}), testImage())
	if want := []string{"PATH=/img/bin", "A=image", "B=mine", "C=new", "HOSTNAME=h1"}; !reflect.DeepEqual(c.Env, want) {
		t.Errorf("-e, -h: env %q, want %q", c.Env, want)
	}
	c = mustMerge(req(Options{Env: []string{"HOSTNAME=fromenv"}, Hostname: "h1"}), testImage())
	if !reflect.DeepEqual(c.Env[len(c.Env)-1:], []string{"HOSTNAME=fromenv"}) || c.Hostname != "h1" {
		t.Errorf("-e HOSTNAME: env %q, hostname %s", c.Env, c.Hostname)
	}
	// PATH when the image has none; TERM with -t unless the image sets it.
	bare := images.ContainerConfig{Cmd: []string{"sh"}}
	c = mustMerge(req(Options{Settings: Settings{TTY: true}}), bare)
	if want := []string{defaultPath, "TERM=xterm", "HOSTNAME=0123456789ab"}; !reflect.DeepEqual(c.Env, want) {
		t.Errorf("bare image, -t: env %q, want %q", c.Env, want)
	}
	withTerm := bare
	withTerm.Env = []string{"TERM=vt100"}
	if c := mustMerge(req(Options{Settings: Settings{TTY: true}}), withTerm); !reflect.DeepEqual(c.Env[1:2], []string{"TERM=vt100"}) {
		t.Errorf("-t with the image's TERM: env %q", c.Env)
	}
	// The working directory: -w, the image's, else /.
	if c := mustMerge(req(Options{}), bare); c.Cwd != "/" {
		t.Errorf("no WorkingDir: %s", c.Cwd)
	}

	// The options win over the image: -w, -u, --stop-signal, --name.
	c = mustMerge(req(Options{WorkingDir: "/o", User: "1:1", StopSignal: "SIGKILL", Name: "web"}), testImage())
	if c.Cwd != "/o" || c.User != "1:1" || c.StopSignal != "SIGKILL" || c.Name != "web" || !c.Named() {
		t.Errorf("-w -u --stop-signal --name: %+v", c)
	}
	// keep-id runs as you unless -u says otherwise, whatever the image's USER.
	r := req(Options{})
	r.keepIDUser = "1000:1000"
	if c := mustMerge(r, testImage()); c.User != "1000:1000" {
		t.Errorf("keep-id: user %s", c.User)
	}
	r = req(Options{User: "0"})
	r.keepIDUser = "1000:1000"
	if c := mustMerge(r, testImage()); c.User != "0" {
		t.Errorf("keep-id with -u 0: user %s", c.User)
	}

	// A mount on a VOLUME's path covers it (however the path is written).
	c = mustMerge(req(Options{Mounts: []MountSpec{{Type: "bind", Source: "/src", Destination: "/data/"}}}), testImage())
	if want := []MountSpec{{Type: "bind", Source: "/src", Destination: "/data/"}, {Type: "volume", Destination: "/cache"}}; !reflect.DeepEqual(c.Mounts, want) {
		t.Errorf("a mount over a VOLUME: %+v", c.Mounts)
	}

	// -P: every exposed port -p does not publish, on a free host port.
	c = mustMerge(req(Options{Settings: Settings{PublishAll: true, Ports: []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}}}), testImage())
	if want := []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 53, Protocol: "udp"}}; !reflect.DeepEqual(c.Ports, want) {
		t.Errorf("-P: %+v", c.Ports)
	}

	// The image's name: a short name or an ID prefix is recorded as the image's first
	// name, a reference with a registry as given.
	for image, wantName := range map[string]string{"bb": "localhost/bb:latest", "feed": "feed", "quay.io/x/bb": "quay.io/x/bb"} {
		if c := mustMerge(req(Options{Image: image}), testImage()); c.ImageName != wantName {
			t.Errorf("image %s recorded as %s, want %s", image, c.ImageName, wantName)
		}
	}

	// What the container keeps as asked, and its security options.
	sec := &security.Options{NoNewPrivileges: true, Raw: []string{"no-new-privileges"}}
	c = mustMerge(req(Options{Security: sec, Settings: Settings{Labels: map[string]string{"k": "v"}, Restart: "always", Init: true}}), testImage())
	if c.Labels["k"] != "v" || c.Restart != "always" || !c.Init || !c.NoNewPrivileges() || !reflect.DeepEqual(c.SecurityOpt(), []string{"no-new-privileges"}) {
		t.Errorf("settings: %+v", c)
	}
}

// Records written before the record's version 2 (an "Options" object repeating the
// name, environment and mounts) are read as version 2 and written back as such. The
// fixtures are records the previous hutch wrote (`hutch create` with many flags, and
// with none).
func TestRecordMigration(t *testing.T) {
	r := &Records{Dir: t.TempDir()}
	load := func(fixture string) *Config {
		t.Helper()
		b, err := os.ReadFile("testdata/" + fixture)
		if err != nil {
			t.Fatal(err)
		}
		var c Config
		if err := decodeRecord(b, &c); err != nil {
			t.Fatal(err)
		}
		return &c
	}

	c := load("record-v1-full.json")
	stop := 3
	wantSettings := Settings{
		Cmd: []string{"sh", "-c", "echo hi"}, CapDrop: []string{"NET_RAW"},
		Network:    network.Config{Mode: network.ModeSlirp, MTU: 1500},
		Ports:      []network.PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
		PublishAll: true, Labels: map[string]string{"k": "v"}, Restart: "on-failure:2", StopTimeout: &stop,
	}
	got := c.Settings
	if got.Resources == nil || got.Resources.Memory != 64<<20 || got.Resources.Requested["--memory"] != "64m" {
		t.Errorf("resources %+v", got.Resources)
	}
	got.Resources = nil
	if !reflect.DeepEqual(got, wantSettings) {
		t.Errorf("settings:\n%+v\nwant\n%+v", got, wantSettings)
	}
	if c.Version != recordVersion || c.Name != "old1" || !c.Named() || c.Hostname != "hh" || c.Cwd != "/tmp" || c.User != "1000:1000" ||
		len(c.Mounts) != 3 || c.Mounts[2].Type != "volume" || !reflect.DeepEqual(c.Env, []string{defaultPath, "A=1", "HOSTNAME=hh"}) {
		t.Errorf("record: %+v", c)
	}
	if !c.NoNewPrivileges() || !reflect.DeepEqual(c.SecurityOpt(), []string{"no-new-privileges"}) || c.SeccompProfile().Mode != security.SeccompBuiltin {
		t.Errorf("security: %+v", c.Security)
	}
	// Written back: version 2, no Options object; read back the same.
	if err := r.Save(c); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r.dir(c.ID) + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"Options": {`) || !strings.Contains(string(b), `"Version": 2`) {
		t.Errorf("rewritten record:\n%s", b)
	}
	again, err := r.Get("old1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, c) {
		t.Errorf("read back:\n%+v\nwant\n%+v", again, c)
	}

	// A record without a name or options of note: slirp4netns's defaults, unnamed.
	c = load("record-v1-plain.json")
	if c.Named() || !reflect.DeepEqual(c.Network, slirpNet(t)) || !reflect.DeepEqual(c.Cmd, []string{"true"}) || c.Restart != "no" || c.NoNewPrivileges() {
		t.Errorf("plain record: %+v", c)
	}

	// The oldest records: no NetworkOptions, no Security, NoNewPrivileges in the options.
	var old Config
	if err := decodeRecord([]byte(`{"Id":"`+testID+`","Name":"x","Args":["true"],"Options":{"Name":"x","NetworkMode":"none","NoNewPrivileges":true,"Tty":true}}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.Network.Mode != network.ModeNone || !old.NoNewPrivileges() || !old.TTY || old.Security.Seccomp.Mode != security.SeccompBuiltin {
		t.Errorf("oldest record: %+v, security %+v", old, old.Security)
	}
	// A version-2 record is taken as it is.
	var v2 Config
	if err := decodeRecord([]byte(`{"Version":2,"Id":"`+testID+`","Name":"y","Network":{"Mode":"host"},"Options":{"NetworkMode":"none"}}`), &v2); err != nil {
		t.Fatal(err)
	}
	if v2.Network.Mode != network.ModeHost {
		t.Errorf("version 2 record: network %+v", v2.Network)
	}
}

// Check refuses, before anything is pulled or created, what this host cannot do.
func TestCheck(t *testing.T) {
	m := &Manager{}
	none := network.Config{Mode: network.ModeNone}
	dir := t.TempDir()
	for _, c := range []struct {
		o   Options
		err string
	}{
		{Options{Name: "-bad", Settings: Settings{Network: none}}, `--name "-bad": names are letters`},
		{Options{Settings: Settings{Network: none, Ports: []network.PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}}, "-p/--publish and -P need --network slirp4netns"},
		{Options{Settings: Settings{Network: network.Config{Mode: network.ModeHost}, PublishAll: true}}, "with --network host there is nothing to publish to"},
		{Options{Settings: Settings{Network: none, CapAdd: []string{"NOT_A_CAP"}}}, `--cap-add "NOT_A_CAP": not a capability`},
		{Options{Settings: Settings{Network: none}, Mounts: []MountSpec{{Type: "bind", Source: dir + "/missing", Destination: "/m"}}}, "bind mount source " + dir + "/missing: no such file or directory"},
		{Options{Settings: Settings{}}, "the container's network was not chosen"},
		{Options{Settings: Settings{Network: none, Userns: "auto"}}, `--userns "auto" was not parsed`},
	} {
		if _, err := m.Check(c.o); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.err)
		}
	}
	// keep-id needs a uid inside the namespace's range (yours is never 0 there).
	if _, err := m.Check(Options{Settings: Settings{Network: none, Userns: UsernsKeepID}}); err == nil || !strings.Contains(err.Error(), "--userns=keep-id needs a subordinate id range") {
		t.Errorf("keep-id for uid 0: %v", err)
	}
	r, err := m.Check(Options{Name: "ok", Settings: Settings{Network: none, CapDrop: []string{"ALL"}, CapAdd: []string{"chown"}},
		Mounts: []MountSpec{{Type: "bind", Source: dir, Destination: "/m"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.caps, []string{"CAP_CHOWN"}) {
		t.Errorf("--cap-drop ALL --cap-add chown: %q", r.caps)
	}
}

func TestParseUserns(t *testing.T) {
	for v, want := range map[string]string{"": "", "host": "", "keep-id": UsernsKeepID, "keep-id:uid=1000,gid=1000": "keep-id:uid=1000,gid=1000"} {
		if got, err := ParseUserns(v); err != nil || got != want {
			t.Errorf("%q: %q, %v", v, got, err)
		}
	}
	for v, msg := range map[string]string{"auto": "--userns auto: not supported", "nomap": "--userns nomap: not supported yet",
		"keep-id:uid=0": "leave it out", "keep-id:size=2": "unknown option", "bogus": `--userns "bogus": use keep-id`} {
		if _, err := ParseUserns(v); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", v, err, msg)
		}
	}
	if u, g, err := KeepIDOptions("keep-id:uid=7,gid=8", 1, 2); err != nil || u != 7 || g != 8 {
		t.Errorf("keep-id:uid=7,gid=8: %d %d %v", u, g, err)
	}
}
