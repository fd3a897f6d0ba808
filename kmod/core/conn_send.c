// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC connections, send side: coalesced packets built directly into the
 * host's datagram buffer.  Frames are written first, then each packet's
 * header is finalised (padding, Length), protected in place and recorded
 * with loss recovery together with what it carried.
 */
#include "conn_internal.h"

#define TQUIC_SEND_MIN_ROOM	48	/* smallest room worth starting a packet in */

static u64 min_u64(u64 a, u64 b)
{
	return a < b ? a : b;
}

static bool scratch_add(struct tquic_conn *c, struct tquic_pkt_build *pb, u8 kind,
			u8 space, u32 type, u64 a, u64 b, u64 v, bool fin)
{
	struct tquic_sent_entry *e;

	if (c->n_scratch >= TQUIC_CONN_SCRATCH)
		return false;
	e = &c->scratch[c->n_scratch++];
	e->kind = kind;
	e->space = space;
	e->type = type;
	e->a = a;
	e->b = b;
	e->c = v;
	e->fin = fin;
	pb->n_entries++;
	return true;
}

static bool scratch_full(const struct tquic_conn *c)
{
	return c->n_scratch >= TQUIC_CONN_SCRATCH;
}

static bool streams_ctrl_pending(struct tquic_conn *c)
{
	struct tquic_frame f;

	return tquic_streams_next_ctrl(&c->streams, &f);
}

/* Whether the Application Data space has ack-eliciting frames to send. */
static bool app_pending(struct tquic_conn *c, bool early)
{
	const struct tquic_path *p = c->path;
	struct tquic_frame f;

	if (!early && (c->handshake_done_pending || p->nresponses || c->new_token_pending ||
		       p->challenge_pending || tquic_cids_next_frame(&c->cids, &f) ||
		       (c->cs[TQUIC_PN_SPACE_APP] &&
			(c->cs[TQUIC_PN_SPACE_APP]->tx.send_off != c->cs[TQUIC_PN_SPACE_APP]->tx.write_off ||
			 tquic_crypto_stream_has_pending(c->cs[TQUIC_PN_SPACE_APP])))))
		return true;
	return !tquic_list_empty(&c->dgram_tx) || streams_ctrl_pending(c) ||
	       tquic_streams_sched_next(&c->streams);
}

static u8 space_level(struct tquic_conn *c, enum tquic_pn_space space)
{
	if (space == TQUIC_PN_SPACE_INITIAL)
		return TQUIC_LEVEL_INITIAL;
	if (space == TQUIC_PN_SPACE_HANDSHAKE)
		return TQUIC_LEVEL_HANDSHAKE;
	if (c->tx[TQUIC_LEVEL_APP])
		return TQUIC_LEVEL_APP;
	if (!c->is_server && c->tx[TQUIC_LEVEL_EARLY])
		return TQUIC_LEVEL_EARLY;
	return TQUIC_LEVEL_COUNT;
}

static u8 level_pkt_type(u8 level)
{
	switch (level) {
	case TQUIC_LEVEL_INITIAL:
		return TQUIC_PKT_INITIAL;
	case TQUIC_LEVEL_HANDSHAKE:
		return TQUIC_PKT_HANDSHAKE;
	case TQUIC_LEVEL_EARLY:
		return TQUIC_PKT_0RTT;
	default:
		return TQUIC_PKT_1RTT;
	}
}

static void fill_hdr(struct tquic_conn *c, const struct tquic_pkt_build *pb,
		     struct tquic_hdr_out *o)
{
	const struct tquic_path *p = c->tx_path;

	memset(o, 0, sizeof(*o));
	o->version = c->version;
	o->type = pb->type;
	o->dcid = p->dcid.id;
	o->dcid_len = p->dcid.len;
	o->scid = c->scid;
	o->scid_len = c->scid_len;
	o->pn_len = pb->pn_len;
	o->pn = pb->pn;
	o->key_phase = c->tx_phase;
	o->payload_len = pb->payload_len;
	if (pb->type == TQUIC_PKT_INITIAL && !c->is_server) {
		o->token = c->token;
		o->token_len = c->token_len;
	}
}

