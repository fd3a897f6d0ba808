package sockapi

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/pkg/uapi"
)

// Encoded transport parameters the fake kernel hands to TLS: with and
// without max_datagram_frame_size.
var (
	tpWithDatagrams = []byte{0x04, 0x04, 0x80, 0x10, 0x00, 0x00, 0x20, 0x04, 0x80, 0x00, 0xff, 0xff}
	tpPlain         = []byte{0x04, 0x04, 0x80, 0x10, 0x00, 0x00}
)

func tpFor(cfg *Config) []byte {
	if cfg.EnableDatagrams {
		return tpWithDatagrams
	}
	return tpPlain
}

// handshakePair runs a client and a server Conn through the handshake over
// the fake kernel.
func handshakePair(t *testing.T, ccfg, scfg *Config, ctls, stls *tls.Config) (client, server *Conn, cf, sf *fakeSock, cerr, serr error) {
	t.Helper()
	cf, sf = fakePair()
	cf.tpExt, sf.tpExt = tpFor(ccfg), tpFor(scfg)
	client, server = newConn(cf, false, ccfg), newConn(sf, true, scfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	run := func(c *Conn, conf *tls.Config, errp *error) {
		defer wg.Done()
		if err := c.startHandshake(ctx, conf); err != nil {
			*errp = err
			return
		}
		*errp = c.awaitHandshake(ctx, 5*time.Second)
	}
	wg.Add(2)
	go run(server, stls, &serr)
	go run(client, ctls, &cerr)
	wg.Wait()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server, cf, sf, cerr, serr
}

func connectedPair(t *testing.T, ccfg, scfg *Config) (client, server *Conn, cf, sf *fakeSock) {
	t.Helper()
	client, server, cf, sf, cerr, serr := handshakePair(t, ccfg, scfg, testClientTLS(t), testServerTLS(t))
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return client, server, cf, sf
}

// rawConn is a Conn on a lone fake socket, past the handshake, whose
// messages the test pushes itself.
func rawConn(t *testing.T, isServer bool, cfg *Config) (*Conn, *fakeSock) {
	t.Helper()
	f := newFakeSock(isServer)
	f.peer = newFakeSock(!isServer) // collects what the Conn sends
	c := newConn(f, isServer, cfg)
	c.handshaken = true
	go c.readLoop()
	t.Cleanup(func() { _ = c.Close() })
	return c, f
}

func secretCalls(f *fakeSock) []string {
	var out []string
	for _, l := range f.calls() {
		if strings.HasPrefix(l, "secret ") {
			out = append(out, l)
		}
	}
	return out
}

func TestHandshake(t *testing.T) {
	for _, side := range []string{"client", "server"} {
		t.Run(side, func(t *testing.T) {
			client, server, cf, sf := connectedPair(t, &Config{}, &Config{})
			c, f := client, cf
			if side == "server" {
				c, f = server, sf
			}
			st := c.State()
			if st.ALPN != "test" || st.Version != Version1 || !st.TLS.HandshakeComplete || st.Datagrams {
				t.Errorf("state %+v", st)
			}
			secrets := secretCalls(f)
			for _, s := range secrets {
				if strings.Contains(s, "level=1 ") || strings.Contains(s, "level=3 ") {
					t.Errorf("installed an Initial or 0-RTT secret: %s", s)
				}
			}
			// Handshake keys both ways, then the Application keys last,
			// read before write, so ESTABLISHED comes after TLS finished.
			want := []string{"secret level=0 send=0 type=51", "secret level=0 send=1 type=51"}
			if n := len(secrets); n != 4 || secrets[n-2] != want[0] || secrets[n-1] != want[1] ||
				!contains(secrets[:2], "secret level=2 send=0 type=51") || !contains(secrets[:2], "secret level=2 send=1 type=51") {
				t.Errorf("secrets installed: %q", secrets)
			}
			if !contains(f.calls(), "peer transport parameters") {
				t.Error("the peer's transport parameters never reached the kernel")
			}
			calls := f.calls()
			appWrite := index(calls, want[1])
			if side == "client" {
				// The client's Finished leaves before ESTABLISHED.
				if last := lastIndex(calls, "crypto level=2"); last < 0 || last > appWrite {
					t.Errorf("client Finished not sent before the Application keys: %q", calls)
				}
			} else {
				// The session ticket travels in 1-RTT packets.
				waitFor(t, "the session ticket", func() bool { return index(f.calls(), "crypto level=0") >= 0 })
				if index(f.calls(), "crypto level=0") < appWrite {
					t.Errorf("session ticket sent before the Application keys: %q", f.calls())
				}
			}
		})
	}
}

func index(list []string, s string) int {
	for i, l := range list {
		if l == s {
			return i
		}
	}
	return -1
}

func lastIndex(list []string, s string) int {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i] == s {
			return i
		}
	}
	return -1
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

