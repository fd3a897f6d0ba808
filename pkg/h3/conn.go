package h3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// Config holds the settings an endpoint announces. The zero value enables
// the QPACK dynamic table with DefaultQPACKTableCapacity and
// DefaultQPACKBlockedStreams.
type Config struct {
	// StaticQPACK disables the QPACK dynamic table in both directions: the
	// peer is told capacity 0 and our encoder ignores what the peer allows.
	StaticQPACK bool
	// QPACKMaxTableCapacity and QPACKBlockedStreams override the defaults.
	QPACKMaxTableCapacity uint64
	QPACKBlockedStreams   uint64
	// MaxFieldSectionSize bounds received header sections (default 64 KiB).
	MaxFieldSectionSize uint64
	// EnableDatagrams announces SETTINGS_H3_DATAGRAM (RFC 9297); the
	// transport must have RFC 9221 datagrams enabled.
	EnableDatagrams bool
	// EnableConnectProtocol announces SETTINGS_ENABLE_CONNECT_PROTOCOL
	// (RFC 9220); meaningful for servers.
	EnableConnectProtocol bool
	// AdditionalSettings are sent as they are (extensions such as
	// WebTransport's). They must not repeat the settings above.
	AdditionalSettings map[uint64]uint64
	// Logger receives diagnostics; nil means the log package's default.
	Logger *log.Logger
}

// Defaults for Config's QPACK settings.
const (
	DefaultQPACKTableCapacity  = 4096
	DefaultQPACKBlockedStreams = 100
)

func (c *Config) qpackSettings() (capacity, blocked uint64) {
	if c.StaticQPACK {
		return 0, 0
	}
	capacity, blocked = c.QPACKMaxTableCapacity, c.QPACKBlockedStreams
	if capacity == 0 {
		capacity = DefaultQPACKTableCapacity
	}
	if blocked == 0 {
		blocked = DefaultQPACKBlockedStreams
	}
	return capacity, blocked
}

func (c *Config) maxFieldSection() uint64 {
	if c.MaxFieldSectionSize == 0 {
		return defaultMaxFieldSectionLen
	}
	return c.MaxFieldSectionSize
}

// Conn is the HTTP/3 connection state shared by clients and servers:
// control and QPACK streams, settings and HTTP datagrams. Extensions such
// as WebTransport reach the transport connection through it.
type Conn struct {
	tc       transport.Connection
	isServer bool
	cfg      *Config
	enc      *qpack.Encoder
	dec      *qpack.Decoder

	ctrlMu sync.Mutex
	ctrl   transport.SendStream
	encMu  sync.Mutex
	encStr transport.SendStream
	decMu  sync.Mutex
	decStr transport.SendStream

	settingsDone chan struct{}
	peer         map[uint64]uint64

	dgMu   sync.Mutex
	dgRecv map[uint64]chan []byte

	rcvdCtrl, rcvdEnc, rcvdDec atomic.Bool

	// role hooks
	onControlFrame func(typ uint64, payload []byte) error
	onUniStream    func(typ uint64, str transport.ReceiveStream) bool
}

func newConn(tc transport.Connection, isServer bool, cfg *Config) *Conn {
	capacity, blocked := cfg.qpackSettings()
	dec := qpack.NewDecoder(capacity, blocked)
	dec.SetMaxFieldSectionSize(cfg.maxFieldSection())
	enc := qpack.NewEncoder()
	if cfg.StaticQPACK {
		enc.SetMaxTableCapacity(0)
	}
	return &Conn{
		tc:           tc,
		isServer:     isServer,
		cfg:          cfg,
		enc:          enc,
		dec:          dec,
		settingsDone: make(chan struct{}),
		dgRecv:       map[uint64]chan []byte{},
	}
}

// Transport returns the underlying transport connection.
func (c *Conn) Transport() transport.Connection { return c.tc }

// Context is canceled when the connection closes.
func (c *Conn) Context() context.Context { return c.tc.Context() }

// PeerSettings waits for the peer's SETTINGS and returns them.
func (c *Conn) PeerSettings(ctx context.Context) (map[uint64]uint64, error) {
	select {
	case <-c.settingsDone:
		return c.peer, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.tc.Context().Done():
		return nil, convertTransportError(context.Cause(c.tc.Context()))
	}
}

// CloseWithError closes the connection with an HTTP/3 error code.
func (c *Conn) CloseWithError(code ErrorCode, msg string) error {
	return c.tc.CloseWithError(transport.ErrorCode(code), msg)
}