/* Starts a packet: writes a provisional header, returns the payload room. */
static bool start_packet(struct tquic_conn *c, struct tquic_pkt_build *pb, u8 *buf,
			 size_t room, enum tquic_pn_space space, u8 level)
{
	struct tquic_path_xmit *p = c->path->x;
	struct tquic_hdr_out o;

	/* Nothing is written yet: without keys, nothing is sent this time. */
	if (tquic_conn_unpark(c))
		return false;
	memset(pb, 0, sizeof(*pb));
	pb->type = level_pkt_type(level);
	pb->space = space;
	pb->level = level;
	pb->pn = p->next_pn[space];
	pb->pn_len = tquic_pn_len(pb->pn, tquic_recovery_largest_acked(&p->rec, space));
	pb->first_entry = c->n_scratch;
	fill_hdr(c, pb, &o);
	if (tquic_write_header(buf, room, &o, &pb->hdr_len))
		return false;
	return pb->hdr_len + TQUIC_AEAD_TAG_LEN + 8 <= room;
}

static bool put_frame(struct tquic_conn *c, struct tquic_wbuf *w, const struct tquic_frame *f)
{
	(void)c;
	return tquic_frame_encode(w, f) == 0;
}

static void write_close(struct tquic_conn *c, struct tquic_wbuf *w, u8 level)
{
	struct tquic_frame frame, *f = &frame;
	bool app = c->close_flags & TQUIC_CLOSE_F_APP;

	memset(f, 0, sizeof(*f));
	if (app && level == TQUIC_LEVEL_APP) {
		f->type = TQUIC_FT_CONNECTION_CLOSE_APP;
		f->u.close.error_code = c->close_code;
	} else if (app) {
		/* Application closes before 1-RTT are hidden (RFC 9000 10.2.3). */
		f->type = TQUIC_FT_CONNECTION_CLOSE;
		f->u.close.error_code = TQUIC_ERR_APPLICATION_ERROR;
		put_frame(c, w, f);
		return;
	} else {
		f->type = TQUIC_FT_CONNECTION_CLOSE;
		f->u.close.error_code = c->close_code;
		f->u.close.frame_type = c->close_frame_type;
	}
	f->u.close.reason = c->close_reason;
	f->u.close.reason_len = min_u64(c->close_reason_len, w->left > 32 ? w->left - 32 : 0);
	if (!put_frame(c, w, f)) {
		f->u.close.reason_len = 0;
		put_frame(c, w, f);
	}
}

static void write_ack(struct tquic_conn *c, struct tquic_pkt_build *pb, struct tquic_wbuf *w)
{
	struct tquic_path_xmit *p = c->path->x;
	struct tquic_frame frame, *f = &frame;
	struct tquic_wbuf t = *w;
	u32 ranges = 0;

	for (;;) {
		if (tquic_ackmgr_build(&p->ack, pb->space, c->now, ranges, f))
			return;
		t = *w;
		if (!tquic_frame_encode(&t, f))
			break;
		/* Too many ranges for the room left: halve them. */
		ranges = ranges ? ranges / 2 : TQUIC_ACK_MAX_RANGES / 2;
		if (!ranges)
			return;
	}
	*w = t;
	tquic_ackmgr_on_ack_sent(&p->ack, pb->space, f, c->now);
	pb->flags |= TQUIC_SENT_HAS_ACK;
	pb->ack_largest = f->u.ack.largest;
}

/* PATH_RESPONSEs, then a PATH_CHALLENGE, of path @p. */
static bool write_path_frames(struct tquic_conn *c, struct tquic_path *p, struct tquic_wbuf *w)
{
	struct tquic_frame frame, *f = &frame;
	bool wrote = false;

	while (tquic_path_next_frame(p, f)) {
		if (!put_frame(c, w, f))
			break;
		if (f->type == TQUIC_FT_PATH_CHALLENGE) {
			c->pad_probe = true;
			memcpy(c->probe_data, f->u.probe.data, TQUIC_PATH_CHALLENGE_LEN);
		}
		tquic_path_frame_sent(p, f);
		wrote = true;
	}
	return wrote;
}

static bool write_app_ctrl(struct tquic_conn *c, struct tquic_pkt_build *pb,
			   struct tquic_wbuf *w)
{
	struct tquic_frame frame, *f = &frame;
	bool wrote = false;

