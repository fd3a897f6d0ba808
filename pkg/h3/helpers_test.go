package h3_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/tquic/tquic/internal/interop"
	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

var quicConf = &quic.Config{
	EnableDatagrams:            true,
	MaxIncomingStreams:         1000,
	InitialStreamReceiveWindow: 1 << 20,
	MaxIdleTimeout:             30 * time.Second,
}

type tlsPair struct{ server, client *tls.Config }

func newTLS(t testing.TB) tlsPair {
	s, c, err := quicgoadapter.SelfSignedTLS("h3")
	if err != nil {
		t.Fatal(err)
	}
	return tlsPair{s, c}
}

// payload returns n deterministic pseudo-random bytes.
type payloadReader struct {
	rng  *rand.ChaCha8
	left int64
}

func newPayload(n int64) *payloadReader {
	var seed [32]byte
	copy(seed[:], strconv.FormatInt(n, 10))
	return &payloadReader{rng: rand.NewChaCha8(seed), left: n}
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, _ := p.rng.Read(b)
	p.left -= int64(n)
	return n, nil
}

func payloadSum(n int64) string {
	h := sha256.New()
	io.Copy(h, newPayload(n))
	return hex.EncodeToString(h.Sum(nil))
}

// testHandler is served by both our server and quic-go's in interop tests.
func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		if err != nil {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		io.CopyBuffer(w, newPayload(n), make([]byte, 64<<10))
	})
	mux.HandleFunc("/sha256", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Length", strconv.FormatInt(n, 10))
		w.Header().Set("Trailer", "X-Echo-Trailer")
		io.WriteString(w, hex.EncodeToString(h.Sum(nil)))
		// Echo a request trailer back as a response trailer.
		w.Header().Set("X-Echo-Trailer", r.Trailer.Get("X-Client-Trailer"))
	})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("id"))
	})
	return mux
}

// ourServer serves h on a quic-go listener through our HTTP/3 server.
func ourServer(t testing.TB, tp tlsPair, h http.Handler, configure func(*h3.Server)) (*h3.Server, string) {
	ln := interop.Listen(t, tp.server, quicConf)
	srv := &h3.Server{Handler: h, Config: h3.Config{EnableDatagrams: true, EnableConnectProtocol: true}}
	if configure != nil {
		configure(srv)
	}
	cl := &countingListener{Listener: ln}
	servers.Store(srv, cl)
	go srv.Serve(cl)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

// servers maps our test servers to their listeners' counters.
var servers sync.Map

// acceptedConns returns how many connections srv's listener accepted.
func acceptedConns(srv *h3.Server) int64 {
	cl, _ := servers.Load(srv)
	return cl.(*countingListener).n.Load()
}

type countingListener struct {
	transport.Listener
	n atomic.Int64
}

func (l *countingListener) Accept(ctx context.Context) (transport.Connection, error) {
	c, err := l.Listener.Accept(ctx)
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// quicGoServer serves h with quic-go's http3 server.
func quicGoServer(t testing.TB, tp tlsPair, h http.Handler) (*http3.Server, string) {
	ln, err := quic.ListenAddr("127.0.0.1:0", http3.ConfigureTLSConfig(tp.server), quicConf)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http3.Server{Handler: h, EnableDatagrams: true}
	go srv.ServeListener(ln)
	t.Cleanup(func() { srv.Close(); ln.Close() })
	return srv, ln.Addr().String()
}

func ourClient(t testing.TB, tp tlsPair) *h3.Client {
	c := &h3.Client{Dial: interop.Dialer(quicConf), TLSClientConfig: tp.client, Config: h3.Config{EnableDatagrams: true}}
	t.Cleanup(func() { c.Close() })
	return c
}

func quicGoClient(t testing.TB, tp tlsPair) *http3.Transport {
	tr := &http3.Transport{TLSClientConfig: tp.client, QUICConfig: quicConf, EnableDatagrams: true}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
