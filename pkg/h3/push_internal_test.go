package h3

import (
	"context"
	"testing"

	"github.com/tquic/tquic/pkg/capsule"
)

// TestPushPriorityUpdate: a PRIORITY_UPDATE for a push (0xF0701) changes
// the pushed response's priority in the scheduler, or the priority it
// will start with, and the scheduler then serves it by that urgency.
func TestPushPriorityUpdate(t *testing.T) {
	sc, _ := fuzzServerConn()
	sc.push.allowed, sc.push.maxID, sc.push.nextID = true, 7, 2
	running := &serverPush{id: 0, ss: &schedStream{id: 3, prio: DefaultPriority}}
	pending := &serverPush{id: 1, prio: DefaultPriority}
	sc.push.active = map[uint64]*serverPush{0: running, 1: pending}
	update := func(id uint64, v string) error {
		return sc.controlFrame(FramePriorityUpdatePush, append(capsule.AppendVarint(nil, id), v...))
	}
	if err := update(0, "u=0"); err != nil {
		t.Fatal(err)
	}
	if err := update(1, "u=6, i"); err != nil {
		t.Fatal(err)
	}
	if running.ss.prio != (Priority{Urgency: 0}) || pending.prio != (Priority{Urgency: 6, Incremental: true}) {
		t.Fatalf("priorities %+v %+v", running.ss.prio, pending.prio)
	}
	if err := update(2, "u=1"); err == nil {
		t.Fatal("PRIORITY_UPDATE for an unpromised push accepted")
	}

	// The scheduler: a request stream holds the turn, a request (u=3)
	// and the push (now u=0) wait; the push goes first.
	s := sc.sched
	ctx := context.Background()
	req := &schedStream{id: 0, prio: DefaultPriority}
	holder := &schedStream{id: 4, prio: DefaultPriority}
	turn, err := s.acquire(ctx, holder)
	if err != nil {
		t.Fatal(err)
	}
	// Queue both as acquire does.
	wReq := &schedWaiter{s: req, ready: make(chan struct{})}
	wPush := &schedWaiter{s: running.ss, ready: make(chan struct{})}
	s.mu.Lock()
	s.waiters = append(s.waiters, wReq, wPush)
	s.mu.Unlock()
	s.release(turn)
	select {
	case <-wPush.ready:
	default:
		t.Fatal("the urgent push did not get the turn")
	}
	select {
	case <-wReq.ready:
		t.Fatal("the request got the turn with the push")
	default:
	}
	s.release(wPush.turn)
	select {
	case <-wReq.ready:
	default:
		t.Fatal("the request did not get the next turn")
	}
	s.release(wReq.turn)
}
