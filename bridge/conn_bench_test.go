package bridge

import (
	"context"
	"crypto/tls"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/benchreport"
	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
)

// benchPair is a connected client and server on loopback.
type benchPair struct {
	client, server transport.Connection
	close          func()
}

func bridgePair(tb testing.TB, stls, ctls *tls.Config) benchPair {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := &Config{InitialStreamWindow: 4 << 20, InitialConnectionWindow: 8 << 20, SendBuffer: 4 << 20}
	ln, err := Listen("127.0.0.1:0", stls, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ch := make(chan *Conn, 1)
	go func() {
		c, _ := ln.AcceptConn(ctx)
		ch <- c
	}()
	c, err := Dial(ctx, ln.Addr().String(), ctls, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s := <-ch
	if s == nil {
		tb.Fatal("accept failed")
	}
	return benchPair{c, s, func() { _ = c.CloseWithError(0, ""); _ = s.CloseWithError(0, ""); _ = ln.Close() }}
}

func quicGoPair(tb testing.TB, stls, ctls *tls.Config) benchPair {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qcfg := &quic.Config{InitialStreamReceiveWindow: 4 << 20, InitialConnectionReceiveWindow: 8 << 20}
	ln, err := quic.ListenAddr("127.0.0.1:0", stls, qcfg)
	if err != nil {
		tb.Fatal(err)
	}
	ch := make(chan *quic.Conn, 1)
	go func() {
		c, _ := ln.Accept(ctx)
		ch <- c
	}()
	c, err := quic.DialAddr(ctx, ln.Addr().String(), ctls, qcfg)
	if err != nil {
		tb.Fatal(err)
	}
	s := <-ch
	if s == nil {
		tb.Fatal("accept failed")
	}
	return benchPair{quicgoadapter.Wrap(c), quicgoadapter.Wrap(s), func() {
		_ = c.CloseWithError(0, "")
		_ = s.CloseWithError(0, "")
		_ = ln.Close()
	}}
}

// processCPU is the CPU time the process has used (user and system).
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bulkMBps sends size bytes on one stream from client to server and
// returns the goodput in MB/s and the CPU time the process used meanwhile
// (both ends run in it; the other stack's pair is closed).
func bulkMBps(tb testing.TB, p benchPair, size int) (float64, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan int64, 1)
	go func() {
		s, err := p.server.AcceptStream(ctx)
		if err != nil {
			done <- -1
			return
		}
		n, _ := io.Copy(io.Discard, s)
		done <- n
	}()
	s, err := p.client.OpenStream(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	cpu := processCPU(tb)
	start := time.Now()
	for sent := 0; sent < size; sent += len(chunk) {
		if _, err := s.Write(chunk); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	n := <-done
	d := time.Since(start)
	cpu = processCPU(tb) - cpu
	if n != int64(size) {
		tb.Fatalf("received %d of %d bytes", n, size)
	}
	return float64(size) / d.Seconds() / 1e6, cpu
}

// BenchmarkReportBridgeBulk compares the throughput of one connection,
// one stream, 64 KB writes over loopback: bridge-hosted engine against
// quic-go, measured alternately in one run (best of three each). It also
// reports the CPU time both ends used per transfer (the least of three),
// which a shared machine's noise moves less than the throughput.
func BenchmarkReportBridgeBulk(b *testing.B) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("bench")
	if err != nil {
		b.Fatal(err)
	}
	const size = 64 << 20
	var ours, peer float64
	var oursCPU, peerCPU time.Duration
	best := func(mbps *float64, cpu *time.Duration, v float64, c time.Duration) {
		*mbps = max(*mbps, v)
		if *cpu == 0 || c < *cpu {
			*cpu = c
		}
	}
	for b.Loop() {
		for range 3 {
			p := bridgePair(b, stls, ctls)
			v, c := bulkMBps(b, p, size)
			best(&ours, &oursCPU, v, c)
			p.close()
			q := quicGoPair(b, stls, ctls)
			v, c = bulkMBps(b, q, size)
			best(&peer, &peerCPU, v, c)
			q.close()
		}
	}
	benchreport.Bench("bridge_bulk_tquic", ours, "MB/s")
	benchreport.Bench("bridge_bulk_quicgo", peer, "MB/s")
	benchreport.Ratio("bridge_bulk", "tquic", "quicgo", ours/peer)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	benchreport.Bench("bridge_bulk_cpu_tquic", ms(oursCPU), "ms/64MB")
	benchreport.Bench("bridge_bulk_cpu_quicgo", ms(peerCPU), "ms/64MB")
	benchreport.Ratio("bridge_bulk_cpu", "quicgo", "tquic", ms(peerCPU)/ms(oursCPU))
}

// BenchmarkReportBridgeHandshakes compares sequential handshakes per
// second (dial, accept, handshake confirmed, close) on loopback.
func BenchmarkReportBridgeHandshakes(b *testing.B) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("bench")
	if err != nil {
		b.Fatal(err)
	}
	const n = 200
	rate := func(dial func(ctx context.Context, addr string) error, addr string) float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		start := time.Now()
		for range n {
			if err := dial(ctx, addr); err != nil {
				b.Fatal(err)
			}
		}
		return n / time.Since(start).Seconds()
	}
	ln, err := Listen("127.0.0.1:0", stls, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.AcceptConn(context.Background())
			if err != nil {
				return
			}
			go func() { <-c.Context().Done() }()
		}
	}()
	qln, err := quic.ListenAddr("127.0.0.1:0", stls, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer qln.Close()
	go func() {
		for {
			if _, err := qln.Accept(context.Background()); err != nil {
				return
			}
		}
	}()
	var ours, peer float64
	for b.Loop() {
		for range 3 {
			v := rate(func(ctx context.Context, addr string) error {
				c, err := Dial(ctx, addr, ctls, nil)
				if err != nil {
					return err
				}
				return c.CloseWithError(0, "")
			}, ln.Addr().String())
			ours = max(ours, v)
			v = rate(func(ctx context.Context, addr string) error {
				c, err := quic.DialAddr(ctx, addr, ctls, nil)
				if err != nil {
					return err
				}
				return c.CloseWithError(0, "")
			}, qln.Addr().String())
			peer = max(peer, v)
		}
	}
	benchreport.Bench("bridge_handshakes_tquic", ours, "handshakes/s")
	benchreport.Bench("bridge_handshakes_quicgo", peer, "handshakes/s")
	benchreport.Ratio("bridge_handshakes", "tquic", "quicgo", ours/peer)
}

// BenchmarkReportBridgeIdleMemory reports the engine memory of an idle
// established connection (both endpoints, averaged).
func BenchmarkReportBridgeIdleMemory(b *testing.B) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("bench")
	if err != nil {
		b.Fatal(err)
	}
	var mem uint64
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ln, err := Listen("127.0.0.1:0", stls, nil)
		if err != nil {
			b.Fatal(err)
		}
		ch := make(chan *Conn, 1)
		go func() {
			c, _ := ln.AcceptConn(ctx)
			ch <- c
		}()
		c, err := Dial(ctx, ln.Addr().String(), ctls, nil)
		if err != nil {
			b.Fatal(err)
		}
		s := <-ch
		// Let the last ACKs and NEW_CONNECTION_IDs settle and both ends
		// park, as every connection does after a second without packets.
		time.Sleep(1500 * time.Millisecond)
		mem = (c.Stats().EngineMemory + s.Stats().EngineMemory) / 2
		_ = c.CloseWithError(0, "")
		_ = s.CloseWithError(0, "")
		_ = ln.Close()
		cancel()
	}
	benchreport.Bench("bridge_idle_conn_engine_memory", float64(mem), "bytes")
}
