package idmap

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	m, err := Parse("         0       1000          1\n         1     100000      65536\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Map{{0, 1000, 1}, {1, 100000, 65536}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("Parse = %v, want %v", m, want)
	}
	for id, in := range map[uint32]bool{0: true, 1: true, 5: true, 65536: true, 65537: false, 1 << 31: false} {
		if m.Contains(id) != in {
			t.Errorf("Contains(%d) = %v", id, !in)
		}
	}
	if m.Len() != 65537 {
		t.Errorf("Len = %d", m.Len())
	}
}

func TestParseWholeRange(t *testing.T) {
	// Real root's map: every id, 4294967295 of them.
	m, err := Parse("0 0 4294967295\n")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Contains(4294967294) || m.Len() != 4294967295 {
		t.Fatalf("%v: Contains(max-1) = %v, Len = %d", m, m.Contains(4294967294), m.Len())
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	for _, s := range []string{"0 1000\n", "0 x 1\n", "0 1 2 3\n", "-1 0 1\n"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
	if m, err := Parse(""); err != nil || len(m) != 0 || m.Len() != 0 {
		t.Errorf("Parse(\"\") = %v, %v", m, err)
	}
}

func TestSelf(t *testing.T) {
	m, err := Read(SelfUID)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 || m.Len() == 0 {
		t.Fatalf("this process's uid map is empty: %v", m)
	}
}
