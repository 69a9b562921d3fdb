package cgroupvm

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// wantChecks are the checks the VM must never lose, per session (the TestMain of ./guest
// picks a session's checks by prefix). Every other TestVM* and TestPartial* in ./guest
// must run and pass too.
var wantChecks = map[string][]string{
	"full": {
		"TestVMSetup",
		"TestVMLoadImage",
		"TestVMRunEcho",
		"TestVMMemoryOOMKilled",
		"TestVMMemorySwap",
		"TestVMPidsLimit",
		"TestVMCPUQuota",
		"TestVMStats",
		"TestVMUpdate",
		"TestVMPauseUnpause",
		"TestVMIOAndOtherLimits",
		"TestVMBuildOOM",
		"TestVMCgroupsRemoved",
	},
	"partial": {
		"TestPartialSetup",
		"TestPartialNotDelegated",
	},
}

var sessions = []string{"full", "partial"}

// guestChecks lists, per session, the checks defined in the guest's source files.
func guestChecks(dir string) (map[string][]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no guest checks in %s (%w)", dir, err)
	}
	decl := regexp.MustCompile(`(?m)^func (Test(VM|Partial)\w*)\(t \*testing\.T\)`)
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			sess := map[string]string{"VM": "full", "Partial": "partial"}[m[2]]
			out[sess] = append(out[sess], m[1])
		}
	}
	return out, nil
}

// checkResult is one top-level guest check as `go test -v` reported it.
type checkResult struct {
	status string // PASS, FAIL or SKIP
	output string // its lines, from === RUN to the result
}

var resultLine = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\w+) `)

// parseResults reads the guest's `-test.v` output, split into sessions by cgvm.sh's
// CGVM-SESSION=NAME lines, into "session/TestName" → result.
func parseResults(out string) map[string]checkResult {
	res := map[string]checkResult{}
	sess := ""
	var block []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if s, found := strings.CutPrefix(line, "CGVM-SESSION="); found {
			sess, block = s, nil
			continue
		}
		if strings.HasPrefix(line, "=== RUN ") && !strings.Contains(line, "/") {
			block = nil
		}
		block = append(block, line)
		if m := resultLine.FindStringSubmatch(line); m != nil && sess != "" {
			res[sess+"/"+m[2]] = checkResult{status: m[1], output: strings.Join(block, "\n")}
			block = nil
		}
	}
	return res
}

// verdicts lists what is wrong with a VM run: every wanted or defined check (of the full
// session: only those matching only, when given) must have passed.
func verdicts(results map[string]checkResult, inSource map[string][]string, only *regexp.Regexp) []string {
	var problems []string
	for _, sess := range sessions {
		want := slices.Clone(wantChecks[sess])
		for _, name := range inSource[sess] {
			if !slices.Contains(want, name) {
				want = append(want, name)
			}
		}
		for _, name := range want {
			if !slices.Contains(inSource[sess], name) {
				problems = append(problems, fmt.Sprintf("%s session: check %s is required but no longer defined in ./guest", sess, name))
				continue
			}
			if only != nil && sess == "full" && !only.MatchString(name) {
				continue
			}
			r, found := results[sess+"/"+name]
			switch {
			case !found:
				problems = append(problems, fmt.Sprintf("%s session: check %s did not run (did the guest crash or time out? see the output above)", sess, name))
			case r.status != "PASS":
				problems = append(problems, fmt.Sprintf("%s session: check %s: %s\n%s", sess, name, r.status, r.output))
			}
		}
	}
	return problems
}
