package userns

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/diag"
	"hutch.dev/hutch/internal/idmap"
	_ "hutch.dev/hutch/internal/nsenter" // the C constructor that enters the namespace
)

// EnvState carries the parent's findings into the re-executed child.
const EnvState = contract.UsernsState

// MinRange is the size below which common images no longer fit a user's range.
const MinRange = 65536

// IDMap maps Size ids from ContainerID (inside) to HostID (outside).
type IDMap struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

// State is what hutch knows about its user namespace: who the user is on the host,
// the mappings asked for and where they came from, the helper checks, and warnings.
type State struct {
	User     string         `json:"user"`
	UID      int            `json:"uid"`
	GID      int            `json:"gid"`
	Home     string         `json:"home"`
	SubIDs   *SubIDs        `json:"subids,omitempty"`
	Helpers  []Helper       `json:"helpers,omitempty"`
	UIDMap   []IDMap        `json:"uidMap"`
	GIDMap   []IDMap        `json:"gidMap"`
	SingleID bool           `json:"singleID"` // only the user's own id is mapped
	Root     bool           `json:"root"`     // hutch runs as real root: no namespace needed
	Warnings []diag.Warning `json:"warnings,omitempty"`
}

// Plan works out, as the plain user, how to enter the user namespace. It fails only
// when no namespace can be had at all; a missing range or helper degrades to a
// single-id namespace with a warning that says what the admin can do.
func Plan() (*State, error) {
	s := &State{UID: os.Getuid(), GID: os.Getgid()}
	u, err := user.LookupId(strconv.Itoa(s.UID))
	if err != nil {
		s.User = os.Getenv("USER")
		s.Home = os.Getenv("HOME")
		if s.User == "" || s.Home == "" {
			return nil, fmt.Errorf("uid %d has no entry in the user database (/etc/passwd) and USER/HOME are not set: set them, or ask an admin to add the user", s.UID)
		}
	} else {
		s.User, s.Home = u.Username, u.HomeDir
		if h := os.Getenv("HOME"); h != "" {
			s.Home = h
		}
	}
	if s.UID == 0 {
		s.Root = true
		s.UIDMap = []IDMap{{0, 0, 1<<32 - 1}}
		s.GIDMap = s.UIDMap
		return s, nil
	}
	if p := KernelProblem(); p != "" {
		return nil, fmt.Errorf("%w: %s", errNoUserns, p)
	}

	s.SubIDs, err = LookupSubIDs(s.User, s.UID, s.GID)
	if err != nil {
		return nil, err
	}
	s.Helpers = []Helper{CheckHelper("newuidmap"), CheckHelper("newgidmap")}

	var why []string
	if len(s.SubIDs.UIDs) == 0 || len(s.SubIDs.GIDs) == 0 {
		missing := "no subordinate uid range for " + s.User + " in /etc/subuid"
		switch {
		case len(s.SubIDs.UIDs) != 0:
			missing = "no subordinate gid range for " + s.User + " in /etc/subgid"
		case len(s.SubIDs.GIDs) == 0:
			missing = "no subordinate uid and gid ranges for " + s.User + " in /etc/subuid and /etc/subgid"
		}
		advice := "ask an admin to give you ranges (your system looks them up through " + s.SubIDs.Source + ")"
		if s.SubIDs.files {
			uids, gids, defs := s.SubIDs.hostRanges()
			advice = NoRangeAdvice(s.User, uids, gids, defs)
		}
		why = append(why, missing+": "+advice)
	}
	for _, h := range s.Helpers {
		if !h.OK {
			why = append(why, h.Problem)
		}
	}
	if len(why) > 0 {
		s.SingleID = true
		s.UIDMap = []IDMap{{0, uint32(s.UID), 1}}
		s.GIDMap = []IDMap{{0, uint32(s.GID), 1}}
		s.Warnings = append(s.Warnings, diag.Warning{ID: "single-id",
			Text: "running in a single-id user namespace (only your own uid is mapped): " + strings.Join(why, "; ") +
				"; until then files of other owners in images are stored as owned by you (ignore_chown_errors) and a container cannot switch users"})
		return s, nil
	}
	s.UIDMap = stack(uint32(s.UID), s.SubIDs.UIDs)
	s.GIDMap = stack(uint32(s.GID), s.SubIDs.GIDs)
	if n := total(s.SubIDs.UIDs); n < MinRange {
		advice := "ask an admin to give you a larger one"
		if s.SubIDs.files {
			uids, gids, defs := s.SubIDs.hostRanges()
			if free, ok := FreeRange(defs.SubUIDMin, defs.SubUIDCount, uids, gids); ok {
				advice = fmt.Sprintf("ask an admin to run `usermod --add-subuids %s --add-subgids %s %s`", free, free, s.User)
			}
		}
		s.Warnings = append(s.Warnings, diag.Warning{ID: "subuid-small",
			Text: fmt.Sprintf("your subordinate uid range has %d ids, fewer than %d: images with files owned by uid %d or above will not load; %s", n, MinRange, n, advice)})
	}
	return s, nil
}

