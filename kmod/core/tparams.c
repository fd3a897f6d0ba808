// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC transport parameters: decoding with the validation rules of RFC 9000
 * section 18.2 and the extensions, and encoding.  See tparams.h.
 */
#include "tparams.h"

#define TPE	TQUIC_ERR_TRANSPORT_PARAMETER_ERROR

/* Wire IDs, indexed by enum tquic_tp_bit. */
static const u64 tp_ids[TQUIC_TPB_COUNT] = {
	[TQUIC_TPB_ORIGINAL_DCID] = TQUIC_TP_ORIGINAL_DCID,
	[TQUIC_TPB_MAX_IDLE_TIMEOUT] = TQUIC_TP_MAX_IDLE_TIMEOUT,
	[TQUIC_TPB_STATELESS_RESET_TOKEN] = TQUIC_TP_STATELESS_RESET_TOKEN,
	[TQUIC_TPB_MAX_UDP_PAYLOAD_SIZE] = TQUIC_TP_MAX_UDP_PAYLOAD_SIZE,
	[TQUIC_TPB_INITIAL_MAX_DATA] = TQUIC_TP_INITIAL_MAX_DATA,
	[TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL] =
		TQUIC_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
	[TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE] =
		TQUIC_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
	[TQUIC_TPB_INITIAL_MAX_STREAM_DATA_UNI] =
		TQUIC_TP_INITIAL_MAX_STREAM_DATA_UNI,
	[TQUIC_TPB_INITIAL_MAX_STREAMS_BIDI] = TQUIC_TP_INITIAL_MAX_STREAMS_BIDI,
	[TQUIC_TPB_INITIAL_MAX_STREAMS_UNI] = TQUIC_TP_INITIAL_MAX_STREAMS_UNI,
	[TQUIC_TPB_ACK_DELAY_EXPONENT] = TQUIC_TP_ACK_DELAY_EXPONENT,
	[TQUIC_TPB_MAX_ACK_DELAY] = TQUIC_TP_MAX_ACK_DELAY,
	[TQUIC_TPB_DISABLE_ACTIVE_MIGRATION] = TQUIC_TP_DISABLE_ACTIVE_MIGRATION,
	[TQUIC_TPB_PREFERRED_ADDRESS] = TQUIC_TP_PREFERRED_ADDRESS,
	[TQUIC_TPB_ACTIVE_CONNECTION_ID_LIMIT] =
		TQUIC_TP_ACTIVE_CONNECTION_ID_LIMIT,
	[TQUIC_TPB_INITIAL_SCID] = TQUIC_TP_INITIAL_SCID,
	[TQUIC_TPB_RETRY_SCID] = TQUIC_TP_RETRY_SCID,
	[TQUIC_TPB_VERSION_INFORMATION] = TQUIC_TP_VERSION_INFORMATION,
	[TQUIC_TPB_RESET_STREAM_AT] = TQUIC_TP_RESET_STREAM_AT,
	[TQUIC_TPB_MAX_DATAGRAM_FRAME_SIZE] = TQUIC_TP_MAX_DATAGRAM_FRAME_SIZE,
	[TQUIC_TPB_INITIAL_MAX_PATH_ID] = TQUIC_TP_INITIAL_MAX_PATH_ID,
	[TQUIC_TPB_MIN_ACK_DELAY] = TQUIC_TP_MIN_ACK_DELAY,
	[TQUIC_TPB_ACCURATE_ACK_ECN] = TQUIC_TP_ACCURATE_ACK_ECN,
};

/* Parameters only a server may send (RFC 9000 section 18.2). */
#define TP_SERVER_ONLY	((1U << TQUIC_TPB_ORIGINAL_DCID) | \
			 (1U << TQUIC_TPB_STATELESS_RESET_TOKEN) | \
			 (1U << TQUIC_TPB_PREFERRED_ADDRESS) | \
			 (1U << TQUIC_TPB_RETRY_SCID))

/* Parameters whose value is empty. */
#define TP_EMPTY	((1U << TQUIC_TPB_DISABLE_ACTIVE_MIGRATION) | \
			 (1U << TQUIC_TPB_RESET_STREAM_AT) | \
			 (1U << TQUIC_TPB_ACCURATE_ACK_ECN))

