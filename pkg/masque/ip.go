package masque

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// IP protocol numbers used here.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// ErrBadPacket reports bytes that are not a well-formed IP packet header.
var ErrBadPacket = errors.New("masque: malformed IP packet")

// PacketInfo is what CONNECT-IP needs from an IP header.
type PacketInfo struct {
	Version  int
	Src, Dst netip.Addr
	// Protocol is IPv4's Protocol or IPv6's Next Header (extension headers
	// are not walked).
	Protocol uint8
	TTL      uint8
}

// ParsePacket reads the IP header of pkt.
func ParsePacket(pkt []byte) (PacketInfo, error) {
	if len(pkt) == 0 {
		return PacketInfo{}, fmt.Errorf("%w: empty", ErrBadPacket)
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return PacketInfo{}, fmt.Errorf("%w: IPv4 packet of %d bytes", ErrBadPacket, len(pkt))
		}
		ihl := int(pkt[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(pkt[2:4]))
		if ihl < 20 || total < ihl || total > len(pkt) {
			return PacketInfo{}, fmt.Errorf("%w: IPv4 header length %d, total length %d, %d bytes", ErrBadPacket, ihl, total, len(pkt))
		}
		return PacketInfo{Version: 4, Src: netip.AddrFrom4([4]byte(pkt[12:16])), Dst: netip.AddrFrom4([4]byte(pkt[16:20])),
			Protocol: pkt[9], TTL: pkt[8]}, nil
	case 6:
		if len(pkt) < 40 {
			return PacketInfo{}, fmt.Errorf("%w: IPv6 packet of %d bytes", ErrBadPacket, len(pkt))
		}
		if int(binary.BigEndian.Uint16(pkt[4:6]))+40 > len(pkt) {
			return PacketInfo{}, fmt.Errorf("%w: IPv6 payload length exceeds the packet", ErrBadPacket)
		}
		return PacketInfo{Version: 6, Src: netip.AddrFrom16([16]byte(pkt[8:24])), Dst: netip.AddrFrom16([16]byte(pkt[24:40])),
			Protocol: pkt[6], TTL: pkt[7]}, nil
	}
	return PacketInfo{}, fmt.Errorf("%w: IP version %d", ErrBadPacket, pkt[0]>>4)
}

// checksum computes the Internet checksum of b with an initial sum.
func checksum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ICMPTooBig builds the ICMP error that tells the sender of pkt that it
// exceeds mtu: ICMPv4 "fragmentation needed" (type 3 code 4) or ICMPv6
// "packet too big" (type 2), sent from the address from. It quotes as much
// of pkt as the minimum MTU allows.
func ICMPTooBig(pkt []byte, mtu int, from netip.Addr) ([]byte, error) {
	info, err := ParsePacket(pkt)
	if err != nil {
		return nil, err
	}
	switch info.Version {
	case 4:
		if !from.Is4() {
			return nil, errors.New("masque: ICMPv4 needs an IPv4 source")
		}
		ihl := int(pkt[0]&0x0f) * 4
		quote := pkt[:min(len(pkt), ihl+8)]
		out := make([]byte, 20+8+len(quote))
		out[0] = 0x45
		binary.BigEndian.PutUint16(out[2:4], uint16(len(out)))
		out[8] = 64
		out[9] = protoICMP
		copy(out[12:16], from.AsSlice())
		copy(out[16:20], info.Src.AsSlice())
		binary.BigEndian.PutUint16(out[10:12], checksum(0, out[:20]))
		icmp := out[20:]
		icmp[0], icmp[1] = 3, 4
		binary.BigEndian.PutUint16(icmp[6:8], uint16(min(mtu, 0xffff)))
		copy(icmp[8:], quote)
		binary.BigEndian.PutUint16(icmp[2:4], checksum(0, icmp))
		return out, nil
	default:
		if !from.Is6() || from.Is4In6() {
			return nil, errors.New("masque: ICMPv6 needs an IPv6 source")
		}
		const minMTU = 1280
		quote := pkt[:min(len(pkt), minMTU-40-8)]
		out := make([]byte, 40+8+len(quote))
		out[0] = 0x60
		binary.BigEndian.PutUint16(out[4:6], uint16(8+len(quote)))
		out[6] = protoICMPv6
		out[7] = 64
		copy(out[8:24], from.AsSlice())
		copy(out[24:40], info.Src.AsSlice())
		icmp := out[40:]
		icmp[0] = 2
		binary.BigEndian.PutUint32(icmp[4:8], uint32(mtu))
		copy(icmp[8:], quote)
		// Pseudo-header: source, destination, upper-layer length, next header.
		var sum uint32
		for i := 8; i < 40; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(out[i:]))
		}
		sum += uint32(len(icmp)) + protoICMPv6
		binary.BigEndian.PutUint16(icmp[2:4], checksum(sum, icmp))
		return out, nil
	}
}

// prefixToIPNet converts a prefix for the netlink API.
func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
