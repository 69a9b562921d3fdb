package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A test binary started with writerEnv set is one of the writer processes of
// TestConcurrentWriters: it appends its events and exits.
const writerEnv = "HUTCH_EVENTS_TEST_WRITER"

// With firstEnv set, it is the child of TestFirstAppendCost.
const firstEnv = "HUTCH_EVENTS_TEST_FIRST"

func TestMain(m *testing.M) {
	if v := os.Getenv(writerEnv); v != "" {
		os.Exit(writerMain(v))
	}
	if v := os.Getenv(firstEnv); v != "" {
		os.Exit(firstMain(v))
	}
	os.Exit(m.Run())
}

// writerMain is DIR LIMIT WRITER COUNT GOROUTINES: COUNT events from each of GOROUTINES
// goroutines, named WRITER/G, numbered 0…COUNT-1.
func writerMain(spec string) int {
	f := strings.Fields(spec)
	limit, _ := strconv.ParseInt(f[1], 10, 64)
	count, _ := strconv.Atoi(f[3])
	gs, _ := strconv.Atoi(f[4])
	l := &Log{Dir: f[0], Limit: limit}
	var wg sync.WaitGroup
	var failed sync.Once
	code := 0
	for g := 0; g < gs; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < count; i++ {
				if err := l.Append(seqEvent(fmt.Sprintf("%s/%d", f[2], g), i)); err != nil {
					failed.Do(func() { fmt.Fprintln(os.Stderr, err); code = 1 })
					return
				}
			}
		}(g)
	}
	wg.Wait()
	return code
}

// seqEvent is event number i of writer w, with an attribute to give the line some
// length.
func seqEvent(w string, i int) Message {
	return New(TypeContainer, Start, w, map[string]string{"name": w, "seq": strconv.Itoa(i),
		"image": "localhost/some-image:latest", "pad": strings.Repeat("x", 80)}, time.Now())
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: a torn line", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func collect(t *testing.T, l *Log, w Window) []Message {
	t.Helper()
	var out []Message
	if err := l.Read(w, func(m Message) error { out = append(out, m); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendRead(t *testing.T) {
	l := At(filepath.Join(t.TempDir(), "events")) // made by the first append
	Use(l)
	defer Use(nil)
	Container(Die, "c1", "web", "localhost/demo:latest", map[string]string{"tier": "front", "name": "label-loses"}, "exitCode", "3")
	Image(Tag, strings.Repeat("ab", 32), "localhost/demo:v1")
	Volume(Create, "data", "local")
	got := collect(t, l, Window{})
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3: %+v", len(got), got)
	}
	c := got[0]
	if c.Type != "container" || c.Action != "die" || c.Actor.ID != "c1" || c.Status != "die" || c.ID != "c1" ||
		c.From != "localhost/demo:latest" || c.Scope != "local" {
		t.Errorf("container event: %+v", c)
	}
	for k, v := range map[string]string{"name": "web", "image": "localhost/demo:latest", "exitCode": "3", "tier": "front"} {
		if c.Actor.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, c.Actor.Attributes[k], v)
		}
	}
	if c.Time == 0 || c.TimeNano/1e9 != c.Time {
		t.Errorf("time %d, timeNano %d", c.Time, c.TimeNano)
	}
	img := got[1]
	if img.Actor.ID != "sha256:"+strings.Repeat("ab", 32) || img.ID != img.Actor.ID || img.Actor.Attributes["name"] != "localhost/demo:v1" || img.From != "" {
		t.Errorf("image event: %+v", img)
	}
	v := got[2]
	if v.Type != "volume" || v.Actor.ID != "data" || v.Actor.Attributes["driver"] != "local" || v.Status != "" || v.ID != "" {
		t.Errorf("volume event: %+v", v)
	}
	// The file holds Docker's JSON, one event a line, readable by anyone's decoder.
	lines := readLines(t, l.path(CurrentFile))
	var raw map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("the JSON has no %q: %s", k, lines[0])
		}
	}
	fi, err := os.Stat(l.Dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the log's directory: %v, %v (want 0700)", fi.Mode(), err)
	}
}

