package bridge

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"
)

func bigLimits() streamLimits {
	return streamLimits{MaxData: 1 << 20, BidiLocal: 1 << 18, BidiRemote: 1 << 18, Uni: 1 << 18,
		MaxStreamsBidi: 100, MaxStreamsUni: 100}
}

func newPair(t *testing.T, client, server streamLimits) (*streamTable, *streamTable) {
	t.Helper()
	c := newStreamTable(streamsConfig{Local: client, MaxConnWindow: 1 << 24, MaxStreamWindow: 1 << 22,
		SendBuffer: 1 << 20, MaxFrags: 1024})
	s := newStreamTable(streamsConfig{Server: true, Local: server, MaxConnWindow: 1 << 24,
		MaxStreamWindow: 1 << 22, SendBuffer: 1 << 20, MaxFrags: 1024})
	c.setPeerLimits(server)
	s.setPeerLimits(client)
	t.Cleanup(func() { c.free(); s.free() })
	return c, s
}

func wantCode(t *testing.T, what string, got engineResult, want uint64) {
	t.Helper()
	if uint64(got) != want {
		t.Fatalf("%s: got %v, want transport error 0x%x", what, got, want)
	}
}

func wantOK(t *testing.T, what string, got engineResult) {
	t.Helper()
	if got != 0 {
		t.Fatalf("%s: %v", what, got)
	}
}

func wantStates(t *testing.T, tab *streamTable, id uint64, send, recv int) {
	t.Helper()
	s, r, ok := tab.states(id)
	if !ok {
		t.Fatalf("stream %d: not in the table", id)
	}
	if s != send || r != recv {
		t.Fatalf("stream %d: states send %d recv %d, want %d %d", id, s, r, send, recv)
	}
}

// deliver moves every packet from one table to the other without loss and
// acknowledges it; returns the packets.
func deliver(t *testing.T, from, to *streamTable) []*sentPacket {
	t.Helper()
	var out []*sentPacket
	for i := 0; i < 10000; i++ {
		p := from.build(1200)
		if p == nil {
			return out
		}
		if r, ft := to.recv(p.Payload, 0); r != 0 {
			t.Fatalf("recv frame 0x%x: %v", ft, r)
		}
		from.acked(p)
		out = append(out, p)
	}
	t.Fatal("deliver: endless packets")
	return nil
}

func TestStreamIDsAndOpen(t *testing.T) {
	c, s := newPair(t, bigLimits(), bigLimits())
	want := []struct {
		tab  *streamTable
		uni  bool
		want []uint64
	}{
		{c, false, []uint64{0, 4, 8}},
		{c, true, []uint64{2, 6, 10}},
		{s, false, []uint64{1, 5, 9}},
		{s, true, []uint64{3, 7, 11}},
	}
	for _, w := range want {
		for _, id := range w.want {
			got, err := w.tab.open(w.uni)
			if err != nil || got != id {
				t.Fatalf("open(uni=%v) = %d, %v; want %d", w.uni, got, err, id)
			}
		}
	}
	// Uni streams have one side only.
	wantStates(t, c, 2, sendReady, recvNone)
	wantStates(t, c, 0, sendReady, recvRecv)
	if _, _, ok := s.states(2); ok {
		t.Fatal("peer stream exists before any frame")
	}
}

