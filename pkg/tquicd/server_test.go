package tquicd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tquic/tquic/internal/testpki"
	"github.com/tquic/tquic/pkg/tquicdpb"
	"github.com/tquic/tquic/pkg/tquicnl"
)

// fakeModule stands in for the kernel: a config that SetConfig changes,
// with the kernel's refusals for an unknown congestion controller.
type fakeModule struct {
	mu     sync.Mutex
	cfg    tquicnl.Config
	events chan tquicnl.Event
}

type fakeController struct{ m *fakeModule }

func (f fakeController) Info(context.Context) (*tquicnl.Info, error) {
	return &tquicnl.Info{Version: "9.9.9", BuildID: "feedfacecafebeef",
		Crypto: []tquicnl.CryptoDriver{{Algorithm: "gcm(aes)", Driver: "gcm-aesni"}}}, nil
}

func (f fakeController) Config(context.Context) (*tquicnl.Config, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	c := f.m.cfg
	return &c, nil
}

func (f fakeController) SetConfig(_ context.Context, u tquicnl.ConfigUpdate) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if u.CongestionControl != nil {
		if *u.CongestionControl != "cubic" && *u.CongestionControl != "newreno" {
			return &tquicnl.KernelError{Op: "set config", Message: "unknown congestion control", Kind: tquicnl.ErrInvalidConfig, Err: errors.New("no such file or directory")}
		}
		f.m.cfg.CongestionControl = *u.CongestionControl
	}
	if u.Versions != nil {
		f.m.cfg.Versions = u.Versions
	}
	if u.IdleTimeout != nil {
		f.m.cfg.IdleTimeout = *u.IdleTimeout
	}
	c := f.m.cfg
	f.m.events <- tquicnl.Event{Kind: "config", Config: &c}
	return nil
}

func (f fakeController) Selftest(context.Context) (*tquicnl.SelftestResult, error) {
	return &tquicnl.SelftestResult{Passed: 61}, nil
}

func (f fakeController) Watch(ctx context.Context, joined func(), fn func(tquicnl.Event) error) error {
	joined()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-f.m.events:
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
}

func (f fakeController) Close() error { return nil }

// fakeConns are the connections every fake module reports.
var fakeConns = []tquicnl.Conn{
	{ID: 3, State: tquicnl.ConnListen, CongestionControl: "cubic", Local: "10.0.0.1:443"},
	{ID: 7, State: tquicnl.ConnEstablished, Engine: true, Server: true, Version: tquicnl.Version2,
		Local: "10.0.0.1:443", Peer: "10.0.0.2:5000", ALPN: []string{"h3"}, CongestionControl: "newreno",
		CCState: "congestion_avoidance", HandshakeConfirmed: true, Paths: 1, PacketsSent: 100,
		PacketsReceived: 90, BytesSent: 120000, BytesReceived: 5000, RTTSmoothed: 1500 * time.Microsecond,
		Cwnd: 50000, KeyUpdates: 2},
}

func (f fakeController) Conns(context.Context) ([]tquicnl.Conn, error) { return fakeConns, nil }

func (f fakeController) Conn(_ context.Context, id uint64) (*tquicnl.Conn, error) {
	for i := range fakeConns {
		if fakeConns[i].ID == id {
			c := fakeConns[i]
			return &c, nil
		}
	}
	return nil, &tquicnl.KernelError{Op: "get connection", Kind: tquicnl.ErrNoConn, Err: errors.New("no such file or directory")}
}

func (f fakeController) Paths(_ context.Context, id uint64) ([]tquicnl.Path, error) {
	if id != 0 && id != 7 {
		return nil, &tquicnl.KernelError{Op: "list paths", Kind: tquicnl.ErrNoConn, Err: errors.New("no such file or directory")}
	}
	return []tquicnl.Path{{ConnID: 7, Status: tquicnl.PathActive, Local: "10.0.0.1:443", Peer: "10.0.0.2:5000",
		MTU: 1452, Cwnd: 50000, ECNState: "capable", ECNECT0: 80}}, nil
}

