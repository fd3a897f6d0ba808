// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC connections, receive side: datagrams, coalesced packets, packet
 * unprotection per level (with 1-RTT key phases), frame dispatch, Retry,
 * Version Negotiation and stateless reset detection.
 */
#include "conn_internal.h"

static bool cid_eq(const u8 *a, u8 alen, const u8 *b, u8 blen)
{
	return alen == blen && !memcmp(a, b, alen);
}

static bool local_cid_known(const struct tquic_conn *c, const u8 *id, u8 len)
{
	u32 i;

	for (i = 0; i < TQUIC_CONN_MAX_CIDS; i++)
		if (c->local_cids[i].in_use &&
		    cid_eq(c->local_cids[i].id, c->local_cids[i].len, id, len))
			return true;
	/* A server's Initial and 0-RTT packets carry the client-chosen DCID. */
	return c->is_server && !c->handshake_confirmed &&
	       cid_eq(c->idcid, c->idcid_len, id, len);
}

static u8 pkt_level(u8 type)
{
	switch (type) {
	case TQUIC_PKT_INITIAL:
		return TQUIC_LEVEL_INITIAL;
	case TQUIC_PKT_0RTT:
		return TQUIC_LEVEL_EARLY;
	case TQUIC_PKT_HANDSHAKE:
		return TQUIC_LEVEL_HANDSHAKE;
	default:
		return TQUIC_LEVEL_APP;
	}
}

static u32 pkt_frame_bit(u8 type)
{
	switch (type) {
	case TQUIC_PKT_INITIAL:
		return TQUIC_FRAME_PKT_INITIAL;
	case TQUIC_PKT_0RTT:
		return TQUIC_FRAME_PKT_0RTT;
	case TQUIC_PKT_HANDSHAKE:
		return TQUIC_FRAME_PKT_HANDSHAKE;
	default:
		return TQUIC_FRAME_PKT_1RTT;
	}
}

/* Keeps a packet whose keys are not installed yet (RFC 9001 section 5.7). */
static void keep_pending(struct tquic_conn *c, const u8 *pkt, size_t len, u8 level, u8 ecn)
{
	struct tquic_buf *b;

	if (c->n_pending >= TQUIC_CONN_PENDING_PKTS)
		return;
	b = tquic_buf_alloc(len, c->gfp);
	if (!b)
		return;
	memcpy(tquic_buf_data(b), pkt, len);
	c->pending[c->n_pending].buf = b;
	c->pending[c->n_pending].level = level;
	c->pending[c->n_pending].ecn = ecn;
	c->n_pending++;
}

void tquic_conn_process_pending(struct tquic_conn *c, u8 level)
{
	struct tquic_pending_pkt pp;
	struct tquic_hdr h;
	u32 i = 0, j;
	int err;

	while (i < c->n_pending) {
		if (c->pending[i].level != level) {
			i++;
			continue;
		}
		pp = c->pending[i];
		for (j = i + 1; j < c->n_pending; j++)
			c->pending[j - 1] = c->pending[j];
		c->n_pending--;
		err = tquic_parse_header(tquic_buf_data(pp.buf), tquic_buf_len(pp.buf),
					 c->cfg.cid_len, 0, &h);
		if (!err && !tquic_conn_closed(c))
			err = tquic_conn_recv_packet(c, pp.buf, tquic_buf_data(pp.buf), &h, pp.ecn);
		if (err > 0)
			tquic_conn_enter_closing(c, 0, (u64)err, c->err_frame_type, NULL, 0);
		tquic_buf_put(pp.buf);
	}
}

/* ---- frames ---- */

static void after_ack(struct tquic_conn *c)
{
	struct tquic_conn_path *p = &c->path;

	if (c->cfg.pacing)
		tquic_pacer_set_rate(&p->pacer, tquic_cc_pacing_rate(&p->cc), c->now);
	tquic_streams_set_rtt(&c->streams, tquic_ns_to_us(p->rtt.smoothed_rtt));
	tquic_conn_qlog_metrics(c);
}

