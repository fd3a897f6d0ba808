// Command mgmtpeer makes live kernel QUIC connections for the management
// plane tests and holds them open while tquicctl looks at them.
//
//	mgmtpeer initial  -port P -n N [-qlog] -ready FILE -done FILE
//	mgmtpeer transfer -port P -bytes B -ca CA -cert C -key K -ready FILE -done FILE
//
// initial: N clients each send Initial bytes (no TLS) to a listener, which
// accepts N connections. transfer: a full handshake (sockapi, TLS 1.3)
// and B bytes on one stream, client to server. Both write FILE ready
// (JSON) and keep every connection open until FILE done exists.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
	"github.com/tquic/tquic/sockapi"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mgmtpeer initial|transfer [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	port := fs.Int("port", 4433, "listener port on 127.0.0.1")
	n := fs.Int("n", 1, "initial: connections")
	qlog := fs.Bool("qlog", false, "initial: set TQUIC_SOCKOPT_QLOG on the clients")
	size := fs.Int64("bytes", 10<<20, "transfer: bytes to send")
	ca := fs.String("ca", "", "transfer: CA (PEM)")
	cert := fs.String("cert", "", "transfer: server certificate")
	key := fs.String("key", "", "transfer: server key")
	ready := fs.String("ready", "", "file written when the connections are up")
	done := fs.String("done", "", "file whose existence ends the program")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "initial":
		err = initial(*port, *n, *qlog, *ready, *done)
	case "transfer":
		err = transfer(*port, *size, *ca, *cert, *key, *ready, *done)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mgmtpeer:", err)
		os.Exit(1)
	}
}

func waitFile(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not appear within %v", path, limit)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func quicSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, uapi.IPPROTO_QUIC)
	if err != nil {
		return -1, fmt.Errorf("socket(IPPROTO_QUIC): %w", err)
	}
	return fd, nil
}

// sendInitial sends handshake bytes at the Initial level: the kernel puts
// them in CRYPTO frames of a real Initial packet.
func sendInitial(fd int, data []byte) error {
	oob := make([]byte, unix.CmsgSpace(uapi.SizeofQuicHandshakeInfo))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = uapi.SOL_QUIC
	h.Type = uapi.QUIC_HANDSHAKE_INFO
	h.SetLen(unix.CmsgLen(uapi.SizeofQuicHandshakeInfo))
	oob[unix.CmsgLen(0)] = uapi.QUIC_CRYPTO_INITIAL
	return unix.Sendmsg(fd, data, oob, nil, 0)
}

type initialReport struct {
	Clients []int `json:"clients"`
	Local   []int `json:"client_ports"`
}

func initial(port, n int, qlog bool, ready, done string) error {
	lfd, err := quicSocket()
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if err := unix.Listen(lfd, n+1); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hello := make([]byte, 300)
	for i := range hello {
		hello[i] = byte(i)
	}
	var rep initialReport
	var fds []int
	for i := 0; i < n; i++ {
		fd, err := quicSocket()
		if err != nil {
			return err
		}
		fds = append(fds, fd)
		if qlog {
			if err := unix.SetsockoptInt(fd, uapi.SOL_QUIC, 0x1004, 1); err != nil {
				return fmt.Errorf("TQUIC_SOCKOPT_QLOG: %w", err)
			}
		}
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		if err := sendInitial(fd, hello); err != nil {
			return fmt.Errorf("send Initial: %w", err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		rep.Local = append(rep.Local, sa.(*unix.SockaddrInet4).Port)
	}
	for i := 0; i < n; i++ {
		cfd, _, err := unix.Accept(lfd)
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		fds = append(fds, cfd)
	}
	rep.Clients = fds[:n]
	if err := writeJSON(ready, rep); err != nil {
		return err
	}
	err = waitFile(done, 3*time.Minute)
	for _, fd := range fds {
		unix.Close(fd)
	}
	return err
}

type transferReport struct {
	Bytes      int64  `json:"bytes"`
	ClientAddr string `json:"client_addr"`
	ServerAddr string `json:"server_addr"`
}

func transfer(port int, size int64, caFile, certFile, keyFile, ready, done string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return errors.New("no CA certificate")
	}
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String()
	l, err := sockapi.Listen(addr, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"mgmt-test"}}, nil)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer l.Close()
	got := make(chan error, 1)
	var received int64
	var server *sockapi.Conn
	go func() {
		c, err := l.AcceptConn(ctx)
		if err != nil {
			got <- fmt.Errorf("accept: %w", err)
			return
		}
		server = c
		s, err := c.AcceptStream(ctx)
		if err != nil {
			got <- fmt.Errorf("accept stream: %w", err)
			return
		}
		received, err = io.Copy(io.Discard, s)
		got <- err
	}()
	client, err := sockapi.Dial(ctx, addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"mgmt-test"}}, nil)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	s, err := client.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	buf := make([]byte, 64<<10)
	for left := size; left > 0; {
		chunk := int64(len(buf))
		if left < chunk {
			chunk = left
		}
		if _, err := s.Write(buf[:chunk]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		left -= chunk
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("close stream: %w", err)
	}
	if err := <-got; err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if received != size {
		return fmt.Errorf("server received %d bytes, want %d", received, size)
	}
	// Let the last ACKs arrive so the counters settle.
	time.Sleep(500 * time.Millisecond)
	if err := writeJSON(ready, transferReport{Bytes: received, ClientAddr: client.LocalAddr().String(),
		ServerAddr: server.LocalAddr().String()}); err != nil {
		return err
	}
	err = waitFile(done, 3*time.Minute)
	client.CloseWithError(0, "")
	server.CloseWithError(0, "")
	return err
}