func TestWindow(t *testing.T) {
	l := At(t.TempDir())
	base := time.Now().Add(-time.Hour)
	for i := 0; i < 5; i++ {
		if err := l.Append(New(TypeVolume, Create, "v"+strconv.Itoa(i), nil, base.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(ms []Message) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Actor.ID)
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct {
		w    Window
		want string
	}{
		{Window{}, "v0,v1,v2,v3,v4"},
		{Window{Since: base.Add(time.Minute)}, "v1,v2,v3,v4"},
		{Window{Until: base.Add(2 * time.Minute)}, "v0,v1,v2"},
		{Window{Since: base.Add(90 * time.Second), Until: base.Add(3 * time.Minute)}, "v2,v3"},
		{Window{Since: base.Add(time.Hour)}, ""},
	} {
		if got := ids(collect(t, l, c.w)); got != c.want {
			t.Errorf("window %v–%v: got %q, want %q", c.w.Since, c.w.Until, got, c.want)
		}
	}
	// A stream with an end in the past prints the history and returns at once.
	var n int
	done := make(chan error)
	go func() {
		done <- l.Follow(Window{Since: base, Until: base.Add(10 * time.Minute)}, true, true, func(Message) error { n++; return nil })
	}()
	select {
	case err := <-done:
		if err != nil || n != 5 {
			t.Fatalf("follow with a past end: %d events, %v", n, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow with an end in the past did not return")
	}
}

// A line that would not fit in one atomic write loses the labels, then length.
func TestLongLine(t *testing.T) {
	labels := map[string]string{}
	for i := 0; i < 100; i++ {
		labels["label"+strconv.Itoa(i)] = strings.Repeat("v", 100)
	}
	l := At(t.TempDir())
	Use(l)
	defer Use(nil)
	Container(ExecCreate+": "+strings.Repeat("arg ", 2000), "c1", "web", "img", labels, "execID", "e1")
	got := collect(t, l, Window{})
	if len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
	m := got[0]
	if m.Actor.Attributes["name"] != "web" || m.Actor.Attributes["execID"] != "e1" || m.Actor.Attributes["label1"] != "" {
		t.Errorf("attributes kept: %v", m.Actor.Attributes)
	}
	if !strings.HasPrefix(m.Action, "exec_create: arg arg") || len(m.Action) > 520 {
		t.Errorf("action: %d bytes", len(m.Action))
	}
	for _, line := range readLines(t, l.path(CurrentFile)) {
		if len(line)+1 > MaxLine {
			t.Errorf("line of %d bytes", len(line)+1)
		}
	}
}

// The hand-assembled line is exactly what encoding/json makes of the Message.
func TestEncodeMatchesJSON(t *testing.T) {
	for _, m := range []Message{
		New(TypeContainer, Die, strings.Repeat("f", 64), map[string]string{"name": "web", "image": "localhost/x:1", "exitCode": "137",
			"quote\"d": "back\\slash", "ctl": "a\x00b\tc\n", "html": "<a&b>", "uni": "été 🙂", "bad": "\xff\xfe"}, time.Unix(1700000000, 123)),
		New(TypeImage, Pull, "docker.io/library/busybox:latest", map[string]string{"name": "docker.io/library/busybox:latest"}, time.Now()),
		New(TypeVolume, Destroy, "data", nil, time.Now()),
		{Type: "container", Action: "x", Actor: Actor{ID: "i"}},
		{},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want)+"\n" {
			t.Errorf("encode:\n got %s\nwant %s", got, want)
		}
	}
}

// Emit never fails the command: a log that cannot be written is said at debug level only.
func TestEmitUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l := At(filepath.Join(dir, "events")) // under a regular file: ENOTDIR
	if err := l.Append(New(TypeVolume, Create, "v", nil, time.Now())); err == nil {
		t.Fatal("appending under a regular file worked")
	}
	Use(l)
	defer Use(nil)
	Volume(Create, "v", "local") // must return, quietly
}

// TestRotation: past the limit events.log becomes events.log.1 (the older one goes);
// a reader gets both files, oldest first, and nothing beyond about twice the limit.
func TestRotation(t *testing.T) {
	l := &Log{Dir: t.TempDir(), Limit: 4096}
	for i := 0; i < 100; i++ {
		if err := l.Append(seqEvent("w", i)); err != nil {
			t.Fatal(err)
		}
	}
	prev, cur := readLines(t, l.path(PreviousFile)), readLines(t, l.path(CurrentFile))
	if len(prev) == 0 || len(cur) == 0 {
		t.Fatalf("after rotations: %d lines in %s, %d in %s", len(prev), PreviousFile, len(cur), CurrentFile)
	}
	for _, p := range []string{PreviousFile, CurrentFile} {
		fi, _ := os.Stat(l.path(p))
		if fi.Size() > l.Limit+MaxLine {
			t.Errorf("%s is %d bytes, limit %d", p, fi.Size(), l.Limit)
		}
	}
	got := collect(t, l, Window{})
	if len(got) != len(prev)+len(cur) {
		t.Fatalf("read %d events from %d+%d lines", len(got), len(prev), len(cur))
	}
	// The newest events, in order, ending with the last.
	first, _ := strconv.Atoi(got[0].Actor.Attributes["seq"])
	for i, m := range got {
		if m.Actor.Attributes["seq"] != strconv.Itoa(first+i) {
			t.Fatalf("event %d has seq %s, want %d", i, m.Actor.Attributes["seq"], first+i)
		}
	}
	if got[len(got)-1].Actor.Attributes["seq"] != "99" {
		t.Fatalf("the last event read is %s", got[len(got)-1].Actor.Attributes["seq"])
	}
}

// TestFollowRotations drives a follower by hand through a rotation, two rotations
// between two looks, and the directory's removal.
func TestFollowRotations(t *testing.T) {
	l := &Log{Dir: t.TempDir(), Limit: 1000}
	var seen []string
	f := &follower{log: l, fn: func(m Message) error { seen = append(seen, m.Actor.Attributes["seq"]); return nil }}
	next := 0
	// appendRotating appends until rotations rotations have happened, then n more.
	appendRotating := func(rotations, n int) {
		t.Helper()
		ino := func() uint64 {
			var st unix.Stat_t
			if unix.Stat(l.path(CurrentFile), &st) != nil {
				return 0
			}
			return st.Ino
		}
		for r := 0; r < rotations; {
			before := ino()
			if err := l.Append(seqEvent("w", next)); err != nil {
				t.Fatal(err)
			}
			next++
			if after := ino(); before != 0 && after != before {
				r++
			}
		}
		for i := 0; i < n; i++ {
			if err := l.Append(seqEvent("w", next)); err != nil {
				t.Fatal(err)
			}
			next++
		}
	}
	want := func(what string) {
		t.Helper()
		var exp []string
		for i := 0; i < next; i++ {
			exp = append(exp, strconv.Itoa(i))
		}
		if err := f.step(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(seen, ",") != strings.Join(exp, ",") {
			t.Fatalf("%s: seen %v, want 0…%d", what, seen, next-1)
		}
	}
	if err := f.step(); err != nil || f.cur != nil {
		t.Fatalf("step with no log: %v", err)
	}
	appendRotating(0, 2)
	want("the first file")
	appendRotating(1, 0)
	want("the file as it was rotated, no new one yet")
	appendRotating(0, 2)
	want("the next file")
	appendRotating(1, 2)
	want("one rotation between two looks")
	appendRotating(2, 2)
	want("two rotations between two looks")
}

// TestFollowDirectoryRemoved: `system reset` removes the runtime directory's content; a
// follower carries on with the log made again by the next append, and so does a
// long-lived writer (a monitor) whose lock file went with it.
func TestFollowDirectoryRemoved(t *testing.T) {
	l := At(filepath.Join(t.TempDir(), "events"))
	writer := At(l.Dir)
	got := make(chan string, 10)
	errc := make(chan error, 1)
	since := time.Now() // shown from then on, whenever the follower starts
	go func() {
		errc <- l.Follow(Window{Since: since}, false, true, func(m Message) error {
			got <- m.Actor.ID
			if m.Actor.ID == "after" {
				return errors.New("done")
			}
			return nil
		})
	}()
	wait := func(id string) {
		t.Helper()
		for {
			select {
			case g := <-got:
				if g == id {
					return
				}
			case err := <-errc:
				// It stops after "after": what it saw before is queued.
				for {
					select {
					case g := <-got:
						if g == id {
							return
						}
						continue
					default:
					}
					t.Fatalf("follow ended waiting for %s: %v", id, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("the follower did not see %s", id)
			}
		}
	}
	if err := writer.Append(New(TypeVolume, Create, "before", nil, time.Now())); err != nil {
		t.Fatal(err)
	}
	wait("before")
	if err := os.RemoveAll(l.Dir); err != nil {
		t.Fatal(err)
	}
	if err := writer.Append(New(TypeVolume, Create, "after", nil, time.Now())); err != nil {
		t.Fatal(err)
	}
	wait("after")
	var st1, st2 unix.Stat_t
	if err := unix.Fstat(writer.lockFD, &st1); err != nil || unix.Stat(filepath.Join(l.Dir, lockFile), &st2) != nil || st1.Ino != st2.Ino {
		t.Errorf("the writer locks a lock file that is not the log's (%v)", err)
	}
}

// TestConcurrentWriters: many processes (each with several goroutines) append at once
// while the log rotates and a follower follows: no line is torn, none lost, none
// doubled, each writer's events in its order — in the files and for the follower.
func TestConcurrentWriters(t *testing.T) {
	const procs, goroutines, count = 8, 4, 60 // 1920 events
	dir := t.TempDir()
	// About 2.5 times the limit is written: two rotations, and the first file is
	// overwritten by the second only after the follower holds it, so nothing may go.
	line, err := encode(seqEvent("p0/0", 10))
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(procs*goroutines*count*len(line)) * 2 / 5
	l := &Log{Dir: dir, Limit: limit}
	type key struct {
		w   string
		seq int
	}
	var mu sync.Mutex
	seen := map[key]int{}
	last := map[string]int{}
	var order []string
	ready := make(chan struct{})
	errAllSeen := errors.New("every event seen")
	errc := make(chan error, 1)
	go func() {
		errc <- l.Follow(Window{Since: time.Now().Add(-time.Minute)}, true, true, func(m Message) error {
			mu.Lock()
			defer mu.Unlock()
			if m.Actor.ID == "ready" {
				close(ready)
				return nil
			}
			seq, _ := strconv.Atoi(m.Actor.Attributes["seq"])
			k := key{m.Actor.ID, seq}
			seen[k]++
			if p, ok := last[k.w]; ok && seq != p+1 {
				order = append(order, fmt.Sprintf("%s: %d after %d", k.w, seq, p))
			}
			last[k.w] = seq
			if len(seen) == procs*goroutines*count {
				return errAllSeen
			}
			return nil
		})
	}()
	if err := l.Append(New(TypeVolume, Create, "ready", nil, time.Now())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("follow: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the follower did not see the first event")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d p%d %d %d", writerEnv, dir, limit, p, count, goroutines))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		t.Cleanup(func() {
			if stderr.Len() > 0 {
				t.Logf("writer: %s", stderr.String())
			}
		})
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	select {
	case err := <-errc:
		if !errors.Is(err, errAllSeen) {
			t.Fatalf("follow ended: %v", err)
		}
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Fatalf("the follower saw %d of %d events", len(seen), procs*goroutines*count)
	}
	mu.Lock()
	for k, n := range seen {
		if n != 1 {
			t.Errorf("the follower saw %v %d times", k, n)
		}
	}
	if len(order) > 0 {
		t.Errorf("out of order for the follower: %v", order)
	}
	mu.Unlock()

	// The files: whole JSON lines only, within the bound; the events of each writer
	// that are kept are its last ones, each once, in order.
	if _, err := os.Stat(filepath.Join(dir, PreviousFile)); err != nil {
		t.Fatalf("no rotation happened (limit %d): %v", limit, err)
	}
	kept := map[string][]int{}
	for _, name := range []string{PreviousFile, CurrentFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > limit+int64(procs*goroutines)*MaxLine {
			t.Errorf("%s is %d bytes, limit %d", name, fi.Size(), limit)
		}
		for i, line := range readLines(t, filepath.Join(dir, name)) {
			var m Message
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%s line %d is not an event (%v): %q", name, i+1, err, line)
			}
			if m.Actor.ID == "ready" {
				continue
			}
			seq, _ := strconv.Atoi(m.Actor.Attributes["seq"])
			kept[m.Actor.ID] = append(kept[m.Actor.ID], seq)
		}
	}
	if len(kept) == 0 {
		t.Error("the files keep no event")
	}
	for w, seqs := range kept {
		if !sort.IntsAreSorted(seqs) || seqs[len(seqs)-1] != count-1 || seqs[len(seqs)-1]-seqs[0] != len(seqs)-1 {
			t.Errorf("writer %s: kept %v, want its last events, each once, in order", w, seqs)
		}
	}
}

// TestAppendCost: an append (encode, lock, open, write, close) costs far less than a
// tenth of a millisecond; the median is compared, so that a loaded machine's stalls do
// not count.
func TestAppendCost(t *testing.T) {
	l := At(t.TempDir())
	const n = 400
	ds := make([]time.Duration, n)
	for i := range ds {
		m := New(TypeContainer, Start, strings.Repeat("a", 64), map[string]string{"name": "web", "image": "localhost/demo:latest"}, time.Now())
		start := time.Now()
		if err := l.Append(m); err != nil {
			t.Fatal(err)
		}
		ds[i] = time.Since(start)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	t.Logf("append: median %s, p90 %s, max %s", ds[n/2], ds[n*9/10], ds[n-1])
	if ds[n/2] > 100*time.Microsecond {
		t.Errorf("the median append took %s, more than 0.1 ms", ds[n/2])
	}
}

func BenchmarkAppend(b *testing.B) {
	l := At(b.TempDir())
	m := New(TypeContainer, Start, strings.Repeat("a", 64), map[string]string{"name": "web", "image": "localhost/demo:latest"}, time.Now())
	for b.Loop() {
		if err := l.Append(m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFirstAppendCost: the first append of a process (the lock file opened, the line
// encoded for the first time), which every command pays, and the second, each measured
// in fresh processes appending to an existing log, after a use of encoding/json (every
// command has used it for its records before its first event); the medians are compared.
func TestFirstAppendCost(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "events")
	var firsts, seconds []time.Duration
	for i := 0; i < 7; i++ {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), firstEnv+"="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var first, second time.Duration
		if _, err := fmt.Sscanf(string(out), "%d %d", &first, &second); err != nil {
			t.Fatalf("child said %q: %v", out, err)
		}
		if i > 0 { // the first child made the directory
			firsts, seconds = append(firsts, first), append(seconds, second)
		}
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	sort.Slice(seconds, func(i, j int) bool { return seconds[i] < seconds[j] })
	first, second := firsts[len(firsts)/2], seconds[len(seconds)/2]
	t.Logf("append in a new process: first %s (all %v), second %s", first, firsts, second)
	// The machine may be loaded: the first append (a few tens of microseconds when idle)
	// is only held to what an fsync or a directory scan would break.
	if first > 500*time.Microsecond || second > 100*time.Microsecond {
		t.Errorf("median first append %s (want < 0.5 ms), second %s (want < 0.1 ms)", first, second)
	}
}

// firstMain is the child of TestFirstAppendCost: two appends to a new log in DIR.
func firstMain(dir string) int {
	if _, err := json.Marshal(map[string]any{"Status": "running", "Pid": 1}); err != nil {
		return 1
	}
	start := time.Now()
	Use(At(dir))
	Container(Start, strings.Repeat("a", 64), "web", "localhost/demo:latest", nil)
	first := time.Since(start)
	start = time.Now()
	Container(Die, strings.Repeat("a", 64), "web", "localhost/demo:latest", nil, "exitCode", "0")
	second := time.Since(start)
	if _, err := os.Stat(filepath.Join(dir, CurrentFile)); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println(int64(first), int64(second))
	return 0
}
