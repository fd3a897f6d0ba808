package tquicnl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

// ConnState is where a connection (a QUIC socket) is in its life.
type ConnState uint8

// Connection states.
const (
	ConnIdle        ConnState = uapi.ConnStatusIdle
	ConnListen      ConnState = uapi.ConnStatusListen
	ConnHandshake   ConnState = uapi.ConnStatusHandshake
	ConnEstablished ConnState = uapi.ConnStatusEstablished
	ConnClosing     ConnState = uapi.ConnStatusClosing
	ConnClosed      ConnState = uapi.ConnStatusClosed
)

var connStateNames = map[ConnState]string{
	ConnIdle: "idle", ConnListen: "listen", ConnHandshake: "handshake",
	ConnEstablished: "established", ConnClosing: "closing", ConnClosed: "closed",
}

func (s ConnState) String() string { return enumName(connStateNames, s) }

// MarshalText names the state.
func (s ConnState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts the names MarshalText writes.
func (s *ConnState) UnmarshalText(b []byte) error {
	v, err := parseEnum(connStateNames, string(b), "connection state")
	*s = v
	return err
}

// Conn is one QUIC socket and, when it has one, its engine connection.
// Durations are nanoseconds in JSON (microsecond resolution), windows and
// counts bytes unless named packets.
type Conn struct {
	ID    uint64    `json:"id"`
	State ConnState `json:"state"`
	// Engine is false for sockets without an engine connection (listeners,
	// sockets before connect(), closed ones): the counters are then zero.
	Engine  bool     `json:"engine"`
	Server  bool     `json:"server"`
	Version Version  `json:"version,omitempty"`
	Local   string   `json:"local,omitempty"`
	Peer    string   `json:"peer,omitempty"`
	ALPN    []string `json:"alpn,omitempty"`
	// CongestionControl is the connection's controller (for sockets
	// without a connection: the one a connection made now would use).
	CongestionControl  string        `json:"congestion_control"`
	CCState            string        `json:"cc_state,omitempty"`
	HandshakeConfirmed bool          `json:"handshake_confirmed"`
	Qlog               bool          `json:"qlog"`
	Paths              uint32        `json:"paths"`
	PacketsSent        uint64        `json:"packets_sent"`
	PacketsReceived    uint64        `json:"packets_received"`
	PacketsLost        uint64        `json:"packets_lost"`
	PacketsDropped     uint64        `json:"packets_dropped"`
	BytesSent          uint64        `json:"bytes_sent"`
	BytesReceived      uint64        `json:"bytes_received"`
	BytesLost          uint64        `json:"bytes_lost"`
	RTTMin             time.Duration `json:"rtt_min_ns"`
	RTTSmoothed        time.Duration `json:"rtt_smoothed_ns"`
	RTTVar             time.Duration `json:"rtt_var_ns"`
	RTTLatest          time.Duration `json:"rtt_latest_ns"`
	Cwnd               uint64        `json:"cwnd"`
	Ssthresh           uint64        `json:"ssthresh"`
	BytesInFlight      uint64        `json:"bytes_in_flight"`
	PacingRate         uint64        `json:"pacing_rate"`
	KeyUpdates         uint64        `json:"key_updates"`
	PTOCount           uint64        `json:"pto_count"`
	UDPTxDatagrams     uint64        `json:"udp_tx_datagrams"`
	UDPTxBytes         uint64        `json:"udp_tx_bytes"`
	UDPRxDropped       uint64        `json:"udp_rx_dropped"`
}

// PathStatus is a path's state.
type PathStatus uint8

// Path states.
const (
	PathValidating PathStatus = uapi.PathStatusValidating
	PathActive     PathStatus = uapi.PathStatusActive
	PathStandby    PathStatus = uapi.PathStatusStandby
	PathClosed     PathStatus = uapi.PathStatusClosed
)

var pathStatusNames = map[PathStatus]string{
	PathValidating: "validating", PathActive: "active", PathStandby: "standby", PathClosed: "closed",
}

func (s PathStatus) String() string { return enumName(pathStatusNames, s) }

// MarshalText names the status.
func (s PathStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts the names MarshalText writes.
func (s *PathStatus) UnmarshalText(b []byte) error {
	v, err := parseEnum(pathStatusNames, string(b), "path status")
	*s = v
	return err
}

var ecnStateNames = map[uint8]string{
	uapi.PathECNDisabled: "disabled", uapi.PathECNTesting: "testing", uapi.PathECNUnknown: "unknown",
	uapi.PathECNCapable: "capable", uapi.PathECNFailed: "failed",
}

// Path is one network path of a connection.
type Path struct {
	ConnID        uint64        `json:"conn_id"`
	ID            uint32        `json:"id"`
	Status        PathStatus    `json:"status"`
	Local         string        `json:"local,omitempty"`
	Peer          string        `json:"peer,omitempty"`
	MTU           uint32        `json:"mtu"`
	RTTMin        time.Duration `json:"rtt_min_ns"`
	RTTSmoothed   time.Duration `json:"rtt_smoothed_ns"`
	RTTVar        time.Duration `json:"rtt_var_ns"`
	RTTLatest     time.Duration `json:"rtt_latest_ns"`
	Cwnd          uint64        `json:"cwnd"`
	BytesInFlight uint64        `json:"bytes_in_flight"`
	PacingRate    uint64        `json:"pacing_rate"`
	CCState       string        `json:"cc_state,omitempty"`
	PacketsSent   uint64        `json:"packets_sent"`
	PacketsAcked  uint64        `json:"packets_acked"`
	PacketsLost   uint64        `json:"packets_lost"`
	BytesSent     uint64        `json:"bytes_sent"`
	BytesLost     uint64        `json:"bytes_lost"`
	ECNState      string        `json:"ecn_state"`
	ECNSentECT0   uint64        `json:"ecn_sent_ect0"`
	ECNSentECT1   uint64        `json:"ecn_sent_ect1"`
	ECNECT0       uint64        `json:"ecn_ect0"`
	ECNECT1       uint64        `json:"ecn_ect1"`
	ECNCE         uint64        `json:"ecn_ce"`
}

// ErrNoConn: no connection has the id asked for.
var ErrNoConn = errors.New("no such connection")

// Conns lists every QUIC socket of the caller's network namespace.
func (c *Client) Conns(ctx context.Context) ([]Conn, error) {
	msgs, err := c.executeFlags(ctx, uapi.CmdConnGet, nil, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, kernelError("list connections", err)
	}
	out := make([]Conn, 0, len(msgs))
	for _, m := range msgs {
		conn, err := parseConnMessage(m.Data)
		if err != nil {
			return nil, fmt.Errorf("tquicnl: list connections: %w", err)
		}
		out = append(out, *conn)
	}
	return out, nil
}

// Conn returns the connection with id.
func (c *Client) Conn(ctx context.Context, id uint64) (*Conn, error) {
	attrs, err := encodeID(id)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: get connection %d: %w", id, err)
	}
	msgs, err := c.execute(ctx, uapi.CmdConnGet, attrs)
	if err != nil {
		return nil, connError(fmt.Sprintf("get connection %d", id), err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("tquicnl: get connection %d: %d replies, want 1", id, len(msgs))
	}
	conn, err := parseConnMessage(msgs[0].Data)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: get connection %d: %w", id, err)
	}
	return conn, nil
}

// Paths lists the paths of every connection, or of connection id when it
// is not 0.
func (c *Client) Paths(ctx context.Context, id uint64) ([]Path, error) {
	var attrs []byte
	if id != 0 {
		var err error
		if attrs, err = encodeID(id); err != nil {
			return nil, fmt.Errorf("tquicnl: list paths: %w", err)
		}
	}
	msgs, err := c.executeFlags(ctx, uapi.CmdPathGet, attrs, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, connError("list paths", err)
	}
	out := make([]Path, 0, len(msgs))
	for _, m := range msgs {
		p, err := parsePathMessage(m.Data)
		if err != nil {
			return nil, fmt.Errorf("tquicnl: list paths: %w", err)
		}
		out = append(out, *p)
	}
	return out, nil
}

func encodeID(id uint64) ([]byte, error) {
	if id == 0 {
		return nil, errors.New("connection ids start at 1")
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint64(uapi.AttrID, id)
	return ae.Encode()
}

// connError is kernelError with ENOENT meaning an unknown connection.
func connError(op string, err error) error {
	ke, ok := kernelError(op, err).(*KernelError)
	if ok && errors.Is(ke.Err, unix.ENOENT) {
		ke.Kind = ErrNoConn
	}
	return ke
}

func parseConnMessage(b []byte) (*Conn, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	var conn *Conn
	for ad.Next() {
		if ad.Type() == uapi.AttrConn {
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				conn = decodeConn(n)
				return n.Err()
			})
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	if conn == nil || conn.ID == 0 {
		return nil, errors.New("message has no connection")
	}
	return conn, nil
}

func us(v uint64) time.Duration { return time.Duration(v) * time.Microsecond }

// addrPort formats a 4- or 16-byte address and a port; "" for anything else.
func addrPort(addr []byte, port uint16) string {
	a, ok := netip.AddrFromSlice(addr)
	if !ok {
		return ""
	}
	return netip.AddrPortFrom(a.Unmap(), port).String()
}

// splitALPN turns the socket's ALPN list ("h3,hq-interop") into names.
func splitALPN(b []byte) []string {
	s := strings.TrimRight(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func decodeConn(n *netlink.AttributeDecoder) *Conn {
	var c Conn
	var local, peer []byte
	var lport, pport uint16
	for n.Next() {
		switch n.Type() {
		case uapi.AttrConnID:
			c.ID = n.Uint64()
		case uapi.AttrConnState:
			c.State = ConnState(n.Uint8())
		case uapi.AttrConnServer:
			c.Server = n.Uint8() != 0
			c.Engine = true
		case uapi.AttrConnVersion:
			c.Version = Version(n.Uint32())
		case uapi.AttrConnLocalAddr:
			local = n.Bytes()
		case uapi.AttrConnLocalPort:
			lport = n.Uint16()
		case uapi.AttrConnPeerAddr:
			peer = n.Bytes()
		case uapi.AttrConnPeerPort:
			pport = n.Uint16()
		case uapi.AttrConnALPN:
			c.ALPN = splitALPN(n.Bytes())
		case uapi.AttrConnCC:
			c.CongestionControl = n.String()
		case uapi.AttrConnCCState:
			c.CCState = n.String()
		case uapi.AttrConnHandshakeConfirmed:
			c.HandshakeConfirmed = n.Uint8() != 0
		case uapi.AttrConnQlog:
			c.Qlog = n.Uint8() != 0
		case uapi.AttrConnPaths:
			c.Paths = n.Uint32()
		case uapi.AttrConnPktsSent:
			c.PacketsSent = n.Uint64()
		case uapi.AttrConnPktsRecv:
			c.PacketsReceived = n.Uint64()
		case uapi.AttrConnPktsLost:
			c.PacketsLost = n.Uint64()
		case uapi.AttrConnPktsDropped:
			c.PacketsDropped = n.Uint64()
		case uapi.AttrConnBytesSent:
			c.BytesSent = n.Uint64()
		case uapi.AttrConnBytesRecv:
			c.BytesReceived = n.Uint64()
		case uapi.AttrConnBytesLost:
			c.BytesLost = n.Uint64()
		case uapi.AttrConnRTTMin:
			c.RTTMin = us(n.Uint64())
		case uapi.AttrConnRTTSmoothed:
			c.RTTSmoothed = us(n.Uint64())
		case uapi.AttrConnRTTVar:
			c.RTTVar = us(n.Uint64())
		case uapi.AttrConnRTTLatest:
			c.RTTLatest = us(n.Uint64())
		case uapi.AttrConnCwnd:
			c.Cwnd = n.Uint64()
		case uapi.AttrConnSsthresh:
			c.Ssthresh = n.Uint64()
		case uapi.AttrConnBytesInFlight:
			c.BytesInFlight = n.Uint64()
		case uapi.AttrConnPacingRate:
			c.PacingRate = n.Uint64()
		case uapi.AttrConnKeyUpdates:
			c.KeyUpdates = n.Uint64()
		case uapi.AttrConnPTOCount:
			c.PTOCount = n.Uint64()
		case uapi.AttrConnUDPTxDatagrams:
			c.UDPTxDatagrams = n.Uint64()
		case uapi.AttrConnUDPTxBytes:
			c.UDPTxBytes = n.Uint64()
		case uapi.AttrConnUDPRxDropped:
			c.UDPRxDropped = n.Uint64()
		}
	}
	c.Local = addrPort(local, lport)
	c.Peer = addrPort(peer, pport)
	return &c
}

func parsePathMessage(b []byte) (*Path, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	var p *Path
	var id uint64
	for ad.Next() {
		switch ad.Type() {
		case uapi.AttrID:
			id = ad.Uint64()
		case uapi.AttrPath:
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				p = decodePath(n)
				return n.Err()
			})
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	if p == nil || id == 0 {
		return nil, errors.New("message has no path")
	}
	p.ConnID = id
	return p, nil
}

func decodePath(n *netlink.AttributeDecoder) *Path {
	var p Path
	var local, peer []byte
	var lport, pport uint16
	for n.Next() {
		switch n.Type() {
		case uapi.AttrPathID:
			p.ID = n.Uint32()
		case uapi.AttrPathStatus:
			p.Status = PathStatus(n.Uint8())
		case uapi.AttrPathLocalAddr:
			local = n.Bytes()
		case uapi.AttrPathLocalPort:
			lport = n.Uint16()
		case uapi.AttrPathPeerAddr:
			peer = n.Bytes()
		case uapi.AttrPathPeerPort:
			pport = n.Uint16()
		case uapi.AttrPathMTU:
			p.MTU = n.Uint32()
		case uapi.AttrPathRTTMin:
			p.RTTMin = us(n.Uint64())
		case uapi.AttrPathRTTSmoothed:
			p.RTTSmoothed = us(n.Uint64())
		case uapi.AttrPathRTTVar:
			p.RTTVar = us(n.Uint64())
		case uapi.AttrPathRTTLatest:
			p.RTTLatest = us(n.Uint64())
		case uapi.AttrPathCwnd:
			p.Cwnd = n.Uint64()
		case uapi.AttrPathBytesInFlight:
			p.BytesInFlight = n.Uint64()
		case uapi.AttrPathPacingRate:
			p.PacingRate = n.Uint64()
		case uapi.AttrPathCCState:
			p.CCState = n.String()
		case uapi.AttrPathPktsSent:
			p.PacketsSent = n.Uint64()
		case uapi.AttrPathPktsAcked:
			p.PacketsAcked = n.Uint64()
		case uapi.AttrPathPktsLost:
			p.PacketsLost = n.Uint64()
		case uapi.AttrPathBytesSent:
			p.BytesSent = n.Uint64()
		case uapi.AttrPathBytesLost:
			p.BytesLost = n.Uint64()
		case uapi.AttrPathECNState:
			p.ECNState = ecnStateNames[n.Uint8()]
		case uapi.AttrPathECNSentECT0:
			p.ECNSentECT0 = n.Uint64()
		case uapi.AttrPathECNSentECT1:
			p.ECNSentECT1 = n.Uint64()
		case uapi.AttrPathECNECT0:
			p.ECNECT0 = n.Uint64()
		case uapi.AttrPathECNECT1:
			p.ECNECT1 = n.Uint64()
		case uapi.AttrPathECNCE:
			p.ECNCE = n.Uint64()
		}
	}
	p.Local = addrPort(local, lport)
	p.Peer = addrPort(peer, pport)
	return &p
}

// Event kinds of connection events.
var connEventKinds = map[uint8]string{
	uapi.EventConnUp:             "conn_up",
	uapi.EventConnDown:           "conn_down",
	uapi.EventKeyUpdate:          "key_update",
	uapi.EventPathChange:         "path_change",
	uapi.EventVersionNegotiation: "version_negotiation",
}

func parseConnEvent(m genetlink.Message) (Event, error) {
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		return Event{}, err
	}
	ev := Event{Kind: "conn_unknown"}
	for ad.Next() {
		switch ad.Type() {
		case uapi.AttrEvent:
			if k, ok := connEventKinds[ad.Uint8()]; ok {
				ev.Kind = k
			}
		case uapi.AttrConn:
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				ev.Conn = decodeConn(n)
				return n.Err()
			})
		}
	}
	if err := ad.Err(); err != nil {
		return Event{}, fmt.Errorf("decode attributes: %w", err)
	}
	if ev.Conn == nil {
		return Event{}, errors.New("connection event without a connection")
	}
	return ev, nil
}
