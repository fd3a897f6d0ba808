package h3

import (
	"context"
	"fmt"
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
// A writer that holds its turn longer than stallFor (for example because
// the peer stopped reading that stream) no longer blocks the others.
//
// The uncontended case (one response writing at a time, the common one
// for small requests) costs a lock and no allocation: waiters get a
// channel, and the stall timer runs only while someone is waiting.
type scheduler struct {
	mu          sync.Mutex
	turn        uint64 // number of the turn being held, 0 if none
	holderSince time.Time
	lastTurn    uint64
	waiters     []*schedWaiter
	stallFor    time.Duration
	stallTimer  *time.Timer
	timerArmed  bool
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
	turn  uint64 // set when granted
}

const defaultStallAfter = 20 * time.Millisecond

func newScheduler() *scheduler { return &scheduler{stallFor: defaultStallAfter} }

// setPriority changes a stream's priority (PRIORITY_UPDATE).
func (s *scheduler) setPriority(st *schedStream, p Priority) {
	s.mu.Lock()
	st.prio = p
	s.mu.Unlock()
}

// acquire waits for st's turn to write. The turn it returns is ended with
// release.
func (s *scheduler) acquire(ctx context.Context, st *schedStream) (uint64, error) {
	s.mu.Lock()
	if s.turn == 0 && len(s.waiters) == 0 {
		t := s.grantLocked(st)
		s.mu.Unlock()
		return t, nil
	}
	w := &schedWaiter{s: st, ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.armLocked()
	s.mu.Unlock()
	select {
	case <-w.ready:
		return w.turn, nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: pass the turn on
			s.releaseLocked(w.turn)
		default:
			s.removeLocked(w)
		}
		return 0, fmt.Errorf("h3: waiting for a write turn: %w", ctx.Err())
	}
}

func (s *scheduler) grantLocked(st *schedStream) uint64 {
	s.lastTurn++
	s.turn = s.lastTurn
	st.lastServed = s.lastTurn
	s.holderSince = time.Now()
	return s.turn
}

// release ends a turn; a turn that was already taken away as stalled is
// ignored.
func (s *scheduler) release(turn uint64) {
	s.mu.Lock()
	s.releaseLocked(turn)
	s.mu.Unlock()
}

func (s *scheduler) releaseLocked(turn uint64) {
	if s.turn == turn {
		s.turn = 0
		s.nextLocked()
	}
}

// armLocked starts the stall timer for the current holder if waiters are
// queued behind it.
func (s *scheduler) armLocked() {
	if s.timerArmed || s.turn == 0 || len(s.waiters) == 0 {
		return
	}
	d := s.stallFor - time.Since(s.holderSince)
	if d < 0 {
		d = 0
	}
	s.timerArmed = true
	if s.stallTimer == nil {
		s.stallTimer = time.AfterFunc(d, s.checkStall)
	} else {
		s.stallTimer.Reset(d)
	}
}

// checkStall runs when the holder may have held its turn for stallFor:
// then the next waiter goes.
func (s *scheduler) checkStall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timerArmed = false
	if s.turn != 0 && time.Since(s.holderSince) >= s.stallFor {
		s.turn = 0 // stalled: let the next one go
		s.nextLocked()
	}
	s.armLocked()
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
	w.turn = s.grantLocked(w.s)
	close(w.ready)
	s.armLocked()
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
