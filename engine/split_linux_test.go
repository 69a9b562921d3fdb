package engine

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"hutch.dev/hutch/internal/contract"
)

type testReq struct {
	Path  string   `json:"path"`
	Names []string `json:"names"`
}

// handOff is a session of the plain user whose hand-over is recorded, not executed.
type handOff struct {
	place Place
	env   []string
	code  int
}

func outsideSession(h *handOff) *Session {
	return &Session{Host: &Host{}, startAt: func(p Place, env ...string) (int, error) {
		h.place, h.env = p, env
		return h.code, nil
	}}
}

// TestSplitHandsOverTheRequest: the plain-user half runs Outside only, hands the typed
// request over in contract.Request (not on the command line), and ends with the inside
// half's status; the process started with that environment runs Inside only, with the
// same request.
func TestSplitHandsOverTheRequest(t *testing.T) {
	want := testReq{Path: "/home/u/a dir/", Names: []string{"web", "db"}}
	var outside, inside int
	var got testReq
	split := func() Split[testReq] {
		return Split[testReq]{
			Name:    "cp",
			Outside: func() (testReq, Place, error) { outside++; return want, InMountsOf(42), nil },
			Inside:  func(r testReq) error { inside++; got = r; return nil },
		}
	}
	h := &handOff{code: 3}
	err := RunSplit(outsideSession(h), split())
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("the handing half returned %v, want the other half's status 3 as an *ExitError", err)
	}
	if outside != 1 || inside != 0 || !reflect.DeepEqual(h.place, InMountsOf(42)) || len(h.env) != 1 {
		t.Fatalf("outside ran %d times, inside %d, place %+v, env %q", outside, inside, h.place, h.env)
	}
	k, v, _ := strings.Cut(h.env[0], "=")
	if k != contract.Request {
		t.Fatalf("handed over in %s, want %s", k, contract.Request)
	}

	// The other process: the request comes from its environment, which it leaves clean.
	t.Setenv(contract.Request, v)
	req, err := takeRequest()
	if err != nil || req == nil {
		t.Fatalf("takeRequest: %v, %v", req, err)
	}
	if _, still := os.LookupEnv(contract.Request); still {
		t.Fatalf("%s is still in the environment: whatever this process starts would inherit it", contract.Request)
	}
	s := &Session{Host: &Host{Inside: true}, request: req}
	if err := RunSplit(s, split()); err != nil {
		t.Fatal(err)
	}
	if outside != 1 || inside != 1 || got.Path != want.Path || strings.Join(got.Names, ",") != "web,db" {
		t.Fatalf("inside half: outside ran %d times, inside %d, got %+v", outside, inside, got)
	}
	if s.request != nil {
		t.Fatal("the request was not consumed")
	}
}

