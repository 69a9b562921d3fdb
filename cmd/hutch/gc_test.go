package main

import (
	"os"
	"runtime/debug"
	"testing"
	"time"
)

func TestRelaxStartupGC(t *testing.T) {
	t.Setenv("GOGC", "") // set: the user's choice is kept
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	relaxStartupGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set, the GC percent became %d, want it left at 100", got)
	}
}

func TestRelaxStartupGCWindow(t *testing.T) {
	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	relaxStartupGC()
	if got := debug.SetGCPercent(startupGCPercent); got != startupGCPercent {
		t.Fatalf("at start-up the GC percent is %d, want %d", got, startupGCPercent)
	}
	deadline := time.Now().Add(startupGCWindow + 2*time.Second)
	for {
		got := debug.SetGCPercent(-1)
		debug.SetGCPercent(got)
		if got == 100 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the start-up window the GC percent is still %d, want 100 back", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
