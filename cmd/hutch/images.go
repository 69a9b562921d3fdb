package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.podman.io/image/v5/docker/reference"
	"golang.org/x/term"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/internal/fsutil"
)

// imageRow is one line of `hutch images`, with the fields --format templates use.
type imageRow struct {
	ID           string
	Repository   string
	Tag          string
	Digest       string
	CreatedSince string
	CreatedAt    string
	Size         string

	created time.Time // for --sort
	size    int64
	fullID  string
}

var imagesHeader = map[string]string{"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG",
	"Digest": "DIGEST", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE"}

func newImagesCommand(a *app) *cobra.Command {
	var all, quiet, digests, noTrunc, noHeading bool
	var format, sortBy string
	var filters []string
	c := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images in the local store",
		Example: `  hutch images
  hutch images -q
  hutch images --filter dangling=true -q
  hutch images --filter reference='me/*' --filter label=team=web --sort size
  hutch images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
  hutch images --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			less, err := imageSorter(sortBy)
			if err != nil {
				return err
			}
			filter, err := images.ParseFilter(filters, images.ListFilterKeys, time.Now())
			if err != nil {
				return err
			}
			s, err := a.sess.Store()
			if err != nil {
				return err
			}
			cat, err := images.ReadCatalog(s)
			if err != nil {
				return err
			}
			selected, err := images.Select(s, cat, filter)
			if err != nil {
				return err
			}
			var list []images.Summary
			for _, sum := range selected {
				if sum.Intermediate && !all {
					continue
				}
				if len(args) == 1 && !matchesRepo(sum.Names, args[0]) {
					continue
				}
				list = append(list, sum)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				if list == nil {
					list = []images.Summary{}
				}
				for i := range list {
					list[i].Names = filter.Names(list[i].Names)
				}
				sort.SliceStable(list, func(i, j int) bool { return less(summaryRow(list[i]), summaryRow(list[j])) })
				return printJSON(out, list)
			}
			var rows []imageRow
			for _, sum := range list {
				id := images.ShortID(sum.ID)
				if noTrunc {
					id = "sha256:" + sum.ID
				}
				base := imageRow{ID: id, Digest: orNone(sum.Digest), CreatedSince: since(sum.Created),
					CreatedAt: sum.Created.Format("2006-01-02 15:04:05 -0700 MST"), Size: humanSize(sum.Size),
					created: sum.Created, size: sum.Size, fullID: sum.ID}
				if len(sum.Names) == 0 {
					base.Repository, base.Tag = "<none>", "<none>"
					rows = append(rows, base)
				}
				for _, n := range filter.Names(sum.Names) {
					if len(args) == 1 && !matchesRepo([]string{n}, args[0]) {
						continue
					}
					r := base
					r.Repository, r.Tag = splitName(n)
					rows = append(rows, r)
				}
			}
			sort.SliceStable(rows, func(i, j int) bool { return less(rows[i], rows[j]) })
			if quiet {
				seen := map[string]bool{}
				for _, r := range rows {
					if !seen[r.ID] {
						seen[r.ID] = true
						fmt.Fprintln(out, r.ID)
					}
				}
				return nil
			}
			if format == "" {
				format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
				if digests {
					format = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
				}
			}
			if noHeading {
				format = withoutHeading(format)
			}
			return printRows(out, format, imagesHeader, rows)
		},
	}
	f := c.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all images, including intermediate build steps")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&digests, "digests", false, "show manifest digests")
	f.BoolVar(&noTrunc, "no-trunc", false, "show full image IDs")
	stringArrayVarP(f, &filters, "filter", "f", "filter (repeatable; different keys must all match): dangling=true|false, reference=PATTERN, label=KEY[=VALUE], label!=KEY[=VALUE], before=IMAGE, since=IMAGE, id=ID, until=TIME")
	f.StringVar(&sortBy, "sort", "created", "sort by created (newest first), id, repository, size or tag")
	f.BoolVarP(&noHeading, "noheading", "n", false, "print no header line")
	f.StringVar(&format, "format", "", "Go template for each image (fields: .ID .Repository .Tag .Digest .CreatedSince .CreatedAt .Size), 'table TEMPLATE', or json")
	return onStore(c)
}

// imageSorter is --sort's order of rows (Podman's keys); the sort is stable, so rows
// equal by the key stay newest first.
func imageSorter(key string) (func(a, b imageRow) bool, error) {
	switch key {
	case "created", "":
		return func(a, b imageRow) bool { return a.created.After(b.created) }, nil
	case "id":
		return func(a, b imageRow) bool { return a.fullID < b.fullID }, nil
	case "repository":
		return func(a, b imageRow) bool { return a.Repository < b.Repository }, nil
	case "tag":
		return func(a, b imageRow) bool { return a.Tag < b.Tag }, nil
	case "size":
		return func(a, b imageRow) bool { return a.size < b.size }, nil
	}
	return nil, fmt.Errorf("--sort %q: sort by created, id, repository, size or tag", key)
}

// summaryRow is what --sort compares of an image listed as JSON: its first name.
func summaryRow(s images.Summary) imageRow {
	r := imageRow{created: s.Created, size: s.Size, fullID: s.ID, Repository: "<none>", Tag: "<none>"}
	if len(s.Names) > 0 {
		r.Repository, r.Tag = splitName(s.Names[0])
	}
	return r
}

// withoutHeading drops the header line of a table format (--noheading).
func withoutHeading(format string) string {
	if rest, ok := strings.CutPrefix(format, "table"); ok {
		return strings.TrimSpace(rest)
	}
	return format
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// splitName splits "localhost/foo:1" into repository and tag.
func splitName(n string) (string, string) {
	named, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		return n, "<none>"
	}
	tag := "<none>"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return named.Name(), tag
}

// matchesRepo reports whether one of names is the repository (or repository:tag) given.
func matchesRepo(names []string, want string) bool {
	for _, n := range names {
		repo, tag := splitName(n)
		for _, cand := range []string{repo, repo + ":" + tag} {
			if cand == want || strings.HasSuffix(cand, "/"+want) {
				return true
			}
		}
	}
	return false
}

func newRmiCommand(a *app) *cobra.Command {
	var o images.RemoveOptions
	var all bool
	c := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove images (and their unnamed parents)",
		Example: `  hutch rmi localhost/demo:latest
  hutch rmi -f 3f2a1b
  hutch rmi --no-prune demo        # keep the unnamed images it was built on
  hutch rmi -a                     # every image no container uses`,
		Args: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return fmt.Errorf("rmi -a removes every image: name none (or leave out -a)")
			}
			if !all && len(args) == 0 {
				return fmt.Errorf("rmi: name an image (or use -a for all of them)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, unlock, err := a.sess.LockedStore()
			if err != nil {
				return err
			}
			defer unlock()
			m, err := a.sess.Containers()
			if err != nil {
				return err
			}
			// A container the image takes with it (-f) goes with its records too.
			o.RemoveContainer = func(id string) error { return m.RemoveRef(id, false) }
			o.MountedBy = m.ImageMountUsers
			report := func(res *images.Removal) {
				for _, u := range res.Untagged {
					fmt.Fprintln(cmd.OutOrStdout(), "Untagged: "+u)
				}
				for _, d := range res.Deleted {
					fmt.Fprintln(cmd.OutOrStdout(), "Deleted: "+d)
				}
			}
			failed := false
			if all {
				res, errs := images.RemoveAll(s, o)
				report(res)
				for _, err := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), "Error: "+a.explain(err).Error())
					failed = true
				}
			}
			for _, ref := range args {
				res, err := images.Remove(s, ref, o)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "Error: "+a.explain(err).Error())
					failed = true
					continue
				}
				report(res)
			}
			if failed {
				return exitCode(1)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&o.Force, "force", "f", false, "remove the image even when it has several names or containers use it (the containers are removed too)")
	c.Flags().BoolVarP(&all, "all", "a", false, "remove every image (those containers use only with -f)")
	c.Flags().BoolVar(&o.NoPrune, "no-prune", false, "keep the unnamed parent images")
	return onStore(c)
}

func newTagCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "tag SOURCE_IMAGE TARGET_IMAGE [TARGET_IMAGE...]",
		Short: "Give an image more names",
		Example: `  hutch tag demo demo:v1
  hutch tag demo 127.0.0.1:5000/me/demo:v1`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, unlock, err := a.sess.LockedStore()
			if err != nil {
				return err
			}
			defer unlock()
			_, err = images.Tag(s, args[0], args[1:])
			return err
		},
	}
	return onStore(c)
}

func newLoadCommand(a *app) *cobra.Command {
	var input string
	var quiet bool
	c := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a docker-archive or oci-archive (detected)",
		Example: `  hutch load -i busybox.tar
  hutch load < image.oci.tar`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.sess.Store()
			if err != nil {
				return err
			}
			path := input
			if path == "" {
				if term.IsTerminal(int(os.Stdin.Fd())) {
					return fmt.Errorf("no archive given: use `hutch load -i FILE` or pipe the archive into `hutch load`")
				}
				// The archive readers need a file: spool stdin to the store's tmp dir.
				tmp, err := spool(os.Stdin, filepath.Join(s.Options.GraphRoot, "tmp"))
				if err != nil {
					return err
				}
				defer os.Remove(tmp)
				path = tmp
			}
			l, err := a.sess.Host.LockStore()
			if err != nil {
				return err
			}
			defer l.Unlock()
			svc := &images.Service{Store: s, Sys: a.sess.SystemContext(false)}
			loaded, err := svc.Load(context.Background(), path)
			if err != nil {
				if input == "" {
					return errors.New(strings.ReplaceAll(err.Error(), path, "standard input"))
				}
				return err
			}
			for _, li := range loaded {
				if quiet {
					continue
				}
				if len(li.Names) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "Loaded image: sha256:"+li.ID)
				}
				for _, n := range li.Names {
					fmt.Fprintln(cmd.OutOrStdout(), "Loaded image: "+n)
				}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&input, "input", "i", "", "read from this archive file instead of standard input")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return onStore(c)
}