func (c *Conn) logf(format string, args ...any) {
	if c.cfg.Logger != nil {
		c.cfg.Logger.Printf(format, args...)
	}
}

// start opens the control and QPACK streams, sends SETTINGS and begins
// serving the peer's unidirectional streams.
func (c *Conn) start() error {
	ctx := c.tc.Context()
	capacity, blocked := c.cfg.qpackSettings()
	s := map[uint64]uint64{
		SettingQPACKMaxTableCapacity: capacity,
		SettingQPACKBlockedStreams:   blocked,
		SettingMaxFieldSectionSize:   c.cfg.maxFieldSection(),
	}
	order := []uint64{SettingQPACKMaxTableCapacity, SettingQPACKBlockedStreams, SettingMaxFieldSectionSize}
	if c.cfg.EnableConnectProtocol {
		s[SettingEnableConnectProtocol] = 1
		order = append(order, SettingEnableConnectProtocol)
	}
	if c.cfg.EnableDatagrams {
		s[SettingH3Datagram] = 1
		order = append(order, SettingH3Datagram)
	}
	for id, v := range c.cfg.AdditionalSettings {
		if _, dup := s[id]; dup {
			return fmt.Errorf("h3: additional setting %#x duplicates a built-in one", id)
		}
		s[id] = v
		order = append(order, id)
	}
	// A reserved setting exercises the peer's handling of unknown ones.
	grease := 0x1f*uint64(rand.IntN(1000)) + 0x21
	s[grease] = uint64(rand.IntN(1 << 20))
	order = append(order, grease)

	var err error
	if c.ctrl, err = c.openUni(ctx, StreamTypeControl, appendSettings(nil, s, order)); err != nil {
		return err
	}
	if c.encStr, err = c.openUni(ctx, StreamTypeQPACKEncoder, nil); err != nil {
		return err
	}
	if c.decStr, err = c.openUni(ctx, StreamTypeQPACKDecoder, nil); err != nil {
		return err
	}
	go c.acceptUniStreams()
	if c.cfg.EnableDatagrams {
		go c.receiveDatagrams()
	}
	return nil
}

func (c *Conn) openUni(ctx context.Context, typ uint64, first []byte) (transport.SendStream, error) {
	str, err := c.tc.OpenUniStream(ctx)
	if err != nil {
		return nil, fmt.Errorf("h3: open stream type %#x: %w", typ, convertTransportError(err))
	}
	if _, err := str.Write(append(capsule.AppendVarint(nil, typ), first...)); err != nil {
		return nil, fmt.Errorf("h3: write stream type %#x: %w", typ, convertTransportError(err))
	}
	return str, nil
}

// fail closes the connection for err when err is a protocol violation.
func (c *Conn) fail(err error) {
	var ce *connError
	if errors.As(err, &ce) {
		c.logf("h3: closing connection: %v", err)
		c.tc.CloseWithError(transport.ErrorCode(ce.code), ce.msg)
		return
	}
	if transport.IsConnectionError(err) || errors.Is(err, context.Canceled) {
		return
	}
	c.logf("h3: closing connection after internal error: %v", err)
	c.tc.CloseWithError(transport.ErrorCode(ErrCodeInternalError), "")
}

func (c *Conn) acceptUniStreams() {
	ctx := c.tc.Context()
	for {
		str, err := c.tc.AcceptUniStream(ctx)
		if err != nil {
			return
		}
		go c.handleUniStream(str)
	}
}

func (c *Conn) handleUniStream(str transport.ReceiveStream) {
	fr := newFrameReader(str)
	typ, err := capsule.ReadVarint(fr.r)
	if err != nil {
		return // a stream without a type is ignored
	}
	critical := func(seen *atomic.Bool, name string) bool {
		if seen.Swap(true) {
			c.fail(errConn(ErrCodeStreamCreationError, "second %s stream", name))
			return false
		}
		return true
	}
	switch typ {
	case StreamTypeControl:
		if critical(&c.rcvdCtrl, "control") {
			c.fail(c.readControlStream(fr))
		}
	case StreamTypeQPACKEncoder:
		if critical(&c.rcvdEnc, "QPACK encoder") {
			c.fail(c.readQPACKStream(fr, c.dec.WriteEncoderStream, c.flushDecoder))
		}
	case StreamTypeQPACKDecoder:
		if critical(&c.rcvdDec, "QPACK decoder") {
			c.fail(c.readQPACKStream(fr, c.enc.WriteDecoderStream, nil))
		}
	default:
		if typ == StreamTypePush && c.isServer {
			c.fail(errConn(ErrCodeStreamCreationError, "client opened a push stream"))
			return
		}
		if c.onUniStream != nil && c.onUniStream(typ, &prefixedReceiveStream{ReceiveStream: str, r: fr.r}) {
			return
		}
		str.CancelRead(transport.ErrorCode(ErrCodeStreamCreationError))
	}
}

