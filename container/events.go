package container

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"

	"hutch.dev/hutch/events"
)

// Emit records an event about the container in the user's event log (package events):
// Docker's attributes (its name, its image, its labels) and kv, more attributes in
// pairs. `commit` is one (Docker's is a container event):
// ct.Emit(events.Commit, "imageID", id, "imageRef", ref, "comment", msg).
func (c *Config) Emit(action string, kv ...string) {
	events.Container(action, c.ID, c.Name, c.ImageName, c.Options.Labels, kv...)
}

// died records the container's end, read before its cgroup goes: oom when the OOM
// killer killed in it, then die with the exit code.
func (c *Config) died(st *State, code int) {
	noteExit(st)
	if st.OOMKilled {
		c.Emit(events.OOM)
	}
	c.Emit(events.Die, "exitCode", strconv.Itoa(code))
}

// newExecID names one exec in its events, as Docker's exec IDs do.
func newExecID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
