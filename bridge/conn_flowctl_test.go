package bridge

import (
	"testing"
	"time"

	"github.com/tquic/tquic/internal/quicgoadapter"
)

// TestConnWindowIgnoresQueueing: on a bandwidth-limited path whose queue
// inflates the smoothed RTT far above the path's minimum, a reader that
// keeps up does not have its receive window grown for the queue. A few
// bandwidth-delay products carry the transfer; more would only let data
// wait at the receiver.
func TestConnWindowIgnoresQueueing(t *testing.T) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("window")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newConnSimPair(stls, ctls, &Config{}, &Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	// 10 MB/s and 5 ms each way: the bandwidth-delay product is 100 KB.
	p.s.o.Bandwidth = 10e6
	var id uint64
	p.cli.mu.Lock()
	ok := streamOpen(p.cli, &id)
	p.cli.mu.Unlock()
	if !ok {
		t.Fatal("stream open failed")
	}
	const total = 8 << 20
	chunk := make([]byte, 64<<10)
	buf := make([]byte, 64<<10)
	sent, got := 0, 0
	var maxSRTT time.Duration
	for got < total {
		p.cli.mu.Lock()
		for sent < total {
			n := p.cli.simWrite(int64(id), chunk[:min(len(chunk), total-sent)], false)
			if n == 0 {
				break
			}
			sent += n
		}
		p.cli.flush()
		p.cli.mu.Unlock()
		p.srv.mu.Lock()
		for {
			n, _, err := p.srv.simRead(int64(id), buf)
			if err != nil || n == 0 {
				break
			}
			got += n
		}
		p.srv.flush()
		p.srv.mu.Unlock()
		maxSRTT = max(maxSRTT, p.cli.Stats().SmoothedRTT)
		if p.s.now > 60e9 || !p.step() {
			t.Fatalf("stalled after %d of %d bytes", got, total)
		}
	}
	p.srv.mu.Lock()
	window := p.srv.simRecvWindow(int64(id))
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
	stls, ctls, err := quicgoadapter.SelfSignedTLS("applimited")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newConnSimPair(stls, ctls, &Config{}, &Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	var id uint64
	p.cli.mu.Lock()
	ok := streamOpen(p.cli, &id)
	p.cli.mu.Unlock()
	if !ok {
		t.Fatal("stream open failed")
	}
	initial := p.cli.Stats().CongestionWindow
	chunk := make([]byte, 4000)
	buf := make([]byte, 64<<10)
	got := 0
	for round := 1; round <= 200; round++ {
		p.cli.mu.Lock()
		n := p.cli.simWrite(int64(id), chunk, false)
		p.cli.flush()
		p.cli.mu.Unlock()
		if n != len(chunk) {
			t.Fatalf("round %d: wrote %d bytes", round, n)
		}
		// Each write is delivered, read and acknowledged before the next.
		err := p.runUntil(func() bool {
			p.srv.mu.Lock()
			for {
				n, _, err := p.srv.simRead(int64(id), buf)
				if err != nil || n == 0 {
					break
				}
				got += n
			}
			p.srv.flush()
			p.srv.mu.Unlock()
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
