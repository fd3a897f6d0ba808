// Command tquic-masque runs a MASQUE proxy (CONNECT-UDP and CONNECT-IP
// over HTTP/3) and clients that expose a local UDP port or a TUN
// interface through such a proxy.
//
// QUIC connections run over the kernel's QUIC sockets (sockapi, the
// default) or, with --impl quic-go, over quic-go; the protocol layers only
// see pkg/transport.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/masque"
	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/sockapi"
)

// Transports the proxy and the clients can run over.
const (
	implKernel = "kernel"
	implQUICGo = "quic-go"
)

func implFlag() cli.Flag {
	return &cli.StringFlag{Name: "impl", Value: implKernel,
		Usage: "QUIC transport: kernel (IPPROTO_QUIC via sockapi) or quic-go"}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(os.Stderr).RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "tquic-masque:", err)
		os.Exit(1)
	}
}

func newApp(logOut io.Writer) *cli.App {
	logger := log.New(logOut, "tquic-masque: ", log.LstdFlags)
	return &cli.App{
		Name:  "tquic-masque",
		Usage: "MASQUE proxy and clients (CONNECT-UDP, CONNECT-IP) over HTTP/3",
		Commands: []*cli.Command{
			{
				Name:  "proxy",
				Usage: "run a CONNECT-UDP / CONNECT-IP proxy",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:4433", Usage: "UDP address to listen on"},
					&cli.StringFlag{Name: "cert", Usage: "TLS certificate (PEM)"},
					&cli.StringFlag{Name: "key", Usage: "TLS private key (PEM)"},
					&cli.StringFlag{Name: "self-signed-ca-out", Usage: "without --cert: write the generated self-signed certificate here (PEM)"},
					&cli.StringFlag{Name: "host", Value: "localhost", Usage: "authority clients use in the URI templates"},
					&cli.StringSliceFlag{Name: "allow", Usage: "allowed targets: prefix[:port[-port]] (repeatable)"},
					&cli.StringFlag{Name: "pool", Usage: "CONNECT-IP client address pool (enables CONNECT-IP with --tun)"},
					&cli.StringFlag{Name: "tun", Value: "tqmasque0", Usage: "CONNECT-IP TUN device name"},
					&cli.IntFlag{Name: "mtu", Value: masque.DefaultMTU, Usage: "CONNECT-IP MTU"},
					implFlag(),
				},
				Action: func(c *cli.Context) error { return runProxy(c.Context, c, logger, nil) },
			},
			{
				Name:  "udp",
				Usage: "expose a UDP target through a proxy on a local UDP port",
				Flags: append(clientFlags(),
					&cli.StringFlag{Name: "target", Required: true, Usage: "target host:port"},
					&cli.StringFlag{Name: "local", Value: "127.0.0.1:0", Usage: "local UDP address to listen on"},
					&cli.BoolFlag{Name: "capsules", Usage: "carry payloads in DATAGRAM capsules instead of HTTP datagrams"},
				),
				Action: func(c *cli.Context) error { return runUDPClient(c.Context, c, logger, nil) },
			},
			{
				Name:  "ip",
				Usage: "full tunnel: route through a CONNECT-IP proxy via a TUN device",
				Flags: append(clientFlags(),
					&cli.StringFlag{Name: "tun", Value: "tqmasquec0", Usage: "TUN device name"},
					&cli.IntFlag{Name: "mtu", Value: masque.DefaultMTU, Usage: "TUN MTU"},
				),
				Action: func(c *cli.Context) error { return runIPClient(c.Context, c, logger) },
			},
		},
	}
}

func clientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "proxy", Required: true, Usage: "proxy address host:port"},
		&cli.StringFlag{Name: "template", Usage: "URI template (default: the well-known MASQUE template on --proxy)"},
		&cli.StringFlag{Name: "ca", Usage: "CA certificate (PEM) that signs the proxy's certificate"},
		&cli.StringFlag{Name: "server-name", Usage: "TLS server name (default: the proxy's host)"},
		implFlag(),
	}
}

func quicConfig() *quic.Config {
	return &quic.Config{EnableDatagrams: true, MaxIdleTimeout: 60 * time.Second, KeepAlivePeriod: 15 * time.Second}
}

// kernelConfig is quicConfig for the kernel's sockets (which have no
// keep-alive setting: the idle timeout is what bounds a quiet tunnel).
func kernelConfig() *sockapi.Config {
	return &sockapi.Config{EnableDatagrams: true, MaxIdleTimeout: 60 * time.Second,
		MaxIncomingStreams: 1000, MaxIncomingUniStreams: 100}
}

// listen opens the proxy's QUIC listener over impl.
func listen(impl, addr string, tlsConf *tls.Config) (transport.Listener, error) {
	switch impl {
	case implKernel:
		ln, err := sockapi.Listen(addr, tlsConf, kernelConfig())
		if err != nil {
			return nil, fmt.Errorf("listen on %s (kernel): %w", addr, err)
		}
		return ln, nil
	case implQUICGo:
		ln, err := quicgoadapter.Listen(addr, tlsConf, quicConfig())
		if err != nil {
			return nil, fmt.Errorf("listen on %s (quic-go): %w", addr, err)
		}
		return ln, nil
	}
	return nil, fmt.Errorf("unknown --impl %q (want %s or %s)", impl, implKernel, implQUICGo)
}

