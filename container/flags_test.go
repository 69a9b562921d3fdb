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
