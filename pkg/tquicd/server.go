// Package tquicd is the gRPC management service of TQUIC: a server that
// exposes the module's generic netlink operations (tquicnl) to remote
// clients over TLS or mutual TLS, and the client tquicctl --remote uses.
package tquicd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tquic/tquic/pkg/tquicdpb"
	"github.com/tquic/tquic/pkg/tquicnl"
)

// Server implements the Tquic gRPC service over a module controller.
type Server struct {
	tquicdpb.UnimplementedTquicServer
	// Dial opens a controller for one request (tquicnl.Dial in tquicd;
	// tests substitute a fake).
	Dial func() (tquicnl.Controller, error)
}

// call runs fn on a freshly opened controller and maps its error to a
// gRPC status.
func call[T any](s *Server, fn func(tquicnl.Controller) (T, error)) (T, error) {
	var zero T
	c, err := s.Dial()
	if err != nil {
		return zero, toStatus(err)
	}
	defer c.Close()
	out, err := fn(c)
	if err != nil {
		return zero, toStatus(err)
	}
	return out, nil
}

// toStatus maps controller errors to gRPC codes a remote client can act on.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tquicnl.ErrModuleNotLoaded):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, tquicnl.ErrNoConn):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, tquicnl.ErrInvalidConfig):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, tquicnl.ErrPermission):
		return status.Error(codes.PermissionDenied, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// GetInfo returns the module's version, build id and crypto drivers.
func (s *Server) GetInfo(ctx context.Context, _ *tquicdpb.GetInfoRequest) (*tquicdpb.Info, error) {
	return call(s, func(c tquicnl.Controller) (*tquicdpb.Info, error) {
		info, err := c.Info(ctx)
		if err != nil {
			return nil, err
		}
		return infoToPB(info), nil
	})
}

// GetConfig returns the namespace's defaults.
func (s *Server) GetConfig(ctx context.Context, _ *tquicdpb.GetConfigRequest) (*tquicdpb.Config, error) {
	return call(s, func(c tquicnl.Controller) (*tquicdpb.Config, error) {
		cfg, err := c.Config(ctx)
		if err != nil {
			return nil, err
		}
		return configToPB(cfg), nil
	})
}

// SetConfig changes the fields that are set and returns the result.
func (s *Server) SetConfig(ctx context.Context, req *tquicdpb.SetConfigRequest) (*tquicdpb.Config, error) {
	u, err := updateFromPB(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return call(s, func(c tquicnl.Controller) (*tquicdpb.Config, error) {
		if err := c.SetConfig(ctx, u); err != nil {
			return nil, err
		}
		cfg, err := c.Config(ctx)
		if err != nil {
			return nil, err
		}
		return configToPB(cfg), nil
	})
}

// Selftest runs the kernel self-test.
func (s *Server) Selftest(ctx context.Context, _ *tquicdpb.SelftestRequest) (*tquicdpb.SelftestResult, error) {
	return call(s, func(c tquicnl.Controller) (*tquicdpb.SelftestResult, error) {
		r, err := c.Selftest(ctx)
		if err != nil {
			return nil, err
		}
		return &tquicdpb.SelftestResult{Passed: r.Passed, Failed: r.Failed}, nil
	})
}

// WatchEvents streams events until the client goes away.
func (s *Server) WatchEvents(_ *tquicdpb.WatchEventsRequest, stream tquicdpb.Tquic_WatchEventsServer) error {
	ctx := stream.Context()
	_, err := call(s, func(c tquicnl.Controller) (struct{}, error) {
		// Headers tell the client the subscription is live.
		joined := func() { stream.SendHeader(nil) }
		err := c.Watch(ctx, joined, func(ev tquicnl.Event) error {
			return stream.Send(eventToPB(ev))
		})
		if ctx.Err() != nil {
			return struct{}{}, nil
		}
		return struct{}{}, err
	})
	return err
}

func infoToPB(i *tquicnl.Info) *tquicdpb.Info {
	out := &tquicdpb.Info{Version: i.Version, BuildId: i.BuildID, CongestionControls: i.CongestionControls}
	for _, d := range i.Crypto {
		out.Crypto = append(out.Crypto, &tquicdpb.CryptoDriver{Algorithm: d.Algorithm, Driver: d.Driver})
	}
	return out
}

func infoFromPB(p *tquicdpb.Info) *tquicnl.Info {
	out := &tquicnl.Info{Version: p.GetVersion(), BuildID: p.GetBuildId(), CongestionControls: p.GetCongestionControls()}
	for _, d := range p.GetCrypto() {
		out.Crypto = append(out.Crypto, tquicnl.CryptoDriver{Algorithm: d.GetAlgorithm(), Driver: d.GetDriver()})
	}
	return out
}

func configToPB(c *tquicnl.Config) *tquicdpb.Config {
	out := &tquicdpb.Config{
		CongestionControl:   c.CongestionControl,
		Pacing:              c.Pacing,
		Ecn:                 tquicdpb.ECNMode(c.ECN),
		AmplificationFactor: uint32(c.Amplification),
		Retry:               tquicdpb.RetryPolicy(c.Retry),
		IdleTimeoutMs:       uint32(c.IdleTimeout / time.Millisecond),
		CidLen:              uint32(c.CIDLen),
		Qlog:                c.Qlog,
	}
	for _, v := range c.Versions {
		out.Versions = append(out.Versions, uint32(v))
	}
	return out
}

func configFromPB(p *tquicdpb.Config) *tquicnl.Config {
	out := &tquicnl.Config{
		CongestionControl: p.GetCongestionControl(),
		Pacing:            p.GetPacing(),
		ECN:               tquicnl.ECNMode(p.GetEcn()),
		Amplification:     uint8(p.GetAmplificationFactor()),
		Retry:             tquicnl.RetryPolicy(p.GetRetry()),
		IdleTimeout:       time.Duration(p.GetIdleTimeoutMs()) * time.Millisecond,
		CIDLen:            uint8(p.GetCidLen()),
		Qlog:              p.GetQlog(),
	}
	for _, v := range p.GetVersions() {
		out.Versions = append(out.Versions, tquicnl.Version(v))
	}
	return out
}

// updateFromPB checks ranges that the narrower kernel types cannot carry;
// the kernel validates the rest.
func updateFromPB(p *tquicdpb.SetConfigRequest) (tquicnl.ConfigUpdate, error) {
	var u tquicnl.ConfigUpdate
	small := func(name string, v uint32) (*uint8, error) {
		if v > 255 {
			return nil, fmt.Errorf("%s %d out of range", name, v)
		}
		b := uint8(v)
		return &b, nil
	}
	var err error
	if p.CongestionControl != nil {
		u.CongestionControl = p.CongestionControl
	}
	for _, v := range p.GetVersions() {
		u.Versions = append(u.Versions, tquicnl.Version(v))
	}
	if p.Pacing != nil {
		u.Pacing = p.Pacing
	}
	if p.Ecn != nil {
		m := tquicnl.ECNMode(*p.Ecn)
		u.ECN = &m
	}
	if p.AmplificationFactor != nil {
		if u.Amplification, err = small("amplification_factor", *p.AmplificationFactor); err != nil {
			return u, err
		}
	}
	if p.Retry != nil {
		r := tquicnl.RetryPolicy(*p.Retry)
		u.Retry = &r
	}
	if p.IdleTimeoutMs != nil {
		d := time.Duration(*p.IdleTimeoutMs) * time.Millisecond
		u.IdleTimeout = &d
	}
	if p.CidLen != nil {
		if u.CIDLen, err = small("cid_len", *p.CidLen); err != nil {
			return u, err
		}
	}
	u.Qlog = p.Qlog
	return u, nil
}

func updateToPB(u tquicnl.ConfigUpdate) *tquicdpb.SetConfigRequest {
	req := &tquicdpb.SetConfigRequest{CongestionControl: u.CongestionControl, Pacing: u.Pacing, Qlog: u.Qlog}
	for _, v := range u.Versions {
		req.Versions = append(req.Versions, uint32(v))
	}
	if u.ECN != nil {
		e := tquicdpb.ECNMode(*u.ECN)
		req.Ecn = &e
	}
	if u.Amplification != nil {
		a := uint32(*u.Amplification)
		req.AmplificationFactor = &a
	}
	if u.Retry != nil {
		r := tquicdpb.RetryPolicy(*u.Retry)
		req.Retry = &r
	}
	if u.IdleTimeout != nil {
		ms := uint32(*u.IdleTimeout / time.Millisecond)
		req.IdleTimeoutMs = &ms
	}
	if u.CIDLen != nil {
		l := uint32(*u.CIDLen)
		req.CidLen = &l
	}
	return req
}

func eventToPB(ev tquicnl.Event) *tquicdpb.Event {
	out := &tquicdpb.Event{Kind: ev.Kind}
	if ev.Config != nil {
		out.Config = configToPB(ev.Config)
	}
	if ev.Conn != nil {
		out.Conn = connToPB(ev.Conn)
	}
	return out
}
