package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/engine"
	"hutch.dev/hutch/images"
	"hutch.dev/hutch/volumes"
)

func newDiffCommand(a *app) *cobra.Command { return diffCommand(a, "") }

func newContainerDiffCommand(a *app) *cobra.Command { return diffCommand(a, "container") }

func newImageDiffCommand(a *app) *cobra.Command { return diffCommand(a, "image") }

// diffCommand is `diff`, `container diff` (typ "container") and `image diff` ("image").
func diffCommand(a *app, typ string) *cobra.Command {
	var format string
	what := map[string]string{"": "CONTAINER|IMAGE", "container": "CONTAINER", "image": "IMAGE"}[typ]
	short := map[string]string{
		"":          "Show what a container changed in its image (or an image's top layer in its parent): A added, C changed, D deleted",
		"container": "Show what a container changed in its image: A added, C changed, D deleted",
		"image":     "Show what an image's top layer changed in the layer under it: A added, C changed, D deleted",
	}[typ]
	c := &cobra.Command{
		Use:   "diff [OPTIONS] " + what,
		Short: short,
		Example: `  hutch diff web
  hutch diff --format json web
  hutch image diff demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "json" {
				return fmt.Errorf("--format %q: diff prints json, or A/C/D lines without --format", format)
			}
			changes, err := a.sess.Diff(args[0], typ)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				// Podman's shape: the paths by kind, a kind without any left out.
				type byKind struct {
					Changed []string `json:"changed,omitempty"`
					Added   []string `json:"added,omitempty"`
					Deleted []string `json:"deleted,omitempty"`
				}
				var j byKind
				for _, ch := range changes {
					switch ch.Kind {
					case "C":
						j.Changed = append(j.Changed, ch.Path)
					case "A":
						j.Added = append(j.Added, ch.Path)
					case "D":
						j.Deleted = append(j.Deleted, ch.Path)
					}
				}
				return printJSON(out, j)
			}
			for _, ch := range changes {
				fmt.Fprintf(out, "%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "", "json: the paths as {\"changed\": […], \"added\": […], \"deleted\": […]} (Podman's)")
	return c
}

func newExportCommand(a *app) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Write a container's file system (without its volumes) as a tar archive",
		Example: `  hutch export web > web.tar
  hutch export -o web.tar web
  hutch export web | tar t`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return fmt.Errorf("refusing to write a tar archive to a terminal: use -o FILE or redirect standard output (hutch export %s > %s.tar)", args[0], args[0])
			}
			return a.sess.Export(args[0], output, os.Stdout)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return c
}

// historyRow is one line of `hutch history`, with Docker's template fields (and
// Podman's .Tags).
type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment, Tags string
}

var historyHeader = map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT", "Tags": "TAGS"}

func newHistoryCommand(a *app) *cobra.Command {
	var noTrunc, quiet, human bool
	var format string
	c := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the steps that made an image, newest first, with the size of each",
		Example: `  hutch history demo
  hutch history --no-trunc -H=false demo
  hutch history --format '{{.CreatedBy}} {{.Size}}' demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.sess.Store()
			if err != nil {
				return err
			}
			img, err := images.Resolve(s, args[0])
			if err != nil {
				return err
			}
			steps, err := images.ImageHistory(s, img)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, steps)
			}
			rows := historyRows(steps, !noTrunc, human, time.Now())
			if quiet {
				format = "{{.ID}}"
			}
			if format == "" {
				format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			}
			return printRows(out, format, historyHeader, rows)
		},
	}
	f := c.Flags()
	f.BoolVar(&noTrunc, "no-trunc", false, "show full IDs and steps")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs (<missing> for steps no image of the store ended)")
	f.BoolVarP(&human, "human", "H", true, "sizes and dates for people (false: bytes and RFC 3339 times)")
	f.StringVar(&format, "format", "", "Go template (fields .ID .CreatedSince .CreatedAt .CreatedBy .Size .Comment .Tags), 'table TEMPLATE', or json")
	return onStore(c)
}

// historyRows formats steps as Docker's history does: trunc shortens IDs to 12
// characters and steps to 45; human gives "2 weeks ago" and "1.2MB" rather than RFC 3339
// times and bytes.
func historyRows(steps []images.HistoryEntry, trunc, human bool, now time.Time) []historyRow {
	rows := make([]historyRow, 0, len(steps))
	for _, st := range steps {
		r := historyRow{ID: "<missing>", Comment: st.Comment, Tags: strings.Join(st.Tags, ", ")}
		if st.ID != "" {
			r.ID = "sha256:" + st.ID
			if trunc {
				r.ID = images.ShortID(st.ID)
			}
		}
		r.CreatedAt = "N/A"
		if !st.Created.IsZero() {
			r.CreatedAt = st.Created.Local().Format(time.RFC3339)
		}
		r.CreatedSince = r.CreatedAt
		if human && !st.Created.IsZero() {
			r.CreatedSince = units.HumanDuration(now.Sub(st.Created)) + " ago"
		}
		r.CreatedBy = strings.ReplaceAll(st.CreatedBy, "\t", " ")
		if trunc {
			r.CreatedBy = ellipsis(r.CreatedBy, 45)
		}
		r.Size = strconv.FormatInt(st.Size, 10)
		if human {
			r.Size = humanSize(st.Size)
		}
		rows = append(rows, r)
	}
	return rows
}

