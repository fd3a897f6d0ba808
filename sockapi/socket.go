package sockapi

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

// ErrNoKernelModule is wrapped by the errors of Dial and Listen when the
// kernel has no IPPROTO_QUIC sockets.
var ErrNoKernelModule = errors.New("tquic kernel module not loaded (modprobe tquic)")

// endpoint is what a Conn needs from its socket. *sock implements it over
// an IPPROTO_QUIC socket; the tests implement it without a kernel.
type endpoint interface {
	// recv reads one message, waiting until there is one, into a
	// recvBufSize buffer from recvBufs that the caller puts back.
	recv(oob []byte) (p *[]byte, n, oobn, flags int, err error)
	// send sends one message without waiting; EAGAIN when the kernel has
	// no room.
	send(p, oob []byte, flags int) (int, error)
	// writeWait returns a channel that is closed at the first write
	// readiness event after the call; call it before the send it guards.
	writeWait() <-chan struct{}
	setsockopt(opt int, val []byte) error
	// getsockopt passes val in and out (some options read their input
	// from it) and returns the length the kernel wrote.
	getsockopt(opt int, val []byte) (int, error)
	localAddr() net.Addr
	remoteAddr() net.Addr
	close() error
}

// sock is a non-blocking socket registered with Go's netpoller: waiting
// for readiness parks the goroutine, not a thread.
type sock struct {
	f      *os.File
	rc     syscall.RawConn
	family int
	closed atomic.Bool

	wmu       sync.Mutex
	writable  chan struct{} // closed at the next write readiness event
	waiting   bool          // a writer holds writable
	watching  bool          // watchWritable runs
	wfinished bool          // the socket closed: writable stays closed
}

// openSocket creates an IPPROTO_QUIC socket of family.
func openSocket(family int) (*sock, error) {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, uapi.IPPROTO_QUIC)
	if err != nil {
		if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.ESOCKTNOSUPPORT) {
			return nil, fmt.Errorf("sockapi: socket: %w: %w", ErrNoKernelModule, err)
		}
		return nil, fmt.Errorf("sockapi: socket: %w", err)
	}
	return newSock(fd, family)
}

// newSock takes ownership of a non-blocking fd.
func newSock(fd, family int) (*sock, error) {
	f := os.NewFile(uintptr(fd), "quic")
	if f == nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("sockapi: invalid socket descriptor %d", fd)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sockapi: socket: %w", err)
	}
	return &sock{f: f, rc: rc, family: family, writable: make(chan struct{})}, nil
}

// control runs fn on the descriptor, which stays open meanwhile.
func (s *sock) control(fn func(fd int) error) error {
	var opErr error
	if err := s.rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		return s.closedErr(err)
	}
	return opErr
}

// closedErr reports a use after close as net.ErrClosed (os.File reports
// its own, unexported, error).
func (s *sock) closedErr(err error) error {
	if s.closed.Load() {
		return net.ErrClosed
	}
	return err
}

func (s *sock) setsockopt(opt int, val []byte) error {
	return s.control(func(fd int) error { return setsockopt(fd, uapi.SOL_QUIC, opt, val) })
}

func (s *sock) getsockopt(opt int, val []byte) (n int, err error) {
	err = s.control(func(fd int) error {
		n, err = getsockopt(fd, uapi.SOL_QUIC, opt, val)
		return err
	})
	return n, err
}

func (s *sock) send(p, oob []byte, flags int) (n int, err error) {
	err = s.control(func(fd int) error {
		n, err = sendmsg(fd, p, oob, flags|unix.MSG_NOSIGNAL)
		return err
	})
	return n, err
}

// recvBufs holds the readers' buffers: a reader takes one only for a
// message that is there to read, so waiting connections hold none.
var recvBufs = sync.Pool{New: func() any { b := make([]byte, recvBufSize); return &b }}

// recv reads one message into a buffer of recvBufSize bytes from recvBufs,
// returned with the message (nil with an error); the caller puts it back.
func (s *sock) recv(oob []byte) (p *[]byte, n, oobn, flags int, err error) {
	var opErr error
	err = s.rc.Read(func(fd uintptr) bool {
		p = recvBufs.Get().(*[]byte)
		n, oobn, flags, opErr = recvmsg(int(fd), *p, oob)
		if opErr == unix.EAGAIN {
			recvBufs.Put(p)
			p = nil
			return false
		}
		return true
	})
	if err == nil && opErr != nil {
		err = opErr
	} else if err != nil {
		err = s.closedErr(err)
	}
	if err != nil && p != nil {
		recvBufs.Put(p)
		p = nil
	}
	return p, n, oobn, flags, err
}

func (s *sock) writeWait() <-chan struct{} {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.watching && !s.wfinished {
		s.watching = true
		go s.watchWritable()
	}
	s.waiting = true
	return s.writable
}