// RangeWarnings checks the user's subordinate ranges against the host's: a range that
// overlaps another user's, or holds the id of a real user or group (the user's own
// included), lets containers act as that user on the host. It reads /etc/subuid,
// /etc/subgid, /etc/passwd, /etc/group and /etc/login.defs afresh (it runs once per
// login session, and for `hutch info`, not on every command). With getsubids as the
// source, other users' ranges are unknown: only the ids are checked.
func (s *State) RangeWarnings() []diag.Warning {
	if s.Root || s.SubIDs == nil || (len(s.SubIDs.UIDs) == 0 && len(s.SubIDs.GIDs) == 0) {
		return nil
	}
	sub := s.SubIDs
	if sub.fromFiles() && sub.uidEntries == nil && sub.gidEntries == nil {
		// Handed over from the parent (the entries are not): read the files again.
		if fresh, err := LookupSubIDs(s.User, s.UID, s.GID); err == nil {
			sub = fresh
		}
	}
	uids, gids, defs := sub.hostRanges()
	return RangeWarnings(s.User, s.UID, s.GID, sub.UIDs, sub.GIDs, uids, gids, defs)
}

// stack maps 0 to the user's own id and 1..N to the subordinate ranges, in order.
func stack(own uint32, rs []Range) []IDMap {
	m := []IDMap{{ContainerID: 0, HostID: own, Size: 1}}
	next := uint32(1)
	for _, r := range rs {
		m = append(m, IDMap{ContainerID: next, HostID: r.Start, Size: r.Count})
		next += r.Count
	}
	return m
}

func total(rs []Range) uint32 {
	var n uint32
	for _, r := range rs {
		n += r.Count
	}
	return n
}

// Inside reports whether this process is the re-executed hutch in its user namespace,
// and returns the state the parent handed over.
func Inside() (*State, bool) {
	v := os.Getenv(EnvState)
	if v == "" {
		return nil, false
	}
	var s State
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, false
	}
	s.kernelMaps()
	return &s, true
}

// kernelMaps reads this process's maps from the kernel, which are the truth: if
// newuidmap failed, the namespace got a single mapping (and a warning says so).
func (s *State) kernelMaps() {
	if m, err := readMap(idmap.SelfUID); err == nil && !s.Root {
		if len(m) == 1 && m[0].Size == 1 && !s.SingleID {
			s.SingleID = true
			s.Warnings = append(s.Warnings, diag.Warning{ID: "newuidmap-failed",
				Text: "newuidmap/newgidmap did not apply your subordinate ranges, so only your own uid is mapped: check the ranges in /etc/subuid and /etc/subgid with `getsubids " + s.User + "`"})
		}
		s.UIDMap = m
		if g, err := readMap(idmap.SelfGID); err == nil {
			s.GIDMap = g
		}
	}
}

func readMap(path string) ([]IDMap, error) {
	r, err := idmap.Read(path)
	if err != nil {
		return nil, err
	}
	m := make([]IDMap, len(r))
	for i, x := range r {
		m[i] = IDMap{x.Inside, x.Outside, x.Size}
	}
	return m, nil
}

// Reexec runs hutch again with args inside a new user and mount namespace set up as
// the state says, forwards SIGINT, SIGTERM and SIGHUP to it, and returns its exit
// status (128+N when it dies of signal N). extraEnv is added to the child's environment;
// files are handed to it (HandFiles).
//
// The child unshares in a C constructor before its Go runtime starts
// (internal/nsenter), waits while this process writes its id maps with
// newuidmap/newgidmap, and then runs as root in the namespace: one exec in all.
func Reexec(s *State, files []*os.File, args []string, extraEnv ...string) (int, error) {
	st, err := json.Marshal(s)
	if err != nil {
		return 125, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 125, err
	}
	goR, goW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		return 125, err
	}
	doneR, doneW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		goR.Close()
		goW.Close()
		return 125, err
	}
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), EnvState+"="+string(st),
		contract.UsernsNew+"=1", contract.UsernsReady+"=3", contract.UsernsGo+"=4", EnvDone+"=5",
		// go.podman.io/storage reads these to know it runs rootless, in a namespace.
		"_CONTAINERS_USERNS_CONFIGURED=done", "_CONTAINERS_ROOTLESS_UID="+strconv.Itoa(s.UID),
		"_CONTAINERS_ROOTLESS_GID="+strconv.Itoa(s.GID))
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{readyW, goR, doneW}
	HandFiles(cmd, files)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	err = cmd.Start()
	readyW.Close()
	goR.Close()
	doneW.Close()
	defer readyR.Close()
	defer goW.Close()
	defer doneR.Close()
	if err != nil {
		return 125, explainStartFailure(err)
	}
	buf := make([]byte, 512)
	n, _ := readyR.Read(buf)
	if n == 0 || buf[0] != '1' {
		_ = cmd.Wait()
		msg := "the child died"
		if n > 1 && buf[0] == 'E' {
			msg = "unshare: " + string(buf[1:n])
		}
		return 125, explainStartFailure(errors.New(msg))
	}
	if err := writeMaps(cmd.Process.Pid, s); err != nil {
		_, _ = goW.Write([]byte("x"))
		_ = cmd.Wait()
		return 125, err
	}
	if _, err := goW.Write([]byte("g")); err != nil {
		_ = cmd.Wait()
		return 125, explainStartFailure(err)
	}
	return follow(cmd, doneR, sigs)
}