func TestStreamSendReceiveStates(t *testing.T) {
	c, s := newPair(t, bigLimits(), bigLimits())
	id, _ := c.open(false)
	wantStates(t, c, id, sendReady, recvRecv)
	if n, err := c.write(id, []byte("hello"), false); n != 5 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	p := c.build(1200)
	if p == nil || len(p.Frames) != 1 || p.Frames[0].Len != 5 || p.Frames[0].Fin {
		t.Fatalf("first packet: %+v", p)
	}
	wantStates(t, c, id, sendSend, recvRecv)
	if err := c.finish(id); err != nil {
		t.Fatal(err)
	}
	p2 := c.build(1200)
	if p2 == nil || !p2.Frames[0].Fin || p2.Frames[0].Len != 0 || p2.Frames[0].Off != 5 {
		t.Fatalf("fin packet: %+v", p2.Frames)
	}
	wantStates(t, c, id, sendDataSent, recvRecv)
	// The FIN arrives before the data: Size Known, then Data Recvd.
	if r, _ := s.recv(p2.Payload, 0); r != 0 {
		t.Fatal(r)
	}
	if acc, ok := s.accept(); !ok || acc != id {
		t.Fatalf("accept: %d %v", acc, ok)
	}
	wantStates(t, s, id, sendReady, recvSizeKnown)
	c.acked(p2)
	wantStates(t, c, id, sendDataSent, recvRecv) // data not acked yet
	c.acked(p)
	wantStates(t, c, id, sendDataRecvd, recvRecv)
	data, fin, err := s.read(id, 100)
	if err != nil || fin || len(data) != 0 {
		t.Fatalf("read before data: %q %v %v", data, fin, err)
	}
	if r, _ := s.recv(p.Payload, 0); r != 0 {
		t.Fatal(r)
	}
	wantStates(t, s, id, sendReady, recvDataRecvd)
	data, fin, err = s.read(id, 100)
	if err != nil || !fin || string(data) != "hello" {
		t.Fatalf("read: %q %v %v", data, fin, err)
	}
	wantStates(t, s, id, sendReady, recvDataRead)
	// Server answers and finishes; once acked both sides are done on both ends.
	if _, err := s.write(id, []byte("world"), true); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, c)
	if _, _, ok := s.states(id); ok {
		t.Fatal("server stream still in the table after both sides finished")
	}
	data, fin, err = c.read(id, 100)
	if err != nil || !fin || string(data) != "world" {
		t.Fatalf("client read: %q %v %v", data, fin, err)
	}
	if _, _, ok := c.states(id); ok {
		t.Fatal("client stream still in the table")
	}
	// Frames for the closed stream are ignored.
	wantOK(t, "late stream frame", c.onStream(id, 0, []byte("world"), true, 0))
	c.reap()
	s.reap()
	// Writing after FIN is refused.
	id2, _ := c.open(true)
	if _, err := c.write(id2, []byte("x"), true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.write(id2, []byte("y"), false); !errors.Is(err, engineResult(errnoPIPE)) {
		t.Fatalf("write after fin: %v", err)
	}
	if _, _, err := c.read(id2, 10); !errors.Is(err, engineResult(errnoINVAL)) {
		t.Fatalf("read on send-only stream: %v", err)
	}
}

func TestStreamStateErrors(t *testing.T) {
	c, s := newPair(t, bigLimits(), bigLimits())
	cu, _ := c.open(true)  // 2: client send-only
	cb, _ := c.open(false) // 0
	_ = cb
	// Client receives on its own uni stream.
	wantCode(t, "STREAM on local uni", c.onStream(cu, 0, []byte("x"), false, 0), codeStreamState)
	wantCode(t, "RESET_STREAM on local uni", c.onReset(cu, 1, 0), codeStreamState)
	wantCode(t, "STREAM_DATA_BLOCKED on local uni", c.onStreamDataBlocked(cu, 0), codeStreamState)
	// Local streams not yet opened.
	wantCode(t, "STREAM on unopened local bidi", c.onStream(8, 0, []byte("x"), false, 0), codeStreamState)
	wantCode(t, "MAX_STREAM_DATA on unopened local", c.onMaxStreamData(4, 100), codeStreamState)
	wantCode(t, "STOP_SENDING on unopened local", c.onStopSending(6, 1), codeStreamState)
	// Peer uni streams cannot be sent on.
	wantCode(t, "STOP_SENDING on peer uni", c.onStopSending(3, 1), codeStreamState)
	wantCode(t, "MAX_STREAM_DATA on peer uni", c.onMaxStreamData(3, 100), codeStreamState)
	// Valid ones on the server side.
	wantOK(t, "STOP_SENDING on peer bidi opens it", s.onStopSending(0, 7))
	wantOK(t, "MAX_STREAM_DATA on peer bidi", s.onMaxStreamData(4, 100))
	if id, ok := s.accept(); !ok || id != 0 {
		t.Fatalf("accept %d %v", id, ok)
	}
	if code, ok := s.stopError(0); !ok || code != 7 {
		t.Fatalf("stop error %d %v", code, ok)
	}
	wantStates(t, s, 0, sendResetSent, recvRecv)
	if _, err := s.write(0, []byte("x"), false); !errors.Is(err, engineResult(errnoCONNRESET)) {
		t.Fatalf("write after STOP_SENDING: %v", err)
	}
	p := s.build(1200)
	if p == nil || p.Frames[0].Type != ftResetStream || p.Frames[0].Value != 7 || p.Frames[0].Off != 0 {
		t.Fatalf("RESET_STREAM answer: %+v", p)
	}
}