static int on_new_cid(struct tquic_conn *c, const struct tquic_frame_new_cid *nc)
{
	struct tquic_conn_cid *cid, *slot = NULL;
	u32 i, active = 0;

	if (!c->peer_cids[c->peer_cid_cur].len)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	for (i = 0; i < TQUIC_CONN_MAX_CIDS; i++) {
		cid = &c->peer_cids[i];
		if (!cid->in_use) {
			if (!slot)
				slot = cid;
			continue;
		}
		if (cid->seq == nc->seq) {
			if (!cid_eq(cid->id, cid->len, nc->cid, nc->cid_len) ||
			    memcmp(cid->token, nc->reset_token, TQUIC_STATELESS_RESET_TOKEN_LEN))
				return TQUIC_ERR_PROTOCOL_VIOLATION;
			return 0;
		}
	}
	if (!slot)
		return TQUIC_ERR_CONNECTION_ID_LIMIT_ERROR;
	memset(slot, 0, sizeof(*slot));
	slot->seq = nc->seq;
	slot->len = nc->cid_len;
	memcpy(slot->id, nc->cid, nc->cid_len);
	memcpy(slot->token, nc->reset_token, TQUIC_STATELESS_RESET_TOKEN_LEN);
	slot->has_token = true;
	slot->in_use = true;
	if (nc->retire_prior_to > c->peer_retire_prior_to)
		c->peer_retire_prior_to = nc->retire_prior_to;
	for (i = 0; i < TQUIC_CONN_MAX_CIDS; i++) {
		cid = &c->peer_cids[i];
		if (!cid->in_use || cid->retired)
			continue;
		if (cid->seq < c->peer_retire_prior_to) {
			cid->retired = true;
			cid->pending = true;
			continue;
		}
		active++;
	}
	if (active > c->cfg.active_cid_limit)
		return TQUIC_ERR_CONNECTION_ID_LIMIT_ERROR;
	if (c->peer_cids[c->peer_cid_cur].retired) {
		u32 best = TQUIC_CONN_MAX_CIDS;

		for (i = 0; i < TQUIC_CONN_MAX_CIDS; i++) {
			cid = &c->peer_cids[i];
			if (cid->in_use && !cid->retired &&
			    (best == TQUIC_CONN_MAX_CIDS || cid->seq < c->peer_cids[best].seq))
				best = i;
		}
		if (best == TQUIC_CONN_MAX_CIDS)
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		c->peer_cid_cur = best;
	}
	return 0;
}

static int on_retire_cid(struct tquic_conn *c, u64 seq)
{
	u32 i;

	if (seq >= c->next_local_seq)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	for (i = 0; i < TQUIC_CONN_MAX_CIDS; i++) {
		struct tquic_conn_cid *cid = &c->local_cids[i];

		if (!cid->in_use || cid->seq != seq)
			continue;
		tquic_conn_event(c, TQUIC_EV_CID_RETIRED, 0, seq, 0, cid->id, cid->len);
		memset(cid, 0, sizeof(*cid));
		return tquic_conn_issue_cids(c);
	}
	return 0;
}

static int on_datagram(struct tquic_conn *c, const struct tquic_frame_data *d)
{
	struct tquic_dgram *dg;

	if (!c->cfg.max_datagram_frame_size || d->len > c->cfg.max_datagram_frame_size)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	if (c->dgram_rx_n >= c->cfg.datagram_queue)
		return 0;	/* unreliable: dropped under pressure */
	dg = tquic_mem_alloc(sizeof(*dg) + (size_t)d->len, c->gfp);
	if (!dg)
		return 0;
	dg->len = (u32)d->len;
	memcpy(dg->data, d->data, (size_t)d->len);
	tquic_list_add_tail(&dg->node, &c->dgram_rx);
	if (!c->dgram_rx_n++)
		tquic_conn_event(c, TQUIC_EV_DATAGRAM, 0, 0, 0, NULL, 0);
	return 0;
}

static void streams_available(struct tquic_conn *c)
{
	u32 i;

	for (i = 0; i < 2; i++) {
		if (c->streams.type[i].local_limit > c->streams_limit_seen[i]) {
			c->streams_limit_seen[i] = c->streams.type[i].local_limit;
			tquic_conn_event(c, TQUIC_EV_STREAMS_AVAILABLE, i, 0,
					 c->streams_limit_seen[i], NULL, 0);
		}
	}
}

static int on_frame(struct tquic_conn *c, struct tquic_buf *b, struct tquic_frame *f,
		    enum tquic_pn_space space)
{
	struct tquic_streams *s = &c->streams;
	u64 now_us = tquic_ns_to_us(c->now);
	struct tquic_conn_path *p = &c->path;
	int err;

	if (tquic_frame_type_is_stream(f->type))
		return tquic_streams_on_stream(s, &f->u.stream, b, now_us, c->gfp);

