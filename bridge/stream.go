package bridge

/*
#include <stdlib.h>
#include "stream.h"
#include "flowctl.h"
#include "frame.h"
#include "buf_user.h"

// One frame of a test packet, enough to replay its acknowledgement or loss.
struct tqb_rec {
	u64 type;
	u64 id;
	u64 off;
	u64 len;
	u64 value;
	u8 fin;
};

static inline struct tquic_streams *tqb_streams_new(const struct tquic_streams_config *cfg)
{
	struct tquic_streams *s = tquic_mem_alloc(sizeof(*s), TQUIC_GFP_KERNEL);

	if (s && tquic_streams_init(s, cfg, TQUIC_GFP_KERNEL)) {
		tquic_mem_free(s);
		return NULL;
	}
	return s;
}

static inline void tqb_streams_free(struct tquic_streams *s)
{
	tquic_streams_destroy(s);
	tquic_mem_free(s);
}

static inline void tqb_rec_from_frame(struct tqb_rec *r, const struct tquic_frame *f)
{
	memset(r, 0, sizeof(*r));
	r->type = f->type;
	if (f->type == TQUIC_FT_RESET_STREAM || f->type == TQUIC_FT_STOP_SENDING) {
		r->id = f->u.reset.id;
		r->value = f->u.reset.error_code;
		r->off = f->u.reset.final_size;
	} else {
		r->id = f->u.limit.id;
		r->value = f->u.limit.max;
	}
}

static inline void tqb_rec_to_frame(const struct tqb_rec *r, struct tquic_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->type = r->type;
	if (r->type == TQUIC_FT_RESET_STREAM || r->type == TQUIC_FT_STOP_SENDING) {
		f->u.reset.id = r->id;
		f->u.reset.error_code = r->value;
		f->u.reset.final_size = r->off;
	} else {
		f->u.limit.id = r->id;
		f->u.limit.max = r->value;
	}
}

// Fills one packet payload: control frames first, then stream frames in
// scheduler order.  Returns the payload length.
static inline size_t tqb_streams_build(struct tquic_streams *s, u8 *pkt, size_t cap,
				       struct tqb_rec *recs, size_t maxrecs, size_t *nrecs)
{
	struct tquic_stream_sent sent;
	struct tquic_stream *st;
	struct tquic_frame f;
	struct tquic_wbuf w, c;
	size_t n = 0;

	tquic_wbuf_init(&w, pkt, cap);
	while (n < maxrecs && tquic_streams_next_ctrl(s, &f)) {
		c = w;
		if (tquic_frame_encode(&c, &f))
			break;
		w = c;
		tquic_streams_ctrl_sent(s, &f);
		tqb_rec_from_frame(&recs[n++], &f);
	}
	while (n < maxrecs && (st = tquic_streams_sched_next(s))) {
		if (!tquic_stream_write_frame(s, st, &w, &sent))
			break;
		recs[n].type = TQUIC_FT_STREAM;
		recs[n].id = sent.id;
		recs[n].off = sent.off;
		recs[n].len = sent.len;
		recs[n].fin = sent.fin;
		recs[n].value = 0;
		n++;
	}
	*nrecs = n;
	return cap - w.left;
}

static inline void tqb_streams_outcome(struct tquic_streams *s, const struct tqb_rec *recs,
				       size_t n, int acked)
{
	struct tquic_stream_sent sent;
	struct tquic_frame f;
	size_t i;

	for (i = 0; i < n; i++) {
		if (recs[i].type == TQUIC_FT_STREAM) {
			sent.id = recs[i].id;
			sent.off = recs[i].off;
			sent.len = recs[i].len;
			sent.fin = recs[i].fin;
			if (acked)
				tquic_streams_on_acked(s, &sent);
			else
				tquic_streams_on_lost(s, &sent);
			continue;
		}
		tqb_rec_to_frame(&recs[i], &f);
		if (acked)
			tquic_streams_ctrl_acked(s, &f);
		else
			tquic_streams_ctrl_lost(s, &f);
	}
}

// Processes the frames of one payload (in @buf when not NULL).  Returns 0,
// the first QUIC error (> 0) or -errno; *@ftype gets the failing frame type.
static inline int tqb_streams_recv(struct tquic_streams *s, struct tquic_buf *buf,
				   const u8 *pkt, size_t len, u64 now, u64 *ftype)
{
	struct tquic_cursor c;
	struct tquic_frame f;
	int err = 0;

	tquic_cursor_init(&c, pkt, len);
	while (c.left && !err) {
		err = tquic_frame_decode(&c, &f, NULL);
		if (err)
			break;
		*ftype = f.type;
		if (tquic_frame_type_is_stream(f.type)) {
			err = tquic_streams_on_stream(s, &f.u.stream, buf, now, TQUIC_GFP_ATOMIC);
			continue;
		}
		switch (f.type) {
		case TQUIC_FT_PADDING:
			break;
		case TQUIC_FT_RESET_STREAM:
			err = tquic_streams_on_reset(s, &f.u.reset, now, TQUIC_GFP_ATOMIC);
			break;
		case TQUIC_FT_STOP_SENDING:
			err = tquic_streams_on_stop_sending(s, &f.u.reset, TQUIC_GFP_ATOMIC);
			break;
		case TQUIC_FT_MAX_DATA:
			err = tquic_streams_on_max_data(s, f.u.limit.max);
			break;
		case TQUIC_FT_MAX_STREAM_DATA:
			err = tquic_streams_on_max_stream_data(s, f.u.limit.id, f.u.limit.max,
							       TQUIC_GFP_ATOMIC);
			break;
		case TQUIC_FT_MAX_STREAMS_BIDI:
		case TQUIC_FT_MAX_STREAMS_UNI:
			err = tquic_streams_on_max_streams(s, f.type == TQUIC_FT_MAX_STREAMS_UNI,
							   f.u.limit.max);
			break;
		case TQUIC_FT_DATA_BLOCKED:
			err = tquic_streams_on_data_blocked(s, f.u.limit.max);
			break;
		case TQUIC_FT_STREAM_DATA_BLOCKED:
			err = tquic_streams_on_stream_data_blocked(s, f.u.limit.id, f.u.limit.max,
								   TQUIC_GFP_ATOMIC);
			break;
		case TQUIC_FT_STREAMS_BLOCKED_BIDI:
		case TQUIC_FT_STREAMS_BLOCKED_UNI:
			err = tquic_streams_on_streams_blocked(s,
				f.type == TQUIC_FT_STREAMS_BLOCKED_UNI, f.u.limit.max);
			break;
		default:
			err = TQUIC_ERR_PROTOCOL_VIOLATION;
		}
	}
	return err;
}

static inline int tqb_stream_frame(struct tquic_streams *s, struct tquic_buf *buf, u64 id,
				   u64 off, const u8 *data, u64 len, int fin, u64 now)
{
	struct tquic_frame_stream f = {
		.id = id, .offset = off, .len = len, .data = data, .fin = !!fin,
	};

	return tquic_streams_on_stream(s, &f, buf, now, TQUIC_GFP_ATOMIC);
}

static inline int tqb_reset_frame(struct tquic_streams *s, u64 type, u64 id, u64 code,
				  u64 final_size, u64 reliable_size)
{
	struct tquic_frame_reset f = {
		.id = id, .error_code = code, .final_size = final_size,
		.reliable_size = reliable_size,
	};

	if (type == TQUIC_FT_RESET_STREAM || type == TQUIC_FT_RESET_STREAM_AT)
		return tquic_streams_on_reset(s, &f, 0, TQUIC_GFP_ATOMIC);
	return tquic_streams_on_stop_sending(s, &f, TQUIC_GFP_ATOMIC);
}

static inline struct tquic_buf *tqb_buf_from(const u8 *p, size_t len, size_t truesize)
{
	struct tquic_buf *b = tqb_buf_new(len, truesize);

	if (b && len)
		memcpy(tquic_buf_data(b), p, len);
	return b;
}

// Reassembly buffers alone.
static inline struct tquic_rbuf *tqb_rbuf_new(u64 mem_limit, u32 max_frags)
{
	struct tquic_rbuf *rb = tquic_mem_alloc(sizeof(*rb), TQUIC_GFP_KERNEL);

	if (rb)
		tquic_rbuf_init(rb, mem_limit, max_frags);
	return rb;
}

static inline void tqb_rbuf_free(struct tquic_rbuf *rb)
{
	tquic_rbuf_purge(rb);
	tquic_mem_free(rb);
}

// Inserts @len bytes at @off: copied (@zc 0) or from a host buffer of
// @truesize that holds them at @pad.
static inline int tqb_rbuf_insert(struct tquic_rbuf *rb, u64 off, const u8 *p, u64 len,
				  int zc, size_t pad, size_t truesize)
{
	struct tquic_buf *b;
	int err;

	if (!zc)
		return tquic_rbuf_insert(rb, off, p, len, NULL, TQUIC_GFP_ATOMIC);
	b = tqb_buf_new(pad + len, truesize);
	if (!b)
		return -ENOMEM;
	if (len)
		memcpy(tquic_buf_data(b) + pad, p, len);
	err = tquic_rbuf_insert(rb, off, tquic_buf_data(b) + pad, len, b, TQUIC_GFP_ATOMIC);
	tquic_buf_put(b);
	return err;
}

static inline struct tquic_crypto_stream *tqb_crypto_new(u64 cap, u64 tx_limit, u64 rx_off,
							 u64 tx_off)
{
	struct tquic_crypto_stream *cs = tquic_mem_alloc(sizeof(*cs), TQUIC_GFP_KERNEL);

	if (cs)
		tquic_crypto_stream_init(cs, cap, tx_limit, rx_off, tx_off);
	return cs;
}

static inline void tqb_crypto_free(struct tquic_crypto_stream *cs)
{
	tquic_crypto_stream_destroy(cs);
	tquic_mem_free(cs);
}

static inline int tqb_crypto_frame(struct tquic_crypto_stream *cs, u64 off, const u8 *p,
				   u64 len)
{
	struct tquic_frame_data f = { .offset = off, .len = len, .data = p };

	return tquic_crypto_stream_on_frame(cs, &f, NULL, TQUIC_GFP_ATOMIC);
}

static inline size_t tqb_crypto_build(struct tquic_crypto_stream *cs, u8 *pkt, size_t cap,
				      struct tquic_stream_sent *rec)
{
	struct tquic_wbuf w;

	tquic_wbuf_init(&w, pkt, cap);
	return tquic_crypto_stream_write_frame(cs, &w, rec);
}

static inline struct tquic_stream_sent tqb_sent(u64 off, u64 len)
{
	struct tquic_stream_sent r = { .off = off, .len = len };

	return r;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Transport error codes the stream layer reports.
const (
	codeFlowControl      = uint64(C.TQUIC_ERR_FLOW_CONTROL_ERROR)
	codeStreamLimit      = uint64(C.TQUIC_ERR_STREAM_LIMIT_ERROR)
	codeStreamState      = uint64(C.TQUIC_ERR_STREAM_STATE_ERROR)
	codeFinalSize        = uint64(C.TQUIC_ERR_FINAL_SIZE_ERROR)
	codeCryptoBufferExc  = uint64(C.TQUIC_ERR_CRYPTO_BUFFER_EXCEEDED)
	codeConnIDLimit      = uint64(C.TQUIC_ERR_CONNECTION_ID_LIMIT_ERROR)
	codeFrameEncodingErr = uint64(C.TQUIC_ERR_FRAME_ENCODING_ERROR)
)

// engineResult is what an engine frame handler returned: 0, a QUIC
// transport error code (> 0) or a negative errno (drop the packet).
type engineResult int

func (r engineResult) Error() string {
	if r > 0 {
		return fmt.Sprintf("transport error 0x%x", int(r))
	}
	return fmt.Sprintf("errno %d", -int(r))
}

func (r engineResult) err() error {
	if r == 0 {
		return nil
	}
	return r
}

// Errno values the engine returns.
var (
	errnoNOBUFS     = -int(C.ENOBUFS)
	errnoNOMEM      = -int(C.ENOMEM)
	errnoAGAIN      = -int(C.EAGAIN)
	errnoINVAL      = -int(C.EINVAL)
	errnoPIPE       = -int(C.EPIPE)
	errnoCONNRESET  = -int(C.ECONNRESET)
	errnoNOSPC      = -int(C.ENOSPC)
	errStreamClosed = errors.New("stream closed")
)

// Stream states as the engine names them.
const (
	sendNone      = C.TQUIC_SEND_NONE
	sendReady     = C.TQUIC_SEND_READY
	sendSend      = C.TQUIC_SEND_SEND
	sendDataSent  = C.TQUIC_SEND_DATA_SENT
	sendDataRecvd = C.TQUIC_SEND_DATA_RECVD
	sendResetSent = C.TQUIC_SEND_RESET_SENT
	sendResetRcvd = C.TQUIC_SEND_RESET_RECVD

	recvNone      = C.TQUIC_RECV_NONE
	recvRecv      = C.TQUIC_RECV_RECV
	recvSizeKnown = C.TQUIC_RECV_SIZE_KNOWN
	recvDataRecvd = C.TQUIC_RECV_DATA_RECVD
	recvDataRead  = C.TQUIC_RECV_DATA_READ
	recvResetRcvd = C.TQUIC_RECV_RESET_RECVD
	recvResetRead = C.TQUIC_RECV_RESET_READ
)

// Stream events.
const (
	evReadable  = uint32(C.TQUIC_STREAM_EV_READABLE)
	evWritable  = uint32(C.TQUIC_STREAM_EV_WRITABLE)
	evPeerReset = uint32(C.TQUIC_STREAM_EV_PEER_RESET)
	evPeerStop  = uint32(C.TQUIC_STREAM_EV_PEER_STOP)
	evSendDone  = uint32(C.TQUIC_STREAM_EV_SEND_DONE)
)

// Frame types used by the stream glue.
const (
	ftStream             = uint64(C.TQUIC_FT_STREAM)
	ftResetStream        = uint64(C.TQUIC_FT_RESET_STREAM)
	ftStopSending        = uint64(C.TQUIC_FT_STOP_SENDING)
	ftMaxData            = uint64(C.TQUIC_FT_MAX_DATA)
	ftMaxStreamData      = uint64(C.TQUIC_FT_MAX_STREAM_DATA)
	ftMaxStreamsBidi     = uint64(C.TQUIC_FT_MAX_STREAMS_BIDI)
	ftMaxStreamsUni      = uint64(C.TQUIC_FT_MAX_STREAMS_UNI)
	ftDataBlocked        = uint64(C.TQUIC_FT_DATA_BLOCKED)
	ftStreamDataBlocked  = uint64(C.TQUIC_FT_STREAM_DATA_BLOCKED)
	ftStreamsBlockedBidi = uint64(C.TQUIC_FT_STREAMS_BLOCKED_BIDI)
	ftStreamsBlockedUni  = uint64(C.TQUIC_FT_STREAMS_BLOCKED_UNI)
)

// streamLimits mirrors struct tquic_stream_limits.
type streamLimits struct {
	MaxData, BidiLocal, BidiRemote, Uni, MaxStreamsBidi, MaxStreamsUni uint64
}

func (l streamLimits) c() C.struct_tquic_stream_limits {
	return C.struct_tquic_stream_limits{
		max_data:                    C.u64(l.MaxData),
		max_stream_data_bidi_local:  C.u64(l.BidiLocal),
		max_stream_data_bidi_remote: C.u64(l.BidiRemote),
		max_stream_data_uni:         C.u64(l.Uni),
		max_streams_bidi:            C.u64(l.MaxStreamsBidi),
		max_streams_uni:             C.u64(l.MaxStreamsUni),
	}
}

// streamsConfig mirrors struct tquic_streams_config.
type streamsConfig struct {
	Server          bool
	Local           streamLimits
	MaxConnWindow   uint64
	MaxStreamWindow uint64
	SendBuffer      uint64
	MaxFrags        uint32
}

// streamTable is an engine stream table (struct tquic_streams) in C memory.
type streamTable struct {
	s *C.struct_tquic_streams
}

func newStreamTable(cfg streamsConfig) *streamTable {
	c := C.struct_tquic_streams_config{
		is_server:         C.bool(cfg.Server),
		local:             cfg.Local.c(),
		max_conn_window:   C.u64(cfg.MaxConnWindow),
		max_stream_window: C.u64(cfg.MaxStreamWindow),
		send_buffer:       C.u64(cfg.SendBuffer),
		max_frags:         C.u32(cfg.MaxFrags),
	}
	s := C.tqb_streams_new(&c)
	if s == nil {
		panic("tquic_streams_init failed")
	}
	return &streamTable{s: s}
}

func (t *streamTable) free() {
	if t.s != nil {
		C.tqb_streams_free(t.s)
		t.s = nil
	}
}

func (t *streamTable) setPeerLimits(l streamLimits) {
	c := l.c()
	C.tquic_streams_set_peer_limits(t.s, &c)
}

func (t *streamTable) setTime(now, rtt uint64) {
	t.s.now_us = C.u64(now)
	t.s.rtt_us = C.u64(rtt)
}

func (t *streamTable) find(id uint64) *C.struct_tquic_stream {
	return C.tquic_streams_find(t.s, C.u64(id))
}

func (t *streamTable) count() int { return int(t.s.count) }

// open opens a local stream; errnoAGAIN at the peer's limit.
func (t *streamTable) open(uni bool) (uint64, error) {
	var st *C.struct_tquic_stream
	if r := C.tquic_streams_open(t.s, C.bool(uni), C.TQUIC_GFP_KERNEL, &st); r != 0 {
		return 0, engineResult(r)
	}
	return uint64(st.id), nil
}

func (t *streamTable) accept() (uint64, bool) {
	st := C.tquic_streams_accept(t.s)
	if st == nil {
		return 0, false
	}
	return uint64(st.id), true
}

func (t *streamTable) nextEvent() (uint64, uint32, bool) {
	var ev C.u32
	st := C.tquic_streams_next_event(t.s, &ev)
	if st == nil {
		return 0, 0, false
	}
	return uint64(st.id), uint32(ev), true
}

func (t *streamTable) reap() { C.tquic_streams_reap(t.s) }

// states returns the send and receive states of a stream, ok false when
// it is not (or no longer) in the table.
func (t *streamTable) states(id uint64) (send, recv int, ok bool) {
	st := t.find(id)
	if st == nil {
		return 0, 0, false
	}
	return int(st.send_state), int(st.recv_state), true
}

func stCBytes(b []byte) (*C.u8, C.u64) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.u8)(unsafe.Pointer(&b[0])), C.u64(len(b))
}

// onStream delivers one STREAM frame, copied (truesize 0) or from a host
// buffer that pins truesize bytes.
func (t *streamTable) onStream(id, off uint64, data []byte, fin bool, truesize int) engineResult {
	var buf *C.struct_tquic_buf
	p, n := stCBytes(data)
	if truesize > 0 {
		buf = C.tqb_buf_from(p, C.size_t(n), C.size_t(truesize))
		if buf == nil {
			panic("buffer allocation failed")
		}
		p = C.tquic_buf_data(buf)
	}
	r := C.tqb_stream_frame(t.s, buf, C.u64(id), C.u64(off), p, n, stCBool(fin), t.s.now_us)
	if buf != nil {
		C.tquic_buf_put(buf)
	}
	return engineResult(r)
}

func stCBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (t *streamTable) onReset(id, code, finalSize uint64) engineResult {
	return engineResult(C.tqb_reset_frame(t.s, C.u64(ftResetStream), C.u64(id), C.u64(code), C.u64(finalSize), 0))
}

// onResetAt feeds a RESET_STREAM_AT frame (draft-ietf-quic-reliable-stream-reset).
func (t *streamTable) onResetAt(id, code, finalSize, reliableSize uint64) engineResult {
	return engineResult(C.tqb_reset_frame(t.s, C.u64(FrameResetStreamAt), C.u64(id), C.u64(code),
		C.u64(finalSize), C.u64(reliableSize)))
}

func (t *streamTable) onStopSending(id, code uint64) engineResult {
	return engineResult(C.tqb_reset_frame(t.s, C.u64(ftStopSending), C.u64(id), C.u64(code), 0, 0))
}

func (t *streamTable) onMaxData(max uint64) engineResult {
	return engineResult(C.tquic_streams_on_max_data(t.s, C.u64(max)))
}

func (t *streamTable) onMaxStreamData(id, max uint64) engineResult {
	return engineResult(C.tquic_streams_on_max_stream_data(t.s, C.u64(id), C.u64(max), C.TQUIC_GFP_ATOMIC))
}

func (t *streamTable) onMaxStreams(uni bool, max uint64) engineResult {
	return engineResult(C.tquic_streams_on_max_streams(t.s, C.bool(uni), C.u64(max)))
}

func (t *streamTable) onStreamDataBlocked(id, limit uint64) engineResult {
	return engineResult(C.tquic_streams_on_stream_data_blocked(t.s, C.u64(id), C.u64(limit), C.TQUIC_GFP_ATOMIC))
}

func (t *streamTable) onStreamsBlocked(uni bool, limit uint64) engineResult {
	return engineResult(C.tquic_streams_on_streams_blocked(t.s, C.bool(uni), C.u64(limit)))
}

func (t *streamTable) stream(id uint64) (*C.struct_tquic_stream, error) {
	st := t.find(id)
	if st == nil {
		return nil, errStreamClosed
	}
	return st, nil
}

// write queues data (copied); returns the count accepted.
func (t *streamTable) write(id uint64, data []byte, fin bool) (int, error) {
	st, err := t.stream(id)
	if err != nil {
		return 0, err
	}
	var written C.size_t
	p, n := stCBytes(data)
	r := C.tquic_stream_write(t.s, st, p, C.size_t(n), C.bool(fin), &written, C.TQUIC_GFP_KERNEL)
	if r != 0 {
		return int(written), engineResult(r)
	}
	return int(written), nil
}

// writeBuf queues data through a host buffer (zero copy).
func (t *streamTable) writeBuf(id uint64, data []byte, fin bool) error {
	st, err := t.stream(id)
	if err != nil {
		return err
	}
	p, n := stCBytes(data)
	buf := C.tqb_buf_from(p, C.size_t(n), 0)
	if buf == nil {
		panic("buffer allocation failed")
	}
	r := C.tquic_stream_write_buf(t.s, st, buf, 0, C.size_t(n), C.bool(fin), C.TQUIC_GFP_KERNEL)
	C.tquic_buf_put(buf)
	return engineResult(r).err()
}

func (t *streamTable) finish(id uint64) error {
	st, err := t.stream(id)
	if err != nil {
		return err
	}
	return engineResult(C.tquic_stream_finish(t.s, st)).err()
}

// read copies up to max bytes out; fin reports the end of the stream.
func (t *streamTable) read(id uint64, max int) ([]byte, bool, error) {
	st, err := t.stream(id)
	if err != nil {
		return nil, false, err
	}
	if max <= 0 {
		max = 1
	}
	out := C.malloc(C.size_t(max))
	defer C.free(out)
	var fin C.bool
	r := C.tquic_stream_read(t.s, st, (*C.u8)(out), C.size_t(max), &fin)
	if r < 0 {
		return nil, false, engineResult(r)
	}
	return C.GoBytes(out, C.int(r)), bool(fin), nil
}

// peek returns the next in-place chunk without consuming it.
func (t *streamTable) peek(id uint64) ([]byte, int, error) {
	st, err := t.stream(id)
	if err != nil {
		return nil, 0, err
	}
	var iov C.struct_tquic_rbuf_iov
	r := C.tquic_stream_peek(t.s, st, &iov)
	if r < 0 {
		return nil, 0, engineResult(r)
	}
	return C.GoBytes(unsafe.Pointer(iov.data), C.int(iov.len)), int(r), nil
}

func (t *streamTable) consume(id uint64, n int) error {
	st, err := t.stream(id)
	if err != nil {
		return err
	}
	C.tquic_stream_consume(t.s, st, C.u64(n))
	return nil
}

func (t *streamTable) reset(id, code uint64) error {
	st, err := t.stream(id)
	if err != nil {
		return err
	}
	return engineResult(C.tquic_stream_reset(t.s, st, C.u64(code))).err()
}

func (t *streamTable) stopSending(id, code uint64) error {
	st, err := t.stream(id)
	if err != nil {
		return err
	}
	return engineResult(C.tquic_stream_stop_sending(t.s, st, C.u64(code))).err()
}

func (t *streamTable) setPriority(id uint64, urgency uint8, incremental bool) error {
	st, err := t.stream(id)
	if err != nil {
		return err
	}
	return engineResult(C.tquic_stream_set_priority(t.s, st, C.u8(urgency), C.bool(incremental))).err()
}

// sentFrame is one frame of a built packet.
type sentFrame struct {
	Type, ID, Off, Len, Value uint64
	Fin                       bool
}

// sentPacket is a packet payload and what it carried.
type sentPacket struct {
	Payload []byte
	Frames  []sentFrame
	recs    []C.struct_tqb_rec
}

const maxPacketFrames = 256

// build fills one payload of at most room bytes; nil when nothing is due.
func (t *streamTable) build(room int) *sentPacket {
	pkt := C.malloc(C.size_t(room))
	defer C.free(pkt)
	recs := make([]C.struct_tqb_rec, maxPacketFrames)
	var n C.size_t
	l := C.tqb_streams_build(t.s, (*C.u8)(pkt), C.size_t(room), &recs[0], maxPacketFrames, &n)
	if n == 0 {
		return nil
	}
	p := &sentPacket{Payload: C.GoBytes(pkt, C.int(l)), recs: recs[:n]}
	for _, r := range p.recs {
		p.Frames = append(p.Frames, sentFrame{Type: uint64(r._type), ID: uint64(r.id), Off: uint64(r.off),
			Len: uint64(r.len), Value: uint64(r.value), Fin: r.fin != 0})
	}
	return p
}

func (t *streamTable) acked(p *sentPacket) {
	C.tqb_streams_outcome(t.s, &p.recs[0], C.size_t(len(p.recs)), 1)
}

func (t *streamTable) lost(p *sentPacket) {
	C.tqb_streams_outcome(t.s, &p.recs[0], C.size_t(len(p.recs)), 0)
}

// recv processes a payload, copied (truesize 0) or in a host buffer.
// Returns the engine result and the type of the last frame handled.
func (t *streamTable) recv(payload []byte, truesize int) (engineResult, uint64) {
	var buf *C.struct_tquic_buf
	var ft C.u64
	p, n := stCBytes(payload)
	if truesize > 0 {
		buf = C.tqb_buf_from(p, C.size_t(n), C.size_t(truesize))
		if buf == nil {
			panic("buffer allocation failed")
		}
		p = C.tquic_buf_data(buf)
	}
	r := C.tqb_streams_recv(t.s, buf, p, C.size_t(n), t.s.now_us, &ft)
	if buf != nil {
		C.tquic_buf_put(buf)
	}
	return engineResult(r), uint64(ft)
}

// Flow-control and limit views for the tests.
func (t *streamTable) connRx() (limit, highest, read, window uint64) {
	f := &t.s.conn_rx
	return uint64(f.limit), uint64(f.highest), uint64(f.read), uint64(f.window)
}

func (t *streamTable) connTx() (limit, used uint64) {
	return uint64(t.s.conn_tx.limit), uint64(t.s.conn_tx.used)
}

func (t *streamTable) streamRx(id uint64) (limit, highest, read, window uint64, ok bool) {
	st := t.find(id)
	if st == nil {
		return 0, 0, 0, 0, false
	}
	f := &st.fc_rx
	return uint64(f.limit), uint64(f.highest), uint64(f.read), uint64(f.window), true
}

func (t *streamTable) rxMem(id uint64) (mem, buffered uint64, frags int) {
	st := t.find(id)
	if st == nil {
		return 0, 0, 0
	}
	return uint64(st.rx.mem), uint64(st.rx.buffered), int(st.rx.nfrags)
}

func (t *streamTable) peerLimit(uni bool) uint64 {
	return uint64(t.s._type[stB2I(uni)].peer_limit)
}

func (t *streamTable) stopError(id uint64) (uint64, bool) {
	st := t.find(id)
	if st == nil {
		return 0, false
	}
	return uint64(st.stop_error), bool(st.peer_stopped)
}

func (t *streamTable) rxError(id uint64) uint64 {
	st := t.find(id)
	if st == nil {
		return 0
	}
	return uint64(st.rx_error)
}

func stB2I(b bool) int {
	if b {
		return 1
	}
	return 0
}

// liveBufs is the number of host buffers alive (leak checks).
func liveBufs() int64 { return int64(C.tqb_buf_live()) }

// reasm is a bare reassembly buffer.
type reasm struct {
	rb *C.struct_tquic_rbuf
}

func newReasm(memLimit uint64, maxFrags uint32) *reasm {
	return &reasm{rb: C.tqb_rbuf_new(C.u64(memLimit), C.u32(maxFrags))}
}

func (r *reasm) free() { C.tqb_rbuf_free(r.rb) }

// insert stores data at off: copied, or in a host buffer (pad bytes of
// other packet content before it, truesize pinned).
func (r *reasm) insert(off uint64, data []byte, zeroCopy bool, pad, truesize int) engineResult {
	p, n := stCBytes(data)
	return engineResult(C.tqb_rbuf_insert(r.rb, C.u64(off), p, n, C.int(stB2I(zeroCopy)), C.size_t(pad), C.size_t(truesize)))
}

func (r *reasm) read(max int) []byte {
	if max <= 0 {
		return nil
	}
	out := C.malloc(C.size_t(max))
	defer C.free(out)
	n := C.tquic_rbuf_read(r.rb, (*C.u8)(out), C.size_t(max))
	return C.GoBytes(out, C.int(n))
}

func (r *reasm) readable() uint64 { return uint64(r.rb.contig - r.rb.read_off) }
func (r *reasm) readOff() uint64  { return uint64(r.rb.read_off) }
func (r *reasm) mem() uint64      { return uint64(r.rb.mem) }
func (r *reasm) frags() int       { return int(r.rb.nfrags) }
func (r *reasm) buffered() uint64 { return uint64(r.rb.buffered) }

// engineCrypto is an engine CRYPTO stream.
type engineCrypto struct {
	cs *C.struct_tquic_crypto_stream
}

func newEngineCrypto(capacity, txLimit uint64) *engineCrypto {
	return newEngineCryptoAt(capacity, txLimit, 0, 0)
}

// newEngineCryptoAt starts after rxOff bytes read and txOff bytes written
// and acknowledged, as a parked connection rebuilds its 1-RTT stream.
func newEngineCryptoAt(capacity, txLimit, rxOff, txOff uint64) *engineCrypto {
	return &engineCrypto{cs: C.tqb_crypto_new(C.u64(capacity), C.u64(txLimit), C.u64(rxOff), C.u64(txOff))}
}

func (c *engineCrypto) free() { C.tqb_crypto_free(c.cs) }

func (c *engineCrypto) onFrame(off uint64, data []byte) engineResult {
	p, n := stCBytes(data)
	return engineResult(C.tqb_crypto_frame(c.cs, C.u64(off), p, n))
}

func (c *engineCrypto) read(max int) []byte {
	out := C.malloc(C.size_t(max))
	defer C.free(out)
	n := C.tquic_rbuf_read(&c.cs.rx, (*C.u8)(out), C.size_t(max))
	return C.GoBytes(out, C.int(n))
}

func (c *engineCrypto) write(data []byte) error {
	p, n := stCBytes(data)
	return engineResult(C.tquic_crypto_stream_write(c.cs, p, C.size_t(n), C.TQUIC_GFP_KERNEL)).err()
}

// build returns one CRYPTO frame of at most room bytes and its range.
func (c *engineCrypto) build(room int) ([]byte, uint64, uint64) {
	pkt := C.malloc(C.size_t(room))
	defer C.free(pkt)
	var rec C.struct_tquic_stream_sent
	n := C.tqb_crypto_build(c.cs, (*C.u8)(pkt), C.size_t(room), &rec)
	if n == 0 {
		return nil, 0, 0
	}
	return C.GoBytes(pkt, C.int(n)), uint64(rec.off), uint64(rec.len)
}

func (c *engineCrypto) acked(off, n uint64) {
	r := C.tqb_sent(C.u64(off), C.u64(n))
	C.tquic_crypto_stream_on_acked(c.cs, &r)
}

func (c *engineCrypto) lost(off, n uint64) {
	r := C.tqb_sent(C.u64(off), C.u64(n))
	C.tquic_crypto_stream_on_lost(c.cs, &r)
}

func (c *engineCrypto) pending() bool { return bool(C.tquic_crypto_stream_has_pending(c.cs)) }
func (c *engineCrypto) idle() bool    { return bool(C.tquic_crypto_stream_idle(c.cs)) }
func (c *engineCrypto) offsets() (rx, tx uint64) {
	return uint64(c.cs.rx.read_off), uint64(c.cs.tx.write_off)
}
func (c *engineCrypto) rxMem() uint64 { return uint64(c.cs.rx.mem) }
