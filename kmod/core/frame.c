// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC frame decoding and encoding.  See frame.h.
 *
 * Decoding works on a private copy of the caller's cursor and only commits
 * it when the whole frame is valid, so a failed decode leaves the cursor
 * where it was.  Encoding likewise writes through a private copy of the
 * caller's buffer.
 */
#include "frame.h"

#define FEE	TQUIC_ERR_FRAME_ENCODING_ERROR
#define PV	TQUIC_ERR_PROTOCOL_VIOLATION

static int frame_err(const char **why, const char *msg, int code)
{
	if (why)
		*why = msg;
	return code;
}

static bool get_v(struct tquic_cursor *c, u64 *v)
{
	return tquic_get_varint(c, v);
}

/* Reads a varint length followed by that many bytes, referenced in place. */
static bool get_lv(struct tquic_cursor *c, u64 *len, const u8 **data)
{
	u64 n;

	if (!get_v(c, &n) || n > c->left)
		return false;
	*len = n;
	return tquic_get_bytes(c, (size_t)n, data);
}

static int decode_ack(struct tquic_cursor *c, u64 type,
		      struct tquic_frame_ack *a, const char **why)
{
	bool accurate = type == TQUIC_FT_ACCURATE_ACK_ECN;
	bool has_path = type == TQUIC_FT_PATH_ACK ||
			type == TQUIC_FT_PATH_ACK_ECN;
	bool has_ecn = type == TQUIC_FT_ACK_ECN ||
		       type == TQUIC_FT_PATH_ACK_ECN;
	u64 smallest, gap, len, need, i;
	const u8 *start;
	u8 ecn;

	if (has_path) {
		if (!get_v(c, &a->path_id))
			return frame_err(why, "ack: truncated", FEE);
		if (a->path_id > TQUIC_MAX_PATH_ID)
			return frame_err(why, "path_ack: path id above 2^32-1", PV);
	}
	if (!get_v(c, &a->largest) || !get_v(c, &a->delay) ||
	    !get_v(c, &a->range_count) || !get_v(c, &a->first_range))
		return frame_err(why, "ack: truncated", FEE);
	if (accurate) {
		if (!tquic_get_u8(c, &ecn))
			return frame_err(why, "ack: truncated", FEE);
		if (ecn > TQUIC_ECN_CE)
			return frame_err(why, "accurate_ack_ecn: invalid ecn mark", FEE);
		a->first_ecn = ecn;
	}
	if (a->first_range > a->largest)
		return frame_err(why, "ack: first range below packet 0", FEE);
	smallest = a->largest - a->first_range;
	start = c->p;
	/* Every range takes at least two bytes: the loop is bounded by @c. */
	for (i = 0; i < a->range_count; i++) {
		if (!get_v(c, &gap) || !get_v(c, &len))
			return frame_err(why, "ack: truncated range", FEE);
		if (accurate) {
			if (!tquic_get_u8(c, &ecn))
				return frame_err(why, "ack: truncated range", FEE);
			if (ecn > TQUIC_ECN_CE)
				return frame_err(why, "accurate_ack_ecn: invalid ecn mark", FEE);
		}
		need = gap + (accurate ? 1 : 2);
		if (smallest < need)
			return frame_err(why, "ack: gap below packet 0", FEE);
		smallest -= need;
		if (len > smallest)
			return frame_err(why, "ack: range below packet 0", FEE);
		smallest -= len;
	}
	a->ranges = start;
	a->ranges_len = (size_t)(c->p - start);
	a->smallest = smallest;
	if (has_ecn && (!get_v(c, &a->ect0) || !get_v(c, &a->ect1) ||
			!get_v(c, &a->ce)))
		return frame_err(why, "ack: truncated ecn counts", FEE);
	return 0;
}