#define TP_CIDS		((1U << TQUIC_TPB_ORIGINAL_DCID) | \
			 (1U << TQUIC_TPB_INITIAL_SCID) | \
			 (1U << TQUIC_TPB_RETRY_SCID))

#define PREFERRED_ADDRESS_FIXED_LEN	(4 + 2 + 16 + 2 + 1 + TQUIC_TP_RESET_TOKEN_LEN)

static int tp_err(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return TPE;
}

static int tp_bit(u64 id)
{
	int i;

	for (i = 0; i < TQUIC_TPB_COUNT; i++)
		if (tp_ids[i] == id)
			return i;
	return -1;
}

/* The integer field of @bit, or NULL when @bit is not an integer parameter. */
static const u64 *tp_int(const struct tquic_transport_params *tp, int bit)
{
	switch (bit) {
	case TQUIC_TPB_MAX_IDLE_TIMEOUT:
		return &tp->max_idle_timeout;
	case TQUIC_TPB_MAX_UDP_PAYLOAD_SIZE:
		return &tp->max_udp_payload_size;
	case TQUIC_TPB_INITIAL_MAX_DATA:
		return &tp->initial_max_data;
	case TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL:
		return &tp->initial_max_stream_data_bidi_local;
	case TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE:
		return &tp->initial_max_stream_data_bidi_remote;
	case TQUIC_TPB_INITIAL_MAX_STREAM_DATA_UNI:
		return &tp->initial_max_stream_data_uni;
	case TQUIC_TPB_INITIAL_MAX_STREAMS_BIDI:
		return &tp->initial_max_streams_bidi;
	case TQUIC_TPB_INITIAL_MAX_STREAMS_UNI:
		return &tp->initial_max_streams_uni;
	case TQUIC_TPB_ACK_DELAY_EXPONENT:
		return &tp->ack_delay_exponent;
	case TQUIC_TPB_MAX_ACK_DELAY:
		return &tp->max_ack_delay;
	case TQUIC_TPB_ACTIVE_CONNECTION_ID_LIMIT:
		return &tp->active_connection_id_limit;
	case TQUIC_TPB_MAX_DATAGRAM_FRAME_SIZE:
		return &tp->max_datagram_frame_size;
	case TQUIC_TPB_INITIAL_MAX_PATH_ID:
		return &tp->initial_max_path_id;
	case TQUIC_TPB_MIN_ACK_DELAY:
		return &tp->min_ack_delay;
	}
	return NULL;
}

static const struct tquic_tp_cid *tp_cid(const struct tquic_transport_params *tp,
					  int bit)
{
	switch (bit) {
	case TQUIC_TPB_ORIGINAL_DCID:
		return &tp->original_dcid;
	case TQUIC_TPB_INITIAL_SCID:
		return &tp->initial_scid;
	case TQUIC_TPB_RETRY_SCID:
		return &tp->retry_scid;
	}
	return NULL;
}

void tquic_tp_init(struct tquic_transport_params *tp)
{
	memset(tp, 0, sizeof(*tp));
	tp->max_udp_payload_size = TQUIC_TP_DEFAULT_MAX_UDP_PAYLOAD_SIZE;
	tp->ack_delay_exponent = TQUIC_TP_DEFAULT_ACK_DELAY_EXPONENT;
	tp->max_ack_delay = TQUIC_TP_DEFAULT_MAX_ACK_DELAY;
	tp->active_connection_id_limit = TQUIC_TP_DEFAULT_ACTIVE_CID_LIMIT;
}

/*
 * Rules on the value of one integer parameter.  Shared by decoding (the
 * peer's values) and encoding (ours), so that we never send what we would
 * reject.
 */
