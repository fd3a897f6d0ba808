package bridge

import (
	"net/netip"
	"testing"
)

var (
	locAddr  = netip.MustParseAddrPort("192.0.2.1:4433")
	peerAddr = netip.MustParseAddrPort("198.51.100.7:50000")
)

func newTestPath(t *testing.T, validated bool) *enginePath {
	t.Helper()
	p := newEnginePath(0, locAddr, peerAddr, validated, 1500)
	t.Cleanup(p.free)
	return p
}

func TestPathValidation(t *testing.T) {
	p := newTestPath(t, false)
	if p.state() != pathValidating || p.validated() {
		t.Fatalf("new path: state %d validated %v", p.state(), p.validated())
	}
	if p.peer() != peerAddr {
		t.Fatalf("peer %v", p.peer())
	}
	const now, pto = 1_000_000, 100_000
	p.startValidation(now, pto)
	typ, data, ok := p.nextFrame()
	if !ok || typ != ftPathChallenge {
		t.Fatal("no PATH_CHALLENGE")
	}
	if _, _, ok := p.nextFrame(); ok {
		t.Fatal("challenge sent twice")
	}
	if p.deadline() != now+pto {
		t.Fatalf("first deadline %d (re-probe after one PTO)", p.deadline())
	}
	wrong := data
	wrong[0] ^= 1
	if ev := p.onResponse(wrong); ev != pathEvNone {
		t.Fatalf("wrong response: %d", ev)
	}
	// Re-probe: a second challenge; an answer to the first still counts.
	if ev := p.onTimer(now + pto); ev != pathEvChallenge {
		t.Fatalf("timer: %d", ev)
	}
	_, data2, ok := p.nextFrame()
	if !ok || data2 == data {
		t.Fatal("no fresh challenge data")
	}
	if ev := p.onResponse(data); ev != pathEvValidated {
		t.Fatalf("response: %d", ev)
	}
	if p.state() != pathValidated || !p.validated() || p.probing() || p.deadline() != 0 {
		t.Fatalf("after validation: state %d validated %v", p.state(), p.validated())
	}
	if p.allowance() != ^uint64(0) {
		t.Fatal("validated path still amplification limited")
	}
	if ev := p.onResponse(data2); ev != pathEvNone {
		t.Fatal("late response validated again")
	}
	if !p.setStatus(true) || p.state() != pathStandby || !p.setStatus(false) || p.state() != pathActive {
		t.Fatalf("status changes: state %d", p.state())
	}
}

func TestPathValidationTimeout(t *testing.T) {
	p := newTestPath(t, false)
	if p.setStatus(false) {
		t.Fatal("unvalidated path made active")
	}
	const now, pto = 5_000, 30_000
	p.startValidation(now, pto)
	p.nextFrame()
	p.challengeLost()
	if _, _, ok := p.nextFrame(); !ok {
		t.Fatal("lost challenge not replaced")
	}
	for tm := uint64(now); tm < now+3*pto; tm += 1000 {
		if ev := p.onTimer(tm); ev == pathEvFailed {
			t.Fatalf("failed early at %d", tm)
		}
	}
	if ev := p.onTimer(now + 3*pto); ev != pathEvFailed || p.state() != pathFailed {
		t.Fatalf("after 3 PTO: event %d state %d", ev, p.state())
	}
	if p.setStatus(false) {
		t.Fatal("failed path made active")
	}
}

func TestPathChallengeResponses(t *testing.T) {
	p := newTestPath(t, true)
	for i := byte(0); i < 6; i++ {
		p.onChallenge([8]byte{i})
	}
	var got []byte
	for {
		typ, d, ok := p.nextFrame()
		if !ok {
			break
		}
		if typ != ftPathResponse {
			t.Fatalf("type %x", typ)
		}
		got = append(got, d[0])
	}
	if string(got) != string([]byte{2, 3, 4, 5}) {
		t.Fatalf("responses %v, want the 4 newest", got)
	}
}

func TestPathAntiAmplification(t *testing.T) {
	p := newTestPath(t, false)
	if p.allowance() != 0 {
		t.Fatalf("allowance before receiving %d", p.allowance())
	}
	p.recvBytes(1200)
	if p.allowance() != 3600 {
		t.Fatalf("allowance %d", p.allowance())
	}
	p.sentBytes(3000)
	if p.allowance() != 600 {
		t.Fatalf("allowance %d", p.allowance())
	}
	p.sentBytes(1200)
	if p.allowance() != 0 {
		t.Fatalf("over budget allowance %d", p.allowance())
	}
	p.setValidated()
	if p.allowance() != ^uint64(0) || p.state() != pathValidated {
		t.Fatalf("handshake-validated: %d state %d", p.allowance(), p.state())
	}
}

func TestPathMTU(t *testing.T) {
	p := newTestPath(t, true)
	if p.mtu() != 1200 {
		t.Fatalf("initial mtu %d", p.mtu())
	}
	p.setPeerMaxUDP(1400)
	p.setMTU(2000)
	if p.mtu() != 1400 {
		t.Fatalf("mtu %d, want the peer's 1400", p.mtu())
	}
	p.setMTU(900)
	if p.mtu() != 1200 {
		t.Fatalf("mtu %d below 1200", p.mtu())
	}
}

