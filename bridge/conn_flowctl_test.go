package bridge

import (
	"testing"
	"time"
)

// TestConnWindowIgnoresQueueing: on a bandwidth-limited path whose queue
// inflates the smoothed RTT far above the path's minimum, a reader that
// keeps up does not have its receive window grown for the queue. A few
// bandwidth-delay products carry the transfer; more would only let data
// wait at the receiver.
func TestConnWindowIgnoresQueueing(t *testing.T) {
	p := newTestSimPair(t)
	// 10 MB/s and 5 ms each way: the bandwidth-delay product is 100 KB.
	p.s.o.Bandwidth = 10e6
	id := p.openStream(t)
	const total = 8 << 20
	chunk := make([]byte, 64<<10)
	buf := make([]byte, 64<<10)
	sent, got := 0, 0
	var maxSRTT time.Duration
	for got < total {
		p.cli.mu.Lock()
		for sent < total {
			n := p.cli.simWrite(id, chunk[:min(len(chunk), total-sent)], false)
			if n == 0 {
				break
			}
			sent += n
		}
		p.cli.flush()
		p.cli.mu.Unlock()
		got += p.serverRead(id, buf)
		maxSRTT = max(maxSRTT, p.cli.Stats().SmoothedRTT)
		if p.s.now > 60e9 || !p.step() {
			t.Fatalf("stalled after %d of %d bytes", got, total)
		}
	}
	p.srv.mu.Lock()
	window := p.srv.simRecvWindow(id)
	p.srv.mu.Unlock()
	t.Logf("%d bytes in %d ms of virtual time; smoothed RTT up to %v; stream window %d",
		total, p.s.now/1e6, maxSRTT, window)
	if maxSRTT < 25*time.Millisecond { // 2.5 times the path's RTT
		t.Fatalf("smoothed RTT stayed at %v: no queue formed, the test proves nothing", maxSRTT)
	}
	if window > 1<<20 {
		t.Fatalf("stream window grew to %d bytes for a 100 KB bandwidth-delay product", window)
	}
}

// TestConnAppLimitedWindow: a sender that never fills its congestion
// window (a trickle of writes) does not grow it (RFC 9002 7.8): the
// window a later burst would be allowed stays near where it started.
func TestConnAppLimitedWindow(t *testing.T) {
	p := newTestSimPair(t)
	id := p.openStream(t)
	initial := p.cli.Stats().CongestionWindow
	chunk := make([]byte, 4000)
	buf := make([]byte, 64<<10)
	got := 0
	for round := 1; round <= 200; round++ {
		p.cli.mu.Lock()
		n := p.cli.simWrite(id, chunk, false)
		p.cli.flush()
		p.cli.mu.Unlock()
		if n != len(chunk) {
			t.Fatalf("round %d: wrote %d bytes", round, n)
		}
		// Each write is delivered, read and acknowledged before the next.
		err := p.runUntil(func() bool {
			got += p.serverRead(id, buf)
			p.cli.mu.Lock()
			defer p.cli.mu.Unlock()
			return got == round*len(chunk) && p.cli.simInFlight() == 0
		}, 5e9)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	cwnd := p.cli.Stats().CongestionWindow
	t.Logf("%d bytes acknowledged, 4000 at a time: congestion window %d -> %d", got, initial, cwnd)
	if cwnd > 2*initial {
		t.Fatalf("the window grew from %d to %d bytes while the sender never filled it", initial, cwnd)
	}
}
