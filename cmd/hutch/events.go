package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"hutch.dev/hutch/container"
	"hutch.dev/hutch/events"
)

// eventFilterValues complete --filter of events.
var eventFilterValues = []string{"type=container", "type=image", "type=volume", "event=", "container=", "image=", "volume=", "label="}

func newEventsCommand(a *app) *cobra.Command {
	var since, until, format string
	var filters []string
	var stream bool
	c := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Show what hutch did: containers, images and volumes, live (and past events with --since)",
		Long: `Show the events of your hutch commands and of your detached containers' monitors,
as they happen. With --since or --until (or --stream=false) the events already in the
log are shown first; the log keeps the last few thousand events (docs/commands.md).`,
		Example: `  hutch events
  hutch events --since 10m --until 0s
  hutch events --filter type=container --filter event=die --format '{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}'
  hutch events --stream=false --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := events.ParseFilters(filters)
			if err != nil {
				return err
			}
			now := time.Now()
			var w events.Window
			if w.Since, err = container.ParseTime(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if w.Until, err = container.ParseTime(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			if !w.Since.IsZero() && !w.Until.IsZero() && w.Since.After(w.Until) {
				return fmt.Errorf("--since %s is after --until %s", since, until)
			}
			print, err := eventPrinter(cmd.OutOrStdout(), format)
			if err != nil {
				return err
			}
			history := since != "" || until != "" || !stream
			return a.sess.Events().Follow(w, history, stream, func(m events.Message) error {
				if !f.Match(&m) {
					return nil
				}
				return print(&m)
			})
		},
	}
	fl := c.Flags()
	fl.StringVar(&since, "since", "", "show events since a time (RFC 3339, Unix time, or a duration back from now like 10m)")
	fl.StringVar(&until, "until", "", "stop at a time (RFC 3339, Unix time, or a duration back from now); one in the past prints and exits")
	stringArrayVarP(fl, &filters, "filter", "f", "filter: type=, event=, container=, image=, volume=, label=KEY[=VALUE] (keys ANDed, values of a key ORed)")
	fl.StringVar(&format, "format", "", "Go template (fields .Type .Action .Actor.ID .Actor.Attributes .Time .TimeNano .Status .ID .From .Scope), or json")
	fl.BoolVar(&stream, "stream", true, "keep following; --stream=false prints the events in the log and exits")
	return c
}

// eventPrinter prints one event: as Docker does by default (the time, type, action, the
// actor's ID and its attributes), as a JSON line, or through a Go template.
func eventPrinter(w io.Writer, format string) (func(*events.Message) error, error) {
	switch format {
	case "":
		return func(m *events.Message) error {
			var b strings.Builder
			b.WriteString(m.When().Format("2006-01-02T15:04:05.000000000Z07:00"))
			fmt.Fprintf(&b, " %s %s %s", m.Type, m.Action, m.Actor.ID)
			if len(m.Actor.Attributes) > 0 {
				keys := make([]string, 0, len(m.Actor.Attributes))
				for k := range m.Actor.Attributes {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for i, k := range keys {
					sep := ", "
					if i == 0 {
						sep = " ("
					}
					b.WriteString(sep + k + "=" + m.Actor.Attributes[k])
				}
				b.WriteString(")")
			}
			b.WriteString("\n")
			_, err := io.WriteString(w, b.String())
			return err
		}, nil
	case "json", "{{json .}}":
		return func(m *events.Message) error {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(m); err != nil {
				return err
			}
			_, err := w.Write(b.Bytes())
			return err
		}, nil
	}
	t, _, err := parseTemplate(format)
	if err != nil {
		return nil, err
	}
	return func(m *events.Message) error {
		var b bytes.Buffer
		if err := t.Execute(&b, m); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	}, nil
}
