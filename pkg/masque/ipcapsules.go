package masque

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/tquic/tquic/pkg/capsule"
)

// CONNECT-IP capsule types (RFC 9484 section 4.7).
const (
	CapsuleAddressAssign      capsule.Type = 0x01
	CapsuleAddressRequest     capsule.Type = 0x02
	CapsuleRouteAdvertisement capsule.Type = 0x03
)

// ErrMalformedCapsule reports a CONNECT-IP capsule that violates RFC 9484.
var ErrMalformedCapsule = errors.New("masque: malformed capsule")

// AddressEntry is one entry of ADDRESS_ASSIGN or ADDRESS_REQUEST: a
// request ID and an IP prefix. In a request, an unspecified address
// (0.0.0.0 or ::) asks for any address of that family with the prefix
// length; in an assignment, request ID 0 marks an unsolicited one.
type AddressEntry struct {
	RequestID uint64
	Prefix    netip.Prefix
}

// IPRange is one ROUTE_ADVERTISEMENT entry: the addresses Start..End
// (inclusive, same family) reachable for IP protocol Protocol (0 = all).
type IPRange struct {
	Start, End netip.Addr
	Protocol   uint8
}

// Contains reports whether a packet to dst with protocol proto falls in r.
func (r IPRange) Contains(dst netip.Addr, proto uint8) bool {
	return r.Start.Compare(dst) <= 0 && dst.Compare(r.End) <= 0 && (r.Protocol == 0 || r.Protocol == proto)
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		return append(append(b, 4), a.AsSlice()...)
	}
	return append(append(b, 6), a.AsSlice()...)
}

// AppendAddressCapsule appends an ADDRESS_ASSIGN or ADDRESS_REQUEST
// capsule (typ) with the given entries.
func AppendAddressCapsule(b []byte, typ capsule.Type, entries []AddressEntry) []byte {
	var v []byte
	for _, e := range entries {
		v = capsule.AppendVarint(v, e.RequestID)
		// As given: an IPv4-mapped IPv6 prefix stays IPv6 (its length
		// counts 128 bits), so what is parsed is what was sent.
		v = appendAddr(v, e.Prefix.Addr())
		v = append(v, byte(e.Prefix.Bits()))
	}
	return capsule.Append(b, typ, v)
}

// AppendRouteAdvertisement appends a ROUTE_ADVERTISEMENT capsule. The
// ranges must already be in the order RFC 9484 requires (see SortRanges).
func AppendRouteAdvertisement(b []byte, ranges []IPRange) []byte {
	var v []byte
	for _, r := range ranges {
		v = appendAddr(v, r.Start)
		v = append(v, r.End.AsSlice()...)
		v = append(v, r.Protocol)
	}
	return capsule.Append(b, CapsuleRouteAdvertisement, v)
}

func readAddr(v []byte) (netip.Addr, []byte, error) {
	if len(v) < 1 {
		return netip.Addr{}, nil, fmt.Errorf("%w: missing IP version", ErrMalformedCapsule)
	}
	switch v[0] {
	case 4:
		if len(v) < 5 {
			return netip.Addr{}, nil, fmt.Errorf("%w: truncated IPv4 address", ErrMalformedCapsule)
		}
		return netip.AddrFrom4([4]byte(v[1:5])), v[5:], nil
	case 6:
		if len(v) < 17 {
			return netip.Addr{}, nil, fmt.Errorf("%w: truncated IPv6 address", ErrMalformedCapsule)
		}
		return netip.AddrFrom16([16]byte(v[1:17])), v[17:], nil
	}
	return netip.Addr{}, nil, fmt.Errorf("%w: IP version %d", ErrMalformedCapsule, v[0])
}

