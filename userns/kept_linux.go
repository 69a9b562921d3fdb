package userns

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/diag"
	"hutch.dev/hutch/internal/fsutil"
	"hutch.dev/hutch/internal/nsenter"
)

// The kept user namespace: the first command that needs hutch's user namespace makes
// it and leaves a holder process in it (hutch-holder, a C loop: see
// internal/nsenter/kept.c); every later one joins it. The holder is found through
// HolderFile in the runtime directory.
const (
	// HolderName is the holder's name in ps (its argv[0] and comm).
	HolderName = "hutch-holder"
	// HolderFile is the holder's file in the runtime directory; the holder lives as
	// long as it names it.
	HolderFile = "holder"
	holderLock = "holder.lock"
	holderHead = "hutch-holder 1\n"
)

// Holder is the holder of a kept namespace, as its file describes it.
type Holder struct {
	PID int `json:"pid"`
	// Start is its start time in clock ticks after boot (/proc/PID/stat), which tells
	// it from a later process with the same pid.
	Start  uint64 `json:"-"`
	Userns uint64 `json:"usernsInode"`
	Mntns  uint64 `json:"mntnsInode"`
	// Origin is the mount namespace the kept one was copied from: commands from
	// another get a mount namespace of their own (kept.c).
	Origin uint64 `json:"originInode"`
	// Since is when it started.
	Since time.Time `json:"since"`
	// File is the holder's file.
	File string `json:"file"`
	// stamps are the files the maps were planned from, as they were (see stampPaths).
	stamps []stampLine
	// State is the plan the namespace was made from.
	State *State `json:"-"`
}

type stampLine struct{ token, path string }

// stamp is what a file looks like now: "DEV:INO:SIZE:MTIME:CTIME", or "-" when it
// does not exist; the constructor compares it (hutch_kept_stamp writes the same).
func stamp(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "-"
	}
	return fmt.Sprintf("%d:%d:%d:%d.%09d:%d.%09d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
}

// stampPaths are the files a plan's maps depend on: the subordinate id files, the
// switch that may send the lookup elsewhere, and the helpers that write the maps.
func stampPaths(s *State) []string {
	ps := []string{"/etc/subuid", "/etc/subgid", "/etc/nsswitch.conf"}
	for _, h := range s.Helpers {
		if h.Path != "" {
			ps = append(ps, h.Path)
		} else {
			ps = append(ps, "/usr/bin/"+h.Name)
		}
	}
	return ps
}

func (h *Holder) marshal() ([]byte, error) {
	st, err := json.Marshal(h.State)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(holderHead)
	fmt.Fprintf(&b, "pid %d start %d userns %d mntns %d origin %d\n", h.PID, h.Start, h.Userns, h.Mntns, h.Origin)
	for _, hp := range h.State.Helpers {
		p := hp.Path
		if p == "" {
			p = "-"
		}
		fmt.Fprintf(&b, "helper %s %s\n", hp.Name, p)
	}
	for _, s := range h.stamps {
		fmt.Fprintf(&b, "stamp %s %s\n", s.token, s.path)
	}
	b.WriteString("state\n")
	b.Write(st)
	return b.Bytes(), nil
}

// parseHolder reads a holder's file.
func parseHolder(b []byte, file string) (*Holder, error) {
	bad := func(why string) error { return fmt.Errorf("%s: not a holder's file: %s", file, why) }
	rest, ok := bytes.CutPrefix(b, []byte(holderHead))
	if !ok {
		return nil, bad("no header")
	}
	h := &Holder{File: file}
	for {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, bad("no state")
		}
		rest = after
		f := strings.Fields(string(line))
		switch {
		case len(f) == 10 && f[0] == "pid":
			h.PID, _ = strconv.Atoi(f[1])
			h.Start, _ = strconv.ParseUint(f[3], 10, 64)
			h.Userns, _ = strconv.ParseUint(f[5], 10, 64)
			h.Mntns, _ = strconv.ParseUint(f[7], 10, 64)
			h.Origin, _ = strconv.ParseUint(f[9], 10, 64)
		case len(f) >= 3 && f[0] == "helper":
			// Checked by the constructor; the state has the helpers.
		case len(f) >= 3 && f[0] == "stamp":
			tok, path, _ := strings.Cut(strings.TrimPrefix(string(line), "stamp "), " ")
			h.stamps = append(h.stamps, stampLine{tok, path})
		case string(line) == "state":
			h.State = &State{}
			if err := json.Unmarshal(rest, h.State); err != nil {
				return nil, bad("state: " + err.Error())
			}
			if h.PID <= 0 {
				return nil, bad("no holder line")
			}
			h.Since = StartTime(h.Start)
			return h, nil
		default:
			return nil, bad("unknown line " + strconv.Quote(string(line)))
		}
	}
}

