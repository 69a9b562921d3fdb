package main

import (
	"io"
	"testing"
)

// FuzzFormat runs any --format template over ps-like rows: no panic (a bad template is
// an error that names --format).
//
//	go test -run '^$' -fuzz FuzzFormat -fuzztime 10m ./cmd/hutch/
func FuzzFormat(f *testing.F) {
	for _, s := range []string{
		"{{.ID}}", "table {{.ID}}\t{{.Names}}", "{{json .}}", "{{join .Args \",\"}}", "{{upper .Names}} {{title .Status}}",
		"{{range .Args}}{{.}}{{end}}", "{{.Nope}}", "{{", "{{template \"x\"}}", "{{define \"x\"}}{{template \"x\"}}{{end}}{{template \"x\"}}",
		"{{len .Args}}", "{{index .Args 5}}", "{{printf \"%*d\" 1000000000 1}}", `\t\n{{.State}}`,
	} {
		f.Add(s)
	}
	type row struct {
		ID, Names, Status, State string
		Args                     []string
	}
	rows := []row{{ID: "3f2a1b4c5d6e", Names: "web", Status: "Up 2 seconds", State: "running", Args: []string{"httpd", "-f"}}, {ID: "0123456789ab", Names: "x"}}
	header := map[string]string{"ID": "CONTAINER ID", "Names": "NAMES", "Status": "STATUS", "State": "STATE"}
	f.Fuzz(func(t *testing.T, format string) {
		_ = printRows(io.Discard, format, header, rows)
	})
}