// ParseAddressCapsule decodes the value of ADDRESS_ASSIGN or
// ADDRESS_REQUEST (typ). Requests must carry non-zero, distinct request
// IDs; every prefix must have no bits set past its length.
func ParseAddressCapsule(typ capsule.Type, v []byte) ([]AddressEntry, error) {
	var out []AddressEntry
	seen := map[uint64]bool{}
	for len(v) > 0 {
		id, n, err := capsule.ParseVarint(v)
		if err != nil {
			return nil, fmt.Errorf("%w: truncated request ID", ErrMalformedCapsule)
		}
		v = v[n:]
		addr, rest, err := readAddr(v)
		if err != nil {
			return nil, err
		}
		if len(rest) < 1 {
			return nil, fmt.Errorf("%w: missing prefix length", ErrMalformedCapsule)
		}
		bits := int(rest[0])
		v = rest[1:]
		if bits > addr.BitLen() {
			return nil, fmt.Errorf("%w: prefix length %d for a %d-bit address", ErrMalformedCapsule, bits, addr.BitLen())
		}
		p := netip.PrefixFrom(addr, bits)
		if p.Masked() != p {
			return nil, fmt.Errorf("%w: %s has bits set past the prefix length", ErrMalformedCapsule, p)
		}
		if typ == CapsuleAddressRequest {
			if id == 0 {
				return nil, fmt.Errorf("%w: ADDRESS_REQUEST with request ID 0", ErrMalformedCapsule)
			}
			if seen[id] {
				return nil, fmt.Errorf("%w: duplicate request ID %d", ErrMalformedCapsule, id)
			}
			seen[id] = true
		}
		out = append(out, AddressEntry{RequestID: id, Prefix: p})
	}
	if typ == CapsuleAddressRequest && len(out) == 0 {
		return nil, fmt.Errorf("%w: empty ADDRESS_REQUEST", ErrMalformedCapsule)
	}
	return out, nil
}

// ParseRouteAdvertisement decodes a ROUTE_ADVERTISEMENT value and checks
// RFC 9484's rules: Start <= End, IPv4 ranges before IPv6, ordered by IP
// protocol and then start address, and no overlap between ranges of the
// same family and protocol.
func ParseRouteAdvertisement(v []byte) ([]IPRange, error) {
	var out []IPRange
	for len(v) > 0 {
		start, rest, err := readAddr(v)
		if err != nil {
			return nil, err
		}
		n := start.BitLen() / 8
		if len(rest) < n+1 {
			return nil, fmt.Errorf("%w: truncated range", ErrMalformedCapsule)
		}
		var end netip.Addr
		if start.Is4() {
			end = netip.AddrFrom4([4]byte(rest[:4]))
		} else {
			end = netip.AddrFrom16([16]byte(rest[:16]))
		}
		r := IPRange{Start: start, End: end, Protocol: rest[n]}
		v = rest[n+1:]
		if start.Compare(end) > 0 {
			return nil, fmt.Errorf("%w: range start %s after end %s", ErrMalformedCapsule, start, end)
		}
		if len(out) > 0 {
			if err := checkOrder(out[len(out)-1], r); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func rangeKey(r IPRange) (int, uint8) {
	if r.Start.Is4() {
		return 4, r.Protocol
	}
	return 6, r.Protocol
}

func checkOrder(prev, next IPRange) error {
	pv, pp := rangeKey(prev)
	nv, np := rangeKey(next)
	switch {
	case pv != nv:
		if pv > nv {
			return fmt.Errorf("%w: IPv6 range before IPv4 range", ErrMalformedCapsule)
		}
	case pp != np:
		if pp > np {
			return fmt.Errorf("%w: ranges not ordered by IP protocol", ErrMalformedCapsule)
		}
	default:
		if prev.End.Compare(next.Start) >= 0 {
			return fmt.Errorf("%w: overlapping or unordered ranges %s-%s and %s-%s",
				ErrMalformedCapsule, prev.Start, prev.End, next.Start, next.End)
		}
	}
	return nil
}

// PrefixRange returns the range covered by a prefix.
func PrefixRange(p netip.Prefix, proto uint8) IPRange {
	p = p.Masked()
	start := p.Addr()
	b := start.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	end, _ := netip.AddrFromSlice(b)
	return IPRange{Start: start, End: end, Protocol: proto}
}
