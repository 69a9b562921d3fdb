package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadUnknownKeyNamesFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "x.toml", "# comment\n[storage]\ndrvier = \"vfs\"\n")
	_, _, err := Load(p)
	if err == nil {
		t.Fatal("Load accepted an unknown key")
	}
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error is %T, want *config.Error: %v", err, err)
	}
	want := p + `:3: unknown key "storage.drvier"`
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	if !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("error %q does not start with \"config: \"", err)
	}
}

func TestLoadSeveralUnknownKeysAllReported(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "x.toml", "[storage]\ndriver = \"vfs\"\ngrafroot = \"/x\"\n[engine]\nloglevel = \"info\"\n")
	_, _, err := Load(p)
	if err == nil {
		t.Fatal("Load accepted unknown keys")
	}
	for _, want := range []string{p + `:3: unknown key "storage.grafroot"`, p + `:5: unknown key "engine.loglevel"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestLoadUnknownTable(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "x.toml", "[storage]\ndriver = \"vfs\"\n\n[network]\nmode = \"x\"\n")
	_, _, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p+":") || !strings.Contains(err.Error(), "network") {
		t.Fatalf("unknown table: error = %v, want one naming %s and the key network", err, p)
	}
}

func TestLoadSyntaxErrorHasLineAndColumn(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "bad.toml", "[storage]\ndriver = \"vfs\"\ngraphroot = \n")
	_, _, err := Load(p)
	if err == nil {
		t.Fatal("Load accepted a syntax error")
	}
	re := regexp.MustCompile(regexp.QuoteMeta(p) + `:3:\d+: `)
	if !re.MatchString(err.Error()) {
		t.Fatalf("error %q does not have the form %s:3:COL: …", err, p)
	}
}

func TestLoadTypeErrorNamesKey(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "bad.toml", "[storage]\ndriver = 3\n")
	_, _, err := Load(p)
	if err == nil {
		t.Fatal("Load accepted an integer driver")
	}
	if !strings.Contains(err.Error(), p+":2:") {
		t.Fatalf("error %q does not name %s:2", err, p)
	}
}

func TestLoadRefusesBadDriverAndLogLevel(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"[storage]\ndriver = \"btrfs\"\n", `driver = "btrfs" is not a driver hutch knows`},
		{"[storage]\ndriver = \"OVERLAY\"\n", `driver = "OVERLAY"`},
		{"[engine]\nlog_level = \"loud\"\n", `log_level = "loud"`},
	} {
		p := writeFile(t, dir, "c.toml", tc.content)
		cfg, _, err := Load(p)
		if err == nil {
			t.Errorf("%q: accepted (%+v)", tc.content, cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q does not contain %q", tc.content, err, tc.want)
		}
	}
}

func TestLoadAcceptsKnownValues(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"", "overlay", "fuse-overlayfs", "vfs"} {
		for _, l := range []string{"", "debug", "info", "warn", "warning", "error", "DEBUG"} {
			p := writeFile(t, dir, "c.toml", "[storage]\ndriver = \""+d+"\"\n[engine]\nlog_level = \""+l+"\"\n")
			cfg, _, err := Load(p)
			if err != nil {
				t.Errorf("driver %q log_level %q: %v", d, l, err)
				continue
			}
			if cfg.Storage.Driver != d || cfg.Engine.LogLevel != l {
				t.Errorf("driver %q log_level %q: got %+v", d, l, cfg)
			}
		}
	}
}

func TestLoadLayersKeyByKey(t *testing.T) {
	dir := t.TempDir()
	sys := writeFile(t, dir, "system.toml", "[storage]\ndriver = \"vfs\"\ngraphroot = \"/srv/hutch\"\nmount_program = \"/opt/fuse-overlayfs\"\n[engine]\nlog_level = \"debug\"\n")
	usr := writeFile(t, dir, "user.toml", "[storage]\ngraphroot = \"/home/u/store\"\n")
	cfg, srcs, err := Load(sys, usr)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Storage: StorageConfig{Driver: "vfs", GraphRoot: "/home/u/store", MountProgram: "/opt/fuse-overlayfs"},
		Engine:  EngineConfig{LogLevel: "debug"},
	}
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("merged config = %+v, want %+v", *cfg, want)
	}
	if len(srcs) != 2 || srcs[0] != (Source{sys, true}) || srcs[1] != (Source{usr, true}) {
		t.Errorf("sources = %+v", srcs)
	}

	// The other order: the system file now overrides what it sets.
	cfg, _, err = Load(usr, sys)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.GraphRoot != "/srv/hutch" || cfg.Storage.Driver != "vfs" {
		t.Errorf("reversed merge = %+v", cfg)
	}
}

func TestLoadSecondFileCanOverrideWithEmpty(t *testing.T) {
	dir := t.TempDir()
	sys := writeFile(t, dir, "system.toml", "[storage]\ndriver = \"vfs\"\n")
	usr := writeFile(t, dir, "user.toml", "[storage]\ndriver = \"\"\n")
	cfg, _, err := Load(sys, usr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Driver != "" {
		t.Errorf("driver = %q, want the user's explicit \"\"", cfg.Storage.Driver)
	}
}

func TestLoadMissingFilesAreFine(t *testing.T) {
	dir := t.TempDir()
	missing1 := filepath.Join(dir, "nope.toml")
	missing2 := filepath.Join(dir, "sub", "none.toml")
	present := writeFile(t, dir, "c.toml", "[engine]\nlog_level = \"warn\"\n")
	cfg, srcs, err := Load(missing1, present, missing2)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Engine.LogLevel != "warn" {
		t.Errorf("log level = %q", cfg.Engine.LogLevel)
	}
	want := []Source{{missing1, false}, {present, true}, {missing2, false}}
	if len(srcs) != len(want) {
		t.Fatalf("sources = %+v, want %+v", srcs, want)
	}
	for i := range want {
		if srcs[i] != want[i] {
			t.Errorf("source %d = %+v, want %+v", i, srcs[i], want[i])
		}
	}

	cfg, srcs, err = Load(missing1)
	if err != nil || cfg == nil || !reflect.DeepEqual(*cfg, Config{}) || len(srcs) != 1 || srcs[0].Found {
		t.Errorf("only a missing file: cfg=%+v srcs=%+v err=%v", cfg, srcs, err)
	}
}

func TestLoadUnreadableFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	// A directory where a file is expected cannot be read: that is an error, not "missing".
	p := filepath.Join(dir, "config.toml")
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "config file "+p+": is a directory, not a regular file") {
		t.Fatalf("err = %v, want a reading error naming the file", err)
	}
}

// TestLoadRefusesDevicesAndHugeFiles: a config.toml that is a symlink to /dev/zero, or
// larger than 1 MiB, is refused naming the file, not read until memory runs out.
func TestLoadRefusesDevicesAndHugeFiles(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.toml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(zero)
	if err == nil || !strings.Contains(err.Error(), zero) || !strings.Contains(err.Error(), "a character device") {
		t.Fatalf("err = %v, want /dev/zero refused naming %s", err, zero)
	}
	big := writeFile(t, dir, "big.toml", "# "+strings.Repeat("x", 1<<20)+"\n")
	_, _, err = Load(big)
	if err == nil || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("err = %v, want a file over 1 MiB refused naming %s", err, big)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "empty.toml", "")
	cfg, srcs, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*cfg, Config{}) || len(srcs) != 1 || !srcs[0].Found {
		t.Errorf("cfg=%+v srcs=%+v", cfg, srcs)
	}
}

func TestLoadNetworkTable(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.toml", "[network]\ndefault = \"none\"\nallow_host_loopback = true\nmtu = 1500\nenable_ipv6 = true\nslirp4netns_path = \"/opt/bin/slirp4netns\"\n")
	cfg, _, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := NetworkConfig{Default: "none", AllowHostLoopback: true, MTU: 1500, EnableIPv6: true, Slirp4netnsPath: "/opt/bin/slirp4netns"}
	if cfg.Network != want {
		t.Fatalf("got %+v, want %+v", cfg.Network, want)
	}
	for _, tc := range []struct{ content, want string }{
		{"[network]\ndefault = \"bridge0\"\n", `[network] default = "bridge0"`},
		{"[network]\nmtu = 70000\n", `[network] mtu = 70000`},
		{"[network]\nslirp4netns_path = \"bin/slirp4netns\"\n", `must be an absolute path`},
		{"[network]\nallow_host_loopbak = true\n", `unknown key "network.allow_host_loopbak"`},
	} {
		p := writeFile(t, dir, "c.toml", tc.content)
		if _, _, err := Load(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v does not contain %q", tc.content, err, tc.want)
		}
	}
}
