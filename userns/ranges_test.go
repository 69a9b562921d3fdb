package userns

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixtureRanges reads the host files of testdata/: a machine where mallory's range
// overlaps bob's, dave's (written by uid) holds erin's uid, and carol has none.
func fixtureRanges(t testing.TB) (Ranges, Ranges, LoginDefs) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	uids := Ranges{Kind: "uid", File: "/etc/subuid", DB: "/etc/passwd", Entries: ParseEntries(read("subuid")), IDs: ParseIDNames(read("passwd"))}
	gids := Ranges{Kind: "gid", File: "/etc/subgid", DB: "/etc/group", Entries: ParseEntries(read("subgid")), IDs: ParseIDNames(read("group"))}
	return uids, gids, ParseLoginDefs(read("login.defs"))
}

func own(rs Ranges, name string, id int) []Range {
	var out []Range
	for _, e := range rs.Entries {
		if mine(e.Owner, name, id) {
			out = append(out, e.Range)
		}
	}
	return out
}

func TestParseEntries(t *testing.T) {
	uids, _, defs := fixtureRanges(t)
	want := []Entry{{"alice", Range{100000, 65536}}, {"bob", Range{165536, 65536}}, {"mallory", Range{200000, 65536}}, {"1004", Range{300000, 65536}}}
	if !reflect.DeepEqual(uids.Entries, want) {
		t.Errorf("entries = %v, want %v", uids.Entries, want)
	}
	if defs != (LoginDefs{SubUIDMin: 100000, SubUIDCount: 65536}) {
		t.Errorf("login.defs = %+v (a commented-out SUB_UID_MIN keeps the default)", defs)
	}
	// The malformed lines of subuidText are skipped as by ParseSubIDFile.
	var alice []Range
	for _, e := range ParseEntries([]byte(subuidText)) {
		if e.Owner == "alice" {
			alice = append(alice, e.Range)
		}
	}
	if !reflect.DeepEqual(alice, []Range{{100000, 65536}, {300000, 10}, {800000, 5}}) {
		t.Errorf("alice in subuidText: %v", alice)
	}
}

func TestConflicts(t *testing.T) {
	uids, gids, _ := fixtureRanges(t)
	if c := uids.Conflicts("alice", 1000, own(uids, "alice", 1000)); len(c) != 0 {
		t.Errorf("alice has a range of her own, got %q", c)
	}
	c := uids.Conflicts("mallory", 1002, own(uids, "mallory", 1002))
	if len(c) != 1 || c[0] != "your subordinate uid range 200000-265535 overlaps bob's 165536-231071" {
		t.Errorf("mallory: %q", c)
	}
	c = uids.Conflicts("bob", 1001, own(uids, "bob", 1001))
	if len(c) != 1 || c[0] != "your subordinate uid range 165536-231071 overlaps mallory's 200000-265535" {
		t.Errorf("bob: %q", c)
	}
	if c := gids.Conflicts("bob", 1001, own(gids, "bob", 1001)); len(c) != 0 {
		t.Errorf("bob's gid range is his own, got %q", c)
	}
	// dave's line names him by uid; his range holds erin's uid.
	c = uids.Conflicts("dave", 1004, own(uids, "dave", 1004))
	if len(c) != 1 || c[0] != "your subordinate uid range 300000-365535 contains the uid 300123 of erin (/etc/passwd)" {
		t.Errorf("dave: %q", c)
	}
	// A range holding the user's own uid.
	c = uids.Conflicts("zoe", 120000, []Range{{110000, 65536}})
	if len(c) == 0 || !strings.Contains(strings.Join(c, ";"), "contains your own uid 120000") {
		t.Errorf("zoe: %q", c)
	}
	// A numeric owner is named by its user.
	c = uids.Conflicts("erin", 300123, []Range{{300100, 10}})
	if len(c) < 1 || c[0] != "your subordinate uid range 300100-300109 overlaps dave (1004)'s 300000-365535" {
		t.Errorf("erin: %q", c)
	}
}

