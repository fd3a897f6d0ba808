package sockapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/handshake"
	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/pkg/uapi"
)

// QUIC versions for Config.Version.
const (
	Version1 = uapi.QUIC_VERSION_V1
	Version2 = uapi.QUIC_VERSION_V2
)

// ErrHandshakeTimeout is wrapped by the error of a handshake that did not
// finish within Config.HandshakeTimeout.
var ErrHandshakeTimeout = errors.New("sockapi: handshake timeout")

const (
	defaultHandshakeTimeout = 10 * time.Second
	defaultReceiveBuffer    = 4 << 20
	// recvBufSize is the reader's buffer: larger than any datagram or
	// notification, and than the stream chunks the kernel queues.
	recvBufSize = 64 << 10
	// datagramQueueLen bounds received datagrams nobody has read yet;
	// more are dropped, as a full socket buffer would.
	datagramQueueLen = 128
	// writeRetry wakes a writer blocked on EAGAIN to try again even
	// without a write readiness event, a guard against a missed wakeup.
	writeRetry = 100 * time.Millisecond
	// maxOpenBackoff caps the polling interval of OpenStream at the
	// peer's stream limit (a MAX_STREAMS notification ends it early).
	maxOpenBackoff = 100 * time.Millisecond
	// minDatagramPayload is what surely fits a DATAGRAM frame in a
	// 1200-byte packet: 1200 minus a short header with a 20-byte CID and
	// a 4-byte packet number, the AEAD tag, the frame type and length.
	minDatagramPayload = 1200 - (1 + 20 + 4) - 16 - (1 + 2)
	// datagramFrameSizeAny is the max_datagram_frame_size we advertise:
	// the largest the kernel's 16-bit field holds.
	datagramFrameSizeAny = math.MaxUint16
)

// Config configures connections and listeners. A nil or zero Config keeps
// the kernel's defaults (see kmod: QUIC v1, its default congestion
// controller, its transport parameters).
type Config struct {
	// Version is the QUIC version to use: Version1 or Version2; 0 keeps
	// the kernel's default (version 1).
	Version uint32
	// Congestion names the congestion controller ("newreno", "cubic",
	// ...); empty keeps the kernel's default.
	Congestion string
	// EnableDatagrams offers RFC 9221 datagrams.
	EnableDatagrams bool
	// MaxIdleTimeout is the idle timeout we advertise; 0 keeps the
	// kernel's default.
	MaxIdleTimeout time.Duration
	// MaxIncomingStreams and MaxIncomingUniStreams bound the streams the
	// peer may open at once; 0 keeps the kernel's defaults.
	MaxIncomingStreams    int
	MaxIncomingUniStreams int
	// HandshakeTimeout bounds a handshake (0: 10 s).
	HandshakeTimeout time.Duration
	// ReceiveBuffer bounds the received stream bytes a connection holds
	// for Read (0: 4 MiB). One socket carries every stream, so when it is
	// full the connection stops taking data from the kernel, for all
	// streams, until Read or CancelRead makes room: a stream nobody reads
	// eventually stalls the others.
	ReceiveBuffer int
}

func (cfg *Config) handshakeTimeout() time.Duration {
	if cfg.HandshakeTimeout > 0 {
		return cfg.HandshakeTimeout
	}
	return defaultHandshakeTimeout
}