static int decode_stream(struct tquic_cursor *c, u64 type,
			 struct tquic_frame_stream *s, const char **why)
{
	if (!get_v(c, &s->id))
		return frame_err(why, "stream: truncated", FEE);
	if ((type & TQUIC_FT_STREAM_OFF) && !get_v(c, &s->offset))
		return frame_err(why, "stream: truncated", FEE);
	if (type & TQUIC_FT_STREAM_LEN) {
		if (!get_lv(c, &s->len, &s->data))
			return frame_err(why, "stream: data beyond packet end", FEE);
	} else {
		s->len = c->left;
		tquic_get_bytes(c, c->left, &s->data);
	}
	if (s->len > TQUIC_VARINT_MAX - s->offset)
		return frame_err(why, "stream: offset + length above 2^62-1", FEE);
	s->fin = type & TQUIC_FT_STREAM_FIN;
	return 0;
}

static int decode_new_cid(struct tquic_cursor *c, u64 type,
			  struct tquic_frame_new_cid *n, const char **why)
{
	u8 len;

	if (type == TQUIC_FT_PATH_NEW_CONNECTION_ID) {
		if (!get_v(c, &n->path_id))
			return frame_err(why, "new_connection_id: truncated", FEE);
		if (n->path_id > TQUIC_MAX_PATH_ID)
			return frame_err(why, "path_new_connection_id: path id above 2^32-1", PV);
	}
	if (!get_v(c, &n->seq) || !get_v(c, &n->retire_prior_to) ||
	    !tquic_get_u8(c, &len))
		return frame_err(why, "new_connection_id: truncated", FEE);
	if (len < 1 || len > TQUIC_MAX_CID_LEN)
		return frame_err(why, "new_connection_id: length not in 1..20", FEE);
	if (!tquic_get_bytes(c, len, &n->cid) ||
	    !tquic_get_bytes(c, TQUIC_RESET_TOKEN_LEN, &n->reset_token))
		return frame_err(why, "new_connection_id: truncated", FEE);
	if (n->retire_prior_to > n->seq)
		return frame_err(why, "new_connection_id: retire_prior_to above sequence", FEE);
	n->cid_len = len;
	return 0;
}

static int decode_close(struct tquic_cursor *c, u64 type,
			struct tquic_frame_close *cl, const char **why)
{
	if (!get_v(c, &cl->error_code))
		return frame_err(why, "connection_close: truncated", FEE);
	if (type == TQUIC_FT_CONNECTION_CLOSE && !get_v(c, &cl->frame_type))
		return frame_err(why, "connection_close: truncated", FEE);
	if (!get_lv(c, &cl->reason_len, &cl->reason))
		return frame_err(why, "connection_close: reason beyond frame end", FEE);
	return 0;
}

/* Decodes the single-varint and path-ID frames. */
static int decode_simple(struct tquic_cursor *c, u64 type,
			 struct tquic_frame *f, const char **why)
{
	struct tquic_frame_limit *l = &f->u.limit;
	struct tquic_frame_path_seq *ps = &f->u.path_seq;
	struct tquic_frame_reset *r = &f->u.reset;

