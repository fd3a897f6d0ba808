/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * QUIC frames: decoding, encoding and per-type properties.
 *
 * Covers every RFC 9000 frame, DATAGRAM (RFC 9221), RESET_STREAM_AT
 * (draft-ietf-quic-reliable-stream-reset), the multipath frames of
 * draft-ietf-quic-multipath-21, ACK_FREQUENCY and IMMEDIATE_ACK
 * (draft-ietf-quic-ack-frequency) and ACCURATE_ACK_ECN
 * (draft-seemann-quic-accurate-ack-ecn-01).
 *
 * Decoded frames point into the packet payload (stream data, tokens,
 * connection IDs, reasons): nothing is copied, so the payload must outlive
 * the decoded frame.  ACK ranges are validated once at decode time and then
 * read again from the wire with struct tquic_ack_iter, so decoding needs no
 * memory proportional to the number of ranges.
 */
#ifndef _TQUIC_CORE_FRAME_H
#define _TQUIC_CORE_FRAME_H

#include "platform.h"
#include "varint.h"
#include "proto.h"

/* Frame types (RFC 9000 section 19 and extensions). */
#define TQUIC_FT_PADDING			0x00ULL
#define TQUIC_FT_PING				0x01ULL
#define TQUIC_FT_ACK				0x02ULL
#define TQUIC_FT_ACK_ECN			0x03ULL
#define TQUIC_FT_RESET_STREAM			0x04ULL
#define TQUIC_FT_STOP_SENDING			0x05ULL
#define TQUIC_FT_CRYPTO				0x06ULL
#define TQUIC_FT_NEW_TOKEN			0x07ULL
#define TQUIC_FT_STREAM				0x08ULL	/* 0x08..0x0f */
#define TQUIC_FT_STREAM_FIN			0x01ULL	/* STREAM type bits */
#define TQUIC_FT_STREAM_LEN			0x02ULL
#define TQUIC_FT_STREAM_OFF			0x04ULL
#define TQUIC_FT_MAX_DATA			0x10ULL
#define TQUIC_FT_MAX_STREAM_DATA		0x11ULL
#define TQUIC_FT_MAX_STREAMS_BIDI		0x12ULL
#define TQUIC_FT_MAX_STREAMS_UNI		0x13ULL
#define TQUIC_FT_DATA_BLOCKED			0x14ULL
#define TQUIC_FT_STREAM_DATA_BLOCKED		0x15ULL
#define TQUIC_FT_STREAMS_BLOCKED_BIDI		0x16ULL
#define TQUIC_FT_STREAMS_BLOCKED_UNI		0x17ULL
#define TQUIC_FT_NEW_CONNECTION_ID		0x18ULL
#define TQUIC_FT_RETIRE_CONNECTION_ID		0x19ULL
#define TQUIC_FT_PATH_CHALLENGE			0x1aULL
#define TQUIC_FT_PATH_RESPONSE			0x1bULL
#define TQUIC_FT_CONNECTION_CLOSE		0x1cULL
#define TQUIC_FT_CONNECTION_CLOSE_APP		0x1dULL
#define TQUIC_FT_HANDSHAKE_DONE			0x1eULL
#define TQUIC_FT_IMMEDIATE_ACK			0x1fULL
#define TQUIC_FT_RESET_STREAM_AT		0x24ULL
#define TQUIC_FT_DATAGRAM			0x30ULL
#define TQUIC_FT_DATAGRAM_LEN			0x31ULL
#define TQUIC_FT_PATH_ACK			0x3eULL
#define TQUIC_FT_PATH_ACK_ECN			0x3fULL
#define TQUIC_FT_ACK_FREQUENCY			0xafULL
#define TQUIC_FT_PATH_ABANDON			0x3e75ULL
#define TQUIC_FT_PATH_STATUS_BACKUP		0x3e76ULL
#define TQUIC_FT_PATH_STATUS_AVAILABLE		0x3e77ULL
#define TQUIC_FT_PATH_NEW_CONNECTION_ID		0x3e78ULL
#define TQUIC_FT_PATH_RETIRE_CONNECTION_ID	0x3e79ULL
#define TQUIC_FT_MAX_PATH_ID			0x3e7aULL
#define TQUIC_FT_PATHS_BLOCKED			0x3e7bULL
#define TQUIC_FT_PATH_CIDS_BLOCKED		0x3e7cULL
#define TQUIC_FT_ACCURATE_ACK_ECN		0x2051a5faULL

/* Limits the wire format imposes on individual fields. */
#define TQUIC_MAX_STREAMS_LIMIT		(1ULL << 60)
#define TQUIC_MAX_PATH_ID		0xffffffffULL
#define TQUIC_RESET_TOKEN_LEN		16
#define TQUIC_PATH_CHALLENGE_LEN	8
/* ACK_FREQUENCY Requested Max Ack Delay must stay below 2^14 ms (in us). */
#define TQUIC_MAX_ACK_DELAY_US_LIMIT	(16384ULL * 1000ULL)

