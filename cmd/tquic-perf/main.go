// Command tquic-perf moves verified bytes between a client and a server
// over the kernel's QUIC sockets (sockapi), quic-go, TCP+TLS or TCP+kTLS,
// and reports throughput, handshake rate and connection statistics. It is
// the transfer of make demo, of the VM tests and of make bench.
//
//	tquic-perf server --listen 10.0.0.2:4433 --cert server.pem --key server.key
//	tquic-perf client --connect 10.0.0.2:4433 --ca ca.pem --streams 4 --download 100M
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/internal/perf"
	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/internal/testpki"
	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/sockapi"
)

const alpn = "tquic-perf"

// handshakeTimeout is every QUIC implementation's handshake budget: one
// figure, so that a loaded machine (32 handshakes in flight under QEMU/TCG)
// fails neither side sooner than the other.
const handshakeTimeout = 20 * time.Second

// Implementations a run can use.
const (
	implKernel = "kernel"
	implQUICGo = "quic-go"
	implTLS    = "tcp-tls"
	implKTLS   = "tcp-ktls"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "tquic-perf:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	implFlag := &cli.StringFlag{Name: "impl", Value: implKernel,
		Usage: "transport: kernel (IPPROTO_QUIC via sockapi), quic-go, tcp-tls or tcp-ktls"}
	idleFlag := &cli.DurationFlag{Name: "idle-timeout",
		Usage: "idle timeout to advertise (0: the implementation's default)"}
	versionFlag := &cli.StringFlag{Name: "quic-version", Value: "v1",
		Usage: "QUIC version the socket starts with: v1 or v2"}
	return &cli.App{
		Name:  "tquic-perf",
		Usage: "verified transfers over kernel QUIC, quic-go, TCP+TLS and TCP+kTLS",
		Commands: []*cli.Command{
			{
				Name:      "certs",
				Usage:     "write a test CA and server and client certificates into DIR",
				ArgsUsage: "DIR",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("certs takes one argument, the directory")
					}
					if err := os.MkdirAll(c.Args().First(), 0o700); err != nil {
						return err
					}
					f, err := testpki.Write(c.Args().First())
					if err != nil {
						return err
					}
					fmt.Printf("ca %s\nserver %s %s\n", f.CA, f.ServerCert, f.ServerKey)
					return nil
				},
			},
			{
				Name:  "server",
				Usage: "serve transfer requests until interrupted",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:4433", Usage: "address to listen on"},
					&cli.StringFlag{Name: "cert", Required: true, Usage: "server certificate (PEM)"},
					&cli.StringFlag{Name: "key", Required: true, Usage: "server key (PEM)"},
					implFlag, versionFlag,
					&cli.StringFlag{Name: "congestion", Usage: "congestion controller (kernel)"},
					idleFlag,
				},
				Action: runServer,
			},
			{
				Name:  "client",
				Usage: "run transfers against a server and print the results",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "connect", Value: "127.0.0.1:4433", Usage: "server address"},
					&cli.StringFlag{Name: "ca", Required: true, Usage: "CA certificate the server's chains to (PEM)"},
					&cli.StringFlag{Name: "server-name", Value: "localhost", Usage: "name to verify in the server's certificate"},
					implFlag, versionFlag,
					&cli.StringFlag{Name: "congestion", Usage: "congestion controller (kernel)"},
					idleFlag,
					&cli.IntFlag{Name: "conns", Value: 1, Usage: "concurrent connections"},
					&cli.IntFlag{Name: "dial-parallel", Value: 32, Usage: "handshakes in flight at once while opening --conns"},
					&cli.IntFlag{Name: "streams", Value: 1, Usage: "streams per connection"},
					&cli.IntFlag{Name: "parallel", Usage: "streams open at once per connection (0: all)"},
					&cli.StringFlag{Name: "upload", Value: "0", Usage: "bytes each stream uploads (K, M, G suffixes)"},
					&cli.StringFlag{Name: "download", Value: "1M", Usage: "bytes each stream downloads"},
					&cli.IntFlag{Name: "datagrams", Usage: "datagrams to send and expect echoed"},
					&cli.BoolFlag{Name: "key-update", Usage: "update the 1-RTT keys in the middle of the transfer"},
					&cli.StringFlag{Name: "migrate", Usage: "move to this local address (IP) in the middle of the transfer"},
					&cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "bound on the whole run"},
					&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
					&cli.DurationFlag{Name: "hold", Usage: "keep the connections open (idle) this long after the report"},
				},
				Action: runClient,
			},
		},
	}
}

func quicVersion(s string) (uint32, error) {
	switch s {
	case "v1", "1":
		return sockapi.Version1, nil
	case "v2", "2":
		return sockapi.Version2, nil
	}
	return 0, fmt.Errorf("unknown QUIC version %q (want v1 or v2)", s)
}

