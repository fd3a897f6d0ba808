package bridge

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// The control message we send with is the one the receive side reads.
func TestECNControlMessages(t *testing.T) {
	for _, to := range []string{"127.0.0.1:4433", "[::1]:4433", "[::ffff:127.0.0.1]:4433"} {
		for _, ecn := range []uint8{1, 2, 3} {
			if got := ecnFromOOB(ecnOOB(make([]byte, ecnOOBSpace), ecn, netip.MustParseAddrPort(to))); got != ecn {
				t.Errorf("to %s: ECN %d read back as %d", to, ecn, got)
			}
		}
	}
	if got := ecnFromOOB(nil); got != 0 {
		t.Errorf("no control message: ECN %d", got)
	}
}

// testInteropECN moves data with ECN on between the bridge and quic-go
// (which counts the marks it receives on Linux): our marks must leave the
// socket and come back in quic-go's ACK_ECN counts, which validates the
// path (RFC 9000 13.4.2).
func testInteropECN(t *testing.T, bridgeServer bool) {
	p := newPeerPair(t, pairOptions{bridgeServer: bridgeServer, cfg: &Config{ECN: true}})
	defer p.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go echoServe(ctx, p.server)
	if err := echoRoundTrip(ctx, p.client, 512<<10); err != nil {
		t.Fatal(err)
	}
	s := p.bridge.Stats()
	t.Logf("ECN: capable %v, marked %d, peer counted ECT(0) %d, CE %d", s.ECNCapable, s.ECNMarked, s.PeerECT0, s.PeerCE)
	if s.ECNMarked == 0 || s.PeerECT0 == 0 || !s.ECNCapable {
		t.Fatalf("ECN through the socket: %+v", s)
	}
}

func TestInteropConnECNBridgeClient(t *testing.T) { testInteropECN(t, false) }

func TestInteropConnECNBridgeServer(t *testing.T) { testInteropECN(t, true) }