	switch (type) {
	case TQUIC_FT_RESET_STREAM:
	case TQUIC_FT_RESET_STREAM_AT:
		if (!get_v(c, &r->id) || !get_v(c, &r->error_code) ||
		    !get_v(c, &r->final_size))
			return frame_err(why, "reset_stream: truncated", FEE);
		r->reliable_size = 0;
		if (type == TQUIC_FT_RESET_STREAM_AT) {
			if (!get_v(c, &r->reliable_size))
				return frame_err(why, "reset_stream_at: truncated", FEE);
			if (r->reliable_size > r->final_size)
				return frame_err(why, "reset_stream_at: reliable size above final size", FEE);
		}
		return 0;
	case TQUIC_FT_STOP_SENDING:
		if (!get_v(c, &r->id) || !get_v(c, &r->error_code))
			return frame_err(why, "stop_sending: truncated", FEE);
		return 0;
	case TQUIC_FT_MAX_DATA:
	case TQUIC_FT_DATA_BLOCKED:
		if (!get_v(c, &l->max))
			return frame_err(why, "flow control frame: truncated", FEE);
		return 0;
	case TQUIC_FT_MAX_STREAM_DATA:
	case TQUIC_FT_STREAM_DATA_BLOCKED:
		if (!get_v(c, &l->id) || !get_v(c, &l->max))
			return frame_err(why, "flow control frame: truncated", FEE);
		return 0;
	case TQUIC_FT_MAX_STREAMS_BIDI:
	case TQUIC_FT_MAX_STREAMS_UNI:
	case TQUIC_FT_STREAMS_BLOCKED_BIDI:
	case TQUIC_FT_STREAMS_BLOCKED_UNI:
		if (!get_v(c, &l->max))
			return frame_err(why, "streams frame: truncated", FEE);
		if (l->max > TQUIC_MAX_STREAMS_LIMIT)
			return frame_err(why, "streams frame: count above 2^60", FEE);
		return 0;
	case TQUIC_FT_MAX_PATH_ID:
	case TQUIC_FT_PATHS_BLOCKED:
		if (!get_v(c, &l->max))
			return frame_err(why, "max_path_id: truncated", FEE);
		if (l->max > TQUIC_MAX_PATH_ID)
			return frame_err(why, "max_path_id: path id above 2^32-1", PV);
		return 0;
	case TQUIC_FT_RETIRE_CONNECTION_ID:
		if (!get_v(c, &ps->seq))
			return frame_err(why, "retire_connection_id: truncated", FEE);
		return 0;
	case TQUIC_FT_PATH_RETIRE_CONNECTION_ID:
	case TQUIC_FT_PATH_ABANDON:
	case TQUIC_FT_PATH_STATUS_BACKUP:
	case TQUIC_FT_PATH_STATUS_AVAILABLE:
	case TQUIC_FT_PATH_CIDS_BLOCKED:
		if (!get_v(c, &ps->path_id) || !get_v(c, &ps->seq))
			return frame_err(why, "multipath frame: truncated", FEE);
		if (ps->path_id > TQUIC_MAX_PATH_ID)
			return frame_err(why, "multipath frame: path id above 2^32-1", PV);
		return 0;
	}
	return frame_err(why, "unknown frame type", FEE);
}

int tquic_frame_decode(struct tquic_cursor *cin, struct tquic_frame *f,
		       const char **why)
{
	struct tquic_cursor c = *cin;
	size_t before = c.left;
	u64 type;
	int err = 0;

	memset(f, 0, sizeof(*f));
	if (!get_v(&c, &type))
		return frame_err(why, "frame type: truncated", FEE);
	if (before - c.left != tquic_varint_len(type))
		return frame_err(why, "frame type: not the shortest encoding", PV);
	f->type = type;

	switch (type) {
	case TQUIC_FT_PADDING:
		f->u.padding.len = 1;
		while (c.left && c.p[0] == 0) {
			c.p++;
			c.left--;
			f->u.padding.len++;
		}
		break;
	case TQUIC_FT_PING:
	case TQUIC_FT_HANDSHAKE_DONE:
	case TQUIC_FT_IMMEDIATE_ACK:
		break;
	case TQUIC_FT_ACK:
	case TQUIC_FT_ACK_ECN:
	case TQUIC_FT_PATH_ACK:
	case TQUIC_FT_PATH_ACK_ECN:
	case TQUIC_FT_ACCURATE_ACK_ECN:
		err = decode_ack(&c, type, &f->u.ack, why);
		break;
	case TQUIC_FT_CRYPTO:
		if (!get_v(&c, &f->u.data.offset) ||
		    !get_lv(&c, &f->u.data.len, &f->u.data.data))
			return frame_err(why, "crypto: truncated", FEE);
		if (f->u.data.len > TQUIC_VARINT_MAX - f->u.data.offset)
			return frame_err(why, "crypto: offset + length above 2^62-1", FEE);
		break;
	case TQUIC_FT_NEW_TOKEN:
		if (!get_lv(&c, &f->u.data.len, &f->u.data.data))
			return frame_err(why, "new_token: truncated", FEE);
		if (!f->u.data.len)
			return frame_err(why, "new_token: empty token", FEE);
		break;
	case TQUIC_FT_DATAGRAM:
		f->u.data.len = c.left;
		tquic_get_bytes(&c, c.left, &f->u.data.data);
		break;
	case TQUIC_FT_DATAGRAM_LEN:
		if (!get_lv(&c, &f->u.data.len, &f->u.data.data))
			return frame_err(why, "datagram: data beyond packet end", FEE);
		break;
	case TQUIC_FT_NEW_CONNECTION_ID:
	case TQUIC_FT_PATH_NEW_CONNECTION_ID:
		err = decode_new_cid(&c, type, &f->u.new_cid, why);
		break;
	case TQUIC_FT_PATH_CHALLENGE:
	case TQUIC_FT_PATH_RESPONSE:
		if (!tquic_get_bytes(&c, TQUIC_PATH_CHALLENGE_LEN, &f->u.probe.data))
			return frame_err(why, "path_challenge: truncated", FEE);
		break;
	case TQUIC_FT_CONNECTION_CLOSE:
	case TQUIC_FT_CONNECTION_CLOSE_APP:
		err = decode_close(&c, type, &f->u.close, why);
		break;
	case TQUIC_FT_ACK_FREQUENCY:
		if (!get_v(&c, &f->u.ack_freq.seq) ||
		    !get_v(&c, &f->u.ack_freq.ack_eliciting_threshold) ||
		    !get_v(&c, &f->u.ack_freq.request_max_ack_delay) ||
		    !get_v(&c, &f->u.ack_freq.reordering_threshold))
			return frame_err(why, "ack_frequency: truncated", FEE);
		if (f->u.ack_freq.request_max_ack_delay >= TQUIC_MAX_ACK_DELAY_US_LIMIT)
			return frame_err(why, "ack_frequency: max ack delay of 2^14 ms or more", PV);
		break;
	default:
		if (tquic_frame_type_is_stream(type))
			err = decode_stream(&c, type, &f->u.stream, why);
		else
			err = decode_simple(&c, type, f, why);
		break;
	}
	if (err)
		return err;
	*cin = c;
	return 0;
}

