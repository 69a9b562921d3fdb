// Package version is hutch's version, set at build time with
// -ldflags "-X hutch.dev/hutch/internal/version.Version=…".
package version

// Version is the release, or "dev" for a build from a work tree.
var Version = "0.1.0-dev"