	if (c->handshake_done_pending && !scratch_full(c)) {
		if (tquic_put_varint(w, TQUIC_FT_HANDSHAKE_DONE)) {
			c->handshake_done_pending = false;
			scratch_add(c, pb, TQUIC_SK_HANDSHAKE_DONE, pb->space, 0, 0, 0, 0, false);
			wrote = true;
		}
	}
	if (c->new_token_pending && c->is_server && !scratch_full(c)) {
		memset(f, 0, sizeof(*f));
		f->type = TQUIC_FT_NEW_TOKEN;
		f->u.data.data = c->new_token;
		f->u.data.len = c->new_token_len;
		if (put_frame(c, w, f)) {
			c->new_token_pending = false;
			scratch_add(c, pb, TQUIC_SK_NEW_TOKEN, pb->space, 0, 0, 0, 0, false);
			wrote = true;
		}
	}
	wrote |= write_path_frames(c, c->path, w);
	while (!scratch_full(c) && tquic_cids_next_frame(&c->cids, f)) {
		u64 seq, path_id;

		if (!put_frame(c, w, f))
			break;
		tquic_cids_frame_sent(&c->cids, f);
		if (f->type == TQUIC_FT_NEW_CONNECTION_ID ||
		    f->type == TQUIC_FT_PATH_NEW_CONNECTION_ID) {
			seq = f->u.new_cid.seq;
			path_id = f->u.new_cid.path_id;
		} else {
			seq = f->u.path_seq.seq;
			path_id = f->u.path_seq.path_id;
		}
		scratch_add(c, pb, TQUIC_SK_CID, pb->space, (u32)f->type, seq, path_id, 0, false);
		wrote = true;
	}
	return wrote;
}

static bool write_streams_ctrl(struct tquic_conn *c, struct tquic_pkt_build *pb,
			       struct tquic_wbuf *w)
{
	struct tquic_frame frame, *f = &frame;
	bool wrote = false;
	u64 a, b, v;

	while (!scratch_full(c) && tquic_streams_next_ctrl(&c->streams, f)) {
		if (!put_frame(c, w, f))
			break;
		tquic_streams_ctrl_sent(&c->streams, f);
		if (f->type == TQUIC_FT_RESET_STREAM || f->type == TQUIC_FT_STOP_SENDING) {
			a = f->u.reset.id;
			b = f->u.reset.error_code;
			v = f->u.reset.final_size;
		} else {
			a = f->u.limit.id;
			b = f->u.limit.max;
			v = 0;
		}
		scratch_add(c, pb, TQUIC_SK_CTRL, pb->space, (u32)f->type, a, b, v, false);
		wrote = true;
	}
	return wrote;
}

static bool write_datagrams(struct tquic_conn *c, struct tquic_wbuf *w)
{
	struct tquic_frame frame, *f = &frame;
	struct tquic_dgram *d;
	bool wrote = false;

	while (!tquic_list_empty(&c->dgram_tx)) {
		d = tquic_list_first_entry(&c->dgram_tx, struct tquic_dgram, node);
		memset(f, 0, sizeof(*f));
		f->type = TQUIC_FT_DATAGRAM_LEN;
		f->u.data.data = d->data;
		f->u.data.len = d->len;
		if (!put_frame(c, w, f))
			break;
		tquic_list_del(&d->node);
		c->dgram_tx_n--;
		tquic_mem_free(d);
		wrote = true;
	}
	return wrote;
}

static bool write_stream_data(struct tquic_conn *c, struct tquic_pkt_build *pb,
			      struct tquic_wbuf *w)
{
	struct tquic_stream_sent rec;
	struct tquic_stream *st;
	bool wrote = false;
	size_t n;

	while (!scratch_full(c) && w->left > 8) {
		st = tquic_streams_sched_next(&c->streams);
		if (!st)
			break;
		n = tquic_stream_write_frame(&c->streams, st, w, &rec);
		if (!n)
			break;
		scratch_add(c, pb, TQUIC_SK_STREAM, pb->space, 0, rec.id, rec.off, rec.len,
			    rec.fin);
		wrote = true;
	}
	return wrote;
}

static bool write_crypto(struct tquic_conn *c, struct tquic_pkt_build *pb,
			 struct tquic_wbuf *w)
{
	struct tquic_crypto_stream *cs = c->cs[pb->space];
	struct tquic_stream_sent rec;
	bool wrote = false;

	while (!scratch_full(c) && tquic_crypto_stream_has_pending(cs)) {
		if (!tquic_crypto_stream_write_frame(cs, w, &rec))
			break;
		scratch_add(c, pb, TQUIC_SK_CRYPTO, pb->space, 0, 0, rec.off, rec.len, false);
		wrote = true;
	}
	return wrote;
}

