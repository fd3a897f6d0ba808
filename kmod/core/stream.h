/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * QUIC streams (RFC 9000 sections 2-4): stream IDs, the send and receive
 * state machines, the stream table with stream limits, receive reassembly
 * into host buffers, the send buffer with retransmission bookkeeping,
 * priorities (RFC 9218 urgency/incremental) and the CRYPTO streams.
 *
 * Conventions of the frame handlers (tquic_streams_on_*, tquic_crypto_stream_*):
 * they return 0, a QUIC transport error code (> 0: close the connection
 * with it), or a negative errno (< 0: a local resource limit or allocation
 * failure; drop the packet without acknowledging it so the peer sends it
 * again -- RFC 9000 section 13.1 only acknowledges fully processed packets).
 *
 * Zero copy: received data is inserted with the host buffer it arrived in
 * (struct tquic_buf, see buf.h); the engine keeps a reference and an
 * (offset, length) range in the buffer until the application consumes the
 * bytes.  A NULL buffer makes the engine copy the bytes into buffers of its
 * own.  Under memory pressure small fragments pinning big buffers are
 * copied together (collapsed), as TCP does with its receive queues.
 *
 * Lifetime: stream objects belong to the table.  A stream that has reached
 * its terminal states is unhashed (frames for it are then ignored, as for
 * any closed stream) and queued for tquic_streams_reap(); pointers stay
 * valid until that call.
 *
 * Concurrency: none inside; the caller serialises (connection lock).
 */
#ifndef _TQUIC_CORE_STREAM_H
#define _TQUIC_CORE_STREAM_H

#include "platform.h"
#include "list.h"
#include "varint.h"
#include "proto.h"
#include "frame.h"
#include "buf.h"
#include "flowctl.h"

/* ---- Stream IDs (RFC 9000 section 2.1) ---- */

#define TQUIC_STREAM_ID_SERVER	0x1ULL	/* initiated by the server */
#define TQUIC_STREAM_ID_UNI	0x2ULL	/* unidirectional */
/* Largest stream ID: a varint; the count limit is 2^60 per type. */
#define TQUIC_STREAM_ID_MAX	TQUIC_VARINT_MAX

static inline bool tquic_stream_id_is_uni(u64 id)
{
	return id & TQUIC_STREAM_ID_UNI;
}

static inline bool tquic_stream_id_is_server(u64 id)
{
	return id & TQUIC_STREAM_ID_SERVER;
}

/* Whether @id was initiated by the endpoint whose role is @is_server. */
static inline bool tquic_stream_id_is_local(u64 id, bool is_server)
{
	return tquic_stream_id_is_server(id) == is_server;
}

/* Index of @id among the streams of its type (0, 1, 2...). */
static inline u64 tquic_stream_id_index(u64 id)
{
	return id >> 2;
}

static inline u64 tquic_stream_id_make(u64 index, bool server, bool uni)
{
	return (index << 2) | (server ? TQUIC_STREAM_ID_SERVER : 0) |
	       (uni ? TQUIC_STREAM_ID_UNI : 0);
}

/* Whether the endpoint @is_server can send / receive on @id. */
static inline bool tquic_stream_id_can_send(u64 id, bool is_server)
{
	return !tquic_stream_id_is_uni(id) || tquic_stream_id_is_local(id, is_server);
}

static inline bool tquic_stream_id_can_recv(u64 id, bool is_server)
{
	return !tquic_stream_id_is_uni(id) || !tquic_stream_id_is_local(id, is_server);
}

/* ---- States (RFC 9000 section 3) ---- */

enum tquic_send_state {
	TQUIC_SEND_NONE = 0,		/* receive-only stream */
	TQUIC_SEND_READY,
	TQUIC_SEND_SEND,
	TQUIC_SEND_DATA_SENT,
	TQUIC_SEND_DATA_RECVD,		/* terminal */
	TQUIC_SEND_RESET_SENT,
	TQUIC_SEND_RESET_RECVD,		/* terminal */
};

