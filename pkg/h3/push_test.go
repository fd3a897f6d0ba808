package h3_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// pushHandler serves /bytes, /hello (as testHandler) and /page, which
// pushes the targets listed in its "push" query parameters and reports
// each Push result on results.
type pushServer struct {
	results chan error
	hits    sync.Map // path?query -> *atomic.Int64
	// waitAllowed makes /page wait for the client's MAX_PUSH_ID, which
	// travels on the control stream and may arrive after the request.
	waitAllowed bool
}

func (ps *pushServer) count(r *http.Request) int64 {
	v, _ := ps.hits.LoadOrStore(r.URL.RequestURI(), new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

func (ps *pushServer) handler() http.Handler {
	inner := testHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := ps.hits.LoadOrStore(r.URL.RequestURI(), new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		if r.URL.Path != "/page" {
			inner.ServeHTTP(w, r)
			return
		}
		pusher, ok := w.(http.Pusher)
		if !ok {
			ps.results <- errors.New("ResponseWriter is not an http.Pusher")
			return
		}
		if ps.waitAllowed {
			select {
			case <-h3.PushAllowed(w):
			case <-r.Context().Done():
			}
		}
		for _, target := range r.URL.Query()["push"] {
			err := pusher.Push(target, nil)
			if ps.results != nil {
				ps.results <- err
			}
		}
		io.WriteString(w, "page")
	})
}

func pushClient(t *testing.T, tp tlsPair, maxPushes int, handler func(*h3.Push)) *h3.Client {
	c := &h3.Client{Dial: quicgoadapter.Dialer(quicConf), TLSClientConfig: tp.client, MaxPushes: maxPushes, PushHandler: handler}
	t.Cleanup(func() { c.Close() })
	return c
}

func get(t *testing.T, ctx context.Context, rt http.RoundTripper, url string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp, b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestPushRoundTripCache: our client allows pushes; the promised
// responses arrive with the right bodies and later requests for them are
// answered from the pushes without reaching the server again.
func TestPushRoundTripCache(t *testing.T) {
	tp := newTLS(t)
	ps := &pushServer{results: make(chan error, 10), waitAllowed: true}
	_, addr := ourServer(t, tp, ps.handler(), nil)
	c := pushClient(t, tp, 10, nil)
	ctx := testCtx(t, 30*time.Second)

	sizes := []int64{0, 1000, 300 << 10}
	url := fmt.Sprintf("https://%s/page?push=/hello?id=7", addr)
	for _, n := range sizes {
		url += fmt.Sprintf("&push=/bytes?n=%d", n)
	}
	if _, b := get(t, ctx, c, url); string(b) != "page" {
		t.Fatalf("page body %q", b)
	}
	for range len(sizes) + 1 {
		if err := <-ps.results; err != nil {
			t.Fatalf("Push: %v", err)
		}
	}
	resp, b := get(t, ctx, c, fmt.Sprintf("https://%s/hello?id=7", addr))
	if string(b) != "hello 7" || resp.StatusCode != 200 {
		t.Fatalf("pushed /hello: %d %q", resp.StatusCode, b)
	}
	for _, n := range sizes {
		resp, b := get(t, ctx, c, fmt.Sprintf("https://%s/bytes?n=%d", addr, n))
		if int64(len(b)) != n || sum(b) != payloadSum(n) || resp.ContentLength != n {
			t.Fatalf("pushed /bytes?n=%d: %d bytes, content-length %d", n, len(b), resp.ContentLength)
		}
	}
	// Each pushed URL reached the handler once: for the push.
	for _, path := range []string{"/hello?id=7", "/bytes?n=0", "/bytes?n=1000", "/bytes?n=307200"} {
		v, _ := ps.hits.Load(path)
		if v == nil || v.(*atomic.Int64).Load() != 1 {
			t.Errorf("%s handled %v times, want 1 (the push)", path, v)
		}
	}
	// A URL requested again after its push was used goes to the server.
	get(t, ctx, c, fmt.Sprintf("https://%s/hello?id=7", addr))
	if v, _ := ps.hits.Load("/hello?id=7"); v.(*atomic.Int64).Load() != 2 {
		t.Errorf("second /hello not requested from the server")
	}
}

// TestPushHandlerAndLimit: with MaxPushes 2 the server's third Push fails
// with ErrPushLimit; the two pushes reach the PushHandler with their
// promised requests and correct bodies.
func TestPushHandlerAndLimit(t *testing.T) {
	tp := newTLS(t)
	ps := &pushServer{results: make(chan error, 10), waitAllowed: true}
	_, addr := ourServer(t, tp, ps.handler(), nil)
	pushes := make(chan *h3.Push, 10)
	c := pushClient(t, tp, 2, func(p *h3.Push) { pushes <- p })
	ctx := testCtx(t, 30*time.Second)

	get(t, ctx, c, fmt.Sprintf("https://%s/page?push=/bytes?n=100&push=/bytes?n=70000&push=/bytes?n=5", addr))
	for i, want := range []error{nil, nil, h3.ErrPushLimit} {
		if err := <-ps.results; !errors.Is(err, want) {
			t.Fatalf("Push %d: %v, want %v", i, err, want)
		}
	}
	got := map[string]bool{}
	for range 2 {
		var p *h3.Push
		select {
		case p = <-pushes:
		case <-ctx.Done():
			t.Fatal("push missing")
		}
		resp, err := p.Response(ctx)
		if err != nil {
			t.Fatalf("push %d: %v", p.ID, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		n, _ := strconv.ParseInt(p.Request.URL.Query().Get("n"), 10, 64)
		if err != nil || int64(len(b)) != n || sum(b) != payloadSum(n) {
			t.Fatalf("push %d (%s): %d bytes, %v", p.ID, p.Request.URL, len(b), err)
		}
		if p.Request.Method != http.MethodGet || p.Request.Host != addr {
			t.Fatalf("promised request %s %s", p.Request.Method, p.Request.Host)
		}
		if _, err := p.Response(ctx); err == nil {
			t.Fatal("a push's response was taken twice")
		}
		got[p.Request.URL.RequestURI()] = true
	}
	if !got["/bytes?n=100"] || !got["/bytes?n=70000"] {
		t.Fatalf("pushes %v", got)
	}
}

// TestPushCancel: a client that cancels a push at once makes the server
// abandon it: the pushed request's handler sees its context end or its
// writes fail, and the push's response is not available.
func TestPushCancel(t *testing.T) {
	tp := newTLS(t)
	ended := make(chan string, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			<-h3.PushAllowed(w)
			if err := w.(http.Pusher).Push("/endless", nil); err != nil {
				t.Errorf("Push: %v", err)
			}
			io.WriteString(w, "page")
		case "/endless":
			chunk := make([]byte, 16<<10)
			for {
				select {
				case <-r.Context().Done():
					ended <- "context"
					return
				default:
				}
				if _, err := w.Write(chunk); err != nil {
					ended <- "write"
					return
				}
			}
		default:
			io.WriteString(w, "other")
		}
	})
	_, addr := ourServer(t, tp, handler, nil)
	canceled := make(chan *h3.Push, 1)
	c := pushClient(t, tp, 1, func(p *h3.Push) {
		if err := p.Cancel(); err != nil {
			t.Errorf("Cancel: %v", err)
		}
		canceled <- p
	})
	ctx := testCtx(t, 30*time.Second)
	get(t, ctx, c, fmt.Sprintf("https://%s/page", addr))
	var p *h3.Push
	select {
	case p = <-canceled:
	case <-ctx.Done():
		t.Fatal("no push")
	}
	select {
	case how := <-ended:
		t.Logf("pushed handler ended by its %s", how)
	case <-ctx.Done():
		t.Fatal("the pushed handler never ended after CANCEL_PUSH")
	}
	if _, err := p.Response(ctx); err == nil {
		t.Fatal("canceled push has a response")
	}
	// The connection is unaffected.
	if _, b := get(t, ctx, c, fmt.Sprintf("https://%s/other", addr)); string(b) != "other" {
		t.Fatalf("after cancel: %q", b)
	}
}

// TestPushQuicGoClient: quic-go's client never sends MAX_PUSH_ID, so Push
// reports http.ErrNotSupported and the response is unaffected.
func TestPushQuicGoClient(t *testing.T) {
	tp := newTLS(t)
	ps := &pushServer{results: make(chan error, 10)}
	_, addr := ourServer(t, tp, ps.handler(), nil)
	rt := quicGoClient(t, tp)
	ctx := testCtx(t, 30*time.Second)
	for range 3 {
		if _, b := get(t, ctx, rt, fmt.Sprintf("https://%s/page?push=/hello?id=1", addr)); string(b) != "page" {
			t.Fatalf("page %q", b)
		}
		if err := <-ps.results; !errors.Is(err, http.ErrNotSupported) {
			t.Fatalf("Push to quic-go's client: %v, want http.ErrNotSupported", err)
		}
	}
	if _, b := get(t, ctx, rt, fmt.Sprintf("https://%s/hello?id=1", addr)); string(b) != "hello 1" {
		t.Fatalf("hello %q", b)
	}
	// Our client without MaxPushes behaves the same.
	c := ourClient(t, tp)
	get(t, ctx, c, fmt.Sprintf("https://%s/page?push=/hello?id=1", addr))
	if err := <-ps.results; !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("Push to our client without MaxPushes: %v", err)
	}
}

// rawPeer is the server side of a raw QUIC connection from our client,
// for sending push frames our server would never send.
type rawPeer struct {
	tc   transport.Connection
	sctl transport.SendStream // the server's control stream
	req  transport.Stream
	ctrl chan [2]any // frames from the client's control stream: type, payload
}

func acceptRaw(t *testing.T, ctx context.Context, ln transport.Listener) *rawPeer {
	t.Helper()
	tc, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.CloseWithError(0, "") })
	ctrl, err := tc.OpenUniStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.Write(uni(h3.StreamTypeControl, settingsFrame))
	p := &rawPeer{tc: tc, sctl: ctrl, ctrl: make(chan [2]any, 16)}
	go func() {
		for {
			str, err := tc.AcceptUniStream(context.Background())
			if err != nil {
				return
			}
			go func() {
				r := bufio.NewReader(str)
				typ, err := capsule.ReadVarint(r)
				if err != nil || typ != h3.StreamTypeControl {
					io.Copy(io.Discard, r)
					return
				}
				for {
					ft, err := capsule.ReadVarint(r)
					if err != nil {
						return
					}
					n, _ := capsule.ReadVarint(r)
					payload := make([]byte, n)
					if _, err := io.ReadFull(r, payload); err != nil {
						return
					}
					p.ctrl <- [2]any{ft, payload}
				}
			}()
		}
	}()
	if p.req, err = tc.AcceptStream(ctx); err != nil {
		t.Fatal(err)
	}
	// Read the request's HEADERS frame.
	r := bufio.NewReader(p.req)
	if _, err := capsule.ReadVarint(r); err != nil {
		t.Fatal(err)
	}
	n, _ := capsule.ReadVarint(r)
	io.CopyN(io.Discard, r, int64(n))
	return p
}