// parseSize reads 100, 64K, 10M, 1G (powers of 1024).
func parseSize(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > perf.MaxTransfer/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func runServer(c *cli.Context) error {
	cert, err := tls.LoadX509KeyPair(c.String("cert"), c.String("key"))
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{alpn}}
	version, err := quicVersion(c.String("quic-version"))
	if err != nil {
		return err
	}
	ctx := c.Context
	var ln transport.Listener
	switch impl := c.String("impl"); impl {
	case implKernel:
		l, err := sockapi.Listen(c.String("listen"), tlsConf, &sockapi.Config{Version: version,
			Congestion: c.String("congestion"), EnableDatagrams: true, MaxIncomingStreams: 1000,
			MaxIdleTimeout: c.Duration("idle-timeout"), HandshakeTimeout: handshakeTimeout})
		if err != nil {
			return err
		}
		ln = l
	case implQUICGo:
		l, err := quicgoadapter.Listen(c.String("listen"), tlsConf, &quic.Config{EnableDatagrams: true,
			MaxIncomingStreams: 1000, Versions: quicGoVersions(version), MaxIdleTimeout: c.Duration("idle-timeout"),
			HandshakeIdleTimeout: handshakeTimeout})
		if err != nil {
			return err
		}
		ln = l
	case implTLS, implKTLS:
		l, err := net.Listen("tcp", c.String("listen"))
		if err != nil {
			return err
		}
		fmt.Printf("listening %s %s\n", impl, l.Addr())
		return perf.TCPServe(ctx, l, tlsConf, impl == implKTLS)
	default:
		return fmt.Errorf("unknown --impl %q", impl)
	}
	defer ln.Close()
	fmt.Printf("listening %s %s\n", c.String("impl"), ln.Addr())
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Shutting down closes the connection: that ends its streams' reads too.
			stop := context.AfterFunc(ctx, func() { _ = conn.CloseWithError(0, "server shutting down") })
			defer stop()
			_ = perf.Serve(ctx, conn)
			_ = conn.CloseWithError(0, "")
		}()
	}
}

func quicGoVersions(first uint32) []quic.Version {
	if first == sockapi.Version2 {
		return []quic.Version{quic.Version2, quic.Version1}
	}
	return []quic.Version{quic.Version1, quic.Version2}
}

// Report is what the client prints.
type Report struct {
	Impl           string        `json:"impl"`
	Conns          int           `json:"conns"`
	Version        string        `json:"version"`
	Handshakes     time.Duration `json:"handshakes_ns"`
	HandshakesPerS float64       `json:"handshakes_per_s"`
	perf.Result
	// LocalAddr is the first connection's address after the transfer
	// (another one after --migrate).
	LocalAddr string         `json:"local_addr"`
	Kernel    *sockapi.Stats `json:"kernel_socket,omitempty"`
}