enum tquic_recv_state {
	TQUIC_RECV_NONE = 0,		/* send-only stream */
	TQUIC_RECV_RECV,
	TQUIC_RECV_SIZE_KNOWN,
	TQUIC_RECV_DATA_RECVD,
	TQUIC_RECV_DATA_READ,		/* terminal */
	TQUIC_RECV_RESET_RECVD,
	TQUIC_RECV_RESET_READ,		/* terminal */
};

/* ---- Buffer references ---- */

/* A range of bytes of a host buffer placed at a stream offset. */
struct tquic_bref {
	struct tquic_list node;
	u64 off;			/* stream offset of the first byte */
	struct tquic_buf *buf;		/* one reference held */
	u32 boff;			/* offset in tquic_buf_data(buf) */
	u32 len;
	bool owned;			/* engine-allocated: spare room may be filled */
};

/* Sorted, disjoint, non-adjacent ranges [start, end). */
struct tquic_rset {
	struct tquic_list ranges;
	u32 count;
};

/* ---- Receive reassembly ---- */

struct tquic_rbuf {
	struct tquic_list frags;	/* struct tquic_bref, disjoint, by offset */
	u64 read_off;			/* next offset the application reads */
	u64 contig;			/* end of the in-order data from read_off */
	u64 buffered;			/* bytes held */
	u64 mem;			/* memory charged: pinned buffers + nodes */
	u64 mem_limit;
	u64 mem_collapsed;		/* @mem after the last collapse */
	u32 nfrags_collapsed;		/* @nfrags after the last collapse */
	u32 nfrags;
	u32 max_frags;
};

/* The next in-order bytes, in place in their host buffer. */
struct tquic_rbuf_iov {
	struct tquic_buf *buf;		/* not referenced for the caller */
	const u8 *data;
	u32 boff;
	u32 len;
	u64 off;			/* stream offset of @data */
};

void tquic_rbuf_init(struct tquic_rbuf *rb, u64 mem_limit, u32 max_frags);
void tquic_rbuf_purge(struct tquic_rbuf *rb);
/*
 * Stores [@off, @off + @len) from @data, which lies in @buf's data (or is
 * copied when @buf is NULL).  Bytes already held or already read are
 * ignored (the first copy wins).  Returns 0, -EINVAL (@data not inside
 * @buf), -ENOBUFS (fragment or memory limit: drop the packet) or -ENOMEM.
 * On error a prefix of the range may have been stored.
 */
int tquic_rbuf_insert(struct tquic_rbuf *rb, u64 off, const u8 *data, u64 len,
		      struct tquic_buf *buf, unsigned int gfp);
/* In-order bytes readable now. */
static inline u64 tquic_rbuf_readable(const struct tquic_rbuf *rb)
{
	return rb->contig - rb->read_off;
}
/* Describes the next in-order bytes; false when none. */
bool tquic_rbuf_peek(const struct tquic_rbuf *rb, struct tquic_rbuf_iov *iov);
/* Consumes @n in-order bytes (at most tquic_rbuf_readable()). */
void tquic_rbuf_consume(struct tquic_rbuf *rb, u64 n);
/* Copies up to @cap in-order bytes to @dst and consumes them; returns the count. */
size_t tquic_rbuf_read(struct tquic_rbuf *rb, u8 *dst, size_t cap);

/* ---- Send buffer ---- */

struct tquic_sbuf {
	struct tquic_list chunks;	/* struct tquic_bref by offset */
	struct tquic_bref *hint;	/* chunk holding the last read position */
	u64 acked_off;			/* every byte below is acknowledged */
	u64 send_off;			/* next offset never sent */
	u64 write_off;			/* end of the data written */
	u64 limit;			/* max bytes held (write_off - acked_off) */
	u64 rewind_off;			/* retransmit everything from here */
	struct tquic_rset lost;		/* ranges to retransmit */
	struct tquic_rset acked;	/* acknowledged ranges above acked_off */
	bool rewind;			/* bookkeeping allocation failed */
	bool fin;			/* final size = write_off */
	bool fin_sent;
	bool fin_lost;
	bool fin_acked;
};