	switch (f->type) {
	case TQUIC_FT_PADDING:
	case TQUIC_FT_PING:
		return 0;
	case TQUIC_FT_ACK:
	case TQUIC_FT_ACK_ECN:
		err = tquic_recovery_on_ack(&p->rec, space, f->type, &f->u.ack, c->now);
		if (!err)
			after_ack(c);
		return err;
	case TQUIC_FT_CRYPTO:
		return tquic_crypto_stream_on_frame(&c->cs[space], &f->u.data, b, c->gfp);
	case TQUIC_FT_NEW_TOKEN:
		if (c->is_server)
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		if (f->u.data.len <= TQUIC_TOKEN_MAX) {
			memcpy(c->new_token, f->u.data.data, (size_t)f->u.data.len);
			c->new_token_len = (size_t)f->u.data.len;
			tquic_conn_event(c, TQUIC_EV_NEW_TOKEN, 0, 0, 0, NULL, 0);
		}
		return 0;
	case TQUIC_FT_RESET_STREAM_AT:
		/* Only after we offered it. */
		if (!c->cfg.reset_stream_at)
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		return tquic_streams_on_reset(s, &f->u.reset, now_us, c->gfp);
	case TQUIC_FT_RESET_STREAM:
		return tquic_streams_on_reset(s, &f->u.reset, now_us, c->gfp);
	case TQUIC_FT_STOP_SENDING:
		return tquic_streams_on_stop_sending(s, &f->u.reset, c->gfp);
	case TQUIC_FT_MAX_DATA:
		return tquic_streams_on_max_data(s, f->u.limit.max);
	case TQUIC_FT_MAX_STREAM_DATA:
		return tquic_streams_on_max_stream_data(s, f->u.limit.id, f->u.limit.max, c->gfp);
	case TQUIC_FT_MAX_STREAMS_BIDI:
	case TQUIC_FT_MAX_STREAMS_UNI:
		err = tquic_streams_on_max_streams(s, f->type == TQUIC_FT_MAX_STREAMS_UNI,
						   f->u.limit.max);
		if (!err)
			streams_available(c);
		return err;
	case TQUIC_FT_DATA_BLOCKED:
		return tquic_streams_on_data_blocked(s, f->u.limit.max);
	case TQUIC_FT_STREAM_DATA_BLOCKED:
		return tquic_streams_on_stream_data_blocked(s, f->u.limit.id, f->u.limit.max,
							    c->gfp);
	case TQUIC_FT_STREAMS_BLOCKED_BIDI:
	case TQUIC_FT_STREAMS_BLOCKED_UNI:
		return tquic_streams_on_streams_blocked(s, f->type == TQUIC_FT_STREAMS_BLOCKED_UNI,
							f->u.limit.max);
	case TQUIC_FT_NEW_CONNECTION_ID:
		return on_new_cid(c, &f->u.new_cid);
	case TQUIC_FT_RETIRE_CONNECTION_ID:
		return on_retire_cid(c, f->u.path_seq.seq);
	case TQUIC_FT_PATH_CHALLENGE:
		/* Answered on the path it came from (RFC 9000 8.2.2). */
		if (c->rx_alt) {
			tquic_path_on_challenge(&c->alt, f->u.probe.data);
			return 0;
		}
		memcpy(p->response, f->u.probe.data, TQUIC_PATH_CHALLENGE_LEN);
		p->response_pending = true;
		return 0;
	case TQUIC_FT_PATH_RESPONSE:
		if (c->has_alt &&
		    tquic_path_on_response(&c->alt, f->u.probe.data) == TQUIC_PATH_EV_VALIDATED) {
			tquic_conn_event(c, TQUIC_EV_PATH_VALIDATED, 0, c->alt.id, 0, NULL, 0);
			return 0;
		}
		if ((p->challenge_sent || p->challenge_pending) &&
		    !memcmp(p->challenge, f->u.probe.data, TQUIC_PATH_CHALLENGE_LEN)) {
			p->challenge_sent = false;
			p->challenge_pending = false;
			c->path_deadline = TQUIC_TIME_NONE;
			c->path_retry = TQUIC_TIME_NONE;
			c->has_prev_peer = false;
			if (!p->validated) {
				p->validated = true;
				tquic_recovery_set_amp_blocked(&p->rec, false, c->now);
			}
			tquic_conn_event(c, TQUIC_EV_PATH_VALIDATED, 0, p->id, 0, NULL, 0);
		}
		return 0;
	case TQUIC_FT_CONNECTION_CLOSE:
	case TQUIC_FT_CONNECTION_CLOSE_APP:
		tquic_conn_enter_draining(c, TQUIC_CLOSE_F_REMOTE |
					  (f->type == TQUIC_FT_CONNECTION_CLOSE_APP ?
					   TQUIC_CLOSE_F_APP : 0),
					  f->u.close.error_code, f->u.close.frame_type,
					  f->u.close.reason, (size_t)f->u.close.reason_len);
		return 0;
	case TQUIC_FT_HANDSHAKE_DONE:
		if (c->is_server)
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		tquic_conn_confirm_handshake(c);
		return 0;
	case TQUIC_FT_DATAGRAM:
	case TQUIC_FT_DATAGRAM_LEN:
		return on_datagram(c, &f->u.data);
	default:
		/* Extension frames this connection did not negotiate. */
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	}
}

