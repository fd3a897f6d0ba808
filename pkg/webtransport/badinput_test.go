package webtransport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

func TestWebTransportLimitsAndBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	es := newEchoServer()
	wt := &Server{MaxSessions: 3, MaxBufferedStreams: 2, FlowControl: FlowControl{MaxStreams: 2, MaxData: 16 << 10}}
	addr, clientTLS := startOurServer(t, wt, es)
	d := ourDialer(t, clientTLS)
	url := "https://" + addr + "/wt"
	dial := func() *Session {
		t.Helper()
		_, s, err := d.Dial(ctx, url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		return s
	}
	bystander := dial()
	check := func(what string) {
		t.Helper()
		if err := exchange(ctx, ourSession{bystander}, what); err != nil {
			t.Fatalf("bystander session after %s: %v", what, err)
		}
	}
	check("start")

	t.Run("SessionFlowControl", func(t *testing.T) {
		s := dial()
		defer s.CloseWithError(0, "")
		// 1 MB through a 16 KB session window: WT_MAX_DATA keeps it going.
		str, err := s.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		go func() { str.Write(big); str.Close() }()
		got, err := io.ReadAll(str)
		if err != nil || !bytes.Equal(got, append([]byte("echo:"), big...)) {
			t.Fatalf("1 MB echo: %d bytes, %v", len(got), err)
		}
		// Two open streams use up the server's WT_MAX_STREAMS (2, plus the
		// one above, released once finished): the next open waits.
		var open []*Stream
		for len(open) < 2 {
			st, err := s.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, st)
		}
		short, c := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err = s.OpenStream(short)
		c()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("open beyond WT_MAX_STREAMS: %v", err)
		}
		open[0].Write([]byte("done"))
		open[0].Close()
		if got, err := io.ReadAll(open[0]); err != nil || string(got) != "echo:done" {
			t.Fatalf("echo %q %v", got, err)
		}
		if _, err := s.OpenStream(ctx); err != nil {
			t.Fatalf("open after credit: %v", err)
		}
	})
	check("flow control")

	t.Run("TooManySessions", func(t *testing.T) {
		a, b := dial(), dial()
		rsp, s, err := d.Dial(ctx, url, nil)
		if err == nil || s != nil || rsp == nil || rsp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("fourth session: %v %v", rsp, err)
		}
		a.CloseWithError(1, "")
		b.CloseWithError(2, "")
		<-a.Context().Done()
		<-b.Context().Done()
	})
	check("too many sessions")

	t.Run("MalformedCapsule", func(t *testing.T) {
		s := dial()
		// WT_CLOSE_SESSION with a 2-byte value.
		s.req.Write(capsule.Append(nil, CapsuleCloseSession, []byte{0, 1}))
		select {
		case ci := <-es.endedChan(s.ID()):
			if ci.err == nil || errors.As(ci.err, new(*SessionError)) {
				t.Fatalf("server ended the session with %v", ci.err)
			}
		case <-ctx.Done():
			t.Fatal("server kept the session")
		}
		<-s.Context().Done()
	})
	check("malformed capsule")

	t.Run("StreamsBeyondLimit", func(t *testing.T) {
		s := dial()
		tc := s.cs.conn.Transport()
		// Raw streams naming the session, never finished: the third
		// exceeds WT_MAX_STREAMS (2) and the server aborts the session.
		for i := 0; i < 3; i++ {
			str, err := tc.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			str.Write(AppendStreamHeader(nil, StreamHeader{SessionID: s.ID()}))
		}
		select {
		case <-s.Context().Done():
		case <-ctx.Done():
			t.Fatal("session survived too many streams")
		}
		var he *h3.Error
		if err := context.Cause(s.Context()); !errors.As(err, &he) || uint64(he.Code) != ErrCodeFlowControl || !he.Remote {
			t.Fatalf("session ended with %v, want WT_FLOW_CONTROL_ERROR", err)
		}
	})
	check("too many streams")

	t.Run("StreamsForUnknownSession", func(t *testing.T) {
		tc := bystander.cs.conn.Transport()
		var strs []transport.Stream
		for i := 0; i < 3; i++ {
			str, err := tc.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			str.Write(AppendStreamHeader(nil, StreamHeader{SessionID: 4000}))
			strs = append(strs, str)
		}
		// Two are buffered, one (whichever the server saw last) is
		// rejected at once; the buffered ones stay open.
		results := make(chan error, 3)
		for _, str := range strs {
			go func() {
				str.SetReadDeadline(time.Now().Add(2 * time.Second))
				_, err := str.Read(make([]byte, 1))
				results <- err
			}()
		}
		var se *transport.StreamError
		rejected, waiting := 0, 0
		for range strs {
			err := <-results
			switch {
			case errors.As(err, &se) && uint64(se.ErrorCode) == ErrCodeBufferedStreamRejected:
				rejected++
			case errors.Is(err, os.ErrDeadlineExceeded):
				waiting++
			default:
				t.Errorf("buffered stream: %v", err)
			}
		}
		if rejected != 1 || waiting != 2 {
			t.Fatalf("rejected %d, still buffered %d; want 1 and 2", rejected, waiting)
		}
		// A stream for a session that already ended is refused as gone.
		str4, _ := tc.OpenStream(ctx)
		gone := dial()
		gone.CloseWithError(0, "")
		<-gone.Context().Done()
		// The server learns of the close before our next stream arrives:
		// wait for its end to be reported.
		select {
		case <-es.endedChan(gone.ID()):
		case <-ctx.Done():
			t.Fatal("server did not end the session")
		}
		str4.Write(AppendStreamHeader(nil, StreamHeader{SessionID: gone.ID()}))
		str4.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := str4.Read(make([]byte, 1))
		if !errors.As(err, &se) || uint64(se.ErrorCode) != ErrCodeSessionGone {
			t.Fatalf("stream for an ended session: %v", err)
		}
	})
	check("unknown sessions")

	t.Run("OversizedDatagram", func(t *testing.T) {
		err := bystander.SendDatagram(make([]byte, 5000))
		var tl *transport.DatagramTooLargeError
		if !errors.As(err, &tl) {
			t.Fatalf("oversized datagram: %v", err)
		}
	})
	check("oversized datagram")

	t.Run("Drain", func(t *testing.T) {
		s := dial()
		if err := s.Drain(); err != nil {
			t.Fatal(err)
		}
		s.CloseWithError(0, "")
	})
	check("end")
}

func TestUpgradeRefusals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	es := newEchoServer()
	wt := &Server{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") != "https://evil.example" }}
	addr, clientTLS := startOurServer(t, wt, es)
	d := ourDialer(t, clientTLS)
	rsp, _, err := d.Dial(ctx, "https://"+addr+"/wt", http.Header{"Origin": {"https://evil.example"}})
	if err == nil || rsp.StatusCode != http.StatusForbidden {
		t.Fatalf("bad origin: %v %v", rsp, err)
	}
	rsp, s, err := d.Dial(ctx, "https://"+addr+"/wt", http.Header{headerDraft02Request: {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	// Chromium's draft-02 header is answered.
	if rsp.Header.Get(headerDraft02Response) != draft02Value {
		t.Errorf("draft-02 response header: %v", rsp.Header)
	}
	s.CloseWithError(0, "")
}
