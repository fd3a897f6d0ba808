package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batched UDP I/O. A connection's flush hands the socket many datagrams at
// once; consecutive ones of the same size, to the same peer, with the same
// ECN codepoint leave in one sendmsg with a UDP_SEGMENT control message
// (GSO): the kernel cuts them, or passes the whole train through loopback.
// Reads ask for UDP_GRO, so that one recvmsg can return many datagrams of
// one sender back to back, with their size in a control message.

const (
	// maxGSOSegments is the kernel's UDP_MAX_SEGMENTS (64 before Linux
	// 6.9, 128 since).
	maxGSOSegments = 64
	// maxGSOBytes bounds a GSO send: the largest IPv4 UDP payload.
	maxGSOBytes = 65535 - 20 - 8
	// recvBufSize holds the largest GRO batch (a 64 KB IP packet).
	recvBufSize = 65536
	// socketBufferSize is what we ask for the socket buffers: bursts of a
	// whole congestion window must not overflow the receive queue. The
	// kernel caps it at net.core.[rw]mem_max.
	socketBufferSize = 8 << 20
)

// recvOOBSpace holds a received datagram's TOS / traffic class and the
// GRO segment size.
var recvOOBSpace = 2 * unix.CmsgSpace(4)

// sendOOBSpace holds the UDP_SEGMENT and the TOS / traffic class messages.
var sendOOBSpace = unix.CmsgSpace(2) + unix.CmsgSpace(4)

// outDatagram is one datagram of a send batch: buf[off:off+len] of the
// batch buffer.
type outDatagram struct {
	off, len int
	ecn      uint8
	to       netip.AddrPort
}

// udpSocket is a UDP socket with batched I/O. A listener's connections
// share one.
type udpSocket struct {
	udp *net.UDPConn
	rc  syscall.RawConn
	w   msgWriter // udp, or a test double
	// gso says the kernel takes UDP_SEGMENT; cleared for good the first
	// time it refuses a segmented send.
	gso atomic.Bool
	// gsoSends and gsoFallbacks count segmented sends and the refused ones.
	gsoSends, gsoFallbacks atomic.Uint64
}

// newUDPSocket prepares udp for batched I/O: received ECN marks (without
// them the engine's ECN validation fails and turns ECN off), GRO, GSO when
// the kernel has it, and large socket buffers. What the kernel refuses is
// done without.
func newUDPSocket(udp *net.UDPConn) *udpSocket {
	s := &udpSocket{udp: udp, w: udp}
	_ = enableECNReceive(udp)
	// Errors only mean smaller buffers: bursts may then be lost.
	_ = udp.SetReadBuffer(socketBufferSize)
	_ = udp.SetWriteBuffer(socketBufferSize)
	rc, err := udp.SyscallConn()
	if err == nil {
		s.rc = rc
		_ = rc.Control(func(fd uintptr) {
			// Reading the option tells whether the kernel knows it.
			if _, err := unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT); err == nil {
				s.gso.Store(true)
			}
			_ = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
		})
	}
	return s
}

// WriteToUDPAddrPort sends one datagram (listener replies, tests).
func (s *udpSocket) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	n, _, err := s.w.WriteMsgUDPAddrPort(b, nil, addr)
	return n, err
}

// recvBatchSize is how many reads one recvmmsg returns at most; each may
// be a GRO train. While batches come back full, up to maxReadsPerResponse
// of them are fed to the engine before it answers (one ACK for all).
const (
	recvBatchSize       = 8
	maxReadsPerResponse = 4
)

// recvMsg is one read of a batch: b is a datagram, or a train of GRO
// datagrams cut every seg bytes (0: one datagram).
type recvMsg struct {
	b    []byte
	seg  int
	from netip.AddrPort
	ecn  uint8
}

// recvBatch is the memory of batched reads, reused from one to the next.
type recvBatch struct {
	bufs  [][]byte
	oobs  [][]byte
	names []unix.RawSockaddrInet6
	iovs  []unix.Iovec
	hdrs  []unix.Mmsghdr
	msgs  []recvMsg
}

// recvBatches recycles the read memory of connections that ended (about
// half a megabyte each): a handshake should not have to allocate it.
var recvBatches = sync.Pool{New: func() any { return newRecvBatch(recvBatchSize) }}

func newRecvBatch(n int) *recvBatch {
	rb := &recvBatch{
		bufs:  make([][]byte, n),
		oobs:  make([][]byte, n),
		names: make([]unix.RawSockaddrInet6, n),
		iovs:  make([]unix.Iovec, n),
		hdrs:  make([]unix.Mmsghdr, n),
		msgs:  make([]recvMsg, 0, n),
	}
	for i := range n {
		rb.bufs[i] = make([]byte, recvBufSize)
		rb.oobs[i] = make([]byte, recvOOBSpace)
	}
	return rb
}

