package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "env")
	if err := os.WriteFile(p, []byte("# comment\nA=1\n  B=two words\nHOSTVAR\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ParseEnvFile(p, func(k string) (string, bool) { return "from-host", k == "HOSTVAR" })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "A=1,B=two words,HOSTVAR=from-host" {
		t.Fatalf("ParseEnvFile = %q", got)
	}
}

// TestParseEnvFileRefusesDevices: an --env-file that is /dev/zero (or a symlink to it)
// is refused naming it, not read until memory runs out.
func TestParseEnvFileRefusesDevices(t *testing.T) {
	link := filepath.Join(t.TempDir(), "env")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/zero", link} {
		_, err := ParseEnvFile(p, nil)
		if err == nil || !strings.Contains(err.Error(), "--env-file: env file "+p+": is a character device") {
			t.Fatalf("ParseEnvFile(%s) = %v", p, err)
		}
	}
}

func TestParseMountVolumeOpt(t *testing.T) {
	m, err := ParseMount(`type=volume,source=v,target=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=1m,uid=1000"`)
	if err != nil {
		t.Fatal(err)
	}
	if m.VolumeOptions["type"] != "tmpfs" || m.VolumeOptions["o"] != "size=1m,uid=1000" || m.VolumeOptions["device"] != "tmpfs" {
		t.Errorf("volume options %v", m.VolumeOptions)
	}
	for v, want := range map[string]string{
		"type=volume,target=/d,volume-opt=type=nfs":        "needs root",
		"type=volume,target=/d,volume-opt=type":            "volume-opt=KEY=VALUE",
		"type=tmpfs,target=/d,volume-opt=type=tmpfs":       "is for type=volume",
		`type=volume,target=/d,"volume-opt=o=size=1m`:      "quoted",
		"type=volume,target=/d,volume-opt=o=size=1m,uid=1": "unknown key \"uid\"",
	} {
		if _, err := ParseMount(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", v, err, want)
		}
	}
}