// readQPACKStream feeds a QPACK stream into the codec until it fails.
func (c *Conn) readQPACKStream(fr *frameReader, write func([]byte) error, after func() error) error {
	buf := make([]byte, 4096)
	for {
		n, err := fr.r.Read(buf)
		if n > 0 {
			if werr := write(buf[:n]); werr != nil {
				return qpackError(werr)
			}
			if after != nil {
				if ferr := after(); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return errConn(ErrCodeClosedCriticalStream, "QPACK stream closed")
		}
		if err != nil {
			return c.criticalReadError(err)
		}
	}
}

func (c *Conn) criticalReadError(err error) error {
	var se *transport.StreamError
	if errors.As(err, &se) {
		return errConn(ErrCodeClosedCriticalStream, "critical stream reset")
	}
	return err
}

func (c *Conn) readControlStream(fr *frameReader) error {
	first := true
	for {
		typ, length, err := fr.header()
		if err == io.EOF {
			return errConn(ErrCodeClosedCriticalStream, "control stream closed")
		}
		if err != nil {
			return c.criticalReadError(err)
		}
		if first && typ != FrameSettings {
			return errConn(ErrCodeMissingSettings, "control stream starts with %s", frameName(typ))
		}
		switch {
		case typ == FrameSettings:
			if !first {
				return errConn(ErrCodeFrameUnexpected, "second SETTINGS frame")
			}
			p, err := fr.payload(typ, length, maxControlFramePayload)
			if err != nil {
				return err
			}
			s, err := parseSettings(p)
			if err != nil {
				return err
			}
			if err := c.applySettings(s); err != nil {
				return err
			}
		case typ == FrameData || typ == FrameHeaders || typ == FramePushPromise || isH2FrameType(typ):
			return errConn(ErrCodeFrameUnexpected, "%s on the control stream", frameName(typ))
		case typ == FrameGoAway || typ == FrameMaxPushID || typ == FrameCancelPush ||
			typ == FramePriorityUpdate || typ == FramePriorityUpdatePush:
			p, err := fr.payload(typ, length, maxControlFramePayload)
			if err != nil {
				return err
			}
			if err := c.onControlFrame(typ, p); err != nil {
				return err
			}
		default:
			if err := fr.skip(length); err != nil {
				return c.criticalReadError(err)
			}
		}
		first = false
	}
}

func (c *Conn) applySettings(s map[uint64]uint64) error {
	if s[SettingH3Datagram] == 1 && c.cfg.EnableDatagrams {
		// RFC 9297 section 2.1.1: H3_DATAGRAM needs QUIC datagrams.
		if !c.tc.State().Datagrams {
			return errConn(ErrCodeSettingsError, "H3_DATAGRAM without QUIC datagram support")
		}
	}
	c.peer = s
	if !c.cfg.StaticQPACK {
		c.enc.SetPeerSettings(s[SettingQPACKMaxTableCapacity], s[SettingQPACKBlockedStreams])
	}
	close(c.settingsDone)
	return c.flushEncoder()
}

// waitSettings waits until the peer's SETTINGS have arrived, ctx is done
// or the connection closes.
func (c *Conn) waitSettings(ctx context.Context) error {
	select {
	case <-c.settingsDone:
		return nil
	default:
	}
	_, err := c.PeerSettings(ctx)
	return err
}

// peerSetting returns a setting the peer sent (0 before SETTINGS arrive).
func (c *Conn) peerSetting(id uint64) uint64 {
	select {
	case <-c.settingsDone:
		return c.peer[id]
	default:
		return 0
	}
}

func (c *Conn) flushEncoder() error {
	c.encMu.Lock()
	defer c.encMu.Unlock()
	return c.flushEncoderLocked()
}

func (c *Conn) flushEncoderLocked() error {
	if data := c.enc.EncoderStreamData(); len(data) > 0 {
		if _, err := c.encStr.Write(data); err != nil {
			return convertTransportError(err)
		}
	}
	return nil
}

func (c *Conn) flushDecoder() error {
	c.decMu.Lock()
	defer c.decMu.Unlock()
	if data := c.dec.DecoderStreamData(); len(data) > 0 {
		if _, err := c.decStr.Write(data); err != nil {
			return convertTransportError(err)
		}
	}
	return nil
}

// headersFrame encodes fields for streamID into a HEADERS (or, with typ,
// PUSH_PROMISE) frame, first sending any encoder instructions it needs.
func (c *Conn) headersFrame(streamID uint64, fields []qpack.HeaderField, typ uint64, prefix []byte) ([]byte, error) {
	sec, err := c.encodeSection(streamID, fields)
	if err != nil {
		return nil, err
	}
	payloadLen := uint64(len(prefix) + len(sec))
	b := appendFrameHeader(make([]byte, 0, len(sec)+len(prefix)+16), typ, payloadLen)
	return append(append(b, prefix...), sec...), nil
}

// encodeSection encodes a field section for streamID, first sending any
// encoder instructions it needs, within the peer's size limit.
func (c *Conn) encodeSection(streamID uint64, fields []qpack.HeaderField) ([]byte, error) {
	if max := c.peerSetting(SettingMaxFieldSectionSize); max > 0 {
		var size uint64
		for _, f := range fields {
			size += f.Size()
		}
		if size > max {
			return nil, fmt.Errorf("h3: header section of %d bytes exceeds the peer's limit of %d", size, max)
		}
	}
	c.encMu.Lock()
	sec, err := c.enc.EncodeFieldSection(streamID, fields)
	if err == nil {
		err = c.flushEncoderLocked()
	}
	c.encMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("h3: encode header section: %w", err)
	}
	return sec, nil
}

