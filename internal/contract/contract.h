// The contract between hutch's Go code and its C constructors: the environment variables
// one process hands the next one it executes. This header is the one place they are
// spelled. C includes it; the Go constants in contract.go are generated from it
// (`go generate ./internal/contract`), and a unit test fails when the two disagree.
//
// Each name is a `#define HUTCH_ENV_<NAME> "value"` line; the comment lines just above
// it become its Go doc. Names read only by Go are here too, so that every hand-over
// between hutch processes is listed in one file.
#ifndef HUTCH_CONTRACT_H
#define HUTCH_CONTRACT_H

// Prefix starts every name below; a command that hands the user a shell (hutch unshare)
// removes every variable that starts with it.
#define HUTCH_ENV_PREFIX "_HUTCH_"

// ---- Joining a running process's namespaces (internal/nsenter/nsenter.c) ----

// NsenterPID is the process whose namespaces the constructor joins (through a pidfd).
#define HUTCH_ENV_NSENTER_PID "_HUTCH_NSENTER_PID"
// NsenterFlags are the namespaces to join (CLONE_NEW* flags, as a decimal number).
#define HUTCH_ENV_NSENTER_FLAGS "_HUTCH_NSENTER_FLAGS"
// NsenterFork, "1": fork after joining, so that the child is in the joined pid
// namespace; the parent stays in C as the relay of signals and exit status.
#define HUTCH_ENV_NSENTER_FORK "_HUTCH_NSENTER_FORK"
// NsenterDetach, "1": the relay exits at once instead of waiting for the child.
#define HUTCH_ENV_NSENTER_DETACH "_HUTCH_NSENTER_DETACH"
// NsenterRole is set by the constructor: "joined", or "child" after a fork.
#define HUTCH_ENV_NSENTER_ROLE "_HUTCH_NSENTER_ROLE"
// NsenterError is set by the constructor when the join failed: what failed, and why.
#define HUTCH_ENV_NSENTER_ERROR "_HUTCH_NSENTER_ERROR"

// ---- Entering a new user namespace (internal/nsenter/nsenter.c, userns/) ----

// UsernsNew asks the constructor to unshare a user and a mount namespace.
#define HUTCH_ENV_USERNS_NEW "_HUTCH_USERNS_NEW"
// UsernsReady is the descriptor on which the constructor says it has unshared
// ("1"), or why it could not ("E" and the error).
#define HUTCH_ENV_USERNS_READY "_HUTCH_USERNS_READY"
// UsernsGo is the descriptor on which the parent says the id maps are written ("g").
#define HUTCH_ENV_USERNS_GO "_HUTCH_USERNS_GO"
// UsernsState is the parent's findings about the user namespace (JSON, userns.State);
// read by Go only.
#define HUTCH_ENV_USERNS_STATE "_HUTCH_USERNS"
// Done is the descriptor on which a re-executed hutch reports its exit status (one
// byte) when its work is done; read by Go only.
#define HUTCH_ENV_DONE "_HUTCH_DONE"
// Paths are the paths the plain-user parent resolved and checked, and the store its
// command's global flags chose (JSON: config.Paths, and engine.StoreFlags under
// "store"); read by Go only.
#define HUTCH_ENV_PATHS "_HUTCH_PATHS"
// Request is what the plain-user half of a split command hands to the half inside
// the namespace (JSON: the command's name and its request; engine.Split); read by Go
// only.
#define HUTCH_ENV_REQUEST "_HUTCH_REQUEST"
// Files are the descriptors the plain-user half of a split command hands the half
// inside (a comma-separated list of descriptor numbers, in the order handed: cp's
// handle on the user's "/", opened in the user's own mount namespace); read by Go only.
#define HUTCH_ENV_FILES "_HUTCH_FILES"

// ---- The kept user namespace (internal/nsenter/kept.c, userns/kept_linux.go) ----

