/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * QUIC transport parameters (RFC 9000 section 18) and the extension
 * parameters TQUIC understands: version_information (RFC 9368),
 * max_datagram_frame_size (RFC 9221), initial_max_path_id
 * (draft-ietf-quic-multipath-21), min_ack_delay
 * (draft-ietf-quic-ack-frequency), reset_stream_at
 * (draft-ietf-quic-reliable-stream-reset) and accurate_ack_ecn
 * (draft-seemann-quic-accurate-ack-ecn).
 *
 * Decoding applies every validation rule of RFC 9000 section 18.2 (and the
 * extensions' rules); a violation is TRANSPORT_PARAMETER_ERROR.  Unknown
 * and reserved (31 * N + 27) parameters are ignored.  The decoded structure
 * is self-contained: it does not point into the input.
 */
#ifndef _TQUIC_CORE_TPARAMS_H
#define _TQUIC_CORE_TPARAMS_H

#include "platform.h"
#include "varint.h"
#include "proto.h"

/* Transport parameter IDs. */
#define TQUIC_TP_ORIGINAL_DCID			0x00ULL
#define TQUIC_TP_MAX_IDLE_TIMEOUT		0x01ULL
#define TQUIC_TP_STATELESS_RESET_TOKEN		0x02ULL
#define TQUIC_TP_MAX_UDP_PAYLOAD_SIZE		0x03ULL
#define TQUIC_TP_INITIAL_MAX_DATA		0x04ULL
#define TQUIC_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL	0x05ULL
#define TQUIC_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE	0x06ULL
#define TQUIC_TP_INITIAL_MAX_STREAM_DATA_UNI	0x07ULL
#define TQUIC_TP_INITIAL_MAX_STREAMS_BIDI	0x08ULL
#define TQUIC_TP_INITIAL_MAX_STREAMS_UNI	0x09ULL
#define TQUIC_TP_ACK_DELAY_EXPONENT		0x0aULL
#define TQUIC_TP_MAX_ACK_DELAY			0x0bULL
#define TQUIC_TP_DISABLE_ACTIVE_MIGRATION	0x0cULL
#define TQUIC_TP_PREFERRED_ADDRESS		0x0dULL
#define TQUIC_TP_ACTIVE_CONNECTION_ID_LIMIT	0x0eULL
#define TQUIC_TP_INITIAL_SCID			0x0fULL
#define TQUIC_TP_RETRY_SCID			0x10ULL
#define TQUIC_TP_VERSION_INFORMATION		0x11ULL
#define TQUIC_TP_RESET_STREAM_AT		0x1dULL
#define TQUIC_TP_MAX_DATAGRAM_FRAME_SIZE	0x20ULL
#define TQUIC_TP_INITIAL_MAX_PATH_ID		0x3eULL
#define TQUIC_TP_MIN_ACK_DELAY			0xff04de1bULL
#define TQUIC_TP_ACCURATE_ACK_ECN		0x2051a5fa8648afULL

/* Bits of struct tquic_transport_params.present, one per known parameter. */
enum tquic_tp_bit {
	TQUIC_TPB_ORIGINAL_DCID,
	TQUIC_TPB_MAX_IDLE_TIMEOUT,
	TQUIC_TPB_STATELESS_RESET_TOKEN,
	TQUIC_TPB_MAX_UDP_PAYLOAD_SIZE,
	TQUIC_TPB_INITIAL_MAX_DATA,
	TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
	TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
	TQUIC_TPB_INITIAL_MAX_STREAM_DATA_UNI,
	TQUIC_TPB_INITIAL_MAX_STREAMS_BIDI,
	TQUIC_TPB_INITIAL_MAX_STREAMS_UNI,
	TQUIC_TPB_ACK_DELAY_EXPONENT,
	TQUIC_TPB_MAX_ACK_DELAY,
	TQUIC_TPB_DISABLE_ACTIVE_MIGRATION,
	TQUIC_TPB_PREFERRED_ADDRESS,
	TQUIC_TPB_ACTIVE_CONNECTION_ID_LIMIT,
	TQUIC_TPB_INITIAL_SCID,
	TQUIC_TPB_RETRY_SCID,
	TQUIC_TPB_VERSION_INFORMATION,
	TQUIC_TPB_RESET_STREAM_AT,
	TQUIC_TPB_MAX_DATAGRAM_FRAME_SIZE,
	TQUIC_TPB_INITIAL_MAX_PATH_ID,
	TQUIC_TPB_MIN_ACK_DELAY,
	TQUIC_TPB_ACCURATE_ACK_ECN,
	TQUIC_TPB_COUNT
};

#define TQUIC_TP_HAS(tp, bit)	(((tp)->present >> (bit)) & 1U)
#define TQUIC_TP_SET(tp, bit)	((tp)->present |= 1U << (bit))

/* Defaults of absent parameters (RFC 9000 section 18.2). */
#define TQUIC_TP_DEFAULT_MAX_UDP_PAYLOAD_SIZE	65527ULL
#define TQUIC_TP_DEFAULT_ACK_DELAY_EXPONENT	3ULL
#define TQUIC_TP_DEFAULT_MAX_ACK_DELAY		25ULL
#define TQUIC_TP_DEFAULT_ACTIVE_CID_LIMIT	2ULL

/* Limits. */
#define TQUIC_TP_MIN_UDP_PAYLOAD_SIZE		1200ULL
#define TQUIC_TP_MAX_ACK_DELAY_EXPONENT		20ULL
#define TQUIC_TP_MAX_ACK_DELAY_LIMIT		(1ULL << 14)	/* exclusive */
#define TQUIC_TP_MAX_STREAMS_LIMIT		(1ULL << 60)
#define TQUIC_TP_MAX_PATH_ID_LIMIT		0xffffffffULL
#define TQUIC_TP_RESET_TOKEN_LEN		16
/* Available Versions kept from version_information; more are counted only. */
#define TQUIC_TP_MAX_VERSIONS			16

struct tquic_tp_cid {
	u8 len;
	u8 id[TQUIC_MAX_CID_LEN];
};

struct tquic_tp_preferred_address {
	u8 ipv4[4];
	u16 ipv4_port;
	u8 ipv6[16];
	u16 ipv6_port;
	struct tquic_tp_cid cid;
	u8 reset_token[TQUIC_TP_RESET_TOKEN_LEN];
};

struct tquic_tp_version_info {
	u32 chosen;
	u32 available[TQUIC_TP_MAX_VERSIONS];
	u32 n_available;	/* versions on the wire, may exceed the array */
};

/* A grease parameter to emit: ID 31 * @n + 27 with @len bytes of @value. */
struct tquic_tp_grease {
	u64 n;
	const u8 *value;
	size_t len;
};

struct tquic_transport_params {
	u32 present;		/* 1 << enum tquic_tp_bit */
	struct tquic_tp_cid original_dcid;
	struct tquic_tp_cid initial_scid;
	struct tquic_tp_cid retry_scid;
	u64 max_idle_timeout;			/* ms */
	u64 max_udp_payload_size;
	u64 initial_max_data;
	u64 initial_max_stream_data_bidi_local;
	u64 initial_max_stream_data_bidi_remote;
	u64 initial_max_stream_data_uni;
	u64 initial_max_streams_bidi;
	u64 initial_max_streams_uni;
	u64 ack_delay_exponent;
	u64 max_ack_delay;			/* ms */
	u64 active_connection_id_limit;
	u64 max_datagram_frame_size;
	u64 initial_max_path_id;
	u64 min_ack_delay;			/* us */
	u8 stateless_reset_token[TQUIC_TP_RESET_TOKEN_LEN];
	struct tquic_tp_preferred_address preferred_address;
	struct tquic_tp_version_info version_info;
};

/* Zeroes @tp and sets the defaults of RFC 9000 section 18.2. */
void tquic_tp_init(struct tquic_transport_params *tp);

/*
 * Decodes the transport parameters extension @b of @len bytes sent by a
 * server (@from_server) or a client.  Returns 0 or a QUIC transport error
 * code (TRANSPORT_PARAMETER_ERROR); @why, if not NULL, receives a static
 * description of the failure.  Absent parameters keep their defaults.
 * Besides the per-parameter rules this enforces RFC 9000 section 7.3:
 * initial_source_connection_id must be present, and
 * original_destination_connection_id too when sent by a server.
 */
int tquic_tp_decode(const u8 *b, size_t len, bool from_server,
		    struct tquic_transport_params *tp, const char **why);

/*
 * Encodes the parameters present in @tp, as a server (@is_server) or a
 * client, followed by @grease when not NULL.  Values are checked with the
 * rules decoding applies (all but the presence rules of RFC 9000 section
 * 7.3, the caller's business), so that the peer accepts them.  Returns the number
 * of bytes written, -EINVAL for an invalid parameter set (including
 * server-only parameters from a client) or -ENOBUFS.
 */
int tquic_tp_encode(struct tquic_wbuf *w, const struct tquic_transport_params *tp,
		    bool is_server, const struct tquic_tp_grease *grease);

/* Whether @id is a reserved (grease) parameter ID: 31 * N + 27. */
static inline bool tquic_tp_is_grease(u64 id)
{
	return id >= 27 && (id - 27) % 31 == 0;
}

#endif /* _TQUIC_CORE_TPARAMS_H */