/* Encoding. */

static int put_v(struct tquic_wbuf *w, u64 v)
{
	if (v > TQUIC_VARINT_MAX)
		return -EINVAL;
	return tquic_put_varint(w, v) ? 0 : -ENOBUFS;
}

static int put_b(struct tquic_wbuf *w, const u8 *p, u64 n)
{
	if (n && !p)
		return -EINVAL;
	if (n > w->left)
		return -ENOBUFS;
	return tquic_put_bytes(w, p, (size_t)n) ? 0 : -ENOBUFS;
}

static int put_lv(struct tquic_wbuf *w, const u8 *p, u64 n)
{
	return put_v(w, n) ?: put_b(w, p, n);
}

static int encode_ack(struct tquic_wbuf *w, u64 type,
		      const struct tquic_frame_ack *a)
{
	bool accurate = type == TQUIC_FT_ACCURATE_ACK_ECN;
	u64 need = accurate ? 1 : 2;
	const struct tquic_ack_range *r = a->list;
	size_t i;
	int err;

	if (!r || !a->list_len)
		return -EINVAL;
	for (i = 0; i < a->list_len; i++) {
		if (r[i].smallest > r[i].largest || r[i].largest > TQUIC_VARINT_MAX)
			return -EINVAL;
		if (accurate && r[i].ecn > TQUIC_ECN_CE)
			return -EINVAL;
		if (i && (r[i].largest >= r[i - 1].smallest ||
			  r[i - 1].smallest - r[i].largest < need))
			return -EINVAL;
	}
	if ((type == TQUIC_FT_PATH_ACK || type == TQUIC_FT_PATH_ACK_ECN) &&
	    a->path_id > TQUIC_MAX_PATH_ID)
		return -EINVAL;

	err = put_v(w, type);
	if (!err && (type == TQUIC_FT_PATH_ACK || type == TQUIC_FT_PATH_ACK_ECN))
		err = put_v(w, a->path_id);
	err = err ?: put_v(w, r[0].largest) ?: put_v(w, a->delay) ?:
	      put_v(w, a->list_len - 1) ?:
	      put_v(w, r[0].largest - r[0].smallest);
	if (!err && accurate)
		err = tquic_put_u8(w, r[0].ecn) ? 0 : -ENOBUFS;
	for (i = 1; !err && i < a->list_len; i++) {
		err = put_v(w, r[i - 1].smallest - r[i].largest - need) ?:
		      put_v(w, r[i].largest - r[i].smallest);
		if (!err && accurate)
			err = tquic_put_u8(w, r[i].ecn) ? 0 : -ENOBUFS;
	}
	if (!err && (type == TQUIC_FT_ACK_ECN || type == TQUIC_FT_PATH_ACK_ECN))
		err = put_v(w, a->ect0) ?: put_v(w, a->ect1) ?: put_v(w, a->ce);
	return err;
}

