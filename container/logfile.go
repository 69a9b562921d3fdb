package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
)

// Log drivers (--log-driver). Every run is logged, in the foreground as detached: the
// detached monitor's C half (cmonitor/monitor.c) and a foreground `hutch run`
// (LogFile, below) write the same lines.
const (
	LogJSONFile = "json-file" // Docker's: {"log":"text\n","stream":"stdout","time":"RFC 3339"}
	LogK8sFile  = "k8s-file"  // Podman's: TIME stdout F text (P: a partial line)
	LogNone     = "none"      // nothing is kept
	LogJournald = "journald"  // refused: see ParseLogConfig
)

// JournalSocket is where systemd-journald listens.
var JournalSocket = "/run/systemd/journal/socket"

// LogConfig is --log-driver and --log-opt, as Docker's HostConfig.LogConfig.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config,omitempty"`
}

// Driver is the container's log driver; a record made before drivers existed is
// json-file.
func (c *Config) LogDriver() string {
	if c.LogConfig == nil || c.LogConfig.Type == "" {
		return LogJSONFile
	}
	return c.LogConfig.Type
}

// logLimits are max-size (bytes, 0: unbounded) and max-file (files kept, the current
// one included), as checked by ParseLogConfig.
func (c *Config) logLimits() (int64, int) {
	if c.LogConfig == nil {
		return 0, 1
	}
	var size int64
	if v := c.LogConfig.Config["max-size"]; v != "" {
		size, _ = units.RAMInBytes(v)
	}
	files := 1
	if v := c.LogConfig.Config["max-file"]; v != "" {
		files, _ = strconv.Atoi(v)
	}
	return size, files
}

// ParseLogConfig reads --log-driver (def when empty: config.toml's [containers]
// log_driver, else json-file) and --log-opt KEY=VALUE. journald is refused: hutch does
// not write to the journal.
func ParseLogConfig(driver string, opts []string, def string) (*LogConfig, error) {
	if driver == "" {
		driver = def
	}
	if driver == "" {
		driver = LogJSONFile
	}
	lc := &LogConfig{Type: driver}
	switch driver {
	case LogJSONFile, LogK8sFile, LogNone:
	case LogJournald:
		if _, err := os.Stat(JournalSocket); err != nil {
			return nil, fmt.Errorf("--log-driver journald: there is no journal on this machine (%s: %w; systemd-journald is not running): use --log-driver json-file (the default) or k8s-file, and read the output with `hutch logs`", JournalSocket, errors.Unwrap(err))
		}
		return nil, fmt.Errorf("--log-driver journald: hutch does not write to the journal yet: use --log-driver json-file (the default) or k8s-file, and read the output with `hutch logs`")
	default:
		return nil, fmt.Errorf("--log-driver %q: use json-file (Docker's format, the default), k8s-file (Podman's) or none", driver)
	}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--log-opt %q: expected KEY=VALUE, e.g. --log-opt max-size=10m", o)
		}
		if driver == LogNone {
			return nil, fmt.Errorf("--log-opt %q: the none log driver takes no options", o)
		}
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("--log-opt max-size=%s: a positive size, e.g. 10m or 512k", v)
			}
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("--log-opt max-file=%s: a whole number of files, 1 or more", v)
			}
		case "labels", "env", "tag":
		default:
			return nil, fmt.Errorf("--log-opt %q: hutch knows max-size, max-file, labels, env and tag", o)
		}
		if lc.Config == nil {
			lc.Config = map[string]string{}
		}
		lc.Config[k] = v
	}
	if lc.Config["max-file"] != "" && lc.Config["max-file"] != "1" && lc.Config["max-size"] == "" {
		return nil, fmt.Errorf("--log-opt max-file=%s needs --log-opt max-size too (the size past which the log is rotated)", lc.Config["max-file"])
	}
	return lc, nil
}

// LogEntry is one entry of a container's log.
type LogEntry struct {
	Time   time.Time
	Stream string
	Line   string // with its newline, unless the entry is a partial line
}

// parseLogLine reads one line of a log in any of the formats hutch writes or wrote:
// json-file, k8s-file, and hutch's own before log drivers ({"t","s","l"}).
func parseLogLine(b []byte) (LogEntry, bool) {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) > 0 && b[0] == '{' {
		var d struct {
			Log    *string   `json:"log"`
			Stream string    `json:"stream"`
			Time   time.Time `json:"time"`
			L      *string   `json:"l"`
			S      string    `json:"s"`
			T      time.Time `json:"t"`
		}
		if json.Unmarshal(b, &d) != nil {
			return LogEntry{}, false
		}
		switch {
		case d.Log != nil:
			return LogEntry{Time: d.Time, Stream: d.Stream, Line: *d.Log}, true
		case d.L != nil:
			return LogEntry{Time: d.T, Stream: d.S, Line: *d.L}, true
		}
		return LogEntry{}, false
	}
	// k8s-file: TIME STREAM F|P TEXT
	f := bytes.SplitN(b, []byte(" "), 4)
	if len(f) < 3 {
		return LogEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return LogEntry{}, false
	}
	e := LogEntry{Time: t, Stream: string(f[1])}
	if len(f) == 4 {
		e.Line = string(f[3])
	}
	if string(f[2]) != "P" {
		e.Line += "\n"
	}
	return e, true
}