// nextControl returns the next frame of type typ from the client's control
// stream.
func (p *rawPeer) nextControl(t *testing.T, ctx context.Context, typ uint64) []byte {
	t.Helper()
	for {
		select {
		case f := <-p.ctrl:
			if f[0].(uint64) == typ {
				return f[1].([]byte)
			}
		case <-ctx.Done():
			t.Fatalf("no frame %#x on the client's control stream", typ)
		}
	}
}

func fieldSection(kv ...string) []byte {
	var f []qpack.HeaderField
	for i := 0; i < len(kv); i += 2 {
		f = append(f, qpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	sec, _ := qpack.NewEncoder().EncodeFieldSection(0, f)
	return sec
}

func pushPromise(id uint64, kv ...string) []byte {
	return frame(h3.FramePushPromise, append(capsule.AppendVarint(nil, id), fieldSection(kv...)...))
}

var okResponse = frame(h3.FrameHeaders, fieldSection(":status", "200", "content-length", "2"))

// TestPushClientValidation drives our client with a raw server sending
// malformed or forbidden push frames, and checks the error code.
func TestPushClientValidation(t *testing.T) {
	tp := newTLS(t)
	ln, err := quicgoadapter.Listen("127.0.0.1:0", tp.server, quicConf)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	promised := func(path string) []string {
		return []string{":method", "GET", ":scheme", "https", ":authority", addr, ":path", path}
	}
	type result struct {
		code   h3.ErrorCode // connection close code seen by the server; 0: none
		stream h3.ErrorCode // the request's stream error; 0: none
	}
	cases := []struct {
		name      string
		maxPushes int
		serve     func(t *testing.T, ctx context.Context, p *rawPeer)
		want      result
	}{
		{"promise without MAX_PUSH_ID", 0, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.req.Write(pushPromise(0, promised("/a")...))
		}, result{code: h3.ErrCodeIDError}},
		{"promise above MAX_PUSH_ID", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			if id, _, _ := capsule.ParseVarint(p.nextControl(t, ctx, h3.FrameMaxPushID)); id != 1 {
				t.Errorf("MAX_PUSH_ID %d, want 1", id)
			}
			p.req.Write(pushPromise(2, promised("/a")...))
		}, result{code: h3.ErrCodeIDError}},
		{"promise without push ID", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.req.Write(frame(h3.FramePushPromise, nil))
		}, result{code: h3.ErrCodeFrameError}},
		{"same push ID, different request", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.req.Write(append(pushPromise(0, promised("/a")...), pushPromise(0, promised("/b")...)...))
		}, result{code: h3.ErrCodeGeneralProtocolError}},
		{"same push ID, same request", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.req.Write(append(append(pushPromise(1, promised("/a")...), pushPromise(1, promised("/a")...)...), append(okResponse, frame(h3.FrameData, []byte("ok"))...)...))
			p.req.Close()
		}, result{}},
		{"malformed promised request", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.req.Write(pushPromise(0, ":method", "GET", ":scheme", "https", ":authority", addr))
		}, result{stream: h3.ErrCodeMessageError}},
		{"unsafe promised request is canceled", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.req.Write(append(pushPromise(0, ":method", "POST", ":scheme", "https", ":authority", addr, ":path", "/a"), append(okResponse, frame(h3.FrameData, []byte("ok"))...)...))
			p.req.Close()
			if id, _, _ := capsule.ParseVarint(p.nextControl(t, ctx, h3.FrameCancelPush)); id != 0 {
				t.Errorf("CANCEL_PUSH %d, want 0", id)
			}
		}, result{}},
		{"foreign authority is canceled", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.req.Write(append(pushPromise(1, ":method", "GET", ":scheme", "https", ":authority", "other.example", ":path", "/a"), append(okResponse, frame(h3.FrameData, []byte("ok"))...)...))
			p.req.Close()
			if id, _, _ := capsule.ParseVarint(p.nextControl(t, ctx, h3.FrameCancelPush)); id != 1 {
				t.Errorf("CANCEL_PUSH %d, want 1", id)
			}
		}, result{}},
		{"push stream above MAX_PUSH_ID", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			str, _ := p.tc.OpenUniStream(ctx)
			str.Write(uni(h3.StreamTypePush, capsule.AppendVarint(nil, 7)))
		}, result{code: h3.ErrCodeIDError}},
		{"two push streams with one push ID", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			for range 2 {
				str, _ := p.tc.OpenUniStream(ctx)
				str.Write(uni(h3.StreamTypePush, capsule.AppendVarint(nil, 0)))
			}
		}, result{code: h3.ErrCodeIDError}},
		{"CANCEL_PUSH above MAX_PUSH_ID", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.sctl.Write(frame(h3.FrameCancelPush, capsule.AppendVarint(nil, 2)))
		}, result{code: h3.ErrCodeIDError}},
		{"CANCEL_PUSH without MAX_PUSH_ID", 0, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.sctl.Write(frame(h3.FrameCancelPush, capsule.AppendVarint(nil, 0)))
		}, result{code: h3.ErrCodeIDError}},
		{"MAX_PUSH_ID from the server", 2, func(t *testing.T, ctx context.Context, p *rawPeer) {
			p.sctl.Write(frame(h3.FrameMaxPushID, capsule.AppendVarint(nil, 0)))
		}, result{code: h3.ErrCodeFrameUnexpected}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			client := pushClient(t, tp, c.maxPushes, nil)
			errc := make(chan error, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
				resp, err := client.RoundTrip(req)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && string(b) != "ok" {
						err = fmt.Errorf("body %q", b)
					}
				}
				errc <- err
			}()
			p := acceptRaw(t, ctx, ln)
			c.serve(t, ctx, p)
			err := <-errc
			var h3err *h3.Error
			switch {
			case c.want.code != 0:
				select {
				case <-p.tc.Context().Done():
				case <-ctx.Done():
					t.Fatalf("connection not closed (request: %v), want %v", err, c.want.code)
				}
				var ae *transport.ApplicationError
				if cause := context.Cause(p.tc.Context()); !errors.As(cause, &ae) || h3.ErrorCode(ae.ErrorCode) != c.want.code {
					t.Fatalf("closed with %v, want %v", cause, c.want.code)
				}
			case c.want.stream != 0:
				if !errors.As(err, &h3err) || h3err.Code != c.want.stream || h3err.Connection {
					t.Fatalf("request error %v, want stream error %v", err, c.want.stream)
				}
				if p.tc.Context().Err() != nil {
					t.Fatal("connection closed for a stream error")
				}
			default:
				if err != nil {
					t.Fatalf("request: %v", err)
				}
			}
		})
	}
}