static int encode_stream_hdr(struct tquic_wbuf *w, u64 type, u64 id,
			     u64 offset, u64 len, bool fin)
{
	int err;

	type &= ~TQUIC_FT_STREAM_FIN;
	if (offset)
		type |= TQUIC_FT_STREAM_OFF;
	if (fin)
		type |= TQUIC_FT_STREAM_FIN;
	if (offset > TQUIC_VARINT_MAX || len > TQUIC_VARINT_MAX - offset)
		return -EINVAL;
	err = put_v(w, type) ?: put_v(w, id);
	if (!err && (type & TQUIC_FT_STREAM_OFF))
		err = put_v(w, offset);
	if (!err && (type & TQUIC_FT_STREAM_LEN))
		err = put_v(w, len);
	return err;
}

static int encode_stream(struct tquic_wbuf *w, u64 type,
			 const struct tquic_frame_stream *s)
{
	return encode_stream_hdr(w, type, s->id, s->offset, s->len, s->fin) ?:
	       put_b(w, s->data, s->len);
}

int tquic_frame_encode_stream_hdr(struct tquic_wbuf *wout, u64 id, u64 offset,
				  u64 len, bool fin, bool with_len)
{
	struct tquic_wbuf w = *wout;
	int err;

	err = encode_stream_hdr(&w, TQUIC_FT_STREAM |
				(with_len ? TQUIC_FT_STREAM_LEN : 0),
				id, offset, len, fin);
	if (err)
		return err;
	*wout = w;
	return 0;
}

size_t tquic_frame_stream_hdr_len(u64 id, u64 offset, u64 len, bool with_len)
{
	size_t n;

	if (id > TQUIC_VARINT_MAX || offset > TQUIC_VARINT_MAX ||
	    len > TQUIC_VARINT_MAX - offset)
		return 0;
	n = 1 + tquic_varint_len(id);
	if (offset)
		n += tquic_varint_len(offset);
	if (with_len)
		n += tquic_varint_len(len);
	return n;
}

static int encode_new_cid(struct tquic_wbuf *w, u64 type,
			  const struct tquic_frame_new_cid *n)
{
	int err;

	if (n->cid_len < 1 || n->cid_len > TQUIC_MAX_CID_LEN || !n->cid ||
	    !n->reset_token || n->retire_prior_to > n->seq)
		return -EINVAL;
	err = put_v(w, type);
	if (!err && type == TQUIC_FT_PATH_NEW_CONNECTION_ID)
		err = n->path_id > TQUIC_MAX_PATH_ID ? -EINVAL :
		      put_v(w, n->path_id);
	err = err ?: put_v(w, n->seq) ?: put_v(w, n->retire_prior_to);
	if (!err && !tquic_put_u8(w, n->cid_len))
		err = -ENOBUFS;
	return err ?: put_b(w, n->cid, n->cid_len) ?:
	       put_b(w, n->reset_token, TQUIC_RESET_TOKEN_LEN);
}

