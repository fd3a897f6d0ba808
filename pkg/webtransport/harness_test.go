package webtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	wtgo "github.com/quic-go/webtransport-go"
)

// tStream, tSession: one face for our sessions and webtransport-go's, so
// that the same client script and server behaviour run on either side.
type tStream interface {
	io.ReadWriteCloser
	CancelWrite(code uint32)
}

type tSession interface {
	OpenStream(ctx context.Context) (tStream, error)
	OpenUniStream(ctx context.Context) (io.WriteCloser, error)
	AcceptStream(ctx context.Context) (tStream, error)
	AcceptUniStream(ctx context.Context) (io.Reader, error)
	SendDatagram(p []byte) error
	ReceiveDatagram(ctx context.Context) ([]byte, error)
	CloseWithError(code uint32, msg string) error
	Context() context.Context
	// CloseCause returns why the session ended (after Context is done).
	CloseCause() error
}

// closeInfo describes how a session ended.
type closeInfo struct {
	code   uint32
	msg    string
	remote bool
	err    error
}

func closeInfoOf(cause error) closeInfo {
	var ours *SessionError
	if errors.As(cause, &ours) {
		return closeInfo{code: uint32(ours.ErrorCode), msg: ours.Message, remote: ours.Remote, err: cause}
	}
	var theirs *wtgo.SessionError
	if errors.As(cause, &theirs) {
		return closeInfo{code: uint32(theirs.ErrorCode), msg: theirs.Message, remote: theirs.Remote, err: cause}
	}
	return closeInfo{err: cause}
}

// streamResetCode extracts the application code of a stream reset.
func streamResetCode(err error) (uint32, bool) {
	var ours *StreamError
	if errors.As(err, &ours) {
		return uint32(ours.ErrorCode), true
	}
	var theirs *wtgo.StreamError
	if errors.As(err, &theirs) {
		return uint32(theirs.ErrorCode), true
	}
	return 0, false
}

type ourSession struct{ s *Session }

type ourStream struct{ *Stream }

func (s ourStream) CancelWrite(code uint32) { s.Stream.CancelWrite(StreamErrorCode(code)) }
func (s ourStream) Close() error            { return s.Stream.Close() }
func (s ourStream) Read(p []byte) (int, error) {
	return s.Stream.Read(p)
}
func (s ourStream) Write(p []byte) (int, error) { return s.Stream.Write(p) }

func (o ourSession) OpenStream(ctx context.Context) (tStream, error) {
	s, err := o.s.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	return ourStream{s}, nil
}
func (o ourSession) OpenUniStream(ctx context.Context) (io.WriteCloser, error) {
	return o.s.OpenUniStream(ctx)
}
func (o ourSession) AcceptStream(ctx context.Context) (tStream, error) {
	s, err := o.s.AcceptStream(ctx)
	if err != nil {
		return nil, err
	}
	return ourStream{s}, nil
}
func (o ourSession) AcceptUniStream(ctx context.Context) (io.Reader, error) {
	return o.s.AcceptUniStream(ctx)
}
func (o ourSession) SendDatagram(p []byte) error { return o.s.SendDatagram(p) }
func (o ourSession) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	return o.s.ReceiveDatagram(ctx)
}
func (o ourSession) CloseWithError(code uint32, msg string) error {
	return o.s.CloseWithError(SessionErrorCode(code), msg)
}
func (o ourSession) Context() context.Context { return o.s.Context() }
func (o ourSession) CloseCause() error        { return context.Cause(o.s.Context()) }

type goSession struct{ s *wtgo.Session }

type goStream struct{ *wtgo.Stream }

func (s goStream) CancelWrite(code uint32) { s.Stream.CancelWrite(wtgo.StreamErrorCode(code)) }

func (g goSession) OpenStream(ctx context.Context) (tStream, error) {
	s, err := g.s.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	return goStream{s}, nil
}
func (g goSession) OpenUniStream(ctx context.Context) (io.WriteCloser, error) {
	return g.s.OpenUniStreamSync(ctx)
}
func (g goSession) AcceptStream(ctx context.Context) (tStream, error) {
	s, err := g.s.AcceptStream(ctx)
	if err != nil {
		return nil, err
	}
	return goStream{s}, nil
}
func (g goSession) AcceptUniStream(ctx context.Context) (io.Reader, error) {
	return g.s.AcceptUniStream(ctx)
}
func (g goSession) SendDatagram(p []byte) error { return g.s.SendDatagram(p) }
func (g goSession) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	return g.s.ReceiveDatagram(ctx)
}
func (g goSession) CloseWithError(code uint32, msg string) error {
	return g.s.CloseWithError(wtgo.SessionErrorCode(code), msg)
}
func (g goSession) Context() context.Context { return g.s.Context() }