func TestAddrClassify(t *testing.T) {
	ap := netip.MustParseAddrPort
	cases := []struct {
		a, b string
		want int
	}{
		{"192.0.2.1:443", "192.0.2.1:443", addrSame},
		{"192.0.2.1:443", "192.0.2.1:444", addrPortOnly},
		{"192.0.2.1:443", "192.0.2.77:443", addrSamePrefix},
		{"192.0.2.1:443", "192.0.3.1:443", addrNew},
		{"[2001:db8::1]:443", "[2001:db8::2]:5", addrSamePrefix},
		{"[2001:db8::1]:443", "[2001:db8:0:1::1]:443", addrNew},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1:443", addrSame},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1:1", addrPortOnly},
		{"192.0.2.1:443", "[2001:db8::1]:443", addrNew},
	}
	for _, c := range cases {
		if got := addrClassify(ap(c.a), ap(c.b)); got != c.want {
			t.Errorf("%s -> %s: %d, want %d", c.a, c.b, got, c.want)
		}
	}
	if !addrEqual(ap("[::ffff:10.0.0.1]:9"), ap("10.0.0.1:9")) || addrEqual(ap("10.0.0.1:9"), ap("10.0.0.1:8")) {
		t.Fatal("addrEqual")
	}
}

func TestPathPeerMoved(t *testing.T) {
	p := newTestPath(t, true)
	if !p.setStatus(false) {
		t.Fatal("activate")
	}
	p.setMTU(1400)
	rebound := netip.MustParseAddrPort("198.51.100.7:50001")
	if ch := p.peerMoved(rebound, 0, 10_000); ch != addrPortOnly {
		t.Fatalf("NAT rebinding classified %d", ch)
	}
	if p.validated() || !p.probing() || p.allowance() != 0 || p.state() != pathActive {
		t.Fatalf("after rebinding: validated %v probing %v allowance %d state %d",
			p.validated(), p.probing(), p.allowance(), p.state())
	}
	if p.mtu() != 1400 {
		t.Fatal("port-only change reset the MTU")
	}
	p.recvBytes(100)
	if p.allowance() != 300 {
		t.Fatalf("allowance %d", p.allowance())
	}
	// Validation fails: back to the old address, validated.
	if ev := p.onTimer(30_000); ev != pathEvFailed {
		t.Fatalf("timer %d", ev)
	}
	if !p.revert() || p.peer() != peerAddr || !p.validated() {
		t.Fatalf("revert: peer %v validated %v", p.peer(), p.validated())
	}
	// A failed move to another network: back to the old address and its MTU.
	if ch := p.peerMoved(netip.MustParseAddrPort("203.0.113.5:1"), 50_000, 10_000); ch != addrNew || p.mtu() != 1200 {
		t.Fatalf("move: change %d, MTU %d", ch, p.mtu())
	}
	p.onTimer(80_000)
	if !p.revert() || p.peer() != peerAddr || p.mtu() != 1400 {
		t.Fatalf("revert: peer %v MTU %d", p.peer(), p.mtu())
	}
	moved := netip.MustParseAddrPort("203.0.113.9:1234")
	if ch := p.peerMoved(moved, 100_000, 10_000); ch != addrNew {
		t.Fatalf("migration classified %d", ch)
	}
	if p.mtu() != 1200 {
		t.Fatal("MTU kept across networks")
	}
	_, data, _ := p.nextFrame()
	if p.onResponse(data) != pathEvValidated || !p.validated() || p.revert() {
		t.Fatal("validation of the new address")
	}
	if p.mtu() != 1200 {
		t.Fatalf("MTU %d after a challenge that probed nothing", p.mtu())
	}
}

// TestPathMTUProbeAfterMove checks that a challenge sent in a datagram
// larger than a moved path's MTU raises it when, and only when, that
// challenge is answered.
func TestPathMTUProbeAfterMove(t *testing.T) {
	moved := netip.MustParseAddrPort("203.0.113.9:1234")
	for _, tc := range []struct {
		name      string
		answer    int // which challenge the peer answers
		probeSize uint32
		want      uint32
	}{
		{"probe answered", 0, 1400, 1400},
		{"probe above the limit", 0, 9000, 1500},
		{"only the 1200-byte retry answered", 1, 1400, 1200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPath(t, true)
			if ch := p.peerMoved(moved, 100_000, 10_000); ch != addrNew || p.mtu() != 1200 {
				t.Fatalf("move: change %d, MTU %d", ch, p.mtu())
			}
			_, first, _ := p.nextFrame()
			p.mtuProbeSent(first, tc.probeSize)
			// The probe's datagram is lost: a retry, in 1200 bytes (a
			// validation probes once, or a smaller MTU would fail it).
			p.challengeLost()
			_, retry, _ := p.nextFrame()
			p.mtuProbeSent(retry, tc.probeSize)
			answer := [][8]byte{first, retry}[tc.answer]
			if p.onResponse(answer) != pathEvValidated {
				t.Fatal("not validated")
			}
			if p.mtu() != tc.want {
				t.Fatalf("MTU %d, want %d", p.mtu(), tc.want)
			}
		})
	}
	// A probe no larger than the MTU, or after validation, proves nothing.
	p := newTestPath(t, true)
	p.peerMoved(moved, 100_000, 10_000)
	_, data, _ := p.nextFrame()
	p.mtuProbeSent(data, 1200)
	if p.onResponse(data) != pathEvValidated || p.mtu() != 1200 {
		t.Fatalf("MTU %d after a 1200-byte challenge", p.mtu())
	}
	p.mtuProbeSent(data, 1400)
	if p.mtu() != 1200 {
		t.Fatal("probe recorded on a validated path")
	}
}

func TestPathStatusAndAbandon(t *testing.T) {
	p := newTestPath(t, true)
	if !p.onStatus(1, true) || p.onStatus(1, false) || p.onStatus(0, false) || !p.onStatus(5, false) {
		t.Fatal("status sequence handling")
	}
	p.abandon()
	if p.state() != pathAbandoned || p.setStatus(false) {
		t.Fatal("abandoned path usable")
	}
}