static const char *tp_check_int(int bit, u64 v)
{
	switch (bit) {
	case TQUIC_TPB_MAX_UDP_PAYLOAD_SIZE:
		if (v < TQUIC_TP_MIN_UDP_PAYLOAD_SIZE)
			return "max_udp_payload_size below 1200";
		break;
	case TQUIC_TPB_ACK_DELAY_EXPONENT:
		if (v > TQUIC_TP_MAX_ACK_DELAY_EXPONENT)
			return "ack_delay_exponent above 20";
		break;
	case TQUIC_TPB_MAX_ACK_DELAY:
		if (v >= TQUIC_TP_MAX_ACK_DELAY_LIMIT)
			return "max_ack_delay of 2^14 or more";
		break;
	case TQUIC_TPB_ACTIVE_CONNECTION_ID_LIMIT:
		if (v < 2)
			return "active_connection_id_limit below 2";
		break;
	case TQUIC_TPB_INITIAL_MAX_STREAMS_BIDI:
	case TQUIC_TPB_INITIAL_MAX_STREAMS_UNI:
		if (v > TQUIC_TP_MAX_STREAMS_LIMIT)
			return "initial_max_streams above 2^60";
		break;
	case TQUIC_TPB_INITIAL_MAX_PATH_ID:
		if (v > TQUIC_TP_MAX_PATH_ID_LIMIT)
			return "initial_max_path_id above 2^32-1";
		break;
	}
	return NULL;
}

/* Rules that relate several parameters, checked once all are known. */
static const char *tp_check_set(const struct tquic_transport_params *tp,
				bool from_server)
{
	if (!from_server && (tp->present & TP_SERVER_ONLY))
		return "server-only parameter sent by a client";
	if (!TQUIC_TP_HAS(tp, TQUIC_TPB_INITIAL_SCID))
		return "initial_source_connection_id missing";
	if (from_server && !TQUIC_TP_HAS(tp, TQUIC_TPB_ORIGINAL_DCID))
		return "original_destination_connection_id missing";
	/* min_ack_delay is in microseconds, max_ack_delay in milliseconds. */
	if (TQUIC_TP_HAS(tp, TQUIC_TPB_MIN_ACK_DELAY) &&
	    tp->min_ack_delay > tp->max_ack_delay * 1000)
		return "min_ack_delay above max_ack_delay";
	return NULL;
}

static bool get_u32(struct tquic_cursor *c, u32 *v)
{
	u64 x;

	if (!tquic_get_uint(c, 4, &x))
		return false;
	*v = (u32)x;
	return true;
}

static int decode_version_info(struct tquic_transport_params *tp,
			       struct tquic_cursor *v, const char **why)
{
	struct tquic_tp_version_info *vi = &tp->version_info;
	u32 ver;

	if (v->left < 4 || v->left % 4)
		return tp_err(why, "version_information length not a non-zero multiple of 4");
	get_u32(v, &vi->chosen);
	if (!vi->chosen)
		return tp_err(why, "version_information chosen version 0");
	while (get_u32(v, &ver)) {
		if (!ver)
			return tp_err(why, "version_information available version 0");
		if (vi->n_available < TQUIC_TP_MAX_VERSIONS)
			vi->available[vi->n_available] = ver;
		vi->n_available++;
	}
	return 0;
}

static int decode_preferred_address(struct tquic_transport_params *tp,
				    struct tquic_cursor *v, const char **why)
{
	struct tquic_tp_preferred_address *pa = &tp->preferred_address;
	const u8 *p;
	u64 port;
	u8 len;

	if (v->left < PREFERRED_ADDRESS_FIXED_LEN)
		return tp_err(why, "preferred_address too short");
	tquic_get_bytes(v, 4, &p);
	memcpy(pa->ipv4, p, 4);
	tquic_get_uint(v, 2, &port);
	pa->ipv4_port = (u16)port;
	tquic_get_bytes(v, 16, &p);
	memcpy(pa->ipv6, p, 16);
	tquic_get_uint(v, 2, &port);
	pa->ipv6_port = (u16)port;
	tquic_get_u8(v, &len);
	if (len < 1 || len > TQUIC_MAX_CID_LEN)
		return tp_err(why, "preferred_address connection ID length not in 1..20");
	if (v->left != (size_t)len + TQUIC_TP_RESET_TOKEN_LEN)
		return tp_err(why, "preferred_address length mismatch");
	tquic_get_bytes(v, len, &p);
	memcpy(pa->cid.id, p, len);
	pa->cid.len = len;
	tquic_get_bytes(v, TQUIC_TP_RESET_TOKEN_LEN, &p);
	memcpy(pa->reset_token, p, TQUIC_TP_RESET_TOKEN_LEN);
	return 0;
}