type recordingCache struct {
	mu   sync.Mutex
	puts int
}

func (r *recordingCache) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (r *recordingCache) Put(string, *tls.ClientSessionState) {
	r.mu.Lock()
	r.puts++
	r.mu.Unlock()
}

// The server's session ticket arrives after the handshake as CRYPTO data
// at the Application level; the client's reader must hand it to TLS.
func TestSessionTicketAfterHandshake(t *testing.T) {
	cache := &recordingCache{}
	ctls := testClientTLS(t)
	ctls.ClientSessionCache = cache
	_, _, _, _, cerr, serr := handshakePair(t, &Config{}, &Config{}, ctls, testServerTLS(t))
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cache.mu.Lock()
		n := cache.puts
		cache.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the session ticket never reached the client's session cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHandshakeFailureSendsAlert(t *testing.T) {
	ctls := testClientTLS(t)
	ctls.RootCAs = nil // the test certificate is not trusted
	_, server, cf, _, cerr, serr := handshakePair(t, &Config{}, &Config{}, ctls, testServerTLS(t))
	if cerr == nil {
		t.Fatal("the client accepted an untrusted certificate")
	}
	var te *transport.TransportError
	if !errors.As(cerr, &te) || te.Code < 0x100 || te.Code > 0x1ff {
		t.Errorf("client error %v, want a TransportError with a CRYPTO_ERROR code", cerr)
	}
	closed := ""
	for _, l := range cf.calls() {
		if strings.HasPrefix(l, "close ") {
			closed = l
		}
	}
	if !strings.HasPrefix(closed, "close 0x1") || len(closed) < len("close 0x1xx") {
		t.Errorf("client close reason %q, want CRYPTO_ERROR 0x1xx", closed)
	}
	if serr == nil {
		t.Error("the server's handshake succeeded against a client that gave up")
	}
	if len(secretCalls(cf)) > 2 {
		t.Errorf("the failed client installed Application keys: %q", secretCalls(cf))
	}
	if server.err() == nil {
		t.Error("the server connection is still open")
	}
}

