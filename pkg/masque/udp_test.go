package masque

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/tquic/tquic/pkg/capsule"
)

// dnsServer answers A queries for any name with 192.0.2.53.
func dnsServer(t testing.TB) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
				dnsmessage.AResource{A: [4]byte{192, 0, 2, 53}})
			msg, err := b.Finish()
			if err == nil {
				pc.WriteToUDP(msg, from)
			}
		}
	}()
	return pc
}

// chunkServer serves data in numbered chunks: a request 'R' + seq (4
// bytes) is answered with 'D' + seq + chunk.
const chunkSize = 1000

func chunkServer(t testing.TB, data []byte) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pc.SetReadBuffer(4 << 20)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		out := make([]byte, 5+chunkSize)
		for {
			n, from, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n != 5 || buf[0] != 'R' {
				continue
			}
			seq := int(binary.BigEndian.Uint32(buf[1:5]))
			if seq*chunkSize >= len(data) {
				continue
			}
			chunk := data[seq*chunkSize : min(len(data), (seq+1)*chunkSize)]
			out = append(append(out[:0], 'D'), buf[1:5]...)
			out = append(out, chunk...)
			pc.WriteToUDP(out, from)
		}
	}()
	return pc
}

// echoServer echoes UDP payloads.
func udpEchoServer(t testing.TB) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pc.SetReadBuffer(4 << 20)
	pc.SetWriteBuffer(4 << 20)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return pc
}

// fetchChunks downloads size bytes from a chunk server over send/recv
// (unreliable datagram functions) with a sliding window of requests and
// retransmission of requests whose answer did not come within rto.
func fetchChunks(ctx context.Context, size int, send func([]byte) error, recv func(context.Context) ([]byte, error)) ([]byte, int, error) {
	const window = 64
	// The timeout follows the measured round trip: a fixed one below the
	// RTT of a loaded machine re-requests every chunk and the duplicates
	// crowd out the answers.
	const minRTO = 80 * time.Millisecond
	n := (size + chunkSize - 1) / chunkSize
	out := make([]byte, size)
	got := make([]bool, n)
	sentAt := map[int]time.Time{}
	resent := map[int]bool{}
	var srtt time.Duration
	rto := func() time.Duration { return max(minRTO, 3*srtt) }
	next, done, retransmits := 0, 0, 0
	req := func(seq int) error {
		b := binary.BigEndian.AppendUint32([]byte{'R'}, uint32(seq))
		sentAt[seq] = time.Now()
		return send(b)
	}
	for done < n {
		for len(sentAt) < window && next < n {
			if err := req(next); err != nil {
				return nil, retransmits, err
			}
			next++
		}
		rctx, cancel := context.WithTimeout(ctx, rto())
		b, err := recv(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, retransmits, fmt.Errorf("after %d of %d chunks: %w", done, n, ctx.Err())
			}
		} else if len(b) >= 5 && b[0] == 'D' {
			seq := int(binary.BigEndian.Uint32(b[1:5]))
			if seq < n && !got[seq] {
				got[seq] = true
				copy(out[seq*chunkSize:], b[5:])
				if !resent[seq] {
					sample := time.Since(sentAt[seq])
					if srtt == 0 {
						srtt = sample
					} else {
						srtt = (7*srtt + sample) / 8
					}
				}
				delete(sentAt, seq)
				delete(resent, seq)
				done++
			}
		}
		now := time.Now()
		for seq, at := range sentAt {
			if now.Sub(at) > rto() {
				retransmits++
				resent[seq] = true
				if err := req(seq); err != nil {
					return nil, retransmits, err
				}
			}
		}
	}
	return out, retransmits, nil
}

func udpProxyForTest(t testing.TB, acl *ACL) (*UDPProxy, string, *http3.ClientConn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tmpl, err := ParseTemplate(fmt.Sprintf(DefaultUDPTemplate, "localhost"))
	if err != nil {
		t.Fatal(err)
	}
	p := &UDPProxy{Template: tmpl, ACL: acl, Resolver: offlineResolver()}
	addr, clientTLS := startProxy(t, p)
	return p, addr, goClient(t, ctx, addr, clientTLS)
}

func udpURL(addr string, target *net.UDPConn) string {
	ap := target.LocalAddr().(*net.UDPAddr).AddrPort()
	return fmt.Sprintf("https://%s/.well-known/masque/udp/%s/%d/", addr, ap.Addr(), ap.Port())
}

