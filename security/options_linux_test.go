package security

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseForms(t *testing.T) {
	for _, c := range []struct {
		opts []string
		want Options
	}{
		{nil, Options{Seccomp: Seccomp{Mode: SeccompBuiltin}}},
		{[]string{"no-new-privileges"}, Options{Seccomp: Seccomp{Mode: SeccompBuiltin}, NoNewPrivileges: true}},
		{[]string{"no-new-privileges:true", "no-new-privileges=false"}, Options{Seccomp: Seccomp{Mode: SeccompBuiltin}}},
		{[]string{"seccomp=unconfined"}, Options{Seccomp: Seccomp{Mode: SeccompUnconfined}}},
		{[]string{"seccomp:unconfined", "seccomp=builtin"}, Options{Seccomp: Seccomp{Mode: SeccompBuiltin}}},
		{[]string{"mask=/proc/a:/proc/b", "unmask=/proc/keys:ALL", "unmask:/sys/*"}, Options{Seccomp: Seccomp{Mode: SeccompBuiltin},
			Mask: []string{"/proc/a", "/proc/b"}, Unmask: []string{"/proc/keys", "ALL", "/sys/*"}}},
		{[]string{"systempaths=unconfined"}, Options{Seccomp: Seccomp{Mode: SeccompBuiltin}, Unmask: []string{"ALL"}}},
		{[]string{"label=disable", "label:nested", "label=user:u", "label=level:s0:c1,c2"}, Options{Seccomp: Seccomp{Mode: SeccompBuiltin},
			Label: []string{"disable", "nested", "user:u", "level:s0:c1,c2"}}},
		{[]string{"apparmor=unconfined"}, Options{Seccomp: Seccomp{Mode: SeccompBuiltin}, AppArmor: "unconfined"}},
	} {
		got, err := Parse(c.opts)
		if err != nil {
			t.Errorf("%v: %v", c.opts, err)
			continue
		}
		c.want.Raw = c.opts
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%v:\n got %+v\nwant %+v", c.opts, *got, c.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for opt, want := range map[string]string{
		"bogus":                   Accepted,
		"seccomp":                 "needs a value",
		"seccomp=":                "needs a value",
		"no-new-privileges=yes!":  "true or false",
		"mask=":                   "needs paths",
		"mask=relative":           "absolute",
		"unmask=/a/../b":          "clean absolute path",
		"unmask=/proc/[":          "syntax error",
		"label=disabled":          "label takes",
		"apparmor=docker-default": "AppArmor",
		"systempaths=strict":      "unconfined",
		"seccomp=/nonexistent/p":  "/nonexistent/p",
	} {
		_, err := Parse([]string{opt})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--security-opt \""+opt+"\"") {
			t.Errorf("%q: %v, want an error naming the option and %q", opt, err, want)
		}
	}
}

func TestReadProfile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	body := `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]},{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],
	"syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`
	if err := os.WriteFile(good, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadProfile(good)
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != SeccompFile || s.Path != good || s.Content != body || !strings.HasPrefix(s.Digest, "sha256:") || len(s.Digest) != 71 {
		t.Errorf("%+v", s)
	}
	for name, c := range map[string]struct{ body, want string }{
		"syntax": {"{\n\"defaultAction\": 3,\n", "line 3, column 1"},
		"type":   {"{\"defaultAction\": 3}", "line 1"},
		"empty":  {"{}", "no defaultAction"},
		"bad":    {`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["uname"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"op":"SCMP_CMP_EQ"}]}]}`, "argument index 9"},
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadProfile(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want the path and %q", name, err, c.want)
		}
	}
	if _, err := ReadProfile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}
