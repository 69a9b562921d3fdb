package engine

import (
	"encoding/json"
	"fmt"
	"os"

	"hutch.dev/hutch/internal/contract"
	"hutch.dev/hutch/internal/nsenter"
	"hutch.dev/hutch/userns"
)

// ExitError ends a command with Code and no message of its own: what there was to say
// has been said (by a container, by the half of the command that ran in another
// process, or by the command itself). Code may be 0.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Place is where the inside half of a split command runs.
type Place struct {
	skip  bool
	pid   int
	files []*os.File // handed to the inside half (Session.Handed)
}

var (
	// InStore is hutch's user namespace, where the store can be opened and files of
	// subordinate ids can be changed.
	InStore = Place{}
	// Nowhere: the outside half did everything (or the user said no).
	Nowhere = Place{skip: true}
)

// InMountsOf is the user and mount namespaces of process pid: a running container's
// monitor, in whose mount namespace the container's root is mounted.
func InMountsOf(pid int) Place { return Place{pid: pid} }

// Handing is p with files handed to the inside half, which finds them, in order, in
// Session.Handed: descriptors the plain-user half opened where the user is (its mount
// namespace, its credentials), for the inside half to work through after it entered
// another place. Where both halves run in one process, Inside uses the outside half's
// own files and Handed is empty.
func (p Place) Handing(files ...*os.File) Place {
	p.files = append(append([]*os.File(nil), p.files...), files...)
	return p
}

// Split is a command whose work is in two halves. Outside runs first, as the plain user:
// it can reach the containers' processes (stop them, signal them) and ask the user a
// question. It returns a request and the Place where Inside is to run; hutch is then
// executed again there, with the same command line, and the request handed over as
// JSON in the environment (contract.Request): the command line is never rewritten.
// Inside receives the request in that process. Where hutch runs as real root there is
// no namespace to enter, and both halves run in one process.
type Split[R any] struct {
	// Name identifies the command; the inside half checks it was handed a request for
	// the same one.
	Name    string
	Outside func() (R, Place, error)
	Inside  func(R) error
}

// handedRequest is what travels in contract.Request.
type handedRequest struct {
	Name    string          `json:"name"`
	Request json.RawMessage `json:"request"`
	files   []*os.File      // handed with it (contract.Files)
}

// takeRequest reads (and removes from the environment, so that nothing this process
// starts inherits it) the request handed to this process, if any.
func takeRequest() (*handedRequest, error) {
	v, ok := os.LookupEnv(contract.Request)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(contract.Request)
	files, err := userns.TakeFiles()
	if err != nil {
		return nil, err
	}
	h := &handedRequest{files: files}
	if err := json.Unmarshal([]byte(v), h); err != nil {
		return nil, fmt.Errorf("internal error: bad %s: %w", contract.Request, err)
	}
	return h, nil
}

// RunSplit runs the half of sp that belongs in this process. In the process that runs
// Outside and hands over, it returns the other half's exit status as an *ExitError
// (0 included), so that the caller does nothing more.
func RunSplit[R any](s *Session, sp Split[R]) error {
	if h := s.request; h != nil {
		s.request = nil
		if h.Name != sp.Name {
			return fmt.Errorf("internal error: handed a request for %q while running %q", h.Name, sp.Name)
		}
		if r := nsenter.Outcome(); r.Err != nil {
			return fmt.Errorf("joining the container's namespaces: %w", r.Err)
		}
		var req R
		if err := json.Unmarshal(h.Request, &req); err != nil {
			return fmt.Errorf("internal error: bad request for %q: %w", sp.Name, err)
		}
		s.handed = h.files
		return sp.Inside(req)
	}
	req, place, err := sp.Outside()
	if err != nil || place.skip {
		return err
	}
	if s.Host.Inside {
		return sp.Inside(req)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	env, err := json.Marshal(handedRequest{Name: sp.Name, Request: b})
	if err != nil {
		return err
	}
	return s.handOver(place, contract.Request+"="+string(env))
}

// Handed are the files the outside half handed this process (Place.Handing), in order;
// nil where none were, or where both halves run in one process.
func (s *Session) Handed() []*os.File { return s.handed }

// UseStore moves a command that works on the store to where the store can be opened:
// as the plain user it executes the same command there and returns its exit status as
// an *ExitError (0 included); there (or as real root) it returns nil and the command
// carries on.
func (s *Session) UseStore() error {
	if s.Host.Inside {
		return nil
	}
	return s.handOver(InStore)
}

// handOver executes this command again at p, with env added, and returns its exit
// status as an *ExitError.
func (s *Session) handOver(p Place, env ...string) error {
	start := s.startAt
	if start == nil {
		start = s.execAt
	}
	code, err := start(p, env...)
	if err != nil {
		return err
	}
	return &ExitError{Code: code}
}

// execAt executes hutch with this process's arguments at p and waits for its status.
func (s *Session) execAt(p Place, env ...string) (int, error) {
	if p.pid > 0 {
		return s.Host.Join(p.pid, p.files, os.Args[1:], env...)
	}
	return s.Host.Enter(p.files, os.Args[1:], env...)
}

// Done tells the process that handed this one over (if any) its exit status, so that it
// can exit without waiting for this process's end. main calls it last.
func Done(code int) { userns.ReportDone(code) }