func TestFree(t *testing.T) {
	for _, c := range []struct {
		min, count uint32
		taken      []Range
		ids        []uint32
		want       uint32
		ok         bool
	}{
		{100000, 65536, nil, nil, 100000, true},
		{100000, 65536, []Range{{100000, 65536}}, nil, 165536, true},
		// A gap too small is skipped; the first wide enough is taken.
		{100000, 101, []Range{{100000, 50}, {100150, 10}, {100300, 5}}, nil, 100160, true},
		{100000, 100, []Range{{100050, 50}}, []uint32{100010}, 100100, true},
		// Ranges out of order, overlapping each other.
		{0, 10, []Range{{20, 10}, {0, 25}, {5, 2}}, nil, 30, true},
		{1 << 31, 1 << 31, []Range{{1<<31 + 1, 1}}, nil, 0, false},
	} {
		got, ok := Free(c.min, c.count, c.taken, c.ids)
		if got != c.want || ok != c.ok {
			t.Errorf("Free(%d, %d, %v, %v) = %d, %v; want %d, %v", c.min, c.count, c.taken, c.ids, got, ok, c.want, c.ok)
		}
	}
}

// TestFreeRangeOnTheFixture: the range suggested is free in both files and holds no
// real id: not the fixed 100000-165535 the advice used to give (alice's).
func TestFreeRangeOnTheFixture(t *testing.T) {
	uids, gids, defs := fixtureRanges(t)
	r, ok := FreeRange(defs.SubUIDMin, defs.SubUIDCount, uids, gids)
	if !ok || r != (Range{396608, 65536}) {
		t.Fatalf("FreeRange = %v, %v; want 396608-462143", r, ok)
	}
	for _, rs := range []Ranges{uids, gids} {
		for _, e := range rs.Entries {
			if r.overlaps(e.Range) {
				t.Errorf("%v overlaps %s's %v", r, e.Owner, e.Range)
			}
		}
	}
	want := "ask an admin to run `usermod --add-subuids 396608-462143 --add-subgids 396608-462143 carol` (a range free in /etc/subuid and /etc/subgid)"
	if got := NoRangeAdvice("carol", uids, gids, defs); got != want {
		t.Errorf("advice:\n got %s\nwant %s", got, want)
	}
	// On a machine like this one: hutch-test and hutch-test2 hold 100000-231071.
	machine := Ranges{Entries: ParseEntries([]byte("hutch-test:100000:65536\nhutch-test2:165536:65536\n"))}
	if r, _ := FreeRange(100000, 65536, machine, machine); r.String() != "231072-296607" {
		t.Errorf("on this machine's files: %v", r)
	}
}

func TestRangeWarnings(t *testing.T) {
	uids, gids, defs := fixtureRanges(t)
	ws := RangeWarnings("mallory", 1002, 1002, own(uids, "mallory", 1002), own(gids, "mallory", 1002), uids, gids, defs)
	if len(ws) != 1 || ws[0].ID != "subuid-conflict" {
		t.Fatalf("mallory: %+v", ws)
	}
	for _, n := range []string{"overlaps bob's 165536-231071", "/etc/subuid", "can signal", "usermod --del-subuids 200000-265535 --add-subuids 396608-462143 mallory"} {
		if !strings.Contains(ws[0].Text, n) {
			t.Errorf("mallory's warning does not mention %q: %s", n, ws[0].Text)
		}
	}
	if ws := RangeWarnings("alice", 1000, 1000, own(uids, "alice", 1000), own(gids, "alice", 1000), uids, gids, defs); len(ws) != 0 {
		t.Errorf("alice: %+v", ws)
	}
	ws = RangeWarnings("dave", 1004, 1004, own(uids, "dave", 1004), own(gids, "dave", 1004), uids, gids, defs)
	if len(ws) != 1 || !strings.Contains(ws[0].Text, "erin") || !strings.Contains(ws[0].Text, "--del-subuids 300000-365535") {
		t.Errorf("dave: %+v", ws)
	}
}

// BenchmarkRangeCheck: what the check costs every command on a machine with 10000
// local users, each with a range.
func BenchmarkRangeCheck(b *testing.B) {
	var sub, passwd strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sub, "user%d:%d:65536\n", i, 100000+i*65536)
		fmt.Fprintf(&passwd, "user%d:x:%d:%d::/home/user%d:/bin/sh\n", i, 2000+i, 2000+i, i)
	}
	s, p := []byte(sub.String()), []byte(passwd.String())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		uids := Ranges{Kind: "uid", Entries: ParseEntries(s), IDs: ParseIDNames(p)}
		gids := Ranges{Kind: "gid", Entries: ParseEntries(s), IDs: ParseIDNames(p)}
		if ws := RangeWarnings("user5", 2005, 2005, []Range{{100000 + 5*65536, 65536}}, []Range{{100000 + 5*65536, 65536}}, uids, gids, LoginDefs{100000, 65536}); len(ws) != 0 {
			b.Fatal(ws)
		}
	}
}
