// Package launch starts processes in containers: the one start sequence that a
// container run in the foreground (`run`, `start -a`), a detached container's monitor
// (`run -d`, `start`, restarts) and a build's RUN step follow, and that a healthcheck's
// exec and a pod's member are shaped for:
//
//	caller   makes the cgroup (cgroups.Delegation.Prepare)
//	Begin    clones the init into it, in new namespaces (nsinit.Launch): the init starts
//	         up and waits for its spec while the caller goes on (run creates and mounts
//	         the container meanwhile: Options.Slot, ShareSlots)
//	         [AttachNetwork: slirp4netns and the published ports come up now, in the
//	         background, when the caller has more to do]
//	caller   mounts the root and builds the spec (volumes, /etc files: Etc, the user)
//	Finish   sends the spec, finishes the cgroup's set-up (cgroups.Limited.Started),
//	         attaches the network (unless begun), and releases the init, which executes
//	         the command: Running
//	caller   records the state, waits
//
// A failure at any step undoes the steps before it (the init killed, the cgroup removed,
// the network closed, the slot unmounted); ExitCode gives Docker's status for it (125,
// or the init's own 126 and 127). Exec starts a command in a running container the same
// way: in its cgroup, with the failure mapped alike. The unit tests drive the sequence
// against a fake kernel (start_linux_test.go).
package launch
