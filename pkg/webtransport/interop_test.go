package webtransport

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	wtgo "github.com/quic-go/webtransport-go"

	"github.com/tquic/tquic/internal/interop"
	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/h3"
)

func quicConf() *quic.Config {
	return &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true, MaxIdleTimeout: 20 * time.Second, KeepAlivePeriod: 2 * time.Second}
}

// startOurServer runs our h3.Server with WebTransport on /wt; every
// session is served by srv.
func startOurServer(t *testing.T, wt *Server, es *echoServer) (addr string, clientTLS *tls.Config) {
	t.Helper()
	serverTLS, clientTLS, err := quicgoadapter.SelfSignedTLS(h3.NextProtoH3)
	if err != nil {
		t.Fatal(err)
	}
	ln := interop.Listen(t, serverTLS, quicConf())
	mux := http.NewServeMux()
	mux.HandleFunc("/wt", func(w http.ResponseWriter, r *http.Request) {
		sess, err := wt.Upgrade(w, r)
		if err != nil {
			t.Logf("upgrade: %v", err)
			return
		}
		es.serve(ourSession{sess})
	})
	srv := &h3.Server{Handler: mux}
	wt.ConfigureH3(srv)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), clientTLS
}

// startGoServer runs webtransport-go's server on /wt.
func startGoServer(t *testing.T, es *echoServer) (addr string, clientTLS *tls.Config) {
	t.Helper()
	serverTLS, clientTLS, err := quicgoadapter.SelfSignedTLS(http3.NextProtoH3)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s := &wtgo.Server{
		H3:     &http3.Server{TLSConfig: serverTLS, QUICConfig: quicConf(), Handler: mux},
		Config: &wtgo.Config{MaxIncomingStreams: 100, MaxIncomingUniStreams: 100, MaxIncomingData: 1 << 20},
	}
	wtgo.ConfigureHTTP3Server(s.H3)
	mux.HandleFunc("/wt", func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.Upgrade(w, r)
		if err != nil {
			t.Logf("upgrade: %v", err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		es.serve(goSession{sess})
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(pc)
	t.Cleanup(func() { s.Close(); pc.Close() })
	return pc.LocalAddr().String(), clientTLS
}

func goClientConn(t *testing.T, ctx context.Context, addr string, clientTLS *tls.Config) *wtgo.ClientConn {
	t.Helper()
	tr := &wtgo.Transport{
		TLSClientConfig: clientTLS,
		QUICConfig:      quicConf(),
		Config:          &wtgo.Config{MaxIncomingStreams: 100, MaxIncomingUniStreams: 100, MaxIncomingData: 1 << 20},
	}
	t.Cleanup(func() { tr.Close() })
	tlsConf := clientTLS.Clone()
	tlsConf.NextProtos = []string{http3.NextProtoH3}
	qc, err := quic.DialAddr(ctx, addr, tlsConf, quicConf())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.CloseWithError(0, "") })
	cc, err := tr.NewClientConn(qc)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func ourDialer(t *testing.T, clientTLS *tls.Config) *Dialer {
	d := &Dialer{DialQUIC: interop.Dialer(quicConf()), TLSClientConfig: clientTLS}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestInteropWebtransportGoClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	es := newEchoServer()
	addr, clientTLS := startOurServer(t, &Server{}, es)
	cc := goClientConn(t, ctx, addr, clientTLS)
	url := "https://" + addr + "/wt"

	t.Run("Session", func(t *testing.T) {
		rsp, sess, err := cc.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if rsp.StatusCode != 200 {
			t.Fatalf("status %d", rsp.StatusCode)
		}
		clientScript(t, ctx, goSession{sess}, es)
	})
	t.Run("ServerClose", func(t *testing.T) {
		_, sess, err := cc.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		serverCloseScript(t, ctx, goSession{sess})
	})
	t.Run("ManySessions", func(t *testing.T) {
		sessions := manySessions(t, ctx, 8, func(int) (tSession, error) {
			_, s, err := cc.Dial(ctx, url, nil)
			if err != nil {
				return nil, err
			}
			return goSession{s}, nil
		})
		for i, s := range sessions {
			s.CloseWithError(uint32(100+i), "")
		}
	})
}

func TestInteropWebtransportGoServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	es := newEchoServer()
	addr, clientTLS := startGoServer(t, es)
	d := ourDialer(t, clientTLS)
	url := "https://" + addr + "/wt"

	t.Run("Session", func(t *testing.T) {
		rsp, sess, err := d.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if rsp.StatusCode != 200 || sess.Protocol() != ProtocolH3 {
			t.Fatalf("status %d protocol %q", rsp.StatusCode, sess.Protocol())
		}
		if !sess.FlowControlEnabled() {
			t.Fatal("session flow control not negotiated")
		}
		clientScript(t, ctx, ourSession{sess}, es)
	})
	t.Run("ServerClose", func(t *testing.T) {
		_, sess, err := d.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		serverCloseScript(t, ctx, ourSession{sess})
	})
	t.Run("ManySessions", func(t *testing.T) {
		var first *Session
		sessions := manySessions(t, ctx, 8, func(int) (tSession, error) {
			_, s, err := d.Dial(ctx, url, nil)
			if err != nil {
				return nil, err
			}
			if first == nil {
				first = s
			} else if s.cs != first.cs {
				t.Error("sessions did not share one connection")
			}
			return ourSession{s}, nil
		})
		for i, s := range sessions {
			s.CloseWithError(uint32(100+i), "")
		}
	})
}