/* ECN marks of ACCURATE_ACK_ECN ranges. */
#define TQUIC_ECN_NOT_ECT	0
#define TQUIC_ECN_ECT1		1
#define TQUIC_ECN_ECT0		2
#define TQUIC_ECN_CE		3

/* Packet types a frame may appear in (RFC 9000 table 3). */
#define TQUIC_FRAME_PKT_INITIAL		0x01U
#define TQUIC_FRAME_PKT_0RTT		0x02U
#define TQUIC_FRAME_PKT_HANDSHAKE	0x04U
#define TQUIC_FRAME_PKT_1RTT		0x08U
#define TQUIC_FRAME_PKT_ALL		0x0fU

/* Frame properties, returned with the packet-type bits by tquic_frame_info(). */
#define TQUIC_FRAME_F_KNOWN		0x0100U	/* a type this engine parses */
#define TQUIC_FRAME_F_ACK_ELICITING	0x0200U	/* not "N" in table 3 */
#define TQUIC_FRAME_F_IN_FLIGHT		0x0400U	/* not "C": counts in flight */
#define TQUIC_FRAME_F_PROBING		0x0800U	/* "P": probing frame */
#define TQUIC_FRAME_F_FLOW_CONTROLLED	0x1000U	/* "F": flow controlled */

/* One acknowledged range, both ends inclusive. */
struct tquic_ack_range {
	u64 smallest;
	u64 largest;
	u8 ecn;		/* ACCURATE_ACK_ECN only: TQUIC_ECN_* */
};

/*
 * ACK, ACK_ECN, PATH_ACK, PATH_ACK_ECN and ACCURATE_ACK_ECN.
 *
 * Decode fills everything except @list/@list_len; iterate the ranges with
 * struct tquic_ack_iter.  Encode reads @path_id, @delay, the ECN counts and
 * the ranges from @list (descending, @list[0] holding the largest packet
 * number, ranges separated by at least one missing packet except for
 * ACCURATE_ACK_ECN, where adjacent ranges may touch).
 */
struct tquic_frame_ack {
	u64 path_id;
	u64 largest;
	u64 delay;		/* encoded ACK Delay, not scaled */
	u64 range_count;	/* ranges after the first */
	u64 first_range;
	u64 smallest;		/* smallest acknowledged packet number */
	u64 ect0;
	u64 ect1;
	u64 ce;
	const u8 *ranges;	/* wire bytes following the first range */
	size_t ranges_len;
	u8 first_ecn;
	const struct tquic_ack_range *list;
	size_t list_len;
};

/* STREAM 0x08..0x0f: the OFF/LEN/FIN bits are those of the frame type. */
struct tquic_frame_stream {
	u64 id;
	u64 offset;
	u64 len;
	const u8 *data;
	bool fin;
};

/* CRYPTO, NEW_TOKEN (offset unused) and DATAGRAM (offset unused). */
struct tquic_frame_data {
	u64 offset;
	u64 len;
	const u8 *data;
};

/* RESET_STREAM, STOP_SENDING (final_size unused), RESET_STREAM_AT. */
struct tquic_frame_reset {
	u64 id;
	u64 error_code;
	u64 final_size;
	u64 reliable_size;
};

/*
 * MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS, DATA_BLOCKED,
 * STREAM_DATA_BLOCKED, STREAMS_BLOCKED, MAX_PATH_ID, PATHS_BLOCKED: @id is
 * the stream ID for the *_STREAM_DATA* frames and unused otherwise.
 */
struct tquic_frame_limit {
	u64 id;
	u64 max;
};

/* NEW_CONNECTION_ID and PATH_NEW_CONNECTION_ID. */
struct tquic_frame_new_cid {
	u64 path_id;
	u64 seq;
	u64 retire_prior_to;
	const u8 *cid;
	const u8 *reset_token;	/* TQUIC_RESET_TOKEN_LEN bytes */
	u8 cid_len;
};

/*
 * RETIRE_CONNECTION_ID, PATH_RETIRE_CONNECTION_ID, PATH_ABANDON (@seq is
 * the error code), PATH_STATUS_BACKUP/AVAILABLE (@seq is the status
 * sequence number), PATH_CIDS_BLOCKED (@seq is the next sequence number).
 */
struct tquic_frame_path_seq {
	u64 path_id;
	u64 seq;
};

/* PATH_CHALLENGE and PATH_RESPONSE. */
struct tquic_frame_path_probe {
	const u8 *data;		/* TQUIC_PATH_CHALLENGE_LEN bytes */
};

/* CONNECTION_CLOSE 0x1c (with @frame_type) and 0x1d. */
struct tquic_frame_close {
	u64 error_code;
	u64 frame_type;
	u64 reason_len;
	const u8 *reason;
};