static int decode_one(struct tquic_transport_params *tp, int bit,
		      const u8 *val, size_t len, const char **why)
{
	struct tquic_cursor v;
	struct tquic_tp_cid *cid;
	const char *msg;
	u64 *iv;

	tquic_cursor_init(&v, val, len);
	/* @tp is ours to fill: the lookups return const for encode's sake. */
	iv = (u64 *)tp_int(tp, bit);
	if (iv) {
		if (!tquic_get_varint(&v, iv) || v.left)
			return tp_err(why, "integer parameter length mismatch");
		msg = tp_check_int(bit, *iv);
		return msg ? tp_err(why, msg) : 0;
	}
	cid = (struct tquic_tp_cid *)tp_cid(tp, bit);
	if (cid) {
		if (len > TQUIC_MAX_CID_LEN)
			return tp_err(why, "connection ID longer than 20 bytes");
		memcpy(cid->id, val, len);
		cid->len = (u8)len;
		return 0;
	}
	if ((1U << bit) & TP_EMPTY)
		return len ? tp_err(why, "non-empty value for an empty parameter") : 0;

	switch (bit) {
	case TQUIC_TPB_STATELESS_RESET_TOKEN:
		if (len != TQUIC_TP_RESET_TOKEN_LEN)
			return tp_err(why, "stateless_reset_token not 16 bytes");
		memcpy(tp->stateless_reset_token, val, len);
		return 0;
	case TQUIC_TPB_PREFERRED_ADDRESS:
		return decode_preferred_address(tp, &v, why);
	case TQUIC_TPB_VERSION_INFORMATION:
		return decode_version_info(tp, &v, why);
	}
	return tp_err(why, "internal: unhandled parameter");
}

int tquic_tp_decode(const u8 *b, size_t len, bool from_server,
		    struct tquic_transport_params *tp, const char **why)
{
	struct tquic_cursor c;
	const u8 *val;
	const char *msg;
	u64 id, vlen;
	int bit, err;

	tquic_tp_init(tp);
	tquic_cursor_init(&c, b, len);
	while (c.left) {
		if (!tquic_get_varint(&c, &id) || !tquic_get_varint(&c, &vlen) ||
		    vlen > c.left)
			return tp_err(why, "truncated parameter");
		tquic_get_bytes(&c, (size_t)vlen, &val);
		bit = tp_bit(id);
		if (bit < 0)
			continue;	/* unknown or reserved: ignored */
		if (TQUIC_TP_HAS(tp, bit))
			return tp_err(why, "duplicate parameter");
		TQUIC_TP_SET(tp, bit);
		if (!from_server && ((1U << bit) & TP_SERVER_ONLY))
			return tp_err(why, "server-only parameter sent by a client");
		err = decode_one(tp, bit, val, (size_t)vlen, why);
		if (err)
			return err;
	}
	msg = tp_check_set(tp, from_server);
	return msg ? tp_err(why, msg) : 0;
}

/* Encoding. */

static int put_v(struct tquic_wbuf *w, u64 v)
{
	if (v > TQUIC_VARINT_MAX)
		return -EINVAL;
	return tquic_put_varint(w, v) ? 0 : -ENOBUFS;
}

static int put_b(struct tquic_wbuf *w, const u8 *p, size_t n)
{
	return tquic_put_bytes(w, p, n) ? 0 : -ENOBUFS;
}

static int put_u(struct tquic_wbuf *w, size_t n, u64 v)
{
	return tquic_put_uint(w, n, v) ? 0 : -ENOBUFS;
}

