package webtransport

import (
	"bufio"
	"bytes"
	"context"
	"io"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// demuxConn sits between a client's transport connection and its HTTP/3
// layer. It takes the streams the server opens: unidirectional streams of
// type 0x54 and bidirectional streams starting with 0x41 go to the
// WebTransport sessions; other unidirectional streams are handed to HTTP/3
// (with their type byte replayed); other bidirectional streams are refused
// as HTTP/3 requires (H3_STREAM_CREATION_ERROR).
type demuxConn struct {
	transport.Connection
	uni   chan transport.ReceiveStream
	ready chan struct{} // closed once cs is set
	cs    *connState
}

func newDemuxConn(tc transport.Connection) *demuxConn {
	d := &demuxConn{Connection: tc, uni: make(chan transport.ReceiveStream), ready: make(chan struct{})}
	go d.acceptUni()
	go d.acceptBidi()
	return d
}

// setConnState routes WebTransport streams to cs from now on.
func (d *demuxConn) setConnState(cs *connState) {
	d.cs = cs
	close(d.ready)
}

func (d *demuxConn) waitReady() bool {
	select {
	case <-d.ready:
		return true
	case <-d.Context().Done():
		return false
	}
}

func (d *demuxConn) acceptUni() {
	ctx := d.Context()
	for {
		str, err := d.Connection.AcceptUniStream(ctx)
		if err != nil {
			return
		}
		go d.peekUni(str)
	}
}

func (d *demuxConn) peekUni(str transport.ReceiveStream) {
	br := bufio.NewReader(str)
	typ, err := capsule.ReadVarint(br)
	if err != nil {
		str.CancelRead(transport.ErrorCode(h3.ErrCodeStreamCreationError))
		return
	}
	if typ == StreamTypeUni {
		if d.waitReady() {
			d.cs.handleUni(&bufferedReceiveStream{ReceiveStream: str, r: br})
		}
		return
	}
	replay := io.MultiReader(bytes.NewReader(capsule.AppendVarint(nil, typ)), br)
	select {
	case d.uni <- &bufferedReceiveStream{ReceiveStream: str, r: replay}:
	case <-d.Context().Done():
	}
}

func (d *demuxConn) acceptBidi() {
	ctx := d.Context()
	for {
		str, err := d.Connection.AcceptStream(ctx)
		if err != nil {
			return
		}
		go d.peekBidi(str)
	}
}

func (d *demuxConn) peekBidi(str transport.Stream) {
	br := bufio.NewReader(str)
	typ, err := capsule.ReadVarint(br)
	if err != nil || typ != FrameTypeBidi {
		str.CancelRead(transport.ErrorCode(h3.ErrCodeStreamCreationError))
		str.CancelWrite(transport.ErrorCode(h3.ErrCodeStreamCreationError))
		return
	}
	id, err := capsule.ReadVarint(br)
	if err != nil {
		str.CancelRead(transport.ErrorCode(h3.ErrCodeFrameError))
		str.CancelWrite(transport.ErrorCode(h3.ErrCodeFrameError))
		return
	}
	if d.waitReady() {
		d.cs.handleBidi(id, &bufferedStream{Stream: str, r: br})
	}
}

// AcceptUniStream returns the unidirectional streams that are not
// WebTransport's.
func (d *demuxConn) AcceptUniStream(ctx context.Context) (transport.ReceiveStream, error) {
	select {
	case s := <-d.uni:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.Context().Done():
		return nil, context.Cause(d.Context())
	}
}

// AcceptStream is not offered to HTTP/3: a server never opens request
// streams, and WebTransport's are routed by the demultiplexer.
func (d *demuxConn) AcceptStream(ctx context.Context) (transport.Stream, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.Context().Done():
		return nil, context.Cause(d.Context())
	}
}

type bufferedReceiveStream struct {
	transport.ReceiveStream
	r io.Reader
}

func (b *bufferedReceiveStream) Read(p []byte) (int, error) { return b.r.Read(p) }

type bufferedStream struct {
	transport.Stream
	r io.Reader
}

func (b *bufferedStream) Read(p []byte) (int, error) { return b.r.Read(p) }
