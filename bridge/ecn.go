package bridge

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ECN codepoints travel between the engine and the UDP socket in control
// messages: IP_TOS / IPV6_TCLASS on send, IP_RECVTOS / IPV6_RECVTCLASS on
// receive (RFC 9000 13.4).

// ecnOOBSpace is room for one received TOS or traffic-class message.
var ecnOOBSpace = unix.CmsgSpace(4)

// msgWriter is a packetWriter that can attach control messages (a
// *net.UDPConn); simulated ones cannot and send unmarked.
type msgWriter interface {
	WriteMsgUDPAddrPort(b, oob []byte, addr netip.AddrPort) (n, oobn int, err error)
}

// enableECNReceive asks the kernel for each datagram's TOS (IPv4, also on
// dual-stack sockets) and traffic class (IPv6).
func enableECNReceive(udp *net.UDPConn) error {
	rc, err := udp.SyscallConn()
	if err != nil {
		return fmt.Errorf("bridge: ecn: %w", err)
	}
	var v4, v6 error
	if err := rc.Control(func(fd uintptr) {
		v4 = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
		v6 = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1)
	}); err != nil {
		return fmt.Errorf("bridge: ecn: %w", err)
	}
	// An IPv4 socket has no IPv6 options and the reverse: one is enough.
	if v4 != nil && v6 != nil {
		return fmt.Errorf("bridge: ecn: IP_RECVTOS: %v, IPV6_RECVTCLASS: %w", v4, v6)
	}
	return nil
}

// ecnFromOOB is the ECN codepoint of a received datagram's control
// messages, 0 (Not-ECT) when they carry none.
// It runs per datagram: one message at a time, without allocating.
func ecnFromOOB(oob []byte) uint8 {
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0
		}
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS && len(data) >= 1:
			return data[0] & 0x3
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS && len(data) >= 4:
			return uint8(binary.NativeEndian.Uint32(data)) & 0x3
		}
		oob = rest
	}
	return 0
}

// ecnOOB writes into @b (ecnOOBSpace bytes, reused by the caller) the
// control message that marks a datagram to @to with @ecn.
func ecnOOB(b []byte, ecn uint8, to netip.AddrPort) []byte {
	b = b[:ecnOOBSpace]
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	if to.Addr().Unmap().Is4() {
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TOS
	} else {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
	}
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], uint32(ecn))
	return b
}

// writeECN sends @b to @to through @pc, marked with @ecn where it can be;
// @oob is scratch room for the control message.
func writeECN(pc packetWriter, b, oob []byte, ecn uint8, to netip.AddrPort) error {
	if mw, ok := pc.(msgWriter); ok && ecn != 0 {
		_, _, err := mw.WriteMsgUDPAddrPort(b, ecnOOB(oob, ecn, to), to)
		return err
	}
	_, err := pc.WriteToUDPAddrPort(b, to)
	return err
}