/*
 * Builds one packet of @space into @buf (header, frames; unprotected).
 * @eliciting: ack-eliciting frames may be sent (congestion window,
 * pacing).  Returns the bytes used including the tag room, 0 for none.
 */
static size_t build_packet(struct tquic_conn *c, struct tquic_pkt_build *pb, u8 *buf,
			   size_t room, enum tquic_pn_space space, bool eliciting,
			   bool *blocked)
{
	struct tquic_path_xmit *p = c->path->x;
	enum tquic_pn_space probe_space;
	bool ack_due, want = false, wrote = false, probe;
	u8 level = space_level(c, space);
	struct tquic_wbuf w;
	size_t used;

	if (level == TQUIC_LEVEL_COUNT || c->discarded[space] ||
	    !c->tx[level])
		return 0;
	probe = tquic_recovery_probes(&p->rec, &probe_space) && probe_space == space;
	ack_due = level != TQUIC_LEVEL_EARLY && tquic_ackmgr_should_send(&p->ack, space, c->now);
	if (c->state == TQUIC_CONN_CLOSING)
		want = true;
	else if (space != TQUIC_PN_SPACE_APP)
		want = probe || tquic_crypto_stream_has_pending(c->cs[space]);
	else
		want = probe || app_pending(c, level == TQUIC_LEVEL_EARLY);
	if (want && !eliciting && c->state != TQUIC_CONN_CLOSING && !probe) {
		*blocked = true;
		want = false;
	}
	if (!want && !ack_due)
		return 0;
	if (!start_packet(c, pb, buf, room, space, level))
		return 0;
	tquic_wbuf_init(&w, buf + pb->hdr_len, room - pb->hdr_len - TQUIC_AEAD_TAG_LEN);
	w.defer = &pb->defer;
	if (c->state == TQUIC_CONN_CLOSING) {
		write_close(c, &w, level);
		goto done;
	}
	if (level != TQUIC_LEVEL_EARLY && tquic_ackmgr_has_pending(&p->ack, space))
		write_ack(c, pb, &w);
	if (!want)
		goto done;
	if (level != TQUIC_LEVEL_EARLY) {
		wrote |= write_crypto(c, pb, &w);
		if (space == TQUIC_PN_SPACE_APP)
			wrote |= write_app_ctrl(c, pb, &w);
	}
	if (space == TQUIC_PN_SPACE_APP) {
		wrote |= write_streams_ctrl(c, pb, &w);
		wrote |= write_datagrams(c, &w);
		wrote |= write_stream_data(c, pb, &w);
	}
	if (!wrote && probe && tquic_put_u8(&w, (u8)TQUIC_FT_PING)) {
		scratch_add(c, pb, TQUIC_SK_PING, space, 0, 0, 0, 0, false);
		wrote = true;
	}
	if (wrote)
		pb->flags |= TQUIC_SENT_ACK_ELICITING | TQUIC_SENT_IN_FLIGHT;
	if (probe && wrote)
		pb->flags |= TQUIC_SENT_PTO_PROBE;
done:
	used = (size_t)(w.p - (buf + pb->hdr_len));
	if (!used) {
		c->n_scratch = pb->first_entry;
		return 0;
	}
	/* The header protection sample needs 4 bytes after the PN start. */
	while (pb->pn_len + used < 4 && tquic_put_u8(&w, 0))
		used++;
	pb->payload_len = used;
	p->next_pn[space]++;
	return pb->hdr_len + used + TQUIC_AEAD_TAG_LEN;
}

static struct tquic_sent_frames *take_frames(struct tquic_conn *c,
					     const struct tquic_pkt_build *pb)
{
	struct tquic_sent_frames *sf;
	size_t sz;

	if (!pb->n_entries)
		return NULL;
	sz = sizeof(*sf) + pb->n_entries * sizeof(sf->e[0]);
	sf = tquic_mem_alloc(sz, c->gfp);
	if (!sf)
		return NULL;
	sf->n = pb->n_entries;
	sf->early = pb->level == TQUIC_LEVEL_EARLY;
	memcpy(sf->e, &c->scratch[pb->first_entry], pb->n_entries * sizeof(sf->e[0]));
	c->mem += sz;
	return sf;
}