// watchWritable turns write readiness events into closing s.writable. It
// stays inside one RawConn.Write for the socket's life: the poller latches
// an event that arrives while the callback runs, so a writer that took the
// channel before its EAGAIN cannot miss the event that follows it. Writers
// themselves send through Control, so a writer waiting for one stream's
// credit never holds the descriptor's write lock against the others.
func (s *sock) watchWritable() {
	_ = s.rc.Write(func(uintptr) bool {
		s.wmu.Lock()
		if s.waiting {
			close(s.writable)
			s.writable = make(chan struct{})
			s.waiting = false
		}
		s.wmu.Unlock()
		return false
	})
	s.wmu.Lock()
	close(s.writable) // closed socket: wake every writer, now and later
	s.wfinished = true
	s.wmu.Unlock()
}

// accept waits for and accepts a connection on a listening socket.
func (s *sock) accept() (*sock, error) {
	var nfd int
	var opErr error
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			nfd, _, opErr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if opErr == unix.EINTR || opErr == unix.ECONNABORTED {
				continue
			}
			return opErr != unix.EAGAIN
		}
	})
	if err != nil {
		return nil, s.closedErr(err)
	}
	if opErr != nil {
		return nil, opErr
	}
	return newSock(nfd, s.family)
}

func (s *sock) bind(sa unix.Sockaddr) error {
	return s.control(func(fd int) error { return unix.Bind(fd, sa) })
}

func (s *sock) listen(backlog int) error {
	return s.control(func(fd int) error { return unix.Listen(fd, backlog) })
}

// connect sets the peer. A QUIC connect sends nothing, so it completes at
// once; EINPROGRESS is accepted in case a kernel reports it anyway.
func (s *sock) connect(sa unix.Sockaddr) error {
	err := s.control(func(fd int) error { return unix.Connect(fd, sa) })
	if errors.Is(err, unix.EINPROGRESS) {
		return nil
	}
	return err
}

func (s *sock) localAddr() net.Addr {
	var sa unix.Sockaddr
	_ = s.control(func(fd int) (err error) {
		sa, err = unix.Getsockname(fd)
		return err
	})
	return udpAddr(sa)
}

func (s *sock) remoteAddr() net.Addr {
	var sa unix.Sockaddr
	_ = s.control(func(fd int) (err error) {
		sa, err = unix.Getpeername(fd)
		return err
	})
	return udpAddr(sa)
}

func (s *sock) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.f.Close()
}

// udpAddr converts a socket address; nil when there is none.
func udpAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.UDPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		zone := ""
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return &net.UDPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port, Zone: zone}
	}
	return nil
}

// sockaddr converts a resolved address for a socket of family (an IPv4
// address on an IPv6 socket becomes v4-mapped).
func sockaddr(ua *net.UDPAddr, family int) (unix.Sockaddr, error) {
	if family == unix.AF_INET {
		ip4 := ua.IP.To4()
		if ip4 == nil && ua.IP != nil {
			return nil, fmt.Errorf("sockapi: %s is not an IPv4 address", ua.IP)
		}
		sa := &unix.SockaddrInet4{Port: ua.Port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	}
	sa := &unix.SockaddrInet6{Port: ua.Port}
	if ua.IP != nil {
		copy(sa.Addr[:], ua.IP.To16())
	}
	if ua.Zone != "" {
		ifi, err := net.InterfaceByName(ua.Zone)
		if err != nil {
			return nil, fmt.Errorf("sockapi: zone of %s: %w", ua, err)
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, nil
}

// ---- raw system calls: x/sys/unix has no getsockopt that passes input in
// optval, and its sendmsg/recvmsg add a syscall for empty payloads. ----

func bufPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func setsockopt(fd, level, opt int, val []byte) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(bufPtr(val)), uintptr(len(val)), 0)
	if e != 0 {
		return e
	}
	return nil
}

func getsockopt(fd, level, opt int, val []byte) (int, error) {
	l := uint32(len(val))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(bufPtr(val)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return int(l), nil
}

func sendmsg(fd int, p, oob []byte, flags int) (int, error) {
	var msg unix.Msghdr
	var iov unix.Iovec
	if len(p) > 0 {
		iov.Base = &p[0]
		iov.SetLen(len(p))
		msg.Iov = &iov
		msg.SetIovlen(1)
	}
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	for {
		n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}

func recvmsg(fd int, p, oob []byte) (n, oobn, flags int, err error) {
	var msg unix.Msghdr
	var iov unix.Iovec
	if len(p) > 0 {
		iov.Base = &p[0]
		iov.SetLen(len(p))
		msg.Iov = &iov
		msg.SetIovlen(1)
	}
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	for {
		r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_CMSG_CLOEXEC)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, 0, 0, e
		}
		return int(r), int(msg.Controllen), int(msg.Flags), nil
	}
}