// follow forwards sigs to the started hutch cmd and returns its exit status: the one
// it reports on doneR once its work is done, or the one it exits with.
func follow(cmd *exec.Cmd, doneR *os.File, sigs chan os.Signal) (int, error) {
	go func() {
		for sig := range sigs {
			// The terminal delivers its own signals (Ctrl-C, Ctrl-\, hangup) to the whole
			// foreground process group, the child included: passing them on too would
			// deliver them twice.
			if sig != syscall.SIGTERM && inForeground() {
				continue
			}
			_ = cmd.Process.Signal(sig)
		}
	}()
	// The child reports its exit status on the done pipe once its work is done: its
	// exit (the kernel tearing down its mount namespace) need not be waited for.
	b := make([]byte, 1)
	if n, _ := doneR.Read(b); n == 1 {
		return int(b[0]), nil
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 125, err
	}
	return 0, nil
}

// EnvDone names the descriptor on which a re-executed hutch reports its exit status
// (one byte) when it has finished its work.
const EnvDone = contract.Done

// doneFile is this process's end of the done pipe, if it was started by Reexec.
var doneFile *os.File

func init() {
	// Taken at once and closed on exec: nothing this process starts (a container, a
	// monitor) may hold it, or keep a parent waiting.
	if v := os.Getenv(EnvDone); v != "" {
		os.Unsetenv(EnvDone)
		if fd, err := strconv.Atoi(v); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
			doneFile = os.NewFile(uintptr(fd), "done")
		}
	}
}

// ReportDone tells the parent (if any) the exit status, so it can exit without waiting
// for this process's own exit. Call it last.
func ReportDone(code int) {
	if doneFile != nil {
		_, _ = doneFile.Write([]byte{byte(code)})
		doneFile.Close()
		doneFile = nil
	}
}

// writeMaps gives the child its id maps: through newgidmap/newuidmap for the
// subordinate ranges, or, single-id, by writing the user's own id directly. If the
// helpers fail, the child falls back to single-id (Inside notices and warns).
func writeMaps(pid int, s *State) error {
	proc := "/proc/" + strconv.Itoa(pid)
	singleGID := func() error {
		if err := os.WriteFile(proc+"/setgroups", []byte("deny"), 0); err != nil {
			return fmt.Errorf("writing %s/setgroups: %w", proc, err)
		}
		if err := os.WriteFile(proc+"/gid_map", []byte(fmt.Sprintf("0 %d 1\n", s.GID)), 0); err != nil {
			return fmt.Errorf("writing %s/gid_map: %w", proc, err)
		}
		return nil
	}
	singleUID := func() error {
		if err := os.WriteFile(proc+"/uid_map", []byte(fmt.Sprintf("0 %d 1\n", s.UID)), 0); err != nil {
			return fmt.Errorf("writing %s/uid_map: %w", proc, err)
		}
		return nil
	}
	if s.SingleID {
		if err := singleGID(); err != nil {
			return err
		}
		return singleUID()
	}
	run := func(helper string, m []IDMap) error {
		args := []string{strconv.Itoa(pid)}
		for _, x := range m {
			args = append(args, strconv.FormatUint(uint64(x.ContainerID), 10), strconv.FormatUint(uint64(x.HostID), 10), strconv.FormatUint(uint64(x.Size), 10))
		}
		path := helper
		for _, h := range s.Helpers {
			if h.Name == helper && h.Path != "" {
				path = h.Path
			}
		}
		out, err := exec.Command(path, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", helper, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	// The two helpers are independent (each writes its own map of the child, from
	// outside the namespace): run together, the second setuid exec does not wait for
	// the first.
	gidErr := make(chan error, 1)
	go func() { gidErr <- run("newgidmap", s.GIDMap) }()
	uidErr := run("newuidmap", s.UIDMap)
	if err := <-gidErr; err != nil {
		if err := singleGID(); err != nil {
			return err
		}
	}
	if uidErr != nil {
		return singleUID()
	}
	return nil
}

// inForeground reports whether this process's group is the foreground group of the
// terminal on its standard input.
func inForeground() bool {
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

func explainStartFailure(err error) error {
	if p := KernelProblem(); p != "" {
		return fmt.Errorf("%w: %s", errNoUserns, p)
	}
	return fmt.Errorf("%w: %w (run `hutch info` for the host checks)", errNoUserns, err)
}
