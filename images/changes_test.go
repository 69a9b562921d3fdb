package images

import (
	"reflect"
	"strings"
	"testing"
)

func apply(t *testing.T, c *ContainerConfig, changes ...string) {
	t.Helper()
	for _, ch := range changes {
		if err := ApplyChange(c, ch); err != nil {
			t.Fatalf("ApplyChange(%q): %v", ch, err)
		}
	}
}

func TestApplyChangeCmdEntrypoint(t *testing.T) {
	for _, tc := range []struct {
		change  string
		cmd, ep []string
	}{
		{`CMD ["/bin/sh", "-c", "echo hi"]`, []string{"/bin/sh", "-c", "echo hi"}, nil},
		{`CMD echo "hello world" && true`, []string{"/bin/sh", "-c", `echo "hello world" && true`}, nil},
		{`CMD=/bin/sh`, []string{"/bin/sh", "-c", "/bin/sh"}, nil},
		{`cmd ["top"]`, []string{"top"}, nil},
		{`CMD []`, []string{}, nil},
		{`ENTRYPOINT ["/init", "--verbose"]`, nil, []string{"/init", "--verbose"}},
		{`ENTRYPOINT /init --verbose`, nil, []string{"/bin/sh", "-c", "/init --verbose"}},
		{"  ENTRYPOINT\t[\"x\"]  ", nil, []string{"x"}},
	} {
		var c ContainerConfig
		apply(t, &c, tc.change)
		if !reflect.DeepEqual(c.Cmd, tc.cmd) || !reflect.DeepEqual(c.Entrypoint, tc.ep) {
			t.Errorf("%q: Cmd %q Entrypoint %q, want %q %q", tc.change, c.Cmd, c.Entrypoint, tc.cmd, tc.ep)
		}
	}
}

func TestApplyChangeCmdErrors(t *testing.T) {
	for _, ch := range []string{`CMD ["unterminated"`, `CMD [1, 2]`, `CMD`, `CMD   `, `ENTRYPOINT=`} {
		var c ContainerConfig
		err := ApplyChange(&c, ch)
		if err == nil {
			t.Errorf("%q accepted: %+v", ch, c)
			continue
		}
		if !strings.HasPrefix(err.Error(), "--change ") {
			t.Errorf("%q: error %q does not name the --change", ch, err)
		}
	}
}

func TestApplyChangeEnv(t *testing.T) {
	var c ContainerConfig
	apply(t, &c,
		`ENV A=1 B=two`,
		`ENV C="with spaces" D='single quoted' E=x"y z"w`,
		`ENV LEGACY some value here`,
		`ENV=F=eq`,
		`ENV A=override`,
		`ENV EMPTY=`,
		`ENV URL=http://x/?a=b`,
	)
	want := []string{"A=override", "B=two", "C=with spaces", "D=single quoted", "E=xy zw", "LEGACY=some value here", "F=eq", "EMPTY=", "URL=http://x/?a=b"}
	if !reflect.DeepEqual(c.Env, want) {
		t.Errorf("Env = %q\nwant  %q", c.Env, want)
	}
}

func TestApplyChangeEnvKeepsExistingPrefixes(t *testing.T) {
	c := ContainerConfig{Env: []string{"PATH=/bin", "PATHEXT=x"}}
	apply(t, &c, "ENV PATH=/usr/bin:/bin")
	if !reflect.DeepEqual(c.Env, []string{"PATH=/usr/bin:/bin", "PATHEXT=x"}) {
		t.Errorf("Env = %q", c.Env)
	}
	c = ContainerConfig{Env: []string{"PATHEXT=x"}}
	apply(t, &c, "ENV PATH=/bin")
	if !reflect.DeepEqual(c.Env, []string{"PATHEXT=x", "PATH=/bin"}) {
		t.Errorf("setting PATH changed PATHEXT: %q", c.Env)
	}
}

func TestApplyChangeEnvErrors(t *testing.T) {
	for _, ch := range []string{`ENV =x`, `ENV A=1 =2`, `ENV A=1 junk`, `ENV lonely`, `LABEL =v`} {
		var c ContainerConfig
		if err := ApplyChange(&c, ch); err == nil || !strings.Contains(err.Error(), "KEY=VALUE") {
			t.Errorf("%q: %v (env %q)", ch, err, c.Env)
		}
	}
}

