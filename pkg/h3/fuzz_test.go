package h3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// fakeConn is an in-memory transport.Connection for parser tests: writes
// are discarded, and CloseWithError is recorded.
type fakeConn struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	closed transport.ErrorCode
}

func newFakeConn() *fakeConn {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &fakeConn{ctx: ctx, cancel: cancel}
}

func (f *fakeConn) OpenStream(context.Context) (transport.Stream, error) { return &fakeStream{}, nil }
func (f *fakeConn) OpenUniStream(context.Context) (transport.SendStream, error) {
	return &fakeStream{}, nil
}
func (f *fakeConn) AcceptStream(ctx context.Context) (transport.Stream, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (f *fakeConn) AcceptUniStream(ctx context.Context) (transport.ReceiveStream, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (f *fakeConn) SendDatagram([]byte) error { return nil }
func (f *fakeConn) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (f *fakeConn) CloseWithError(code transport.ErrorCode, msg string) error {
	f.closed = code
	f.cancel(&transport.ApplicationError{ErrorCode: code, Message: msg})
	return nil
}
func (f *fakeConn) Context() context.Context { return f.ctx }
func (f *fakeConn) State() transport.ConnectionState {
	return transport.ConnectionState{Datagrams: true}
}

// fakeStream reads from r and discards writes.
type fakeStream struct{ r io.Reader }

func (s *fakeStream) Read(p []byte) (int, error)       { return s.r.Read(p) }
func (s *fakeStream) Write(p []byte) (int, error)      { return len(p), nil }
func (s *fakeStream) StreamID() transport.StreamID     { return 0 }
func (s *fakeStream) Close() error                     { return nil }
func (s *fakeStream) CloseWrite() error                { return nil }
func (s *fakeStream) CancelRead(transport.ErrorCode)   {}
func (s *fakeStream) CancelWrite(transport.ErrorCode)  {}
func (s *fakeStream) SetReadDeadline(time.Time) error  { return nil }
func (s *fakeStream) SetWriteDeadline(time.Time) error { return nil }
func (s *fakeStream) SetDeadline(time.Time) error      { return nil }
func (s *fakeStream) Context() context.Context         { return context.Background() }

func fuzzServerConn() (*serverConn, *fakeConn) {
	fc := newFakeConn()
	sc := &serverConn{srv: &Server{}, sched: newScheduler(), prio: map[uint64]Priority{}, streams: map[uint64]*schedStream{}}
	sc.Conn = newConn(fc, true, &Config{EnableDatagrams: true})
	sc.onControlFrame = sc.controlFrame
	sc.ctrl, sc.encStr, sc.decStr = &fakeStream{}, &fakeStream{}, &fakeStream{}
	return sc, fc
}

// fuzzClientConn is a client connection with push enabled (MAX_PUSH_ID 3).
func fuzzClientConn() (*ClientConn, *fakeConn) {
	fc := newFakeConn()
	cc := &ClientConn{active: map[uint64]func(error){}}
	cc.Conn = newConn(fc, false, &Config{})
	cc.onControlFrame = cc.controlFrame
	cc.ctrl, cc.encStr, cc.decStr = &fakeStream{}, &fakeStream{}, &fakeStream{}
	cc.push = clientPushState{window: 4, maxID: 3, byID: map[uint64]*Push{}}
	return cc, fc
}

func frameBytes(typ uint64, payload []byte) []byte {
	return appendFrame(nil, typ, payload)
}

// FuzzFrameParser feeds arbitrary bytes as a control stream and as a
// request stream's body. Parsing must never panic; every failure must be
// an HTTP/3 error with a code, and malformed control streams must close
// the connection.
func FuzzFrameParser(f *testing.F) {
	settings := frameBytes(FrameSettings, []byte{0x01, 0x40, 0x64, 0x07, 0x10, 0x33, 0x01})
	f.Add(settings)
	f.Add(append(append([]byte{}, settings...), frameBytes(FrameGoAway, []byte{0x08})...))
	f.Add(append(append([]byte{}, settings...), frameBytes(FramePriorityUpdate, append([]byte{0x04}, "u=1, i"...))...))
	f.Add(append(frameBytes(FrameData, []byte("hello")), frameBytes(0x21, []byte("grease"))...))
	sec, _ := qpack.NewEncoder().EncodeFieldSection(0, []qpack.HeaderField{{Name: "x-trailer", Value: "v"}})
	f.Add(append(frameBytes(FrameData, []byte("body")), frameBytes(FrameHeaders, sec)...))
	f.Add([]byte{0x00, 0x80})
	promise, _ := qpack.NewEncoder().EncodeFieldSection(0, []qpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "example.com"}, {Name: ":path", Value: "/style.css"}})
	f.Add(append(frameBytes(FramePushPromise, append([]byte{0x00}, promise...)), frameBytes(FrameData, []byte("body"))...))
	f.Add(append(frameBytes(FramePushPromise, append([]byte{0x01}, promise...)), frameBytes(FramePushPromise, append([]byte{0x01}, promise...))...))
	f.Add(frameBytes(FramePushPromise, append([]byte{0x09}, promise...)))
	f.Add(frameBytes(FramePushPromise, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		// parseSettings alone.
		parseSettings(data)

		// As a control stream: it ends, so the connection must close.
		sc, fc := fuzzServerConn()
		err := sc.readControlStream(newFrameReader(bytes.NewReader(data)))
		if err == nil {
			t.Fatal("control stream parser returned without error")
		}
		if _, ok := err.(*connError); !ok {
			t.Fatalf("control stream error without a connection error code: %v", err)
		}
		sc.fail(err)
		if fc.closed == 0 {
			t.Fatal("connection not closed after a control stream error")
		}

		// As a request body (after HEADERS), with trailers allowed.
		// A trailer section that references dynamic table entries never
		// sent would block: the context is already canceled.
		sc, _ = fuzzServerConn()
		str := &fakeStream{r: bytes.NewReader(data)}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		body := newBodyReader(sc.Conn, str, newFrameReader(str), ctx, -1)
		body.onTrailers = func(f []qpack.HeaderField) error {
			_, err := trailerFields(f)
			return err
		}
		_, err = io.Copy(io.Discard, body)
		if err != nil && !errors.Is(err, context.Canceled) {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("body error is not an *Error: %T %v", err, err)
			}
		}

		// As a response body on a client that allows pushes: PUSH_PROMISE
		// frames are parsed and validated.
		cc, _ := fuzzClientConn()
		str = &fakeStream{r: bytes.NewReader(data)}
		body = newBodyReader(cc.Conn, str, newFrameReader(str), ctx, -1)
		parent := &http.Request{Method: http.MethodGet, Host: "example.com"}
		body.onPushPromise = func(p []byte) error { return cc.handlePushPromise(ctx, 0, parent, p) }
		body.onTrailers = func(f []qpack.HeaderField) error {
			_, err := trailerFields(f)
			return err
		}
		_, err = io.Copy(io.Discard, body)
		if err != nil && !errors.Is(err, context.Canceled) {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("client body error is not an *Error: %T %v", err, err)
			}
		}

		// As a push stream (after its type): push ID, then a response.
		cc, _ = fuzzClientConn()
		cc.handlePushStream(&fakeStream{r: bytes.NewReader(data)})
		for _, p := range cc.push.byID {
			if p.str == nil {
				continue
			}
			p.promised, p.usable = true, true
			p.Request = parent
			if resp, err := p.response(ctx, parent); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})
}

func TestSettingsRoundTrip(t *testing.T) {
	s := map[uint64]uint64{SettingQPACKMaxTableCapacity: 4096, SettingH3Datagram: 1, 0x2b603742: 1}
	b := appendSettings(nil, s, []uint64{SettingQPACKMaxTableCapacity, SettingH3Datagram, 0x2b603742})
	fr := newFrameReader(bytes.NewReader(b))
	typ, l, err := fr.header()
	if err != nil || typ != FrameSettings {
		t.Fatal(typ, err)
	}
	p, _ := fr.payload(typ, l, 100)
	got, err := parseSettings(p)
	if err != nil || len(got) != 3 || got[0x2b603742] != 1 || got[SettingQPACKMaxTableCapacity] != 4096 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := parseSettings([]byte{0x33, 0x02}); err == nil {
		t.Fatal("H3_DATAGRAM=2 accepted")
	}
	if _, err := parseSettings(capsule.AppendVarint(nil, 0x06)); err == nil {
		t.Fatal("truncated setting accepted")
	}
}