void tquic_sbuf_init(struct tquic_sbuf *sb, u64 limit);
void tquic_sbuf_purge(struct tquic_sbuf *sb);
/* Space left for writes. */
static inline u64 tquic_sbuf_space(const struct tquic_sbuf *sb)
{
	u64 held = sb->write_off - sb->acked_off;

	return sb->fin || held >= sb->limit ? 0 : sb->limit - held;
}
/*
 * Copies up to @len bytes (bounded by the space left) into the buffer.
 * Returns the count accepted (0 when full) or -ENOMEM when nothing could
 * be stored for lack of memory.
 */
long tquic_sbuf_write(struct tquic_sbuf *sb, const u8 *data, size_t len,
		      unsigned int gfp);
/*
 * Appends @len bytes at @boff of the host buffer @b without copying (a
 * reference is taken).  All or nothing: -ENOSPC, -EINVAL, -ENOMEM.
 */
int tquic_sbuf_append(struct tquic_sbuf *sb, struct tquic_buf *b, size_t boff,
		      size_t len, unsigned int gfp);
/* Whether retransmissions or FIN-only frames are due (no credit needed). */
bool tquic_sbuf_has_retransmit(const struct tquic_sbuf *sb);
/* Whether anything at all is waiting to be sent (new data, retransmissions, FIN). */
bool tquic_sbuf_has_pending(const struct tquic_sbuf *sb);
/* Whether every byte and the FIN were acknowledged. */
static inline bool tquic_sbuf_all_acked(const struct tquic_sbuf *sb)
{
	return sb->fin && sb->fin_acked && sb->acked_off == sb->write_off;
}

/* ---- Streams ---- */

/* Events the connection layer turns into host notifications. */
#define TQUIC_STREAM_EV_READABLE	0x01U	/* in-order data, FIN or reset to read */
#define TQUIC_STREAM_EV_WRITABLE	0x02U	/* send space or credit grew */
#define TQUIC_STREAM_EV_PEER_RESET	0x04U	/* RESET_STREAM received (rx_error) */
#define TQUIC_STREAM_EV_PEER_STOP	0x08U	/* STOP_SENDING received (stop_error) */
#define TQUIC_STREAM_EV_SEND_DONE	0x10U	/* send side terminal */

/* Pending per-stream control frames. */
#define TQUIC_SCTRL_MAX_STREAM_DATA	0x01U
#define TQUIC_SCTRL_DATA_BLOCKED	0x02U
#define TQUIC_SCTRL_RESET		0x04U
#define TQUIC_SCTRL_STOP		0x08U

#define TQUIC_URGENCY_LEVELS	8
#define TQUIC_URGENCY_DEFAULT	3

struct tquic_stream {
	u64 id;
	struct tquic_list hnode;	/* hash bucket, or reap list */
	struct tquic_list sched_node;	/* scheduler queue of its urgency */
	struct tquic_list ctrl_node;	/* streams with control frames */
	struct tquic_list ev_node;	/* streams with events */
	struct tquic_list accept_node;	/* peer-initiated, not yet accepted */
	u8 send_state;			/* enum tquic_send_state */
	u8 recv_state;			/* enum tquic_recv_state */
	u8 urgency;			/* 0 (highest) .. 7 */
	bool incremental;
	bool discard;			/* STOP_SENDING sent: drop received data */
	bool peer_stopped;		/* STOP_SENDING received */
	bool dead;			/* terminal, unhashed */
	u8 ctrl;			/* TQUIC_SCTRL_* */
	u32 events;			/* TQUIC_STREAM_EV_* */

	/* Receive side. */
	struct tquic_rbuf rx;
	struct tquic_fc_rx fc_rx;
	u64 final_size;			/* valid when final_known */
	bool final_known;
	u64 rx_error;			/* peer's RESET_STREAM code */
	/*
	 * A RESET_STREAM_AT arrived (draft-ietf-quic-reliable-stream-reset):
	 * bytes below reliable_size are still delivered, then the reset.
	 */
	bool reset_at;
	u64 reliable_size;
	u64 stop_code;			/* our STOP_SENDING code */

	/* Send side. */
	struct tquic_sbuf tx;
	struct tquic_fc_tx fc_tx;
	u64 reset_code;			/* our RESET_STREAM code */
	u64 reset_size;			/* its final size */
	u64 stop_error;			/* peer's STOP_SENDING code */