func TestApplyChangeLabel(t *testing.T) {
	var c ContainerConfig
	apply(t, &c, `LABEL org.opencontainers.image.title="My image" version=1`, `LABEL maintainer me@example.com`, `LABEL version=2`)
	want := map[string]string{"org.opencontainers.image.title": "My image", "version": "2", "maintainer": "me@example.com"}
	if !reflect.DeepEqual(c.Labels, want) {
		t.Errorf("Labels = %v, want %v", c.Labels, want)
	}
}

func TestApplyChangeWorkdirUser(t *testing.T) {
	var c ContainerConfig
	apply(t, &c, "WORKDIR /srv/app", "USER 1000:1000")
	if c.WorkingDir != "/srv/app" || c.User != "1000:1000" {
		t.Errorf("config = %+v", c)
	}
	apply(t, &c, "WORKDIR=/x", "USER=nobody")
	if c.WorkingDir != "/x" || c.User != "nobody" {
		t.Errorf("config = %+v", c)
	}
	for _, ch := range []string{"WORKDIR srv", "WORKDIR ./x", "WORKDIR=", "WORKDIR=relative"} {
		err := ApplyChange(&c, ch)
		if err == nil || !strings.Contains(err.Error(), "WORKDIR must be an absolute path") {
			t.Errorf("%q: %v", ch, err)
		}
	}
	if c.WorkingDir != "/x" {
		t.Errorf("a refused WORKDIR changed the config to %q", c.WorkingDir)
	}
	if err := ApplyChange(&c, "USER="); err == nil {
		t.Error("an empty USER was accepted")
	}
}

func TestApplyChangeExposeVolumeStopSignal(t *testing.T) {
	var c ContainerConfig
	apply(t, &c, "EXPOSE 80 443/tcp 53/udp", "EXPOSE 8080",
		"VOLUME /data /cache", `VOLUME ["/var/lib/db", "/with space"]`, "STOPSIGNAL SIGINT")
	wantPorts := map[string]struct{}{"80/tcp": {}, "443/tcp": {}, "53/udp": {}, "8080/tcp": {}}
	if !reflect.DeepEqual(c.ExposedPorts, wantPorts) {
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	}
	wantVols := map[string]struct{}{"/data": {}, "/cache": {}, "/var/lib/db": {}, "/with space": {}}
	if !reflect.DeepEqual(c.Volumes, wantVols) {
		t.Errorf("Volumes = %v", c.Volumes)
	}
	if c.StopSignal != "SIGINT" {
		t.Errorf("StopSignal = %q", c.StopSignal)
	}
	if err := ApplyChange(&c, `VOLUME ["/x"`); err == nil || !strings.Contains(err.Error(), "not a JSON array") {
		t.Errorf("bad VOLUME JSON: %v", err)
	}
}

func TestApplyChangeUnknownOrMalformed(t *testing.T) {
	var c ContainerConfig
	for ch, want := range map[string]string{
		"RUN apt-get update":   "hutch import accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR",
		"HEALTHCHECK NONE":     "hutch import accepts",
		"FROM scratch":         "hutch import accepts",
		"":                     "expected INSTRUCTION VALUE",
		"=x":                   "expected INSTRUCTION VALUE",
		"CMDWITHOUTSEPARATION": "expected INSTRUCTION VALUE",
	} {
		err := ApplyChange(&c, ch)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", ch, err, want)
		}
	}
	if !reflect.DeepEqual(c, ContainerConfig{}) {
		t.Errorf("refused changes altered the config: %+v", c)
	}
}

func TestShellWords(t *testing.T) {
	for in, want := range map[string][]string{
		`a b  c`:            {"a", "b", "c"},
		`"a b" c`:           {"a b", "c"},
		`x='1 2' y="3 '4'"`: {"x=1 2", `y=3 '4'`},
		`""`:                {""},
		`  `:                nil,
		`a"b c"d`:           {"ab cd"},
	} {
		if got := shellWords(in); !reflect.DeepEqual(got, want) {
			t.Errorf("shellWords(%q) = %q, want %q", in, got, want)
		}
	}
}