func TestStreamImplicitOpenAndLimits(t *testing.T) {
	cl := bigLimits()
	sl := bigLimits()
	sl.MaxStreamsBidi = 3
	sl.MaxStreamsUni = 1
	c, s := newPair(t, cl, sl)
	wantOK(t, "stream 8", s.onStream(8, 0, []byte("a"), false, 0))
	for _, want := range []uint64{0, 4, 8} {
		if id, ok := s.accept(); !ok || id != want {
			t.Fatalf("accept: %d %v, want %d", id, ok, want)
		}
	}
	if _, ok := s.accept(); ok {
		t.Fatal("extra stream accepted")
	}
	if s.count() != 3 {
		t.Fatalf("count %d", s.count())
	}
	wantCode(t, "stream 12 above limit 3", s.onStream(12, 0, []byte("a"), false, 0), codeStreamLimit)
	wantOK(t, "uni 2", s.onStream(2, 0, nil, true, 0))
	wantCode(t, "uni 6 above limit 1", s.onStream(6, 0, nil, false, 0), codeStreamLimit)

	// The client is limited by the server's MAX_STREAMS.
	for i := 0; i < 3; i++ {
		if _, err := c.open(false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.open(false); !errors.Is(err, engineResult(errnoAGAIN)) {
		t.Fatalf("open above limit: %v", err)
	}
	p := c.build(1200)
	if p == nil || p.Frames[0].Type != ftStreamsBlockedBidi || p.Frames[0].Value != 3 {
		t.Fatalf("STREAMS_BLOCKED: %+v", p)
	}
	if c.build(1200) != nil {
		t.Fatal("STREAMS_BLOCKED repeated")
	}
	c.lost(p)
	if p2 := c.build(1200); p2 == nil || p2.Frames[0].Type != ftStreamsBlockedBidi {
		t.Fatal("lost STREAMS_BLOCKED not resent")
	}
	wantOK(t, "MAX_STREAMS 5", c.onMaxStreams(false, 5))
	wantOK(t, "MAX_STREAMS lower is ignored", c.onMaxStreams(false, 2))
	if id, err := c.open(false); err != nil || id != 12 {
		t.Fatalf("open after MAX_STREAMS: %d %v", id, err)
	}
	wantCode(t, "MAX_STREAMS above 2^60", c.onMaxStreams(false, 1<<60+1), codeFrameEncodingErr)

	// Closing peer streams returns credit: finish streams 0, 4 and 8 on
	// the server (peer finished sending; server reads and finishes).
	for _, id := range []uint64{0, 4, 8} {
		wantOK(t, "fin", s.onStream(id, 1, nil, true, 0))
		if id != 8 {
			wantOK(t, "data", s.onStream(id, 0, []byte("a"), false, 0))
		}
		if _, fin, err := s.read(id, 10); err != nil || !fin {
			t.Fatalf("read %d: %v %v", id, fin, err)
		}
		if _, err := s.write(id, nil, true); err != nil {
			t.Fatal(err)
		}
	}
	deliver(t, s, c)
	if s.count() != 1 { // the uni stream 2 remains (not read)
		t.Fatalf("server streams left: %d", s.count())
	}
	if got := s.peerLimit(false); got != 6 {
		t.Fatalf("MAX_STREAMS bidi advertised %d, want 6", got)
	}
	wantOK(t, "stream 20 within new limit", s.onStream(20, 0, []byte("x"), false, 0))
	wantCode(t, "stream 24 above new limit", s.onStream(24, 0, []byte("x"), false, 0), codeStreamLimit)
}

func TestStreamFinalSize(t *testing.T) {
	_, s := newPair(t, bigLimits(), bigLimits())
	wantOK(t, "fin at 10", s.onStream(0, 5, []byte("01234"), true, 0))
	wantOK(t, "same fin again", s.onStream(0, 5, []byte("01234"), true, 0))
	wantOK(t, "data below", s.onStream(0, 0, []byte("abc"), false, 0))
	wantCode(t, "data beyond final size", s.onStream(0, 8, []byte("xyzw"), false, 0), codeFinalSize)
	wantCode(t, "other fin", s.onStream(0, 5, []byte("0123"), true, 0), codeFinalSize)
	wantCode(t, "reset with other size", s.onReset(0, 1, 11), codeFinalSize)
	wantOK(t, "reset with the same size", s.onReset(0, 1, 10))

	wantOK(t, "data to 20", s.onStream(4, 0, make([]byte, 20), false, 0))
	wantCode(t, "fin below highest", s.onStream(4, 0, make([]byte, 10), true, 0), codeFinalSize)
	wantCode(t, "reset below highest", s.onReset(4, 1, 19), codeFinalSize)
	wantOK(t, "empty fin at highest", s.onStream(4, 20, nil, true, 0))
}

func TestStreamFlowControlViolations(t *testing.T) {
	sl := bigLimits()
	sl.BidiRemote = 100
	sl.MaxData = 150
	_, s := newPair(t, bigLimits(), sl)
	wantOK(t, "exactly the window", s.onStream(0, 0, make([]byte, 100), false, 0))
	wantCode(t, "one byte over the stream window", s.onStream(0, 100, []byte{1}, false, 0), codeFlowControl)
	wantCode(t, "reset final size over the window", s.onReset(4, 0, 101), codeFlowControl)
	wantOK(t, "second stream", s.onStream(8, 0, make([]byte, 50), false, 0))
	wantCode(t, "connection window", s.onStream(12, 0, make([]byte, 1), false, 0), codeFlowControl)
	wantCode(t, "huge offset", s.onStream(16, 1<<62-1, []byte{1}, false, 0), codeFrameEncodingErr)
}

func TestStreamCreditAndAutotune(t *testing.T) {
	for _, fast := range []bool{false, true} {
		sl := bigLimits()
		sl.BidiRemote = 1000
		sl.MaxData = 1 << 20
		_, s := newPair(t, bigLimits(), sl)
		s.setTime(1_000_000, 10_000)
		wantOK(t, "open", s.onStream(0, 0, nil, false, 0))
		data := make([]byte, 1000)
		off := uint64(0)
		maxSeen := uint64(0)
		for round := 0; round < 8; round++ {
			_, _, _, window, _ := s.streamRx(0)
			limit, _, _, _, _ := s.streamRx(0)
			chunk := window
			if off+chunk > limit {
				chunk = limit - off
			}
			if chunk > uint64(len(data)) {
				data = make([]byte, chunk)
			}
			wantOK(t, "data", s.onStream(0, off, data[:chunk], false, 0))
			off += chunk
			if fast {
				s.setTime(1_000_000+uint64(round)*1000, 10_000) // 1 ms per window, RTT 10 ms
			} else {
				s.setTime(1_000_000+uint64(round)*1_000_000, 10_000) // 1 s per window
			}
			got, _, err := s.read(0, int(chunk))
			if err != nil || uint64(len(got)) != chunk {
				t.Fatalf("read: %d %v", len(got), err)
			}
			p := s.build(1200)
			if p == nil {
				t.Fatalf("no MAX_STREAM_DATA after reading a window")
			}
			var msd *sentFrame
			for i := range p.Frames {
				if p.Frames[i].Type == ftMaxStreamData {
					msd = &p.Frames[i]
				}
			}
			if msd == nil || msd.Value <= limit {
				t.Fatalf("round %d: MAX_STREAM_DATA %+v, old limit %d", round, p.Frames, limit)
			}
			newLimit, _, read, w, _ := s.streamRx(0)
			if newLimit != read+w || msd.Value != newLimit {
				t.Fatalf("limit %d, read %d, window %d, frame %d", newLimit, read, w, msd.Value)
			}
			maxSeen = w
		}
		if fast && maxSeen < 16000 {
			t.Fatalf("fast reader: window stayed at %d", maxSeen)
		}
		if !fast && maxSeen != 1000 {
			t.Fatalf("slow reader: window grew to %d", maxSeen)
		}
		// Connection credit follows what was read.
		climit, chighest, cread, cwindow := s.connRx()
		if chighest != off || cread != off || climit < cread+cwindow/2 {
			t.Fatalf("connection rx: limit %d highest %d read %d window %d (off %d)", climit, chighest, cread, cwindow, off)
		}
		if fast && cwindow < maxSeen+maxSeen/2 {
			t.Fatalf("connection window %d below 1.5x stream window %d", cwindow, maxSeen)
		}
	}
}

func TestStreamBlockedSignals(t *testing.T) {
	cl := bigLimits()
	sl := bigLimits()
	sl.BidiRemote = 10
	sl.MaxData = 25
	c, _ := newPair(t, cl, sl)
	a, _ := c.open(false)
	b, _ := c.open(false)
	if n, err := c.write(a, make([]byte, 100), false); n != 100 || err != nil {
		t.Fatal(n, err)
	}
	p := c.build(1200)
	if p == nil || len(p.Frames) != 1 || p.Frames[0].Len != 10 {
		t.Fatalf("first packet: %+v", p.Frames)
	}
	p = c.build(1200)
	if p == nil || p.Frames[0].Type != ftStreamDataBlocked || p.Frames[0].ID != a || p.Frames[0].Value != 10 {
		t.Fatalf("STREAM_DATA_BLOCKED: %+v", p)
	}
	if c.build(1200) != nil {
		t.Fatal("blocked signalled twice for the same limit")
	}
	c.lost(p)
	if p = c.build(1200); p == nil || p.Frames[0].Type != ftStreamDataBlocked {
		t.Fatal("lost STREAM_DATA_BLOCKED not resent")
	}
	wantOK(t, "MAX_STREAM_DATA", c.onMaxStreamData(a, 1000))
	if n, err := c.write(b, make([]byte, 100), false); n != 100 || err != nil {
		t.Fatal(n, err)
	}
	total := uint64(0)
	sawDataBlocked := false
	for i := 0; i < 10; i++ {
		p = c.build(1200)
		if p == nil {
			break
		}
		for _, f := range p.Frames {
			if f.Type == ftStream {
				total += f.Len
			}
			if f.Type == ftDataBlocked {
				sawDataBlocked = f.Value == 25
			}
		}
	}
	if total != 15 || !sawDataBlocked {
		t.Fatalf("sent %d more bytes (want 15 to the connection limit), DATA_BLOCKED %v", total, sawDataBlocked)
	}
	if lim, used := c.connTx(); lim != 25 || used != 25 {
		t.Fatalf("conn tx %d/%d", used, lim)
	}
}

func TestStreamResetHandling(t *testing.T) {
	c, s := newPair(t, bigLimits(), bigLimits())
	id, _ := c.open(false)
	if _, err := c.write(id, make([]byte, 3000), false); err != nil {
		t.Fatal(err)
	}
	p1 := c.build(1200)
	p2 := c.build(1200)
	if r, _ := s.recv(p2.Payload, 0); r != 0 { // out of order: buffered, not readable
		t.Fatal(r)
	}
	if err := c.reset(id, 42); err != nil {
		t.Fatal(err)
	}
	wantStates(t, c, id, sendResetSent, recvRecv)
	sentBytes := p1.Frames[0].Len + p2.Frames[0].Len
	p3 := c.build(1200)
	if p3 == nil || p3.Frames[0].Type != ftResetStream || p3.Frames[0].Off != sentBytes || p3.Frames[0].Value != 42 {
		t.Fatalf("RESET_STREAM: %+v", p3)
	}
	// Data of the reset stream is neither retransmitted nor counted.
	c.lost(p1)
	if p := c.build(1200); p != nil {
		t.Fatalf("sent after reset: %+v", p.Frames)
	}
	c.lost(p3)
	p3 = c.build(1200)
	if p3 == nil || p3.Frames[0].Type != ftResetStream {
		t.Fatal("lost RESET_STREAM not resent")
	}
	if r, _ := s.recv(p3.Payload, 0); r != 0 {
		t.Fatal(r)
	}
	c.acked(p3)
	wantStates(t, c, id, sendResetRcvd, recvRecv)
	// The server sees the reset; the connection credit of the whole final
	// size comes back even though the first packet never arrived.
	_, highest, read, _ := s.connRx()
	if highest != sentBytes || read != sentBytes {
		t.Fatalf("conn rx after reset: highest %d read %d, want %d", highest, read, sentBytes)
	}
	if _, _, err := s.read(id, 10); !errors.Is(err, engineResult(errnoCONNRESET)) {
		t.Fatalf("read after reset: %v", err)
	}
	if code := s.rxError(id); code != 42 {
		t.Fatalf("reset code %d", code)
	}
	wantStates(t, s, id, sendReady, recvResetRead)
	// Late data after the reset is dropped, but still checked.
	wantOK(t, "late data", s.onStream(id, 0, make([]byte, 100), false, 0))
	wantCode(t, "late data past final size", s.onStream(id, sentBytes, []byte{1}, false, 0), codeFinalSize)
	if mem, buffered, frags := s.rxMem(id); mem != 0 || buffered != 0 || frags != 0 {
		t.Fatalf("reset stream holds %d bytes (%d frags, mem %d)", buffered, frags, mem)
	}
}

// RESET_STREAM_AT: the bytes below the reliable size are still delivered,
// in order and even when they arrive after the frame, then the reset.
func TestStreamResetAtDeliversReliablePrefix(t *testing.T) {
	_, s := newPair(t, bigLimits(), bigLimits())
	const id = 0 // the client's first bidirectional stream
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i)
	}
	wantOK(t, "first 1000", s.onStream(id, 0, data[:1000], false, 0))
	wantOK(t, "RESET_STREAM_AT", s.onResetAt(id, 7, 3000, 2000))
	wantStates(t, s, id, sendReady, recvSizeKnown)
	// A later frame may lower the reliable size but not raise it.
	wantOK(t, "RESET_STREAM_AT higher", s.onResetAt(id, 7, 3000, 2500))
	wantCode(t, "final size changed", s.onResetAt(id, 7, 2999, 2000), codeFinalSize)
	got, fin, err := s.read(id, 5000)
	if err != nil || fin || !bytes.Equal(got, data[:1000]) {
		t.Fatalf("read before the rest: %d bytes fin %v err %v", len(got), fin, err)
	}
	// The rest of the reliable part (and some beyond) arrives late.
	wantOK(t, "late reliable bytes", s.onStream(id, 1000, data[1000:2600], false, 0))
	got, fin, err = s.read(id, 5000)
	if !bytes.Equal(got, data[1000:2000]) || fin {
		t.Fatalf("reliable part: %d bytes fin %v err %v", len(got), fin, err)
	}
	if _, _, err := s.read(id, 10); !errors.Is(err, engineResult(errnoCONNRESET)) {
		t.Fatalf("read past the reliable size: %v", err)
	}
	if code := s.rxError(id); code != 7 {
		t.Fatalf("reset code %d", code)
	}
	// All of the final size is credited back to the connection.
	if _, _, read, _ := s.connRx(); read != 3000 {
		t.Fatalf("conn read %d after the reset, want 3000", read)
	}
	if mem, buffered, frags := s.rxMem(id); mem != 0 || buffered != 0 || frags != 0 {
		t.Fatalf("reset stream holds %d bytes (%d frags, mem %d)", buffered, frags, mem)
	}
}

