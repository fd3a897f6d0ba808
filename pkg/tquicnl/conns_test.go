package tquicnl

import (
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"github.com/tquic/tquic/pkg/uapi"
)

func encode(t *testing.T, fn func(ae *netlink.AttributeEncoder)) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	fn(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConn(t *testing.T) {
	b := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.Nested(uapi.AttrConn, func(n *netlink.AttributeEncoder) error {
			n.Uint64(uapi.AttrConnID, 42)
			n.Uint8(uapi.AttrConnState, uapi.ConnStatusEstablished)
			n.Uint8(uapi.AttrConnServer, 1)
			n.Uint32(uapi.AttrConnVersion, uint32(Version2))
			n.Bytes(uapi.AttrConnLocalAddr, []byte{10, 0, 0, 1})
			n.Uint16(uapi.AttrConnLocalPort, 443)
			n.Bytes(uapi.AttrConnPeerAddr, []byte{0x20, 0x01, 0x0d, 0xb8, 15: 2})
			n.Uint16(uapi.AttrConnPeerPort, 5000)
			n.Bytes(uapi.AttrConnALPN, []byte("h3,hq-interop"))
			n.String(uapi.AttrConnCC, "cubic")
			n.Uint64(uapi.AttrConnBytesSent, 10<<20)
			n.Uint64(uapi.AttrConnRTTSmoothed, 1500)
			n.Uint64(uapi.AttrConnCwnd, 65536)
			n.Uint16(999, 1) // unknown attributes of a newer module are skipped
			return nil
		})
	})
	c, err := parseConnMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != 42 || c.State != ConnEstablished || !c.Engine || !c.Server || c.Version != Version2 ||
		c.Local != "10.0.0.1:443" || c.Peer != "[2001:db8::2]:5000" || len(c.ALPN) != 2 || c.ALPN[1] != "hq-interop" ||
		c.CongestionControl != "cubic" || c.BytesSent != 10<<20 || c.RTTSmoothed != 1500*time.Microsecond || c.Cwnd != 65536 {
		t.Fatalf("parsed %+v", c)
	}
	if _, err := parseConnMessage(encode(t, func(ae *netlink.AttributeEncoder) { ae.Uint64(uapi.AttrID, 1) })); err == nil {
		t.Fatal("message without a connection accepted")
	}
	if _, err := parseConnMessage([]byte{1, 2, 3}); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestParsePath(t *testing.T) {
	b := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint64(uapi.AttrID, 9)
		ae.Nested(uapi.AttrPath, func(n *netlink.AttributeEncoder) error {
			n.Uint32(uapi.AttrPathID, 0)
			n.Uint8(uapi.AttrPathStatus, uapi.PathStatusActive)
			n.Bytes(uapi.AttrPathPeerAddr, []byte{192, 0, 2, 1})
			n.Uint16(uapi.AttrPathPeerPort, 4433)
			n.Uint8(uapi.AttrPathECNState, uapi.PathECNCapable)
			n.Uint64(uapi.AttrPathECNCE, 3)
			n.Uint64(uapi.AttrPathPacingRate, 1e6)
			return nil
		})
	})
	p, err := parsePathMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.ConnID != 9 || p.Status != PathActive || p.Peer != "192.0.2.1:4433" || p.ECNState != "capable" || p.ECNCE != 3 || p.PacingRate != 1e6 {
		t.Fatalf("parsed %+v", p)
	}
}

func TestParseConnEvent(t *testing.T) {
	b := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint8(uapi.AttrEvent, uapi.EventKeyUpdate)
		ae.Nested(uapi.AttrConn, func(n *netlink.AttributeEncoder) error {
			n.Uint64(uapi.AttrConnID, 5)
			n.Uint64(uapi.AttrConnKeyUpdates, 1)
			return nil
		})
	})
	ev, ok, err := parseEvent(genetlink.Message{Header: genetlink.Header{Command: uapi.CmdEventConn}, Data: b})
	if err != nil || !ok || ev.Kind != "key_update" || ev.Conn.ID != 5 || ev.Conn.KeyUpdates != 1 {
		t.Fatalf("event %+v ok %v err %v", ev, ok, err)
	}
	if _, ok, err := parseEvent(genetlink.Message{Header: genetlink.Header{Command: 200}}); ok || err != nil {
		t.Fatalf("unknown command: ok %v err %v, want skipped", ok, err)
	}
}

func TestParseQlog(t *testing.T) {
	b := encode(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint64(uapi.AttrID, 3)
		ae.Nested(uapi.AttrQlog, func(n *netlink.AttributeEncoder) error {
			n.Nested(uapi.AttrQlogEv, func(r *netlink.AttributeEncoder) error {
				r.Uint8(uapi.AttrQlogType, uapi.QlogPacketSent)
				r.Uint64(uapi.AttrQlogTime, 1234)
				r.Uint8(uapi.AttrQlogPktType, uapi.QlogPkt1RTT)
				r.Uint64(uapi.AttrQlogPN, 77)
				r.Uint32(uapi.AttrQlogLen, 1200)
				return nil
			})
			n.Nested(uapi.AttrQlogEv, func(r *netlink.AttributeEncoder) error {
				r.Uint8(uapi.AttrQlogType, uapi.QlogMetrics)
				r.Uint64(uapi.AttrQlogTime, 2000)
				r.Uint64(uapi.AttrQlogRTTSmoothed, 250)
				r.Uint64(uapi.AttrQlogCwnd, 14720)
				r.Uint32(uapi.AttrQlogLost, 2)
				return nil
			})
			return nil
		})
	})
	q, err := ParseQlogMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.ConnID != 3 || len(q.Records) != 2 || q.Records[0].PN != 77 || q.Records[0].Len != 1200 ||
		q.Records[0].Time != 1234 || q.Records[1].RTTSmoothed != 250*time.Microsecond || q.Records[1].Lost != 2 {
		t.Fatalf("parsed %+v", q)
	}
}

func TestEncodeIDRejectsZero(t *testing.T) {
	if _, err := encodeID(0); err == nil {
		t.Fatal("id 0 encoded")
	}
}