// apply sets the options a socket needs before connect() or listen().
func (cfg *Config) apply(ep endpoint, alpn []string) error {
	if len(alpn) > 0 {
		b, err := alpnOption(alpn)
		if err != nil {
			return err
		}
		if err := ep.setsockopt(uapi.QUIC_SOCKOPT_ALPN, b); err != nil {
			return fmt.Errorf("sockapi: set ALPN: %w", err)
		}
	}
	if cfg.Version != 0 {
		if cfg.Version != Version1 && cfg.Version != Version2 {
			return fmt.Errorf("sockapi: unsupported QUIC version %#x", cfg.Version)
		}
		// Read-modify-write keeps the kernel's other defaults.
		var qc uapi.QuicConfig
		if _, err := ep.getsockopt(uapi.QUIC_SOCKOPT_CONFIG, structBytes(&qc)); err != nil {
			return fmt.Errorf("sockapi: get config: %w", err)
		}
		qc.Version = cfg.Version
		if err := ep.setsockopt(uapi.QUIC_SOCKOPT_CONFIG, structBytes(&qc)); err != nil {
			return fmt.Errorf("sockapi: set QUIC version %#x: %w", cfg.Version, err)
		}
	}
	if cfg.Congestion != "" {
		b, err := congestionOption(cfg.Congestion)
		if err != nil {
			return err
		}
		if err := ep.setsockopt(uapi.TQUIC_SOCKOPT_CONGESTION, b); err != nil {
			return fmt.Errorf("sockapi: set congestion controller %q: %w", cfg.Congestion, err)
		}
	}
	if cfg.EnableDatagrams || cfg.MaxIdleTimeout != 0 || cfg.MaxIncomingStreams != 0 || cfg.MaxIncomingUniStreams != 0 {
		var tp uapi.QuicTransportParam // Remote 0: ours
		if _, err := ep.getsockopt(uapi.QUIC_SOCKOPT_TRANSPORT_PARAM, structBytes(&tp)); err != nil {
			return fmt.Errorf("sockapi: get transport parameters: %w", err)
		}
		if err := cfg.transportParams(&tp); err != nil {
			return err
		}
		if err := ep.setsockopt(uapi.QUIC_SOCKOPT_TRANSPORT_PARAM, structBytes(&tp)); err != nil {
			return fmt.Errorf("sockapi: set transport parameters: %w", err)
		}
	}
	return nil
}

// transportParams writes the configured values into the kernel's.
func (cfg *Config) transportParams(tp *uapi.QuicTransportParam) error {
	if cfg.EnableDatagrams {
		tp.Max_datagram_frame_size = datagramFrameSizeAny
	}
	if cfg.MaxIdleTimeout != 0 {
		us := cfg.MaxIdleTimeout.Microseconds()
		if us <= 0 || us > math.MaxUint32 {
			return fmt.Errorf("sockapi: idle timeout %v out of the kernel's range", cfg.MaxIdleTimeout)
		}
		tp.Max_idle_timeout = uint32(us)
	}
	for _, l := range []struct {
		n   int
		dst *uint16
	}{{cfg.MaxIncomingStreams, &tp.Max_streams_bidi}, {cfg.MaxIncomingUniStreams, &tp.Max_streams_uni}} {
		if l.n == 0 {
			continue
		}
		if l.n < 0 || l.n > math.MaxUint16 {
			return fmt.Errorf("sockapi: stream limit %d out of the kernel's range", l.n)
		}
		*l.dst = uint16(l.n)
	}
	return nil
}

// connEvents are the notifications a connection needs: peer resets, the
// peer's close, and more stream credit.
var connEvents = []uint8{uapi.QUIC_EVENT_STREAM_UPDATE, uapi.QUIC_EVENT_CONNECTION_CLOSE, uapi.QUIC_EVENT_STREAM_MAX_STREAM}

// enableEvents turns on connEvents, with stream updates that carry whole
// 62-bit error codes (the draft's structure has 32 bits).
func enableEvents(ep endpoint) error {
	if err := ep.setsockopt(uapi.TQUIC_SOCKOPT_WIDE_ERRCODES, binary.NativeEndian.AppendUint32(nil, 1)); err != nil {
		return fmt.Errorf("sockapi: wide error codes: %w", err)
	}
	for _, typ := range connEvents {
		if err := ep.setsockopt(uapi.QUIC_SOCKOPT_EVENT, encodeEventOption(typ, true)); err != nil {
			return fmt.Errorf("sockapi: enable notification %d: %w", typ, err)
		}
	}
	return nil
}