/* Encodes the value of @bit, preceded by its ID and length. */
static int encode_one(struct tquic_wbuf *w,
		      const struct tquic_transport_params *tp, int bit)
{
	const struct tquic_tp_preferred_address *pa = &tp->preferred_address;
	const struct tquic_tp_version_info *vi = &tp->version_info;
	const struct tquic_tp_cid *cid;
	const u64 *iv;
	u32 i;
	int err;

	err = put_v(w, tp_ids[bit]);
	if (err)
		return err;
	iv = tp_int(tp, bit);
	if (iv) {
		if (*iv > TQUIC_VARINT_MAX || tp_check_int(bit, *iv))
			return -EINVAL;
		return put_v(w, tquic_varint_len(*iv)) ?: put_v(w, *iv);
	}
	cid = tp_cid(tp, bit);
	if (cid) {
		if (cid->len > TQUIC_MAX_CID_LEN)
			return -EINVAL;
		return put_v(w, cid->len) ?: put_b(w, cid->id, cid->len);
	}
	if ((1U << bit) & TP_EMPTY)
		return put_v(w, 0);

	switch (bit) {
	case TQUIC_TPB_STATELESS_RESET_TOKEN:
		return put_v(w, TQUIC_TP_RESET_TOKEN_LEN) ?:
		       put_b(w, tp->stateless_reset_token, TQUIC_TP_RESET_TOKEN_LEN);
	case TQUIC_TPB_PREFERRED_ADDRESS:
		if (pa->cid.len < 1 || pa->cid.len > TQUIC_MAX_CID_LEN)
			return -EINVAL;
		return put_v(w, PREFERRED_ADDRESS_FIXED_LEN + pa->cid.len) ?:
		       put_b(w, pa->ipv4, 4) ?: put_u(w, 2, pa->ipv4_port) ?:
		       put_b(w, pa->ipv6, 16) ?: put_u(w, 2, pa->ipv6_port) ?:
		       put_u(w, 1, pa->cid.len) ?:
		       put_b(w, pa->cid.id, pa->cid.len) ?:
		       put_b(w, pa->reset_token, TQUIC_TP_RESET_TOKEN_LEN);
	case TQUIC_TPB_VERSION_INFORMATION:
		if (!vi->chosen || vi->n_available > TQUIC_TP_MAX_VERSIONS)
			return -EINVAL;
		err = put_v(w, 4 * (1 + (u64)vi->n_available)) ?:
		      put_u(w, 4, vi->chosen);
		for (i = 0; !err && i < vi->n_available; i++)
			err = vi->available[i] ? put_u(w, 4, vi->available[i]) :
			      -EINVAL;
		return err;
	}
	return -EINVAL;
}

int tquic_tp_encode(struct tquic_wbuf *wout, const struct tquic_transport_params *tp,
		    bool is_server, const struct tquic_tp_grease *grease)
{
	struct tquic_wbuf w = *wout;
	u64 max_ack_delay = TQUIC_TP_DEFAULT_MAX_ACK_DELAY;
	int bit, err;

	/*
	 * The checks on the whole set that decoding applies, except the
	 * presence of the CIDs, which the caller may add later.
	 */
	if (!is_server && (tp->present & TP_SERVER_ONLY))
		return -EINVAL;
	if (TQUIC_TP_HAS(tp, TQUIC_TPB_MAX_ACK_DELAY))
		max_ack_delay = tp->max_ack_delay;
	if (TQUIC_TP_HAS(tp, TQUIC_TPB_MIN_ACK_DELAY) &&
	    max_ack_delay < TQUIC_TP_MAX_ACK_DELAY_LIMIT &&
	    tp->min_ack_delay > max_ack_delay * 1000)
		return -EINVAL;
	if (tp->present >> TQUIC_TPB_COUNT)
		return -EINVAL;

	for (bit = 0; bit < TQUIC_TPB_COUNT; bit++) {
		if (!TQUIC_TP_HAS(tp, bit))
			continue;
		err = encode_one(&w, tp, bit);
		if (err)
			return err;
	}
	if (grease) {
		if (grease->n > (TQUIC_VARINT_MAX - 27) / 31 ||
		    (grease->len && !grease->value))
			return -EINVAL;
		err = put_v(&w, 31 * grease->n + 27) ?: put_v(&w, grease->len) ?:
		      put_b(&w, grease->value, grease->len);
		if (err)
			return err;
	}
	err = (int)(w.p - wout->p);
	*wout = w;
	return err;
}