/* ACK_FREQUENCY. */
struct tquic_frame_ack_freq {
	u64 seq;
	u64 ack_eliciting_threshold;
	u64 request_max_ack_delay;	/* microseconds */
	u64 reordering_threshold;
};

/* PADDING: a run of @len zero bytes is decoded as one frame. */
struct tquic_frame_padding {
	u64 len;
};

struct tquic_frame {
	u64 type;
	union {
		struct tquic_frame_padding padding;
		struct tquic_frame_ack ack;
		struct tquic_frame_stream stream;
		struct tquic_frame_data data;
		struct tquic_frame_reset reset;
		struct tquic_frame_limit limit;
		struct tquic_frame_new_cid new_cid;
		struct tquic_frame_path_seq path_seq;
		struct tquic_frame_path_probe probe;
		struct tquic_frame_close close;
		struct tquic_frame_ack_freq ack_freq;
	} u;
};

/* Iterates the ranges of a decoded ACK-family frame, largest first. */
struct tquic_ack_iter {
	struct tquic_cursor c;
	u64 left;		/* ranges still to read from @c */
	u64 prev_smallest;
	u64 first_largest;
	u64 first_range;
	bool accurate;
	bool first_pending;
	u8 first_ecn;
};

/*
 * Decodes one frame at @c.  Returns 0 and advances @c past the frame, or
 * returns a QUIC transport error code (enum tquic_transport_error: usually
 * FRAME_ENCODING_ERROR, PROTOCOL_VIOLATION for a frame type that does not
 * use the shortest encoding or an out-of-range path ID) and leaves @c
 * unchanged.  @why, if not NULL, receives a static description of the
 * failure.
 */
int tquic_frame_decode(struct tquic_cursor *c, struct tquic_frame *f,
		       const char **why);

/*
 * Encodes @f at @w.  Returns 0, -EINVAL when @f cannot be represented on
 * the wire (values above 2^62-1, bad lengths, ranges out of order...) or
 * -ENOBUFS when @w is too small; @w is unchanged on failure.  Varints use
 * their shortest encoding.
 */
int tquic_frame_encode(struct tquic_wbuf *w, const struct tquic_frame *f);

/*
 * Writes only the header of a STREAM frame (type, stream ID, offset when
 * non-zero, length when @with_len) for @len bytes of data the caller then
 * places right after it, e.g. straight from its stream buffer.  Returns 0,
 * -EINVAL or -ENOBUFS like tquic_frame_encode().
 */
int tquic_frame_encode_stream_hdr(struct tquic_wbuf *w, u64 id, u64 offset,
				  u64 len, bool fin, bool with_len);
/* Size of that header, or 0 when the values cannot be encoded. */
size_t tquic_frame_stream_hdr_len(u64 id, u64 offset, u64 len, bool with_len);

void tquic_ack_iter_init(struct tquic_ack_iter *it, u64 type,
			 const struct tquic_frame_ack *ack);
/* Returns false after the last range. */
bool tquic_ack_iter_next(struct tquic_ack_iter *it, struct tquic_ack_range *r);

/* Packet-type bits and TQUIC_FRAME_F_* flags of @type; 0 if unknown. */
u32 tquic_frame_info(u64 type);

static inline bool tquic_frame_type_is_stream(u64 type)
{
	return type >= TQUIC_FT_STREAM && type <= (TQUIC_FT_STREAM | 0x07);
}

static inline bool tquic_frame_type_is_ack(u64 type)
{
	return type == TQUIC_FT_ACK || type == TQUIC_FT_ACK_ECN ||
	       type == TQUIC_FT_PATH_ACK || type == TQUIC_FT_PATH_ACK_ECN ||
	       type == TQUIC_FT_ACCURATE_ACK_ECN;
}

/* Whether @type may appear in a packet of type @pkt (TQUIC_FRAME_PKT_*). */
static inline bool tquic_frame_allowed_in(u64 type, u32 pkt)
{
	return (tquic_frame_info(type) & pkt & TQUIC_FRAME_PKT_ALL) != 0;
}

/*
 * RFC 9000 section 12.4: a frame in a packet type that does not permit it
 * is a PROTOCOL_VIOLATION.  Returns 0 or that error code.
 */
static inline int tquic_frame_check_pkt(u64 type, u32 pkt)
{
	return tquic_frame_allowed_in(type, pkt) ? 0 :
	       TQUIC_ERR_PROTOCOL_VIOLATION;
}

static inline bool tquic_frame_is_ack_eliciting(u64 type)
{
	return tquic_frame_info(type) & TQUIC_FRAME_F_ACK_ELICITING;
}

static inline bool tquic_frame_in_flight(u64 type)
{
	return tquic_frame_info(type) & TQUIC_FRAME_F_IN_FLIGHT;
}

static inline bool tquic_frame_is_probing(u64 type)
{
	return tquic_frame_info(type) & TQUIC_FRAME_F_PROBING;
}

#endif /* _TQUIC_CORE_FRAME_H */