// Conn is a QUIC connection on an IPPROTO_QUIC socket. One socket carries
// all of the connection's streams; a reader goroutine takes every message
// off it and hands stream data, datagrams and notifications to the
// waiting calls. Conn implements transport.Connection.
type Conn struct {
	ep       endpoint
	isServer bool
	recvMax  int // Config.ReceiveBuffer
	wantDgrm bool

	// The handshake. hsMu serialises the driver (it is not safe for
	// concurrent use): Start, the reader's HandleData, close.
	hsMu       sync.Mutex
	hs         *handshake.Driver
	eng        tlsEngine
	hsDone     chan struct{} // closed when the handshake completed or failed
	hsDoneOnce sync.Once

	ctx    context.Context
	cancel context.CancelCauseFunc

	mu         sync.Mutex
	closeErr   error // why the connection ended; nil while open
	peerClose  *closeInfo
	handshaken bool
	tlsState   tls.ConnectionState
	version    uint32
	datagrams  bool
	laddr      net.Addr
	raddr      net.Addr

	streams  map[int64]*Stream
	nextPeer [2]int64 // [bidi, uni]: lowest peer stream ID not seen yet
	acceptQ  [2][]*Stream
	acceptCh [2]chan struct{}
	openCh   chan struct{} // signalled on MAX_STREAMS
	buffered int           // stream bytes held for Read, all streams
	spaceCh  chan struct{} // signalled when buffered drops below recvMax
	dgrams   [][]byte
	dgramCh  chan struct{}
}

func newConn(ep endpoint, isServer bool, cfg *Config) *Conn {
	c := &Conn{
		ep:       ep,
		isServer: isServer,
		recvMax:  cfg.ReceiveBuffer,
		wantDgrm: cfg.EnableDatagrams,
		hsDone:   make(chan struct{}),
		streams:  make(map[int64]*Stream),
		acceptCh: [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)},
		openCh:   make(chan struct{}, 1),
		spaceCh:  make(chan struct{}, 1),
		dgramCh:  make(chan struct{}, 1),
		laddr:    ep.localAddr(),
		raddr:    ep.remoteAddr(),
	}
	if c.recvMax <= 0 {
		c.recvMax = defaultReceiveBuffer
	}
	// The peer's first streams: a client's are 0 (bidi) and 2 (uni), a
	// server's 1 and 3.
	c.nextPeer = [2]int64{0, 2}
	if !isServer {
		c.nextPeer = [2]int64{1, 3}
	}
	c.eng.c = c
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	return c
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ---- handshake ----

// tlsEngine is handshake.Engine over the socket: crypto/tls runs here, the
// kernel moves CRYPTO bytes and protects packets. Its methods run under
// c.hsMu.
type tlsEngine struct {
	c *Conn
	// appSecrets holds the Application secrets until TLS completed and
	// both are known: the kernel takes their installation as "handshake
	// complete" (ESTABLISHED, and a server sends HANDSHAKE_DONE).
	// crypto/tls hands out the write secret before the peer's Finished is
	// verified, and the read secret only after QUICHandshakeDone.
	appSecrets   []appSecret
	complete     bool // TLS reported QUICHandshakeDone
	appInstalled bool
	peerParams   []byte
	// err is a failure of a callback that cannot return one.
	err error
}

type appSecret struct {
	write  bool
	suite  uint16
	secret []byte
}

func (e *tlsEngine) InstallSecret(level handshake.Level, write bool, suite uint16, secret []byte) error {
	switch level {
	case tls.QUICEncryptionLevelInitial:
		return nil // the kernel derives Initial keys from the connection ID itself
	case tls.QUICEncryptionLevelEarly:
		// No 0-RTT: a client that sends no 0-RTT packets is correct even
		// when the server would accept them.
		return nil
	case tls.QUICEncryptionLevelApplication:
		e.appSecrets = append(e.appSecrets, appSecret{write: write, suite: suite, secret: bytes.Clone(secret)})
		return e.installAppSecrets()
	}
	return e.install(level, write, suite, secret)
}

// installAppSecrets installs the Application secrets once TLS completed
// and both are known, read first so the kernel can decrypt 1-RTT packets
// the moment it may send them.
func (e *tlsEngine) installAppSecrets() error {
	if !e.complete || e.appInstalled {
		return nil
	}
	var read, write *appSecret
	for i := range e.appSecrets {
		if e.appSecrets[i].write {
			write = &e.appSecrets[i]
		} else {
			read = &e.appSecrets[i]
		}
	}
	if read == nil || write == nil {
		return nil
	}
	e.appInstalled = true
	defer func() {
		for i := range e.appSecrets {
			clear(e.appSecrets[i].secret)
		}
		e.appSecrets = nil
	}()
	for _, s := range []*appSecret{read, write} {
		if err := e.install(tls.QUICEncryptionLevelApplication, s.write, s.suite, s.secret); err != nil {
			return err
		}
	}
	return nil
}

