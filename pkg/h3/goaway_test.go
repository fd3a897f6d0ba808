package h3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/tquic/tquic/pkg/h3"
)

// runLoad sends workers*perWorker requests (GETs and POSTs with bodies)
// and fails the test for any that did not succeed.
func runLoad(t *testing.T, rt http.RoundTripper, addr string, workers, perWorker int, midway func()) {
	ctx := testCtx(t, time.Minute)
	var wg sync.WaitGroup
	var done atomic.Int64
	var once sync.Once
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				if done.Add(1) == int64(workers*perWorker/2) && midway != nil {
					once.Do(func() { go midway() })
				}
				id := fmt.Sprintf("%d-%d", w, i)
				var req *http.Request
				if i%2 == 0 {
					req, _ = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s/hello?id=%s", addr, id), nil)
				} else {
					// bytes.Reader bodies come with GetBody, so they can be retried.
					req, _ = http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://%s/hello?id=%s", addr, id), bytes.NewReader([]byte("body "+id)))
				}
				resp, err := rt.RoundTrip(req)
				if err != nil {
					errs <- fmt.Errorf("request %s: %w", id, err)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != "hello "+id {
					errs <- fmt.Errorf("request %s: %q %v", id, b, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Fatalf("%d of %d requests lost", n, workers*perWorker)
	}
}

// TestInteropGoAwayQuicGoClient: our server sends GOAWAY after every 25
// requests on a connection while quic-go's client keeps 20 requests in
// flight; none may be lost.
func TestInteropGoAwayQuicGoClient(t *testing.T) {
	tp := newTLS(t)
	srv, addr := ourServer(t, tp, testHandler(), func(s *h3.Server) {
		s.MaxRequestsPerConn = 25
		s.DrainTimeout = 5 * time.Second
	})
	rt := &retryOwnClose{rt: quicGoClient(t, tp)}
	runLoad(t, rt, addr, 20, 15, nil)
	t.Logf("requests retried after quic-go's client closed its own connection: %d", rt.retries.Load())
	// 300 requests at 25 per connection: GOAWAY must have moved the client
	// to new connections many times.
	if n := acceptedConns(srv); n < 300/25 {
		t.Fatalf("only %d connections for 300 requests", n)
	}
}

// TestGoAwayTquicClientServer does the same with our client.
func TestGoAwayTquicClientServer(t *testing.T) {
	tp := newTLS(t)
	srv, addr := ourServer(t, tp, testHandler(), func(s *h3.Server) { s.MaxRequestsPerConn = 25 })
	runLoad(t, ourClient(t, tp), addr, 20, 15, nil)
	if n := acceptedConns(srv); n < 300/25 {
		t.Fatalf("only %d connections for 300 requests", n)
	}
}

// TestInteropGoAwayQuicGoServer: quic-go's server is shut down (GOAWAY)
// in the middle of the load while a second server takes new connections
// on the same address; our client must retry what the first one did not
// process.
func TestInteropGoAwayQuicGoServer(t *testing.T) {
	tp := newTLS(t)
	ln, err := quic.ListenAddr("127.0.0.1:0", http3.ConfigureTLSConfig(tp.server), quicConf)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	first := &http3.Server{Handler: testHandler()}
	second := &http3.Server{Handler: testHandler()}
	defer second.Close()
	var current atomic.Pointer[http3.Server]
	current.Store(first)
	var conns atomic.Int64
	go func() {
		for {
			qc, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			conns.Add(1)
			go current.Load().ServeQUICConn(qc)
		}
	}()
	shutdownDone := make(chan error, 1)
	runLoad(t, ourClient(t, tp), ln.Addr().String(), 20, 20, func() {
		current.Store(second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownDone <- first.Shutdown(ctx)
	})
	if err := <-shutdownDone; err != nil {
		t.Fatalf("quic-go server shutdown: %v", err)
	}
	if conns.Load() < 2 {
		t.Fatal("the client never moved to a new connection")
	}
}

// retryOwnClose works around a race in quic-go's http3 client (v0.62):
// when GOAWAY arrives between its "going away?" check and the tracking of
// a new request stream, it sees no active streams and closes the
// connection under the request it is sending, which then fails with its
// own (local) H3_NO_ERROR. Only that failure is retried, once; any other
// error, including every error our server causes, still fails the test.
type retryOwnClose struct {
	rt      http.RoundTripper
	retries atomic.Int64
}

func (r *retryOwnClose) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if e, ok := errors.AsType[*http3.Error](err); ok && !e.Remote && e.ErrorCode == http3.ErrCodeNoError {
		r.retries.Add(1)
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, gerr
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		return r.rt.RoundTrip(req)
	}
	return resp, err
}
