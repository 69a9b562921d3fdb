package tests

// A secret given to a RUN step is never written to the disk: a build killed outright
// (SIGKILL) while the step runs leaves no copy of it in the user's storage.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBuildSecretKilled(t *testing.T) {
	t.Parallel()
	sb := bdSandbox(t)
	const secret = "killed-build-s3cret-91ac"
	secretFile := sb.path("work", "token.txt")
	sb.writeUserFile(secretFile, secret)
	ctx := bdCtx(t, sb, "ctx", map[string]string{
		"Dockerfile": "FROM " + bdBase + "\n" +
			"RUN --mount=type=secret,id=tok " + bdMarker("SECRET") + " && sleep 30\n",
	})
	b := sb.startRun(runOpts{}, "build", "--secret", "id=tok,src="+secretFile, ctx)
	bdWaitAny(b, bdRan("SECRET"), time.Minute)
	b.signal(syscall.SIGKILL)
	if r := b.wait(); r.code == 0 {
		t.Fatalf("a killed build succeeded:\n%s", r)
	}
	lcAssertNoProcsNoMounts(t, sb, "a build killed in a RUN with a secret")
	var found []string
	if err := filepath.Walk(sb.path("data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() < 1<<20 {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), secret) {
				found = append(found, p)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Fatalf("the killed build left the secret on disk: %s", strings.Join(found, ", "))
	}
}