// ReadHolder reads the holder's file in runtimeDir (it may describe a holder that is
// gone: Check says).
func ReadHolder(runtimeDir string) (*Holder, error) {
	file := filepath.Join(runtimeDir, HolderFile)
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parseHolder(b, file)
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's start time: 100 on
// every architecture Linux runs hutch on.
const clockTicks = 100

// StartTime is when a process started whose /proc/PID/stat start time is ticks.
func StartTime(ticks uint64) time.Time {
	return bootTime().Add(time.Duration(ticks) * time.Second / clockTicks)
}

func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
}

func nsInode(pid int, ns string) uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/"+ns, &st); err != nil {
		return 0
	}
	return st.Ino
}

// Check says why the holder is not the process its file describes (nil when it is):
// gone, its pid reused by another process, not the user's, or not in the namespaces
// the file names. The constructor checks the same before it joins.
func (h *Holder) Check(uid int) error {
	dir := "/proc/" + strconv.Itoa(h.PID)
	if nsenter.ProcStart(h.PID) != h.Start {
		return fmt.Errorf("holder %d is gone (its pid is free or names a later process)", h.PID)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil || int(st.Uid) != uid {
		return fmt.Errorf("process %d is not the user's holder", h.PID)
	}
	comm, _ := os.ReadFile(dir + "/comm")
	if strings.TrimSpace(string(comm)) != HolderName {
		return fmt.Errorf("process %d is %q, not %s", h.PID, strings.TrimSpace(string(comm)), HolderName)
	}
	if nsInode(h.PID, "user") != h.Userns || nsInode(h.PID, "mnt") != h.Mntns {
		return fmt.Errorf("holder %d is not in the namespaces its file names", h.PID)
	}
	return nil
}

// stampsCurrent reports whether every file the maps were planned from is unchanged.
func (h *Holder) stampsCurrent() bool {
	for _, s := range h.stamps {
		if stamp(s.path) != s.token {
			return false
		}
	}
	return true
}

// sameMaps reports whether two plans map the same ids.
func sameMaps(a, b *State) bool {
	return reflect.DeepEqual(a.UIDMap, b.UIDMap) && reflect.DeepEqual(a.GIDMap, b.GIDMap)
}

// sameHelpers reports whether two plans found the helpers in the same places.
func sameHelpers(a, b *State) bool {
	if len(a.Helpers) != len(b.Helpers) {
		return false
	}
	for i := range a.Helpers {
		if a.Helpers[i].Name != b.Helpers[i].Name || a.Helpers[i].Path != b.Helpers[i].Path {
			return false
		}
	}
	return true
}

// signalHolder sends sig to the holder through a pidfd, once it is sure the pid is
// still the holder's (never to a process that took over its pid).
func (h *Holder) signal(sig unix.Signal) {
	if h == nil {
		return
	}
	fd, err := unix.PidfdOpen(h.PID, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if h.Check(os.Getuid()) == nil {
		_ = unix.PidfdSendSignal(fd, sig, nil, 0)
	}
}

// End tells the holder to end (nil: nothing to do), if it is still the process its
// file described.
func (h *Holder) End() { h.signal(unix.SIGTERM) }

// lockHolder takes the holder's lock in runtimeDir: one command at a time looks at the
// holder and replaces it, so that two commands racing to start one end with one.
func lockHolder(runtimeDir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(runtimeDir, holderLock), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the kept namespace's lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// EnsureKept returns the user's holder in runtimeDir, starting one when there is none
// that fits the plan s. candidates lists processes that may still be in an earlier
// kept namespace whose holder is gone (running containers' monitors): the new holder
// adopts the first one's namespaces, so that the containers stay in the namespace the
// commands join. When the subordinate ranges changed while containers run in the kept
// namespace, it is kept (their ids must not change under them) and a warning is added
// to s: `hutch system migrate` stops them and ends it.
func EnsureKept(runtimeDir string, s *State, candidates func() []int) (*Holder, error) {
	unlock, err := lockHolder(runtimeDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	uid := os.Getuid()
	old, err := ReadHolder(runtimeDir)
	if err == nil && old.Check(uid) == nil {
		if sameMaps(old.State, s) {
			if !old.stampsCurrent() || !sameHelpers(old.State, s) {
				// Other files (or helpers found elsewhere), the same maps: the holder
				// stays, with new stamps (it watches its file, and keeps living when it
				// still names it).
				old.State = s
				old.stamps = stampsOf(s)
				if err := old.write(); err != nil {
					return nil, err
				}
			}
			return old, nil
		}
		if pids := inNamespace(old.Userns, candidates); len(pids) > 0 {
			s.Warnings = append(s.Warnings, diag.Warning{ID: "ranges-changed",
				Text: fmt.Sprintf("your subordinate id ranges changed, but %d running container(s) use the namespace made from the old ones, which hutch keeps until they stop: run `hutch system migrate` to stop them and use the new ranges", len(pids))})
			return old, nil
		}
	} else {
		old = nil
	}
	for _, pid := range adoptable(candidates) {
		if h, err := startHolder(runtimeDir, s, pid); err == nil {
			old.signal(unix.SIGTERM)
			return h, nil
		}
	}
	h, err := startHolder(runtimeDir, s, 0)
	if err != nil {
		return nil, err
	}
	old.signal(unix.SIGTERM) // it also ends by itself, its file no longer naming it
	return h, nil
}

// EndKept ends the user's holder in runtimeDir, if there is one, and removes its file:
// the namespace ends with the last process in it (`system reset`, `system migrate`).
// It says which holder it ended (0: none).
func EndKept(runtimeDir string) (int, error) {
	unlock, err := lockHolder(runtimeDir)
	if err != nil {
		return 0, err
	}
	defer unlock()
	h, err := ReadHolder(runtimeDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, os.Remove(filepath.Join(runtimeDir, HolderFile))
	}
	pid := 0
	if h.Check(os.Getuid()) == nil {
		pid = h.PID
		h.signal(unix.SIGTERM)
	}
	if err := os.Remove(h.File); err != nil && !errors.Is(err, os.ErrNotExist) {
		return pid, err
	}
	return pid, nil
}

// inNamespace lists the candidates in user namespace userns.
func inNamespace(userns uint64, candidates func() []int) []int {
	if candidates == nil {
		return nil
	}
	var out []int
	for _, pid := range candidates() {
		if nsInode(pid, "user") == userns {
			out = append(out, pid)
		}
	}
	return out
}

// adoptable lists the candidates that are in a user namespace of the user's other than
// this process's own (so, one hutch made).
func adoptable(candidates func() []int) []int {
	if candidates == nil {
		return nil
	}
	own := nsInode(os.Getpid(), "user")
	uid := os.Getuid()
	var out []int
	for _, pid := range candidates() {
		ino := nsInode(pid, "user")
		if ino == 0 || ino == own {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+strconv.Itoa(pid), &st) != nil || int(st.Uid) != uid {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func stampsOf(s *State) []stampLine {
	var out []stampLine
	for _, p := range stampPaths(s) {
		out = append(out, stampLine{stamp(p), p})
	}
	return out
}

func (h *Holder) write() error {
	b, err := h.marshal()
	if err != nil {
		return err
	}
	return fsutil.ReplaceFile(h.File, b, 0o600)
}

// startHolder starts a holder in a new user and mount namespace set up as s says, or,
// with adopt, in those of process adopt; it returns once the holder watches its file.
func startHolder(runtimeDir string, s *State, adopt int) (*Holder, error) {
	file := filepath.Join(runtimeDir, HolderFile)
	// The stamps are taken before the plan is used: a change after it is seen.
	stamps := stampsOf(s)
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	goR, goW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	defer goW.Close()
	mode := "new"
	if adopt > 0 {
		mode = "adopt"
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, contract.Prefix) {
			env = append(env, e)
		}
	}
	env = append(env, contract.Hold+"="+mode, contract.HoldReady+"=3", contract.HoldGo+"=4",
		contract.HoldFile+"="+file, contract.HoldAdopt+"="+strconv.Itoa(adopt))
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{HolderName, runtimeDir}, Env: env,
		ExtraFiles: []*os.File{readyW, goR}, Dir: "/",
		// Its own session: no terminal's hangup, no process group's kill reaches it.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	err = cmd.Start()
	readyW.Close()
	goR.Close()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", HolderName, err)
	}
	fail := func(err error) (*Holder, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	say := func(want byte) error {
		buf := make([]byte, 600)
		n, _ := readyR.Read(buf)
		switch {
		case n == 1 && buf[0] == want:
			return nil
		case n > 1 && buf[0] == 'E':
			return fmt.Errorf("%s: %s", HolderName, buf[1:n])
		default:
			return fmt.Errorf("%s died while starting", HolderName)
		}
	}
	if err := say('1'); err != nil {
		return fail(explainStartFailure(err))
	}
	pid := cmd.Process.Pid
	if adopt == 0 {
		if err := writeMaps(pid, s); err != nil {
			return fail(err)
		}
	} else {
		// The adopted namespace has the maps it was made with, which may not be the
		// plan's (the ranges changed since): the file says which, so that the next
		// command sees the difference.
		proc := "/proc/" + strconv.Itoa(pid)
		um, err1 := readMap(proc + "/uid_map")
		gm, err2 := readMap(proc + "/gid_map")
		if err1 != nil || err2 != nil {
			return fail(fmt.Errorf("%s %d: reading the adopted namespace's maps: %w", HolderName, pid, errors.Join(err1, err2)))
		}
		if !reflect.DeepEqual(um, s.UIDMap) || !reflect.DeepEqual(gm, s.GIDMap) {
			was := *s
			was.UIDMap, was.GIDMap = um, gm
			s = &was
		}
	}
	h := &Holder{PID: pid, Start: nsenter.ProcStart(pid), Userns: nsInode(pid, "user"), Mntns: nsInode(pid, "mnt"),
		Origin: nsInode(os.Getpid(), "mnt"), File: file, stamps: stamps, State: s}
	if h.Start == 0 || h.Userns == 0 || h.Mntns == 0 {
		return fail(fmt.Errorf("%s %d: cannot read its start time and namespaces in /proc", HolderName, pid))
	}
	h.Since = StartTime(h.Start)
	if err := h.write(); err != nil {
		return fail(err)
	}
	if _, err := goW.Write([]byte("g")); err != nil {
		return fail(err)
	}
	if err := say('2'); err != nil {
		return fail(err)
	}
	// It outlives this command; init (or the user's subreaper) adopts it.
	_ = cmd.Process.Release()
	return h, nil
}

// EnterKept executes hutch with args (and extraEnv added to its environment, files
// handed to it: HandFiles) in the user's kept namespace, started first if there is none that fits s (EnsureKept), and
// returns its exit status, as Reexec does. The child joins the holder's namespaces in
// its constructor (contract.KeptJoin); if the holder ended in between, the namespace
// is made again and the child started again (three times). When no holder can be kept
// (a runtime directory it cannot use, a holder killed again and again), the command
// gets a namespace of its own through Reexec, as before the kept namespace, with a
// warning.
func EnterKept(runtimeDir string, s *State, candidates func() []int, files []*os.File, args []string, extraEnv ...string) (int, error) {
	var why error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err := EnsureKept(runtimeDir, s, candidates); err != nil {
			why = err
			break
		}
		code, err := joinKept(runtimeDir, s, files, args, extraEnv...)
		var gone *keptGone
		if !errors.As(err, &gone) {
			return code, err
		}
		why = err
	}
	s.Warnings = append(s.Warnings, diag.Warning{ID: "kept-ns",
		Text: "hutch could not keep its user namespace (" + why.Error() + "), so this command made one of its own, which is slower: run `hutch info` for the host checks"})
	return Reexec(s, files, args, extraEnv...)
}

// keptGone: the child could not join the holder (it ended after EnsureKept found it).
type keptGone struct{ why string }

func (e *keptGone) Error() string { return "joining the kept user namespace: " + e.why }

// joinKept starts hutch with args, joining the kept namespace in its constructor, and
// follows it as Reexec does.
func joinKept(runtimeDir string, s *State, files []*os.File, args []string, extraEnv ...string) (int, error) {
	st, err := json.Marshal(s)
	if err != nil {
		return 125, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 125, err
	}
	defer readyR.Close()
	doneR, doneW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return 125, err
	}
	defer doneR.Close()
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), EnvState+"="+string(st), contract.KeptJoin+"=3", contract.KeptDir+"="+runtimeDir, EnvDone+"=4",
		"_CONTAINERS_USERNS_CONFIGURED=done", "_CONTAINERS_ROOTLESS_UID="+strconv.Itoa(s.UID),
		"_CONTAINERS_ROOTLESS_GID="+strconv.Itoa(s.GID))
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{readyW, doneW}
	HandFiles(cmd, files)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	err = cmd.Start()
	readyW.Close()
	doneW.Close()
	if err != nil {
		return 125, explainStartFailure(err)
	}
	buf := make([]byte, 600)
	n, _ := readyR.Read(buf)
	if n != 1 || buf[0] != '1' {
		_ = cmd.Wait()
		why := "the child died"
		if n > 1 && buf[0] == 'E' {
			why = string(buf[1:n])
		}
		return 125, &keptGone{why}
	}
	return follow(cmd, doneR, sigs)
}

// Joined is the state of a command that joined the kept namespace in its constructor
// (k): the plan the holder's file holds, with the user's HOME of this command, and the
// kernel's maps. It also sets what go.podman.io/storage reads to know it runs in a
// user namespace.
func Joined(k nsenter.Kept) (*State, error) {
	s := &State{}
	if err := json.Unmarshal(k.State, s); err != nil {
		return nil, fmt.Errorf("the kept namespace's holder file %s: %w", filepath.Join(k.Dir, HolderFile), err)
	}
	if h := os.Getenv("HOME"); h != "" {
		s.Home = h
	}
	s.kernelMaps()
	os.Setenv("_CONTAINERS_USERNS_CONFIGURED", "done")
	os.Setenv("_CONTAINERS_ROOTLESS_UID", strconv.Itoa(s.UID))
	os.Setenv("_CONTAINERS_ROOTLESS_GID", strconv.Itoa(s.GID))
	return s, nil
}