// dial opens a client QUIC connection over impl.
func dial(ctx context.Context, impl, addr string, tlsConf *tls.Config) (transport.Connection, error) {
	switch impl {
	case implKernel:
		c, err := sockapi.Dial(ctx, addr, tlsConf, kernelConfig())
		if err != nil {
			return nil, fmt.Errorf("connect to %s (kernel): %w", addr, err)
		}
		return c, nil
	case implQUICGo:
		c, err := quicgoadapter.Dialer(quicConfig())(ctx, addr, tlsConf)
		if err != nil {
			return nil, fmt.Errorf("connect to %s (quic-go): %w", addr, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("unknown --impl %q (want %s or %s)", impl, implKernel, implQUICGo)
}

// proxyHandler dispatches extended CONNECT requests by protocol.
func proxyHandler(udp *masque.UDPProxy, ip *masque.IPProxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodConnect && r.Proto == masque.ProtocolUDP:
			udp.ServeHTTP(w, r)
		case r.Method == http.MethodConnect && r.Proto == masque.ProtocolIP && ip != nil:
			ip.ServeHTTP(w, r)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	})
}

// runProxy serves until ctx is done. ready, if set, receives the
// listening address.
func runProxy(ctx context.Context, c *cli.Context, logger *log.Logger, ready chan<- string) error {
	tlsConf, err := serverTLS(c)
	if err != nil {
		return err
	}
	acl, err := masque.ParseACL(c.StringSlice("allow")...)
	if err != nil {
		return err
	}
	host := c.String("host")
	udpTmpl, err := masque.ParseTemplate(fmt.Sprintf(masque.DefaultUDPTemplate, host))
	if err != nil {
		return err
	}
	udp := &masque.UDPProxy{Template: udpTmpl, ACL: acl, Logger: logger}
	var ip *masque.IPProxy
	if pool := c.String("pool"); pool != "" {
		prefix, err := netip.ParsePrefix(pool)
		if err != nil {
			return fmt.Errorf("--pool: %w", err)
		}
		ap, err := masque.NewAddrPool(prefix)
		if err != nil {
			return err
		}
		tun, err := masque.CreateTUN(c.String("tun"))
		if err != nil {
			return err
		}
		defer tun.Close()
		if err := tun.Configure(c.Int("mtu"), []netip.Prefix{netip.PrefixFrom(ap.Gateway(), prefix.Bits())}, nil); err != nil {
			return err
		}
		ipTmpl, err := masque.ParseTemplate(fmt.Sprintf(masque.DefaultIPTemplate, host))
		if err != nil {
			return err
		}
		ip = &masque.IPProxy{Template: ipTmpl, ACL: acl, Pool: ap, Device: tun, MTU: c.Int("mtu"), Logger: logger}
		go func() {
			if err := ip.Run(ctx); err != nil && ctx.Err() == nil {
				logger.Printf("CONNECT-IP device: %v", err)
			}
		}()
	}
	ln, err := listen(c.String("impl"), c.String("listen"), tlsConf)
	if err != nil {
		return err
	}
	srv := &h3.Server{Handler: proxyHandler(udp, ip)}
	masque.ConfigureH3(srv)
	logger.Printf("proxy listening on %s (%s)", ln.Addr(), c.String("impl"))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		srv.Close()
		return nil
	case err := <-errc:
		return err
	}
}

func serverTLS(c *cli.Context) (*tls.Config, error) {
	if c.String("cert") != "" {
		cert, err := tls.LoadX509KeyPair(c.String("cert"), c.String("key"))
		if err != nil {
			return nil, fmt.Errorf("load certificate: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{h3.NextProtoH3}}, nil
	}
	srv, _, err := quicgoadapter.SelfSignedTLS(h3.NextProtoH3)
	if err != nil {
		return nil, err
	}
	if out := c.String("self-signed-ca-out"); out != "" {
		if err := writeCertPEM(out, srv.Certificates[0].Certificate[0]); err != nil {
			return nil, err
		}
	}
	return srv, nil
}

// dialProxy opens an HTTP/3 connection to the proxy.
func dialProxy(ctx context.Context, c *cli.Context) (*h3.ClientConn, error) {
	addr := c.String("proxy")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--proxy: %w", err)
	}
	tlsConf := &tls.Config{ServerName: host, NextProtos: []string{h3.NextProtoH3}}
	if sn := c.String("server-name"); sn != "" {
		tlsConf.ServerName = sn
	}
	if ca := c.String("ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca: no certificate in %s", ca)
		}
		tlsConf.RootCAs = pool
	}
	tc, err := dial(ctx, c.String("impl"), addr, tlsConf)
	if err != nil {
		return nil, err
	}
	return h3.NewClientConn(tc, &h3.Config{EnableDatagrams: true})
}