// A RESET_STREAM_AT whose reliable bytes were all read acts at once.
func TestStreamResetAtBelowReadOffset(t *testing.T) {
	_, s := newPair(t, bigLimits(), bigLimits())
	const id = 0
	wantOK(t, "data", s.onStream(id, 0, make([]byte, 500), false, 0))
	if got, _, err := s.read(id, 500); err != nil || len(got) != 500 {
		t.Fatalf("read %d %v", len(got), err)
	}
	wantOK(t, "RESET_STREAM_AT", s.onResetAt(id, 9, 800, 400))
	if _, _, err := s.read(id, 10); !errors.Is(err, engineResult(errnoCONNRESET)) {
		t.Fatalf("read after reset: %v", err)
	}
	wantStates(t, s, id, sendReady, recvResetRead)
}

func TestStreamStopSendingLocal(t *testing.T) {
	c, s := newPair(t, bigLimits(), bigLimits())
	id, _ := c.open(false)
	if _, err := c.write(id, make([]byte, 2000), false); err != nil {
		t.Fatal(err)
	}
	deliver(t, c, s)
	if err := s.stopSending(id, 9); err != nil {
		t.Fatal(err)
	}
	p := s.build(1200)
	if p == nil || p.Frames[0].Type != ftStopSending || p.Frames[0].Value != 9 {
		t.Fatalf("STOP_SENDING: %+v", p)
	}
	// Buffered data was discarded and its credit returned.
	if _, _, read, _ := s.connRx(); read != 2000 {
		t.Fatalf("conn read %d after STOP_SENDING", read)
	}
	if r, _ := c.recv(p.Payload, 0); r != 0 {
		t.Fatal(r)
	}
	s.acked(p)
	deliver(t, c, s) // RESET_STREAM answer
	wantStates(t, c, id, sendResetRcvd, recvRecv)
	// The server stopped reading: the reset needs no reading to finish.
	wantStates(t, s, id, sendReady, recvResetRead)
	if _, _, err := s.read(id, 1); !errors.Is(err, engineResult(errnoCONNRESET)) {
		t.Fatal(err)
	}
	// Finishing the server's (unused) send side completes the stream.
	if err := s.reset(id, 1); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, c)
	if _, _, ok := s.states(id); ok {
		t.Fatal("stream not finished after both sides ended")
	}
	if code, stopped := c.stopError(id); !stopped || code != 9 {
		t.Fatalf("client stop error %d %v", code, stopped)
	}
}

