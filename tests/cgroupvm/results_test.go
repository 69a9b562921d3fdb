package cgroupvm

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// These run without the VM (no build tag): they keep the host side of the VM tests
// honest, so that a check cannot go missing or pass unseen.

const sampleOutput = `cgvm-guest: kernel 6.1.0-56-cloud-amd64
CGVM-SESSION=full
=== RUN   TestVMSetup
--- PASS: TestVMSetup (2.48s)
=== RUN   TestVMMemoryOOMKilled
    limits_test.go:99: exit 0, want 137
--- FAIL: TestVMMemoryOOMKilled (3.12s)
FAIL
CGVM-SESSION=partial
=== RUN   TestPartialSetup
--- PASS: TestPartialSetup (1.42s)
PASS
`

func TestParseResults(t *testing.T) {
	res := parseResults(sampleOutput)
	if len(res) != 3 {
		t.Fatalf("parsed %d results, want 3: %v", len(res), res)
	}
	if r := res["full/TestVMSetup"]; r.status != "PASS" {
		t.Errorf("full/TestVMSetup = %+v, want PASS", r)
	}
	r := res["full/TestVMMemoryOOMKilled"]
	if r.status != "FAIL" || !strings.Contains(r.output, "want 137") || strings.Contains(r.output, "TestVMSetup") {
		t.Errorf("full/TestVMMemoryOOMKilled = %+v, want FAIL with its own output only", r)
	}
	if r := res["partial/TestPartialSetup"]; r.status != "PASS" {
		t.Errorf("partial/TestPartialSetup = %+v, want PASS", r)
	}
	if _, found := res["full/TestPartialSetup"]; found {
		t.Errorf("a partial-session result was filed under the full session")
	}
}

func TestVerdicts(t *testing.T) {
	inSource := map[string][]string{}
	for sess, names := range wantChecks {
		inSource[sess] = append(slices.Clone(names), "TestExtra"+sess)
	}
	allPass := map[string]checkResult{}
	for sess, names := range inSource {
		for _, n := range names {
			allPass[sess+"/"+n] = checkResult{status: "PASS"}
		}
	}
	if p := verdicts(allPass, inSource, nil); len(p) != 0 {
		t.Errorf("all passed, but verdicts found %v", p)
	}

	missing := maps.Clone(allPass)
	delete(missing, "full/TestExtrafull") // defined in the source, never ran
	missing["partial/TestPartialNotDelegated"] = checkResult{status: "FAIL", output: "exit 0, want 125"}
	p := verdicts(missing, inSource, nil)
	if len(p) != 2 || !strings.Contains(strings.Join(p, "\n"), "TestExtrafull did not run") ||
		!strings.Contains(strings.Join(p, "\n"), "exit 0, want 125") {
		t.Errorf("verdicts of a run with a missing and a failed check: %q", p)
	}

	// A required check deleted from the source is a failure, not a shorter list.
	shrunk := map[string][]string{"full": slices.DeleteFunc(slices.Clone(inSource["full"]), func(n string) bool { return n == "TestVMPidsLimit" }),
		"partial": inSource["partial"]}
	if p := verdicts(allPass, shrunk, nil); len(p) != 1 || !strings.Contains(p[0], "TestVMPidsLimit is required") {
		t.Errorf("verdicts with TestVMPidsLimit gone from the source: %q", p)
	}

	// CGVM_CHECKS narrows the full session only.
	only := regexp.MustCompile("Memory")
	sub := map[string]checkResult{"full/TestVMMemoryOOMKilled": {status: "PASS"}, "full/TestVMMemorySwap": {status: "PASS"}}
	for _, n := range inSource["partial"] {
		sub["partial/"+n] = checkResult{status: "PASS"}
	}
	if p := verdicts(sub, inSource, only); len(p) != 0 {
		t.Errorf("verdicts of a CGVM_CHECKS=Memory run: %q", p)
	}
}

// TestGuestDefinesRequiredChecks: the guest's source still has every required check.
func TestGuestDefinesRequiredChecks(t *testing.T) {
	inSource, err := guestChecks("guest")
	if err != nil {
		t.Fatal(err)
	}
	for sess, names := range wantChecks {
		for _, n := range names {
			if !slices.Contains(inSource[sess], n) {
				t.Errorf("%s session: the required check %s is not defined in ./guest", sess, n)
			}
		}
	}
}