static int process_frames(struct tquic_conn *c, struct tquic_buf *b, u8 *payload,
			  size_t len, u8 pkt_type, enum tquic_pn_space space,
			  bool *ack_eliciting)
{
	struct tquic_frame *f = &c->fscratch;
	u32 bit = pkt_frame_bit(pkt_type);
	struct tquic_cursor cur;
	int err;

	tquic_cursor_init(&cur, payload, len);
	while (cur.left) {
		c->err_frame_type = cur.p[0];
		err = tquic_frame_decode(&cur, f, NULL);
		if (err)
			return err;
		c->err_frame_type = f->type;
		if (tquic_frame_check_pkt(f->type, bit))
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		if (tquic_frame_is_ack_eliciting(f->type))
			*ack_eliciting = true;
		if (f->type != TQUIC_FT_PADDING && f->type != TQUIC_FT_PATH_CHALLENGE &&
		    f->type != TQUIC_FT_PATH_RESPONSE && f->type != TQUIC_FT_NEW_CONNECTION_ID)
			c->rx_nonprobing = true;
		err = on_frame(c, b, f, space);
		if (err)
			return err;
		if (c->state >= TQUIC_CONN_DRAINING)
			return 0;
	}
	return 0;
}

/* ---- 1-RTT key phases ---- */

static int rotate_rx_keys(struct tquic_conn *c, u64 pn)
{
	struct tquic_aead_keys next;
	int err;

	err = tquic_conn_keys_next(c, &c->rx_next, &next);
	if (err)
		return err;
	if (c->has_rx_prev)
		tquic_aead_keys_destroy(&c->rx_prev);
	c->rx_prev = c->rx[TQUIC_LEVEL_APP].pkt;
	c->has_rx_prev = true;
	c->rx[TQUIC_LEVEL_APP].pkt = c->rx_next;
	c->rx_next = next;
	c->rx_phase ^= 1;
	c->rx_phase_first_pn = pn;
	c->rx_prev_expiry = c->now + 3 * tquic_conn_pto(c);
	if (c->tx_phase != c->rx_phase) {
		/* The peer initiated: respond with our own update. */
		err = tquic_conn_keys_next(c, &c->tx[TQUIC_LEVEL_APP].pkt, &next);
		if (err)
			return err;
		tquic_aead_keys_destroy(&c->tx[TQUIC_LEVEL_APP].pkt);
		c->tx[TQUIC_LEVEL_APP].pkt = next;
		c->tx_phase = c->rx_phase;
		c->tx_phase_first_pn = c->path.next_pn[TQUIC_PN_SPACE_APP];
		c->tx_phase_acked = false;
		c->pkts_in_phase = 0;
		c->key_updates++;
		tquic_conn_event(c, TQUIC_EV_KEY_UPDATE, 1, c->tx_phase, 0, NULL, 0);
	}
	return 0;
}

/*
 * A QUIC v2 packet of the next key phase failed with RFC 9369's keys: try
 * the derivation quic-go uses ("quic ku") on a copy of the ciphertext and
 * latch it for the connection when it opens the packet.
 */