static int encode_simple(struct tquic_wbuf *w, u64 type,
			 const struct tquic_frame *f)
{
	const struct tquic_frame_limit *l = &f->u.limit;
	const struct tquic_frame_path_seq *ps = &f->u.path_seq;
	const struct tquic_frame_reset *r = &f->u.reset;
	const struct tquic_frame_ack_freq *af = &f->u.ack_freq;

	switch (type) {
	case TQUIC_FT_PING:
	case TQUIC_FT_HANDSHAKE_DONE:
	case TQUIC_FT_IMMEDIATE_ACK:
		return put_v(w, type);
	case TQUIC_FT_RESET_STREAM:
		return put_v(w, type) ?: put_v(w, r->id) ?:
		       put_v(w, r->error_code) ?: put_v(w, r->final_size);
	case TQUIC_FT_RESET_STREAM_AT:
		if (r->reliable_size > r->final_size)
			return -EINVAL;
		return put_v(w, type) ?: put_v(w, r->id) ?:
		       put_v(w, r->error_code) ?: put_v(w, r->final_size) ?:
		       put_v(w, r->reliable_size);
	case TQUIC_FT_STOP_SENDING:
		return put_v(w, type) ?: put_v(w, r->id) ?:
		       put_v(w, r->error_code);
	case TQUIC_FT_MAX_STREAMS_BIDI:
	case TQUIC_FT_MAX_STREAMS_UNI:
	case TQUIC_FT_STREAMS_BLOCKED_BIDI:
	case TQUIC_FT_STREAMS_BLOCKED_UNI:
		if (l->max > TQUIC_MAX_STREAMS_LIMIT)
			return -EINVAL;
		return put_v(w, type) ?: put_v(w, l->max);
	case TQUIC_FT_MAX_PATH_ID:
	case TQUIC_FT_PATHS_BLOCKED:
		if (l->max > TQUIC_MAX_PATH_ID)
			return -EINVAL;
		return put_v(w, type) ?: put_v(w, l->max);
	case TQUIC_FT_MAX_DATA:
	case TQUIC_FT_DATA_BLOCKED:
		return put_v(w, type) ?: put_v(w, l->max);
	case TQUIC_FT_MAX_STREAM_DATA:
	case TQUIC_FT_STREAM_DATA_BLOCKED:
		return put_v(w, type) ?: put_v(w, l->id) ?: put_v(w, l->max);
	case TQUIC_FT_RETIRE_CONNECTION_ID:
		return put_v(w, type) ?: put_v(w, ps->seq);
	case TQUIC_FT_PATH_RETIRE_CONNECTION_ID:
	case TQUIC_FT_PATH_ABANDON:
	case TQUIC_FT_PATH_STATUS_BACKUP:
	case TQUIC_FT_PATH_STATUS_AVAILABLE:
	case TQUIC_FT_PATH_CIDS_BLOCKED:
		if (ps->path_id > TQUIC_MAX_PATH_ID)
			return -EINVAL;
		return put_v(w, type) ?: put_v(w, ps->path_id) ?:
		       put_v(w, ps->seq);
	case TQUIC_FT_ACK_FREQUENCY:
		if (af->request_max_ack_delay >= TQUIC_MAX_ACK_DELAY_US_LIMIT)
			return -EINVAL;
		return put_v(w, type) ?: put_v(w, af->seq) ?:
		       put_v(w, af->ack_eliciting_threshold) ?:
		       put_v(w, af->request_max_ack_delay) ?:
		       put_v(w, af->reordering_threshold);
	case TQUIC_FT_PATH_CHALLENGE:
	case TQUIC_FT_PATH_RESPONSE:
		return put_v(w, type) ?:
		       put_b(w, f->u.probe.data, TQUIC_PATH_CHALLENGE_LEN);
	case TQUIC_FT_CONNECTION_CLOSE:
		return put_v(w, type) ?: put_v(w, f->u.close.error_code) ?:
		       put_v(w, f->u.close.frame_type) ?:
		       put_lv(w, f->u.close.reason, f->u.close.reason_len);
	case TQUIC_FT_CONNECTION_CLOSE_APP:
		return put_v(w, type) ?: put_v(w, f->u.close.error_code) ?:
		       put_lv(w, f->u.close.reason, f->u.close.reason_len);
	}
	return -EINVAL;
}