// readBatch returns, in rb.msgs, the datagrams one recvmmsg call gets;
// with wait, it waits for some, else it returns none when none is queued.
// Datagrams longer than the buffers are dropped.
func (s *udpSocket) readBatch(rb *recvBatch, wait bool) ([]recvMsg, error) {
	if s.rc == nil {
		return nil, errors.New("bridge: read: socket without file descriptor")
	}
	for i := range rb.hdrs {
		rb.iovs[i].Base = &rb.bufs[i][0]
		rb.iovs[i].SetLen(len(rb.bufs[i]))
		h := &rb.hdrs[i].Hdr
		*h = unix.Msghdr{}
		h.Name = (*byte)(unsafe.Pointer(&rb.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &rb.iovs[i]
		h.SetIovlen(1)
		h.Control = &rb.oobs[i][0]
		h.SetControllen(len(rb.oobs[i]))
		rb.hdrs[i].Len = 0
	}
	var n int
	var errno syscall.Errno
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&rb.hdrs[0])),
				uintptr(len(rb.hdrs)), 0, 0, 0)
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return !wait // with wait: until readable
			}
			n, errno = int(r), e
			return true
		}
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: read: %w", err)
	}
	rb.msgs = rb.msgs[:0]
	for i := range n {
		h := &rb.hdrs[i]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			continue // larger than any QUIC datagram we accept
		}
		from, ok := sockaddrAddrPort(&rb.names[i])
		if !ok {
			continue
		}
		ecn, seg := parseRecvOOB(rb.oobs[i][:h.Hdr.Controllen])
		rb.msgs = append(rb.msgs, recvMsg{b: rb.bufs[i][:h.Len], seg: seg, from: from, ecn: ecn})
	}
	return rb.msgs, nil
}

// sockaddrAddrPort converts a received IPv4 or IPv6 source address
// (IPv4-mapped ones unmapped).
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port), true
	}
	return netip.AddrPort{}, false
}

// parseRecvOOB returns the ECN codepoint (0 when absent) and the GRO
// segment size (0 when the read returned one datagram) of a read's
// control messages. It runs per read and does not allocate.
func parseRecvOOB(oob []byte) (ecn uint8, seg int) {
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return ecn, seg
		}
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS && len(data) >= 1:
			ecn = data[0] & 0x3
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS && len(data) >= 4:
			ecn = uint8(binary.NativeEndian.Uint32(data)) & 0x3
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			seg = int(binary.NativeEndian.Uint32(data))
		}
		oob = rest
	}
	return ecn, seg
}

// gsoRun returns how many datagrams from the start of ds can leave in one
// segmented send: contiguous in the buffer, to the same peer, with the
// same ECN codepoint, all of the first one's size but the last, which may
// be shorter; at most maxSegs of them and maxBytes in all.
func gsoRun(ds []outDatagram, maxSegs, maxBytes int) int {
	if len(ds) == 0 {
		return 0
	}
	first := ds[0]
	total := first.len
	n := 1
	for n < len(ds) && n < maxSegs {
		d := ds[n]
		prev := ds[n-1]
		if d.to != first.to || d.ecn != first.ecn || d.off != prev.off+prev.len ||
			d.len > first.len || total+d.len > maxBytes {
			break
		}
		total += d.len
		n++
		if d.len < first.len {
			break // a shorter datagram ends the train
		}
	}
	return n
}

// appendSendOOB appends the control messages of a send: the GSO segment
// size when seg > 0, the ECN codepoint when not Not-ECT.
func appendSendOOB(b []byte, seg int, ecn uint8, to netip.AddrPort) []byte {
	if seg > 0 {
		off := len(b)
		b = b[:off+unix.CmsgSpace(2)]
		clear(b[off:])
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
		h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
		binary.NativeEndian.PutUint16(b[off+unix.CmsgLen(0):], uint16(seg))
	}
	if ecn != 0 {
		off := len(b)
		b = b[:off+ecnOOBSpace]
		ecnOOB(b[off:], ecn, to)
	}
	return b
}

// isGSORefused says a segmented send failed because of the segmentation:
// EIO when the device cannot checksum (GSO needs it), EINVAL when a
// segment exceeds the route's MTU or the kernel's segment limits.
func isGSORefused(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOPROTOOPT)
}

// send transmits the datagrams ds of buf, in order, coalescing what it can
// into GSO sends; oob is the caller's scratch (sendOOBSpace bytes: the
// socket may be shared). Errors are losses as far as QUIC is concerned;
// the first one is returned.
func (s *udpSocket) send(buf []byte, ds []outDatagram, oob []byte) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for len(ds) > 0 {
		n := 1
		if s.gso.Load() {
			n = gsoRun(ds, maxGSOSegments, maxGSOBytes)
		}
		d := ds[0]
		if n == 1 {
			oob = appendSendOOB(oob[:0], 0, d.ecn, d.to)
			_, _, err := s.w.WriteMsgUDPAddrPort(buf[d.off:d.off+d.len], oob, d.to)
			keep(err)
			ds = ds[1:]
			continue
		}
		last := ds[n-1]
		oob = appendSendOOB(oob[:0], d.len, d.ecn, d.to)
		_, _, err := s.w.WriteMsgUDPAddrPort(buf[d.off:last.off+last.len], oob, d.to)
		s.gsoSends.Add(1)
		if err != nil && isGSORefused(err) {
			// Send this train one by one, and every later one too.
			s.gso.Store(false)
			s.gsoFallbacks.Add(1)
			continue
		}
		keep(err)
		ds = ds[n:]
	}
	return first
}
