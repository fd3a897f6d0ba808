package bridge

import (
	"context"
	"crypto/rand"
	"errors"
	mrand "math/rand"
	"net"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
)

// qv appends a QUIC varint.
func qv(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v>>8)|0x40, byte(v))
	case v < 1<<30:
		return append(b, byte(v>>24)|0x80, byte(v>>16), byte(v>>8), byte(v))
	default:
		return append(b, byte(v>>56)|0xc0, byte(v>>48), byte(v>>40), byte(v>>32),
			byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
}

// TestHostileFramesClose sends frames a correct peer never sends, in
// authenticated packets, and checks the close code (RFC 9000 section 20).
func TestHostileFramesClose(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		code    uint64
	}{
		// 4 bytes at offset 10 MB on stream 0: beyond the 256 KB window.
		{"flow control", append(qv(qv(qv([]byte{0x0e}, 0), 10<<20), 4), 1, 2, 3, 4), 0x03},
		{"stream limit", append(qv(qv([]byte{0x0a}, 4*1000), 3), 'a', 'b', 'c'), 0x04},
		{"send-only stream", append(qv(qv([]byte{0x0a}, 3), 1), 'x'), 0x05},
		{"crypto beyond buffer", append(qv(qv([]byte{0x06}, 1<<20), 1), 'x'), 0x0d},
		{"unknown frame type", append(qv(nil, 0x2f5), 0, 0), 0x07},
		{"handshake done from client", []byte{0x1e}, 0x0a},
		{"new token from client", append(qv([]byte{0x07}, 2), 1, 2), 0x0a},
		{"retire unknown cid", qv([]byte{0x19}, 100), 0x0a},
		// FIN at 10, then data beyond it.
		{"final size change", append(append(qv(qv([]byte{0x0b}, 0), 10), make([]byte, 10)...),
			append(qv(qv(qv([]byte{0x0e}, 0), 10), 5), 1, 2, 3, 4, 5)...), 0x06},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestSimPair(t)
			pkt, err := p.forge(tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			p.toServer(pkt)
			err = p.serverErr()
			var te *transport.TransportError
			if !errors.As(err, &te) || te.Code != tc.code {
				t.Fatalf("server closed with %v, want transport error %#x", err, tc.code)
			}
			// The client hears about it.
			if err := p.runUntil(func() bool {
				p.cli.mu.Lock()
				defer p.cli.mu.Unlock()
				return p.cli.closeErr != nil
			}, 5e9); err != nil {
				t.Fatal(err)
			}
			p.cli.mu.Lock()
			cerr := p.cli.closeErr
			p.cli.mu.Unlock()
			if !errors.As(cerr, &te) || te.Code != tc.code {
				t.Fatalf("client saw %v", cerr)
			}
		})
	}
}

// TestHostileCryptoFlood fills the 1-RTT CRYPTO stream with out-of-order
// fragments that never become contiguous: memory stays bounded and the
// connection either stays up or closes with CRYPTO_BUFFER_EXCEEDED.
func TestHostileCryptoFlood(t *testing.T) {
	p := newTestSimPair(t)
	base := p.serverMem()
	for off := uint64(1); off < 60000; off += 2 {
		pkt, err := p.forge(append(qv(qv([]byte{0x06}, off), 1), 'x'))
		if err != nil {
			t.Fatal(err)
		}
		p.toServer(pkt)
		if err := p.serverErr(); err != nil {
			var te *transport.TransportError
			if !errors.As(err, &te) || te.Code != 0x0d {
				t.Fatalf("server closed with %v", err)
			}
			return
		}
	}
	if m := p.serverMem(); m > base+4<<20 {
		t.Fatalf("engine memory grew from %d to %d bytes", base, m)
	}
}

// TestHostileGarbage feeds random datagrams, datagrams with the server's
// CID and random content, and truncated copies of real packets to a live
// connection: all are dropped and the connection keeps working.
func TestHostileGarbage(t *testing.T) {
	p := newTestSimPair(t)
	rng := mrand.New(mrand.NewSource(7))
	real, err := p.forge([]byte{0x01})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5000; i++ {
		var b []byte
		switch i % 3 {
		case 0:
			b = make([]byte, 1+rng.Intn(1500))
			rng.Read(b)
		case 1:
			b = append([]byte(nil), real...)
			b[1+8+rng.Intn(len(b)-9)] ^= byte(1 + rng.Intn(255))
		default:
			b = append([]byte(nil), real[:rng.Intn(len(real))]...)
			if len(b) == 0 {
				b = []byte{0x40}
			}
		}
		p.toServer(b)
		if err := p.serverErr(); err != nil {
			t.Fatalf("datagram %d closed the connection: %v", i, err)
		}
	}
	// Still alive: a PING round trip.
	pkt, err := p.forge([]byte{0x01})
	if err != nil {
		t.Fatal(err)
	}
	p.toServer(pkt)
	if err := p.serverErr(); err != nil {
		t.Fatal(err)
	}
}

// TestHostileListenerGarbage throws random datagrams and forged CIDs at a
// listener; it must neither crash nor create connections, and must still
// accept a real client afterwards.
func TestHostileListenerGarbage(t *testing.T) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("hostile")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", stls, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	udp, err := net.DialUDP("udp", nil, ln.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for i := 0; i < 2000; i++ {
		b := make([]byte, 1+i%1400)
		_, _ = rand.Read(b)
		if i%4 == 0 {
			b[0] = 0xc0 // long header, random version
		}
		if i%4 == 1 && len(b) >= 1200 {
			b[0], b[1], b[2], b[3], b[4] = 0xc0, 0, 0, 0, 1 // v1 Initial, garbage inside
		}
		if i%4 == 2 && len(b) >= 1200 {
			// A well-formed v1 Initial header that the listener accepts
			// for classification; the payload cannot authenticate.
			copy(b, []byte{0xc3, 0, 0, 0, 1, 8})
			b[14] = 8
			b[23] = 0 // no token
			rest := len(b) - 26
			b[24], b[25] = 0x40|byte(rest>>8), byte(rest)
		}
		_, _ = udp.Write(b)
	}
	time.Sleep(100 * time.Millisecond)
	ln.mu.Lock()
	n := len(ln.live)
	ln.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d connections from garbage", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _, _ = ln.AcceptConn(ctx) }()
	c, err := Dial(ctx, ln.Addr().String(), ctls, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.CloseWithError(0, "")
}