func (e *tlsEngine) install(level handshake.Level, write bool, suite uint16, secret []byte) error {
	kl, err := kernelLevel(level)
	if err != nil {
		return err
	}
	b, err := encodeSecret(kl, write, suite, secret)
	if err != nil {
		return err
	}
	if err := e.c.ep.setsockopt(uapi.QUIC_SOCKOPT_CRYPTO_SECRET, b); err != nil {
		dir := "read"
		if write {
			dir = "write"
		}
		return fmt.Errorf("sockapi: install %v %s secret: %w", level, dir, err)
	}
	return nil
}

func (e *tlsEngine) WriteCrypto(level handshake.Level, data []byte) error {
	kl, err := kernelLevel(level)
	if err != nil {
		return err
	}
	oob := handshakeCmsg(kl)
	for len(data) > 0 {
		ready := e.c.ep.writeWait()
		n, err := e.c.ep.send(data, oob, 0)
		if errors.Is(err, unix.EAGAIN) {
			if err := e.c.wait(ready, nil, time.Time{}, writeRetry); err != nil {
				return err
			}
			if err := e.c.err(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("sockapi: send %v handshake data: %w", level, err)
		}
		data = data[n:]
	}
	return nil
}

func (e *tlsEngine) LocalTransportParameters() ([]byte, error) {
	buf := make([]byte, maxTransportParam)
	n, err := e.c.ep.getsockopt(uapi.QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, buf)
	if err != nil {
		return nil, fmt.Errorf("sockapi: get local transport parameters: %w", err)
	}
	return buf[:n], nil
}

func (e *tlsEngine) SetPeerTransportParameters(params []byte) error {
	e.peerParams = bytes.Clone(params)
	if err := e.c.ep.setsockopt(uapi.QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, params); err != nil {
		return fmt.Errorf("sockapi: set peer transport parameters: %w", err)
	}
	return nil
}

// HandshakeComplete installs the Application secrets if both are known
// (else the read secret's arrival does).
func (e *tlsEngine) HandshakeComplete() {
	e.complete = true
	if err := e.installAppSecrets(); err != nil && e.err == nil {
		e.err = err
	}
}

// Alert sets CRYPTO_ERROR 0x100+alert as the close reason; the failed
// handshake then closes the socket, which sends it.
func (e *tlsEngine) Alert(alert uint8) {
	_ = e.c.ep.setsockopt(uapi.QUIC_SOCKOPT_CONNECTION_CLOSE, encodeClose(uapi.QUIC_TRANSPORT_ERROR_CRYPTO+uint64(alert), ""))
}

func (e *tlsEngine) RejectedEarlyData() {}

// startHandshake creates and starts the TLS driver, then the reader that
// feeds it. ctx bounds the handshake.
func (c *Conn) startHandshake(ctx context.Context, tlsConf *tls.Config) error {
	c.hsMu.Lock()
	if c.isServer {
		c.hs = handshake.NewServer(handshake.Config{TLS: tlsConf}, &c.eng)
	} else {
		tp, err := c.eng.LocalTransportParameters()
		if err != nil {
			c.hsMu.Unlock()
			return err
		}
		c.hs = handshake.NewClient(handshake.Config{TLS: tlsConf}, &c.eng, tp)
	}
	err := c.hs.Start(ctx)
	if err != nil {
		_ = c.hs.Close() // no reader will
	}
	c.hsMu.Unlock()
	if err != nil {
		return fmt.Errorf("sockapi: start TLS handshake: %w", err)
	}
	go c.readLoop()
	return nil
}

// awaitHandshake waits for the handshake; on failure or when ctx ends the
// connection is closed.
func (c *Conn) awaitHandshake(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.hsDone:
	case <-t.C:
		c.fail(&transport.TransportError{Err: ErrHandshakeTimeout})
	case <-ctx.Done():
		c.fail(&transport.TransportError{Err: fmt.Errorf("sockapi: handshake abandoned: %w", ctx.Err())})
	}
	return c.err()
}