// spool copies r into a new file in dir and returns its path.
func spool(r io.Reader, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := fsutil.CreateTempOwned(dir, images.SpoolTempPrefix)
	if err != nil {
		return "", err
	}
	// Within the free space of the store's file system (fsutil.Budget).
	budget, err := fsutil.NewBudget(dir)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if _, err := io.Copy(budget.Writer(f, "standard input"), r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("reading standard input: %w", err)
	}
	return f.Name(), f.Close()
}

func newSaveCommand(a *app) *cobra.Command {
	var output, format string
	c := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save images to an archive",
		Example: `  hutch save -o demo.tar demo
  hutch save --format oci-archive -o demo.oci.tar demo
  hutch save demo other > both.tar`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return fmt.Errorf("refusing to write an archive to a terminal: use -o FILE or redirect standard output")
			}
			s, err := a.sess.Store()
			if err != nil {
				return err
			}
			svc := &images.Service{Store: s, Sys: a.sess.SystemContext(false)}
			// The archive is written next to its destination and renamed over it when
			// complete: a failed save leaves whatever was there before untouched.
			dir := filepath.Join(s.Options.GraphRoot, "tmp")
			dest := ""
			if output != "" {
				abs, err := filepath.Abs(output)
				if err != nil {
					return err
				}
				dest, dir = abs, filepath.Dir(abs)
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			// (What a killed save left there goes first.)
			fsutil.RemoveDeadOwned(dir, images.SaveTempPrefix)
			tmp, err := fsutil.MkdirTempOwned(dir, images.SaveTempPrefix)
			if err != nil {
				return fmt.Errorf("save: %w", err)
			}
			defer os.RemoveAll(tmp)
			path := filepath.Join(tmp, "archive.tar")
			if err := svc.Save(context.Background(), path, format, args); err != nil {
				return err
			}
			if dest != "" {
				if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
					return fmt.Errorf("save -o %s: is a directory", output)
				}
				if err := os.Chmod(path, 0o644); err != nil {
					return err
				}
				return os.Rename(path, dest)
			}
			if output == "" {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(cmd.OutOrStdout(), f)
				return err
			}
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	c.Flags().StringVar(&format, "format", images.FormatDocker, "archive format: docker-archive or oci-archive")
	return onStore(c)
}

