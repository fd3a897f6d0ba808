package tquicd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/tquic/tquic/pkg/tquicdpb"
	"github.com/tquic/tquic/pkg/tquicnl"
)

// RemoteClient drives a module through a tquicd daemon; it is a
// tquicnl.Controller, so tquicctl treats it like the local module.
type RemoteClient struct {
	conn *grpc.ClientConn
	api  tquicdpb.TquicClient
}

var _ tquicnl.Controller = (*RemoteClient)(nil)

// DialRemote connects to tquicd at addr with TLS (mutual when tlsConfig
// carries a client certificate).
func DialRemote(addr string, tlsConfig *tls.Config) (*RemoteClient, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		return nil, fmt.Errorf("tquicd: dial %s: %w", addr, err)
	}
	return &RemoteClient{conn: conn, api: tquicdpb.NewTquicClient(conn)}, nil
}

// Close ends the connection.
func (r *RemoteClient) Close() error { return r.conn.Close() }

// fromStatus turns the server's codes back into the errors tquicctl knows.
func fromStatus(op string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("tquicd: %s: %w", op, err)
	}
	switch st.Code() {
	case codes.FailedPrecondition:
		return fmt.Errorf("tquicd: %s: remote: %w", op, tquicnl.ErrModuleNotLoaded)
	case codes.NotFound:
		return fmt.Errorf("tquicd: %s: remote: %s: %w", op, st.Message(), tquicnl.ErrNoConn)
	case codes.InvalidArgument:
		return fmt.Errorf("tquicd: %s: remote: %s: %w", op, st.Message(), tquicnl.ErrInvalidConfig)
	case codes.PermissionDenied:
		return fmt.Errorf("tquicd: %s: remote: %s: %w", op, st.Message(), tquicnl.ErrPermission)
	}
	return fmt.Errorf("tquicd: %s: %s: %s", op, st.Code(), st.Message())
}

// Info returns the remote module's info.
func (r *RemoteClient) Info(ctx context.Context) (*tquicnl.Info, error) {
	p, err := r.api.GetInfo(ctx, &tquicdpb.GetInfoRequest{})
	if err != nil {
		return nil, fromStatus("get info", err)
	}
	return infoFromPB(p), nil
}

// Config returns the remote namespace's config.
func (r *RemoteClient) Config(ctx context.Context) (*tquicnl.Config, error) {
	p, err := r.api.GetConfig(ctx, &tquicdpb.GetConfigRequest{})
	if err != nil {
		return nil, fromStatus("get config", err)
	}
	return configFromPB(p), nil
}

// SetConfig changes the remote config.
func (r *RemoteClient) SetConfig(ctx context.Context, u tquicnl.ConfigUpdate) error {
	if _, err := r.api.SetConfig(ctx, updateToPB(u)); err != nil {
		return fromStatus("set config", err)
	}
	return nil
}

// Selftest runs the remote kernel's self-test.
func (r *RemoteClient) Selftest(ctx context.Context) (*tquicnl.SelftestResult, error) {
	p, err := r.api.Selftest(ctx, &tquicdpb.SelftestRequest{})
	if err != nil {
		return nil, fromStatus("selftest", err)
	}
	return &tquicnl.SelftestResult{Passed: p.GetPassed(), Failed: p.GetFailed()}, nil
}

// Watch streams the remote module's events.
func (r *RemoteClient) Watch(ctx context.Context, joined func(), fn func(tquicnl.Event) error) error {
	stream, err := r.api.WatchEvents(ctx, &tquicdpb.WatchEventsRequest{})
	if err != nil {
		return fromStatus("watch events", err)
	}
	// The server sends headers once it has joined the events group.
	if _, err := stream.Header(); err != nil {
		return fromStatus("watch events", err)
	}
	if joined != nil {
		joined()
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fromStatus("watch events", err)
		}
		out := tquicnl.Event{Kind: ev.GetKind()}
		if ev.GetConfig() != nil {
			out.Config = configFromPB(ev.GetConfig())
		}
		if ev.GetConn() != nil {
			out.Conn = connFromPB(ev.GetConn())
		}
		if err := fn(out); err != nil {
			return err
		}
	}
}