	void *host;			/* the host's per-stream data */
};

/* Stream limits and windows: the six transport parameters. */
struct tquic_stream_limits {
	u64 max_data;
	u64 max_stream_data_bidi_local;
	u64 max_stream_data_bidi_remote;
	u64 max_stream_data_uni;
	u64 max_streams_bidi;
	u64 max_streams_uni;
};

struct tquic_streams_config {
	bool is_server;
	struct tquic_stream_limits local;	/* what we advertise */
	u64 max_conn_window;		/* auto-tuning cap, connection */
	u64 max_stream_window;		/* auto-tuning cap, streams */
	u64 send_buffer;		/* per-stream send buffer bytes */
	u32 max_frags;			/* per-stream reassembly fragments */
};

/* Per stream type (bidi 0, uni 1) stream-count state. */
struct tquic_stream_type {
	u64 next_local;		/* index of the next local stream */
	u64 local_limit;	/* peer's MAX_STREAMS for our streams */
	u64 blocked_at;		/* limit of the last STREAMS_BLOCKED, or ~0 */
	bool blocked_pending;
	u64 peer_opened;	/* peer streams opened: highest index + 1 */
	u64 peer_closed;	/* peer streams finished */
	u64 peer_limit;		/* MAX_STREAMS we advertised */
	u64 peer_window;	/* concurrent peer streams we allow */
	bool max_pending;
};

/* Connection-level pending control frames. */
#define TQUIC_CCTRL_MAX_DATA		0x01U
#define TQUIC_CCTRL_DATA_BLOCKED	0x02U

struct tquic_streams {
	struct tquic_streams_config cfg;
	struct tquic_stream_limits peer;	/* peer's transport parameters */
	struct tquic_list *buckets;
	u32 hash_bits;
	u32 count;
	struct tquic_stream_type type[2];	/* [0] bidi, [1] uni */
	struct tquic_fc_rx conn_rx;
	struct tquic_fc_tx conn_tx;
	struct tquic_list sched[TQUIC_URGENCY_LEVELS];
	struct tquic_list ctrl;		/* streams with control frames */
	struct tquic_list events;	/* streams with events */
	struct tquic_list accept;	/* peer streams not yet accepted */
	struct tquic_list reap;		/* terminal streams */
	u64 rtt_us;			/* minimum RTT, for window auto-tuning */
	u64 now_us;			/* time of the last input */
};

/* What a sent STREAM (or CRYPTO) frame carried: kept in the sent-packet record. */
struct tquic_stream_sent {
	u64 id;
	u64 off;
	u64 len;
	bool fin;
};

int tquic_streams_init(struct tquic_streams *s, const struct tquic_streams_config *cfg,
		       unsigned int gfp);
void tquic_streams_destroy(struct tquic_streams *s);
/* The peer's transport parameters (may arrive after 0-RTT streams opened). */
void tquic_streams_set_peer_limits(struct tquic_streams *s,
				   const struct tquic_stream_limits *peer);
/* Current time (us) for application-side calls (reads drive auto-tuning). */
static inline void tquic_streams_set_now(struct tquic_streams *s, u64 now_us)
{
	s->now_us = now_us;
}

/* The path's minimum RTT, used by window auto-tuning. */
static inline void tquic_streams_set_rtt(struct tquic_streams *s, u64 rtt_us)
{
	s->rtt_us = rtt_us;
}

struct tquic_stream *tquic_streams_find(struct tquic_streams *s, u64 id);
/*
 * Opens the next local stream.  Returns 0, -EAGAIN at the peer's limit
 * (STREAMS_BLOCKED is queued) or -ENOMEM.
 */
int tquic_streams_open(struct tquic_streams *s, bool uni, unsigned int gfp,
		       struct tquic_stream **out);
/* The next peer-initiated stream the application has not seen, in ID order. */
struct tquic_stream *tquic_streams_accept(struct tquic_streams *s);
/* Next stream with events; clears and returns them in @events. */
struct tquic_stream *tquic_streams_next_event(struct tquic_streams *s, u32 *events);
/* Frees streams that reached their terminal states. */
void tquic_streams_reap(struct tquic_streams *s);