func newImportCommand(a *app) *cobra.Command {
	var changes []string
	var message string
	var quiet bool
	c := &cobra.Command{
		Use:   "import [OPTIONS] TARBALL|- [IMAGE[:TAG]]",
		Short: "Make a one-layer image from a root file system tarball",
		Example: `  tar -C rootfs -c . | hutch import - demo
  hutch import --change 'CMD ["/bin/sh"]' --change 'ENV LANG=C.UTF-8' rootfs.tar.gz demo:1`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = os.Stdin
			source := args[0]
			if source != "-" {
				f, err := os.Open(source)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			} else if term.IsTerminal(int(os.Stdin.Fd())) {
				return fmt.Errorf("import -: standard input is a terminal; pipe a tarball in (tar -C rootfs -c . | hutch import - NAME)")
			}
			name := ""
			if len(args) == 2 {
				name = args[1]
				if _, err := images.NormalizeLocal(name); err != nil {
					return err
				}
			}
			s, unlock, err := a.sess.LockedStore()
			if err != nil {
				return err
			}
			defer unlock()
			svc := &images.Service{Store: s, Sys: a.sess.SystemContext(false)}
			res, err := svc.Import(context.Background(), r, images.ImportOptions{
				Name: name, Changes: changes, Message: message, Source: source,
				TmpDir: filepath.Join(s.Options.GraphRoot, "tmp"),
			})
			if err != nil {
				return err
			}
			if len(res.Skipped) > 0 {
				shown := res.Skipped
				if len(shown) > 5 {
					shown = append(shown[:5:5], "…")
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "hutch: warning: left out %d device node(s) (%s): an unprivileged user cannot create device nodes; containers get /dev from hutch at run time\n",
					len(res.Skipped), strings.Join(shown, ", "))
			}
			if quiet {
				fmt.Fprintln(cmd.OutOrStdout(), res.ID)
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "sha256:"+res.ID)
			}
			return nil
		},
	}
	stringArrayVarP(c.Flags(), &changes, "change", "c", "apply a Dockerfile instruction to the image: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR")
	c.Flags().StringVarP(&message, "message", "m", "", "commit message for the image's history")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image ID")
	return onStore(c)
}

func newInspectCommand(a *app) *cobra.Command {
	var format, typ string
	var size bool
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Show details of containers, images, volumes or networks as JSON (Docker's shape)",
		Example: `  hutch inspect demo
  hutch inspect --format '{{.Config.Cmd}}' demo
  hutch inspect -f '{{.State.Status}}' web
  hutch inspect -s -f '{{.SizeRw}}' web
  hutch inspect --type volume data`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch typ {
			case "", "image", "container", "volume", "network":
			default:
				return fmt.Errorf("--type %q: use container, image, volume or network", typ)
			}
			// A --format given twice: the last one, as with Docker (pflag keeps it).
			out, err := a.sess.Inspect(args, typ, size)
			if err != nil {
				return err
			}
			if format == "" || format == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			return printRows(cmd.OutOrStdout(), format, nil, out)
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Go template applied to each result, or json (the default); given twice, the last one")
	c.Flags().StringVar(&typ, "type", "", "what to inspect: container, image, volume or network (default: a container of that name, else an image, a volume, a network)")
	c.Flags().BoolVarP(&size, "size", "s", false, "add the sizes of containers: SizeRw (their writable layer) and SizeRootFs (with their image)")
	return c
}
