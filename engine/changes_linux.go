package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/storage"
)

// Change is one line of `hutch diff`: Kind is A (added), C (changed) or D (deleted), as
// Docker prints them.
type Change struct {
	Kind string `json:"kind"`
	Path string `json:"path"`
}

// mountPoints are what hutch mounts over a container's root at start (nsinit), and
// creates in its layer when the image lacks them: they are not the container's own
// changes, and diff leaves them out, as Podman does.
var mountPoints = map[string]bool{
	"/dev": true, "/proc": true, "/sys": true, "/etc/hostname": true, "/etc/hosts": true,
	"/etc/resolv.conf": true, "/run/.containerenv": true,
}

// layerRequest is what diff and export hand to their inside half: a container (its ID,
// and whether the inside half joins its owner's namespaces, where its root is mounted)
// or an image.
type layerRequest struct {
	Container string `json:"container,omitempty"`
	Image     string `json:"image,omitempty"`
	Joined    bool   `json:"joined,omitempty"`
	// Output is export's -o, absolute ("" for standard output).
	Output string `json:"output,omitempty"`
}

// containerPlace finds the container ref and where its root can be read: in its owner's
// (monitor's, or the foreground run's) namespaces while it runs, since mounting it a
// second time elsewhere would share its upper directory between two mounts; through
// the store otherwise.
func (s *Session) containerPlace(ref string) (layerRequest, Place, error) {
	r := s.Records()
	ct, err := r.Get(ref)
	if err != nil {
		return layerRequest{}, Nowhere, err
	}
	st, err := r.Current(ct.ID)
	if err != nil {
		return layerRequest{}, Nowhere, err
	}
	req := layerRequest{Container: ct.ID}
	if st.Status == container.StatusRunning && !s.Host.Inside {
		req.Joined = true
		return req, InMountsOf(st.MonitorPid), nil
	}
	return req, InStore, nil
}

// Diff is `diff CONTAINER|IMAGE`: what a container changed in its image (its writable
// layer against the image), or what an image's top layer changed in its parent layer,
// as Podman does. typ is "", "container" or "image"; a name is looked for among the
// containers first.
func (s *Session) Diff(ref, typ string) ([]Change, error) {
	var out []Change
	err := RunSplit(s, Split[layerRequest]{
		Name: "diff",
		Outside: func() (layerRequest, Place, error) {
			if typ != "image" {
				req, place, err := s.containerPlace(ref)
				if err == nil || typ == "container" || !errors.Is(err, container.ErrNotFound) {
					return req, place, err
				}
			}
			return layerRequest{Image: ref}, InStore, nil
		},
		Inside: func(req layerRequest) error {
			st, err := s.Store()
			if err != nil {
				return err
			}
			var changes []archive.Change
			if req.Container != "" {
				c, err := st.Container(req.Container)
				if err != nil {
					return fmt.Errorf("container %s: %w", images.ShortID(req.Container), err)
				}
				changes, err = st.Changes("", c.LayerID)
				if err != nil {
					return fmt.Errorf("reading the changes of container %s: %w", images.ShortID(req.Container), err)
				}
			} else {
				img, err := images.Resolve(st, req.Image)
				if err != nil {
					return err
				}
				if img.TopLayer == "" {
					out = []Change{}
					return nil // an image of no layers changes nothing
				}
				changes, err = st.Changes("", img.TopLayer)
				if err != nil {
					return fmt.Errorf("reading the changes of image %s: %w", images.ShortID(img.ID), err)
				}
			}
			out = containerChanges(changes, req.Container != "")
			return nil
		},
	})
	return out, err
}

// containerChanges turns the store's changes into diff's lines, sorted by path. Of a
// container's, hutch's own mount points are left out, and so is a directory changed
// only by their being made in it (C /etc for /etc/hosts): Docker keeps them in a layer
// of their own, and shows neither.
func containerChanges(changes []archive.Change, ofContainer bool) []Change {
	out := make([]Change, 0, len(changes))
	var made []string
	for _, c := range changes {
		p := filepath.Clean("/" + c.Path)
		if ofContainer && mountPoints[p] {
			made = append(made, p)
			continue
		}
		out = append(out, Change{Kind: c.Kind.String(), Path: p})
	}
	under := func(dir, p string) bool { return strings.HasPrefix(p, dir+"/") }
	kept := make([]Change, 0, len(out))
	for _, c := range out {
		if c.Kind == "C" && slices.ContainsFunc(made, func(m string) bool { return under(c.Path, m) }) &&
			!slices.ContainsFunc(out, func(o Change) bool { return under(c.Path, o.Path) }) {
			continue
		}
		kept = append(kept, c)
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Path < kept[j].Path })
	return kept
}

// Export is `export CONTAINER`: the container's root file system (without its volumes
// and bind mounts) as an uncompressed tar, to stdout or, with output, to that file
// (written beside it first and renamed over it when complete). The tar is written by
// go.podman.io/storage's chrooted archiver: the walk runs with the container's root as
// "/", so a symbolic link the container swaps in cannot lead it outside.
func (s *Session) Export(ref, output string, stdout io.Writer) error {
	return RunSplit(s, Split[layerRequest]{
		Name: "export",
		Outside: func() (layerRequest, Place, error) {
			req, place, err := s.containerPlace(ref)
			if err != nil {
				return req, place, err
			}
			if output != "" {
				// Absolute: joining the container's mount namespace moves the working
				// directory to its root.
				abs, err := filepath.Abs(output)
				if err != nil {
					return req, Nowhere, err
				}
				if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
					return req, Nowhere, fmt.Errorf("export -o %s: is a directory", output)
				}
				req.Output = abs
			}
			return req, place, nil
		},
		Inside: func(req layerRequest) error {
			rootfs, done, err := s.containerRoot(req)
			if err != nil {
				return err
			}
			defer done()
			rc, err := chrootarchive.Tar(rootfs, &archive.TarOptions{Compression: archive.Uncompressed}, rootfs)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer rc.Close()
			if req.Output == "" {
				if _, err := io.Copy(stdout, rc); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				return nil
			}
			f, err := os.CreateTemp(filepath.Dir(req.Output), ".hutch-export-")
			if err != nil {
				return fmt.Errorf("export -o %s: %w", req.Output, err)
			}
			defer os.Remove(f.Name())
			_, err = io.Copy(f, rc)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Chmod(f.Name(), 0o644)
			}
			if err == nil {
				err = os.Rename(f.Name(), req.Output)
			}
			if err != nil {
				return fmt.Errorf("export -o %s: %w", req.Output, err)
			}
			return nil
		},
	})
}

// containerRoot is where the container's root file system can be read in this process:
// where its owner mounted it (joined), or mounted through the store; done unmounts
// what was mounted.
func (s *Session) containerRoot(req layerRequest) (string, func(), error) {
	if req.Joined {
		st, err := s.Records().State(req.Container)
		if err != nil {
			return "", nil, err
		}
		if st.Rootfs == "" {
			return "", nil, fmt.Errorf("container %s: its record names no mounted root", images.ShortID(req.Container))
		}
		return st.Rootfs, func() {}, nil
	}
	m, err := s.Containers()
	if err != nil {
		return "", nil, err
	}
	rootfs, err := storage.Mount(m.Store, req.Container)
	if err != nil {
		return "", nil, fmt.Errorf("mounting container %s: %w", images.ShortID(req.Container), err)
	}
	return rootfs, func() { _, _ = m.Store.Unmount(req.Container, true) }, nil
}
