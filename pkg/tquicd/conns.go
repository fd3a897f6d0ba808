package tquicd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tquic/tquic/pkg/tquicdpb"
	"github.com/tquic/tquic/pkg/tquicnl"
)

// ---- server ----

// ListConns returns every connection of the namespace.
func (s *Server) ListConns(ctx context.Context, _ *tquicdpb.ListConnsRequest) (*tquicdpb.ConnList, error) {
	return call(s, func(c tquicnl.Controller) (*tquicdpb.ConnList, error) {
		conns, err := c.Conns(ctx)
		if err != nil {
			return nil, err
		}
		return connListToPB(conns), nil
	})
}

// GetConn returns one connection.
func (s *Server) GetConn(ctx context.Context, req *tquicdpb.GetConnRequest) (*tquicdpb.Conn, error) {
	if req.GetId() == 0 {
		return nil, status.Error(codes.InvalidArgument, "connection id 0: ids start at 1")
	}
	return call(s, func(c tquicnl.Controller) (*tquicdpb.Conn, error) {
		conn, err := c.Conn(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		return connToPB(conn), nil
	})
}

// ListPaths returns the paths of every connection, or of one.
func (s *Server) ListPaths(ctx context.Context, req *tquicdpb.ListPathsRequest) (*tquicdpb.PathList, error) {
	return call(s, func(c tquicnl.Controller) (*tquicdpb.PathList, error) {
		paths, err := c.Paths(ctx, req.GetConnId())
		if err != nil {
			return nil, err
		}
		out := &tquicdpb.PathList{}
		for i := range paths {
			out.Paths = append(out.Paths, pathToPB(&paths[i]))
		}
		return out, nil
	})
}

// WatchStats sends a snapshot of every connection each interval.
func (s *Server) WatchStats(req *tquicdpb.WatchStatsRequest, stream tquicdpb.Tquic_WatchStatsServer) error {
	ctx := stream.Context()
	interval := time.Duration(req.GetIntervalMs()) * time.Millisecond
	if interval == 0 {
		interval = time.Second
	}
	if interval < 10*time.Millisecond {
		return status.Error(codes.InvalidArgument, "interval below 10 ms")
	}
	_, err := call(s, func(c tquicnl.Controller) (struct{}, error) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			conns, err := c.Conns(ctx)
			if err != nil {
				return struct{}{}, err
			}
			if err := stream.Send(connListToPB(conns)); err != nil {
				return struct{}{}, err
			}
			select {
			case <-ctx.Done():
				return struct{}{}, nil
			case <-t.C:
			}
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// WatchQlog streams qlog records until the client goes away.
func (s *Server) WatchQlog(_ *tquicdpb.WatchQlogRequest, stream tquicdpb.Tquic_WatchQlogServer) error {
	ctx := stream.Context()
	_, err := call(s, func(c tquicnl.Controller) (struct{}, error) {
		joined := func() { stream.SendHeader(nil) }
		err := c.WatchQlog(ctx, joined, func(b tquicnl.QlogBatch) error {
			return stream.Send(qlogBatchToPB(&b))
		})
		if ctx.Err() != nil {
			return struct{}{}, nil
		}
		return struct{}{}, err
	})
	return err
}

// ---- client ----

// Conns lists the remote namespace's connections.
func (r *RemoteClient) Conns(ctx context.Context) ([]tquicnl.Conn, error) {
	p, err := r.api.ListConns(ctx, &tquicdpb.ListConnsRequest{})
	if err != nil {
		return nil, fromStatus("list connections", err)
	}
	return connListFromPB(p), nil
}

// Conn returns one remote connection.
func (r *RemoteClient) Conn(ctx context.Context, id uint64) (*tquicnl.Conn, error) {
	p, err := r.api.GetConn(ctx, &tquicdpb.GetConnRequest{Id: id})
	if err != nil {
		return nil, fromStatus(fmt.Sprintf("get connection %d", id), err)
	}
	return connFromPB(p), nil
}

// Paths lists the remote paths (of connection id when not 0).
func (r *RemoteClient) Paths(ctx context.Context, id uint64) ([]tquicnl.Path, error) {
	p, err := r.api.ListPaths(ctx, &tquicdpb.ListPathsRequest{ConnId: id})
	if err != nil {
		return nil, fromStatus("list paths", err)
	}
	out := make([]tquicnl.Path, 0, len(p.GetPaths()))
	for _, x := range p.GetPaths() {
		out = append(out, pathFromPB(x))
	}
	return out, nil
}

// WatchStats calls fn with a snapshot of every connection each interval.
func (r *RemoteClient) WatchStats(ctx context.Context, interval time.Duration, fn func([]tquicnl.Conn) error) error {
	stream, err := r.api.WatchStats(ctx, &tquicdpb.WatchStatsRequest{IntervalMs: uint32(interval / time.Millisecond)})
	if err != nil {
		return fromStatus("watch stats", err)
	}
	return recvAll(ctx, "watch stats", stream, func(p *tquicdpb.ConnList) error {
		return fn(connListFromPB(p))
	})
}

// WatchQlog streams the remote module's qlog records.
func (r *RemoteClient) WatchQlog(ctx context.Context, joined func(), fn func(tquicnl.QlogBatch) error) error {
	stream, err := r.api.WatchQlog(ctx, &tquicdpb.WatchQlogRequest{})
	if err != nil {
		return fromStatus("watch qlog", err)
	}
	if _, err := stream.Header(); err != nil {
		return fromStatus("watch qlog", err)
	}
	if joined != nil {
		joined()
	}
	return recvAll(ctx, "watch qlog", stream, func(p *tquicdpb.QlogBatch) error {
		return fn(qlogBatchFromPB(p))
	})
}

// recvAll hands every message of a server stream to fn until it ends.
func recvAll[T any](ctx context.Context, op string, stream grpc.ServerStreamingClient[T], fn func(*T) error) error {
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fromStatus(op, err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

// ---- conversions ----

func connListToPB(conns []tquicnl.Conn) *tquicdpb.ConnList {
	out := &tquicdpb.ConnList{}
	for i := range conns {
		out.Conns = append(out.Conns, connToPB(&conns[i]))
	}
	return out
}

func connListFromPB(p *tquicdpb.ConnList) []tquicnl.Conn {
	out := make([]tquicnl.Conn, 0, len(p.GetConns()))
	for _, c := range p.GetConns() {
		out = append(out, *connFromPB(c))
	}
	return out
}

func connToPB(c *tquicnl.Conn) *tquicdpb.Conn {
	return &tquicdpb.Conn{
		Id: c.ID, State: c.State.String(), Engine: c.Engine, Server: c.Server, Version: uint32(c.Version),
		Local: c.Local, Peer: c.Peer, Alpn: c.ALPN, CongestionControl: c.CongestionControl, CcState: c.CCState,
		HandshakeConfirmed: c.HandshakeConfirmed, Qlog: c.Qlog, Paths: c.Paths,
		PacketsSent: c.PacketsSent, PacketsReceived: c.PacketsReceived, PacketsLost: c.PacketsLost,
		PacketsDropped: c.PacketsDropped, BytesSent: c.BytesSent, BytesReceived: c.BytesReceived,
		BytesLost: c.BytesLost, RttMinNs: int64(c.RTTMin), RttSmoothedNs: int64(c.RTTSmoothed),
		RttVarNs: int64(c.RTTVar), RttLatestNs: int64(c.RTTLatest), Cwnd: c.Cwnd, Ssthresh: c.Ssthresh,
		BytesInFlight: c.BytesInFlight, PacingRate: c.PacingRate, KeyUpdates: c.KeyUpdates,
		PtoCount: c.PTOCount, UdpTxDatagrams: c.UDPTxDatagrams, UdpTxBytes: c.UDPTxBytes,
		UdpRxDropped: c.UDPRxDropped,
	}
}

func connFromPB(p *tquicdpb.Conn) *tquicnl.Conn {
	c := &tquicnl.Conn{
		ID: p.GetId(), Engine: p.GetEngine(), Server: p.GetServer(), Version: tquicnl.Version(p.GetVersion()),
		Local: p.GetLocal(), Peer: p.GetPeer(), ALPN: p.GetAlpn(), CongestionControl: p.GetCongestionControl(),
		CCState: p.GetCcState(), HandshakeConfirmed: p.GetHandshakeConfirmed(), Qlog: p.GetQlog(),
		Paths: p.GetPaths(), PacketsSent: p.GetPacketsSent(), PacketsReceived: p.GetPacketsReceived(),
		PacketsLost: p.GetPacketsLost(), PacketsDropped: p.GetPacketsDropped(), BytesSent: p.GetBytesSent(),
		BytesReceived: p.GetBytesReceived(), BytesLost: p.GetBytesLost(),
		RTTMin: time.Duration(p.GetRttMinNs()), RTTSmoothed: time.Duration(p.GetRttSmoothedNs()),
		RTTVar: time.Duration(p.GetRttVarNs()), RTTLatest: time.Duration(p.GetRttLatestNs()),
		Cwnd: p.GetCwnd(), Ssthresh: p.GetSsthresh(), BytesInFlight: p.GetBytesInFlight(),
		PacingRate: p.GetPacingRate(), KeyUpdates: p.GetKeyUpdates(), PTOCount: p.GetPtoCount(),
		UDPTxDatagrams: p.GetUdpTxDatagrams(), UDPTxBytes: p.GetUdpTxBytes(), UDPRxDropped: p.GetUdpRxDropped(),
	}
	// An unknown name from a newer daemon reads as idle rather than failing.
	_ = c.State.UnmarshalText([]byte(p.GetState()))
	return c
}

func pathToPB(p *tquicnl.Path) *tquicdpb.Path {
	return &tquicdpb.Path{
		ConnId: p.ConnID, Id: p.ID, Status: p.Status.String(), Local: p.Local, Peer: p.Peer, Mtu: p.MTU,
		RttMinNs: int64(p.RTTMin), RttSmoothedNs: int64(p.RTTSmoothed), RttVarNs: int64(p.RTTVar),
		RttLatestNs: int64(p.RTTLatest), Cwnd: p.Cwnd, BytesInFlight: p.BytesInFlight, PacingRate: p.PacingRate,
		CcState: p.CCState, PacketsSent: p.PacketsSent, PacketsAcked: p.PacketsAcked, PacketsLost: p.PacketsLost,
		BytesSent: p.BytesSent, BytesLost: p.BytesLost, EcnState: p.ECNState, EcnSentEct0: p.ECNSentECT0,
		EcnSentEct1: p.ECNSentECT1, EcnEct0: p.ECNECT0, EcnEct1: p.ECNECT1, EcnCe: p.ECNCE,
	}
}

func pathFromPB(x *tquicdpb.Path) tquicnl.Path {
	p := tquicnl.Path{
		ConnID: x.GetConnId(), ID: x.GetId(), Local: x.GetLocal(), Peer: x.GetPeer(), MTU: x.GetMtu(),
		RTTMin: time.Duration(x.GetRttMinNs()), RTTSmoothed: time.Duration(x.GetRttSmoothedNs()),
		RTTVar: time.Duration(x.GetRttVarNs()), RTTLatest: time.Duration(x.GetRttLatestNs()),
		Cwnd: x.GetCwnd(), BytesInFlight: x.GetBytesInFlight(), PacingRate: x.GetPacingRate(),
		CCState: x.GetCcState(), PacketsSent: x.GetPacketsSent(), PacketsAcked: x.GetPacketsAcked(),
		PacketsLost: x.GetPacketsLost(), BytesSent: x.GetBytesSent(), BytesLost: x.GetBytesLost(),
		ECNState: x.GetEcnState(), ECNSentECT0: x.GetEcnSentEct0(), ECNSentECT1: x.GetEcnSentEct1(),
		ECNECT0: x.GetEcnEct0(), ECNECT1: x.GetEcnEct1(), ECNCE: x.GetEcnCe(),
	}
	_ = p.Status.UnmarshalText([]byte(x.GetStatus()))
	return p
}

func qlogBatchToPB(b *tquicnl.QlogBatch) *tquicdpb.QlogBatch {
	out := &tquicdpb.QlogBatch{ConnId: b.ConnID, Overrun: b.Overrun}
	for i := range b.Records {
		r := &b.Records[i]
		out.Records = append(out.Records, &tquicdpb.QlogRecord{
			Type: uint32(r.Type), TimeNs: int64(r.Time), PktType: uint32(r.PktType), Pn: r.PN, Len: r.Len,
			Trigger: uint32(r.Trigger), Space: uint32(r.Space), Version: uint32(r.Version), Server: r.Server,
			Code: r.Code, Alpn: r.ALPN, CcState: r.CCState, RttMinNs: int64(r.RTTMin),
			RttSmoothedNs: int64(r.RTTSmoothed), RttVarNs: int64(r.RTTVar), RttLatestNs: int64(r.RTTLatest),
			Cwnd: r.Cwnd, BytesInFlight: r.BytesInFlight, Ssthresh: r.Ssthresh, PacingRate: r.PacingRate,
			Lost: r.Lost,
		})
	}
	return out
}

func qlogBatchFromPB(p *tquicdpb.QlogBatch) tquicnl.QlogBatch {
	out := tquicnl.QlogBatch{ConnID: p.GetConnId(), Overrun: p.GetOverrun()}
	for _, r := range p.GetRecords() {
		out.Records = append(out.Records, tquicnl.QlogRecord{
			Type: uint8(r.GetType()), Time: time.Duration(r.GetTimeNs()), PktType: uint8(r.GetPktType()),
			PN: r.GetPn(), Len: r.GetLen(), Trigger: uint8(r.GetTrigger()), Space: uint8(r.GetSpace()),
			Version: tquicnl.Version(r.GetVersion()), Server: r.GetServer(), Code: r.GetCode(), ALPN: r.GetAlpn(),
			CCState: r.GetCcState(), RTTMin: time.Duration(r.GetRttMinNs()),
			RTTSmoothed: time.Duration(r.GetRttSmoothedNs()), RTTVar: time.Duration(r.GetRttVarNs()),
			RTTLatest: time.Duration(r.GetRttLatestNs()), Cwnd: r.GetCwnd(), BytesInFlight: r.GetBytesInFlight(),
			Ssthresh: r.GetSsthresh(), PacingRate: r.GetPacingRate(), Lost: r.GetLost(),
		})
	}
	return out
}
