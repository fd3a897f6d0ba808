package masque

import (
	"net/netip"
	"testing"

	"github.com/tquic/tquic/pkg/capsule"
)

func FuzzIPCapsules(f *testing.F) {
	f.Add(AppendAddressCapsule(nil, CapsuleAddressAssign, []AddressEntry{{Prefix: netip.MustParsePrefix("10.0.0.2/32")}}))
	f.Add(AppendAddressCapsule(nil, CapsuleAddressRequest, []AddressEntry{{RequestID: 7, Prefix: netip.MustParsePrefix("::/128")}}))
	f.Add(AppendRouteAdvertisement(nil, []IPRange{
		PrefixRange(netip.MustParsePrefix("10.0.0.0/8"), 0),
		PrefixRange(netip.MustParsePrefix("2001:db8::/32"), 17),
	}))
	f.Add([]byte{0x03, 0x0a, 0x04, 10, 0, 0, 2, 10, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			c, n, err := capsule.Parse(b, maxCapsule)
			if err != nil {
				return
			}
			b = b[n:]
			switch c.Type {
			case CapsuleAddressAssign, CapsuleAddressRequest:
				es, err := ParseAddressCapsule(c.Type, c.Value)
				if err != nil {
					continue
				}
				c2, _, err := capsule.Parse(AppendAddressCapsule(nil, c.Type, es), maxCapsule)
				if err != nil {
					t.Fatal(err)
				}
				es2, err := ParseAddressCapsule(c2.Type, c2.Value)
				if err != nil || len(es2) != len(es) {
					t.Fatalf("round trip %v -> %v %v", es, es2, err)
				}
				for i := range es {
					if es[i] != es2[i] {
						t.Fatalf("entry %d: %v -> %v", i, es[i], es2[i])
					}
				}
			case CapsuleRouteAdvertisement:
				rs, err := ParseRouteAdvertisement(c.Value)
				if err != nil {
					continue
				}
				for _, r := range rs {
					if r.Start.Compare(r.End) > 0 {
						t.Fatalf("accepted inverted range %v", r)
					}
				}
				c2, _, _ := capsule.Parse(AppendRouteAdvertisement(nil, rs), maxCapsule)
				rs2, err := ParseRouteAdvertisement(c2.Value)
				if err != nil || len(rs2) != len(rs) {
					t.Fatalf("round trip %v -> %v %v", rs, rs2, err)
				}
			}
		}
	})
}

func FuzzParsePacket(f *testing.F) {
	f.Add(ipv4Packet(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 17, []byte("x")))
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParsePacket(b)
		if err != nil {
			return
		}
		from := netip.MustParseAddr("10.0.0.1")
		if info.Version == 6 {
			from = netip.MustParseAddr("2001:db8::1")
		}
		m, err := ICMPTooBig(b, 1280, from)
		if err != nil {
			t.Fatalf("ICMP for a parsed packet: %v", err)
		}
		if _, err := ParsePacket(m); err != nil {
			t.Fatalf("ICMP does not parse: %v", err)
		}
	})
}
