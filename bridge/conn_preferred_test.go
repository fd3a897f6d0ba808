package bridge

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/quicgoadapter"
)

var prefLoopback = netip.MustParseAddrPort("127.0.0.1:0")

func remoteAddrPort(t *testing.T, c *Conn) netip.AddrPort {
	t.Helper()
	return c.State().RemoteAddr.(*net.UDPAddr).AddrPort()
}

// TestConnPreferredAddress: a bridge server offers a preferred address
// (RFC 9000 9.6) on another socket; the bridge client, once the handshake
// is confirmed, validates a path there with the sequence-1 CID. Datagrams
// to that address are dropped until 256 KB of a 8 MB echo came back (well
// within the 3 PTO the client tries for); then
// the client's next PATH_CHALLENGE gets through and it moves while the
// rest of the transfer waits (its reader holds until the move); the rest
// flows through the preferred address and arrives intact (sha256).
func TestConnPreferredAddress(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Small windows: most of the data is still to be sent when the client moves.
	win := func(c *Config) *Config {
		c.InitialStreamWindow, c.MaxStreamWindow = 256<<10, 256<<10
		c.InitialConnectionWindow, c.MaxConnectionWindow = 512<<10, 512<<10
		return c
	}
	ln, conns := bridgeEchoListener(t, ctx, stls, win(&Config{PreferredAddressV4: prefLoopback}))
	prefs := ln.PreferredAddrs()
	if len(prefs) != 1 || prefs[0].Port() == 0 || prefs[0] == ln.Addr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("preferred addresses %v (listener on %v)", prefs, ln.Addr())
	}
	gate := make(chan struct{})
	ln.prefGate.Store(&gate)
	c, err := Dial(ctx, ln.Addr().String(), ctls, win(&Config{}))
	if err != nil {
		close(gate)
		t.Fatal(err)
	}
	defer closeAndWaitFreed(t, c)
	b := <-conns
	orig := remoteAddrPort(t, c)
	release := func() error {
		// Still on the address dialed: the move happens mid-transfer.
		if got := remoteAddrPort(t, c); got != orig || c.Stats().PreferredAddress {
			t.Errorf("moved to %v before the preferred address could answer", got)
		}
		close(gate)
		for !c.Stats().PreferredAddress {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	}
	if err := echoWithHook(t, ctx, c, 8<<20, 256<<10, release); err != nil {
		t.Fatalf("%v (client %+v, server %+v)", err, c.Stats(), b.Stats())
	}
	st := c.Stats()
	if !st.PreferredAddress || st.PeerMigrations != 1 || st.Paths != 1 {
		t.Fatalf("client: moved %v, migrations %d, paths %d; %d datagrams to the preferred address; server %+v",
			st.PreferredAddress, st.PeerMigrations, st.Paths, ln.prefRecv.Load(), b.Stats())
	}
	if got := remoteAddrPort(t, c); got != prefs[0] {
		t.Fatalf("client sends to %v, want the preferred %v", got, prefs[0])
	}
	sst := b.Stats()
	if sst.PeerMigrations != 1 || sst.PathReverts != 0 || sst.AmplificationViolations != 0 {
		t.Fatalf("server: migrations %d reverts %d amplification violations %d",
			sst.PeerMigrations, sst.PathReverts, sst.AmplificationViolations)
	}
	// Most of the 8 MB went up through the preferred address: thousands of datagrams.
	if n := ln.prefRecv.Load(); n < 2000 {
		t.Fatalf("only %d datagrams reached the preferred address", n)
	}
	// The connection goes on there.
	before := ln.prefRecv.Load()
	if err := echoRoundTrip(ctx, c, 256<<10); err != nil {
		t.Fatal(err)
	}
	if ln.prefRecv.Load() == before {
		t.Fatal("the echo after the move did not use the preferred address")
	}
	t.Logf("%d datagrams reached the preferred address", ln.prefRecv.Load())
}

// TestConnPreferredAddressUnreachable: the preferred address drops
// everything; path validation fails (3 PTO) and the client stays where it
// was, the connection unharmed.
func TestConnPreferredAddressUnreachable(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, conns := bridgeEchoListener(t, ctx, stls, &Config{PreferredAddressV4: prefLoopback})
	gate := make(chan struct{})
	ln.prefGate.Store(&gate)
	defer close(gate)
	c, err := Dial(ctx, ln.Addr().String(), ctls, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndWaitFreed(t, c)
	<-conns
	orig := remoteAddrPort(t, c)
	if st := c.Stats(); st.Paths != 2 {
		t.Fatalf("%d paths right after the handshake, want 2 (the probe of the preferred address)", st.Paths)
	}
	if err := echoRoundTrip(ctx, c, 1<<20); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Paths != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the probe of the unreachable preferred address never gave up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := echoRoundTrip(ctx, c, 1<<20); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.PreferredAddress || st.PeerMigrations != 0 || remoteAddrPort(t, c) != orig {
		t.Fatalf("moved %v, migrations %d, sends to %v (dialed %v)", st.PreferredAddress, st.PeerMigrations,
			remoteAddrPort(t, c), orig)
	}
}

// TestConnPreferredAddressDisabled: a client configured not to follow
// preferred addresses sends nothing there.
func TestConnPreferredAddressDisabled(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, conns := bridgeEchoListener(t, ctx, stls, &Config{PreferredAddressV4: prefLoopback})
	c, err := Dial(ctx, ln.Addr().String(), ctls, &Config{DisablePreferredAddress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndWaitFreed(t, c)
	<-conns
	if err := echoRoundTrip(ctx, c, 1<<20); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.PreferredAddress || st.Paths != 1 || ln.prefRecv.Load() != 0 {
		t.Fatalf("moved %v, paths %d, %d datagrams to the preferred address", st.PreferredAddress, st.Paths,
			ln.prefRecv.Load())
	}
}

// TestConnPreferredAddressConfig: preferred addresses must be of their
// family, with a port.
func TestConnPreferredAddressConfig(t *testing.T) {
	for _, cfg := range []Config{
		{PreferredAddressV4: netip.MustParseAddrPort("[::1]:443")},
		{PreferredAddressV6: netip.MustParseAddrPort("127.0.0.1:443")},
		{PreferredAddressV6: netip.MustParseAddrPort("[::ffff:127.0.0.1]:443")},
		{PreferredAddressV4: netip.MustParseAddrPort("127.0.0.1:0")},
	} {
		if _, err := cfg.engineConfig(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// TestInteropConnPreferredAddressBridgeServer: quic-go as the client of a
// bridge server that offers a preferred address (quic-go does not follow
// it): the handshake takes the parameter and a 4 MB echo completes.
func TestInteropConnPreferredAddressBridgeServer(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, conns := bridgeEchoListener(t, ctx, stls, &Config{PreferredAddressV4: prefLoopback})
	qc, err := quic.DialAddr(ctx, ln.Addr().String(), ctls, &quic.Config{MaxIdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	b := <-conns
	if err := echoRoundTrip(ctx, quicgoadapter.Wrap(qc), 4<<20); err != nil {
		t.Fatalf("%v (bridge %+v)", err, b.Stats())
	}
	t.Logf("%d datagrams reached the preferred address; quic-go sends to %v", ln.prefRecv.Load(), qc.RemoteAddr())
}
