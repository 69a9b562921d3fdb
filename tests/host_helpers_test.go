package tests

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// runWithBinds runs hutch as the sandbox's user in a mount namespace of its own where
// each binds[i][0] (a file or directory of the test) is bind-mounted over binds[i][1]
// (a host path such as /tmp or /etc/subuid): the attack's host, without touching the
// machine's. Root makes the namespace and the mounts, then becomes the user (setpriv).
func (sb *sandbox) runWithBinds(t *testing.T, binds [][2]string, args ...string) result {
	t.Helper()
	script := `n=$1; shift; i=0; while [ $i -lt $n ]; do mount --bind "$1" "$2" || exit 125; shift 2; i=$((i+1)); done; ` +
		`u=$1 g=$2; shift 2; exec setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@"`
	argv := []string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", strconv.Itoa(len(binds))}
	for _, b := range binds {
		argv = append(argv, b[0], b[1])
	}
	argv = append(argv, strconv.Itoa(sb.user.uid), strconv.Itoa(sb.user.gid), hutchBin)
	cmd := sb.command(runOpts{bin: "/usr/bin/unshare"}, append(argv, args...)...)
	cmd.SysProcAttr.Credential = nil
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}
