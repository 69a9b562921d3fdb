package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func buildInfo(settings ...string) func() (*debug.BuildInfo, bool) {
	return func() (*debug.BuildInfo, bool) {
		bi := &debug.BuildInfo{}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi, true
	}
}

func TestStampedWins(t *testing.T) {
	in := get("abc", "clean", buildInfo("vcs.revision", "def", "vcs.modified", "true"))
	if in.GitCommit != "abc" || in.GitTreeState != "clean" || in.Commit() != "abc" {
		t.Fatalf("stamped commit not used: %+v", in)
	}
	if in.GoVersion != runtime.Version() || in.OsArch != runtime.GOOS+"/"+runtime.GOARCH {
		t.Fatalf("go version or platform wrong: %+v", in)
	}
}

func TestFallbackToBuildInfo(t *testing.T) {
	in := get("", "", buildInfo("vcs", "git", "vcs.revision", "def", "vcs.modified", "true"))
	if in.GitCommit != "def" || in.GitTreeState != "dirty" || in.Commit() != "def-dirty" {
		t.Fatalf("build info's vcs settings not used: %+v", in)
	}
	in = get("", "", buildInfo("vcs.revision", "def", "vcs.modified", "false"))
	if in.GitTreeState != "clean" {
		t.Fatalf("vcs.modified=false: %+v", in)
	}
}

func TestUnknown(t *testing.T) {
	in := get("", "", buildInfo("-buildvcs", "false"))
	if in.GitCommit != "" || in.GitTreeState != "" || in.Commit() != "unknown" {
		t.Fatalf("no commit anywhere: %+v", in)
	}
	in = get("", "dirty", func() (*debug.BuildInfo, bool) { return nil, false })
	if in.GitTreeState != "" {
		t.Fatalf("a tree state without a commit: %+v", in)
	}
}