// handleCrypto feeds TLS bytes the kernel delivered to the driver; this is
// the handshake, and later post-handshake messages (session tickets).
func (c *Conn) handleCrypto(level tls.QUICEncryptionLevel, data []byte) error {
	c.hsMu.Lock()
	if c.hs == nil {
		c.hsMu.Unlock()
		return errors.New("sockapi: handshake data before the handshake started")
	}
	err := c.hs.HandleData(level, data)
	done := c.hs.Done()
	if err == nil && done && !c.eng.appInstalled && c.eng.err == nil {
		c.eng.err = errors.New("sockapi: TLS completed without both Application secrets")
	}
	if err == nil && c.eng.err != nil {
		// TLS is fine but the kernel refused its keys: close with
		// internal_error, as the driver does for its own failures.
		err = c.eng.err
		c.eng.Alert(80)
	}
	var state tls.ConnectionState
	if done {
		state = c.hs.ConnectionState()
	}
	peerParams := c.eng.peerParams
	c.hsMu.Unlock()
	if err != nil {
		te := &transport.TransportError{Err: fmt.Errorf("sockapi: TLS handshake: %w", err)}
		var alert tls.AlertError
		if errors.As(err, &alert) {
			te.Code = uapi.QUIC_TRANSPORT_ERROR_CRYPTO + uint64(alert)
		}
		return te
	}
	if done {
		c.completeHandshake(state, peerParams)
	}
	return nil
}

// completeHandshake records what was negotiated and releases the waiter.
func (c *Conn) completeHandshake(state tls.ConnectionState, peerParams []byte) {
	c.mu.Lock()
	if c.handshaken {
		c.mu.Unlock()
		return
	}
	c.handshaken = true
	c.tlsState = state
	c.version = Version1
	var qc uapi.QuicConfig
	if _, err := c.ep.getsockopt(uapi.QUIC_SOCKOPT_CONFIG, structBytes(&qc)); err == nil && qc.Version != 0 {
		c.version = qc.Version
	}
	if c.wantDgrm {
		maxFrame, err := peerMaxDatagramFrameSize(peerParams)
		c.datagrams = err == nil && maxFrame > 0
	}
	c.mu.Unlock()
	c.hsDoneOnce.Do(func() { close(c.hsDone) })
}

// ---- the reader ----

// readLoop takes every message off the socket until the connection ends.
func (c *Conn) readLoop() {
	defer func() {
		c.hsMu.Lock()
		if c.hs != nil {
			_ = c.hs.Close()
		}
		c.hsMu.Unlock()
	}()
	oob := make([]byte, recvOOBSize)
	for c.waitReceiveSpace() {
		bp, n, oobn, flags, err := c.ep.recv(oob)
		if err != nil {
			c.fail(c.socketError(err))
			return
		}
		complete := n < len(*bp) || flags&unix.MSG_EOR != 0
		msg, err := parseMessage((*bp)[:n], oob[:oobn], flags, complete)
		if err != nil {
			recvBufs.Put(bp)
			c.fail(&transport.TransportError{Err: err})
			return
		}
		err = c.dispatch(msg) // copies what it keeps
		recvBufs.Put(bp)
		if err != nil {
			c.fail(err)
			return
		}
		if msg.kind == msgEOF {
			c.fail(c.socketError(nil))
			return
		}
	}
}

// waitReceiveSpace holds the reader while Read has ReceiveBuffer bytes to
// take, leaving the data in the kernel, whose flow control then stops the
// peer. It reports false when the connection ended.
func (c *Conn) waitReceiveSpace() bool {
	for {
		c.mu.Lock()
		ok, closed := c.buffered < c.recvMax, c.closeErr != nil
		c.mu.Unlock()
		if closed {
			return false
		}
		if ok {
			return true
		}
		select {
		case <-c.spaceCh:
		case <-c.ctx.Done():
			return false
		}
	}
}

// dispatch hands one message to whoever waits for it.
func (c *Conn) dispatch(msg message) error {
	switch msg.kind {
	case msgHandshake:
		return c.handleCrypto(msg.level, msg.data)
	case msgStream:
		c.mu.Lock()
		if s := c.streamFor(msg.stream); s != nil {
			s.deliver(msg.data, msg.fin)
		}
		c.mu.Unlock()
	case msgDatagram:
		c.mu.Lock()
		if len(c.dgrams) < datagramQueueLen {
			c.dgrams = append(c.dgrams, bytes.Clone(msg.data))
			signal(c.dgramCh)
		}
		c.mu.Unlock()
	case msgNotification:
		ev, err := parseEvent(msg.data)
		if err != nil {
			return &transport.TransportError{Err: err}
		}
		c.handleEvent(ev)
	}
	return nil
}