int tquic_frame_encode(struct tquic_wbuf *wout, const struct tquic_frame *f)
{
	struct tquic_wbuf w = *wout;
	const struct tquic_frame_data *d = &f->u.data;
	u64 type = f->type;
	int err;

	switch (type) {
	case TQUIC_FT_PADDING:
		if (!f->u.padding.len)
			return -EINVAL;
		if (f->u.padding.len > w.left)
			return -ENOBUFS;
		memset(w.p, 0, (size_t)f->u.padding.len);
		w.p += f->u.padding.len;
		w.left -= (size_t)f->u.padding.len;
		err = 0;
		break;
	case TQUIC_FT_ACK:
	case TQUIC_FT_ACK_ECN:
	case TQUIC_FT_PATH_ACK:
	case TQUIC_FT_PATH_ACK_ECN:
	case TQUIC_FT_ACCURATE_ACK_ECN:
		err = encode_ack(&w, type, &f->u.ack);
		break;
	case TQUIC_FT_CRYPTO:
		if (d->offset > TQUIC_VARINT_MAX ||
		    d->len > TQUIC_VARINT_MAX - d->offset)
			return -EINVAL;
		err = put_v(&w, type) ?: put_v(&w, d->offset) ?:
		      put_lv(&w, d->data, d->len);
		break;
	case TQUIC_FT_NEW_TOKEN:
		if (!d->len)
			return -EINVAL;
		err = put_v(&w, type) ?: put_lv(&w, d->data, d->len);
		break;
	case TQUIC_FT_DATAGRAM:
		err = put_v(&w, type) ?: put_b(&w, d->data, d->len);
		break;
	case TQUIC_FT_DATAGRAM_LEN:
		err = put_v(&w, type) ?: put_lv(&w, d->data, d->len);
		break;
	case TQUIC_FT_NEW_CONNECTION_ID:
	case TQUIC_FT_PATH_NEW_CONNECTION_ID:
		err = encode_new_cid(&w, type, &f->u.new_cid);
		break;
	default:
		if (tquic_frame_type_is_stream(type))
			err = encode_stream(&w, type, &f->u.stream);
		else
			err = encode_simple(&w, type, f);
		break;
	}
	if (err)
		return err;
	*wout = w;
	return 0;
}

void tquic_ack_iter_init(struct tquic_ack_iter *it, u64 type,
			 const struct tquic_frame_ack *ack)
{
	tquic_cursor_init(&it->c, ack->ranges, ack->ranges_len);
	it->left = ack->range_count;
	it->prev_smallest = 0;
	it->first_largest = ack->largest;
	it->first_range = ack->first_range;
	it->first_ecn = ack->first_ecn;
	it->accurate = type == TQUIC_FT_ACCURATE_ACK_ECN;
	it->first_pending = true;
}

bool tquic_ack_iter_next(struct tquic_ack_iter *it, struct tquic_ack_range *r)
{
	u64 gap, len, need;
	u8 ecn = 0;

	if (it->first_pending) {
		if (it->first_range > it->first_largest)
			return false;
		it->first_pending = false;
		r->largest = it->first_largest;
		r->smallest = it->first_largest - it->first_range;
		r->ecn = it->first_ecn;
		it->prev_smallest = r->smallest;
		return true;
	}
	if (!it->left)
		return false;
	if (!get_v(&it->c, &gap) || !get_v(&it->c, &len))
		return false;
	if (it->accurate && !tquic_get_u8(&it->c, &ecn))
		return false;
	need = gap + (it->accurate ? 1 : 2);
	if (it->prev_smallest < need || len > it->prev_smallest - need)
		return false;
	r->largest = it->prev_smallest - need;
	r->smallest = r->largest - len;
	r->ecn = ecn;
	it->prev_smallest = r->smallest;
	it->left--;
	return true;
}

/* Packet-type sets of RFC 9000 table 3. */
#define PKT_IH01	TQUIC_FRAME_PKT_ALL
#define PKT_IH_1	(TQUIC_FRAME_PKT_INITIAL | TQUIC_FRAME_PKT_HANDSHAKE | \
			 TQUIC_FRAME_PKT_1RTT)