/* Seals @pb in place and records it with loss recovery. */
static int finish_packet(struct tquic_conn *c, struct tquic_pkt_build *pb, u8 *dgram, u8 ecn)
{
	struct tquic_path_xmit *p = c->path->x;
	struct tquic_aead_gather g;
	struct tquic_sent_pkt sp;
	struct tquic_sent_frames *sf;
	struct tquic_hdr_out o;
	size_t hl;
	int err;

	fill_hdr(c, pb, &o);
	err = tquic_write_header(dgram + pb->off, pb->hdr_len, &o, &hl);
	if (err || hl != pb->hdr_len)
		return err ? err : -EINVAL;
	if (pb->defer.len) {
		g.off = (size_t)(pb->defer.dst - (dgram + pb->off + pb->hdr_len));
		g.len = pb->defer.len;
		g.src = pb->defer.src;
	}
	err = tquic_packet_protect(c->tx[pb->level], dgram + pb->off, pb->hdr_len,
				   pb->pn_len, pb->pn, pb->payload_len, false, 0,
				   pb->defer.len ? &g : NULL);
	if (err)
		return err;
	memset(&sp, 0, sizeof(sp));
	sp.pn = pb->pn;
	sp.time_sent = c->now;
	sp.size = (u32)(pb->hdr_len + pb->payload_len + TQUIC_AEAD_TAG_LEN);
	sp.path_id = c->tx_path->id;
	sp.flags = pb->flags;
	sp.ack_largest = pb->ack_largest;
	sp.ecn = ecn;
	sf = take_frames(c, pb);
	sp.frames = sf;
	err = tquic_recovery_on_packet_sent(&p->rec, pb->space, &sp, c->gfp);
	if (err || (pb->n_entries && !sf)) {
		/* Not tracked: what it carried is queued again right away. */
		tquic_conn_sent_entries(c, &c->scratch[pb->first_entry], pb->n_entries, false);
		if (err && sf) {
			c->mem -= sizeof(*sf) + sf->n * sizeof(sf->e[0]);
			tquic_mem_free(sf);
		}
	}
	if (pb->type == TQUIC_PKT_1RTT)
		c->pkts_in_phase++;
	if (pb->level == TQUIC_LEVEL_EARLY) {
		c->early_sent = true;
		c->early_pn_max = pb->pn;
		c->stats.early_sent++;
	}
	c->stats.pkts_sent++;
	c->active_at = c->now;
	tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_SENT, pb->type, pb->space, pb->pn, sp.size, 0);
	return 0;
}