// TestSplitHandsFiles: the files a Place hands go with it to the hand-over (in order,
// the Place it was made from unchanged), and the inside half finds the files handed to
// its process in Session.Handed.
func TestSplitHandsFiles(t *testing.T) {
	a, b, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	base := InMountsOf(42)
	h := &handOff{}
	_ = RunSplit(outsideSession(h), Split[struct{}]{
		Name:    "cp",
		Outside: func() (struct{}, Place, error) { return struct{}{}, base.Handing(a).Handing(b), nil },
		Inside:  func(struct{}) error { t.Fatal("inside ran in the handing process"); return nil },
	})
	if len(h.place.files) != 2 || h.place.files[0] != a || h.place.files[1] != b || h.place.pid != 42 || len(base.files) != 0 {
		t.Fatalf("handed %v to %d (the base Place: %v), want both pipe ends, in order, to 42", h.place.files, h.place.pid, base.files)
	}
	var seen []*os.File
	s := &Session{Host: &Host{Inside: true}, request: &handedRequest{Name: "cp", Request: []byte("{}"), files: []*os.File{b}}}
	if err := RunSplit(s, Split[struct{}]{Name: "cp", Inside: func(struct{}) error { seen = s.Handed(); return nil }}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != b {
		t.Fatalf("the inside half's Handed: %v, want the handed file", seen)
	}
}

// TestSplitZeroStatus: a hand-over that ends well still stops the handing half (an
// *ExitError with 0), so that it prints nothing of its own.
func TestSplitZeroStatus(t *testing.T) {
	h := &handOff{}
	err := RunSplit(outsideSession(h), Split[struct{}]{
		Name:    "rm",
		Outside: func() (struct{}, Place, error) { return struct{}{}, InStore, nil },
		Inside:  func(struct{}) error { t.Fatal("inside ran in the handing process"); return nil },
	})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 0 || !reflect.DeepEqual(h.place, InStore) {
		t.Fatalf("got %v (place %+v), want *ExitError 0 after handing over to InStore", err, h.place)
	}
}

// TestSplitOutsideEnds: an Outside that fails, or that did everything (Nowhere), hands
// nothing over.
func TestSplitOutsideEnds(t *testing.T) {
	h := &handOff{}
	boom := errors.New("container web is running")
	for _, c := range []struct {
		place Place
		err   error
	}{{Nowhere, nil}, {InStore, boom}} {
		err := RunSplit(outsideSession(h), Split[struct{}]{
			Name:    "rm",
			Outside: func() (struct{}, Place, error) { return struct{}{}, c.place, c.err },
			Inside:  func(struct{}) error { t.Fatal("inside ran"); return nil },
		})
		if !errors.Is(err, c.err) || h.env != nil {
			t.Fatalf("got %v, handed %q; want %v and no hand-over", err, h.env, c.err)
		}
	}
}

// TestSplitAsRoot: where hutch runs as real root there is nothing to enter: both halves
// run in this process, the request passed in memory.
func TestSplitAsRoot(t *testing.T) {
	var order []string
	s := &Session{Host: &Host{Inside: true}, startAt: func(Place, ...string) (int, error) {
		t.Fatal("handed over as root")
		return 0, nil
	}}
	err := RunSplit(s, Split[testReq]{
		Name: "reset",
		Outside: func() (testReq, Place, error) {
			order = append(order, "outside")
			return testReq{Path: "x"}, InStore, nil
		},
		Inside: func(r testReq) error { order = append(order, "inside:"+r.Path); return nil },
	})
	if err != nil || strings.Join(order, " ") != "outside inside:x" {
		t.Fatalf("got %v, ran %v", err, order)
	}
}

// TestSplitWrongCommand: a request handed for another command is refused, not run.
func TestSplitWrongCommand(t *testing.T) {
	s := &Session{Host: &Host{Inside: true}, request: &handedRequest{Name: "rm", Request: []byte("{}")}}
	err := RunSplit(s, Split[struct{}]{
		Name:    "system reset",
		Outside: func() (struct{}, Place, error) { t.Fatal("outside ran"); return struct{}{}, InStore, nil },
		Inside:  func(struct{}) error { t.Fatal("inside ran"); return nil },
	})
	if err == nil || !strings.Contains(err.Error(), `"rm"`) {
		t.Fatalf("got %v, want an internal error naming the request's command", err)
	}
}

// TestUseStore: a whole command moves once; where it already is, it carries on.
func TestUseStore(t *testing.T) {
	h := &handOff{code: 7}
	var ee *ExitError
	if err := outsideSession(h).UseStore(); !errors.As(err, &ee) || ee.Code != 7 || !reflect.DeepEqual(h.place, InStore) || len(h.env) != 0 {
		t.Fatalf("UseStore as the plain user: %v, place %+v, env %q", err, h.place, h.env)
	}
	if err := (&Session{Host: &Host{Inside: true}}).UseStore(); err != nil {
		t.Fatalf("UseStore inside: %v", err)
	}
}

func TestTakeRequestBad(t *testing.T) {
	t.Setenv(contract.Request, "{not json")
	if _, err := takeRequest(); err == nil || !strings.Contains(err.Error(), contract.Request) {
		t.Fatalf("a bad request gave %v", err)
	}
	os.Unsetenv(contract.Request)
	if r, err := takeRequest(); r != nil || err != nil {
		t.Fatalf("no request gave %v, %v", r, err)
	}
}
