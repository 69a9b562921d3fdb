package main

import (
	"os"
	"runtime/debug"
	"time"
)

// Most hutch commands live a few milliseconds, and the start-up (package inits, opening
// the store, reading images.json) crosses the collector's first 4 MiB heap goal: a
// collection in the middle of a fully cached `hutch build` costs about 1 ms. For its
// first startupGCWindow a hutch process collects at GOGC=startupGCPercent (first
// collection at 16 MiB), then goes back to the default, so a long-lived process
// (a pull, a monitor) keeps the usual heap. GOGC set by the user wins.
const (
	startupGCPercent = 400
	startupGCWindow  = 100 * time.Millisecond
)

func relaxStartupGC() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	old := debug.SetGCPercent(startupGCPercent)
	time.AfterFunc(startupGCWindow, func() { debug.SetGCPercent(old) })
}