func TestStreams(t *testing.T) {
	client, server, _, _ := connectedPair(t, &Config{}, &Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	cs, err := client.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cs.StreamID() != 0 {
		t.Errorf("first client stream has ID %d", cs.StreamID())
	}
	if _, err := cs.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	ss, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(ss, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("server read %q, %v", buf, err)
	}
	if _, err := ss.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if err := ss.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(cs); err != nil || string(got) != "world" {
		t.Fatalf("client read %q, %v", got, err)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := ss.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("server read after the client's FIN: %d, %v", n, err)
	}
	if _, err := cs.Write([]byte("x")); err == nil {
		t.Error("write after Close succeeded")
	}
	// Both halves done: neither end keeps the stream.
	for _, c := range []*Conn{client, server} {
		c.mu.Lock()
		n := len(c.streams)
		c.mu.Unlock()
		if n != 0 {
			t.Errorf("%d streams still registered", n)
		}
	}

	us, err := client.OpenUniStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if us.StreamID() != 2 {
		t.Errorf("first client uni stream has ID %d", us.StreamID())
	}
	if _, err := us.Write([]byte("one way")); err != nil {
		t.Fatal(err)
	}
	_ = us.Close()
	rs, err := server.AcceptUniStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(rs); err != nil || string(got) != "one way" {
		t.Fatalf("uni stream read %q, %v", got, err)
	}
	if _, err := rs.(*Stream).Write([]byte("x")); err == nil {
		t.Error("write on a receive-only stream succeeded")
	}

	// A server-initiated stream.
	sb, err := server.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sb.StreamID() != 1 {
		t.Errorf("first server stream has ID %d", sb.StreamID())
	}
	_, _ = sb.Write([]byte("s"))
	cb, err := client.AcceptStream(ctx)
	if err != nil || cb.StreamID() != 1 {
		t.Fatalf("client accepted %v, %v", cb, err)
	}
}

// Many streams at once on one socket: every byte lands on its own stream.
func TestStreamsInterleaved(t *testing.T) {
	client, server, _, _ := connectedPair(t, &Config{}, &Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const streams, chunks = 20, 50
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := client.OpenStream(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			tag := byte('a' + i)
			for j := 0; j < chunks; j++ {
				if _, err := s.Write([]byte{tag, tag, tag}); err != nil {
					t.Error(err)
					return
				}
			}
			_ = s.Close()
		}()
	}
	seen := map[byte]bool{}
	for i := 0; i < streams; i++ {
		s, err := server.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(s)
		if err != nil || len(got) != 3*chunks {
			t.Fatalf("stream %d: %d bytes, %v", s.StreamID(), len(got), err)
		}
		for _, b := range got {
			if b != got[0] {
				t.Fatalf("stream %d mixes %q and %q", s.StreamID(), got[0], b)
			}
		}
		if seen[got[0]] {
			t.Fatalf("two streams carried %q", got[0])
		}
		seen[got[0]] = true
	}
	wg.Wait()
}

func TestPeerStreamsAcceptedInOrder(t *testing.T) {
	server, f := rawConn(t, true, &Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Stream 8 arrives first: 0 and 4 are open too (RFC 9000 section 3.2).
	f.push(fakeMsg{data: []byte("eight"), oob: streamCmsg(8, 0)})
	f.push(fakeMsg{data: []byte("zero"), oob: streamCmsg(0, uapi.MSG_QUIC_STREAM_FIN)})
	f.push(fakeMsg{data: []byte("uni"), oob: streamCmsg(2, uapi.MSG_QUIC_STREAM_FIN)})
	for _, want := range []int64{0, 4, 8} {
		s, err := server.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int64(s.StreamID()) != want {
			t.Fatalf("accepted stream %d, want %d", s.StreamID(), want)
		}
		if want == 0 {
			if got, err := io.ReadAll(s); err != nil || string(got) != "zero" {
				t.Fatalf("stream 0 read %q, %v", got, err)
			}
			_ = s.Close()
		}
		if want == 8 {
			buf := make([]byte, 5)
			if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "eight" {
				t.Fatalf("stream 8 read %q, %v", buf, err)
			}
		}
	}
	us, err := server.AcceptUniStream(ctx)
	if err != nil || us.StreamID() != 2 {
		t.Fatalf("accepted uni %v, %v", us, err)
	}
	// Stream 0 is finished both ways and forgotten: late bytes for it must
	// not come back as a new stream, nor a client ID we never opened.
	f.push(fakeMsg{data: []byte("late"), oob: streamCmsg(0, 0)})
	f.push(fakeMsg{data: []byte("ours?"), oob: streamCmsg(1, 0)})
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if s, err := server.AcceptStream(short); err == nil {
		t.Fatalf("accepted stream %d from late data", s.StreamID())
	}
	if server.err() != nil {
		t.Fatalf("connection failed: %v", server.err())
	}
}

func TestResetAndStopSending(t *testing.T) {
	client, server, _, _ := connectedPair(t, &Config{}, &Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	cs, _ := client.OpenStream(ctx)
	_, _ = cs.Write([]byte("abc"))
	ss, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs.CancelWrite(0x77)
	var se *transport.StreamError
	_, err = io.ReadAll(ss)
	if !errors.As(err, &se) || !se.Remote || se.ErrorCode != 0x77 || se.StreamID != cs.StreamID() {
		t.Fatalf("server read after the reset: %v", err)
	}
	if _, err := cs.Write([]byte("x")); !errors.As(err, &se) || se.Remote || se.ErrorCode != 0x77 {
		t.Fatalf("client write after CancelWrite: %v", err)
	}
	if cs.Context().Err() == nil {
		t.Error("the send context survived CancelWrite")
	}

	// STOP_SENDING: the client's kernel resets, the client's Write fails.
	cs2, _ := client.OpenStream(ctx)
	_, _ = cs2.Write([]byte("abc"))
	ss2, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ss2.CancelRead(0x55)
	if _, err := ss2.Read(make([]byte, 1)); !errors.As(err, &se) || se.Remote || se.ErrorCode != 0x55 {
		t.Fatalf("server read after CancelRead: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := cs2.Write([]byte("more"))
		if err != nil {
			if !errors.As(err, &se) || !se.Remote || se.ErrorCode != 0x55 {
				t.Fatalf("client write after STOP_SENDING: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes kept succeeding after STOP_SENDING")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDatagrams(t *testing.T) {
	client, server, _, _ := connectedPair(t, &Config{EnableDatagrams: true}, &Config{EnableDatagrams: true})
	if !client.State().Datagrams || !server.State().Datagrams {
		t.Fatal("datagrams not negotiated")
	}
	if err := client.SendDatagram([]byte("dgram")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := server.ReceiveDatagram(ctx)
	if err != nil || string(got) != "dgram" {
		t.Fatalf("received %q, %v", got, err)
	}

	// Only one side offers them: off.
	client, server, _, _ = connectedPair(t, &Config{EnableDatagrams: true}, &Config{})
	if client.State().Datagrams || server.State().Datagrams {
		t.Fatal("datagrams on although the server did not offer them")
	}
	if err := client.SendDatagram([]byte("x")); !errors.Is(err, transport.ErrDatagramsDisabled) {
		t.Errorf("SendDatagram: %v", err)
	}
	if _, err := server.ReceiveDatagram(ctx); !errors.Is(err, transport.ErrDatagramsDisabled) {
		t.Errorf("ReceiveDatagram: %v", err)
	}
}

func TestCloseWithError(t *testing.T) {
	client, server, cf, _ := connectedPair(t, &Config{}, &Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ss, _ := server.OpenStream(ctx)
	if err := client.CloseWithError(0x10c, "bye"); err != nil {
		t.Fatal(err)
	}
	if !contains(cf.calls(), `close 0x10c "bye"`) {
		t.Errorf("close reason not set before close(): %q", cf.calls())
	}
	var ae *transport.ApplicationError
	if _, err := server.AcceptStream(ctx); !errors.As(err, &ae) || !ae.Remote || ae.ErrorCode != 0x10c || ae.Message != "bye" {
		t.Fatalf("server AcceptStream after the peer's close: %v", err)
	}
	if !errors.As(context.Cause(server.Context()), &ae) {
		t.Errorf("server context cause %v", context.Cause(server.Context()))
	}
	if _, err := ss.Write([]byte("x")); !errors.As(err, &ae) {
		t.Errorf("write on the closed server: %v", err)
	}
	if _, err := client.OpenStream(ctx); !errors.As(err, &ae) || ae.Remote {
		t.Errorf("client OpenStream after its own close: %v", err)
	}
	if !transport.IsConnectionError(context.Cause(client.Context())) {
		t.Error("the client's close is not a connection error")
	}
}

func TestConnectionEnd(t *testing.T) {
	t.Run("transport close", func(t *testing.T) {
		c, f := rawConn(t, false, &Config{})
		ci := encodeClose(uapi.QUIC_TRANSPORT_ERROR_PROTOCOL_VIOLATION, "bad frame")
		ci[4] = 0x08 // the STREAM frame that caused it
		f.notify(uapi.QUIC_EVENT_CONNECTION_CLOSE, ci)
		f.push(fakeMsg{})
		<-c.Context().Done()
		var te *transport.TransportError
		if err := c.err(); !errors.As(err, &te) || te.Code != 0x0a {
			t.Errorf("err %v, want a transport error 0xa", err)
		}
	})
	t.Run("EOF without a notification", func(t *testing.T) {
		c, f := rawConn(t, false, &Config{})
		f.push(fakeMsg{})
		<-c.Context().Done()
		var ae *transport.ApplicationError
		if err := c.err(); !errors.As(err, &ae) || !ae.Remote || ae.ErrorCode != 0 {
			t.Errorf("err %v, want the close info read back from the socket", err)
		}
	})
	t.Run("socket error", func(t *testing.T) {
		c, f := rawConn(t, false, &Config{})
		f.push(fakeMsg{err: unix.ETIMEDOUT})
		<-c.Context().Done()
		var te *transport.TransportError
		if err := c.err(); !errors.As(err, &te) || !errors.Is(err, unix.ETIMEDOUT) {
			t.Errorf("err %v, want a transport error wrapping ETIMEDOUT", err)
		}
	})
	t.Run("malformed message", func(t *testing.T) {
		c, f := rawConn(t, false, &Config{})
		f.push(fakeMsg{data: []byte("no cmsg")})
		<-c.Context().Done()
		if err := c.err(); err == nil || !strings.Contains(err.Error(), "without stream info") {
			t.Errorf("err %v", err)
		}
	})
}

func TestReceiveBufferBackpressure(t *testing.T) {
	c, f := rawConn(t, true, &Config{ReceiveBuffer: 8})
	for i := 0; i < 3; i++ {
		f.push(fakeMsg{data: []byte("12345678"), oob: streamCmsg(0, 0)})
	}
	waitFor(t, "the reader to take the first message", func() bool { return len(f.in) == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := len(f.in); n != 2 {
		t.Fatalf("the reader took more than ReceiveBuffer: %d messages left in the kernel", n)
	}
	s, err := c.AcceptStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader to resume", func() bool { return len(f.in) == 1 })
	// CancelRead frees the buffer too.
	s.CancelRead(1)
	waitFor(t, "the reader to resume after CancelRead", func() bool { return len(f.in) == 0 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOpenStreamWaitsForCredit(t *testing.T) {
	c, f := rawConn(t, false, &Config{})
	var mu sync.Mutex
	limited := true
	f.openHook = func() error {
		mu.Lock()
		defer mu.Unlock()
		if limited {
			return unix.EAGAIN
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := c.OpenStream(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("OpenStream at the limit: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.OpenUniStream(context.Background())
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // past the polling backoff cap
	select {
	case err := <-done:
		t.Fatalf("OpenUniStream returned at the limit: %v", err)
	default:
	}
	mu.Lock()
	limited = false
	mu.Unlock()
	start := time.Now()
	var maxStreams [8]byte
	f.notify(uapi.QUIC_EVENT_STREAM_MAX_STREAM, maxStreams[:])
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > maxOpenBackoff/2 {
			t.Errorf("MAX_STREAMS notification took %v to release OpenStream", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenUniStream still waiting after credit arrived")
	}
}

func TestWriteWaitsForRoom(t *testing.T) {
	c, f := rawConn(t, false, &Config{})
	var mu sync.Mutex
	room := 3
	f.sendHook = func(p []byte) (int, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		if room == 0 {
			return 0, unix.EAGAIN, true
		}
		n := min(room, len(p))
		room -= n
		return n, nil, true
	}
	s, err := c.OpenStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		n, err := s.Write([]byte("hello world"))
		if err == nil && n != 11 {
			err = errors.New("short write")
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Write returned without room: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	mu.Lock()
	room = 100
	mu.Unlock()
	f.makeWritable()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write did not resume when the socket became writable")
	}
	var got []byte
	for len(f.peer.in) > 0 {
		m := <-f.peer.in
		got = append(got, m.data...)
	}
	if string(got) != "hello world" {
		t.Errorf("the kernel got %q", got)
	}

	// No room and a deadline.
	mu.Lock()
	room = 0
	mu.Unlock()
	_ = s.SetWriteDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := s.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past its deadline: %v", err)
	}
}

// TestWriteResetBeforeNotice: a send the kernel fails with ECONNRESET
// (the peer's STOP_SENDING) before the reader has delivered the reset's
// notification still returns the peer's code, which HTTP/3 needs to retry
// a rejected request.
func TestWriteResetBeforeNotice(t *testing.T) {
	c, f := rawConn(t, false, &Config{})
	s, err := c.OpenStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.sendHook = func(p []byte) (int, error, bool) {
		// The notification reaches the reader only after the send failed.
		go func() {
			time.Sleep(20 * time.Millisecond)
			u := uapi.TquicStreamUpdate{Id: int64(s.StreamID()), State: uapi.QUIC_STREAM_SEND_STATE_RESET_SENT, Errcode: 0x10b}
			f.notify(uapi.QUIC_EVENT_STREAM_UPDATE, structBytes(&u))
		}()
		return 0, unix.ECONNRESET, true
	}
	_, err = s.Write([]byte("request"))
	var se *transport.StreamError
	if !errors.As(err, &se) || !se.Remote || se.ErrorCode != 0x10b {
		t.Fatalf("write: %v, want the peer's STOP_SENDING code 0x10b", err)
	}
}

func TestReadDeadline(t *testing.T) {
	c, f := rawConn(t, true, &Config{})
	f.push(fakeMsg{data: []byte("a"), oob: streamCmsg(0, 0)})
	s, err := c.AcceptStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Read(make([]byte, 1))
	_ = s.SetReadDeadline(time.Now().Add(time.Hour))
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Millisecond)) // moves a pending Read's deadline
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the shortened deadline did not end the Read")
	}
	_ = s.SetReadDeadline(time.Time{})
	f.push(fakeMsg{data: []byte("b"), oob: streamCmsg(0, 0)})
	buf := make([]byte, 1)
	if _, err := s.Read(buf); err != nil || buf[0] != 'b' {
		t.Fatalf("Read after clearing the deadline: %q, %v", buf, err)
	}
}

func TestConnOptions(t *testing.T) {
	c, f := rawConn(t, false, &Config{})
	if err := c.KeyUpdate(); err != nil {
		t.Fatal(err)
	}
	if !contains(f.calls(), "key update") {
		t.Error("KeyUpdate did not reach the socket")
	}
	if st, err := c.Stats(); err != nil || st.TxDatagrams != 3 {
		t.Errorf("Stats: %+v, %v", st, err)
	}
	if err := c.Migrate(netip.MustParseAddrPort("127.0.0.2:5000")); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range f.calls() {
		found = found || strings.HasPrefix(l, "setsockopt 6 02 00 13 88 7f 00 00 02")
	}
	if !found {
		t.Errorf("migration sockaddr not passed: %q", f.calls())
	}

	// Config.apply on a fresh socket.
	f2 := newFakeSock(false)
	cfg := &Config{Congestion: "cubic"}
	if err := cfg.apply(f2, []string{"h3", "hq"}); err != nil {
		t.Fatal(err)
	}
	calls := f2.calls()
	if len(calls) != 2 || calls[0] != "setsockopt 11 68 33 2c 68 71" || !strings.HasPrefix(calls[1], "setsockopt 4097 63 75 62 69 63 00") {
		t.Errorf("apply made %q", calls)
	}
	if err := (&Config{Version: 7}).apply(f2, nil); err == nil {
		t.Error("version 7 accepted")
	}

	f3 := newFakeSock(false)
	if err := enableEvents(f3); err != nil {
		t.Fatal(err)
	}
	// 62-bit codes in stream updates; STREAM_UPDATE, CONNECTION_CLOSE, MAX_STREAM on.
	want := []string{"wide error codes 1", "setsockopt 0 01 01", "setsockopt 0 05 01", "setsockopt 0 03 01"}
	if got := f3.calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("enableEvents made %q, want %q", got, want)
	}
}