// decodeHeaders decodes a header section received on streamID and sends
// the resulting decoder instructions.
func (c *Conn) decodeHeaders(ctx context.Context, streamID uint64, p []byte) ([]qpack.HeaderField, error) {
	fields, err := c.dec.DecodeFieldSection(ctx, streamID, p)
	if err != nil {
		return nil, qpackError(err)
	}
	if err := c.flushDecoder(); err != nil {
		return nil, err
	}
	return fields, nil
}

// cancelDecoding tells the peer's encoder that a stream's remaining header
// sections will not be read.
func (c *Conn) cancelDecoding(streamID uint64) {
	c.dec.CancelStream(streamID)
	c.flushDecoder()
}

func (c *Conn) sendControlFrame(typ uint64, payload []byte) error {
	c.ctrlMu.Lock()
	defer c.ctrlMu.Unlock()
	if _, err := c.ctrl.Write(appendFrame(nil, typ, payload)); err != nil {
		return fmt.Errorf("h3: send %s: %w", frameName(typ), convertTransportError(err))
	}
	return nil
}

// datagramsEnabled reports whether HTTP datagrams were negotiated.
func (c *Conn) datagramsEnabled() bool {
	return c.cfg.EnableDatagrams && c.peerSetting(SettingH3Datagram) == 1 && c.tc.State().Datagrams
}

func (c *Conn) receiveDatagrams() {
	ctx := c.tc.Context()
	for {
		b, err := c.tc.ReceiveDatagram(ctx)
		if err != nil {
			return
		}
		id, payload, err := capsule.ParseDatagram(b)
		if err != nil {
			c.fail(errConn(ErrCodeDatagramError, "%v", err))
			return
		}
		c.dgMu.Lock()
		ch := c.dgRecv[id]
		c.dgMu.Unlock()
		if ch == nil {
			continue // unknown or finished stream: drop
		}
		select {
		case ch <- payload:
		default: // queue full: datagrams are unreliable
		}
	}
}

func (c *Conn) registerDatagrams(streamID uint64) chan []byte {
	c.dgMu.Lock()
	defer c.dgMu.Unlock()
	ch := c.dgRecv[streamID]
	if ch == nil {
		ch = make(chan []byte, 128)
		c.dgRecv[streamID] = ch
	}
	return ch
}

func (c *Conn) unregisterDatagrams(streamID uint64) {
	c.dgMu.Lock()
	delete(c.dgRecv, streamID)
	c.dgMu.Unlock()
}

// prefixedReceiveStream reads buffered bytes before the stream's own.
type prefixedReceiveStream struct {
	transport.ReceiveStream
	r io.Reader
}

func (p *prefixedReceiveStream) Read(b []byte) (int, error) { return p.r.Read(b) }

// prefixedStream is a bidirectional stream whose first bytes were already
// buffered by a frame reader.
type prefixedStream struct {
	transport.Stream
	r io.Reader
}

func (p *prefixedStream) Read(b []byte) (int, error) { return p.r.Read(b) }