long tquic_conn_build(struct tquic_conn *c, u8 *buf, size_t cap)
{
	struct tquic_path *path = c->path;
	struct tquic_path_xmit *p = path->x;
	size_t limit, used = 0, sz, pad_to = 0;
	bool eliciting = true, blocked = false, eliciting_sent = false;
	bool has_initial = false, sent_handshake = false;
	enum tquic_pn_space space;
	u64 allowance;
	u32 n = 0, i;
	u8 ecn;
	int err;

	c->tx_path = path;
	limit = (size_t)min_u64(cap, path->mtu);
	allowance = tquic_path_send_allowance(path);
	if (allowance < limit) {
		limit = (size_t)allowance;
		if (limit < TQUIC_SEND_MIN_ROOM) {
			c->stats.amp_blocked++;
			tquic_recovery_set_amp_blocked(&p->rec, true, c->now);
			return 0;
		}
	}
	if (c->state != TQUIC_CONN_CLOSING) {
		if (!tquic_recovery_probes(&p->rec, NULL)) {
			if (!tquic_recovery_cwnd_room(&p->rec))
				eliciting = false;
			if (eliciting && c->cfg.pacing) {
				u64 t = tquic_pacer_next_send_time(&p->pacer, limit, c->now);

				if (t > c->now) {
					eliciting = false;
					c->pacer_wait = t;
				}
			}
		}
	} else if (!c->close_send) {
		return 0;
	}
	c->n_scratch = 0;
	c->pad_probe = false;
	for (space = TQUIC_PN_SPACE_INITIAL; space < TQUIC_PN_SPACE_COUNT && n < TQUIC_CONN_MAX_PKTS;
	     space++) {
		if (limit - used < TQUIC_SEND_MIN_ROOM)
			break;
		sz = build_packet(c, &c->pkts[n], buf + used, limit - used, space, eliciting,
				  &blocked);
		if (!sz)
			continue;
		c->pkts[n].off = used;
		if (c->pkts[n].type == TQUIC_PKT_INITIAL) {
			has_initial = true;
			if (!c->is_server || (c->pkts[n].flags & TQUIC_SENT_ACK_ELICITING))
				pad_to = TQUIC_MIN_INITIAL_SIZE;
		}
		if (c->pkts[n].type == TQUIC_PKT_HANDSHAKE)
			sent_handshake = true;
		if (c->pkts[n].flags & TQUIC_SENT_ACK_ELICITING)
			eliciting_sent = true;
		used += sz;
		n++;
	}
	/*
	 * Room in the congestion window and in the datagram, and nothing
	 * more to send: the application or flow control limits the sender,
	 * and the window must not grow on that (RFC 9002 7.8).
	 */
	if (eliciting && limit - used >= TQUIC_SEND_MIN_ROOM && c->tx[TQUIC_LEVEL_APP] &&
	    c->state != TQUIC_CONN_CLOSING && !app_pending(c, false))
		tquic_recovery_on_app_limited(&p->rec);
	if (!n)
		return 0;
	if (c->state == TQUIC_CONN_CLOSING)
		c->close_send = false;
	/*
	 * Datagrams carrying Initial packets are padded (RFC 9000 14.1), and
	 * those carrying a PATH_CHALLENGE too, within the limit (8.2.1).
	 */
	if (c->pad_probe)
		pad_to = TQUIC_MIN_INITIAL_SIZE;
	pad_to = (size_t)min_u64(pad_to, limit);
	if (c->pad_probe && tquic_path_wants_mtu_probe(path)) {
		/* The challenge also probes the size the path had before it moved. */
		pad_to = (size_t)min_u64(min_u64(cap, path->mtu_max), allowance);
		tquic_path_mtu_probe_sent(path, c->probe_data, (u32)tquic_max_u64(pad_to, used));
	}
	if ((has_initial || c->pad_probe) && used < pad_to) {
		struct tquic_pkt_build *last = &c->pkts[n - 1];
		size_t extra = pad_to - used;

		memset(buf + last->off + last->hdr_len + last->payload_len, 0, extra);
		last->payload_len += extra;
		last->flags |= TQUIC_SENT_IN_FLIGHT;
		used = pad_to;
	}
	ecn = c->cfg.ecn ? tquic_recovery_ecn_codepoint(&p->rec) : 0;
	for (i = 0; i < n; i++) {
		err = finish_packet(c, &c->pkts[i], buf, ecn);
		if (err)
			return err;
	}
	c->n_scratch = 0;
	tquic_path_on_datagram_sent(path, used);
	if (!path->addr_validated && path->bytes_sent > path->bytes_recv * path->amp_factor)
		c->stats.amp_violations++;
	c->stats.bytes_sent += used;
	if (c->cfg.pacing && eliciting_sent)
		tquic_pacer_on_sent(&p->pacer, used, c->now);
	if (eliciting_sent && !c->eliciting_since_recv) {
		c->idle_start = c->now;
		c->eliciting_since_recv = true;
	}
	if (sent_handshake && !c->is_server)
		tquic_conn_discard_space(c, TQUIC_PN_SPACE_INITIAL);
	(void)blocked;
	c->last_ecn = ecn;
	return (long)used;
}

/*
 * A datagram on the path @p being probed (a server's new peer address, a
 * client's way to the preferred address) with its PATH_RESPONSEs and
 * PATH_CHALLENGE, in a 1-RTT packet of the active path's packet-number
 * space expanded to 1200 bytes within @p's amplification limit (RFC 9000
 * 8.2.1) and sent with @p's peer CID.
 */
