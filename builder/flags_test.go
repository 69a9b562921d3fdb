package builder

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBuildFlags(t *testing.T) {
	env := map[string]string{"FROMENV": "e"}
	got := ParseBuildArgs([]string{"A=1", "B=", "FROMENV", "UNSET"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if want := map[string]string{"A": "1", "B": "", "FROMENV": "e"}; !reflect.DeepEqual(got, want) {
		t.Errorf("build args %v", got)
	}
	if l, err := ParseLabels([]string{"a=1", "b"}); err != nil || !reflect.DeepEqual(l, map[string]string{"a": "1", "b": ""}) {
		t.Errorf("labels %v, %v", l, err)
	}
	if _, err := ParseLabels([]string{"=x"}); err == nil || !strings.Contains(err.Error(), `--label "=x": use KEY=VALUE`) {
		t.Errorf("a label without a key: %v", err)
	}

	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	if err := os.WriteFile(tok, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ParseSecrets([]string{"id=tok,src=" + tok, "type=file,id=b,source=" + tok})
	if err != nil || s["tok"] != tok || s["b"] != tok {
		t.Errorf("secrets %v, %v", s, err)
	}
	for v, msg := range map[string]string{
		"src=" + tok:              "use id=ID,src=FILE",
		"id=x,type=env":           "only file secrets",
		"id=x,src=" + dir + "/no": "--secret id=x: stat " + dir + "/no: no such file",
		"id=x,mode=0400":          "use id=ID,src=FILE",
	} {
		if _, err := ParseSecrets([]string{v}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("--secret %s: %v, want %q", v, err, msg)
		}
	}

	if ts, err := ParseTimestamp(0, true, "99"); err != nil || !ts.Equal(time.Unix(0, 0)) {
		t.Errorf("--timestamp 0 (over SOURCE_DATE_EPOCH): %v, %v", ts, err)
	}
	if ts, err := ParseTimestamp(0, false, "99"); err != nil || !ts.Equal(time.Unix(99, 0)) {
		t.Errorf("SOURCE_DATE_EPOCH=99: %v, %v", ts, err)
	}
	if ts, err := ParseTimestamp(0, false, ""); err != nil || ts != nil {
		t.Errorf("neither: %v, %v", ts, err)
	}
	if _, err := ParseTimestamp(-1, true, ""); err == nil {
		t.Error("--timestamp -1 accepted")
	}
	if _, err := ParseTimestamp(0, false, "yesterday"); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("a bad SOURCE_DATE_EPOCH: %v", err)
	}

	if d, err := ContextDir(dir); err != nil || d != dir {
		t.Errorf("context %s: %s, %v", dir, d, err)
	}
	for _, arg := range []string{"https://example.org/repo.git", "git@example.org:repo", tok, dir + "/no"} {
		if _, err := ContextDir(arg); err == nil {
			t.Errorf("context %s accepted", arg)
		}
	}
}

func TestParseOutput(t *testing.T) {
	for v, want := range map[string]Output{
		"out":                    {OutputLocal, "out"},
		"-":                      {OutputTar, "-"},
		"type=local,dest=a/b":    {OutputLocal, "a/b"},
		"type=tar,dest=x.tar":    {OutputTar, "x.tar"},
		"dest=-,type=tar":        {OutputTar, "-"},
		"TYPE=local, dest=with=": {OutputLocal, "with="},
	} {
		got, err := ParseOutput(v)
		if err != nil || *got != want {
			t.Errorf("--output %q: %v, %v; want %v", v, got, err, want)
		}
	}
	for v, msg := range map[string]string{
		"":                     "empty",
		"a,b":                  "a directory with a comma",
		"type=local":           "no dest=",
		"dest=x":               "no type=",
		"type=local,dest=-":    "standard output takes a tar",
		"type=oci,dest=x":      "type=oci is not supported",
		"type=zip,dest=x":      `unknown type "zip"`,
		"type=tar,dest=x,z=1":  `unknown key "z"`,
		"type=tar,type=local":  "repeats a key",
		"type=tar,dest=x,junk": `"junk" is not KEY=VALUE`,
	} {
		_, err := ParseOutput(v)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), outputForms) {
			t.Errorf("--output %q: %v; want an error saying %q and the accepted forms", v, err, msg)
		}
	}
}

func TestParseCacheRepos(t *testing.T) {
	got, err := ParseCacheRepos("--cache-from", []string{"127.0.0.1:5000/me/cache", "docker://quay.io/x/y", "app"})
	if want := []string{"127.0.0.1:5000/me/cache", "quay.io/x/y", "docker.io/library/app"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("repositories %v, %v; want %v", got, err, want)
	}
	for v, msg := range map[string]string{
		"type=registry,ref=r/x":                    "BuildKit's type=",
		"r.io/x:latest":                            "without a tag",
		"r.io/x@sha256:" + strings.Repeat("a", 64): "without a tag",
		"localhost/x":                              "localhost/ names are local images",
		"UPPER/x":                                  "--cache-to",
	} {
		if _, err := ParseCacheRepos("--cache-to", []string{v}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("--cache-to %q: %v; want an error saying %q", v, err, msg)
		}
	}
}
