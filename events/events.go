// Package events is hutch's event log: with no daemon to publish events, every hutch
// command (and each detached container's monitor) appends what it did to a small log in
// the user's runtime directory, and `hutch events` reads it back and follows it.
//
// The log is two files in one directory: events.log, which commands append to, and
// events.log.1, the previous one. An event is one line of JSON in Docker's shape
// (Message), written with a single write(2) to a file opened O_APPEND, so that lines
// from concurrent writers never interleave; every line is kept shorter than PIPE_BUF.
// When events.log grows past the limit (1 MiB), the writer that noticed renames it to
// events.log.1 (replacing the older one), under an exclusive flock of events.lock;
// appends hold the same lock shared, so that once a file is renamed nobody writes to it
// any more and a follower that drains it has all of it. Nothing is fsynced: the log is
// in the runtime directory (a tmpfs), as fleeting as Docker's in-memory event buffer.
//
// Appending never fails a command: an error is logged at debug level. A process sends
// its events to the log Use installed (engine.Open does, for every command and for the
// monitor); without one they go nowhere, as in unit tests of other packages.
package events

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Types of event objects, as Docker names them.
const (
	TypeContainer = "container"
	TypeImage     = "image"
	TypeVolume    = "volume"
)

// Actions, as Docker names them (Podman's "died" and "remove" are Docker's die and
// destroy). Container: create start die stop kill restart destroy pause unpause
// exec_create exec_start exec_die oom rename attach update health_status; image: pull
// push tag untag delete import save load commit build; volume: create destroy.
const (
	Create       = "create"
	Start        = "start"
	Die          = "die"
	Stop         = "stop"
	Kill         = "kill"
	Restart      = "restart"
	Destroy      = "destroy"
	Pause        = "pause"
	Unpause      = "unpause"
	ExecCreate   = "exec_create"
	ExecStart    = "exec_start"
	ExecDie      = "exec_die"
	OOM          = "oom"
	Rename       = "rename"
	Attach       = "attach"
	Detach       = "detach"
	Update       = "update"
	HealthStatus = "health_status"

	Pull   = "pull"
	Push   = "push"
	Tag    = "tag"
	Untag  = "untag"
	Delete = "delete"
	Import = "import"
	Save   = "save"
	Load   = "load"
	Commit = "commit"
	Build  = "build"
)

// Actor is what an event is about: its ID, and attributes (name, image, exitCode,
// signal, the container's labels …).
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Message is one event, in the shape of Docker's API (and `docker events --format
// json`): Type, Action, Actor, the time in seconds and in nanoseconds, and the
// deprecated status, id and from that Docker still fills for containers and images.
type Message struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// New makes an event stamped with t, filling the deprecated fields as Docker does.
func New(typ, action, id string, attrs map[string]string, t time.Time) Message {
	if attrs == nil {
		attrs = map[string]string{}
	}
	m := Message{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Scope: "local",
		Time: t.Unix(), TimeNano: t.UnixNano()}
	switch typ {
	case TypeContainer:
		m.Status, m.ID, m.From = action, id, attrs["image"]
	case TypeImage:
		m.Status, m.ID = action, id
	}
	return m
}

// When is the event's time.
func (m *Message) When() time.Time {
	if m.TimeNano != 0 {
		return time.Unix(0, m.TimeNano)
	}
	return time.Unix(m.Time, 0)
}

// current is the log this process's events go to (nil: none).
var current atomic.Pointer[Log]

// Use sends this process's events to l (nil: nowhere).
func Use(l *Log) { current.Store(l) }

// Emit appends an event to the log Use installed, stamped now. It never fails: an error
// is logged at debug level.
func Emit(typ, action, id string, attrs map[string]string) {
	l := current.Load()
	if l == nil {
		return
	}
	if err := l.Append(New(typ, action, id, attrs, time.Now())); err != nil {
		logrus.Debugf("event %s %s not recorded: %v", typ, action, err)
	}
}

// Container emits a container event; kv are more attributes, in pairs (exitCode, 0).
// name and image are the container's, labels its labels (which become attributes too,
// as in Docker, without overriding the others).
func Container(action, id, name, image string, labels map[string]string, kv ...string) {
	if current.Load() == nil {
		return
	}
	attrs := make(map[string]string, len(labels)+2+len(kv)/2)
	for k, v := range labels {
		attrs[k] = v
	}
	attrs["name"], attrs["image"] = name, image
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	Emit(TypeContainer, action, id, attrs)
}

// Image emits an image event about the image id (given with or without "sha256:", or a
// reference for pull and push); name is the name it concerns (a tag, the pulled
// reference), or "" for the ID itself.
func Image(action, id, name string) {
	if current.Load() == nil {
		return
	}
	if isHexID(id) {
		id = "sha256:" + id
	}
	if name == "" {
		name = id
	}
	Emit(TypeImage, action, id, map[string]string{"name": name})
}

// Volume emits a volume event (Docker's: the volume's name as the ID, and its driver).
func Volume(action, name, driver string) {
	if current.Load() == nil {
		return
	}
	Emit(TypeVolume, action, name, map[string]string{"driver": driver})
}

func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