static int open_1rtt_compat(struct tquic_conn *c, u8 *pkt, struct tquic_hdr *h,
			    const u8 *orig)
{
	struct tquic_aead_keys alt;
	int err;

	memcpy(pkt, orig, h->len);
	c->ku_compat = true;
	err = tquic_conn_keys_next(c, &c->rx[TQUIC_LEVEL_APP].pkt, &alt);
	if (err) {
		c->ku_compat = false;
		return err;
	}
	err = tquic_payload_open(&alt, pkt, h, false, 0);
	if (err) {
		c->ku_compat = false;
		tquic_aead_keys_destroy(&alt);
		return err;
	}
	tquic_aead_keys_destroy(&c->rx_next);
	c->rx_next = alt;
	return 0;
}

static int open_1rtt(struct tquic_conn *c, u8 *pkt, struct tquic_hdr *h, u64 largest,
		     bool *rotate)
{
	u8 *orig;
	struct tquic_aead_keys *ak;
	int err;

	err = tquic_hp_remove(c->rx[TQUIC_LEVEL_APP].hp, pkt, h, largest);
	if (err)
		return err;
	*rotate = false;
	if (h->key_phase == c->rx_phase) {
		ak = &c->rx[TQUIC_LEVEL_APP].pkt;
	} else if (c->has_rx_prev && h->pn < c->rx_phase_first_pn) {
		ak = &c->rx_prev;
	} else if (c->has_rx_next) {
		ak = &c->rx_next;
		*rotate = true;
	} else {
		return -EBADMSG;
	}
	if (!*rotate || c->version != TQUIC_VERSION_2 || c->ku_compat || c->key_updates)
		return tquic_payload_open(ak, pkt, h, false, 0);
	orig = tquic_mem_alloc(h->len, c->gfp);
	if (!orig)
		return -ENOMEM;
	memcpy(orig, pkt, h->len);
	err = tquic_payload_open(ak, pkt, h, false, 0);
	if (err == -EBADMSG)
		err = open_1rtt_compat(c, pkt, h, orig);
	tquic_mem_free(orig);
	return err;
}

/* ---- packets ---- */

int tquic_conn_recv_packet(struct tquic_conn *c, struct tquic_buf *b, u8 *pkt,
			   struct tquic_hdr *h, u8 ecn)
{
	u8 level = pkt_level(h->type);
	enum tquic_pn_space space = tquic_level_space(level);
	struct tquic_conn_path *p = &c->path;
	bool eliciting = false, rotate = false;
	struct tquic_keys *keys;
	u64 largest;
	int err;