func (c *Conn) handleEvent(ev event) {
	switch ev.typ {
	case uapi.QUIC_EVENT_STREAM_UPDATE:
		c.mu.Lock()
		if s := c.streamFor(ev.update.Id); s != nil {
			s.update(ev.update)
		}
		c.mu.Unlock()
	case uapi.QUIC_EVENT_STREAM_MAX_STREAM:
		signal(c.openCh)
	case uapi.QUIC_EVENT_CONNECTION_CLOSE:
		c.mu.Lock()
		ci := ev.close
		c.peerClose = &ci
		c.mu.Unlock()
	}
}

// socketError turns the end of the socket (err nil: an orderly EOF) into
// the connection's error, preferring the peer's CONNECTION_CLOSE.
func (c *Conn) socketError(err error) error {
	c.mu.Lock()
	peer, handshaken := c.peerClose, c.handshaken
	c.mu.Unlock()
	if peer == nil && err == nil {
		// No notification (yet): the kernel keeps the peer's close info.
		buf := make([]byte, uapi.SizeofQuicConnectionClose+maxReasonPhrase)
		if n, gerr := c.ep.getsockopt(uapi.QUIC_SOCKOPT_CONNECTION_CLOSE, buf); gerr == nil {
			if ci, derr := decodeClose(buf[:n]); derr == nil {
				peer = &ci
			}
		}
	}
	if peer != nil {
		return peer.remoteError(handshaken)
	}
	if err == nil {
		err = errors.New("closed by the kernel")
	}
	return &transport.TransportError{Err: fmt.Errorf("sockapi: connection: %w", err)}
}

// remoteError reports the peer's close. The notification does not say
// whether the peer sent an application close (frame type 0x1d) or a
// transport close (0x1c); frame holds the frame type that triggered a
// transport error, so a close with frame 0 after the handshake is taken
// for an application close.
func (ci *closeInfo) remoteError(handshaken bool) error {
	if handshaken && ci.frame == 0 {
		return &transport.ApplicationError{ErrorCode: transport.ErrorCode(ci.code), Message: ci.phrase, Remote: true}
	}
	return &transport.TransportError{Code: uint64(ci.code),
		Err: fmt.Errorf("sockapi: peer closed the connection: error %#x, frame %#x, %q", ci.code, ci.frame, ci.phrase)}
}

// fail ends the connection with err (the first error wins) and closes the
// socket; the kernel then sends the close reason set before, if any.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.closeErr != nil {
		c.mu.Unlock()
		return
	}
	c.closeErr = err
	c.mu.Unlock()
	c.cancel(err)
	c.hsDoneOnce.Do(func() { close(c.hsDone) })
	_ = c.ep.close()
}