// goFlowIO returns send/recv functions over a quic-go request stream in
// datagram mode (context ID 0).
func goFlowIO(rs *http3.RequestStream) (func([]byte) error, func(context.Context) ([]byte, error)) {
	send := func(p []byte) error { return rs.SendDatagram(append([]byte{0}, p...)) }
	recv := func(ctx context.Context) ([]byte, error) {
		for {
			b, err := rs.ReceiveDatagram(ctx)
			if err != nil {
				return nil, err
			}
			id, data, err := splitContext(b)
			if err == nil && id == 0 {
				return data, nil
			}
		}
	}
	return send, recv
}

func TestInteropConnectUDPQuicGoHTTP3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	acl, _ := ParseACL("127.0.0.1/32")
	_, addr, cc := udpProxyForTest(t, acl)

	t.Run("DNS", func(t *testing.T) {
		dns := dnsServer(t)
		rs, rsp := goConnect(t, ctx, cc, udpURL(addr, dns), ProtocolUDP)
		if rsp.StatusCode != http.StatusOK || rsp.Header.Get("Capsule-Protocol") != "?1" {
			t.Fatalf("response %d %v", rsp.StatusCode, rsp.Header)
		}
		defer rs.Close()
		send, recv := goFlowIO(rs)
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0xbeef, RecursionDesired: true})
		b.StartQuestions()
		name := dnsmessage.MustNewName("masque.example.")
		b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		query, _ := b.Finish()
		var answer []byte
		for answer == nil {
			if err := send(query); err != nil {
				t.Fatal(err)
			}
			rctx, c := context.WithTimeout(ctx, 300*time.Millisecond)
			a, err := recv(rctx)
			c()
			if err == nil {
				answer = a
			} else if ctx.Err() != nil {
				t.Fatal("no DNS answer")
			}
		}
		var msg dnsmessage.Message
		if err := msg.Unpack(answer); err != nil {
			t.Fatal(err)
		}
		if msg.Header.ID != 0xbeef || len(msg.Answers) != 1 {
			t.Fatalf("answer %+v", msg)
		}
		if a, ok := msg.Answers[0].Body.(*dnsmessage.AResource); !ok || a.A != [4]byte{192, 0, 2, 53} {
			t.Fatalf("answer body %v", msg.Answers[0].Body)
		}
	})

	t.Run("Transfer10MB", func(t *testing.T) {
		data := make([]byte, 10<<20)
		rng := rand.NewChaCha8([32]byte{1, 2, 3})
		rng.Read(data)
		want := sha256.Sum256(data)
		srv := chunkServer(t, data)
		rs, rsp := goConnect(t, ctx, cc, udpURL(addr, srv), ProtocolUDP)
		if rsp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", rsp.StatusCode)
		}
		defer rs.Close()
		send, recv := goFlowIO(rs)
		start := time.Now()
		got, retransmits, err := fetchChunks(ctx, len(data), send, recv)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(got) != want {
			t.Fatal("sha256 mismatch")
		}
		el := time.Since(start)
		t.Logf("10 MB in %v (%.1f MB/s), %d request retransmissions", el, 10/el.Seconds(), retransmits)
	})
}

func TestConnectUDPOurClientCapsuleMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acl, _ := ParseACL("127.0.0.1/32")
	tmpl, _ := ParseTemplate(fmt.Sprintf(DefaultUDPTemplate, "localhost"))
	p := &UDPProxy{Template: tmpl, ACL: acl}
	addr, clientTLS := startProxy(t, p)
	cc := ourClient(t, ctx, addr, clientTLS)
	echo := udpEchoServer(t)
	port := uint16(echo.LocalAddr().(*net.UDPAddr).Port)
	for _, capsules := range []bool{false, true} {
		c, _, err := DialUDP(ctx, cc, tmpl, "127.0.0.1", port, capsules)
		if err != nil {
			t.Fatal(err)
		}
		// Capsule mode is reliable; datagram mode may lose: retry.
		for i := 0; i < 20; i++ {
			msg := []byte("payload " + strconv.FormatBool(capsules) + strconv.Itoa(i))
			for {
				if err := c.WritePacket(msg); err != nil {
					t.Fatal(err)
				}
				rctx, cl := context.WithTimeout(ctx, 300*time.Millisecond)
				b, err := c.ReadPacket(rctx)
				cl()
				if err == nil {
					if !bytes.Equal(b, msg) {
						t.Fatalf("echo %q want %q", b, msg)
					}
					break
				}
				if capsules || ctx.Err() != nil {
					t.Fatalf("capsule mode echo: %v", err)
				}
			}
		}
		// A payload too large for a QUIC datagram travels in a capsule.
		big := bytes.Repeat([]byte("z"), 8000)
		if err := c.WritePacket(big); err != nil {
			t.Fatal(err)
		}
		b, err := c.ReadPacket(ctx)
		if err != nil || !bytes.Equal(b, big) {
			t.Fatalf("large payload: %d bytes, %v", len(b), err)
		}
		c.Close()
	}
	if p.Stats.Forwarded.Load() < 42 {
		t.Errorf("forwarded %d", p.Stats.Forwarded.Load())
	}
}

func TestConnectUDPBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acl, _ := ParseACL("127.0.0.1/32")
	p, addr, cc := udpProxyForTest(t, acl)
	p.MaxPayload = 512
	echo := udpEchoServer(t)

	// A healthy flow that must stay undisturbed throughout.
	good, rsp := goConnect(t, ctx, cc, udpURL(addr, echo), ProtocolUDP)
	if rsp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", rsp.StatusCode)
	}
	send, recv := goFlowIO(good)
	roundTrip := func(msg string) {
		t.Helper()
		for {
			if err := send([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			rctx, c := context.WithTimeout(ctx, 300*time.Millisecond)
			b, err := recv(rctx)
			c()
			if err == nil {
				if string(b) != msg {
					t.Fatalf("echo %q want %q", b, msg)
				}
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("no echo for %q", msg)
			}
		}
	}
	roundTrip("first")

	t.Run("RefusedRequests", func(t *testing.T) {
		echoPort := echo.LocalAddr().(*net.UDPAddr).Port
		for _, c := range []struct {
			path   string
			status int
		}{
			{fmt.Sprintf("/.well-known/masque/udp/127.0.0.2/%d/", echoPort), http.StatusForbidden},
			{"/.well-known/masque/udp/10.1.2.3/53/", http.StatusForbidden},
			{"/.well-known/masque/udp/127.0.0.1/0/", http.StatusBadRequest},
			{"/.well-known/masque/udp/127.0.0.1/99999/", http.StatusBadRequest},
			{"/somewhere/else", http.StatusNotFound},
			{"/.well-known/masque/udp/no-such-host.invalid/53/", http.StatusBadGateway},
		} {
			rs, rsp := goConnect(t, ctx, cc, "https://"+addr+c.path, ProtocolUDP)
			if rsp.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d", c.path, rsp.StatusCode, c.status)
			}
			rs.Close()
		}
		// Not CONNECT-UDP at all.
		rs, rsp := goConnect(t, ctx, cc, udpURL(addr, echo), "connect-tcp")
		if rsp.StatusCode != http.StatusBadRequest {
			t.Errorf("wrong protocol: status %d", rsp.StatusCode)
		}
		rs.Close()
	})

	t.Run("UnknownContextOversizedMalformed", func(t *testing.T) {
		unknown, oversized, malformed := p.Stats.UnknownContext.Load(), p.Stats.Oversized.Load(), p.Stats.Malformed.Load()
		good.SendDatagram(append([]byte{0x02}, "context two"...))
		good.SendDatagram(append([]byte{0}, bytes.Repeat([]byte("x"), 600)...))
		good.SendDatagram(nil)          // no context ID at all
		good.SendDatagram([]byte{0x40}) // truncated context ID
		roundTrip("after bad datagrams")
		if p.Stats.UnknownContext.Load() <= unknown || p.Stats.Oversized.Load() <= oversized || p.Stats.Malformed.Load() < malformed+2 {
			t.Errorf("stats: unknown %d oversized %d malformed %d", p.Stats.UnknownContext.Load(), p.Stats.Oversized.Load(), p.Stats.Malformed.Load())
		}
	})

	t.Run("MalformedCapsule", func(t *testing.T) {
		bad, rsp := goConnect(t, ctx, cc, udpURL(addr, echo), ProtocolUDP)
		if rsp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", rsp.StatusCode)
		}
		// A DATAGRAM capsule declaring 1 GB.
		hdr := capsule.AppendVarint(capsule.AppendVarint(nil, 0), 1<<30)
		bad.Write(append(hdr, 0, 1, 2))
		_, err := bad.Read(make([]byte, 10))
		if err == nil {
			t.Fatal("stream with malformed capsule was not reset")
		}
		t.Logf("malformed capsule: %v", err)
		roundTrip("after malformed capsule")
	})

	t.Run("TruncatedCapsuleThenFIN", func(t *testing.T) {
		bad, _ := goConnect(t, ctx, cc, udpURL(addr, echo), ProtocolUDP)
		bad.Write([]byte{0x00, 0x10, 0x00}) // 16 bytes declared, 1 sent
		bad.Close()
		if _, err := bad.Read(make([]byte, 10)); err == nil {
			t.Fatal("truncated capsule: stream not ended with an error")
		}
		roundTrip("after truncated capsule")
	})
}

// offlineResolver fails every lookup without sending a query: tests must
// not reach the network.
func offlineResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in tests")
	}}
}
