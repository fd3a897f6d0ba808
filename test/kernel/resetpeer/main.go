// Command resetpeer is the quic-go client of the VM test of stateless
// resets: it connects to a tquic-perf server, says so, waits until the
// test has restarted the server (which forgot the connection without a
// CONNECTION_CLOSE reaching the client), sends on a stream and reports
// how the connection ended. It exits 0 only for a stateless reset.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/testpki"
)

func main() {
	addr := flag.String("connect", "", "server address")
	caFile := flag.String("ca", "", "CA certificate (PEM)")
	ready := flag.String("ready", "", "file written once connected")
	goFile := flag.String("go", "", "file whose appearance means: send now")
	flag.Parse()
	if err := run(*addr, *caFile, *ready, *goFile); err != nil {
		fmt.Fprintln(os.Stderr, "resetpeer:", err)
		os.Exit(1)
	}
}

func run(addr, caFile, ready, goFile string) error {
	pool, err := testpki.LoadCAPool(caFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"tquic-perf"}}
	conn, err := quic.DialAddr(ctx, addr, tlsConf, &quic.Config{MaxIdleTimeout: time.Minute})
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	<-conn.HandshakeComplete()
	if err := os.WriteFile(ready, []byte("connected\n"), 0o644); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	for {
		if _, err := os.Stat(goFile); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", goFile, ctx.Err())
		case <-conn.Context().Done():
			return fmt.Errorf("connection ended before the server restarted: %w", context.Cause(conn.Context()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	start := time.Now()
	s, err := conn.OpenStream()
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	if _, err := s.Write(make([]byte, 100)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	select {
	case <-conn.Context().Done():
	case <-time.After(10 * time.Second):
		return errors.New("the connection lives on 10 s after sending to the restarted server")
	}
	cause := context.Cause(conn.Context())
	var reset *quic.StatelessResetError
	if !errors.As(cause, &reset) {
		return fmt.Errorf("connection ended with %v, want a stateless reset", cause)
	}
	fmt.Printf("stateless reset after %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}
