package fsutil

import (
	"bytes"
	"strings"
	"testing"
)

func TestBudget(t *testing.T) {
	b, err := NewBudget(t.TempDir() + "/not/yet/made")
	if err != nil {
		t.Fatal(err)
	}
	if b.total <= 0 {
		t.Skipf("no free space in %s to test with", b.Dir)
	}
	if !b.Take(1<<20, 10) {
		t.Fatal("1 MiB did not fit")
	}
	if b.Take(1<<60, 1) {
		t.Fatal("an exabyte fit")
	}
	// A refused take takes nothing.
	if !b.Take(1<<20, 1) {
		t.Fatal("the refused take was counted")
	}
	msg := b.Error("layer sha256:abc", "etc/zeros", 1<<60).Error()
	for _, n := range []string{"layer sha256:abc", `entry "etc/zeros" expands to`, "GiB", "min(1 GiB, 5%)", "graphroot"} {
		if !strings.Contains(msg, n) {
			t.Errorf("%q does not mention %q", msg, n)
		}
	}
	var nilBudget *Budget
	if !nilBudget.Take(1<<62, 1<<62) {
		t.Error("the nil budget refused")
	}
}

func TestBudgetWriter(t *testing.T) {
	b := FixedBudget("/x", 10, 1)
	var out bytes.Buffer
	w := b.Writer(&out, "standard input")
	if _, err := w.Write([]byte("123456")); err != nil {
		t.Fatal(err)
	}
	_, err := w.Write([]byte("789012"))
	if err == nil || !strings.Contains(err.Error(), "standard input: it expands to more than the 10 bytes free for it") {
		t.Fatalf("err = %v", err)
	}
	if out.String() != "123456" {
		t.Fatalf("wrote %q", out.String())
	}
}

func TestCheckEntryShape(t *testing.T) {
	for _, ok := range []string{"etc/passwd", strings.Repeat("d/", MaxEntryDepth) + "f", strings.Repeat("d/", 300)} {
		if err := CheckEntryShape(ok); err != nil {
			t.Errorf("%.40s…: %v", ok, err)
		}
	}
	deep := strings.Repeat("d/", MaxEntryDepth+1) + "f"
	if err := CheckEntryShape(deep); err == nil || !strings.Contains(err.Error(), "513 directories deep") || !strings.Contains(err.Error(), "d/d/d/d") {
		t.Errorf("deep: %v", err)
	}
	long := strings.Repeat("x", MaxEntryName+1)
	if err := CheckEntryShape(long); err == nil || !strings.Contains(err.Error(), "4097 bytes") {
		t.Errorf("long: %v", err)
	}
}
