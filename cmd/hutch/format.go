package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	units "github.com/docker/go-units"
)

// printJSON writes v as indented JSON, as `--format json` and inspect do.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// parseTemplate compiles a --format Go template; "table …" prints a header row first.
func parseTemplate(format string) (*template.Template, bool, error) {
	table := false
	if rest, ok := strings.CutPrefix(format, "table"); ok {
		table, format = true, strings.TrimSpace(rest)
	}
	format = strings.ReplaceAll(format, `\t`, "\t")
	format = strings.ReplaceAll(format, `\n`, "\n")
	t, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, false, fmt.Errorf("--format: %w", err)
	}
	return t, table, nil
}

// printRows prints rows through a --format template (or a table template with header),
// one line per row, in aligned columns.
func printRows[T any](w io.Writer, format string, header map[string]string, rows []T) error {
	t, table, err := parseTemplate(format)
	if err != nil {
		return err
	}
	// tabwriter writes each cell on its own: buffered, a thousand rows are a few
	// writes instead of ten thousand.
	bw := bufio.NewWriterSize(w, 64<<10)
	tw := tabwriter.NewWriter(bw, 0, 8, 3, ' ', 0)
	if table {
		// The header is the same template applied to the column names.
		var hb strings.Builder
		if err := t.Execute(&hb, header); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		fmt.Fprintln(tw, hb.String())
	}
	for _, r := range rows {
		var b strings.Builder
		if err := t.Execute(&b, r); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		fmt.Fprintln(tw, b.String())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// humanSize prints bytes as Docker does (SI units, three significant digits).
func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// since prints how long ago t was, as Docker's CREATED column does.
func since(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}