/* Received frames (return conventions at the top of this file). */
int tquic_streams_on_stream(struct tquic_streams *s, const struct tquic_frame_stream *f,
			    struct tquic_buf *buf, u64 now_us, unsigned int gfp);
int tquic_streams_on_reset(struct tquic_streams *s, const struct tquic_frame_reset *f,
			   u64 now_us, unsigned int gfp);
int tquic_streams_on_stop_sending(struct tquic_streams *s,
				  const struct tquic_frame_reset *f, unsigned int gfp);
int tquic_streams_on_max_data(struct tquic_streams *s, u64 max);
int tquic_streams_on_max_stream_data(struct tquic_streams *s, u64 id, u64 max,
				     unsigned int gfp);
int tquic_streams_on_max_streams(struct tquic_streams *s, bool uni, u64 max);
int tquic_streams_on_data_blocked(struct tquic_streams *s, u64 limit);
int tquic_streams_on_stream_data_blocked(struct tquic_streams *s, u64 id, u64 limit,
					 unsigned int gfp);
int tquic_streams_on_streams_blocked(struct tquic_streams *s, bool uni, u64 limit);

/* Application side. */
/*
 * Queues up to @len bytes (copied) and, when all of them fit and @fin,
 * the FIN.  *@written gets the count.  Returns 0, -EINVAL (receive-only
 * stream), -EPIPE (finished or reset by us), -ECONNRESET (peer sent
 * STOP_SENDING) or -ENOMEM (nothing stored).
 */
int tquic_stream_write(struct tquic_streams *s, struct tquic_stream *st, const u8 *data,
		       size_t len, bool fin, size_t *written, unsigned int gfp);
/* Zero-copy variant: all of [@boff, @boff + @len) of @b or nothing (-ENOSPC). */
int tquic_stream_write_buf(struct tquic_streams *s, struct tquic_stream *st,
			   struct tquic_buf *b, size_t boff, size_t len, bool fin,
			   unsigned int gfp);
/* Closes the send side with a FIN after the data written so far. */
int tquic_stream_finish(struct tquic_streams *s, struct tquic_stream *st);
/*
 * The next in-order bytes, in place.  Returns 0 (@iov->len may be 0 when
 * nothing is readable yet), 1 at the end of the stream (FIN read),
 * -ECONNRESET after a peer reset (rx_error holds the code), -EINVAL on a
 * send-only stream.
 */
int tquic_stream_peek(struct tquic_streams *s, struct tquic_stream *st,
		      struct tquic_rbuf_iov *iov);
/* Consumes @n bytes returned by tquic_stream_peek(); credit flows back. */
void tquic_stream_consume(struct tquic_streams *s, struct tquic_stream *st, u64 n);
/*
 * Copies up to @cap bytes out.  Returns the count (>= 0), with *@fin set
 * when the end of the stream was reached, or the errors of peek.
 */
long tquic_stream_read(struct tquic_streams *s, struct tquic_stream *st, u8 *dst,
		       size_t cap, bool *fin);
/* RESET_STREAM with @code; -EINVAL on a receive-only stream, 0 otherwise. */
int tquic_stream_reset(struct tquic_streams *s, struct tquic_stream *st, u64 code);
/* STOP_SENDING with @code; -EINVAL on a send-only stream. */
int tquic_stream_stop_sending(struct tquic_streams *s, struct tquic_stream *st, u64 code);
/* RFC 9218 priority: urgency 0..7, incremental. */
int tquic_stream_set_priority(struct tquic_streams *s, struct tquic_stream *st,
			      u8 urgency, bool incremental);

/* Sending. */
/*
 * The stream to send from next: lowest urgency first; within an urgency,
 * non-incremental streams one at a time in stream ID order, then
 * incremental streams round robin.  NULL when nothing can be sent.
 */
struct tquic_stream *tquic_streams_sched_next(struct tquic_streams *s);
/*
 * Writes one STREAM frame for @st into @w (at most all of @w), consuming
 * flow-control credit for new data; fills @rec for the sent-packet record.
 * Returns the bytes written, 0 when nothing fits or nothing is due.
 */
