package masque

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/benchreport"
)

// udpPath is one way of reaching the echo server: direct or proxied.
type udpPath struct {
	send func([]byte) error
	recv func(context.Context) ([]byte, error)
}

// measureRTT returns the mean round-trip time of n sequential echoes
// (a lost datagram is resent after 200 ms and not counted).
func measureRTT(ctx context.Context, p udpPath, n int) (time.Duration, error) {
	msg := make([]byte, 64)
	var total time.Duration
	for i := 0; i < n; {
		start := time.Now()
		if err := p.send(msg); err != nil {
			return 0, err
		}
		rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := p.recv(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			continue
		}
		total += time.Since(start)
		i++
	}
	return total / time.Duration(n), nil
}

// measureThroughput sends n payloads of size bytes keeping window echoes
// outstanding and returns the echoed payload bytes per second. A receive
// timeout counts the outstanding payloads as lost.
func measureThroughput(ctx context.Context, p udpPath, n, size, window int) (float64, error) {
	msg := make([]byte, size)
	sent, got, inflight := 0, 0, 0
	start := time.Now()
	for sent < n || inflight > 0 {
		for inflight < window && sent < n {
			if err := p.send(msg); err != nil {
				return 0, err
			}
			sent++
			inflight++
		}
		rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, err := p.recv(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			inflight = 0
			continue
		}
		got++
		inflight--
	}
	return float64(got*size) / time.Since(start).Seconds(), nil
}

var reportOnce sync.Once

// BenchmarkReportMasqueUDP compares UDP echoes through our CONNECT-UDP
// proxy (our client, datagram mode) with direct UDP in the same run:
// throughput of 1000-byte datagrams and round-trip latency.
func BenchmarkReportMasqueUDP(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	echo := udpEchoServer(b)
	tmpl, _ := ParseTemplate(fmt.Sprintf(DefaultUDPTemplate, "localhost"))
	acl, _ := ParseACL("127.0.0.1/32")
	addr, clientTLS := startProxy(b, &UDPProxy{Template: tmpl, ACL: acl})
	cc := ourClient(b, ctx, addr, clientTLS)
	port := uint16(echo.LocalAddr().(*net.UDPAddr).Port)
	pc, _, err := DialUDP(ctx, cc, tmpl, "127.0.0.1", port, false)
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	proxied := udpPath{send: pc.WritePacket, recv: pc.ReadPacket}

	dc, err := net.DialUDP("udp", nil, echo.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer dc.Close()
	dc.SetReadBuffer(4 << 20)
	dbuf := make([]byte, 65536)
	direct := udpPath{
		send: func(p []byte) error { _, err := dc.Write(p); return err },
		recv: func(ctx context.Context) ([]byte, error) {
			dl, _ := ctx.Deadline()
			dc.SetReadDeadline(dl)
			n, err := dc.Read(dbuf)
			return dbuf[:n], err
		},
	}

	reportOnce.Do(func() {
		const n, size, window = 20000, 1000, 32
		dt, err := measureThroughput(ctx, direct, n, size, window)
		if err != nil {
			b.Fatal(err)
		}
		pt, err := measureThroughput(ctx, proxied, n, size, window)
		if err != nil {
			b.Fatal(err)
		}
		drtt, err := measureRTT(ctx, direct, 2000)
		if err != nil {
			b.Fatal(err)
		}
		prtt, err := measureRTT(ctx, proxied, 2000)
		if err != nil {
			b.Fatal(err)
		}
		benchreport.Bench("masque_udp_proxied_throughput", pt/1e6, "MB/s")
		benchreport.Bench("masque_udp_direct_throughput", dt/1e6, "MB/s")
		benchreport.Bench("masque_udp_proxied_rtt", float64(prtt.Microseconds()), "us")
		benchreport.Bench("masque_udp_direct_rtt", float64(drtt.Microseconds()), "us")
		benchreport.Bench("masque_udp_added_latency", float64((prtt - drtt).Microseconds()), "us")
		benchreport.Ratio("masque_udp_throughput", "tquic-connect-udp", "direct-udp", pt/dt)
		benchreport.Ratio("masque_udp_latency", "tquic-connect-udp", "direct-udp", float64(drtt)/float64(prtt))
	})
	b.ResetTimer()
	for b.Loop() {
		if _, err := measureRTT(ctx, proxied, 1); err != nil {
			b.Fatal(err)
		}
	}
}
