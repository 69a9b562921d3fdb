package engine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"
	"hutch.dev/hutch/container"
	"hutch.dev/hutch/events"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/storage"
	"hutch.dev/hutch/userns"
	"hutch.dev/hutch/volumes"
)

// The commands whose work is split between the plain user and hutch's user namespace
// (Split): each says here what runs on which side, and what crosses over.

// Report hears how one container of a multi-container command went (err nil: done).
type Report func(ref string, err error)

// RemoveOptions are rm's flags.
type RemoveOptions struct {
	Force   bool // stop running containers first; a missing one is no error
	Volumes bool // the anonymous volumes go too
	Ignore  bool // a missing container is no error (-i)
	// Timeout is how long a running container has, with Force, to end on its stop
	// signal before SIGKILL (0: SIGKILL at once, as Docker's rm -f).
	Timeout time.Duration
}

// RemoveContainers is `rm`: running containers are refused, or with force stopped
// first (as the plain user, who can reach their processes); the removal runs where the
// store can be opened, and report hears each container there. With Force or Ignore, a
// container that does not exist is no error.
func (s *Session) RemoveContainers(refs []string, o RemoveOptions, report Report) error {
	return RunSplit(s, Split[struct{}]{
		Name: "rm",
		Outside: func() (struct{}, Place, error) {
			r := s.Records()
			for _, ref := range refs {
				ct, err := r.Get(ref)
				if err != nil {
					continue // said inside, with the others
				}
				// A container being started (its run -d killed while the monitor
				// starts it) is about to run: its start is waited for.
				st, err := r.Started(ct.ID, 30*time.Second)
				if err != nil || st.Status != container.StatusRunning {
					continue
				}
				if !o.Force {
					return struct{}{}, Nowhere, fmt.Errorf("container %s is running: stop it first (`hutch stop %s`), or use `hutch rm -f`", ct.Name, ct.Name)
				}
				if err := r.Stop(ct, o.Timeout); err != nil {
					return struct{}{}, Nowhere, err
				}
			}
			return struct{}{}, InStore, nil
		},
		Inside: func(struct{}) error {
			m, err := s.Containers()
			if err != nil {
				return err
			}
			for _, ref := range refs {
				// RemoveRef also finishes a removal or creation cut short (a store
				// entry left without records).
				err := m.RemoveRef(ref, o.Volumes)
				if (o.Force || o.Ignore) && errors.Is(err, container.ErrNotFound) {
					continue
				}
				report(ref, err)
			}
			return nil
		},
	})
}

// RestartContainers is `restart`: each container is stopped as the plain user (timeout,
// then SIGKILL) and started again under a new monitor where the store can be opened.
func (s *Session) RestartContainers(refs []string, timeout time.Duration, report Report) error {
	return RunSplit(s, Split[struct{}]{
		Name: "restart",
		Outside: func() (struct{}, Place, error) {
			r := s.Records()
			for _, ref := range refs {
				if ct, err := r.Get(ref); err == nil {
					if err := r.Stop(ct, timeout); err != nil {
						return struct{}{}, Nowhere, err
					}
				}
			}
			return struct{}{}, InStore, nil
		},
		Inside: func(struct{}) error {
			m, err := s.Containers()
			if err != nil {
				return err
			}
			for _, ref := range refs {
				ct, err := m.Get(ref)
				if err == nil {
					if err = m.StartDetached(ct); err == nil {
						ct.Emit(events.Restart)
					}
				}
				report(ref, err)
			}
			return nil
		},
	})
}

// ResetAll is `system reset`: confirm (as the plain user; nil when forced) may say no;
// every container is stopped and its cgroup removed (warn hears what could not be);
// then the store, run root, runtime state and cache are deleted where files of
// subordinate ids can be, without opening the store, so that it works when the store is
// broken. Of a store chosen by --root or --runroot, only that store goes (Reset).
func (s *Session) ResetAll(confirm func(graphRoot, runtimeDir string) bool, warn func(string)) error {
	var holder *userns.Holder
	err := RunSplit(s, Split[struct{}]{
		Name: "system reset",
		Outside: func() (struct{}, Place, error) {
			p := s.Host.Paths
			state := p.RuntimeDir
			if s.Host.Store.Moved() {
				state = p.RunRoot // the store's own run root, not the user's runtime state
			}
			if confirm != nil && !confirm(p.GraphRoot, state) {
				return struct{}{}, Nowhere, nil
			}
			// The kept namespace ends too (not with a store of --root's, which leaves
			// the runtime state alone): the reset deletes the holder's file, and the
			// holder is told once the reset is done.
			if h, err := userns.ReadHolder(p.RuntimeDir); err == nil && !s.Host.Store.Moved() && h.Check(os.Getuid()) == nil {
				holder = h
			}
			// Running containers are stopped first, from here, where they can be reached:
			// their monitors would otherwise outlive the files they write. (Stopping a
			// stopped one only marks it, so that a monitor waiting to restart it gives up.)
			if cs, err := s.Records().List(); err == nil {
				cm := s.ContainerControl()
				monitors := map[string]int{}
				for _, c := range cs {
					if st, err := cm.Records.State(c.ID); err == nil && st.MonitorPid > 0 {
						monitors[c.ID] = st.MonitorPid
					}
					_ = cm.Records.Stop(c, 0)
					// In the delegated cgroup, not the store: the reset does not remove it.
					if err := cm.RemoveCgroup(c.ID); err != nil {
						warn(fmt.Sprintf("container %s: %v", c.Name, err))
					}
				}
				// A monitor still unmounts and writes the store a moment after its
				// container's exit is recorded: the deletion must not race it.
				for id, pid := range monitors {
					container.MonitorGone(pid, id, 10*time.Second)
				}
			}
			return struct{}{}, InStore, nil
		},
		Inside: func(struct{}) error { return Reset(s.Host.Paths, s.Host.Store.Moved()) },
	})
	holder.End()
	return err
}