func TestStreamPriorityScheduler(t *testing.T) {
	c, _ := newPair(t, bigLimits(), bigLimits())
	ids := make([]uint64, 6)
	for i := range ids {
		ids[i], _ = c.open(false) // 0 4 8 12 16 20
	}
	// 0: u3 non-incremental, 4: u1 incremental, 8: u1 incremental,
	// 12: u1 non-incremental, 16: u5 incremental, 20: u1 non-incremental.
	prio := []struct {
		u   uint8
		inc bool
	}{{3, false}, {1, true}, {1, true}, {1, false}, {5, true}, {1, false}}
	for i, p := range prio {
		if err := c.setPriority(ids[i], p.u, p.inc); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.setPriority(ids[0], 8, false); !errors.Is(err, engineResult(errnoINVAL)) {
		t.Fatalf("urgency 8: %v", err)
	}
	// Write in reverse so the queue order is not the write order.
	for i := len(ids) - 1; i >= 0; i-- {
		if _, err := c.write(ids[i], make([]byte, 300), true); err != nil {
			t.Fatal(err)
		}
	}
	var order []uint64
	for {
		p := c.build(150) // one frame of ~140 bytes per packet
		if p == nil {
			break
		}
		for _, f := range p.Frames {
			order = append(order, f.ID)
		}
	}
	// Urgency 1: non-incremental 12 then 20 to completion, then 4 and 8
	// round robin (8 was queued first); then urgency 3 (0), then
	// urgency 5 (16).
	var want []uint64
	per := 0
	for _, f := range order {
		if f == 12 {
			per++
		}
	}
	if per < 2 {
		t.Fatalf("stream 12 took %d frames; order %v", per, order)
	}
	add := func(id uint64, n int) {
		for i := 0; i < n; i++ {
			want = append(want, id)
		}
	}
	add(12, per)
	add(20, per)
	for i := 0; i < per; i++ {
		want = append(want, 8, 4)
	}
	add(0, per)
	add(16, per)
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

// Random fragmentation, overlap, duplication and reordering of one stream
// through a bare reassembly buffer.
func TestReassemblyRandom(t *testing.T) {
	base := liveBufs()
	for seed := int64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		size := 1 + rng.Intn(1<<16)
		src := make([]byte, size)
		rng.Read(src)
		const memLimit = 1 << 20
		r := newReasm(memLimit, 4096)
		type frag struct{ off, n int }
		var frags []frag
		for off := 0; off < size; {
			n := 1 + rng.Intn(1500)
			if off+n > size {
				n = size - off
			}
			frags = append(frags, frag{off, n})
			// Overlapping extra pieces and duplicates.
			if rng.Intn(4) == 0 {
				o := off - rng.Intn(off+1)
				m := 1 + rng.Intn(3000)
				if o+m > size {
					m = size - o
				}
				frags = append(frags, frag{o, m})
			}
			if rng.Intn(8) == 0 {
				frags = append(frags, frag{off, n})
			}
			off += n
		}
		rng.Shuffle(len(frags), func(i, j int) { frags[i], frags[j] = frags[j], frags[i] })
		var got []byte
		for _, f := range frags {
			zc := rng.Intn(2) == 0
			pad := rng.Intn(64)
			if res := r.insert(uint64(f.off), src[f.off:f.off+f.n], zc, pad, 2048); res != 0 {
				t.Fatalf("seed %d: insert: %v", seed, res)
			}
			if r.mem() > memLimit {
				t.Fatalf("seed %d: mem %d above limit", seed, r.mem())
			}
			if rng.Intn(3) == 0 {
				got = append(got, r.read(rng.Intn(4000))...)
			}
		}
		got = append(got, r.read(size)...)
		if !bytes.Equal(got, src) {
			t.Fatalf("seed %d: reassembled %d bytes differ from %d", seed, len(got), size)
		}
		if r.frags() != 0 || r.buffered() != 0 || r.mem() != 0 {
			t.Fatalf("seed %d: left %d frags %d bytes mem %d", seed, r.frags(), r.buffered(), r.mem())
		}
		r.free()
	}
	if liveBufs() != base {
		t.Fatalf("buffers leaked: %d", liveBufs()-base)
	}
}

// Tiny fragments in big buffers: collapse keeps memory bounded and a flood
// of gaps ends in -ENOBUFS (drop the packet) instead of growing.
func TestReassemblyHostileFragments(t *testing.T) {
	base := liveBufs()
	const memLimit = 256 << 10
	r := newReasm(memLimit, 512)
	nobufs := 0
	stored := 0
	for i := 0; i < 20000; i++ {
		// One byte every other offset, each pinning a 2 KB packet buffer.
		res := r.insert(uint64(1+2*i), []byte{byte(i)}, true, 100, 2048)
		switch {
		case res == 0:
			stored++
		case int(res) == errnoNOBUFS:
			nobufs++
		default:
			t.Fatalf("insert %d: %v", i, res)
		}
		if r.mem() > memLimit || r.frags() > 512 {
			t.Fatalf("insert %d: mem %d frags %d", i, r.mem(), r.frags())
		}
	}
	if nobufs == 0 || stored < 200 {
		t.Fatalf("stored %d, dropped %d", stored, nobufs)
	}
	// In-order data keeps flowing: fill the first gaps and read.
	if res := r.insert(0, []byte{0xaa}, true, 0, 2048); res != 0 {
		t.Fatal(res)
	}
	if r.readable() != 2 {
		t.Fatalf("readable %d", r.readable())
	}
	if got := r.read(10); len(got) != 2 || got[0] != 0xaa || got[1] != 0 {
		t.Fatalf("read %x", got)
	}
	r.free()
	if liveBufs() != base {
		t.Fatalf("buffers leaked: %d", liveBufs()-base)
	}

	// Contiguous tiny frames are merged by collapse, so a full window of
	// them fits.
	r = newReasm(64<<10+65536, 64)
	for i := 0; i < 30000; i++ {
		if res := r.insert(uint64(i+1), []byte{byte(i + 1)}, true, 0, 2048); res != 0 {
			t.Fatalf("contiguous insert %d: %v (mem %d frags %d)", i, res, r.mem(), r.frags())
		}
	}
	if res := r.insert(0, []byte{0}, false, 0, 0); res != 0 {
		t.Fatal(res)
	}
	got := r.read(40000)
	if len(got) != 30001 {
		t.Fatalf("read %d", len(got))
	}
	for i := range got {
		if got[i] != byte(i) {
			t.Fatalf("byte %d = %d", i, got[i])
		}
	}
	r.free()
	if liveBufs() != base {
		t.Fatalf("buffers leaked: %d", liveBufs()-base)
	}
}

func TestCryptoStream(t *testing.T) {
	base := liveBufs()
	cs := newEngineCrypto(4096, 1<<16)
	msg := make([]byte, 5000)
	rand.New(rand.NewSource(7)).Read(msg)
	wantCode(t, "beyond the cap", cs.onFrame(4000, msg[4000:4100]), codeCryptoBufferExc)
	wantOK(t, "tail within cap", cs.onFrame(2000, msg[2000:4096]))
	wantOK(t, "head", cs.onFrame(0, msg[:2000]))
	got := cs.read(4096)
	if !bytes.Equal(got, msg[:4096]) {
		t.Fatal("crypto reassembly")
	}
	wantOK(t, "rest after reading", cs.onFrame(4096, msg[4096:]))
	if got = cs.read(5000); !bytes.Equal(got, msg[4096:]) {
		t.Fatal("crypto rest")
	}
	// Flood of out-of-order 1-byte frames within the cap stays bounded.
	for i := 0; i < 4000; i++ {
		res := cs.onFrame(uint64(5002+2*i), []byte{1})
		if res != 0 && uint64(res) != codeCryptoBufferExc && int(res) != errnoNOBUFS {
			t.Fatalf("flood %d: %v", i, res)
		}
	}
	if cs.rxMem() > 2*4096+65536 {
		t.Fatalf("crypto rx mem %d", cs.rxMem())
	}
	cs.free()

	// Sending with loss: every byte arrives exactly as written.
	tx := newEngineCrypto(1<<16, 1<<16)
	rx := newEngineCrypto(1<<16, 1<<16)
	if err := tx.write(msg); err != nil {
		t.Fatal(err)
	}
	if err := tx.write(make([]byte, 1<<17)); !errors.Is(err, engineResult(errnoNOSPC)) {
		t.Fatalf("oversized crypto write: %v", err)
	}
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 1000 && tx.pending(); i++ {
		frame, off, n := tx.build(300 + rng.Intn(900))
		if frame == nil {
			t.Fatal("pending but no frame")
		}
		if rng.Intn(3) == 0 {
			tx.lost(off, n)
			continue
		}
		// Frame bytes: type, offset, length, data.
		data := frame[len(frame)-int(n):]
		wantOK(t, "crypto frame", rx.onFrame(off, data))
		tx.acked(off, n)
	}
	if tx.pending() {
		t.Fatal("crypto data still pending")
	}
	if got = rx.read(1 << 16); !bytes.Equal(got, msg) {
		t.Fatalf("crypto transfer: %d bytes", len(got))
	}
	tx.free()
	rx.free()
	if liveBufs() != base {
		t.Fatalf("buffers leaked: %d", liveBufs()-base)
	}
}

// TestCryptoStreamIdleRebuild: a CRYPTO stream is idle only with nothing
// unread and nothing unacknowledged, and one rebuilt from its two offsets
// carries on where it stopped (a parked connection's 1-RTT stream).
func TestCryptoStreamIdleRebuild(t *testing.T) {
	base := liveBufs()
	msg := []byte("a NewSessionTicket, say")
	tx := newEngineCrypto(4096, 1<<16)
	rx := newEngineCrypto(4096, 1<<16)
	if !tx.idle() || !rx.idle() {
		t.Fatal("new streams not idle")
	}
	if err := tx.write(msg); err != nil {
		t.Fatal(err)
	}
	frame, off, n := tx.build(1200)
	if frame == nil || off != 0 || n != uint64(len(msg)) || tx.idle() {
		t.Fatalf("first frame %d+%d, idle %v", off, n, tx.idle())
	}
	wantOK(t, "frame", rx.onFrame(off, frame[len(frame)-int(n):]))
	if rx.idle() {
		t.Fatal("unread data, yet idle")
	}
	if got := rx.read(4096); !bytes.Equal(got, msg) {
		t.Fatalf("read %q", got)
	}
	tx.acked(0, n)
	if !tx.idle() || !rx.idle() {
		t.Fatalf("idle after ack and read: tx %v rx %v", tx.idle(), rx.idle())
	}
	_, txOff := tx.offsets()
	rxOff, _ := rx.offsets()
	tx.free()
	rx.free()

	tx = newEngineCryptoAt(4096, 1<<16, 0, txOff)
	rx = newEngineCryptoAt(4096, 1<<16, rxOff, 0)
	// Late news of the old bytes changes nothing.
	tx.lost(0, n)
	tx.acked(0, n)
	wantOK(t, "old frame again", rx.onFrame(0, msg))
	if tx.pending() || len(rx.read(4096)) != 0 || !tx.idle() || !rx.idle() {
		t.Fatal("old bytes resurfaced after the rebuild")
	}
	more := []byte("and a KeyUpdate")
	if err := tx.write(more); err != nil {
		t.Fatal(err)
	}
	frame, off, n = tx.build(1200)
	if frame == nil || off != txOff || n != uint64(len(more)) {
		t.Fatalf("rebuilt stream sent %d+%d, want %d+%d", off, n, txOff, len(more))
	}
	wantOK(t, "next frame", rx.onFrame(off, frame[len(frame)-int(n):]))
	if got := rx.read(4096); !bytes.Equal(got, more) {
		t.Fatalf("read after the rebuild %q", got)
	}
	tx.free()
	rx.free()
	if liveBufs() != base {
		t.Fatalf("live buffers %d, want %d", liveBufs(), base)
	}
}