// formatLogLine is one entry in a driver's format (monitor.c writes the same).
func formatLogLine(driver string, e LogEntry) []byte {
	stamp := e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z")
	if driver == LogK8sFile {
		tag, text := "P", e.Line
		if strings.HasSuffix(text, "\n") {
			tag, text = "F", text[:len(text)-1]
		}
		return []byte(stamp + " " + e.Stream + " " + tag + " " + text + "\n")
	}
	line, _ := json.Marshal(struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}{e.Line, e.Stream, stamp})
	return append(line, '\n')
}

// LogFile writes a foreground container's log, as the detached monitor does: one entry
// per line (a line longer than logChunk in pieces), rotated past max-size.
type LogFile struct {
	mu       sync.Mutex
	path     string
	driver   string
	max      int64
	files    int
	f        *os.File
	size     int64
	failed   bool
	partials map[string][]byte
}

// logChunk is the longest entry: a longer line is logged in pieces (monitor.c's CHUNK).
const logChunk = 32768

// OpenLog opens the log of container c for appending; nil with the none driver.
func (r *Records) OpenLog(c *Config) (*LogFile, error) {
	if c.LogDriver() == LogNone {
		return nil, nil
	}
	path := r.LogPath(c.ID)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	l := &LogFile{path: path, driver: c.LogDriver(), f: f, partials: map[string][]byte{}}
	l.max, l.files = c.logLimits()
	if fi, err := f.Stat(); err == nil {
		l.size = fi.Size()
	}
	return l, nil
}

// Write logs p as output of stream: complete lines at once, the rest when its line
// ends (or Flush).
func (l *LogFile) Write(stream string, p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := append(l.partials[stream], p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		l.entry(stream, buf[:i+1])
		buf = buf[i+1:]
	}
	for len(buf) >= logChunk {
		l.entry(stream, buf[:logChunk])
		buf = buf[logChunk:]
	}
	l.partials[stream] = append([]byte(nil), buf...)
}

// Close logs what is left of unfinished lines and closes the file.
func (l *LogFile) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range []string{"stdout", "stderr"} {
		if len(l.partials[s]) > 0 {
			l.entry(s, l.partials[s])
		}
	}
	l.partials = nil
	l.f.Close()
}

func (l *LogFile) entry(stream string, text []byte) {
	if l.failed {
		return
	}
	b := formatLogLine(l.driver, LogEntry{Time: time.Now(), Stream: stream, Line: string(text)})
	if l.max > 0 && l.size > 0 && l.size+int64(len(b)) > l.max {
		l.rotate()
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err != nil {
		l.failed = true // a full disk: the output still reaches the caller
	}
}

// rotate shifts PATH … PATH.N-2 to PATH.1 … PATH.N-1, as monitor.c's rotate.
func (l *LogFile) rotate() {
	if l.files <= 1 {
		if l.f.Truncate(0) == nil {
			l.size = 0
		}
		return
	}
	for i := l.files - 1; i > 1; i-- {
		_ = os.Rename(l.path+"."+strconv.Itoa(i-1), l.path+"."+strconv.Itoa(i))
	}
	if os.Rename(l.path, l.path+".1") != nil {
		return
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	l.f.Close()
	l.f, l.size = f, 0
}

// StreamWriter is the io.Writer of one stream into the log.
func (l *LogFile) StreamWriter(stream string) io.Writer { return streamWriter{l, stream} }

type streamWriter struct {
	l      *LogFile
	stream string
}

func (w streamWriter) Write(p []byte) (int, error) { w.l.Write(w.stream, p); return len(p), nil }

// LogDetails are the attributes `logs --details` shows before each line: the labels
// and environment variables --log-opt labels=… and env=… name, as Docker's
// "key=value,…" (values URL-escaped).
func (c *Config) LogDetails() string {
	if c.LogConfig == nil {
		return ""
	}
	attrs := map[string]string{}
	for _, k := range splitList(c.LogConfig.Config["labels"]) {
		if v, ok := c.Labels[k]; ok {
			attrs[k] = v
		}
	}
	for _, k := range splitList(c.LogConfig.Config["env"]) {
		for _, e := range c.Env {
			if ek, v, _ := strings.Cut(e, "="); ek == k {
				attrs[k] = v
			}
		}
	}
	if t := c.LogConfig.Config["tag"]; t != "" {
		attrs["tag"] = t
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(attrs[k]))
	}
	return strings.Join(parts, ",")
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