#define PKT___01	(TQUIC_FRAME_PKT_0RTT | TQUIC_FRAME_PKT_1RTT)
#define PKT____1	TQUIC_FRAME_PKT_1RTT

#define F_K	TQUIC_FRAME_F_KNOWN
#define F_AE	(TQUIC_FRAME_F_KNOWN | TQUIC_FRAME_F_ACK_ELICITING | \
		 TQUIC_FRAME_F_IN_FLIGHT)

u32 tquic_frame_info(u64 type)
{
	if (tquic_frame_type_is_stream(type))
		return PKT___01 | F_AE | TQUIC_FRAME_F_FLOW_CONTROLLED;

	switch (type) {
	case TQUIC_FT_PADDING:
		/* N, P: not ack-eliciting, but counts in flight. */
		return PKT_IH01 | F_K | TQUIC_FRAME_F_IN_FLIGHT |
		       TQUIC_FRAME_F_PROBING;
	case TQUIC_FT_PING:
		return PKT_IH01 | F_AE;
	case TQUIC_FT_ACK:
	case TQUIC_FT_ACK_ECN:
		return PKT_IH_1 | F_K;
	case TQUIC_FT_CRYPTO:
		return PKT_IH_1 | F_AE;
	case TQUIC_FT_RESET_STREAM:
	case TQUIC_FT_RESET_STREAM_AT:
	case TQUIC_FT_STOP_SENDING:
	case TQUIC_FT_MAX_DATA:
	case TQUIC_FT_MAX_STREAM_DATA:
	case TQUIC_FT_MAX_STREAMS_BIDI:
	case TQUIC_FT_MAX_STREAMS_UNI:
	case TQUIC_FT_DATA_BLOCKED:
	case TQUIC_FT_STREAM_DATA_BLOCKED:
	case TQUIC_FT_STREAMS_BLOCKED_BIDI:
	case TQUIC_FT_STREAMS_BLOCKED_UNI:
	case TQUIC_FT_DATAGRAM:
	case TQUIC_FT_DATAGRAM_LEN:
		return PKT___01 | F_AE;
	case TQUIC_FT_NEW_CONNECTION_ID:
	case TQUIC_FT_PATH_CHALLENGE:
		return PKT___01 | F_AE | TQUIC_FRAME_F_PROBING;
	case TQUIC_FT_PATH_RESPONSE:
		return PKT____1 | F_AE | TQUIC_FRAME_F_PROBING;
	case TQUIC_FT_NEW_TOKEN:
	case TQUIC_FT_RETIRE_CONNECTION_ID:
	case TQUIC_FT_HANDSHAKE_DONE:
	/* ack-frequency: min_ack_delay is not remembered, so never 0-RTT. */
	case TQUIC_FT_ACK_FREQUENCY:
	case TQUIC_FT_IMMEDIATE_ACK:
	/* multipath: all its frames are 1-RTT only. */
	case TQUIC_FT_PATH_ABANDON:
	case TQUIC_FT_PATH_STATUS_BACKUP:
	case TQUIC_FT_PATH_STATUS_AVAILABLE:
	case TQUIC_FT_PATH_NEW_CONNECTION_ID:
	case TQUIC_FT_PATH_RETIRE_CONNECTION_ID:
	case TQUIC_FT_MAX_PATH_ID:
	case TQUIC_FT_PATHS_BLOCKED:
	case TQUIC_FT_PATH_CIDS_BLOCKED:
		return PKT____1 | F_AE;
	case TQUIC_FT_PATH_ACK:
	case TQUIC_FT_PATH_ACK_ECN:
	case TQUIC_FT_ACCURATE_ACK_ECN:
		return PKT____1 | F_K;
	case TQUIC_FT_CONNECTION_CLOSE:
		/* "ih01": application variant 0x1d is 0-RTT/1-RTT only. */
		return PKT_IH01 | F_K;
	case TQUIC_FT_CONNECTION_CLOSE_APP:
		return PKT___01 | F_K;
	}
	return 0;
}