long tquic_conn_build_probe(struct tquic_conn *c, struct tquic_path *p, u8 *buf, size_t cap)
{
	struct tquic_pkt_build *pb = &c->pkts[0];
	size_t limit, probe_limit, used, target;
	struct tquic_wbuf w;
	int err;

	if (!c->tx[TQUIC_LEVEL_APP] || c->discarded[TQUIC_PN_SPACE_APP])
		return 0;
	/* A challenge may also probe a size above the path's MTU (tquic_path_wants_mtu_probe). */
	probe_limit = (size_t)min_u64(min_u64(cap, tquic_path_wants_mtu_probe(p) ? p->mtu_max : p->mtu),
				      tquic_path_send_allowance(p));
	limit = (size_t)min_u64(probe_limit, p->mtu);
	if (limit < TQUIC_SEND_MIN_ROOM)
		return 0;
	c->n_scratch = 0;
	c->pad_probe = false;
	c->tx_path = p;
	if (!start_packet(c, pb, buf, limit, TQUIC_PN_SPACE_APP, TQUIC_LEVEL_APP))
		return 0;
	tquic_wbuf_init(&w, buf + pb->hdr_len, probe_limit - pb->hdr_len - TQUIC_AEAD_TAG_LEN);
	if (!write_path_frames(c, p, &w))
		return 0;
	used = (size_t)(w.p - (buf + pb->hdr_len));
	target = (size_t)min_u64(TQUIC_MIN_INITIAL_SIZE, limit);
	if (c->pad_probe && probe_limit > limit) {
		target = probe_limit;
		tquic_path_mtu_probe_sent(p, c->probe_data, (u32)probe_limit);
	}
	while (pb->hdr_len + used + TQUIC_AEAD_TAG_LEN < target && tquic_put_u8(&w, 0))
		used++;
	while (pb->pn_len + used < 4 && tquic_put_u8(&w, 0))
		used++;
	pb->payload_len = used;
	pb->flags = TQUIC_SENT_ACK_ELICITING | TQUIC_SENT_IN_FLIGHT;
	c->path->x->next_pn[TQUIC_PN_SPACE_APP]++;
	err = finish_packet(c, pb, buf, 0);
	if (err)
		return err;
	used = pb->hdr_len + pb->payload_len + TQUIC_AEAD_TAG_LEN;
	tquic_path_on_datagram_sent(p, used);
	c->stats.bytes_sent += used;
	c->last_ecn = 0;
	return (long)used;
}

static void send_info(struct tquic_conn *c, const struct tquic_path *p,
		      struct tquic_send_info *info, u8 ecn)
{
	if (!info)
		return;
	info->path_id = p->id;
	info->ecn = ecn;
	info->send_time = c->now;
	info->peer = &p->peer;
	info->local = &p->local;
}

/* The next datagram of a path being probed, else of the active path. */
static long conn_send(struct tquic_conn *c, u8 *buf, size_t cap, struct tquic_send_info *info)
{
	struct tquic_path *p;
	long n;

	tquic_streams_set_now(&c->streams, tquic_ns_to_us(c->now));
	tquic_streams_reap(&c->streams);
	if (c->cfg.key_update_packets && c->pkts_in_phase >= c->cfg.key_update_packets)
		tquic_conn_key_update(c, c->now);
	tquic_list_for_each_entry(p, &c->paths, node) {
		if (p == c->path || tquic_conn_closed(c) ||
		    (!p->nresponses && !p->challenge_pending))
			continue;
		n = tquic_conn_build_probe(c, p, buf, cap);
		if (n > 0)
			send_info(c, p, info, 0);
		if (n)
			return n;
	}
	n = tquic_conn_build(c, buf, cap);
	if (n > 0)
		send_info(c, c->path, info, c->last_ecn);
	return n;
}
long tquic_conn_send(struct tquic_conn *c, u8 *buf, size_t cap, u64 now,
		     struct tquic_send_info *info, unsigned int gfp)
{
	long n;

	if (now > c->now)
		c->now = now;
	c->gfp = gfp;
	if (c->state == TQUIC_CONN_DRAINED || c->state == TQUIC_CONN_DRAINING)
		return 0;
	if (cap < TQUIC_MIN_INITIAL_SIZE)
		return -ENOBUFS;
	if (!c->scratch) {
		c->scratch = tquic_mem_alloc(TQUIC_CONN_SCRATCH * sizeof(*c->scratch) +
					     TQUIC_CONN_MAX_PKTS * sizeof(*c->pkts), gfp);
		if (!c->scratch)
			return -ENOMEM;
		c->pkts = (struct tquic_pkt_build *)(c->scratch + TQUIC_CONN_SCRATCH);
	}
	/* Kept while the connection is active: every send pass needs it. */
	n = conn_send(c, buf, cap, info);
	if (n <= 0 && c->parked) {
		/* Nothing to send woke it: it stays parked, without scratch. */
		tquic_mem_free(c->scratch);
		c->scratch = NULL;
		c->pkts = NULL;
	}
	return n;
}
