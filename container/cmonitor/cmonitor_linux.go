// Package cmonitor is the long-lived C half of a detached container's monitor
// (monitor.c). The Go half (container/monitor_linux.go) mounts the container's root and
// starts its init, then executes hutch again with contract.Cmonitor set and the
// descriptors named in contract.h; monitor.c's constructor takes over before the Go
// runtime starts, so that the process that waits for the container costs about as much
// memory as a small C program (about 1.7 MB RSS), not a Go one. Package container
// imports this one for its side effect.
package cmonitor

// #cgo CFLAGS: -Wall -I${SRCDIR}/../../internal/contract
import "C"
