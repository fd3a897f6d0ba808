package masque

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/tquic/tquic/pkg/capsule"
)

// memDevice is an in-memory packet device: packets written by the proxy
// appear on out; packets sent on in are read by the proxy.
type memDevice struct {
	in, out chan []byte
	closed  chan struct{}
}

func newMemDevice() *memDevice {
	return &memDevice{in: make(chan []byte, 64), out: make(chan []byte, 64), closed: make(chan struct{})}
}

func (d *memDevice) Read(p []byte) (int, error) {
	select {
	case b := <-d.in:
		return copy(p, b), nil
	case <-d.closed:
		return 0, io.EOF
	}
}

func (d *memDevice) Write(p []byte) (int, error) {
	d.out <- append([]byte(nil), p...)
	return len(p), nil
}

// ipv4Packet builds an IPv4 packet with a valid header checksum.
func ipv4Packet(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	b := make([]byte, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	b[8] = 64
	b[9] = proto
	copy(b[12:16], src.AsSlice())
	copy(b[16:20], dst.AsSlice())
	binary.BigEndian.PutUint16(b[10:12], checksum(0, b[:20]))
	copy(b[20:], payload)
	return b
}

func TestConnectIPBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool, _ := NewAddrPool(netip.MustParsePrefix("10.50.0.0/24"))
	dev := newMemDevice()
	defer close(dev.closed)
	tmpl, _ := ParseTemplate("https://localhost/.well-known/masque/ip/{target}/{ipproto}/")
	acl, _ := ParseACL("10.60.0.0/16", "192.0.2.0/24")
	proxy := &IPProxy{Template: tmpl, ACL: acl, Pool: pool, Device: dev, MTU: 600}
	go proxy.Run(ctx)
	addr, clientTLS := startProxy(t, proxy)
	cc := ourClient(t, ctx, addr, clientTLS)

	// A healthy session scoped to 10.60.0.0/16, UDP only.
	good, rsp, err := DialIP(ctx, cc, tmpl, netip.MustParsePrefix("10.60.0.0/16"), 17)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if rsp.Header.Get("Capsule-Protocol") != "?1" {
		t.Errorf("response header %v", rsp.Header)
	}
	prefixes, err := good.LocalPrefixes(ctx)
	if err != nil || len(prefixes) != 1 {
		t.Fatalf("prefixes %v %v", prefixes, err)
	}
	me := prefixes[0].Addr()
	routes, err := good.Routes(ctx)
	if err != nil || len(routes) != 1 || routes[0] != PrefixRange(netip.MustParsePrefix("10.60.0.0/16"), 17) {
		t.Fatalf("routes %v %v", routes, err)
	}
	dst := netip.MustParseAddr("10.60.1.1")
	// roundTrip sends a UDP packet through the proxy and answers it from
	// the device side.
	roundTrip := func(tag string) {
		t.Helper()
		pkt := ipv4Packet(me, dst, 17, []byte(tag))
		for {
			if err := good.WritePacket(pkt); err != nil {
				t.Fatal(err)
			}
			select {
			case out := <-dev.out:
				if !bytes.Equal(out, pkt) {
					continue // an earlier retransmission or an unrelated packet
				}
				dev.in <- ipv4Packet(dst, me, 17, []byte("re:"+tag))
				rctx, c := context.WithTimeout(ctx, 2*time.Second)
				back, err := good.ReadPacket(rctx)
				c()
				if err != nil {
					t.Fatalf("%s: no answer: %v", tag, err)
				}
				if !bytes.HasSuffix(back, []byte("re:"+tag)) {
					t.Fatalf("%s: answer %q", tag, back)
				}
				return
			case <-time.After(300 * time.Millisecond):
			case <-ctx.Done():
				t.Fatalf("%s: packet not forwarded", tag)
			}
		}
	}
	roundTrip("first")

	t.Run("RefusedScopes", func(t *testing.T) {
		for _, c := range []struct {
			target netip.Prefix
			status int
		}{
			{netip.MustParsePrefix("10.70.0.0/16"), http.StatusForbidden},
			{netip.MustParsePrefix("8.8.8.8/32"), http.StatusForbidden},
		} {
			_, rsp, err := DialIP(ctx, cc, tmpl, c.target, 0)
			if err == nil || rsp == nil || rsp.StatusCode != c.status {
				t.Errorf("%v: %v %v", c.target, rsp, err)
			}
		}
	})

	t.Run("DroppedPackets", func(t *testing.T) {
		denied, oversized, unknown := proxy.Stats.Denied.Load(), proxy.Stats.Oversized.Load(), proxy.Stats.UnknownContext.Load()
		// Spoofed source, destination outside the scope, wrong protocol.
		good.WritePacket(ipv4Packet(netip.MustParseAddr("10.50.0.99"), dst, 17, []byte("spoof")))
		good.WritePacket(ipv4Packet(me, netip.MustParseAddr("192.0.2.1"), 17, []byte("scope")))
		good.WritePacket(ipv4Packet(me, dst, 6, []byte("tcp")))
		// Unknown context ID.
		good.str.SendDatagram(append([]byte{0x04}, ipv4Packet(me, dst, 17, nil)...))
		// Too big for the proxy's MTU: answered with ICMP too big.
		big := ipv4Packet(me, dst, 17, make([]byte, 700))
		good.WritePacket(big)
		rctx, c := context.WithTimeout(ctx, 5*time.Second)
		reply, err := good.ReadPacket(rctx)
		c()
		if err != nil {
			t.Fatalf("no ICMP too big: %v", err)
		}
		info, _ := ParsePacket(reply)
		if info.Protocol != protoICMP || reply[20] != 3 || reply[21] != 4 || binary.BigEndian.Uint16(reply[26:28]) != 600 {
			t.Fatalf("reply % x", reply[:28])
		}
		roundTrip("after bad packets")
		if proxy.Stats.Denied.Load() < denied+3 || proxy.Stats.Oversized.Load() <= oversized || proxy.Stats.UnknownContext.Load() <= unknown {
			t.Errorf("stats denied %d oversized %d unknown %d", proxy.Stats.Denied.Load(), proxy.Stats.Oversized.Load(), proxy.Stats.UnknownContext.Load())
		}
	})

	t.Run("AddressRequest", func(t *testing.T) {
		if err := good.RequestAddress(netip.MustParsePrefix("0.0.0.0/32")); err != nil {
			t.Fatal(err)
		}
		roundTrip("after address request")
		p, _ := good.LocalPrefixes(ctx)
		if len(p) != 1 || p[0].Addr() != me {
			t.Errorf("reassigned %v", p)
		}
	})

	t.Run("MalformedCapsule", func(t *testing.T) {
		bad, _, err := DialIP(ctx, cc, tmpl, netip.MustParsePrefix("10.60.0.0/16"), 0)
		if err != nil {
			t.Fatal(err)
		}
		badAddr, _ := bad.LocalPrefixes(ctx)
		// ADDRESS_REQUEST with request ID 0 is malformed.
		v := append(capsule.AppendVarint(nil, 0), 4, 0, 0, 0, 0, 32)
		bad.str.Write(capsule.Append(nil, CapsuleAddressRequest, v))
		<-bad.Context().Done()
		if err := context.Cause(bad.Context()); err == nil {
			t.Fatal("no error")
		}
		// The session's address went back to the pool.
		deadline := time.Now().Add(5 * time.Second)
		for proxy.Pool.InUse() != 1 && time.Now().Before(deadline) {
			roundTrip("waiting for release")
		}
		if proxy.Pool.InUse() != 1 {
			t.Errorf("pool in use %d after %v ended", proxy.Pool.InUse(), badAddr)
		}
		roundTrip("after malformed capsule")
	})

	t.Run("PoolExhausted", func(t *testing.T) {
		small, _ := NewAddrPool(netip.MustParsePrefix("10.51.0.0/30"))
		p2 := &IPProxy{Template: tmpl, ACL: acl, Pool: small, Device: newMemDevice()}
		addr2, tls2 := startProxy(t, p2)
		cc2 := ourClient(t, ctx, addr2, tls2)
		first, _, err := DialIP(ctx, cc2, tmpl, netip.Prefix{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		_, rsp, err := DialIP(ctx, cc2, tmpl, netip.Prefix{}, 0)
		if err == nil || rsp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("second session: %v %v", rsp, err)
		}
	})
	roundTrip("last")
}

func TestIPCapsuleCodec(t *testing.T) {
	entries := []AddressEntry{
		{RequestID: 1, Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{RequestID: 2, Prefix: netip.MustParsePrefix("2001:db8::/32")},
	}
	c, _, err := capsule.Parse(AppendAddressCapsule(nil, CapsuleAddressRequest, entries), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAddressCapsule(c.Type, c.Value)
	if err != nil || len(got) != 2 || got[0] != entries[0] || got[1] != entries[1] {
		t.Fatalf("%v %v", got, err)
	}
	ranges := SortRanges([]IPRange{
		PrefixRange(netip.MustParsePrefix("2001:db8::/32"), 0),
		PrefixRange(netip.MustParsePrefix("10.1.0.0/16"), 17),
		PrefixRange(netip.MustParsePrefix("10.0.0.0/8"), 0),
		PrefixRange(netip.MustParsePrefix("10.0.0.0/9"), 0),
	})
	if len(ranges) != 3 {
		t.Fatalf("merged ranges %v", ranges)
	}
	c, _, _ = capsule.Parse(AppendRouteAdvertisement(nil, ranges), 1<<16)
	back, err := ParseRouteAdvertisement(c.Value)
	if err != nil || len(back) != 3 || back[0] != ranges[0] || back[2] != ranges[2] {
		t.Fatalf("%v %v", back, err)
	}
	bad := map[string][]byte{
		"request ID 0":         append(capsule.AppendVarint(nil, 0), 4, 10, 0, 0, 0, 8),
		"bits past prefix":     append(capsule.AppendVarint(nil, 1), 4, 10, 0, 0, 1, 8),
		"prefix too long":      append(capsule.AppendVarint(nil, 1), 4, 10, 0, 0, 0, 33),
		"IP version 5":         append(capsule.AppendVarint(nil, 1), 5, 10, 0, 0, 0, 8),
		"truncated":            append(capsule.AppendVarint(nil, 1), 6, 0x20, 0x01),
		"duplicate request ID": append(append(capsule.AppendVarint(nil, 1), 4, 0, 0, 0, 0, 32), append(capsule.AppendVarint(nil, 1), 4, 0, 0, 0, 0, 32)...),
	}
	for name, v := range bad {
		if _, err := ParseAddressCapsule(CapsuleAddressRequest, v); !errors.Is(err, ErrMalformedCapsule) {
			t.Errorf("%s: %v", name, err)
		}
	}
	badRoutes := map[string][]byte{
		"start after end": {4, 10, 0, 0, 2, 10, 0, 0, 1, 0},
		"v6 before v4":    append(append([]byte{6}, make([]byte, 33)...), 4, 1, 1, 1, 1, 1, 1, 1, 1, 0),
		"overlap":         {4, 10, 0, 0, 0, 10, 0, 0, 9, 0, 4, 10, 0, 0, 5, 10, 0, 0, 20, 0},
		"proto order":     {4, 10, 0, 0, 0, 10, 0, 0, 9, 17, 4, 11, 0, 0, 0, 11, 0, 0, 9, 6},
		"truncated":       {4, 10, 0, 0, 0, 10},
	}
	for name, v := range badRoutes {
		if _, err := ParseRouteAdvertisement(v); !errors.Is(err, ErrMalformedCapsule) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestICMPTooBigAndPool(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.9.9.9")
	pkt := ipv4Packet(src, dst, 17, make([]byte, 1400))
	m, err := ICMPTooBig(pkt, 1280, netip.MustParseAddr("10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParsePacket(m)
	if err != nil || info.Dst != src || info.Protocol != protoICMP || checksum(0, m[:20]) != 0 || checksum(0, m[20:]) != 0 {
		t.Fatalf("ICMPv4 %v %v", info, err)
	}
	v6 := make([]byte, 40+1400)
	v6[0] = 0x60
	binary.BigEndian.PutUint16(v6[4:6], 1400)
	v6[6] = 17
	copy(v6[8:24], netip.MustParseAddr("2001:db8::2").AsSlice())
	m6, err := ICMPTooBig(v6, 1280, netip.MustParseAddr("2001:db8::1"))
	if err != nil || len(m6) != 1280 || m6[40] != 2 || binary.BigEndian.Uint32(m6[44:48]) != 1280 {
		t.Fatalf("ICMPv6 %d %v", len(m6), err)
	}
	if _, err := ParsePacket([]byte{0x45, 0}); !errors.Is(err, ErrBadPacket) {
		t.Error(err)
	}

	p, _ := NewAddrPool(netip.MustParsePrefix("10.0.0.0/29"))
	var got []netip.Addr
	for {
		a, err := p.Allocate("c", netip.Addr{})
		if err != nil {
			if !errors.Is(err, ErrPoolExhausted) {
				t.Fatal(err)
			}
			break
		}
		got = append(got, a)
	}
	// .0 network, .1 gateway, .7 broadcast are never handed out.
	if len(got) != 5 || got[0] != netip.MustParseAddr("10.0.0.2") {
		t.Fatalf("allocated %v", got)
	}
	p.Release(got[2])
	if a, err := p.Allocate("d", got[2]); err != nil || a != got[2] {
		t.Fatalf("reallocate %v %v", a, err)
	}
	if _, err := NewAddrPool(netip.MustParsePrefix("10.0.0.0/31")); err == nil {
		t.Error("tiny pool accepted")
	}
}
