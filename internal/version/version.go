// Package version is hutch's version and where it was built from. hack/build.sh stamps
// the variables below with -ldflags "-X hutch.dev/hutch/internal/version.NAME=…"; a
// binary built without it (a plain go build or go install) falls back to the commit the
// Go toolchain recorded (debug.ReadBuildInfo's vcs.revision and vcs.modified).
package version

import (
	"runtime"
	"runtime/debug"
	"sync"
)

var (
	// Version is the release, or "X.Y.Z-dev" for a build between releases.
	Version = "0.1.0-dev"
	// GitCommit is the commit the binary was built from (the full hash), "" if unknown.
	GitCommit = ""
	// GitTreeState is "clean" or "dirty" (the work tree had changes), "" if unknown.
	GitTreeState = ""
	// BuildTime is when the binary was built (RFC 3339, UTC) — stamped only from
	// SOURCE_DATE_EPOCH, so that a build is reproducible; "" otherwise.
	BuildTime = ""
)

// Info is what `hutch version` shows, with Docker's field names.
type Info struct {
	Version      string
	GitCommit    string
	GitTreeState string `json:",omitempty"`
	GoVersion    string
	Os           string
	Arch         string
	OsArch       string
	BuildTime    string `json:",omitempty"`
}

// Get returns the version information of this binary.
var Get = sync.OnceValue(func() Info {
	return get(GitCommit, GitTreeState, readBuildInfo)
})

func readBuildInfo() (*debug.BuildInfo, bool) { return debug.ReadBuildInfo() }

func get(commit, state string, buildInfo func() (*debug.BuildInfo, bool)) Info {
	in := Info{
		Version: Version, GitCommit: commit, GitTreeState: state, GoVersion: runtime.Version(),
		Os: runtime.GOOS, Arch: runtime.GOARCH, OsArch: runtime.GOOS + "/" + runtime.GOARCH,
		BuildTime: BuildTime,
	}
	if in.GitCommit == "" {
		if bi, ok := buildInfo(); ok {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					in.GitCommit = s.Value
				case "vcs.modified":
					in.GitTreeState = map[string]string{"true": "dirty", "false": "clean"}[s.Value]
				}
			}
		}
	}
	if in.GitCommit == "" {
		in.GitTreeState = ""
	}
	return in
}

// Commit is the commit as one word for a line of text: the hash, "HASH-dirty" when the
// tree had changes, or "unknown".
func (in Info) Commit() string {
	switch {
	case in.GitCommit == "":
		return "unknown"
	case in.GitTreeState == "dirty":
		return in.GitCommit + "-dirty"
	}
	return in.GitCommit
}