// CloseCause: webtransport-go reports the close reason from its accept
// calls once the session is over.
func (g goSession) CloseCause() error {
	_, err := g.s.AcceptUniStream(context.Background())
	return err
}

// echoServer is the server side of the interop scenario:
//   - bidirectional streams are answered with "echo:" + the data, or reset
//     with code 77 when the data is "reset-me";
//   - unidirectional streams are answered on a new unidirectional stream
//     with "uni:" + the data;
//   - datagrams are echoed with a "dg:" prefix; "close-me" makes the server
//     close the session with code 7 "server bye";
//   - the server opens one bidirectional stream itself, sends
//     "ping-from-server" and expects "pong".
//
// It reports how each session ended on ended and any failure on errs.
type echoServer struct {
	mu    sync.Mutex
	byID  map[uint64]chan closeInfo // our sessions' ends, by session ID
	ended chan closeInfo
	errs  chan error
	pongs chan string
}

func newEchoServer() *echoServer {
	return &echoServer{ended: make(chan closeInfo, 64), errs: make(chan error, 64), pongs: make(chan string, 64)}
}

func (e *echoServer) fail(format string, args ...any) {
	select {
	case e.errs <- fmt.Errorf(format, args...):
	default:
	}
}

// endedChan returns the channel on which the end of our session id is
// reported.
func (e *echoServer) endedChan(id uint64) chan closeInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byID == nil {
		e.byID = map[uint64]chan closeInfo{}
	}
	ch, ok := e.byID[id]
	if !ok {
		ch = make(chan closeInfo, 1)
		e.byID[id] = ch
	}
	return ch
}

func (e *echoServer) serve(sess tSession) {
	ctx := sess.Context()
	go func() {
		<-ctx.Done()
		ci := closeInfoOf(sess.CloseCause())
		if o, ok := sess.(ourSession); ok {
			e.endedChan(o.s.ID()) <- ci
		}
		e.ended <- ci
	}()
	go func() {
		for {
			str, err := sess.AcceptStream(ctx)
			if err != nil {
				return
			}
			go func() {
				data, err := io.ReadAll(str)
				if err != nil {
					e.fail("server: read bidi stream: %v", err)
					return
				}
				if string(data) == "reset-me" {
					str.CancelWrite(77)
					return
				}
				if _, err := str.Write(append([]byte("echo:"), data...)); err != nil {
					e.fail("server: write bidi stream: %v", err)
				}
				str.Close()
			}()
		}
	}()
	go func() {
		for {
			str, err := sess.AcceptUniStream(ctx)
			if err != nil {
				return
			}
			go func() {
				data, err := io.ReadAll(str)
				if err != nil {
					e.fail("server: read uni stream: %v", err)
					return
				}
				out, err := sess.OpenUniStream(ctx)
				if err != nil {
					e.fail("server: open uni stream: %v", err)
					return
				}
				out.Write(append([]byte("uni:"), data...))
				out.Close()
			}()
		}
	}()
	go func() {
		for {
			d, err := sess.ReceiveDatagram(ctx)
			if err != nil {
				return
			}
			if string(d) == "close-me" {
				sess.CloseWithError(7, "server bye")
				return
			}
			sess.SendDatagram(append([]byte("dg:"), d...))
		}
	}()
	go func() {
		str, err := sess.OpenStream(ctx)
		if err != nil {
			e.fail("server: open stream: %v", err)
			return
		}
		if _, err := str.Write([]byte("ping-from-server")); err != nil {
			e.fail("server: write ping: %v", err)
			return
		}
		str.Close()
		reply, err := io.ReadAll(str)
		if err != nil {
			if ctx.Err() == nil {
				e.fail("server: read pong: %v", err)
			}
			return
		}
		e.pongs <- string(reply)
	}()
}