// err returns why the connection ended, or nil.
func (c *Conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// wait blocks until a or b fires, the deadline passes (os.ErrDeadlineExceeded),
// retry elapses (if > 0) or the connection ends. The caller re-checks its
// condition.
func (c *Conn) wait(a, b <-chan struct{}, deadline time.Time, retry time.Duration) error {
	var expired, again <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	if retry > 0 {
		t := time.NewTimer(retry)
		defer t.Stop()
		again = t.C
	}
	select {
	case <-a:
	case <-b:
	case <-again:
	case <-c.ctx.Done():
	case <-expired:
		return os.ErrDeadlineExceeded
	}
	return nil
}

// ---- transport.Connection ----

// OpenStream opens a bidirectional stream, waiting for the peer's stream
// credit until ctx is done.
func (c *Conn) OpenStream(ctx context.Context) (transport.Stream, error) {
	return c.openStream(ctx, false)
}

// OpenUniStream opens a unidirectional stream, waiting for the peer's
// stream credit until ctx is done.
func (c *Conn) OpenUniStream(ctx context.Context) (transport.SendStream, error) {
	return c.openStream(ctx, true)
}

func (c *Conn) openStream(ctx context.Context, uni bool) (*Stream, error) {
	var flags uint32 = uapi.MSG_QUIC_STREAM_DONTWAIT // EAGAIN at the limit, never block a thread
	if uni {
		flags |= uapi.MSG_QUIC_STREAM_UNI
	}
	backoff := time.Millisecond
	for {
		if err := c.err(); err != nil {
			return nil, err
		}
		info := encodeStreamInfo(-1, flags)
		_, err := c.ep.getsockopt(uapi.QUIC_SOCKOPT_STREAM_OPEN, info)
		if err == nil {
			si, _ := decodeStruct[uapi.QuicStreamInfo](info)
			c.mu.Lock()
			s := c.newStream(si.Id)
			c.mu.Unlock()
			return s, nil
		}
		if !errors.Is(err, unix.EAGAIN) {
			if cerr := c.err(); cerr != nil {
				return nil, cerr
			}
			return nil, fmt.Errorf("sockapi: open stream: %w", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("sockapi: open stream: %w", ctx.Err())
		case <-c.openCh:
		case <-c.ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, maxOpenBackoff)
	}
}

// AcceptStream returns the next bidirectional stream the peer opened.
func (c *Conn) AcceptStream(ctx context.Context) (transport.Stream, error) {
	return c.accept(ctx, false)
}

// AcceptUniStream returns the next unidirectional stream the peer opened.
func (c *Conn) AcceptUniStream(ctx context.Context) (transport.ReceiveStream, error) {
	return c.accept(ctx, true)
}

func (c *Conn) accept(ctx context.Context, uni bool) (*Stream, error) {
	t := streamType(uni)
	for {
		c.mu.Lock()
		if q := c.acceptQ[t]; len(q) > 0 {
			s := q[0]
			c.acceptQ[t] = q[1:]
			if len(c.acceptQ[t]) > 0 {
				signal(c.acceptCh[t]) // for the next caller
			}
			c.mu.Unlock()
			return s, nil
		}
		err := c.closeErr
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sockapi: accept stream: %w", ctx.Err())
		case <-c.acceptCh[t]:
		case <-c.ctx.Done():
		}
	}
}

// SendDatagram sends an RFC 9221 datagram. A datagram the kernel has no
// room for is dropped, as datagrams may be.
func (c *Conn) SendDatagram(p []byte) error {
	c.mu.Lock()
	err, enabled := c.closeErr, c.datagrams
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if !enabled {
		return transport.ErrDatagramsDisabled
	}
	_, err = c.ep.send(p, nil, uapi.MSG_QUIC_DATAGRAM)
	switch {
	case err == nil, errors.Is(err, unix.EAGAIN), errors.Is(err, unix.ENOBUFS):
		return nil
	case errors.Is(err, unix.EMSGSIZE):
		return &transport.DatagramTooLargeError{MaxPayload: minDatagramPayload}
	}
	if cerr := c.err(); cerr != nil {
		return cerr
	}
	return fmt.Errorf("sockapi: send datagram: %w", err)
}

// ReceiveDatagram returns the next datagram received.
func (c *Conn) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if len(c.dgrams) > 0 {
			d := c.dgrams[0]
			c.dgrams[0] = nil
			c.dgrams = c.dgrams[1:]
			if len(c.dgrams) > 0 {
				signal(c.dgramCh)
			}
			c.mu.Unlock()
			return d, nil
		}
		err, enabled := c.closeErr, c.datagrams
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if !enabled {
			return nil, transport.ErrDatagramsDisabled
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sockapi: receive datagram: %w", ctx.Err())
		case <-c.dgramCh:
		case <-c.ctx.Done():
		}
	}
}

// CloseWithError closes the connection with an application error code
// (the kernel carries 32 bits: larger codes are sent as 0xffffffff) and a
// reason, cut to 80 bytes.
func (c *Conn) CloseWithError(code transport.ErrorCode, msg string) error {
	if c.err() != nil {
		return nil
	}
	serr := c.ep.setsockopt(uapi.QUIC_SOCKOPT_CONNECTION_CLOSE, encodeClose(uint64(code), msg))
	c.fail(&transport.ApplicationError{ErrorCode: code, Message: msg})
	if serr != nil {
		return fmt.Errorf("sockapi: set close reason: %w", serr)
	}
	return nil
}

// Close closes the connection with application error 0 (no error).
func (c *Conn) Close() error { return c.CloseWithError(0, "") }

// Context is canceled when the connection ends; context.Cause tells why.
func (c *Conn) Context() context.Context { return c.ctx }