func runClient(c *cli.Context) error {
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	caPEM, err := os.ReadFile(c.String("ca"))
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return errors.New("no certificate in the CA file")
	}
	tlsConf := &tls.Config{RootCAs: pool, ServerName: c.String("server-name"), NextProtos: []string{alpn}}
	up, err := parseSize(c.String("upload"))
	if err != nil {
		return err
	}
	down, err := parseSize(c.String("download"))
	if err != nil {
		return err
	}
	version, err := quicVersion(c.String("quic-version"))
	if err != nil {
		return err
	}
	impl := c.String("impl")
	nconns := max(c.Int("conns"), 1)
	rep := Report{Impl: impl, Conns: nconns}
	if impl == implTLS || impl == implKTLS {
		return runTCPClient(ctx, c, tlsConf, up, down, rep)
	}
	dial, err := dialer(impl, version, c.String("congestion"), c.Duration("idle-timeout"))
	if err != nil {
		return err
	}
	// Handshakes first, --dial-parallel at a time: the rate is
	// connections per second; all of them stay open for the transfers.
	start := time.Now()
	conns := make([]transport.Connection, nconns)
	errs := make([]error, nconns)
	var wg sync.WaitGroup
	slots := make(chan struct{}, max(c.Int("dial-parallel"), 1))
	for i := range conns {
		wg.Add(1)
		slots <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-slots }()
			conns[i], errs[i] = dial(ctx, c.String("connect"), tlsConf)
		}(i)
	}
	wg.Wait()
	rep.Handshakes = time.Since(start)
	rep.HandshakesPerS = float64(nconns) / rep.Handshakes.Seconds()
	defer func() {
		for _, conn := range conns {
			if conn != nil {
				_ = conn.CloseWithError(0, "")
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("handshakes: %w", err)
	}
	rep.Version = versionName(conns[0].State().Version)
	opts := perf.Options{Streams: c.Int("streams"), Parallel: c.Int("parallel"), Upload: up,
		Download: down, Datagrams: c.Int("datagrams")}
	if during, err := duringHook(c, conns[0]); err != nil {
		return err
	} else {
		opts.During = during
	}
	results := make([]perf.Result, nconns)
	start = time.Now()
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := opts
			if i > 0 {
				o.During = nil
			}
			results[i], errs[i] = perf.Run(ctx, conns[i], o)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	rep.Result = results[0]
	for _, r := range results[1:] {
		rep.Streams += r.Streams
		rep.BytesUp += r.BytesUp
		rep.BytesDown += r.BytesDown
		rep.DatagramsSent += r.DatagramsSent
		rep.DatagramsEchoed += r.DatagramsEchoed
	}
	rep.Elapsed = elapsed
	rep.Mbps = float64(rep.BytesUp+rep.BytesDown) * 8 / elapsed.Seconds() / 1e6
	rep.LocalAddr = conns[0].State().LocalAddr.String()
	if kc, ok := conns[0].(*sockapi.Conn); ok {
		if st, err := kc.Stats(); err == nil {
			rep.Kernel = &st
		}
	}
	if err := printReport(c, rep); err != nil {
		return err
	}
	if d := c.Duration("hold"); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	return nil
}

func dialer(impl string, version uint32, congestion string, idle time.Duration) (transport.Dialer, error) {
	switch impl {
	case implKernel:
		cfg := &sockapi.Config{Version: version, Congestion: congestion, EnableDatagrams: true,
			MaxIdleTimeout: idle, HandshakeTimeout: handshakeTimeout}
		return func(ctx context.Context, addr string, tlsConf *tls.Config) (transport.Connection, error) {
			c, err := sockapi.Dial(ctx, addr, tlsConf, cfg)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return c, nil
		}, nil
	case implQUICGo:
		return quicgoadapter.Dialer(&quic.Config{EnableDatagrams: true, Versions: quicGoVersions(version),
			MaxIdleTimeout: idle, HandshakeIdleTimeout: handshakeTimeout}), nil
	}
	return nil, fmt.Errorf("unknown --impl %q", impl)
}

// duringHook is what runs in the middle of the transfer: a key update or
// a migration, on the kernel's connections.
func duringHook(c *cli.Context, conn transport.Connection) (func() error, error) {
	if !c.Bool("key-update") && c.String("migrate") == "" {
		return nil, nil
	}
	kc, ok := conn.(*sockapi.Conn)
	if !ok {
		return nil, errors.New("--key-update and --migrate need --impl kernel")
	}
	var to netip.AddrPort
	if m := c.String("migrate"); m != "" {
		ip, err := netip.ParseAddr(m)
		if err != nil {
			return nil, fmt.Errorf("--migrate: %w", err)
		}
		to = netip.AddrPortFrom(ip, 0)
	}
	return func() error {
		if c.Bool("key-update") {
			// EAGAIN until the current keys were acknowledged (RFC 9001 6.5).
			if err := retryAgain(kc.KeyUpdate); err != nil {
				return fmt.Errorf("key update: %w", err)
			}
		}
		if to.IsValid() {
			// EAGAIN until the handshake is confirmed (RFC 9000 9).
			if err := retryAgain(func() error { return kc.Migrate(to) }); err != nil {
				return fmt.Errorf("migrate to %s: %w", to, err)
			}
		}
		return nil
	}, nil
}

// retryAgain calls fn until it stops failing with EAGAIN, for up to 10 s.
func retryAgain(fn func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil || !errors.Is(err, syscall.EAGAIN) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runTCPClient(ctx context.Context, c *cli.Context, tlsConf *tls.Config, up, down uint64, rep Report) error {
	streams := max(c.Int("streams"), 1) * rep.Conns
	start := time.Now()
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		errs       []error
		sent, recv uint64
	)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, d, err := perf.TCPRun(ctx, c.String("connect"), tlsConf, rep.Impl == implKTLS, up, down)
			mu.Lock()
			sent, recv = sent+u, recv+d
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	rep.Elapsed = time.Since(start)
	rep.Streams, rep.BytesUp, rep.BytesDown, rep.VerifiedSHA256 = streams, sent, recv, true
	rep.Mbps = float64(sent+recv) * 8 / rep.Elapsed.Seconds() / 1e6
	return printReport(c, rep)
}

func versionName(v uint32) string {
	switch v {
	case sockapi.Version1:
		return "v1"
	case sockapi.Version2:
		return "v2"
	}
	return fmt.Sprintf("%#x", v)
}

func printReport(c *cli.Context, rep Report) error {
	if c.Bool("json") {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	fmt.Printf("%s %s: %d conns, handshakes %.1f/s, %d streams, %d bytes up, %d down, verified %v, %.1f Mbit/s in %s\n",
		rep.Impl, rep.Version, rep.Conns, rep.HandshakesPerS, rep.Streams, rep.BytesUp, rep.BytesDown,
		rep.VerifiedSHA256, rep.Mbps, rep.Elapsed.Round(time.Millisecond))
	if rep.DatagramsSent > 0 {
		fmt.Printf("datagrams: %d sent, %d echoed\n", rep.DatagramsSent, rep.DatagramsEchoed)
	}
	if k := rep.Kernel; k != nil {
		fmt.Printf("kernel socket: rx %d datagrams %d bytes, tx %d datagrams %d bytes, dropped %d, timers %d\n",
			k.RxDatagrams, k.RxBytes, k.TxDatagrams, k.TxBytes, k.RxDropped, k.TimerFired)
	}
	return nil
}
