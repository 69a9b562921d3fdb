package container

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	cstorage "go.podman.io/storage"
)

// A store entry's creator is alive while the process that made it runs (the same PID
// and start time), and gone once it ended or its PID is another process's; an entry
// without a creator record (an older hutch's) counts as being created for a minute.
func TestCreatorAlive(t *testing.T) {
	mine := &cstorage.Container{Metadata: creatorMetadata(), Created: time.Now()}
	if !creatorAlive(mine) {
		t.Fatalf("this process does not count as alive: %s", mine.Metadata)
	}
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(creator{PID: cmd.Process.Pid, Start: 1})
	if creatorAlive(&cstorage.Container{Metadata: string(b)}) {
		t.Fatal("an ended process counts as alive")
	}
	var cr creator
	if err := json.Unmarshal([]byte(mine.Metadata), &cr); err != nil {
		t.Fatal(err)
	}
	cr.Start++ // the same PID, started at another time: a reused PID
	b, _ = json.Marshal(cr)
	if creatorAlive(&cstorage.Container{Metadata: string(b)}) {
		t.Fatal("a reused PID counts as the creator")
	}
	if !creatorAlive(&cstorage.Container{Created: time.Now()}) || creatorAlive(&cstorage.Container{Created: time.Now().Add(-2 * orphanGrace)}) {
		t.Fatal("an entry without a creator record")
	}
}

// The owner of a container's last run is busy while that process lives (and is the
// same process: one started after the run is a reused PID), whatever the status.
func TestOwnerBusy(t *testing.T) {
	me := &State{Status: StatusExited, MonitorPid: os.Getpid(), StartedAt: time.Now()}
	if !OwnerBusy(me) {
		t.Fatal("this process, which started before the run, is not busy")
	}
	if OwnerBusy(&State{Status: StatusExited, MonitorPid: os.Getpid(), StartedAt: time.Now().Add(-24 * time.Hour)}) {
		t.Fatal("a process started after the run (a reused PID) counts as its owner")
	}
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if OwnerBusy(&State{MonitorPid: cmd.Process.Pid, StartedAt: time.Now()}) || OwnerBusy(&State{}) {
		t.Fatal("an ended process, or none, counts as busy")
	}
}
