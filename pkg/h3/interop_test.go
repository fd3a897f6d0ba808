package h3_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// pairs lists the interop combinations: our client with quic-go's server
// and quic-go's client with our server.
func pairs(t *testing.T) map[string]struct {
	rt   http.RoundTripper
	addr string
} {
	tp := newTLS(t)
	_, qAddr := quicGoServer(t, tp, testHandler())
	_, oAddr := ourServer(t, tp, testHandler(), nil)
	return map[string]struct {
		rt   http.RoundTripper
		addr string
	}{
		"tquicClient-quicgoServer": {ourClient(t, tp), qAddr},
		"quicgoClient-tquicServer": {quicGoClient(t, tp), oAddr},
	}
}

var bodySizes = []int64{0, 1, 1000, 65536 + 7, 1 << 20, 100 << 20}

func TestInteropGetPost(t *testing.T) {
	for name, p := range pairs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			for _, n := range bodySizes {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s/bytes?n=%d", p.addr, n), nil)
				resp, err := p.rt.RoundTrip(req)
				if err != nil {
					t.Fatalf("GET %d: %v", n, err)
				}
				h := sha256.New()
				got, err := io.Copy(h, resp.Body)
				resp.Body.Close()
				if err != nil || got != n || hex.EncodeToString(h.Sum(nil)) != payloadSum(n) || resp.StatusCode != 200 {
					t.Fatalf("GET %d: status %d, %d bytes, %v", n, resp.StatusCode, got, err)
				}
				if resp.ContentLength != n {
					t.Errorf("GET %d: content-length %d", n, resp.ContentLength)
				}

				req, _ = http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://%s/sha256", p.addr), newPayload(n))
				req.ContentLength = n
				resp, err = p.rt.RoundTrip(req)
				if err != nil {
					t.Fatalf("POST %d: %v", n, err)
				}
				sum, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(sum) != payloadSum(n) || resp.Header.Get("X-Length") != strconv.FormatInt(n, 10) {
					t.Fatalf("POST %d: %q %v (length %s)", n, sum, err, resp.Header.Get("X-Length"))
				}
			}
		})
	}
}

func TestInteropConcurrentRequests(t *testing.T) {
	for name, p := range pairs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t, time.Minute)
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s/hello?id=%d", p.addr, i), nil)
					resp, err := p.rt.RoundTrip(req)
					if err != nil {
						errs <- err
						return
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					if err != nil || string(b) != fmt.Sprintf("hello %d", i) {
						errs <- fmt.Errorf("request %d: %q %v", i, b, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestInteropTrailers(t *testing.T) {
	for name, p := range pairs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			body := []byte("with trailers")
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://%s/sha256", p.addr), bytes.NewReader(body))
			req.Trailer = http.Header{"X-Client-Trailer": {"from-client"}}
			req.ContentLength = int64(len(body))
			resp, err := p.rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := sha256.Sum256(body)
			if err != nil || string(b) != hex.EncodeToString(want[:]) {
				t.Fatalf("body %q %v", b, err)
			}
			if got := resp.Trailer.Get("X-Echo-Trailer"); got != "from-client" {
				t.Fatalf("response trailer %q (trailers %v)", got, resp.Trailer)
			}
		})
	}
}
