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

/* Whether @id is one of our CIDs; its sequence number goes to c->rx_dcid_seq. */
static bool local_cid_known(struct tquic_conn *c, const u8 *id, u8 len)
{
	const struct tquic_lcid *l = tquic_cids_local_lookup(&c->cids, id, len, NULL);

	c->rx_dcid_seq = l ? l->seq : ~0ULL;
	if (l)
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
	if (!c->pending) {
		c->pending = tquic_mem_alloc(TQUIC_CONN_PENDING_PKTS * sizeof(*c->pending), c->gfp);
		if (!c->pending)
			return;
	}
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
			err = tquic_conn_recv_packet(c, pp.buf, tquic_buf_data(pp.buf),
						     tquic_buf_data(pp.buf), &h, pp.ecn);
		if (err > 0)
			tquic_conn_enter_closing(c, 0, (u64)err, c->err_frame_type, NULL, 0);
		tquic_buf_put(pp.buf);
	}
}

/* ---- frames ---- */

static void after_ack(struct tquic_conn *c)
{
	struct tquic_path_xmit *p = c->path->x;

	if (c->cfg.pacing)
		tquic_pacer_set_rate(&p->pacer, tquic_cc_pacing_rate(&p->cc), c->now);
	tquic_streams_set_rtt(&c->streams, tquic_ns_to_us(p->rtt.min_rtt));
	tquic_conn_qlog_metrics(c);
}

static int on_new_cid(struct tquic_conn *c, const struct tquic_frame_new_cid *nc)
{
	int err = tquic_cids_on_new_cid(&c->cids, nc, false, c->gfp);

	if (err)
		return err;
	return tquic_conn_cid_events(c);
}

