package userns

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.podman.io/storage/pkg/reexec"
)

// envChild makes the test binary act as the re-executed hutch: it writes what it sees
// (Inside's state and its uid_map) to the file named by the variable and exits 7.
const envChild = "HUTCH_USERNS_TEST_CHILD"

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	if out := os.Getenv(envChild); out != "" {
		s, ok := Inside()
		res := map[string]any{"ok": ok, "state": s, "euid": os.Geteuid(), "extra": os.Getenv("HUTCH_TEST_EXTRA")}
		if files, err := TakeFiles(); err != nil || len(files) > 0 {
			// What the first handed file holds (HandFiles), read through the descriptor.
			h := fmt.Sprint(err)
			if err == nil {
				b, _ := io.ReadAll(files[0])
				h = string(b)
			}
			res["handed"] = h
		}
		b, _ := json.Marshal(res)
		if err := os.WriteFile(out, b, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(7)
	}
	os.Exit(m.Run())
}

func TestPlanAsRoot(t *testing.T) {
	requireRoot(t)
	t.Setenv("HOME", "/some/home")
	s, err := Plan()
	if err != nil {
		t.Fatal(err)
	}
	if !s.Root || s.UID != 0 || s.User != "root" || s.Home != "/some/home" || s.SingleID {
		t.Errorf("state = %+v", s)
	}
	full := []IDMap{{0, 0, 1<<32 - 1}}
	if !reflect.DeepEqual(s.UIDMap, full) || !reflect.DeepEqual(s.GIDMap, full) {
		t.Errorf("maps = %v %v, want the identity", s.UIDMap, s.GIDMap)
	}
}

func TestInside(t *testing.T) {
	t.Setenv(EnvState, "")
	if _, ok := Inside(); ok {
		t.Error("Inside without the state variable")
	}
	t.Setenv(EnvState, "{not json")
	if _, ok := Inside(); ok {
		t.Error("Inside with a damaged state")
	}

	// A state that asked for subordinate ranges: the kernel's map replaces it. Here
	// (the initial namespace) the map is the full range, so no single-id warning.
	st := State{User: "u", UID: 1000, UIDMap: []IDMap{{0, 1000, 1}, {1, 100000, 65536}}}
	b, _ := json.Marshal(st)
	t.Setenv(EnvState, string(b))
	s, ok := Inside()
	if !ok {
		t.Fatal("Inside did not read the state")
	}
	kernel, err := readMap("/proc/self/uid_map")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.UIDMap, kernel) {
		t.Errorf("UIDMap = %v, want the kernel's %v", s.UIDMap, kernel)
	}
	if s.User != "u" || s.UID != 1000 {
		t.Errorf("state = %+v", s)
	}

	// A root state keeps its own maps.
	root := State{Root: true, UIDMap: []IDMap{{0, 0, 5}}}
	b, _ = json.Marshal(root)
	t.Setenv(EnvState, string(b))
	s, ok = Inside()
	if !ok || !reflect.DeepEqual(s.UIDMap, root.UIDMap) {
		t.Errorf("root state: %+v %v", s, ok)
	}
}

func TestReexecSingleIDNamespace(t *testing.T) {
	requireRoot(t)
	out := filepath.Join(t.TempDir(), "child.json")
	t.Setenv(envChild, out)
	s := &State{User: "tester", UID: 0, GID: 0, SingleID: true,
		UIDMap: []IDMap{{0, 0, 1}}, GIDMap: []IDMap{{0, 0, 1}}}
	handed := filepath.Join(t.TempDir(), "handed")
	if err := os.WriteFile(handed, []byte("handed-content"), 0o600); err != nil {
		t.Fatal(err)
	}
	hf, err := os.Open(handed)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	code, err := Reexec(s, []*os.File{hf}, []string{"-test.run=^$"}, "HUTCH_TEST_EXTRA=yes")
	if err != nil {
		t.Fatal(err)
	}
	if code != 7 {
		t.Fatalf("exit status = %d, want the child's 7", code)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		OK     bool   `json:"ok"`
		State  State  `json:"state"`
		Extra  string `json:"extra"`
		EUID   int    `json:"euid"`
		Handed string `json:"handed"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.State.User != "tester" || !res.State.SingleID || res.Extra != "yes" || res.EUID != 0 || res.Handed != "handed-content" {
		t.Errorf("child saw %s", b)
	}
	// The child is in a new user namespace with exactly the one mapping asked for.
	if !reflect.DeepEqual(res.State.UIDMap, []IDMap{{0, 0, 1}}) {
		t.Errorf("child's uid_map = %v, want [{0 0 1}]", res.State.UIDMap)
	}
	if len(res.State.Warnings) != 0 {
		t.Errorf("a single-id state that asked for a single id got warnings: %v", res.State.Warnings)
	}
}

func TestReexecDetectsUnappliedRanges(t *testing.T) {
	requireRoot(t)
	out := filepath.Join(t.TempDir(), "child.json")
	t.Setenv(envChild, out)
	// The state says ranges were mapped (SingleID false) but the kernel gets one id:
	// the child must notice and warn. Mappings are written directly (no newuidmap) as
	// root, so pass SingleID: true to Reexec and flip it in the serialised state.
	s := &State{User: "tester", SingleID: true, UIDMap: []IDMap{{0, 0, 1}}, GIDMap: []IDMap{{0, 0, 1}}}
	code, err := reexecWithState(t, s)
	if err != nil || code != 7 {
		t.Fatalf("code %d err %v", code, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "newuidmap-failed") || !strings.Contains(string(b), `"singleID":true`) {
		t.Errorf("the child did not flag the missing ranges: %s", b)
	}
}

// reexecWithState runs Reexec with a state whose serialised SingleID is false while the
// namespace itself is set up with the single mapping.
func reexecWithState(t *testing.T, s *State) (int, error) {
	t.Helper()
	lie := *s
	lie.SingleID = false
	b, _ := json.Marshal(lie)
	// The extra environment comes after EnvState in the child, and the last one wins.
	return Reexec(s, nil, []string{"-test.run=^$"}, EnvState+"="+string(b))
}
