package engine

import (
	"path/filepath"

	"hutch.dev/hutch/events"
)

// EventLog is the user's event log (package events), in the runtime directory: every
// command and every container's monitor appends to it, `hutch events` reads it.
func (h *Host) EventLog() *events.Log {
	return events.At(filepath.Join(h.Paths.RuntimeDir, "events"))
}

// Events is the user's event log, for `hutch events`.
func (s *Session) Events() *events.Log { return s.Host.EventLog() }
