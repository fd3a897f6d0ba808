package bridge

/*
#cgo CFLAGS: -I${SRCDIR}/../kmod/core
#include <stdlib.h>
#include "frame.h"
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"
)

// QUIC transport error codes (RFC 9000 section 20.1) the codecs report.
const (
	CodeFrameEncodingError      = uint64(C.TQUIC_ERR_FRAME_ENCODING_ERROR)
	CodeTransportParameterError = uint64(C.TQUIC_ERR_TRANSPORT_PARAMETER_ERROR)
	CodeProtocolViolation       = uint64(C.TQUIC_ERR_PROTOCOL_VIOLATION)
)

// WireError is a QUIC connection error found while decoding wire data: Code
// is the QUIC transport error code to close the connection with.
type WireError struct {
	Code   uint64
	Reason string
}

func (e *WireError) Error() string {
	return fmt.Sprintf("%s (%s)", e.Reason, errorCodeName(e.Code))
}

func errorCodeName(code uint64) string {
	switch code {
	case CodeFrameEncodingError:
		return "FRAME_ENCODING_ERROR"
	case CodeTransportParameterError:
		return "TRANSPORT_PARAMETER_ERROR"
	case CodeProtocolViolation:
		return "PROTOCOL_VIOLATION"
	}
	return fmt.Sprintf("transport error 0x%x", code)
}

// ErrorCode returns the QUIC transport error code carried by err (a
// *WireError anywhere in its chain), or false.
func ErrorCode(err error) (uint64, bool) {
	var we *WireError
	if errors.As(err, &we) {
		return we.Code, true
	}
	return 0, false
}

// FrameType is a QUIC frame type.
type FrameType uint64

// Frame types: RFC 9000, RFC 9221 (DATAGRAM), reliable stream reset,
// draft-ietf-quic-multipath-21, draft-ietf-quic-ack-frequency and
// draft-seemann-quic-accurate-ack-ecn-01.  STREAM frames use the types
// FrameStream|OFF|LEN|FIN (0x08..0x0f).
const (
	FramePadding                FrameType = C.TQUIC_FT_PADDING
	FramePing                   FrameType = C.TQUIC_FT_PING
	FrameAck                    FrameType = C.TQUIC_FT_ACK
	FrameAckECN                 FrameType = C.TQUIC_FT_ACK_ECN
	FrameResetStream            FrameType = C.TQUIC_FT_RESET_STREAM
	FrameStopSending            FrameType = C.TQUIC_FT_STOP_SENDING
	FrameCrypto                 FrameType = C.TQUIC_FT_CRYPTO
	FrameNewToken               FrameType = C.TQUIC_FT_NEW_TOKEN
	FrameStream                 FrameType = C.TQUIC_FT_STREAM
	FrameStreamFin              FrameType = C.TQUIC_FT_STREAM_FIN
	FrameStreamLen              FrameType = C.TQUIC_FT_STREAM_LEN
	FrameStreamOff              FrameType = C.TQUIC_FT_STREAM_OFF
	FrameMaxData                FrameType = C.TQUIC_FT_MAX_DATA
	FrameMaxStreamData          FrameType = C.TQUIC_FT_MAX_STREAM_DATA
	FrameMaxStreamsBidi         FrameType = C.TQUIC_FT_MAX_STREAMS_BIDI
	FrameMaxStreamsUni          FrameType = C.TQUIC_FT_MAX_STREAMS_UNI
	FrameDataBlocked            FrameType = C.TQUIC_FT_DATA_BLOCKED
	FrameStreamDataBlocked      FrameType = C.TQUIC_FT_STREAM_DATA_BLOCKED
	FrameStreamsBlockedBidi     FrameType = C.TQUIC_FT_STREAMS_BLOCKED_BIDI
	FrameStreamsBlockedUni      FrameType = C.TQUIC_FT_STREAMS_BLOCKED_UNI
	FrameNewConnectionID        FrameType = C.TQUIC_FT_NEW_CONNECTION_ID
	FrameRetireConnectionID     FrameType = C.TQUIC_FT_RETIRE_CONNECTION_ID
	FramePathChallenge          FrameType = C.TQUIC_FT_PATH_CHALLENGE
	FramePathResponse           FrameType = C.TQUIC_FT_PATH_RESPONSE
	FrameConnectionClose        FrameType = C.TQUIC_FT_CONNECTION_CLOSE
	FrameConnectionCloseApp     FrameType = C.TQUIC_FT_CONNECTION_CLOSE_APP
	FrameHandshakeDone          FrameType = C.TQUIC_FT_HANDSHAKE_DONE
	FrameImmediateAck           FrameType = C.TQUIC_FT_IMMEDIATE_ACK
	FrameResetStreamAt          FrameType = C.TQUIC_FT_RESET_STREAM_AT
	FrameDatagram               FrameType = C.TQUIC_FT_DATAGRAM
	FrameDatagramLen            FrameType = C.TQUIC_FT_DATAGRAM_LEN
	FramePathAck                FrameType = C.TQUIC_FT_PATH_ACK
	FramePathAckECN             FrameType = C.TQUIC_FT_PATH_ACK_ECN
	FrameAckFrequency           FrameType = C.TQUIC_FT_ACK_FREQUENCY
	FramePathAbandon            FrameType = C.TQUIC_FT_PATH_ABANDON
	FramePathStatusBackup       FrameType = C.TQUIC_FT_PATH_STATUS_BACKUP
	FramePathStatusAvailable    FrameType = C.TQUIC_FT_PATH_STATUS_AVAILABLE
	FramePathNewConnectionID    FrameType = C.TQUIC_FT_PATH_NEW_CONNECTION_ID
	FramePathRetireConnectionID FrameType = C.TQUIC_FT_PATH_RETIRE_CONNECTION_ID
	FrameMaxPathID              FrameType = C.TQUIC_FT_MAX_PATH_ID
	FramePathsBlocked           FrameType = C.TQUIC_FT_PATHS_BLOCKED
	FramePathCIDsBlocked        FrameType = C.TQUIC_FT_PATH_CIDS_BLOCKED
	FrameAccurateAckECN         FrameType = C.TQUIC_FT_ACCURATE_ACK_ECN
	frameStreamLast             FrameType = FrameStream | FrameStreamOff | FrameStreamLen | FrameStreamFin
	maxPathID                             = uint64(C.TQUIC_MAX_PATH_ID)
	resetTokenLen                         = C.TQUIC_RESET_TOKEN_LEN
	pathChallengeLen                      = C.TQUIC_PATH_CHALLENGE_LEN
	maxVarint                             = uint64(1)<<62 - 1
	frameEncodeOverhead                   = 128
)

var frameNames = map[FrameType]string{
	FramePadding:                "PADDING",
	FramePing:                   "PING",
	FrameAck:                    "ACK",
	FrameAckECN:                 "ACK_ECN",
	FrameResetStream:            "RESET_STREAM",
	FrameStopSending:            "STOP_SENDING",
	FrameCrypto:                 "CRYPTO",
	FrameNewToken:               "NEW_TOKEN",
	FrameMaxData:                "MAX_DATA",
	FrameMaxStreamData:          "MAX_STREAM_DATA",
	FrameMaxStreamsBidi:         "MAX_STREAMS_BIDI",
	FrameMaxStreamsUni:          "MAX_STREAMS_UNI",
	FrameDataBlocked:            "DATA_BLOCKED",
	FrameStreamDataBlocked:      "STREAM_DATA_BLOCKED",
	FrameStreamsBlockedBidi:     "STREAMS_BLOCKED_BIDI",
	FrameStreamsBlockedUni:      "STREAMS_BLOCKED_UNI",
	FrameNewConnectionID:        "NEW_CONNECTION_ID",
	FrameRetireConnectionID:     "RETIRE_CONNECTION_ID",
	FramePathChallenge:          "PATH_CHALLENGE",
	FramePathResponse:           "PATH_RESPONSE",
	FrameConnectionClose:        "CONNECTION_CLOSE",
	FrameConnectionCloseApp:     "CONNECTION_CLOSE_APP",
	FrameHandshakeDone:          "HANDSHAKE_DONE",
	FrameImmediateAck:           "IMMEDIATE_ACK",
	FrameResetStreamAt:          "RESET_STREAM_AT",
	FrameDatagram:               "DATAGRAM",
	FrameDatagramLen:            "DATAGRAM_LEN",
	FramePathAck:                "PATH_ACK",
	FramePathAckECN:             "PATH_ACK_ECN",
	FrameAckFrequency:           "ACK_FREQUENCY",
	FramePathAbandon:            "PATH_ABANDON",
	FramePathStatusBackup:       "PATH_STATUS_BACKUP",
	FramePathStatusAvailable:    "PATH_STATUS_AVAILABLE",
	FramePathNewConnectionID:    "PATH_NEW_CONNECTION_ID",
	FramePathRetireConnectionID: "PATH_RETIRE_CONNECTION_ID",
	FrameMaxPathID:              "MAX_PATH_ID",
	FramePathsBlocked:           "PATHS_BLOCKED",
	FramePathCIDsBlocked:        "PATH_CIDS_BLOCKED",
	FrameAccurateAckECN:         "ACCURATE_ACK_ECN",
}

func (t FrameType) String() string {
	if t.IsStream() {
		return fmt.Sprintf("STREAM(0x%02x)", uint64(t))
	}
	if n, ok := frameNames[t]; ok {
		return n
	}
	return fmt.Sprintf("frame(0x%x)", uint64(t))
}

// IsStream reports whether t is one of the STREAM types 0x08..0x0f.
func (t FrameType) IsStream() bool { return t >= FrameStream && t <= frameStreamLast }

// IsAck reports whether t is ACK, ACK_ECN, PATH_ACK, PATH_ACK_ECN or
// ACCURATE_ACK_ECN.
func (t FrameType) IsAck() bool { return bool(C.tquic_frame_type_is_ack(C.u64(t))) }

// PacketTypes is a set of packet types (FramePkt* bits).
type PacketTypes uint32

// Packet types of RFC 9000 table 3.
const (
	FramePktInitial   PacketTypes = C.TQUIC_FRAME_PKT_INITIAL
	FramePkt0RTT      PacketTypes = C.TQUIC_FRAME_PKT_0RTT
	FramePktHandshake PacketTypes = C.TQUIC_FRAME_PKT_HANDSHAKE
	FramePkt1RTT      PacketTypes = C.TQUIC_FRAME_PKT_1RTT
)

func (t FrameType) info() uint32 { return uint32(C.tquic_frame_info(C.u64(t))) }

// Known reports whether the engine parses frames of type t.
func (t FrameType) Known() bool { return t.info()&C.TQUIC_FRAME_F_KNOWN != 0 }

// PacketTypes returns the packet types frames of type t may appear in.
func (t FrameType) PacketTypes() PacketTypes {
	return PacketTypes(t.info() & C.TQUIC_FRAME_PKT_ALL)
}

// AllowedIn reports whether t may appear in a packet of type pkt.
func (t FrameType) AllowedIn(pkt PacketTypes) bool {
	return bool(C.tquic_frame_allowed_in(C.u64(t), C.u32(pkt)))
}

// AckEliciting reports whether frames of type t elicit an acknowledgement.
func (t FrameType) AckEliciting() bool { return bool(C.tquic_frame_is_ack_eliciting(C.u64(t))) }

// InFlight reports whether frames of type t count toward bytes in flight.
func (t FrameType) InFlight() bool { return bool(C.tquic_frame_in_flight(C.u64(t))) }

// Probing reports whether t is a probing frame (RFC 9000 section 9.1).
func (t FrameType) Probing() bool { return bool(C.tquic_frame_is_probing(C.u64(t))) }

// FlowControlled reports whether t is subject to flow control (STREAM).
func (t FrameType) FlowControlled() bool { return t.info()&C.TQUIC_FRAME_F_FLOW_CONTROLLED != 0 }

// AckRange is a range of acknowledged packet numbers, both ends included.
// ECN is the range's ECN mark in ACCURATE_ACK_ECN frames (0 Not-ECT,
// 1 ECT(1), 2 ECT(0), 3 CE).
type AckRange struct {
	Smallest, Largest uint64
	ECN               uint8
}

// Frame is a decoded QUIC frame.  Which fields are meaningful depends on
// Type; the others are zero.  Byte slices of decoded frames alias the
// decoded payload.
type Frame struct {
	Type FrameType
	// PaddingLen is the length of a PADDING run (decoded as one frame).
	PaddingLen uint64
	// StreamID: STREAM, RESET_STREAM(_AT), STOP_SENDING, MAX_STREAM_DATA,
	// STREAM_DATA_BLOCKED.
	StreamID uint64
	// Offset: STREAM, CRYPTO.  Encoding a STREAM frame with a non-zero
	// Offset sets the OFF bit; the LEN bit is taken from Type.
	Offset uint64
	// Fin: STREAM.  Encoding takes the FIN bit from Fin, not from Type.
	Fin bool
	// Data: STREAM, CRYPTO and DATAGRAM data, NEW_TOKEN token,
	// CONNECTION_CLOSE reason phrase.
	Data []byte
	// ErrorCode: RESET_STREAM(_AT), STOP_SENDING, CONNECTION_CLOSE,
	// PATH_ABANDON.
	ErrorCode uint64
	// FinalSize and ReliableSize: RESET_STREAM(_AT).
	FinalSize, ReliableSize uint64
	// Maximum: MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS, DATA_BLOCKED,
	// STREAM_DATA_BLOCKED, STREAMS_BLOCKED, MAX_PATH_ID, PATHS_BLOCKED.
	Maximum uint64
	// PathID: PATH_ACK(_ECN) and the multipath frames.
	PathID uint64
	// Sequence: (PATH_)NEW_CONNECTION_ID, (PATH_)RETIRE_CONNECTION_ID,
	// PATH_STATUS_*, PATH_CIDS_BLOCKED (next sequence), ACK_FREQUENCY.
	Sequence uint64
	// RetirePriorTo, ConnectionID, StatelessResetToken:
	// (PATH_)NEW_CONNECTION_ID.
	RetirePriorTo       uint64
	ConnectionID        []byte
	StatelessResetToken [16]byte
	// PathData: PATH_CHALLENGE, PATH_RESPONSE.
	PathData [8]byte
	// ClosingFrameType: CONNECTION_CLOSE (0x1c).
	ClosingFrameType uint64
	// AckDelay, AckRanges (largest first), ECT0, ECT1, CE: the ACK family.
	AckDelay       uint64
	AckRanges      []AckRange
	ECT0, ECT1, CE uint64
	// ACK_FREQUENCY fields; RequestMaxAckDelay is in microseconds.
	AckElicitingThreshold uint64
	RequestMaxAckDelay    uint64
	ReorderingThreshold   uint64
}

// cBytes copies b into C memory of exactly len(b) bytes (so that sanitizers
// catch any overread); free with C.free.
func cBytes(b []byte) unsafe.Pointer {
	p := C.malloc(C.size_t(max(len(b), 1)))
	copy(unsafe.Slice((*byte)(p), len(b)), b)
	return p
}

// frameDecoder decodes the frames of one payload, copied into C memory so
// that the C side never sees Go pointers.
type frameDecoder struct {
	payload []byte
	cbuf    unsafe.Pointer
	cur     C.struct_tquic_cursor
}

func newFrameDecoder(payload []byte) *frameDecoder {
	d := &frameDecoder{payload: payload, cbuf: cBytes(payload)}
	C.tquic_cursor_init(&d.cur, (*C.u8)(d.cbuf), C.size_t(len(payload)))
	return d
}

func (d *frameDecoder) free() { C.free(d.cbuf) }

func (d *frameDecoder) offset() int { return len(d.payload) - int(d.cur.left) }

func (d *frameDecoder) more() bool { return d.cur.left > 0 }

// slice maps a pointer into the C copy back onto the Go payload.
func (d *frameDecoder) slice(p *C.u8, n C.u64) []byte {
	if p == nil {
		return nil
	}
	off := int(uintptr(unsafe.Pointer(p)) - uintptr(d.cbuf))
	return d.payload[off : off+int(n) : off+int(n)]
}

func unionOf[T any](f *C.struct_tquic_frame) *T {
	return (*T)(unsafe.Pointer(&f.u[0]))
}

// next decodes one frame.
func (d *frameDecoder) next() (Frame, error) {
	var cf C.struct_tquic_frame
	var why *C.char
	cur := d.cur
	if rc := C.tquic_frame_decode(&cur, &cf, &why); rc != 0 {
		return Frame{}, &WireError{Code: uint64(rc), Reason: C.GoString(why)}
	}
	d.cur = cur
	return d.toGo(&cf)
}

func (d *frameDecoder) toGo(cf *C.struct_tquic_frame) (Frame, error) {
	t := FrameType(cf._type)
	f := Frame{Type: t}
	switch {
	case t == FramePadding:
		f.PaddingLen = uint64(unionOf[C.struct_tquic_frame_padding](cf).len)
	case t.IsAck():
		a := unionOf[C.struct_tquic_frame_ack](cf)
		f.PathID = uint64(a.path_id)
		f.AckDelay = uint64(a.delay)
		f.ECT0, f.ECT1, f.CE = uint64(a.ect0), uint64(a.ect1), uint64(a.ce)
		var it C.struct_tquic_ack_iter
		var r C.struct_tquic_ack_range
		C.tquic_ack_iter_init(&it, cf._type, a)
		for C.tquic_ack_iter_next(&it, &r) {
			f.AckRanges = append(f.AckRanges, AckRange{
				Smallest: uint64(r.smallest), Largest: uint64(r.largest), ECN: uint8(r.ecn),
			})
		}
		if uint64(len(f.AckRanges)) != uint64(a.range_count)+1 ||
			f.AckRanges[len(f.AckRanges)-1].Smallest != uint64(a.smallest) {
			return Frame{}, fmt.Errorf("%v: range iterator disagrees with the decoder", t)
		}
	case t.IsStream():
		s := unionOf[C.struct_tquic_frame_stream](cf)
		f.StreamID, f.Offset, f.Fin = uint64(s.id), uint64(s.offset), bool(s.fin)
		f.Data = d.slice(s.data, s.len)
	case t == FrameCrypto, t == FrameNewToken, t == FrameDatagram, t == FrameDatagramLen:
		dd := unionOf[C.struct_tquic_frame_data](cf)
		f.Offset = uint64(dd.offset)
		f.Data = d.slice(dd.data, dd.len)
	case t == FrameResetStream, t == FrameResetStreamAt, t == FrameStopSending:
		r := unionOf[C.struct_tquic_frame_reset](cf)
		f.StreamID, f.ErrorCode = uint64(r.id), uint64(r.error_code)
		f.FinalSize, f.ReliableSize = uint64(r.final_size), uint64(r.reliable_size)
	case t == FrameMaxData, t == FrameMaxStreamData, t == FrameMaxStreamsBidi, t == FrameMaxStreamsUni,
		t == FrameDataBlocked, t == FrameStreamDataBlocked, t == FrameStreamsBlockedBidi,
		t == FrameStreamsBlockedUni, t == FrameMaxPathID, t == FramePathsBlocked:
		l := unionOf[C.struct_tquic_frame_limit](cf)
		f.StreamID, f.Maximum = uint64(l.id), uint64(l.max)
	case t == FrameNewConnectionID, t == FramePathNewConnectionID:
		n := unionOf[C.struct_tquic_frame_new_cid](cf)
		f.PathID, f.Sequence, f.RetirePriorTo = uint64(n.path_id), uint64(n.seq), uint64(n.retire_prior_to)
		f.ConnectionID = d.slice(n.cid, C.u64(n.cid_len))
		copy(f.StatelessResetToken[:], d.slice(n.reset_token, resetTokenLen))
	case t == FrameRetireConnectionID, t == FramePathRetireConnectionID, t == FramePathStatusBackup,
		t == FramePathStatusAvailable, t == FramePathCIDsBlocked:
		ps := unionOf[C.struct_tquic_frame_path_seq](cf)
		f.PathID, f.Sequence = uint64(ps.path_id), uint64(ps.seq)
	case t == FramePathAbandon:
		ps := unionOf[C.struct_tquic_frame_path_seq](cf)
		f.PathID, f.ErrorCode = uint64(ps.path_id), uint64(ps.seq)
	case t == FramePathChallenge, t == FramePathResponse:
		copy(f.PathData[:], d.slice(unionOf[C.struct_tquic_frame_path_probe](cf).data, pathChallengeLen))
	case t == FrameConnectionClose, t == FrameConnectionCloseApp:
		c := unionOf[C.struct_tquic_frame_close](cf)
		f.ErrorCode, f.ClosingFrameType = uint64(c.error_code), uint64(c.frame_type)
		f.Data = d.slice(c.reason, c.reason_len)
	case t == FrameAckFrequency:
		af := unionOf[C.struct_tquic_frame_ack_freq](cf)
		f.Sequence = uint64(af.seq)
		f.AckElicitingThreshold = uint64(af.ack_eliciting_threshold)
		f.RequestMaxAckDelay = uint64(af.request_max_ack_delay)
		f.ReorderingThreshold = uint64(af.reordering_threshold)
	case t == FramePing, t == FrameHandshakeDone, t == FrameImmediateAck:
	default:
		return Frame{}, fmt.Errorf("%v: decoded but not mapped to Go", t)
	}
	return f, nil
}

// DecodeFrames decodes every frame of a decrypted packet payload.  Errors
// carry the QUIC error code (see ErrorCode); a payload without frames is a
// PROTOCOL_VIOLATION (RFC 9000 section 12.4).
func DecodeFrames(payload []byte) ([]Frame, error) {
	if len(payload) == 0 {
		return nil, &WireError{Code: CodeProtocolViolation, Reason: "packet without frames"}
	}
	d := newFrameDecoder(payload)
	defer d.free()
	var frames []Frame
	for d.more() {
		off := d.offset()
		f, err := d.next()
		if err != nil {
			return frames, fmt.Errorf("decode frame %d at offset %d: %w", len(frames), off, err)
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// cArena holds the C copies of a frame's byte fields while it is encoded.
type cArena struct{ ptrs []unsafe.Pointer }

func (a *cArena) bytes(b []byte) *C.u8 {
	p := cBytes(b)
	a.ptrs = append(a.ptrs, p)
	return (*C.u8)(p)
}

func (a *cArena) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
}

// toC fills cf from f, copying byte fields into the arena.
func (f *Frame) toC(cf *C.struct_tquic_frame, a *cArena) error {
	t := f.Type
	cf._type = C.u64(t)
	switch {
	case t == FramePadding:
		unionOf[C.struct_tquic_frame_padding](cf).len = C.u64(f.PaddingLen)
	case t.IsAck():
		ca := unionOf[C.struct_tquic_frame_ack](cf)
		ca.path_id, ca.delay = C.u64(f.PathID), C.u64(f.AckDelay)
		ca.ect0, ca.ect1, ca.ce = C.u64(f.ECT0), C.u64(f.ECT1), C.u64(f.CE)
		n := len(f.AckRanges)
		size := int(unsafe.Sizeof(C.struct_tquic_ack_range{}))
		p := C.malloc(C.size_t(n*size + 1))
		a.ptrs = append(a.ptrs, p)
		list := unsafe.Slice((*C.struct_tquic_ack_range)(p), n)
		for i, r := range f.AckRanges {
			list[i] = C.struct_tquic_ack_range{smallest: C.u64(r.Smallest), largest: C.u64(r.Largest), ecn: C.u8(r.ECN)}
		}
		ca.list, ca.list_len = (*C.struct_tquic_ack_range)(p), C.size_t(n)
	case t.IsStream():
		s := unionOf[C.struct_tquic_frame_stream](cf)
		s.id, s.offset, s.fin = C.u64(f.StreamID), C.u64(f.Offset), C.bool(f.Fin)
		s.data, s.len = a.bytes(f.Data), C.u64(len(f.Data))
	case t == FrameCrypto, t == FrameNewToken, t == FrameDatagram, t == FrameDatagramLen:
		dd := unionOf[C.struct_tquic_frame_data](cf)
		dd.offset, dd.data, dd.len = C.u64(f.Offset), a.bytes(f.Data), C.u64(len(f.Data))
	case t == FrameResetStream, t == FrameResetStreamAt, t == FrameStopSending:
		r := unionOf[C.struct_tquic_frame_reset](cf)
		r.id, r.error_code = C.u64(f.StreamID), C.u64(f.ErrorCode)
		r.final_size, r.reliable_size = C.u64(f.FinalSize), C.u64(f.ReliableSize)
	case t == FrameMaxData, t == FrameMaxStreamData, t == FrameMaxStreamsBidi, t == FrameMaxStreamsUni,
		t == FrameDataBlocked, t == FrameStreamDataBlocked, t == FrameStreamsBlockedBidi,
		t == FrameStreamsBlockedUni, t == FrameMaxPathID, t == FramePathsBlocked:
		l := unionOf[C.struct_tquic_frame_limit](cf)
		l.id, l.max = C.u64(f.StreamID), C.u64(f.Maximum)
	case t == FrameNewConnectionID, t == FramePathNewConnectionID:
		if len(f.ConnectionID) > 255 {
			return fmt.Errorf("%v: connection ID of %d bytes", t, len(f.ConnectionID))
		}
		n := unionOf[C.struct_tquic_frame_new_cid](cf)
		n.path_id, n.seq, n.retire_prior_to = C.u64(f.PathID), C.u64(f.Sequence), C.u64(f.RetirePriorTo)
		n.cid, n.cid_len = a.bytes(f.ConnectionID), C.u8(len(f.ConnectionID))
		n.reset_token = a.bytes(f.StatelessResetToken[:])
	case t == FrameRetireConnectionID, t == FramePathRetireConnectionID, t == FramePathStatusBackup,
		t == FramePathStatusAvailable, t == FramePathCIDsBlocked:
		ps := unionOf[C.struct_tquic_frame_path_seq](cf)
		ps.path_id, ps.seq = C.u64(f.PathID), C.u64(f.Sequence)
	case t == FramePathAbandon:
		ps := unionOf[C.struct_tquic_frame_path_seq](cf)
		ps.path_id, ps.seq = C.u64(f.PathID), C.u64(f.ErrorCode)
	case t == FramePathChallenge, t == FramePathResponse:
		unionOf[C.struct_tquic_frame_path_probe](cf).data = a.bytes(f.PathData[:])
	case t == FrameConnectionClose, t == FrameConnectionCloseApp:
		c := unionOf[C.struct_tquic_frame_close](cf)
		c.error_code, c.frame_type = C.u64(f.ErrorCode), C.u64(f.ClosingFrameType)
		c.reason, c.reason_len = a.bytes(f.Data), C.u64(len(f.Data))
	case t == FrameAckFrequency:
		af := unionOf[C.struct_tquic_frame_ack_freq](cf)
		af.seq = C.u64(f.Sequence)
		af.ack_eliciting_threshold = C.u64(f.AckElicitingThreshold)
		af.request_max_ack_delay = C.u64(f.RequestMaxAckDelay)
		af.reordering_threshold = C.u64(f.ReorderingThreshold)
	case t == FramePing, t == FrameHandshakeDone, t == FrameImmediateAck:
	default:
		return fmt.Errorf("%v: unknown frame type", t)
	}
	return nil
}

// AppendFrame appends the wire encoding of f to b, using the engine's
// encoder (shortest varints).
func AppendFrame(b []byte, f *Frame) ([]byte, error) {
	var a cArena
	defer a.free()
	var cf C.struct_tquic_frame
	if err := f.toC(&cf, &a); err != nil {
		return b, fmt.Errorf("encode: %w", err)
	}
	bound := uint64(frameEncodeOverhead + len(f.Data) + len(f.ConnectionID) + 17*2*len(f.AckRanges))
	if f.Type == FramePadding {
		if f.PaddingLen > 1<<24 {
			return b, fmt.Errorf("encode %v: run of %d bytes too long", f.Type, f.PaddingLen)
		}
		bound += f.PaddingLen
	}
	out := C.malloc(C.size_t(bound))
	defer C.free(out)
	var w C.struct_tquic_wbuf
	C.tquic_wbuf_init(&w, (*C.u8)(out), C.size_t(bound))
	if rc := C.tquic_frame_encode(&w, &cf); rc != 0 {
		if rc == -C.EINVAL {
			return b, fmt.Errorf("encode %v: invalid frame", f.Type)
		}
		return b, fmt.Errorf("encode %v: engine error %d", f.Type, int(rc))
	}
	n := bound - uint64(w.left)
	return append(b, unsafe.Slice((*byte)(out), n)...), nil
}

// CheckFrames parses every frame of a decrypted packet payload, re-encodes
// each with the engine's encoder and compares the result with the bytes it
// was decoded from (a PADDING run is one frame).  It returns the number of
// frames; any decode error, encode error or difference is an error.
func CheckFrames(payload []byte) (frames int, err error) {
	if len(payload) == 0 {
		return 0, &WireError{Code: CodeProtocolViolation, Reason: "packet without frames"}
	}
	d := newFrameDecoder(payload)
	defer d.free()
	for d.more() {
		start := d.offset()
		f, err := d.next()
		if err != nil {
			return frames, fmt.Errorf("check frame %d at offset %d: %w", frames, start, err)
		}
		orig := payload[start:d.offset()]
		enc, err := AppendFrame(nil, &f)
		if err != nil {
			return frames, fmt.Errorf("check frame %d (%v) at offset %d: %w", frames, f.Type, start, err)
		}
		if !bytes.Equal(enc, orig) {
			return frames, fmt.Errorf("check frame %d (%v) at offset %d: re-encoded %x, original %x",
				frames, f.Type, start, enc, orig)
		}
		frames++
	}
	return frames, nil
}

// AppendStreamFrameHeader appends only the header of a STREAM frame for
// length bytes of data at offset (the OFF bit is set when offset is not
// zero, the LEN bit when withLen); the data is to follow it.
func AppendStreamFrameHeader(b []byte, id, offset, length uint64, fin, withLen bool) ([]byte, error) {
	const bound = 32
	out := C.malloc(bound)
	defer C.free(out)
	var w C.struct_tquic_wbuf
	C.tquic_wbuf_init(&w, (*C.u8)(out), bound)
	if rc := C.tquic_frame_encode_stream_hdr(&w, C.u64(id), C.u64(offset), C.u64(length), C.bool(fin), C.bool(withLen)); rc != 0 {
		return b, fmt.Errorf("encode STREAM header: invalid values (engine error %d)", int(rc))
	}
	return append(b, unsafe.Slice((*byte)(out), bound-int(w.left))...), nil
}

// StreamFrameHeaderLen returns the size of that header, or 0 when the values
// cannot be encoded.
func StreamFrameHeaderLen(id, offset, length uint64, withLen bool) int {
	return int(C.tquic_frame_stream_hdr_len(C.u64(id), C.u64(offset), C.u64(length), C.bool(withLen)))
}