// ellipsis shortens s to n characters, the last one "…", as Docker's columns do.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func newUntagCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "untag IMAGE [NAME...]",
		Short: "Remove names from an image (all of them when none is given); the image stays",
		Example: `  hutch untag demo demo:v1
  hutch untag demo                 # every name: the image is left unnamed (dangling)`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, unlock, err := a.sess.LockedStore()
			if err != nil {
				return err
			}
			defer unlock()
			_, err = images.Untag(s, args[0], args[1:])
			return err
		},
	}
	return onStore(c)
}

// exists ends `container|image|volume exists`: status 0 when found, 1 when not (nothing
// printed), and an engine error (125, said) for anything else.
func exists(err error, notFound error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, notFound) {
		return exitCode(1)
	}
	return err
}

func newContainerExistsCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "exists CONTAINER",
		Short:   "Exit 0 if the container exists, 1 if not (nothing printed)",
		Example: "  hutch container exists web && echo yes",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := a.sess.Records().Get(args[0])
			return exists(err, container.ErrNotFound)
		},
	}
}

func newImageExistsCommand(a *app) *cobra.Command {
	return onStore(&cobra.Command{
		Use:     "exists IMAGE",
		Short:   "Exit 0 if the image is in the store, 1 if not (nothing printed)",
		Example: "  hutch image exists demo || hutch pull demo",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.sess.Store()
			if err != nil {
				return err
			}
			_, err = images.Resolve(s, args[0])
			return exists(err, images.ErrNotFound)
		},
	})
}

func newVolumeExists(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "exists VOLUME",
		Short:   "Exit 0 if the volume exists, 1 if not (nothing printed)",
		Example: "  hutch volume exists data || hutch volume create data",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := a.sess.Volumes().Get(args[0])
			return exists(err, volumes.ErrNotFound)
		},
	}
}

// newImageInspectCommand is `image inspect`: images only, as Docker's.
func newImageInspectCommand(a *app) *cobra.Command {
	return typedInspect(newInspectCommand(a), "image", "inspect [OPTIONS] IMAGE [IMAGE...]", "Show details of images as JSON (Docker's shape)")
}

// newContainerInspectCommand is `container inspect`: containers only, as Docker's.
func newContainerInspectCommand(a *app) *cobra.Command {
	return typedInspect(newInspectCommand(a), "container", "inspect [OPTIONS] CONTAINER [CONTAINER...]", "Show details of containers as JSON (Docker's shape)")
}

func typedInspect(c *cobra.Command, typ, use, short string) *cobra.Command {
	c.Use, c.Short = use, short
	f := c.Flags().Lookup("type")
	_ = f.Value.Set(typ)
	f.DefValue = typ
	f.Hidden = true
	return c
}

func newCommitCommand(a *app) *cobra.Command {
	var o engine.CommitOptions
	var quiet bool
	c := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [IMAGE[:TAG]]",
		Short: "Make an image of a container's changes (a running one is paused while its layer is read)",
		Example: `  hutch commit web web-snapshot
  hutch commit -m 'with the cache warmed' -a 'Ann <ann@example.com>' web web:warm
  hutch commit -c 'CMD ["/srv/start"]' -c 'ENV MODE=prod' web web:prod
  hutch commit --squash web web:flat`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				o.Name = args[1]
			}
			out := cmd.OutOrStdout()
			o.Done = func(id string) {
				if quiet {
					fmt.Fprintln(out, id)
				} else {
					fmt.Fprintln(out, "sha256:"+id)
				}
			}
			return a.sess.Commit(args[0], o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Author, "author", "a", "", `the image's author (e.g. "Ann <ann@example.com>")`)
	f.StringVarP(&o.Message, "message", "m", "", "commit message, in the image's history and its comment")
	stringArrayVarP(f, &o.Changes, "change", "c", "apply a Dockerfile instruction to the image: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR")
	f.BoolVarP(&o.Pause, "pause", "p", true, "pause a running container while its layer is read")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image ID")
	f.StringVarP(&o.Format, "format", "f", "oci", "the image's manifest format: oci or docker")
	f.BoolVar(&o.Squash, "squash", false, "one layer of the whole file system instead of a layer on top of the image's")
	return c
}