// Migrate is `system migrate`: every running container is stopped (as the plain user,
// who can reach them; timeout, then SIGKILL) and the kept user namespace ended, so that
// the next command makes it again from the current subordinate ranges. report hears
// each container stopped. It returns the holder it ended (0: there was none).
func (s *Session) Migrate(timeout time.Duration, report Report) (int, error) {
	if s.Host.NS.Root {
		return 0, nil // no user namespace to end
	}
	r := s.Records()
	cs, err := r.List()
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, c := range cs {
		st, err := r.Current(c.ID)
		if err != nil || st.Status != container.StatusRunning {
			continue
		}
		err = r.Stop(c, timeout)
		report(c.Name, err)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("the kept user namespace is left as it was, as running containers use it: %w", err)
	}
	return userns.EndKept(s.Host.Paths.RuntimeDir)
}

// Inspect is `inspect`: containers are described from their records (as the plain
// user); when a name is not a container's (or typ is "image", "volume" or "network"),
// or size is asked, the whole command runs where the store can be opened. typ is "",
// "container", "image", "volume" or "network"; without one, a name is looked for among
// the containers, the images, the volumes, then the networks, as Docker's inspect does.
// size adds the containers' SizeRw and SizeRootFs (inspect -s).
func (s *Session) Inspect(refs []string, typ string, size bool) ([]any, error) {
	var out []any
	err := RunSplit(s, Split[struct{}]{
		Name: "inspect",
		Outside: func() (struct{}, Place, error) {
			if size {
				return struct{}{}, InStore, nil
			}
			res, needStore, err := s.inspect(refs, typ, false, false)
			if err != nil || needStore {
				return struct{}{}, InStore, err
			}
			out = res
			return struct{}{}, Nowhere, nil
		},
		Inside: func(struct{}) error {
			res, _, err := s.inspect(refs, typ, true, size)
			out = res
			return err
		},
	})
	return out, err
}

func (s *Session) inspect(refs []string, typ string, withStore, size bool) ([]any, bool, error) {
	var out []any
	r := s.Records()
	for _, ref := range refs {
		if typ == "" || typ == "container" {
			ct, err := r.Get(ref)
			if err == nil {
				in, err := r.InspectContainer(ct, func(name string) string {
					return filepath.Join(s.Volumes().Dir, name, "_data")
				})
				if err != nil {
					return nil, false, err
				}
				if size {
					st, err := s.Store()
					if err != nil {
						return nil, false, err
					}
					sz := container.Sizes(st, []string{ct.ID})[ct.ID]
					in.SizeRw, in.SizeRootFs = &sz.RW, &sz.RootFS
				}
				out = append(out, in)
				continue
			}
			if typ == "container" || !errors.Is(err, container.ErrNotFound) {
				return nil, false, err
			}
		}
		if !withStore {
			return nil, true, nil
		}
		var err error
		if typ == "" || typ == "image" {
			st, serr := s.Store()
			if serr != nil {
				return nil, false, serr
			}
			var img *cstorage.Image
			if img, err = images.Resolve(st, ref); err == nil {
				ins, err := images.InspectImage(st, img)
				if err != nil {
					return nil, false, err
				}
				out = append(out, ins)
				continue
			}
			if typ == "image" || !errors.Is(err, images.ErrNotFound) {
				return nil, false, err
			}
		}
		if typ == "" || typ == "volume" {
			v, verr := s.Volumes().Get(ref)
			if verr == nil {
				out = append(out, v)
				continue
			}
			if typ == "volume" || !errors.Is(verr, volumes.ErrNotFound) {
				return nil, false, verr
			}
		}
		if typ == "" || typ == "network" {
			sums, serr := r.Summaries()
			if serr != nil {
				return nil, false, serr
			}
			if n, ok := container.InspectNetworkMode(ref, sums); ok {
				out = append(out, n)
				continue
			}
			if typ == "network" {
				return nil, false, fmt.Errorf("no such network: %s (hutch's networks are the modes of --network: slirp4netns, none, host)", ref)
			}
		}
		// Nothing of that name: the image's error says it, with where to look.
		return nil, false, err
	}
	return out, false, nil
}