	if (h->type == TQUIC_PKT_0RTT && !c->is_server)
		return 0;
	keys = &c->rx[level];
	if (h->type != TQUIC_PKT_1RTT && h->version != c->version) {
		if (!c->is_server && c->version == c->orig_version && !c->handshake_complete &&
		    !(c->has_rx & (1U << TQUIC_LEVEL_HANDSHAKE)) &&
		    h->type == TQUIC_PKT_INITIAL && tquic_version_supported(h->version)) {
			/*
			 * Compatible negotiation (RFC 9369 4.1): the first long
			 * header in another version tells the client the
			 * server's choice; version_information confirms it.
			 */
			if (!tquic_conn_version_spoken(&c->cfg, h->version) ||
			    tquic_conn_switch_version(c, h->version))
				return 0;
			keys = &c->rx[level];
		} else if (c->is_server && h->version == c->orig_version &&
			   h->type == TQUIC_PKT_INITIAL && c->has_orig_initial_rx) {
			keys = &c->orig_initial_rx;
		} else {
			return 0;
		}
	}
	if (c->discarded[space])
		return 0;
	if (keys != &c->orig_initial_rx && !(c->has_rx & (1U << level))) {
		/* 0-RTT keys come with the ClientHello or never. */
		if (level != TQUIC_LEVEL_INITIAL &&
		    (level != TQUIC_LEVEL_EARLY || !c->handshake_complete))
			keep_pending(c, pkt, h->len, level, ecn);
		return 0;
	}
	largest = p->ack.sp[space].largest;
	if (h->type == TQUIC_PKT_1RTT)
		err = open_1rtt(c, pkt, h, largest, &rotate);
	else
		err = tquic_packet_unprotect(keys, pkt, h, largest, false, 0);
	/*
	 * Only an authenticated packet can be a connection error (reserved
	 * bits set); anything that fails before authentication is dropped.
	 */
	if (err < 0 || (err > 0 && !h->payload_len)) {
		c->stats.pkts_dropped++;
		tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_DROPPED, h->type, space, 0, h->len, TQUIC_QL_DROP_DECRYPT);
		return 0;
	}
	if (err > 0) {
		c->err_frame_type = 0;
		return err;
	}
	if (tquic_ackmgr_is_duplicate(&p->ack, space, h->pn)) {
		c->stats.pkts_dropped++;
		tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_DROPPED, h->type, space, h->pn, h->len, TQUIC_QL_DROP_DUPLICATE);
		return 0;
	}
	if (rotate) {
		err = rotate_rx_keys(c, h->pn);
		if (err)
			return 0;
	}
	if (!c->is_server && !c->got_peer_packet) {
		/* The server's first packet sets the DCID we use (RFC 9000 7.2). */
		c->got_peer_packet = true;
		c->peer_scid_len = h->scid_len;
		memcpy(c->peer_scid, h->scid, h->scid_len);
		c->peer_cids[0].len = h->scid_len;
		memcpy(c->peer_cids[0].id, h->scid, h->scid_len);
	}
	if (h->type == TQUIC_PKT_HANDSHAKE && c->is_server) {
		/* The client proved it received our Initial (RFC 9000 8.1). */
		tquic_conn_discard_space(c, TQUIC_PN_SPACE_INITIAL);
		if (!p->validated) {
			p->validated = true;
			tquic_recovery_set_amp_blocked(&p->rec, false, c->now);
		}
	}
	largest = p->ack.sp[space].largest;
	c->rx_nonprobing = false;
	err = process_frames(c, b, pkt + h->payload_offset, h->payload_len, h->type,
			     space, &eliciting);
	/* Only the largest packet number moves the path (RFC 9000 9.3). */
	if (!err && c->rx_alt && c->rx_nonprobing && space == TQUIC_PN_SPACE_APP &&
	    (largest == TQUIC_PN_NONE || h->pn > largest))
		c->rx_migrate = true;
	if (err < 0) {
		/* Local resource limit: not acknowledged, the peer sends it again. */
		c->stats.pkts_dropped++;
		tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_DROPPED, h->type, space, h->pn, h->len, TQUIC_QL_DROP_RESOURCES);
		return 0;
	}
	if (err > 0)
		return err;
	if (c->discarded[space])
		return 0;
	tquic_ackmgr_on_packet(&p->ack, space, h->pn, eliciting, ecn, c->now, c->gfp);
	c->stats.pkts_recv++;
	if (h->type == TQUIC_PKT_0RTT)
		c->stats.early_recv++;
	tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_RECEIVED, h->type, space, h->pn, h->len, 0);
	c->idle_start = c->now;
	c->eliciting_since_recv = false;
	return 0;
}

/* ---- Retry, Version Negotiation, stateless reset ---- */

static void on_retry(struct tquic_conn *c, const u8 *pkt, size_t len, const struct tquic_hdr *h)
{
	struct tquic_retry_keys rk;
	struct tquic_stream_sent rec;
	int err;

	if (c->is_server || c->retried || c->got_peer_packet || h->version != c->version ||
	    !h->token_len || h->token_len > TQUIC_TOKEN_MAX || !h->scid_len)
		return;
	if (tquic_retry_keys_init(&rk, c->gfp))
		return;
	err = tquic_retry_verify(&rk, pkt, len, c->odcid, c->odcid_len, c->gfp);
	tquic_retry_keys_destroy(&rk);
	if (err)
		return;
	c->retried = true;
	memcpy(c->retry_scid, h->scid, h->scid_len);
	c->retry_scid_len = h->scid_len;
	memcpy(c->idcid, h->scid, h->scid_len);
	c->idcid_len = h->scid_len;
	c->peer_cids[0].len = h->scid_len;
	memcpy(c->peer_cids[0].id, h->scid, h->scid_len);
	memcpy(c->token, h->token, h->token_len);
	c->token_len = h->token_len;
	if (tquic_conn_initial_keys(c, c->version)) {
		tquic_conn_enter_closing(c, 0, TQUIC_ERR_INTERNAL_ERROR, 0, NULL, 0);
		return;
	}
	/* Everything sent in Initial packets goes again, with the token. */
	rec.id = 0;
	rec.off = 0;
	rec.len = c->cs[TQUIC_PN_SPACE_INITIAL].tx.send_off;
	rec.fin = false;
	if (rec.len)
		tquic_crypto_stream_on_lost(&c->cs[TQUIC_PN_SPACE_INITIAL], &rec);
	tquic_recovery_reset_cc(&c->path.rec, c->now);
}