// State returns the negotiated state: QUIC version, ALPN, TLS state,
// whether datagrams are on, and the current addresses.
func (c *Conn) State() transport.ConnectionState {
	laddr, raddr := c.LocalAddr(), c.RemoteAddr()
	c.mu.Lock()
	defer c.mu.Unlock()
	return transport.ConnectionState{
		ALPN:       c.tlsState.NegotiatedProtocol,
		Version:    c.version,
		LocalAddr:  laddr,
		RemoteAddr: raddr,
		TLS:        c.tlsState,
		Datagrams:  c.datagrams,
	}
}

// LocalAddr returns the local address of the current path.
func (c *Conn) LocalAddr() net.Addr {
	a := c.ep.localAddr()
	c.mu.Lock()
	defer c.mu.Unlock()
	if a != nil {
		c.laddr = a // it moves with Migrate
	}
	return c.laddr
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr {
	a := c.ep.remoteAddr()
	c.mu.Lock()
	defer c.mu.Unlock()
	if a != nil {
		c.raddr = a
	}
	return c.raddr
}

// Stats returns the socket's counters.
func (c *Conn) Stats() (Stats, error) { return socketStats(c.ep) }

func socketStats(ep endpoint) (Stats, error) {
	var st uapi.TquicSockStats
	n, err := ep.getsockopt(uapi.TQUIC_SOCKOPT_STATS, structBytes(&st))
	if err != nil {
		return Stats{}, fmt.Errorf("sockapi: get statistics: %w", err)
	}
	return decodeStats(structBytes(&st)[:n])
}

// KeyUpdate starts a 1-RTT key update.
func (c *Conn) KeyUpdate() error {
	if err := c.ep.setsockopt(uapi.QUIC_SOCKOPT_KEY_UPDATE, nil); err != nil {
		if cerr := c.err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("sockapi: key update: %w", err)
	}
	return nil
}

// Migrate moves the connection to a new local address (connection
// migration, RFC 9000 section 9).
func (c *Conn) Migrate(local netip.AddrPort) error {
	family := unix.AF_INET
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok && ua.IP.To4() == nil {
		family = unix.AF_INET6
	}
	sa, err := encodeSockaddr(local, family)
	if err != nil {
		return err
	}
	if err := c.ep.setsockopt(uapi.QUIC_SOCKOPT_CONNECTION_MIGRATION, sa); err != nil {
		if cerr := c.err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("sockapi: migrate to %s: %w", local, err)
	}
	return nil
}

var _ transport.Connection = (*Conn)(nil)

// ---- Dial ----

// Dial opens a QUIC connection to addr (host:port) and completes the
// handshake. tlsConf carries the ALPN protocols (NextProtos) and, unless
// set, the server name is addr's host. ctx bounds the handshake.
func Dial(ctx context.Context, addr string, tlsConf *tls.Config, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sockapi: dial %s: %w", addr, err)
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("sockapi: dial %s: %w", addr, err)
	}
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	}
	if tlsConf.ServerName == "" {
		tlsConf = tlsConf.Clone()
		tlsConf.ServerName = host
	}
	family := unix.AF_INET6
	if ua.IP.To4() != nil {
		family = unix.AF_INET
	}
	s, err := openSocket(family)
	if err != nil {
		return nil, err
	}
	c, err := dialSocket(ctx, s, ua, tlsConf, cfg)
	if err != nil {
		_ = s.close()
		return nil, fmt.Errorf("sockapi: dial %s: %w", addr, err)
	}
	return c, nil
}

func dialSocket(ctx context.Context, s *sock, ua *net.UDPAddr, tlsConf *tls.Config, cfg *Config) (*Conn, error) {
	if err := cfg.apply(s, tlsConf.NextProtos); err != nil {
		return nil, err
	}
	if err := enableEvents(s); err != nil {
		return nil, err
	}
	sa, err := sockaddr(ua, s.family)
	if err != nil {
		return nil, err
	}
	if err := s.connect(sa); err != nil {
		return nil, fmt.Errorf("sockapi: connect: %w", err)
	}
	c := newConn(s, false, cfg)
	hctx, cancel := context.WithCancel(ctx) // crypto/tls watches it until the handshake ends
	defer cancel()
	if err := c.startHandshake(hctx, tlsConf); err != nil {
		c.fail(&transport.TransportError{Err: err})
		return nil, err
	}
	if err := c.awaitHandshake(hctx, cfg.handshakeTimeout()); err != nil {
		return nil, err
	}
	return c, nil
}
