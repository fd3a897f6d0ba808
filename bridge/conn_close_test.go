package bridge

import "testing"

// TestConnSimultaneousClose: two ends that close at once, each answering
// the other's CONNECTION_CLOSE while closing, must not bounce closes for
// their whole closing periods (RFC 9000 10.2.1: the rate is limited).
func TestConnSimultaneousClose(t *testing.T) {
	p := newTestSimPair(t)
	// Settle the handshake's last ACKs and NEW_CONNECTION_IDs first.
	_ = p.runUntil(func() bool { return false }, 1e9)
	before := p.s.sent
	for _, c := range []*Conn{p.cli, p.srv} {
		if err := c.CloseWithError(0, "bye"); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(c *Conn) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.c == nil
	}
	if err := p.runUntil(func() bool { return gone(p.cli) && gone(p.srv) }, 10e9); err != nil {
		t.Fatalf("ends not drained: %v", err)
	}
	// Each end sends its close and answers the 1st, 2nd and 4th... of
	// the peer's: a handful of datagrams, not one per round trip.
	n := p.s.sent - before
	t.Logf("%d datagrams sent while closing", n)
	if n > 8 {
		t.Fatalf("%d datagrams sent while closing", n)
	}
}
