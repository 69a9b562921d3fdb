package userns

import (
	"reflect"
	"strings"
	"testing"
)

const subuidText = `# /etc/subuid
alice:100000:65536
bob:165536:65536

  # indented comment
1000:231072:1000
alice:300000:10
alice:400000:0
alice:abc:10
alice:500000:-1
alice:600000
alice:600000:10:extra
alice:4294967296:10
alice:700000:4294967296
   alice:800000:5   
alicia:900000:5
:1000000:5
`

func TestParseSubIDFileByName(t *testing.T) {
	got, err := ParseSubIDFile(strings.NewReader(subuidText), "alice", 4242)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{100000, 65536}, {300000, 10}, {800000, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alice: got %v, want %v", got, want)
	}
}

func TestParseSubIDFileByNumericID(t *testing.T) {
	// "carol" is not in the file, but her uid 1000 is.
	got, err := ParseSubIDFile(strings.NewReader(subuidText), "carol", 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{231072, 1000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("uid 1000: got %v, want %v", got, want)
	}
}

func TestParseSubIDFileNameAndIDBothMatch(t *testing.T) {
	text := "1000:100:5\ndave:200:6\nerin:300:7\n"
	got, err := ParseSubIDFile(strings.NewReader(text), "dave", 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{100, 5}, {200, 6}} // in file order
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseSubIDFileNoMatch(t *testing.T) {
	for _, text := range []string{"", "# only a comment\n", subuidText} {
		got, err := ParseSubIDFile(strings.NewReader(text), "zed", 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("%q: got %v for an absent user", text, got)
		}
	}
}

func TestParseSubIDFileBoundaries(t *testing.T) {
	got, err := ParseSubIDFile(strings.NewReader("u:0:1\nu:4294967295:4294967295\n"), "u", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{0, 1}, {4294967295, 4294967295}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseSubIDFileLongLineIsAnError(t *testing.T) {
	// bufio.Scanner's limit is 64 KiB a line: a longer line must not pass silently.
	text := "alice:1:1\n" + strings.Repeat("x", 70000) + "\n"
	if _, err := ParseSubIDFile(strings.NewReader(text), "alice", 1); err == nil {
		t.Error("an over-long line was not reported")
	}
}

func TestSubidSource(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", "files"},
		{"passwd: files systemd\ngroup: files\n", "files"},
		{"passwd: files\nsubid: sss\n", "sss"},
		{"subid:   ldap files\n", "ldap"},
		{"  subid: files\n", "files"},
		{"#subid: sss\n", "files"},
		{"subid:\n", "files"},
		{"subids: sss\n", "files"},
		{"subid:sss\n", "sss"},
	} {
		if got := subidSource([]byte(tc.text)); got != tc.want {
			t.Errorf("subidSource(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestParseGetsubids(t *testing.T) {
	out := "0: alice 100000 65536\n1: alice 300000 1000\n\ngarbage line\n2: alice x 5\n3: alice 5 0\n4: alice 7 -3\n"
	got := parseGetsubids([]byte(out))
	want := []Range{{100000, 65536}, {300000, 1000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := parseGetsubids(nil); len(got) != 0 {
		t.Errorf("empty output gave %v", got)
	}
}

func TestStack(t *testing.T) {
	got := stack(1000, []Range{{100000, 65536}, {300000, 10}, {5, 1}})
	want := []IDMap{
		{ContainerID: 0, HostID: 1000, Size: 1},
		{ContainerID: 1, HostID: 100000, Size: 65536},
		{ContainerID: 65537, HostID: 300000, Size: 10},
		{ContainerID: 65547, HostID: 5, Size: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stack = %v\nwant    %v", got, want)
	}
	if got := stack(42, nil); !reflect.DeepEqual(got, []IDMap{{0, 42, 1}}) {
		t.Errorf("stack with no ranges = %v", got)
	}
}

func TestTotal(t *testing.T) {
	if n := total([]Range{{1, 10}, {100, 65536}}); n != 65546 {
		t.Errorf("total = %d", n)
	}
	if n := total(nil); n != 0 {
		t.Errorf("total(nil) = %d", n)
	}
}

func TestReadMap(t *testing.T) {
	m, err := readMap("/proc/self/uid_map")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Fatal("no mapping read from /proc/self/uid_map")
	}
	if _, err := readMap("/nonexistent/uid_map"); err == nil {
		t.Error("a missing map file was not an error")
	}
}

func TestTrimNL(t *testing.T) {
	if got := string(trimNL([]byte("1 \n\n"))); got != "1" {
		t.Errorf("trimNL = %q", got)
	}
	if got := string(trimNL(nil)); got != "" {
		t.Errorf("trimNL(nil) = %q", got)
	}
}