func (f fakeController) WatchQlog(ctx context.Context, joined func(), fn func(tquicnl.QlogBatch) error) error {
	joined()
	if err := fn(tquicnl.QlogBatch{ConnID: 7, Records: []tquicnl.QlogRecord{
		{Type: 1, Time: time.Millisecond, PktType: 4, PN: 12, Len: 1200},
		{Type: 6, Time: 2 * time.Millisecond, Cwnd: 14720, RTTSmoothed: 3 * time.Millisecond},
	}}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func pki(t *testing.T, dir string) {
	t.Helper()
	if _, err := testpki.Write(dir); err != nil {
		t.Fatal(err)
	}
}

func serve(t *testing.T, dir string, m *fakeModule) string {
	t.Helper()
	tlsConfig, err := ServerTLS(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsConfig)))
	tquicdpb.RegisterTquicServer(srv, &Server{Dial: func() (tquicnl.Controller, error) { return fakeController{m}, nil }})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestRemoteOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	pki(t, dir)
	m := &fakeModule{cfg: tquicnl.Config{CongestionControl: "cubic", Versions: []tquicnl.Version{tquicnl.Version1}}, events: make(chan tquicnl.Event, 4)}
	addr := serve(t, dir, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tlsConfig, err := ClientTLS(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := DialRemote(addr, tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()

	info, err := rc.Info(ctx)
	if err != nil || info.Version != "9.9.9" || info.Crypto[0].Driver != "gcm-aesni" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	st, err := rc.Selftest(ctx)
	if err != nil || st.Passed != 61 || st.Failed != 0 {
		t.Fatalf("Selftest = %+v, %v", st, err)
	}

	got := make(chan tquicnl.Event, 1)
	joined := make(chan struct{})
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- rc.Watch(watchCtx, func() { close(joined) }, func(ev tquicnl.Event) error { got <- ev; return nil })
	}()
	<-joined

	cc, idle := "newreno", 5*time.Second
	if err := rc.SetConfig(ctx, tquicnl.ConfigUpdate{CongestionControl: &cc, IdleTimeout: &idle,
		Versions: []tquicnl.Version{tquicnl.Version2, tquicnl.Version1}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := rc.Config(ctx)
	if err != nil || cfg.CongestionControl != "newreno" || cfg.IdleTimeout != idle || len(cfg.Versions) != 2 || cfg.Versions[0] != tquicnl.Version2 {
		t.Fatalf("Config after set = %+v, %v", cfg, err)
	}
	select {
	case ev := <-got:
		if ev.Kind != "config" || ev.Config.CongestionControl != "newreno" {
			t.Fatalf("event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event streamed")
	}
	stopWatch()
	if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch ended with %v", err)
	}

	bad := "reno"
	err = rc.SetConfig(ctx, tquicnl.ConfigUpdate{CongestionControl: &bad})
	if !errors.Is(err, tquicnl.ErrInvalidConfig) {
		t.Fatalf("unknown cc: err %v, want ErrInvalidConfig", err)
	}
}

func TestMutualTLSRejectsClientWithoutCertificate(t *testing.T) {
	dir := t.TempDir()
	pki(t, dir)
	m := &fakeModule{events: make(chan tquicnl.Event, 1)}
	addr := serve(t, dir, m)
	tlsConfig, err := ClientTLS(filepath.Join(dir, "ca.pem"), "", "", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := DialRemote(addr, tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rc.Info(ctx); err == nil {
		t.Fatal("a client without a certificate was served")
	}
}

func TestDaemonConfigRejectsUnknownKeysAndPlaintext(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"typo.json":  `{"listen":"127.0.0.1:1","tls_cert":"a","tls_key":"b","clientca":"c"}`,
		"notls.json": `{"listen":"127.0.0.1:1"}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadDaemonConfig(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestUpdateFromPBRejectsOutOfRange(t *testing.T) {
	v := uint32(300)
	if _, err := updateFromPB(&tquicdpb.SetConfigRequest{CidLen: &v}); err == nil {
		t.Fatal("cid_len 300 accepted")
	}
}

func TestRemoteConnsPathsStatsQlog(t *testing.T) {
	dir := t.TempDir()
	pki(t, dir)
	addr := serve(t, dir, &fakeModule{events: make(chan tquicnl.Event, 1)})
	tlsConfig, err := ClientTLS(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := DialRemote(addr, tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conns, err := rc.Conns(ctx)
	if err != nil || len(conns) != 2 || !reflect.DeepEqual(conns[1], fakeConns[1]) || conns[0].State != tquicnl.ConnListen {
		t.Fatalf("Conns = %+v, %v", conns, err)
	}
	c, err := rc.Conn(ctx, 7)
	if err != nil || !reflect.DeepEqual(*c, fakeConns[1]) {
		t.Fatalf("Conn(7) = %+v, %v", c, err)
	}
	if _, err := rc.Conn(ctx, 9); !errors.Is(err, tquicnl.ErrNoConn) {
		t.Fatalf("Conn(9): err %v, want ErrNoConn", err)
	}
	paths, err := rc.Paths(ctx, 7)
	if err != nil || len(paths) != 1 || paths[0].Status != tquicnl.PathActive || paths[0].ECNECT0 != 80 {
		t.Fatalf("Paths = %+v, %v", paths, err)
	}
	if _, err := rc.Paths(ctx, 9); !errors.Is(err, tquicnl.ErrNoConn) {
		t.Fatalf("Paths(9): err %v, want ErrNoConn", err)
	}

	n := 0
	err = rc.WatchStats(ctx, 20*time.Millisecond, func(cs []tquicnl.Conn) error {
		if len(cs) != 2 {
			t.Errorf("snapshot of %d connections", len(cs))
		}
		if n++; n == 3 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || n != 3 {
		t.Fatalf("WatchStats: %d snapshots, %v", n, err)
	}

	qctx, qcancel := context.WithCancel(ctx)
	var got tquicnl.QlogBatch
	err = rc.WatchQlog(qctx, nil, func(b tquicnl.QlogBatch) error {
		got = b
		qcancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || got.ConnID != 7 || len(got.Records) != 2 || got.Records[0].PN != 12 ||
		got.Records[1].RTTSmoothed != 3*time.Millisecond {
		t.Fatalf("WatchQlog: %+v, %v", got, err)
	}
}

var errStop = errors.New("stop")