// TestPushStreamWithPushPromise: a PUSH_PROMISE on a push stream is
// H3_FRAME_UNEXPECTED.
func TestPushStreamWithPushPromise(t *testing.T) {
	tp := newTLS(t)
	ln, err := quicgoadapter.Listen("127.0.0.1:0", tp.server, quicConf)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	ctx := testCtx(t, 10*time.Second)
	pushes := make(chan *h3.Push, 1)
	client := pushClient(t, tp, 4, func(p *h3.Push) { pushes <- p })
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
		if resp, err := client.RoundTrip(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	p := acceptRaw(t, ctx, ln)
	promise := pushPromise(0, ":method", "GET", ":scheme", "https", ":authority", addr, ":path", "/a")
	p.req.Write(append(append(promise, okResponse...), frame(h3.FrameData, []byte("ok"))...))
	p.req.Close()
	str, _ := p.tc.OpenUniStream(ctx)
	str.Write(uni(h3.StreamTypePush, capsule.AppendVarint(nil, 0), pushPromise(1, ":method", "GET", ":scheme", "https", ":authority", addr, ":path", "/b")))
	var push *h3.Push
	select {
	case push = <-pushes:
	case <-ctx.Done():
		t.Fatal("no push")
	}
	if _, err := push.Response(ctx); err == nil {
		t.Fatal("push response with a PUSH_PROMISE accepted")
	}
	select {
	case <-p.tc.Context().Done():
	case <-ctx.Done():
		t.Fatal("connection not closed")
	}
	var ae *transport.ApplicationError
	if cause := context.Cause(p.tc.Context()); !errors.As(cause, &ae) || h3.ErrorCode(ae.ErrorCode) != h3.ErrCodeFrameUnexpected {
		t.Fatalf("closed with %v, want H3_FRAME_UNEXPECTED", cause)
	}
}

// TestPushServerValidation sends push-related protocol violations from a
// raw client to our server.
func TestPushServerValidation(t *testing.T) {
	tp := newTLS(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" {
			w.(http.Pusher).Push("/x", nil)
		}
	})
	_, addr := ourServer(t, tp, handler, nil)
	maxPushID := func(id uint64) []byte { return frame(h3.FrameMaxPushID, capsule.AppendVarint(nil, id)) }
	cancelPush := func(id uint64) []byte { return frame(h3.FrameCancelPush, capsule.AppendVarint(nil, id)) }
	cases := []struct {
		name    string
		control [][]byte
		request bool // send a request to /page first and wait for its push
		code    h3.ErrorCode
	}{
		{"MAX_PUSH_ID decreased", [][]byte{maxPushID(5), maxPushID(4)}, false, h3.ErrCodeIDError},
		{"CANCEL_PUSH without MAX_PUSH_ID", [][]byte{cancelPush(0)}, false, h3.ErrCodeIDError},
		{"CANCEL_PUSH above MAX_PUSH_ID", [][]byte{maxPushID(3), cancelPush(4)}, false, h3.ErrCodeIDError},
		{"CANCEL_PUSH for a push not promised", [][]byte{maxPushID(3), cancelPush(0)}, false, h3.ErrCodeIDError},
		{"PRIORITY_UPDATE for a push not promised", [][]byte{maxPushID(3), frame(h3.FramePriorityUpdatePush, append([]byte{0}, "u=1"...))}, false, h3.ErrCodeIDError},
		{"CANCEL_PUSH after the promise", [][]byte{maxPushID(3), cancelPush(0), frame(h3.FramePriorityUpdatePush, append([]byte{0}, "u=1"...)), cancelPush(1)}, true, h3.ErrCodeIDError},
		{"GOAWAY push ID increased", [][]byte{frame(h3.FrameGoAway, []byte{4}), frame(h3.FrameGoAway, []byte{5})}, false, h3.ErrCodeIDError},
		{"PUSH_PROMISE from the client", nil, false, h3.ErrCodeFrameUnexpected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			tc, err := quicgoadapter.Dialer(quicConf)(ctx, addr, tp.client)
			if err != nil {
				t.Fatal(err)
			}
			defer tc.CloseWithError(0, "")
			ctrl, err := tc.OpenUniStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ctrl.Write(uni(h3.StreamTypeControl, settingsFrame))
			if c.control == nil {
				str, _ := tc.OpenStream(ctx)
				str.Write(pushPromise(0, goodRequest...))
				str.Close()
			}
			if c.request {
				ctrl.Write(c.control[0])
				c.control = c.control[1:]
				requestUntilPromise(t, ctx, tc, addr)
			}
			for _, f := range c.control {
				ctrl.Write(f)
			}
			select {
			case <-tc.Context().Done():
			case <-ctx.Done():
				t.Fatalf("connection not closed, want %v", c.code)
			}
			var ae *transport.ApplicationError
			if cause := context.Cause(tc.Context()); !errors.As(cause, &ae) || h3.ErrorCode(ae.ErrorCode) != c.code {
				t.Fatalf("closed with %v, want %v", cause, c.code)
			}
		})
	}
}