func template(c *cli.Context, def string) (string, error) {
	if t := c.String("template"); t != "" {
		return t, nil
	}
	host := c.String("proxy")
	if sn := c.String("server-name"); sn != "" {
		_, port, _ := net.SplitHostPort(host)
		host = net.JoinHostPort(sn, port)
	}
	return fmt.Sprintf(def, host), nil
}

// runUDPClient relays a local UDP port to the target through the proxy:
// each local peer gets its own CONNECT-UDP flow. ready, if set, receives
// the local address.
func runUDPClient(ctx context.Context, c *cli.Context, logger *log.Logger, ready chan<- string) error {
	host, portStr, err := net.SplitHostPort(c.String("target"))
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return fmt.Errorf("--target port: %w", err)
	}
	ts, _ := template(c, masque.DefaultUDPTemplate)
	tmpl, err := masque.ParseTemplate(ts)
	if err != nil {
		return err
	}
	cc, err := dialProxy(ctx, c)
	if err != nil {
		return err
	}
	defer cc.CloseWithError(h3.ErrCodeNoError, "")
	local, err := net.ListenPacket("udp", c.String("local"))
	if err != nil {
		return err
	}
	defer local.Close()
	logger.Printf("relaying %s -> %s", local.LocalAddr(), c.String("target"))
	if ready != nil {
		ready <- local.LocalAddr().String()
	}
	context.AfterFunc(ctx, func() { local.Close() })
	var mu sync.Mutex
	flows := map[string]*masque.UDPConn{}
	buf := make([]byte, 65536)
	for {
		n, peer, err := local.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		mu.Lock()
		flow := flows[peer.String()]
		mu.Unlock()
		if flow == nil {
			flow, _, err = masque.DialUDP(ctx, cc, tmpl, host, uint16(port), c.Bool("capsules"))
			if err != nil {
				logger.Printf("flow for %s: %v", peer, err)
				continue
			}
			mu.Lock()
			flows[peer.String()] = flow
			mu.Unlock()
			go func(peer net.Addr, flow *masque.UDPConn) {
				defer func() {
					mu.Lock()
					delete(flows, peer.String())
					mu.Unlock()
					flow.Close()
				}()
				for {
					p, err := flow.ReadPacket(ctx)
					if err != nil {
						return
					}
					local.WriteTo(p, peer)
				}
			}(peer, flow)
		}
		if err := flow.WritePacket(buf[:n]); err != nil {
			logger.Printf("send for %s: %v", peer, err)
		}
	}
}

// runIPClient opens a CONNECT-IP session and routes the advertised ranges
// through a TUN device carrying the assigned address.
func runIPClient(ctx context.Context, c *cli.Context, logger *log.Logger) error {
	ts, _ := template(c, masque.DefaultIPTemplate)
	tmpl, err := masque.ParseTemplate(ts)
	if err != nil {
		return err
	}
	cc, err := dialProxy(ctx, c)
	if err != nil {
		return err
	}
	defer cc.CloseWithError(h3.ErrCodeNoError, "")
	conn, _, err := masque.DialIP(ctx, cc, tmpl, netip.Prefix{}, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	prefixes, err := conn.LocalPrefixes(ctx)
	if err != nil {
		return err
	}
	ranges, err := conn.Routes(ctx)
	if err != nil {
		return err
	}
	var routes []netip.Prefix
	for _, r := range ranges {
		routes = append(routes, rangePrefixes(r)...)
	}
	tun, err := masque.CreateTUN(c.String("tun"))
	if err != nil {
		return err
	}
	defer tun.Close()
	if err := tun.Configure(c.Int("mtu"), prefixes, routes); err != nil {
		return err
	}
	logger.Printf("tunnel up on %s: addresses %v, routes %v", tun.Name(), prefixes, routes)
	errc := make(chan error, 2)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := tun.Read(buf)
			if err != nil {
				errc <- err
				return
			}
			if err := conn.WritePacket(buf[:n]); err != nil && errors.Is(err, masque.ErrBadPacket) {
				continue
			}
		}
	}()
	go func() {
		for {
			p, err := conn.ReadPacket(ctx)
			if err != nil {
				errc <- err
				return
			}
			tun.Write(p)
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// rangePrefixes covers an inclusive address range with prefixes.
func rangePrefixes(r masque.IPRange) []netip.Prefix {
	var out []netip.Prefix
	start := r.Start
	for start.IsValid() && start.Compare(r.End) <= 0 {
		bits := start.BitLen()
		// Grow the prefix while it stays aligned and inside the range.
		for bits > 0 {
			p := netip.PrefixFrom(start, bits-1)
			if p.Masked().Addr() != start || masque.PrefixRange(p, 0).End.Compare(r.End) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(start, bits)
		out = append(out, p)
		next := masque.PrefixRange(p, 0).End.Next()
		if !next.IsValid() {
			break
		}
		start = next
	}
	return out
}

func writeCertPEM(path string, der []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	return pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: der})
}