// exchange runs the basic client steps: a bidirectional echo, a
// unidirectional echo and a datagram echo, tagged so that concurrent
// sessions check their own data.
func exchange(ctx context.Context, sess tSession, tag string) error {
	str, err := sess.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	msg := "hello " + tag + " " + strings.Repeat("x", 3000)
	if _, err := str.Write([]byte(msg)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	str.Close()
	got, err := io.ReadAll(str)
	if err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	if string(got) != "echo:"+msg {
		return fmt.Errorf("bidi echo: got %.40q", got)
	}

	u, err := sess.OpenUniStream(ctx)
	if err != nil {
		return fmt.Errorf("open uni stream: %w", err)
	}
	if _, err := u.Write([]byte("uni-" + tag)); err != nil {
		return fmt.Errorf("write uni: %w", err)
	}
	u.Close()
	in, err := sess.AcceptUniStream(ctx)
	if err != nil {
		return fmt.Errorf("accept uni: %w", err)
	}
	got, err = io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read uni: %w", err)
	}
	if string(got) != "uni:uni-"+tag {
		return fmt.Errorf("uni echo: got %q", got)
	}

	// Datagrams may be lost: resend until the echo arrives.
	want := "dg:d-" + tag
	for {
		if err := sess.SendDatagram([]byte("d-" + tag)); err != nil {
			return fmt.Errorf("send datagram: %w", err)
		}
		rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		d, err := sess.ReceiveDatagram(rctx)
		cancel()
		if err == nil {
			if string(d) != want {
				return fmt.Errorf("datagram echo: got %q want %q", d, want)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("datagram echo: %w", ctx.Err())
		}
	}
}

// clientScript is the full single-session scenario run by a client.
func clientScript(t *testing.T, ctx context.Context, sess tSession, srv *echoServer) {
	t.Helper()
	if err := exchange(ctx, sess, "one"); err != nil {
		t.Fatal(err)
	}
	// The server's own stream.
	str, err := sess.AcceptStream(ctx)
	if err != nil {
		t.Fatalf("accept server stream: %v", err)
	}
	ping, err := io.ReadAll(str)
	if err != nil || string(ping) != "ping-from-server" {
		t.Fatalf("server stream: %q, %v", ping, err)
	}
	str.Write([]byte("pong"))
	str.Close()
	select {
	case p := <-srv.pongs:
		if p != "pong" {
			t.Fatalf("server got %q", p)
		}
	case err := <-srv.errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("server did not get pong")
	}
	// A stream reset with an application code.
	rs, err := sess.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs.Write([]byte("reset-me"))
	rs.Close()
	_, err = io.ReadAll(rs)
	// WebTransport codes are mapped above 2^32 (0x52e4a40fa8db + ...):
	// over the kernel they take TQUIC's 62-bit stream error options.
	if code, ok := streamResetCode(err); !ok || code != 77 {
		t.Fatalf("reset stream: err %v, want code 77", err)
	}
	// Close with an application code.
	if err := sess.CloseWithError(42, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case ci := <-srv.ended:
		if ci.code != 42 || ci.msg != "bye" || !ci.remote {
			t.Fatalf("server saw close %+v, want remote 42 bye", ci)
		}
	case err := <-srv.errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("server did not see the session close")
	}
}

// serverCloseScript asks the server to close the session and checks the
// client sees code 7.
func serverCloseScript(t *testing.T, ctx context.Context, sess tSession) {
	t.Helper()
	for sess.Context().Err() == nil {
		if err := sess.SendDatagram([]byte("close-me")); err != nil {
			break
		}
		select {
		case <-sess.Context().Done():
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("session not closed by server")
		}
	}
	ci := closeInfoOf(sess.CloseCause())
	if ci.code != 7 || ci.msg != "server bye" || !ci.remote {
		t.Fatalf("client saw close %+v, want remote 7 server bye", ci)
	}
}

// manySessions opens n sessions with open and runs exchange on each
// concurrently.
func manySessions(t *testing.T, ctx context.Context, n int, open func(i int) (tSession, error)) []tSession {
	t.Helper()
	sessions := make([]tSession, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		s, err := open(i)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		sessions[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := exchange(ctx, s, fmt.Sprint("s", i)); err != nil {
				errs <- fmt.Errorf("session %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return sessions
}