// requestUntilPromise sends GET /page from a raw client until the response
// starts with a PUSH_PROMISE (the server pushes once it saw MAX_PUSH_ID,
// which travels on the control stream) and returns its push ID.
func requestUntilPromise(t *testing.T, ctx context.Context, tc transport.Connection, addr string) uint64 {
	t.Helper()
	for attempt := 0; attempt < 100; attempt++ {
		str, err := tc.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		str.Write(requestHeaders(":method", "GET", ":scheme", "https", ":authority", addr, ":path", "/page"))
		str.Close()
		r := bufio.NewReader(str)
		typ, err := capsule.ReadVarint(r)
		if err != nil {
			t.Fatal(err)
		}
		if typ != h3.FramePushPromise {
			continue
		}
		capsule.ReadVarint(r)
		id, err := capsule.ReadVarint(r)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	t.Fatal("no PUSH_PROMISE after MAX_PUSH_ID")
	return 0
}

// TestPushCancelPushFrame: a CANCEL_PUSH from the client ends the pushed
// request's context on the server (its handler is waiting, not writing).
func TestPushCancelPushFrame(t *testing.T) {
	tp := newTLS(t)
	started := make(chan struct{}, 1)
	ended := make(chan error, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			if err := w.(http.Pusher).Push("/wait", nil); err != nil {
				return
			}
			io.WriteString(w, "page")
		case "/wait":
			started <- struct{}{}
			<-r.Context().Done()
			ended <- r.Context().Err()
		}
	})
	_, addr := ourServer(t, tp, handler, nil)
	ctx := testCtx(t, 10*time.Second)
	tc, err := quicgoadapter.Dialer(quicConf)(ctx, addr, tp.client)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.CloseWithError(0, "")
	ctrl, err := tc.OpenUniStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.Write(uni(h3.StreamTypeControl, settingsFrame, frame(h3.FrameMaxPushID, []byte{3})))
	id := requestUntilPromise(t, ctx, tc, addr)
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("pushed request not served")
	}
	ctrl.Write(frame(h3.FrameCancelPush, capsule.AppendVarint(nil, id)))
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("pushed request ended with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("CANCEL_PUSH did not end the pushed request")
	}
	if tc.Context().Err() != nil {
		t.Fatal("connection closed")
	}
}