static int on_path_response(struct tquic_conn *c, const u8 *data)
{
	struct tquic_path *p;

	/* A response on any path validates the path its challenge went on (RFC 9000 8.2.3). */
	tquic_list_for_each_entry(p, &c->paths, node) {
		u32 mtu = p->mtu;

		if (tquic_path_on_response(p, data) == TQUIC_PATH_EV_VALIDATED) {
			/* The challenge's datagram may have proved a larger MTU. */
			if (p->mtu != mtu)
				tquic_conn_path_mtu_changed(p);
			tquic_conn_path_validated(c, p);
			return 0;
		}
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
	struct tquic_path_xmit *x = c->path->x;
	int err;

	if (tquic_frame_type_is_stream(f->type))
		return tquic_streams_on_stream(s, &f->u.stream, b, now_us, c->gfp);

	switch (f->type) {
	case TQUIC_FT_PADDING:
	case TQUIC_FT_PING:
		return 0;
	case TQUIC_FT_ACK:
	case TQUIC_FT_ACK_ECN:
		err = tquic_recovery_on_ack(&x->rec, space, f->type, &f->u.ack, c->now);
		if (!err)
			after_ack(c);
		return err;
	case TQUIC_FT_CRYPTO:
		return tquic_crypto_stream_on_frame(c->cs[space], &f->u.data, b, c->gfp);
	case TQUIC_FT_NEW_TOKEN:
		if (c->is_server)
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		/* Kept for the host (tquic_conn_new_token()); dropped when memory is short. */
		if (f->u.data.len <= TQUIC_TOKEN_MAX &&
		    !tquic_conn_token_set(c, &c->new_token, &c->new_token_len, f->u.data.data,
					  (size_t)f->u.data.len))
			tquic_conn_event(c, TQUIC_EV_NEW_TOKEN, 0, 0, 0, NULL, 0);
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
		/* Path 0's pool: without multipath every CID is path 0's. */
		err = tquic_cids_on_retire(&c->cids, &f->u.path_seq, false, 0, c->rx_dcid_seq,
					   c->gfp);
		return err < 0 ? 0 : err;
	case TQUIC_FT_PATH_CHALLENGE:
		/* Answered on the path it came from (RFC 9000 8.2.2). */
		tquic_path_on_challenge(c->rx_path ? c->rx_path : c->path, f->u.probe.data);
		return 0;
	case TQUIC_FT_PATH_RESPONSE:
		return on_path_response(c, f->u.probe.data);
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
	struct tquic_frame frame, *f = &frame;
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
	c->rx_prev = c->rx[TQUIC_LEVEL_APP]->pkt;
	c->has_rx_prev = true;
	c->rx[TQUIC_LEVEL_APP]->pkt = c->rx_next;
	c->rx_next = next;
	c->rx_phase ^= 1;
	c->rx_phase_first_pn = pn;
	c->rx_prev_expiry = c->now + 3 * tquic_conn_pto(c);
	if (c->tx_phase != c->rx_phase) {
		/* The peer initiated: respond with our own update. */
		err = tquic_conn_keys_next(c, &c->tx[TQUIC_LEVEL_APP]->pkt, &next);
		if (err)
			return err;
		tquic_aead_keys_destroy(&c->tx[TQUIC_LEVEL_APP]->pkt);
		c->tx[TQUIC_LEVEL_APP]->pkt = next;
		c->tx_phase = c->rx_phase;
		c->tx_phase_first_pn = c->path->x->next_pn[TQUIC_PN_SPACE_APP];
		c->tx_phase_acked = false;
		c->pkts_in_phase = 0;
		c->key_updates++;
		tquic_conn_event(c, TQUIC_EV_KEY_UPDATE, 1, c->tx_phase, 0, NULL, 0);
	}
	return 0;
}

/*
 * A QUIC v2 packet of the next key phase failed with RFC 9369's keys: try
 * the derivation quic-go uses ("quic ku") on the ciphertext at @src (not
 * @pkt, which the failed attempt overwrote) and latch it for the connection
 * when it opens the packet.
 */
static int open_1rtt_compat(struct tquic_conn *c, u8 *pkt, const u8 *src,
			    struct tquic_hdr *h)
{
	struct tquic_aead_keys alt;
	int err;

	c->ku_compat = true;
	err = tquic_conn_keys_next(c, &c->rx[TQUIC_LEVEL_APP]->pkt, &alt);
	if (err) {
		c->ku_compat = false;
		return err;
	}
	err = tquic_payload_open(&alt, pkt, src, h, false, 0);
	if (err) {
		c->ku_compat = false;
		tquic_aead_keys_destroy(&alt);
		return err;
	}
	tquic_aead_keys_destroy(&c->rx_next);
	c->rx_next = alt;
	return 0;
}

static int open_1rtt(struct tquic_conn *c, u8 *pkt, const u8 *src, struct tquic_hdr *h,
		     u64 largest, bool *rotate)
{
	struct tquic_aead_keys *ak;
	u8 *orig;
	int err;

	err = tquic_hp_remove(c->rx[TQUIC_LEVEL_APP]->hp, pkt, src, h, largest);
	if (err)
		return err;
	*rotate = false;
	if (h->key_phase == c->rx_phase) {
		ak = &c->rx[TQUIC_LEVEL_APP]->pkt;
	} else if (c->has_rx_prev && h->pn < c->rx_phase_first_pn) {
		ak = &c->rx_prev;
	} else if (c->has_rx_next) {
		ak = &c->rx_next;
		*rotate = true;
	} else {
		return -EBADMSG;
	}
	if (!*rotate || c->version != TQUIC_VERSION_2 || c->ku_compat || c->key_updates)
		return tquic_payload_open(ak, pkt, src, h, false, 0);
	if (src != pkt) {
		err = tquic_payload_open(ak, pkt, src, h, false, 0);
		return err == -EBADMSG ? open_1rtt_compat(c, pkt, src, h) : err;
	}
	/* In place: the second attempt needs the ciphertext the first destroys. */
	orig = tquic_mem_alloc(h->len, c->gfp);
	if (!orig)
		return -ENOMEM;
	memcpy(orig, pkt, h->len);
	err = tquic_payload_open(ak, pkt, src, h, false, 0);
	if (err == -EBADMSG)
		err = open_1rtt_compat(c, pkt, orig, h);
	tquic_mem_free(orig);
	return err;
}

/* ---- packets ---- */

int tquic_conn_recv_packet(struct tquic_conn *c, struct tquic_buf *b, u8 *pkt,
			   const u8 *src, struct tquic_hdr *h, u8 ecn)
{
	u8 level = pkt_level(h->type);
	enum tquic_pn_space space = tquic_level_space(level);
	struct tquic_path_xmit *x = c->path->x;
	bool eliciting = false, rotate = false;
	struct tquic_keys *keys;
	u64 largest;
	int err;

	if (h->type == TQUIC_PKT_0RTT && !c->is_server)
		return 0;
	keys = c->rx[level];
	if (h->type != TQUIC_PKT_1RTT && h->version != c->version) {
		if (!c->is_server && c->version == c->orig_version && !c->handshake_complete &&
		    !c->rx[TQUIC_LEVEL_HANDSHAKE] &&
		    h->type == TQUIC_PKT_INITIAL && tquic_version_supported(h->version)) {
			/*
			 * Compatible negotiation (RFC 9369 4.1): the first long
			 * header in another version tells the client the
			 * server's choice; version_information confirms it.
			 */
			if (!tquic_conn_version_spoken(&c->cfg, h->version) ||
			    tquic_conn_switch_version(c, h->version))
				return 0;
			keys = c->rx[level];
		} else if (c->is_server && h->version == c->orig_version &&
			   h->type == TQUIC_PKT_INITIAL && c->orig_initial_rx) {
			keys = c->orig_initial_rx;
		} else {
			return 0;
		}
	}
	if (c->discarded[space]) {
		/*
		 * A client still sending Handshake packets after we confirmed
		 * has not seen HANDSHAKE_DONE: it was lost, and after a lossy
		 * handshake our PTO can be later than the client's idle timeout.
		 * Send it again now (RFC 9001 4.1.2: it is what confirms).
		 */
		if (c->is_server && space == TQUIC_PN_SPACE_HANDSHAKE && c->handshake_confirmed)
			c->handshake_done_pending = true;
		return 0;
	}
	if (!keys) {
		/* 0-RTT keys come with the ClientHello or never. */
		if (level != TQUIC_LEVEL_INITIAL &&
		    (level != TQUIC_LEVEL_EARLY || !c->handshake_complete))
			keep_pending(c, src, h->len, level, ecn);
		return 0;
	}
	if (tquic_conn_unpark(c)) {
		c->stats.pkts_dropped++;
		tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_DROPPED, h->type, space, 0, h->len, TQUIC_QL_DROP_RESOURCES);
		return 0;
	}
	largest = tquic_ackmgr_largest(&x->ack, space);
	if (h->type == TQUIC_PKT_1RTT)
		err = open_1rtt(c, pkt, src, h, largest, &rotate);
	else
		err = tquic_packet_unprotect(keys, pkt, src, h, largest, false, 0);
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
	if (tquic_ackmgr_is_duplicate(&x->ack, space, h->pn)) {
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
		err = tquic_conn_set_peer_initial(c, h->scid, h->scid_len);
		if (err)
			return err < 0 ? TQUIC_ERR_INTERNAL_ERROR : err;
	}
	if (h->type == TQUIC_PKT_HANDSHAKE && c->is_server) {
		/* The client proved it received our Initial (RFC 9000 8.1). */
		tquic_conn_discard_space(c, TQUIC_PN_SPACE_INITIAL);
		if (!c->path->addr_validated) {
			tquic_path_set_validated(c->path);
			tquic_recovery_set_amp_blocked(&x->rec, false, c->now);
		}
	}
	largest = tquic_ackmgr_largest(&x->ack, space);
	c->rx_nonprobing = false;
	err = process_frames(c, b, pkt + h->payload_offset, h->payload_len, h->type,
			     space, &eliciting);
	/* Only the largest packet number moves the path (RFC 9000 9.3). */
	if (!err && c->rx_path != c->path && c->rx_nonprobing && space == TQUIC_PN_SPACE_APP &&
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
	tquic_ackmgr_on_packet(&x->ack, space, h->pn, eliciting, ecn, c->now, c->gfp);
	c->stats.pkts_recv++;
	if (h->type == TQUIC_PKT_0RTT)
		c->stats.early_recv++;
	tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_RECEIVED, h->type, space, h->pn, h->len, 0);
	c->idle_start = c->now;
	c->active_at = c->now;
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
	if (tquic_conn_set_peer_initial(c, h->scid, h->scid_len)) {
		tquic_conn_enter_closing(c, 0, TQUIC_ERR_INTERNAL_ERROR, 0, NULL, 0);
		return;
	}
	if (tquic_conn_token_set(c, &c->token, &c->token_len, h->token, h->token_len)) {
		tquic_conn_enter_closing(c, 0, TQUIC_ERR_INTERNAL_ERROR, 0, NULL, 0);
		return;
	}
	if (tquic_conn_initial_keys(c, c->version)) {
		tquic_conn_enter_closing(c, 0, TQUIC_ERR_INTERNAL_ERROR, 0, NULL, 0);
		return;
	}
	/* Everything sent in Initial packets goes again, with the token. */
	rec.id = 0;
	rec.off = 0;
	rec.len = c->cs[TQUIC_PN_SPACE_INITIAL]->tx.send_off;
	rec.fin = false;
	if (rec.len)
		tquic_crypto_stream_on_lost(c->cs[TQUIC_PN_SPACE_INITIAL], &rec);
	tquic_recovery_reset_cc(&c->path->x->rec, c->now);
}

static void on_vn(struct tquic_conn *c, const u8 *pkt, size_t len)
{
	struct tquic_vn vn;
	u32 i, pick = 0;

	if (c->is_server || c->got_peer_packet || c->vn_done)
		return;
	if (tquic_vn_parse(pkt, len, &vn))
		return;
	if (!cid_eq(vn.dcid, vn.dcid_len, c->scid, c->scid_len) ||
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
 * Local addresses match when equal, when one is unknown, or when one is
 * unspecified on the same port (a socket bound to the wildcard address).
 */
static bool local_match(const struct tquic_addr *a, const struct tquic_addr *b)
{
	static const u8 zero[16];

	if (!a->family || !b->family || tquic_addr_eq(a, b))
		return true;
	return a->port == b->port &&
	       ((a->family == TQUIC_ADDR_V4 && !memcmp(a->addr, zero, 4)) ||
		(a->family == TQUIC_ADDR_V6 && !memcmp(a->addr, zero, 16)) ||
		(b->family == TQUIC_ADDR_V4 && !memcmp(b->addr, zero, 4)) ||
		(b->family == TQUIC_ADDR_V6 && !memcmp(b->addr, zero, 16)));
}

/* The path of a datagram from @peer to @local, NULL when none matches. */
static struct tquic_path *path_lookup(struct tquic_conn *c, const struct tquic_addr *local,
				      const struct tquic_addr *peer)
{
	struct tquic_path *p;

	/* Hosts that pass no address have one path. */
	if (!peer || !peer->family)
		return c->path;
	tquic_list_for_each_entry(p, &c->paths, node) {
		if ((!p->peer.family || tquic_addr_eq(&p->peer, peer)) &&
		    (!local || local_match(&p->local, local)))
			return p;
	}
	return NULL;
}

static bool is_pref_local(const struct tquic_conn *c, const struct tquic_addr *local)
{
	return local && ((c->cfg.preferred_v4.family && tquic_addr_eq(local, &c->cfg.preferred_v4)) ||
			 (c->cfg.preferred_v6.family && tquic_addr_eq(local, &c->cfg.preferred_v6)));
}

/*
 * Server: a datagram on no known path (RFC 9000 9.3): a probe, a migration,
 * a NAT rebinding or the move to our preferred address.  Returns the new
 * path being validated, NULL when the datagram is dropped.
 */
static struct tquic_path *probe_begin(struct tquic_conn *c, const struct tquic_addr *local,
				      const struct tquic_addr *peer)
{
	struct tquic_path *p, *n;

	if (!c->is_server || !c->handshake_confirmed)
		return NULL;
	/* disable_active_migration does not cover our own preferred address (18.2). */
	if (c->cfg.disable_active_migration && !is_pref_local(c, local))
		return NULL;
	/* One probed path at a time: the newest replaces the last. */
	tquic_list_for_each_entry_safe(p, n, &c->paths, node)
		if (p != c->path)
			tquic_conn_path_free(c, p);
	p = tquic_conn_path_new(c, local ? local : &c->path->local, peer, false);
	if (!p)
		return NULL;
	/*
	 * The active path's peer CID until a packet on it authenticates: a
	 * forged datagram must not cost a CID (then retired with the path).
	 */
	p->dcid = c->path->dcid;
	p->dcid_seq = c->path->dcid_seq;
	p->has_dcid = c->path->has_dcid;
	tquic_conn_path_validate(c, p);
	return p;
}

/* Server: the peer moved to @np (RFC 9000 9.3). */
static void migrate_to(struct tquic_conn *c, struct tquic_path *np)
{
	tquic_conn_path_adopt(c, np);
	tquic_conn_event(c, TQUIC_EV_PEER_MIGRATED, c->path->addr_validated ? 0 : 1,
			 c->path->id, 0, NULL, 0);
}

int tquic_conn_recv(struct tquic_conn *c, struct tquic_buf *dgram, const u8 *src,
		    const struct tquic_addr *local, const struct tquic_addr *peer,
		    u8 ecn, u64 now, unsigned int gfp)
{
	u8 *out = tquic_buf_data(dgram);
	const u8 *d = src ? src : out;
	size_t len = tquic_buf_len(dgram);
	struct tquic_dgram_iter it;
	const u8 *first_dcid = NULL;
	u8 first_dcid_len = 0;
	u64 before = c->stats.pkts_recv;
	struct tquic_path *rx;
	struct tquic_hdr h;
	bool fresh = false;
	size_t off;
	int err;

	c->now = now > c->now ? now : c->now;
	c->gfp = gfp;
	if (c->state == TQUIC_CONN_DRAINED || c->state == TQUIC_CONN_DRAINING)
		return 0;
	c->stats.bytes_recv += len;
	if (c->state == TQUIC_CONN_CLOSING) {
		/*
		 * Answer with CONNECTION_CLOSE again (RFC 9000 10.2.1), at a
		 * limited rate: to the 1st, 2nd, 4th, 8th... datagram.  Two
		 * ends that close at once would otherwise bounce closes at
		 * full speed until their closing periods end.
		 */
		c->close_rx++;
		if (!(c->close_rx & (c->close_rx - 1)))
			c->close_send = true;
		return 0;
	}
	rx = path_lookup(c, local, peer);
	if (!rx) {
		rx = probe_begin(c, local, peer);
		if (!rx) {
			c->stats.pkts_dropped++;
			tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_DROPPED, 0, 0, 0, len, TQUIC_QL_DROP_PATH);
			return 0;
		}
		fresh = true;
	}
	tquic_path_on_datagram_recv(rx, len);
	c->rx_path = rx;
	c->rx_migrate = false;
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
		err = tquic_conn_recv_packet(c, dgram, out + off, d + off, &h, ecn);
		if (err > 0) {
			tquic_conn_enter_closing(c, 0, (u64)err, c->err_frame_type, NULL, 0);
			break;
		}
		if (tquic_conn_closed(c))
			break;
	}
	rx = c->rx_path;	/* the active path if the one it came on was freed meanwhile */
	c->rx_path = NULL;
	if (rx != c->path) {
		if (c->stats.pkts_recv == before) {
			/* Nothing authenticated: no state for that address. */
			if (fresh)
				tquic_conn_path_free(c, rx);
		} else {
			/* A new peer CID towards a new path when one is left (9.5). */
			if (fresh)
				tquic_conn_path_new_dcid(c, rx);
			if (c->rx_migrate && c->is_server && !tquic_conn_closed(c))
				migrate_to(c, rx);
		}
	}
	if (c->stats.pkts_recv == before && len >= TQUIC_STATELESS_RESET_MIN_LEN &&
	    !(d[0] & 0x80) &&
	    tquic_cids_is_stateless_reset(&c->cids, d + len - TQUIC_STATELESS_RESET_TOKEN_LEN)) {
		c->close_flags = TQUIC_CLOSE_F_RESET | TQUIC_CLOSE_F_REMOTE;
		tquic_conn_enter_draining(c, TQUIC_CLOSE_F_RESET | TQUIC_CLOSE_F_REMOTE,
					  0, 0, NULL, 0);
	}
	return 0;
}
