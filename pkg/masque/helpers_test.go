package masque

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/tquic/tquic/internal/interop"
	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/h3"
)

func quicConf() *quic.Config {
	return &quic.Config{EnableDatagrams: true, MaxIdleTimeout: 20 * time.Second, KeepAlivePeriod: 5 * time.Second}
}

// startProxy serves handler on our h3.Server configured for MASQUE and
// returns its address and a client TLS configuration trusting it.
func startProxy(t testing.TB, handler http.Handler) (addr string, clientTLS *tls.Config) {
	t.Helper()
	serverTLS, clientTLS, err := quicgoadapter.SelfSignedTLS(h3.NextProtoH3)
	if err != nil {
		t.Fatal(err)
	}
	ln := interop.Listen(t, serverTLS, quicConf())
	srv := &h3.Server{Handler: handler}
	ConfigureH3(srv)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), clientTLS
}

// ourClient opens an HTTP/3 connection with our client to addr.
func ourClient(t testing.TB, ctx context.Context, addr string, clientTLS *tls.Config) *h3.ClientConn {
	t.Helper()
	tc, err := interop.Dialer(quicConf())(ctx, addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := h3.NewClientConn(tc, &h3.Config{EnableDatagrams: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.CloseWithError(h3.ErrCodeNoError, "") })
	return cc
}

// goClient opens an HTTP/3 connection with quic-go's http3 to addr.
func goClient(t testing.TB, ctx context.Context, addr string, clientTLS *tls.Config) *http3.ClientConn {
	t.Helper()
	tlsConf := clientTLS.Clone()
	tlsConf.NextProtos = []string{http3.NextProtoH3}
	qc, err := quic.DialAddr(ctx, addr, tlsConf, quicConf())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.CloseWithError(0, "") })
	tr := &http3.Transport{EnableDatagrams: true}
	cc := tr.NewClientConn(qc)
	select {
	case <-cc.ReceivedSettings():
	case <-ctx.Done():
		t.Fatal("no SETTINGS from the proxy")
	}
	if s := cc.Settings(); !s.EnableDatagrams || !s.EnableExtendedConnect {
		t.Fatalf("proxy settings %+v", s)
	}
	return cc
}

// goConnect sends an extended CONNECT with quic-go's http3 client.
func goConnect(t testing.TB, ctx context.Context, cc *http3.ClientConn, url, proto string) (*http3.RequestStream, *http.Response) {
	t.Helper()
	rs, err := cc.OpenRequestStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Proto = proto
	req.Header.Set("Capsule-Protocol", "?1")
	if err := rs.SendRequestHeader(req); err != nil {
		t.Fatal(err)
	}
	rsp, err := rs.ReadResponse()
	if err != nil {
		t.Fatal(err)
	}
	return rs, rsp
}
