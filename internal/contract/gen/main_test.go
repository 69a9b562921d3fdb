package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestContractGoMatchesHeader is the contract check: the committed contract.go is
// exactly what contract.h generates, so C and Go spell every name the same way.
func TestContractGoMatchesHeader(t *testing.T) {
	h, err := os.ReadFile("../contract.h")
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../contract.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("internal/contract/contract.go is stale: run `go generate ./internal/contract` (it differs from what contract.h gives)")
	}
}

func TestGoName(t *testing.T) {
	for c, want := range map[string]string{"NSENTER_PID": "NsenterPID", "CM_ID": "CmID", "NET_PIDS": "NetPIDs",
		"CM_NETFD": "CmNetFD", "USERNS_STATE": "UsernsState", "PREFIX": "Prefix"} {
		if got := goName(c); got != want {
			t.Errorf("goName(%s) = %s, want %s", c, got, want)
		}
	}
}

// TestGenerateRefuses: what the generator does not accept, it names with the line.
func TestGenerateRefuses(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"#define HUTCH_ENV_A \"x\"\n", "needs a comment"},
		{"// Other is wrong.\n#define HUTCH_ENV_A \"x\"\n", "starts with \"A\""},
		{"// A one.\n#define HUTCH_ENV_A \"x\"\n// B two.\n#define HUTCH_ENV_B \"x\"\n", "declared twice"},
		{"// A one.\n#define HUTCH_ENV_A x\n", "contract.h:2"},
		{"// nothing\n", "declares no"},
	} {
		_, err := generate([]byte(c.header))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("generate(%q) = %v, want an error with %q", c.header, err, c.want)
		}
	}
}
