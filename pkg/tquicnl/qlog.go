package tquicnl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

// QlogRecord is one compact event record of the kernel's qlog stream
// (enum tquic_qlog_type); which fields are set depends on Type.
type QlogRecord struct {
	Type uint8 `json:"type"`
	// Time since the connection's qlog started.
	Time    time.Duration `json:"time_ns"`
	PktType uint8         `json:"pkt_type,omitempty"`
	PN      uint64        `json:"pn,omitempty"`
	Len     uint32        `json:"len,omitempty"`
	Trigger uint8         `json:"trigger,omitempty"`
	Space   uint8         `json:"space,omitempty"`
	Version Version       `json:"version,omitempty"`
	Server  bool          `json:"server,omitempty"`
	// Code: the close error code (CONN_CLOSED), the new key phase
	// (KEY_UPDATE), the wall clock of time 0 in Unix ns (CONN_STARTED).
	Code          uint64        `json:"code,omitempty"`
	ALPN          []string      `json:"alpn,omitempty"`
	CCState       string        `json:"cc_state,omitempty"`
	RTTMin        time.Duration `json:"rtt_min_ns,omitempty"`
	RTTSmoothed   time.Duration `json:"rtt_smoothed_ns,omitempty"`
	RTTVar        time.Duration `json:"rtt_var_ns,omitempty"`
	RTTLatest     time.Duration `json:"rtt_latest_ns,omitempty"`
	Cwnd          uint64        `json:"cwnd,omitempty"`
	BytesInFlight uint64        `json:"bytes_in_flight,omitempty"`
	Ssthresh      uint64        `json:"ssthresh,omitempty"`
	PacingRate    uint64        `json:"pacing_rate,omitempty"`
	// Lost counts records the kernel could not queue before this one.
	Lost uint32 `json:"lost,omitempty"`
}

// QlogBatch is one message of the qlog group: records of one connection,
// in time order.
type QlogBatch struct {
	ConnID  uint64       `json:"conn_id"`
	Records []QlogRecord `json:"records"`
	// Overrun is set when the socket lost messages before this one (the
	// reader was too slow): records of any connection may be missing.
	Overrun bool `json:"overrun,omitempty"`
}

// qlogReadBuffer is the socket buffer asked for: qlog traffic is bursty.
const qlogReadBuffer = 16 << 20

// qlogDrain is how long WatchQlog keeps reading after its context ended
// while records still arrive.
const qlogDrain = 500 * time.Millisecond

// WatchQlog joins the qlog group (CAP_NET_ADMIN) and calls fn for every
// batch of records until ctx ends or fn fails; joined runs once the group
// is joined. Use a dedicated Client.
func (c *Client) WatchQlog(ctx context.Context, joined func(), fn func(QlogBatch) error) error {
	groupID, err := c.groupID(uapi.GenlMcgrpQlog)
	if err != nil {
		return err
	}
	// A larger buffer absorbs bursts: past rmem_max with CAP_NET_ADMIN
	// (which the group needs anyway), else as large as allowed.
	if err := c.forceReadBuffer(qlogReadBuffer); err != nil {
		_ = c.conn.SetReadBuffer(qlogReadBuffer)
	}
	if err := c.conn.JoinGroup(groupID); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("tquicnl: join qlog group: %w (needs CAP_NET_ADMIN)", ErrPermission)
		}
		return fmt.Errorf("tquicnl: join qlog group: %w", err)
	}
	defer c.conn.LeaveGroup(groupID)
	if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("tquicnl: clear deadline: %w", err)
	}
	// Once ctx ends, what the kernel already queued is still read: the
	// loop stops at the first quiet qlogDrain.
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(time.Now().Add(qlogDrain)) })
	defer stop()
	if joined != nil {
		joined()
	}
	overrun := false
	for {
		msgs, _, err := c.conn.Receive()
		if err != nil {
			if ctx.Err() != nil && !errors.Is(err, unix.ENOBUFS) {
				return ctx.Err()
			}
			if errors.Is(err, unix.ENOBUFS) {
				overrun = true
				continue
			}
			return fmt.Errorf("tquicnl: receive qlog: %w", err)
		}
		if ctx.Err() != nil {
			_ = c.conn.SetReadDeadline(time.Now().Add(qlogDrain))
		}
		for _, m := range msgs {
			if m.Header.Command != uapi.CmdQlog {
				continue
			}
			b, err := ParseQlogMessage(m.Data)
			if err != nil {
				return fmt.Errorf("tquicnl: qlog message: %w", err)
			}
			b.Overrun, overrun = overrun, false
			if err := fn(*b); err != nil {
				return err
			}
		}
	}
}

func (c *Client) forceReadBuffer(n int) error {
	rc, err := c.conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	return serr
}

// ParseQlogMessage decodes the attributes of one TQUIC_CMD_QLOG message.
func ParseQlogMessage(b []byte) (*QlogBatch, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	var out QlogBatch
	for ad.Next() {
		switch ad.Type() {
		case uapi.AttrID:
			out.ConnID = ad.Uint64()
		case uapi.AttrQlog:
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				for n.Next() {
					if n.Type() != uapi.AttrQlogEv {
						continue
					}
					n.Nested(func(r *netlink.AttributeDecoder) error {
						out.Records = append(out.Records, decodeQlogRecord(r))
						return r.Err()
					})
				}
				return n.Err()
			})
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	if out.ConnID == 0 {
		return nil, errors.New("qlog message without a connection id")
	}
	return &out, nil
}

func decodeQlogRecord(r *netlink.AttributeDecoder) QlogRecord {
	var q QlogRecord
	for r.Next() {
		switch r.Type() {
		case uapi.AttrQlogType:
			q.Type = r.Uint8()
		case uapi.AttrQlogTime:
			q.Time = time.Duration(r.Uint64())
		case uapi.AttrQlogPktType:
			q.PktType = r.Uint8()
		case uapi.AttrQlogPN:
			q.PN = r.Uint64()
		case uapi.AttrQlogLen:
			q.Len = r.Uint32()
		case uapi.AttrQlogTrigger:
			q.Trigger = r.Uint8()
		case uapi.AttrQlogSpace:
			q.Space = r.Uint8()
		case uapi.AttrQlogVersion:
			q.Version = Version(r.Uint32())
		case uapi.AttrQlogServer:
			q.Server = r.Uint8() != 0
		case uapi.AttrQlogCode:
			q.Code = r.Uint64()
		case uapi.AttrQlogALPN:
			q.ALPN = splitALPN(r.Bytes())
		case uapi.AttrQlogCCState:
			q.CCState = r.String()
		case uapi.AttrQlogRTTMin:
			q.RTTMin = us(r.Uint64())
		case uapi.AttrQlogRTTSmoothed:
			q.RTTSmoothed = us(r.Uint64())
		case uapi.AttrQlogRTTVar:
			q.RTTVar = us(r.Uint64())
		case uapi.AttrQlogRTTLatest:
			q.RTTLatest = us(r.Uint64())
		case uapi.AttrQlogCwnd:
			q.Cwnd = r.Uint64()
		case uapi.AttrQlogBytesInFlight:
			q.BytesInFlight = r.Uint64()
		case uapi.AttrQlogSsthresh:
			q.Ssthresh = r.Uint64()
		case uapi.AttrQlogPacingRate:
			q.PacingRate = r.Uint64()
		case uapi.AttrQlogLost:
			q.Lost = r.Uint32()
		}
	}
	return q
}
