package sockapi

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

// seqpacketPair returns two connected sock ends of an AF_UNIX
// SOCK_SEQPACKET pair: message boundaries and SCM cmsgs like a QUIC
// socket, and the same netpoller path, without the module.
func seqpacketPair(t *testing.T) (*sock, *sock) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newSock(fds[0], unix.AF_UNIX)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newSock(fds[1], unix.AF_UNIX)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.close(); _ = b.close() })
	return a, b
}

func TestSockRecvWaitsAndCloseWakes(t *testing.T) {
	a, b := seqpacketPair(t)
	got := make(chan string, 1)
	go func() {
		buf, n, _, _, err := a.recv(make([]byte, 64))
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string((*buf)[:n])
		recvBufs.Put(buf)
	}()
	select {
	case g := <-got:
		t.Fatalf("recv returned %q before anything was sent", g)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := b.send([]byte("ping"), nil, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g != "ping" {
			t.Fatalf("recv got %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("recv did not wake for data")
	}

	errc := make(chan error, 1)
	go func() {
		_, _, _, _, err := a.recv(nil)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	_ = a.close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("recv after close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not wake recv")
	}
	if _, err := a.send([]byte("x"), nil, 0); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send after close: %v, want net.ErrClosed", err)
	}
}

// A writer that took writeWait before its EAGAIN is woken when the peer
// makes room, without holding the descriptor's write lock meanwhile.
func TestSockWriteWaitWakesOnRoom(t *testing.T) {
	a, b := seqpacketPair(t)
	msg := make([]byte, 1024)
	full := false
	for i := 0; i < 1<<16 && !full; i++ {
		_, err := a.send(msg, nil, 0)
		full = errors.Is(err, unix.EAGAIN)
		if err != nil && !full {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("the socket buffer never filled")
	}
	ready := a.writeWait()
	if _, err := a.send(msg, nil, 0); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("send on a full socket: %v", err)
	}
	// Another sender on the same descriptor is not blocked by the waiter.
	done := make(chan error, 1)
	go func() { _, err := a.send(msg, nil, 0); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, unix.EAGAIN) {
			t.Fatalf("second send: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second send blocked behind the write waiter")
	}
	// The watcher's first pass may wake a writer once, spuriously (the
	// writer then tries again); after that only room wakes it.
	select {
	case <-ready:
		ready = a.writeWait()
		if _, err := a.send(msg, nil, 0); !errors.Is(err, unix.EAGAIN) {
			t.Fatalf("send on a full socket: %v", err)
		}
	case <-time.After(50 * time.Millisecond):
	}
	select {
	case <-ready:
		t.Fatal("writable before anything was read")
	case <-time.After(50 * time.Millisecond):
	}
	buf := make([]byte, 2048)
	for {
		if _, _, _, err := recvmsg(int(rawFd(t, b)), buf, nil); err != nil {
			break
		}
	}
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("writeWait did not fire after the peer drained the socket")
	}
	if _, err := a.send(msg, nil, 0); err != nil {
		t.Fatalf("send after the wakeup: %v", err)
	}
	// After close, waiting writers are released for good.
	_ = a.close()
	select {
	case <-a.writeWait():
	case <-time.After(5 * time.Second):
		t.Fatal("writeWait of a closed socket never fires")
	}
}

func rawFd(t *testing.T, s *sock) uintptr {
	var fd uintptr
	if err := s.rc.Control(func(f uintptr) { fd = f }); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestSockopts(t *testing.T) {
	// Raw setsockopt/getsockopt against a UDP socket, at a level the
	// kernel always has: SO_RCVBUF in and out.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	val := []byte{0, 0, 1, 0} // 65536 little endian; only checked to be nonzero
	if err := setsockopt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, val); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 8)
	n, err := getsockopt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, out)
	if err != nil || n != 4 {
		t.Fatalf("getsockopt: %d bytes, %v", n, err)
	}
	if out[0] == 0 && out[1] == 0 && out[2] == 0 && out[3] == 0 {
		t.Error("SO_RCVBUF read back as 0")
	}
	if err := setsockopt(fd, uapi.SOL_QUIC, uapi.QUIC_SOCKOPT_ALPN, []byte("h3")); err == nil {
		t.Error("SOL_QUIC option accepted by a UDP socket")
	}
}

// Without the module, Dial and Listen say what to do; with it (a host with
// tquic loaded), the sockets open.
func TestNoKernelModule(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, uapi.IPPROTO_QUIC)
	if err == nil {
		unix.Close(fd)
		s, err := openSocket(unix.AF_INET)
		if err != nil {
			t.Fatalf("the module is loaded, yet openSocket: %v", err)
		}
		_ = s.close()
		return
	}
	_, err = Dial(context.Background(), "127.0.0.1:443", nil, nil)
	if !errors.Is(err, ErrNoKernelModule) || !errors.Is(err, unix.EPROTONOSUPPORT) && !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Errorf("Dial: %v", err)
	}
	_, err = Listen("127.0.0.1:0", testServerTLS(t), nil)
	if !errors.Is(err, ErrNoKernelModule) {
		t.Errorf("Listen: %v", err)
	}
}