static void on_vn(struct tquic_conn *c, const u8 *pkt, size_t len)
{
	struct tquic_vn vn;
	u32 i, pick = 0;

	if (c->is_server || c->got_peer_packet || c->vn_done)
		return;
	if (tquic_vn_parse(pkt, len, &vn))
		return;
	if (!cid_eq(vn.dcid, vn.dcid_len, c->local_cids[0].id, c->local_cids[0].len) ||
	    !cid_eq(vn.scid, vn.scid_len, c->odcid, c->odcid_len))
		return;
	/* A VN listing the version we use is ignored (RFC 9368 section 4). */
	if (tquic_vn_lists(&vn, c->version))
		return;
	for (i = 0; i < c->cfg.n_versions && !pick; i++)
		if (tquic_vn_lists(&vn, c->cfg.versions[i]))
			pick = c->cfg.versions[i];
	c->vn_done = true;
	tquic_conn_event(c, TQUIC_EV_VERSION_NEGOTIATION, 0, 0, pick, NULL, 0);
	c->close_flags = TQUIC_CLOSE_F_HANDSHAKE | TQUIC_CLOSE_F_REMOTE;
	c->close_code = TQUIC_ERR_VERSION_NEGOTIATION_ERROR;
	tquic_conn_event(c, TQUIC_EV_CLOSED, c->close_flags, 0, c->close_code, NULL, 0);
	c->state = TQUIC_CONN_DRAINED;
	tquic_conn_event(c, TQUIC_EV_DRAINED, c->close_flags, 0, c->close_code, NULL, 0);
}

/*
 * Server: a datagram from @peer, another address than the active path's.
 * Returns false when it is dropped.
 */
static bool alt_begin(struct tquic_conn *c, const struct tquic_addr *peer, size_t len,
		      bool *fresh)
{
	struct tquic_conn_path *p = &c->path;

	*fresh = false;
	if (!c->is_server || !c->handshake_confirmed || c->cfg.disable_active_migration)
		return false;
	if (!c->has_alt || !tquic_addr_eq(&c->alt.peer, peer)) {
		/* One probed address at a time: the newest replaces the last. */
		tquic_path_init(&c->alt, 1, &p->local, peer, false, c->cfg.max_datagram_size);
		tquic_path_set_mtu(&c->alt, p->mtu);
		tquic_path_start_validation(&c->alt, c->now / 1000,
					    tquic_rtt_pto(&p->rtt, true, 0) / 1000);
		c->alt_cid = tquic_conn_unused_peer_cid(c);
		if (c->alt_cid >= TQUIC_CONN_MAX_CIDS)
			c->alt_cid = c->peer_cid_cur;
		c->has_alt = true;
		*fresh = true;
	}
	tquic_path_on_datagram_recv(&c->alt, len);
	c->rx_alt = true;
	c->rx_migrate = false;
	return true;
}

/* The active path moves to the probed address (RFC 9000 9.3). */
static void migrate_to_alt(struct tquic_conn *c)
{
	struct tquic_conn_path *p = &c->path;
	enum tquic_addr_change ch = tquic_addr_classify(&p->peer, &c->alt.peer);
	bool validated = c->alt.addr_validated;

	if (p->validated) {
		c->prev_peer = p->peer;
		c->has_prev_peer = true;
	}
	p->peer = c->alt.peer;
	if (c->alt_cid < TQUIC_CONN_MAX_CIDS && c->peer_cids[c->alt_cid].in_use &&
	    !c->peer_cids[c->alt_cid].retired)
		tquic_conn_switch_peer_cid(c, c->alt_cid);
	/* Congestion state belongs to the old path unless only the port changed (9.4). */
	if (tquic_addr_change_resets_cc(ch))
		tquic_recovery_reset_cc(&p->rec, c->now);
	if (validated) {
		p->validated = true;
		c->has_prev_peer = false;
		p->challenge_pending = false;
		p->challenge_sent = false;
		c->path_deadline = TQUIC_TIME_NONE;
		c->path_retry = TQUIC_TIME_NONE;
	} else {
		/* Unproven: 3x what this address sent us until it answers. */
		p->validated = false;
		p->bytes_recv = c->alt.bytes_recv;
		p->bytes_sent = c->alt.bytes_sent;
		tquic_conn_challenge_path(c);
	}
	if (c->alt.nresponses) {
		memcpy(p->response, c->alt.responses[c->alt.nresponses - 1],
		       TQUIC_PATH_CHALLENGE_LEN);
		p->response_pending = true;
	}
	c->has_alt = false;
	c->stats.peer_migrations++;
	tquic_conn_event(c, TQUIC_EV_PEER_MIGRATED, validated ? 0 : 1, p->id, 0, NULL, 0);
}

