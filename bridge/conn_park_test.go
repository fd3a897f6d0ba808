package bridge

import "testing"

// TestConnParkIdle: idle ends free their crypto objects and rebuild them
// for the next packet, in both directions and across a key update started
// while parked.
func TestConnParkIdle(t *testing.T) {
	p := newTestSimPair(t)
	idle := func(what string) {
		t.Helper()
		if err := p.runUntil(p.parked, 5e9); err != nil {
			t.Fatalf("%s: not parked: %v", what, err)
		}
	}
	// send writes a stream from the client and waits for its acknowledgment.
	send := func(what string) {
		t.Helper()
		before := p.srv.Stats().PacketsReceived
		p.cli.mu.Lock()
		var id uint64
		ok := p.cli.c != nil && streamOpen(p.cli, &id) && p.cli.simWrite(int64(id), []byte("park"), true) == 4
		p.cli.flush()
		p.cli.mu.Unlock()
		if !ok {
			t.Fatalf("%s: stream write failed", what)
		}
		err := p.runUntil(func() bool {
			return p.srv.Stats().PacketsReceived > before && !p.parked()
		}, 5e9)
		if err != nil || p.serverErr() != nil {
			t.Fatalf("%s: not received: %v, server %v", what, err, p.serverErr())
		}
	}
	idle("after the handshake")
	send("parked keys")
	idle("after a stream")
	if err := p.cli.KeyUpdate(); err != nil {
		t.Fatal(err)
	}
	send("key update")
	if s := p.srv.Stats(); s.KeyUpdates != 1 {
		t.Fatalf("server saw %d key updates", s.KeyUpdates)
	}
	idle("after a key update")
	send("parked keys of the next phase")
	idle("at the end")
	if p.serverErr() != nil || p.cli.Stats().PacketsDropped != 0 || p.srv.Stats().PacketsDropped != 0 {
		t.Fatalf("server error %v, dropped %d/%d", p.serverErr(), p.cli.Stats().PacketsDropped,
			p.srv.Stats().PacketsDropped)
	}
}
