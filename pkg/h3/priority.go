package h3

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Priority is an RFC 9218 priority: urgency 0 (most urgent) to 7, and
// whether the response may be delivered incrementally (interleaved with
// others of the same urgency).
type Priority struct {
	Urgency     uint8
	Incremental bool
}

// DefaultPriority is the priority of a request that states none (u=3).
var DefaultPriority = Priority{Urgency: 3}

// String formats p as a Priority Field Value ("u=5, i").
func (p Priority) String() string {
	s := "u=" + strconv.Itoa(int(p.Urgency))
	if p.Incremental {
		s += ", i"
	}
	return s
}

// ParsePriority parses a Priority Field Value (an RFC 8941 dictionary) on
// top of base: members it does not understand or that are out of range are
// ignored, as RFC 9218 requires.
func ParsePriority(v string, base Priority) Priority {
	p := base
	for _, member := range strings.Split(v, ",") {
		member = strings.TrimSpace(member)
		if i := strings.IndexByte(member, ';'); i >= 0 { // parameters are ignored
			member = member[:i]
		}
		key, val, hasVal := strings.Cut(member, "=")
		switch key {
		case "u":
			if n, err := strconv.Atoi(val); err == nil && hasVal && n >= 0 && n <= 7 {
				p.Urgency = uint8(n)
			}
		case "i":
			switch {
			case !hasVal || val == "?1":
				p.Incremental = true
			case val == "?0":
				p.Incremental = false
			}
		}
	}
	return p
}

// scheduler orders response DATA writes on one connection by priority:
// only one response writes at a time, and when the writer finishes a
// chunk the most urgent waiting response goes next (lowest urgency value;
// non-incremental ones in stream order, incremental ones round-robin).
// A writer that holds its turn longer than stallAfter (for example because
// the peer stopped reading that stream) no longer blocks the others.
type scheduler struct {
	mu       sync.Mutex
	holder   *schedWaiter
	waiters  []*schedWaiter
	served   uint64
	stallFor time.Duration
}

// schedStream is one response's scheduling state.
type schedStream struct {
	id         uint64
	prio       Priority
	lastServed uint64
}

type schedWaiter struct {
	s     *schedStream
	ready chan struct{}
	timer *time.Timer
}

const defaultStallAfter = 20 * time.Millisecond

func newScheduler() *scheduler { return &scheduler{stallFor: defaultStallAfter} }

// setPriority changes a stream's priority (PRIORITY_UPDATE).
func (s *scheduler) setPriority(st *schedStream, p Priority) {
	s.mu.Lock()
	st.prio = p
	s.mu.Unlock()
}

// acquire waits for st's turn to write. The returned function ends it.
func (s *scheduler) acquire(ctx context.Context, st *schedStream) (func(), error) {
	w := &schedWaiter{s: st, ready: make(chan struct{})}
	s.mu.Lock()
	if s.holder == nil && len(s.waiters) == 0 {
		s.grantLocked(w)
		s.mu.Unlock()
		return func() { s.release(w) }, nil
	}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return func() { s.release(w) }, nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: pass the turn on
			s.releaseLocked(w)
		default:
			s.removeLocked(w)
		}
		return nil, ctx.Err()
	}
}

func (s *scheduler) grantLocked(w *schedWaiter) {
	s.holder = w
	s.served++
	w.s.lastServed = s.served
	close(w.ready)
	w.timer = time.AfterFunc(s.stallFor, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.holder == w { // stalled: let the next one go
			s.holder = nil
			s.nextLocked()
		}
	})
}

func (s *scheduler) release(w *schedWaiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(w)
}

func (s *scheduler) releaseLocked(w *schedWaiter) {
	w.timer.Stop()
	if s.holder == w {
		s.holder = nil
		s.nextLocked()
	}
}

func (s *scheduler) removeLocked(w *schedWaiter) {
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			return
		}
	}
}

// nextLocked grants the turn to the best waiter.
func (s *scheduler) nextLocked() {
	if len(s.waiters) == 0 {
		return
	}
	best := 0
	for i := 1; i < len(s.waiters); i++ {
		if s.better(s.waiters[i].s, s.waiters[best].s) {
			best = i
		}
	}
	w := s.waiters[best]
	s.waiters = append(s.waiters[:best], s.waiters[best+1:]...)
	s.grantLocked(w)
}

func (s *scheduler) better(a, b *schedStream) bool {
	if a.prio.Urgency != b.prio.Urgency {
		return a.prio.Urgency < b.prio.Urgency
	}
	if a.prio.Incremental != b.prio.Incremental {
		return !a.prio.Incremental // sequential responses first
	}
	if !a.prio.Incremental {
		return a.id < b.id
	}
	return a.lastServed < b.lastServed
}