static bool is_stateless_reset(const struct tquic_conn *c, const u8 *d, size_t len)
{
	u32 i;

	if (len < TQUIC_STATELESS_RESET_MIN_LEN || (d[0] & 0x80))
		return false;
	for (i = 0; i < TQUIC_CONN_MAX_CIDS; i++) {
		const struct tquic_conn_cid *cid = &c->peer_cids[i];

		if (cid->in_use && cid->has_token &&
		    tquic_is_stateless_reset(d, len, cid->token, 1))
			return true;
	}
	return false;
}

int tquic_conn_recv(struct tquic_conn *c, struct tquic_buf *dgram,
		    const struct tquic_addr *local, const struct tquic_addr *peer,
		    u8 ecn, u64 now, unsigned int gfp)
{
	u8 *d = tquic_buf_data(dgram);
	size_t len = tquic_buf_len(dgram);
	struct tquic_conn_path *p = &c->path;
	struct tquic_dgram_iter it;
	const u8 *first_dcid = NULL;
	u8 first_dcid_len = 0;
	u64 before = c->stats.pkts_recv;
	struct tquic_hdr h;
	bool fresh_alt = false;
	size_t off;
	int err;

	(void)local;
	c->rx_alt = false;
	c->now = now > c->now ? now : c->now;
	c->gfp = gfp;
	if (c->state == TQUIC_CONN_DRAINED || c->state == TQUIC_CONN_DRAINING)
		return 0;
	c->stats.bytes_recv += len;
	if (c->state == TQUIC_CONN_CLOSING) {
		/* Answer with CONNECTION_CLOSE again (RFC 9000 10.2.1). */
		c->close_send = true;
		return 0;
	}
	if (peer && peer->family && p->peer.family && !tquic_addr_eq(peer, &p->peer)) {
		/* Another address: a probe, a migration or a NAT rebinding. */
		if (!alt_begin(c, peer, len, &fresh_alt)) {
			c->stats.pkts_dropped++;
			tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_DROPPED, 0, 0, 0, len, TQUIC_QL_DROP_PATH);
			return 0;
		}
	} else {
		p->bytes_recv += len;
	}
	tquic_dgram_iter_init(&it, d, len, c->cfg.cid_len, 0);
	for (;;) {
		err = tquic_dgram_next(&it, &h, &off);
		if (err)
			break;
		if (!first_dcid) {
			first_dcid = h.dcid;
			first_dcid_len = h.dcid_len;
		} else if (!cid_eq(first_dcid, first_dcid_len, h.dcid, h.dcid_len)) {
			continue;
		}
		if (h.type == TQUIC_PKT_VN) {
			on_vn(c, d + off, h.len);
			break;
		}
		if (h.type == TQUIC_PKT_UNKNOWN_VERSION)
			continue;
		if (!local_cid_known(c, h.dcid, h.dcid_len)) {
			c->stats.pkts_dropped++;
			tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_DROPPED, h.type, 0, 0, h.len, TQUIC_QL_DROP_UNKNOWN_CID);
			continue;
		}
		if (h.type == TQUIC_PKT_RETRY) {
			on_retry(c, d + off, h.len, &h);
			break;
		}
		err = tquic_conn_recv_packet(c, dgram, d + off, &h, ecn);
		if (err > 0) {
			tquic_conn_enter_closing(c, 0, (u64)err, c->err_frame_type, NULL, 0);
			break;
		}
		if (tquic_conn_closed(c))
			break;
	}
	if (c->rx_alt) {
		c->rx_alt = false;
		if (c->stats.pkts_recv == before) {
			/* Nothing authenticated: no state for that address. */
			if (fresh_alt)
				c->has_alt = false;
		} else if (c->rx_migrate && c->has_alt && !tquic_conn_closed(c)) {
			migrate_to_alt(c);
		}
	}
	if (c->stats.pkts_recv == before && is_stateless_reset(c, d, len)) {
		c->close_flags = TQUIC_CLOSE_F_RESET | TQUIC_CLOSE_F_REMOTE;
		tquic_conn_enter_draining(c, TQUIC_CLOSE_F_RESET | TQUIC_CLOSE_F_REMOTE,
					  0, 0, NULL, 0);
	}
	return 0;
}