// KeptJoin asks the constructor to join the kept user namespace whatever the command
// line (the inside half of a split command, or a command whose constructor did not
// join): its value is the descriptor on which the constructor says it joined ("1"), or
// why it could not ("E" and the reason; the process then exits with 125).
#define HUTCH_ENV_KEPT_JOIN "_HUTCH_KEPT_JOIN"
// KeptDir is the runtime directory holding the holder's file, for a forced join: the
// parent resolved it as the plain user.
#define HUTCH_ENV_KEPT_DIR "_HUTCH_KEPT_DIR"
// OwnMounts, "1": the constructor gives the process a mount namespace of its own below
// the one it runs in (its mounts slaves of those), before the Go runtime starts: a
// detached container's monitor, whose mounts of the container are then gone with it
// even when it is killed outright.
#define HUTCH_ENV_OWN_MOUNTS "_HUTCH_OWN_MOUNTS"
// Hold asks the constructor to become the holder of a kept namespace (hutch-holder):
// "new" unshares a user and a mount namespace, "adopt" joins the user namespace of
// HoldAdopt and unshares a mount namespace in it.
#define HUTCH_ENV_HOLD "_HUTCH_HOLD"
// HoldAdopt is the process whose user namespace an adopting holder joins (a running
// container's monitor, when the previous holder is gone).
#define HUTCH_ENV_HOLD_ADOPT "_HUTCH_HOLD_ADOPT"
// HoldReady is the descriptor on which the holder says it is in its namespace ("1"),
// then that it watches its file ("2"), or why it could not ("E" and the error).
#define HUTCH_ENV_HOLD_READY "_HUTCH_HOLD_READY"
// HoldGo is the descriptor on which the starting command says the id maps and the
// holder's file are written ("g"; anything else ends the holder).
#define HUTCH_ENV_HOLD_GO "_HUTCH_HOLD_GO"
// HoldFile is the holder's file (RUNTIME_DIR/holder): the holder exits when it no
// longer names it.
#define HUTCH_ENV_HOLD_FILE "_HUTCH_HOLD_FILE"

// ---- Helpers started by Go (read by Go only) ----

// Exec is the command hutch-exec runs in a running container (JSON, nsinit.ExecSpec).
#define HUTCH_ENV_EXEC "_HUTCH_EXEC"
// PortSpec is what the port forwarder hutch-port publishes (JSON).
#define HUTCH_ENV_PORT_SPEC "_HUTCH_PORT_SPEC"

// ---- A detached container's monitor (container/cmonitor/monitor.c) ----

// Cmonitor asks the constructor to become the C half of a container's monitor.
#define HUTCH_ENV_CMONITOR "_HUTCH_CMONITOR"
// CmID is the container's ID.
#define HUTCH_ENV_CM_ID "_HUTCH_CM_ID"
// CmPID is the container's init.
#define HUTCH_ENV_CM_PID "_HUTCH_CM_PID"
// CmOut is the descriptor of the container's standard output (or its terminal).
#define HUTCH_ENV_CM_OUT "_HUTCH_CM_OUT"
// CmErr is the descriptor of the container's standard error.
#define HUTCH_ENV_CM_ERR "_HUTCH_CM_ERR"
// CmIn is the descriptor of the stdin FIFO, copied to the terminal.
#define HUTCH_ENV_CM_IN "_HUTCH_CM_IN"
// CmTerm is the descriptor of the terminal's master.
#define HUTCH_ENV_CM_TERM "_HUTCH_CM_TERM"
// CmLog is the descriptor of the container's log.
#define HUTCH_ENV_CM_LOG "_HUTCH_CM_LOG"
// CmLogFormat is the log's line format: json-file (Docker's), k8s-file (Podman's) or none.
#define HUTCH_ENV_CM_LOG_FORMAT "_HUTCH_CM_LOG_FORMAT"
// CmLogPath is the log's path, renamed to PATH.1 … when it is rotated.
#define HUTCH_ENV_CM_LOG_PATH "_HUTCH_CM_LOG_PATH"
// CmLogMax is the size in bytes past which the log is rotated (--log-opt max-size; 0: never).
#define HUTCH_ENV_CM_LOG_MAX "_HUTCH_CM_LOG_MAX"
// CmLogFiles is how many files the log keeps, the current one included (--log-opt max-file).
#define HUTCH_ENV_CM_LOG_FILES "_HUTCH_CM_LOG_FILES"
// CmNetFD is the descriptor whose closing ends the container's network helpers.
#define HUTCH_ENV_CM_NETFD "_HUTCH_CM_NETFD"
// CmSlirp is the pid of the container's slirp4netns.
#define HUTCH_ENV_CM_SLIRP "_HUTCH_CM_SLIRP"
// CmPorts is the pid of the container's port forwarder.
#define HUTCH_ENV_CM_PORTS "_HUTCH_CM_PORTS"
// CmHealth is the container's healthcheck timing, in milliseconds:
// "INTERVAL:TIMEOUT:START_PERIOD:START_INTERVAL". The C half runs
// `hutch-health ID` (one probe) on that schedule; unset: no healthcheck.
#define HUTCH_ENV_CM_HEALTH "_HUTCH_CM_HEALTH"
// NetPIDs hands the network helpers' pids ("SLIRP,PORTS") from the C half back to the
// Go one, which waits for them to end before it records the exit.
#define HUTCH_ENV_NET_PIDS "_HUTCH_NET_PIDS"

#endif