// copyRequest is what `cp` hands to its inside half.
type copyRequest struct {
	Container string `json:"container"`
	// Out: from the container to the host.
	Out           bool   `json:"out"`
	ContainerPath string `json:"containerPath"`
	// HostPath is absolute: joining a container's mount namespace moves the working
	// directory to its root. It is not cleaned: a trailing "/" or "/." keeps its meaning.
	HostPath string `json:"hostPath"`
	// Joined: the inside half runs in the running container's monitor's namespaces,
	// where its root is mounted; otherwise it mounts the root through the store.
	Joined bool `json:"joined"`
}

// Copy is `cp SRC DST`, one of them CONTAINER:PATH. The copy runs as root of hutch's user
// namespace: in a running container's monitor's namespaces, where its root is mounted,
// or, for a stopped one, with its root mounted through the store. The host's side is
// resolved from a handle on "/" that the plain-user half opens in the user's own mount
// namespace and hands over: the monitor's namespace, or the kept one, may show other
// files at the host path (container/cp_linux.go).
func (s *Session) Copy(srcArg, dstArg string) error {
	var hostRoot *os.File // the user's "/", opened by the outside half
	defer func() {
		if hostRoot != nil {
			hostRoot.Close()
		}
	}()
	return RunSplit(s, Split[copyRequest]{
		Name: "cp",
		Outside: func() (copyRequest, Place, error) {
			src, dst := container.ParseCopyArg(srcArg), container.ParseCopyArg(dstArg)
			if (src.Container == "") == (dst.Container == "") {
				return copyRequest{}, Nowhere, fmt.Errorf("cp: exactly one of the paths must be CONTAINER:PATH")
			}
			req := copyRequest{Container: src.Container + dst.Container, Out: src.Container != ""}
			req.ContainerPath, req.HostPath = dst.Path, src.Path
			if req.Out {
				req.ContainerPath, req.HostPath = src.Path, dst.Path
			}
			if wd, err := os.Getwd(); err == nil && !filepath.IsAbs(req.HostPath) {
				req.HostPath = strings.TrimSuffix(wd, "/") + "/" + req.HostPath
			}
			r := s.Records()
			ct, err := r.Get(req.Container)
			if err != nil {
				return req, Nowhere, err
			}
			st, err := r.Current(ct.ID)
			if err != nil {
				return req, Nowhere, err
			}
			fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return req, Nowhere, fmt.Errorf("cp: opening /: %w", err)
			}
			hostRoot = os.NewFile(uintptr(fd), "/")
			if st.Status == container.StatusRunning && !s.Host.Inside {
				req.Joined = true
				return req, InMountsOf(st.MonitorPid).Handing(hostRoot), nil
			}
			return req, InStore.Handing(hostRoot), nil
		},
		Inside: func(req copyRequest) error {
			r := s.Records()
			ct, err := r.Get(req.Container)
			if err != nil {
				return err
			}
			host := hostRoot // both halves in one process
			if h := s.Handed(); host == nil && len(h) == 1 {
				host = h[0]
			}
			if host == nil {
				return fmt.Errorf("internal error: cp's inside half was handed no handle on the host's /")
			}
			copyIn := func(rootfs string) error {
				if req.Out {
					return container.CopyOut(rootfs, host, req.ContainerPath, req.HostPath)
				}
				return container.CopyIn(rootfs, host, req.HostPath, req.ContainerPath)
			}
			if req.Joined {
				st, err := r.State(ct.ID)
				if err != nil {
					return err
				}
				return copyIn(st.Rootfs)
			}
			m, err := s.Containers()
			if err != nil {
				return err
			}
			rootfs, err := storage.Mount(m.Store, ct.ID)
			if err != nil {
				return fmt.Errorf("mounting container %s: %w", ct.Name, err)
			}
			defer func() { _, _ = m.Store.Unmount(ct.ID, true) }()
			return copyIn(rootfs)
		},
	})
}

// Shell is `unshare`: it executes args (default: the user's shell) in hutch's user
// namespace, with HUTCH_GRAPHROOT and HUTCH_RUNROOT set and hutch's own hand-over
// variables removed. It returns only on failure: 127 when the command is not found,
// 126 when it cannot be executed (the message printed).
func (s *Session) Shell(args []string) error {
	if err := s.UseStore(); err != nil {
		return err
	}
	if len(args) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		args = []string{sh}
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s: executable file not found in $PATH\n", args[0])
		return &ExitError{Code: 127}
	}
	env := append(os.Environ(), "HUTCH_GRAPHROOT="+s.Host.Paths.GraphRoot, "HUTCH_RUNROOT="+s.Host.Paths.RunRoot)
	if err := syscall.Exec(path, args, scrubEnv(env)); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s: %v\n", args[0], err)
		return &ExitError{Code: 126}
	}
	return nil
}

// scrubEnv removes hutch's and go.podman.io/storage's hand-over variables.
func scrubEnv(env []string) []string {
	out := env[:0]
	for _, e := range env {
		if strings.HasPrefix(e, contract.Prefix) || strings.HasPrefix(e, "_CONTAINERS_") || strings.HasPrefix(e, "_Containers-") {
			continue
		}
		out = append(out, e)
	}
	return out
}
