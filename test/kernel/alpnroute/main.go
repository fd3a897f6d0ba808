// Command alpnroute is the VM test of ALPN routing among the listeners of
// one port: three kernel listeners share a UDP port ("alpha"; "beta" and
// "bravo"; and one without an ALPN list that takes the rest), and kernel
// and quic-go clients offering various ALPN lists must each reach the
// listener their first matching protocol names. Each listener answers a
// stream with its own name. It prints a line per case and exits 0 only
// when every client reached the right listener.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/testpki"
	"github.com/tquic/tquic/sockapi"
)

func main() {
	certFile := flag.String("cert", "", "server certificate (PEM)")
	keyFile := flag.String("key", "", "server key (PEM)")
	caFile := flag.String("ca", "", "CA certificate (PEM)")
	flag.Parse()
	if err := run(*certFile, *keyFile, *caFile); err != nil {
		fmt.Fprintln(os.Stderr, "alpnroute:", err)
		os.Exit(1)
	}
}

type listener struct {
	name  string
	alpns []string // nil: no list, takes what no other listener names
}

func run(certFile, keyFile, caFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("load server certificate: %w", err)
	}
	pool, err := testpki.LoadCAPool(caFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	addr := "127.0.0.1:0"
	for _, l := range []listener{{"L-alpha", []string{"alpha"}}, {"L-beta", []string{"beta", "bravo"}}, {"L-any", nil}} {
		conf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: l.alpns}
		if l.alpns == nil {
			// No list in the kernel; TLS agrees to the client's first choice.
			conf = &tls.Config{GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
				return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: chi.SupportedProtos[:1]}, nil
			}}
		}
		ln, err := sockapi.Listen(addr, conf, nil)
		if err != nil {
			return fmt.Errorf("listen %s on %s: %w", l.name, addr, err)
		}
		defer ln.Close()
		addr = ln.Addr().String()
		go serve(ctx, ln, l.name)
	}

	cases := []struct {
		offer []string
		want  string
	}{
		{[]string{"alpha"}, "L-alpha"},
		{[]string{"bravo"}, "L-beta"},
		{[]string{"zzz", "beta"}, "L-beta"},
		{[]string{"beta", "alpha"}, "L-beta"},
		{[]string{"gamma"}, "L-any"},
	}
	failed := 0
	for _, c := range cases {
		for _, impl := range []string{"kernel", "quic-go"} {
			got, err := ask(ctx, impl, addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: c.offer})
			if err == nil && got != c.want {
				err = fmt.Errorf("reached %s, want %s", got, c.want)
			}
			status := "ok"
			if err != nil {
				status = "FAIL: " + err.Error()
				failed++
			}
			fmt.Printf("%s client offering %s: %s\n", impl, strings.Join(c.offer, ","), status)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d clients reached the wrong listener", failed)
	}
	fmt.Println("alpn routing ok")
	return nil
}

func serve(ctx context.Context, ln *sockapi.Listener, name string) {
	for {
		c, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		go func() {
			defer c.CloseWithError(0, "")
			s, err := c.AcceptStream(ctx)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, s)
			_, _ = s.Write([]byte(name))
			_ = s.Close()
			<-c.Context().Done()
		}()
	}
}

// ask connects with impl, sends on a stream and returns the answer: the
// name of the listener that took the connection.
func ask(ctx context.Context, impl, addr string, conf *tls.Config) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var s io.ReadWriteCloser
	var closeConn func()
	if impl == "kernel" {
		c, err := sockapi.Dial(ctx, addr, conf, nil)
		if err != nil {
			return "", fmt.Errorf("dial: %w", err)
		}
		closeConn = func() { _ = c.CloseWithError(0, "") }
		if s, err = c.OpenStream(ctx); err != nil {
			closeConn()
			return "", fmt.Errorf("open stream: %w", err)
		}
	} else {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return "", err
		}
		c, err := quic.DialAddr(ctx, ua.String(), conf, nil)
		if err != nil {
			return "", fmt.Errorf("dial: %w", err)
		}
		closeConn = func() { _ = c.CloseWithError(0, "") }
		qs, err := c.OpenStreamSync(ctx)
		if err != nil {
			closeConn()
			return "", fmt.Errorf("open stream: %w", err)
		}
		s = qs
	}
	defer closeConn()
	if _, err := s.Write([]byte("who?")); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	if err := s.Close(); err != nil {
		return "", fmt.Errorf("close: %w", err)
	}
	b, err := io.ReadAll(s)
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	return string(b), nil
}