size_t tquic_stream_write_frame(struct tquic_streams *s, struct tquic_stream *st,
				struct tquic_wbuf *w, struct tquic_stream_sent *rec);
/* Outcome of a packet that carried @rec. */
void tquic_streams_on_acked(struct tquic_streams *s, const struct tquic_stream_sent *rec);
void tquic_streams_on_lost(struct tquic_streams *s, const struct tquic_stream_sent *rec);

/*
 * Control frames (MAX_DATA, DATA_BLOCKED, MAX_STREAMS, STREAMS_BLOCKED,
 * MAX_STREAM_DATA, STREAM_DATA_BLOCKED, RESET_STREAM, STOP_SENDING): the
 * next one due, in @f; false when none.  After encoding it into a packet
 * call tquic_streams_ctrl_sent(); keep (type, id, value) in the sent-packet
 * record for acked/lost.
 */
bool tquic_streams_next_ctrl(struct tquic_streams *s, struct tquic_frame *f);
void tquic_streams_ctrl_sent(struct tquic_streams *s, const struct tquic_frame *f);
void tquic_streams_ctrl_acked(struct tquic_streams *s, const struct tquic_frame *f);
void tquic_streams_ctrl_lost(struct tquic_streams *s, const struct tquic_frame *f);

static inline bool tquic_stream_send_terminal(const struct tquic_stream *st)
{
	return st->send_state == TQUIC_SEND_NONE ||
	       st->send_state == TQUIC_SEND_DATA_RECVD ||
	       st->send_state == TQUIC_SEND_RESET_RECVD;
}

static inline bool tquic_stream_recv_terminal(const struct tquic_stream *st)
{
	return st->recv_state == TQUIC_RECV_NONE ||
	       st->recv_state == TQUIC_RECV_DATA_READ ||
	       st->recv_state == TQUIC_RECV_RESET_READ;
}

/* ---- CRYPTO streams (one per encryption level) ---- */

struct tquic_crypto_stream {
	struct tquic_rbuf rx;
	struct tquic_sbuf tx;
	u64 rx_cap;		/* bytes accepted beyond the read offset */
};

/*
 * @rx_cap: CRYPTO_BUFFER_EXCEEDED above it (at least 4096 bytes is sane).
 * The stream starts after @rx_off bytes read and @tx_off bytes written and
 * acknowledged (0 and 0 for a new one; see tquic_crypto_stream_idle()).
 */
void tquic_crypto_stream_init(struct tquic_crypto_stream *cs, u64 rx_cap, u64 tx_limit,
			      u64 rx_off, u64 tx_off);
/*
 * Whether @cs holds no data: everything received was read and everything
 * written acknowledged.  Its two offsets then describe it whole.
 */
bool tquic_crypto_stream_idle(const struct tquic_crypto_stream *cs);
void tquic_crypto_stream_destroy(struct tquic_crypto_stream *cs);
/* A CRYPTO frame: 0, TQUIC_ERR_CRYPTO_BUFFER_EXCEEDED or -errno. */
int tquic_crypto_stream_on_frame(struct tquic_crypto_stream *cs, const struct tquic_frame_data *f,
			  struct tquic_buf *buf, unsigned int gfp);
/* Handshake bytes from TLS to send: all or -ENOSPC/-ENOMEM. */
int tquic_crypto_stream_write(struct tquic_crypto_stream *cs, const u8 *data, size_t len,
		       unsigned int gfp);
/* One CRYPTO frame into @w; @rec->id is unused.  Bytes written or 0. */
size_t tquic_crypto_stream_write_frame(struct tquic_crypto_stream *cs, struct tquic_wbuf *w,
				struct tquic_stream_sent *rec);
void tquic_crypto_stream_on_acked(struct tquic_crypto_stream *cs, const struct tquic_stream_sent *rec);
void tquic_crypto_stream_on_lost(struct tquic_crypto_stream *cs, const struct tquic_stream_sent *rec);
/* Whether CRYPTO data is waiting to be sent (new or lost). */
static inline bool tquic_crypto_stream_has_pending(const struct tquic_crypto_stream *cs)
{
	return tquic_sbuf_has_pending(&cs->tx);
}

#endif /* _TQUIC_CORE_STREAM_H */
