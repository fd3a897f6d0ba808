// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC connections: setup, keys, transport parameters, handshake progress,
 * close, timers, events and the application-side API.  Receiving is in
 * conn_recv.c, building packets in conn_send.c, stateless server helpers
 * in conn_server.c.
 */
#include "conn_internal.h"

static u64 min_u64(u64 a, u64 b)
{
	return a < b ? a : b;
}

static u64 max_u64(u64 a, u64 b)
{
	return a > b ? a : b;
}

void tquic_conn_config_init(struct tquic_conn_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->versions[0] = TQUIC_VERSION_1;
	cfg->versions[1] = TQUIC_VERSION_2;
	cfg->n_versions = 2;
	cfg->pacing = true;
	cfg->cid_len = 8;
	cfg->active_cid_limit = 4;
	cfg->ack_delay_exponent = TQUIC_ACK_DEFAULT_EXPONENT;
	cfg->amp_factor = 3;
	cfg->max_datagram_size = 1452;
	cfg->idle_timeout = 30000;
	cfg->max_ack_delay = 25;
	cfg->limits.max_data = 1 << 20;
	cfg->limits.max_stream_data_bidi_local = 256 << 10;
	cfg->limits.max_stream_data_bidi_remote = 256 << 10;
	cfg->limits.max_stream_data_uni = 256 << 10;
	cfg->limits.max_streams_bidi = 100;
	cfg->limits.max_streams_uni = 100;
	cfg->max_conn_window = 24 << 20;
	cfg->max_stream_window = 16 << 20;
	cfg->send_buffer = 1 << 20;
	cfg->max_frags = 1024;
	cfg->crypto_rx_cap = 64 << 10;
	cfg->datagram_queue = 128;
	cfg->new_token = true;
	cfg->reset_stream_at = true;
}

/* Handshake bytes TLS may queue per space before they are acknowledged. */
#define TQUIC_CRYPTO_TX_LIMIT	(256U << 10)

static struct tquic_crypto_stream *crypto_stream_new(struct tquic_conn *c, u64 rx_off,
						     u64 tx_off, unsigned int gfp)
{
	struct tquic_crypto_stream *cs = tquic_mem_alloc(sizeof(*cs), gfp);

	if (cs)
		tquic_crypto_stream_init(cs, c->cfg.crypto_rx_cap, TQUIC_CRYPTO_TX_LIMIT,
					 rx_off, tx_off);
	return cs;
}

static void crypto_stream_free(struct tquic_crypto_stream **cs)
{
	if (!*cs)
		return;
	tquic_crypto_stream_destroy(*cs);
	tquic_mem_free(*cs);
	*cs = NULL;
}

/* Rebuilds the 1-RTT CRYPTO stream a parked connection freed (0 or -ENOMEM). */
static int crypto_app_unpark(struct tquic_conn *c, unsigned int gfp)
{
	if (c->cs[TQUIC_PN_SPACE_APP])
		return 0;
	c->cs[TQUIC_PN_SPACE_APP] = crypto_stream_new(c, c->cs_app_rx_off, c->cs_app_tx_off, gfp);
	return c->cs[TQUIC_PN_SPACE_APP] ? 0 : -ENOMEM;
}

/* ---- events ---- */

/* Doubles the event ring (up to its cap), keeping the queued events in order. */
static bool conn_events_grow(struct tquic_conn *c)
{
	u32 cap = c->ev_cap ? 2 * c->ev_cap : TQUIC_CONN_EVENTS_MIN, i;
	struct tquic_event *ev;

	if (cap > TQUIC_CONN_EVENTS_MAX)
		return false;
	ev = tquic_mem_alloc(cap * sizeof(*ev), c->gfp);
	if (!ev)
		return false;
	for (i = 0; i < c->ev_len; i++)
		ev[i] = c->ev[(c->ev_head + i) % c->ev_cap];
	tquic_mem_free(c->ev);
	c->ev = ev;
	c->ev_cap = cap;
	c->ev_head = 0;
	return true;
}

void tquic_conn_event(struct tquic_conn *c, u32 type, u32 flags, u64 id, u64 code,
		      const u8 *data, u8 len)
{
	struct tquic_event *ev;

	tquic_conn_qlog_event(c, type, flags, id, code);
	if (c->ev_len == c->ev_cap && !conn_events_grow(c))
		return;
	ev = &c->ev[(c->ev_head + c->ev_len) % c->ev_cap];
	c->ev_len++;
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->flags = flags;
	ev->id = id;
	ev->code = code;
	if (data && len <= sizeof(ev->data)) {
		memcpy(ev->data, data, len);
		ev->len = len;
	}
}

bool tquic_conn_next_event(struct tquic_conn *c, struct tquic_event *ev)
{
	struct tquic_stream *st;
	u32 events;

	if (c->ev_len) {
		*ev = c->ev[c->ev_head];
		c->ev_head = (c->ev_head + 1) % c->ev_cap;
		c->ev_len--;
		return true;
	}
	st = tquic_streams_next_event(&c->streams, &events);
	if (st) {
		memset(ev, 0, sizeof(*ev));
		ev->type = TQUIC_EV_STREAM;
		ev->id = st->id;
		ev->flags = events;
		return true;
	}
	return false;
}

/* ---- recovery callbacks ---- */

static void sent_ctrl_frame(const struct tquic_sent_entry *e, struct tquic_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->type = e->type;
	if (e->type == TQUIC_FT_RESET_STREAM || e->type == TQUIC_FT_STOP_SENDING) {
		f->u.reset.id = e->a;
		f->u.reset.error_code = e->b;
		f->u.reset.final_size = e->c;
	} else {
		f->u.limit.id = e->a;
		f->u.limit.max = e->b;
	}
}

void tquic_conn_sent_entries(struct tquic_conn *c, const struct tquic_sent_entry *ents, u32 n,
			     bool acked)
{
	struct tquic_frame frame, *f = &frame;
	struct tquic_stream_sent rec;
	u32 i;

	for (i = 0; i < n; i++) {
		const struct tquic_sent_entry *e = &ents[i];

		switch (e->kind) {
		case TQUIC_SK_STREAM:
			rec.id = e->a;
			rec.off = e->b;
			rec.len = e->c;
			rec.fin = e->fin;
			if (acked)
				tquic_streams_on_acked(&c->streams, &rec);
			else
				tquic_streams_on_lost(&c->streams, &rec);
			break;
		case TQUIC_SK_CRYPTO:
			/* A parked stream had every byte acknowledged. */
			if (e->space >= TQUIC_PN_SPACE_COUNT || !c->cs[e->space])
				break;
			rec.id = 0;
			rec.off = e->b;
			rec.len = e->c;
			rec.fin = false;
			if (acked)
				tquic_crypto_stream_on_acked(c->cs[e->space], &rec);
			else
				tquic_crypto_stream_on_lost(c->cs[e->space], &rec);
			break;
		case TQUIC_SK_CTRL:
			sent_ctrl_frame(e, f);
			if (acked)
				tquic_streams_ctrl_acked(&c->streams, f);
			else
				tquic_streams_ctrl_lost(&c->streams, f);
			break;
		case TQUIC_SK_HANDSHAKE_DONE:
			if (!acked)
				c->handshake_done_pending = true;
			break;
		case TQUIC_SK_CID:
			memset(f, 0, sizeof(*f));
			f->type = e->type;
			if (e->type == TQUIC_FT_NEW_CONNECTION_ID ||
			    e->type == TQUIC_FT_PATH_NEW_CONNECTION_ID) {
				f->u.new_cid.seq = e->a;
				f->u.new_cid.path_id = e->b;
			} else {
				f->u.path_seq.seq = e->a;
				f->u.path_seq.path_id = e->b;
			}
			if (acked)
				tquic_cids_frame_acked(&c->cids, f);
			else
				tquic_cids_frame_lost(&c->cids, f);
			break;
		case TQUIC_SK_NEW_TOKEN:
			if (!acked) {
				c->new_token_pending = !!c->new_token;
			} else {
				/* Delivered: the server needs it no more. */
				c->new_token_pending = false;
				tquic_conn_token_set(c, &c->new_token, &c->new_token_len, NULL, 0);
			}
			break;
		default:
			break;
		}
	}
}

static void free_frames(struct tquic_conn *c, struct tquic_sent_frames *sf)
{
	size_t sz = sizeof(*sf) + sf->n * sizeof(sf->e[0]);

	c->mem -= min_u64(c->mem, sz);
	tquic_mem_free(sf);
}

static void rec_on_acked(void *ctx, enum tquic_pn_space space, struct tquic_sent_pkt *pkt)
{
	struct tquic_conn *c = ctx;
	struct tquic_sent_frames *sf = pkt->frames;

	tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_ACKED, 0, space, pkt->pn, pkt->size, 0);
	if (pkt->flags & TQUIC_SENT_HAS_ACK)
		tquic_ackmgr_on_ack_acked(&c->path->x->ack, space, pkt->ack_largest);
	if (space == TQUIC_PN_SPACE_APP && pkt->pn >= c->tx_phase_first_pn &&
	    c->tx[TQUIC_LEVEL_APP])
		c->tx_phase_acked = true;
	if (!sf)
		return;
	pkt->frames = NULL;
	tquic_conn_sent_entries(c, sf->e, sf->n, true);
	free_frames(c, sf);
}

static void rec_on_lost(void *ctx, enum tquic_pn_space space, struct tquic_sent_pkt *pkt)
{
	struct tquic_conn *c = ctx;
	struct tquic_sent_frames *sf = pkt->frames;

	c->stats.pkts_lost++;
	tquic_conn_qlog_pkt(c, TQUIC_QL_PACKET_LOST, 0, space, pkt->pn, pkt->size, 0);
	tquic_conn_qlog_metrics(c);
	if (!sf)
		return;
	pkt->frames = NULL;
	tquic_conn_sent_entries(c, sf->e, sf->n, false);
	free_frames(c, sf);
}

static void rec_on_discarded(void *ctx, enum tquic_pn_space space,
			     struct tquic_sent_pkt *pkt)
{
	struct tquic_conn *c = ctx;

	(void)space;
	if (pkt->frames)
		free_frames(c, pkt->frames);
	pkt->frames = NULL;
}

const struct tquic_recovery_ops tquic_conn_rec_ops = {
	.on_acked = rec_on_acked,
	.on_lost = rec_on_lost,
	.on_discarded = rec_on_discarded,
};

/* ---- setup ---- */

bool tquic_conn_version_spoken(const struct tquic_conn_config *cfg, u32 v)
{
	u32 i;

	for (i = 0; i < cfg->n_versions && i < TQUIC_CONN_MAX_VERSIONS; i++)
		if (cfg->versions[i] == v)
			return true;
	return false;
}

size_t tquic_obj_size(enum tquic_obj kind)
{
	switch (kind) {
	case TQUIC_OBJ_CONN:
		return sizeof(struct tquic_conn);
	case TQUIC_OBJ_PATH:
		return sizeof(struct tquic_path);
	case TQUIC_OBJ_PATH_XMIT:
		return sizeof(struct tquic_path_xmit);
	case TQUIC_OBJ_PEER_CID:
		return sizeof(struct tquic_rcid);
	default:
		return 0;
	}
}

/* ---- paths ---- */

static const struct tquic_addr addr_none;

static int xmit_init(struct tquic_conn *c, struct tquic_path *p)
{
	struct tquic_path_xmit *x = p->x;
	const struct tquic_cc_ops *ops = NULL;
	int err;

	tquic_rtt_init(&x->rtt, c->cfg.initial_rtt);
	if (c->cfg.cc_name[0]) {
		ops = tquic_cc_find(c->cfg.cc_name);
		if (!ops)
			return -ENOENT;
	}
	err = tquic_cc_init(&x->cc, ops, &x->rtt, p->mtu, p->id, c->now);
	if (err)
		return err;
	tquic_pacer_init(&x->pacer, p->mtu, c->cfg.pacing_burst, c->now);
	err = tquic_recovery_init(&x->rec, &tquic_conn_rec_ops, c, &x->rtt, &x->cc,
				  p->id, c->is_server, c->gfp);
	if (err)
		goto fail_cc;
	tquic_recovery_set_ecn(&x->rec, c->cfg.ecn);
	err = tquic_ackmgr_init(&x->ack, p->id, c->cfg.max_ack_delay * TQUIC_NSEC_PER_MSEC,
				c->cfg.ack_delay_exponent, c->gfp);
	if (err)
		goto fail_rec;
	return 0;

fail_rec:
	tquic_recovery_release(&x->rec);
fail_cc:
	tquic_cc_release(&x->cc);
	return err;
}

static void xmit_release(struct tquic_path_xmit *x)
{
	tquic_recovery_release(&x->rec);
	tquic_ackmgr_release(&x->ack);
	tquic_cc_release(&x->cc);
}

/*
 * Path 0, the active path, with its machinery: two objects, the machinery
 * apart because probing paths go without it.
 */
static int path0_new(struct tquic_conn *c, const struct tquic_addr *local,
		     const struct tquic_addr *peer, bool validated)
{
	struct tquic_path *p;
	int err;

	p = tquic_path_alloc(0, local ? local : &addr_none, peer ? peer : &addr_none,
			     validated, c->cfg.max_datagram_size, c->gfp);
	if (!p)
		return -ENOMEM;
	p->amp_factor = (u8)min_u64(c->cfg.amp_factor, 255);
	p->state = TQUIC_PATH_ACTIVE;
	p->x = tquic_obj_alloc(TQUIC_OBJ_PATH_XMIT, c->gfp);
	err = p->x ? xmit_init(c, p) : -ENOMEM;
	if (err) {
		tquic_obj_free(TQUIC_OBJ_PATH_XMIT, p->x);
		tquic_path_free(p);
		return err;
	}
	tquic_list_add(&p->node, &c->paths);
	c->path = p;
	c->n_paths = 1;
	c->next_path_id = 1;
	c->mem += sizeof(*p) + sizeof(*p->x);
	return 0;
}

/* A path being probed: no machinery of its own (it borrows the active path's). */
struct tquic_path *tquic_conn_path_new(struct tquic_conn *c, const struct tquic_addr *local,
				       const struct tquic_addr *peer, bool validated)
{
	struct tquic_path *p;

	if (c->n_paths >= TQUIC_CONN_MAX_PATHS)
		return NULL;
	p = tquic_path_alloc(c->next_path_id, local ? local : &addr_none, peer, validated,
			     c->cfg.max_datagram_size, c->gfp);
	if (!p)
		return NULL;
	/* Without multipath the ID only names the path to the host; 0 is the active one. */
	if (!++c->next_path_id)
		c->next_path_id = 1;
	p->amp_factor = c->path->amp_factor;
	tquic_path_set_peer_max_udp_payload(p, c->path->mtu_max);
	/*
	 * Another network may not carry the active path's datagrams: 1200
	 * bytes until a challenge proves more (RFC 9000 9.4, 14.3).
	 */
	if (!tquic_addr_change_resets_cc(tquic_addr_classify(&c->path->peer, peer)))
		tquic_path_set_mtu(p, c->path->mtu);
	tquic_list_add_tail(&p->node, &c->paths);
	c->n_paths++;
	c->mem += sizeof(*p);
	return p;
}

/* Whether a path other than @p sends with peer CID @seq. */
static bool dcid_shared(const struct tquic_conn *c, const struct tquic_path *p, u64 seq)
{
	const struct tquic_path *q;

	tquic_list_for_each_entry(q, &c->paths, node)
		if (q != p && q->has_dcid && q->dcid_seq == seq)
			return true;
	return false;
}

/* Frees a probed path; the peer CID it used is retired (never reused on another path). */
void tquic_conn_path_free(struct tquic_conn *c, struct tquic_path *p)
{
	if (p == c->path)
		return;
	if (p->has_dcid && !dcid_shared(c, p, p->dcid_seq))
		tquic_cids_peer_retire(&c->cids, 0, p->dcid_seq, c->gfp);
	if (p == c->pref_path) {
		c->pref_path = NULL;
		c->pref_state = TQUIC_PREF_NONE;
	}
	if (c->rx_path == p)
		c->rx_path = c->path;
	c->n_paths--;
	c->mem -= min_u64(c->mem, sizeof(*p));
	tquic_path_free(p);
}

/*
 * @p sends with an unused peer CID from now on; the one it used is retired
 * unless another path shares it.  False when no unused CID is left.
 */
bool tquic_conn_path_new_dcid(struct tquic_conn *c, struct tquic_path *p)
{
	struct tquic_rcid *r = tquic_cids_peer_pick(&c->cids, 0, p->id);
	bool had = p->has_dcid;
	u64 old = p->dcid_seq;

	if (!r)
		return false;
	tquic_path_set_dcid(p, r);
	if (had && !dcid_shared(c, p, old))
		tquic_cids_peer_retire(&c->cids, 0, old, c->gfp);
	return true;
}

/* Starts validating @p: RFC 9000 8.2.4, three times the larger of the PTO and the initial one. */
void tquic_conn_path_validate(struct tquic_conn *c, struct tquic_path *p)
{
	u64 pto = max_u64(tquic_conn_pto(c), 2 * c->path->x->rtt.initial_rtt);

	tquic_path_start_validation(p, tquic_ns_to_us(c->now), tquic_ns_to_us(pto));
}

/*
 * The active path's peer address changed (@ch): congestion control and RTT
 * start over unless only the port changed (RFC 9000 9.4), and the MTU
 * follows what path.c chose for the new address.
 */
void tquic_conn_path_moved(struct tquic_conn *c, enum tquic_addr_change ch)
{
	struct tquic_path_xmit *x = c->path->x;

	if (!tquic_addr_change_resets_cc(ch))
		return;
	tquic_conn_path_mtu_changed(c->path);
	tquic_recovery_reset_cc(&x->rec, c->now);
}

void tquic_conn_path_mtu_changed(struct tquic_path *p)
{
	/* A path only being probed has no machinery: the MTU waits in @p. */
	if (!p->x)
		return;
	tquic_cc_set_mss(&p->x->cc, p->mtu);
	tquic_pacer_set_mss(&p->x->pacer, p->mtu);
}

/* The active path takes the peer CID @from used, which stays in use. */
static void path_take_dcid(struct tquic_conn *c, struct tquic_path *from)
{
	struct tquic_path *p = c->path;
	struct tquic_rcid *r;
	u64 old = p->dcid_seq;

	if (!from->has_dcid || (p->has_dcid && from->dcid_seq == old))
		return;
	r = tquic_cids_peer_find(&c->cids, 0, from->dcid_seq);
	if (!r)
		return;
	r->used_by = p->id;
	tquic_path_set_dcid(p, r);
	from->has_dcid = false;
	tquic_cids_peer_retire(&c->cids, 0, old, c->gfp);
}

/*
 * The active path moves to the address of @np, which is then freed: the
 * peer's address (and ours), the peer CID @np used and its queued
 * PATH_RESPONSEs.  Returns how the peer's address changed.
 */
enum tquic_addr_change tquic_conn_path_adopt(struct tquic_conn *c, struct tquic_path *np)
{
	u64 pto = max_u64(tquic_conn_pto(c), 2 * c->path->x->rtt.initial_rtt);
	struct tquic_path *p = c->path;
	enum tquic_addr_change ch, lch;
	u32 i;

	/* Our own address moving (to the preferred one) changes the path too. */
	lch = p->local.family && np->local.family ?
	      tquic_addr_classify(&p->local, &np->local) : TQUIC_ADDR_SAME;
	p->local = np->local;
	ch = tquic_path_peer_moved(p, &np->peer, tquic_ns_to_us(c->now), tquic_ns_to_us(pto));
	if (ch != TQUIC_ADDR_SAME) {
		if (np->addr_validated) {
			/* Proven on @np already, with the MTU its challenges showed. */
			tquic_path_cancel_validation(p);
			tquic_path_set_validated(p);
			tquic_path_set_mtu(p, np->mtu);
		} else {
			/* Unproven: 3x what this address sent us until it answers. */
			p->bytes_recv = np->bytes_recv;
			p->bytes_sent = np->bytes_sent;
		}
	}
	tquic_conn_path_moved(c, lch > ch ? lch : ch);
	path_take_dcid(c, np);
	for (i = 0; i < np->nresponses; i++)
		tquic_path_on_challenge(p, np->responses[i]);
	tquic_conn_path_free(c, np);
	c->stats.peer_migrations++;
	return ch;
}

/* A PATH_RESPONSE proved @p (RFC 9000 8.2.3). */
void tquic_conn_path_validated(struct tquic_conn *c, struct tquic_path *p)
{
	if (p == c->path)
		tquic_recovery_set_amp_blocked(&p->x->rec, false, c->now);
	tquic_conn_event(c, TQUIC_EV_PATH_VALIDATED, 0, p->id, 0, NULL, 0);
	if (p != c->pref_path)
		return;
	/* Client: the preferred address answered; the connection moves there (9.6.1). */
	tquic_conn_path_adopt(c, p);
	tquic_conn_event(c, TQUIC_EV_PREFERRED_ADDRESS, 0, 0, 0, (const u8 *)&c->path->peer,
			 sizeof(c->path->peer));
}

/* Client: the preferred_address offered, after the handshake is confirmed (RFC 9000 9.6.1). */
static void pref_start(struct tquic_conn *c)
{
	const struct tquic_tp_preferred_address *pa = c->peer_pref;
	struct tquic_addr to;
	struct tquic_rcid *r;
	struct tquic_path *p;

	c->pref_state = TQUIC_PREF_NONE;
	if (!pa)
		return;
	memset(&to, 0, sizeof(to));
	/* The family the client already speaks: one socket reaches that one. */
	if (c->path->peer.family == TQUIC_ADDR_V6) {
		to.family = TQUIC_ADDR_V6;
		memcpy(to.addr, pa->ipv6, sizeof(pa->ipv6));
		to.port = pa->ipv6_port;
	} else {
		to.family = TQUIC_ADDR_V4;
		memcpy(to.addr, pa->ipv4, sizeof(pa->ipv4));
		to.port = pa->ipv4_port;
	}
	tquic_mem_free(c->peer_pref);
	c->peer_pref = NULL;
	if (!to.port || tquic_addr_eq(&to, &c->path->peer))
		return;
	r = tquic_cids_peer_find(&c->cids, 0, 1);
	if (!r || r->in_use)
		return;
	p = tquic_conn_path_new(c, &c->path->local, &to, true);
	if (!p)
		return;
	r->in_use = true;
	r->used_by = p->id;
	tquic_path_set_dcid(p, r);
	c->pref_path = p;
	c->pref_state = TQUIC_PREF_PROBING;
	tquic_conn_path_validate(c, p);
}

/* ---- connection IDs ---- */

/* The host routes the handshake CID itself (it chose it); the others through events. */
static int conn_cid_add(void *ctx, u32 path_id, u64 seq, const struct tquic_cid *cid)
{
	struct tquic_conn *c = ctx;

	if (path_id || seq)
		tquic_conn_event(c, TQUIC_EV_CID_NEW, 0, seq, 0, cid->id, cid->len);
	return 0;
}

static void conn_cid_remove(void *ctx, u32 path_id, u64 seq, const struct tquic_cid *cid)
{
	struct tquic_conn *c = ctx;

	(void)path_id;
	tquic_conn_event(c, TQUIC_EV_CID_RETIRED, 0, seq, 0, cid->id, cid->len);
}

static const struct tquic_cid_ops conn_cid_ops = {
	.add = conn_cid_add,
	.remove = conn_cid_remove,
};

/*
 * After peer CIDs changed: a path whose CID the peer retired (Retire Prior
 * To) takes an unused one; a probed path without one is given up.  Returns
 * 0 or a transport error code.
 */
int tquic_conn_cid_events(struct tquic_conn *c)
{
	u32 ev = tquic_cids_take_events(&c->cids);
	struct tquic_path *p, *n;

	if (!(ev & TQUIC_CID_EV_DCID_RETIRED))
		return 0;
	tquic_list_for_each_entry_safe(p, n, &c->paths, node) {
		if (!p->has_dcid || tquic_cids_peer_find(&c->cids, 0, p->dcid_seq))
			continue;
		p->has_dcid = false;	/* retired by the CID layer already */
		if (tquic_conn_path_new_dcid(c, p))
			continue;
		if (p == c->path)
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		tquic_conn_path_free(c, p);
	}
	return 0;
}

/* ---- setup ---- */

static bool config_pref_ok(const struct tquic_addr *a, u8 family)
{
	return a->family == TQUIC_ADDR_NONE || (a->family == family && a->port);
}

static int config_check(const struct tquic_conn_config *cfg)
{
	u32 i;

	if (!cfg->n_versions || cfg->n_versions > TQUIC_CONN_MAX_VERSIONS)
		return -EINVAL;
	for (i = 0; i < cfg->n_versions; i++)
		if (!tquic_version_supported(cfg->versions[i]))
			return -EPROTONOSUPPORT;
	if (cfg->cid_len > TQUIC_MAX_CID_LEN ||
	    cfg->max_datagram_size < TQUIC_MIN_INITIAL_SIZE ||
	    cfg->max_datagram_size > 65527 ||
	    cfg->active_cid_limit < 2 || cfg->amp_factor < 1 ||
	    cfg->ack_delay_exponent > TQUIC_TP_MAX_ACK_DELAY_EXPONENT ||
	    cfg->max_ack_delay >= TQUIC_TP_MAX_ACK_DELAY_LIMIT ||
	    !config_pref_ok(&cfg->preferred_v4, TQUIC_ADDR_V4) ||
	    !config_pref_ok(&cfg->preferred_v6, TQUIC_ADDR_V6))
		return -EINVAL;
	return 0;
}

static bool config_offers_pref(const struct tquic_conn_config *cfg)
{
	return cfg->preferred_v4.family || cfg->preferred_v6.family;
}

static struct tquic_conn *conn_alloc(const struct tquic_conn_config *cfg, bool is_server,
				     u8 cid_len, const struct tquic_addr *local,
				     const struct tquic_addr *peer, bool validated,
				     u64 now, unsigned int gfp, int *err)
{
	struct tquic_streams_config scfg;
	struct tquic_cids_config ccfg;
	struct tquic_conn *c;
	u32 i;

	*err = config_check(cfg);
	if (*err)
		return NULL;
	c = tquic_obj_alloc(TQUIC_OBJ_CONN, gfp);
	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	c->mem = sizeof(*c);
	c->cfg = *cfg;
	c->cfg.cc_name[TQUIC_CC_NAME_MAX - 1] = 0;
	c->cfg.cid_len = cid_len;
	if (c->cfg.active_cid_limit > TQUIC_CONN_MAX_CIDS)
		c->cfg.active_cid_limit = TQUIC_CONN_MAX_CIDS;
	if (c->cfg.datagram_queue > TQUIC_CONN_DGRAM_MAX_QUEUE)
		c->cfg.datagram_queue = TQUIC_CONN_DGRAM_MAX_QUEUE;
	c->is_server = is_server;
	c->gfp = gfp;
	c->now = now;
	c->idle_start = now;
	c->active_at = now;
	c->idle_timeout = cfg->idle_timeout * TQUIC_NSEC_PER_MSEC;
	c->rx_prev_expiry = TQUIC_TIME_NONE;
	c->close_deadline = TQUIC_TIME_NONE;
	c->pacer_wait = TQUIC_TIME_NONE;
	c->rx_dcid_seq = ~0ULL;
	tquic_list_init(&c->paths);
	tquic_list_init(&c->dgram_rx);
	tquic_list_init(&c->dgram_tx);
	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++) {
		c->cs[i] = crypto_stream_new(c, 0, 0, gfp);
		if (!c->cs[i]) {
			*err = -ENOMEM;
			goto fail_cs;
		}
	}
	memset(&ccfg, 0, sizeof(ccfg));
	ccfg.ops = &conn_cid_ops;
	ccfg.ctx = c;
	ccfg.cid_len = cid_len;
	ccfg.reset_key = c->cfg.reset_key;
	ccfg.reset_key_len = sizeof(c->cfg.reset_key);
	/* Tables sized by the limits: as many CIDs as either side keeps active. */
	ccfg.active_cid_limit = c->cfg.active_cid_limit;
	ccfg.issue_cap = c->cfg.active_cid_limit < TQUIC_CONN_ISSUE_CIDS ?
			 c->cfg.active_cid_limit : TQUIC_CONN_ISSUE_CIDS;
	*err = tquic_cids_init(&c->cids, &ccfg);
	if (*err)
		goto fail_streams;
	memset(&scfg, 0, sizeof(scfg));
	scfg.is_server = is_server;
	scfg.local = cfg->limits;
	scfg.max_conn_window = cfg->max_conn_window;
	scfg.max_stream_window = cfg->max_stream_window;
	scfg.send_buffer = cfg->send_buffer;
	scfg.max_frags = cfg->max_frags;
	*err = tquic_streams_init(&c->streams, &scfg, gfp);
	if (*err)
		goto fail_streams;
	*err = path0_new(c, local, peer, validated);
	if (*err)
		goto fail_path;
	if (is_server)
		tquic_ackmgr_hold(&c->path->x->ack, TQUIC_PN_SPACE_INITIAL,
				  tquic_sat_add(now, TQUIC_SERVER_INITIAL_ACK_HOLD_NS));
	return c;

fail_path:
	tquic_streams_destroy(&c->streams);
fail_streams:
	tquic_cids_destroy(&c->cids);
fail_cs:
	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++)
		crypto_stream_free(&c->cs[i]);
	tquic_obj_free(TQUIC_OBJ_CONN, c);
	return NULL;
}

/* The peer's handshake CID (seq 0) is path 0's, now or again (Retry, the server's choice). */
int tquic_conn_set_peer_initial(struct tquic_conn *c, const u8 *id, u8 len)
{
	struct tquic_cid cid;
	int err;

	cid.len = len;
	memcpy(cid.id, id, len);
	err = tquic_cids_peer_set_initial(&c->cids, &cid, c->gfp);
	if (!err)
		tquic_path_set_dcid(c->path, tquic_cids_peer_find(&c->cids, 0, 0));
	return err;
}

/* Our handshake CID (seq 0). */
static int conn_set_scid(struct tquic_conn *c, const u8 *id, u8 len)
{
	struct tquic_cid cid;

	cid.len = len;
	memcpy(cid.id, id, len);
	c->scid_len = len;
	memcpy(c->scid, id, len);
	return tquic_cids_local_add(&c->cids, 0, 0, &cid, NULL, c->gfp);
}

void tquic_conn_keys_free(struct tquic_keys **k)
{
	if (!*k)
		return;
	tquic_keys_destroy(*k);
	tquic_mem_free(*k);
	*k = NULL;
}

/* Initial keys of @version into *@cl (client's) and *@sv (server's), on the heap. */
static int initial_keys_new(struct tquic_conn *c, u32 version, struct tquic_keys **cl,
			    struct tquic_keys **sv)
{
	*cl = tquic_mem_alloc(sizeof(**cl), c->gfp);
	*sv = tquic_mem_alloc(sizeof(**sv), c->gfp);
	if (*cl && *sv && !tquic_initial_keys(version, c->idcid, c->idcid_len, *cl, *sv, c->gfp))
		return 0;
	/* tquic_initial_keys() leaves nothing allocated in them on failure. */
	tquic_mem_free(*cl);
	tquic_mem_free(*sv);
	*cl = NULL;
	*sv = NULL;
	return -ENOMEM;
}

int tquic_conn_initial_keys(struct tquic_conn *c, u32 version)
{
	struct tquic_keys **cl, **sv;

	cl = c->is_server ? &c->rx[TQUIC_LEVEL_INITIAL] : &c->tx[TQUIC_LEVEL_INITIAL];
	sv = c->is_server ? &c->tx[TQUIC_LEVEL_INITIAL] : &c->rx[TQUIC_LEVEL_INITIAL];
	tquic_conn_keys_free(cl);
	tquic_conn_keys_free(sv);
	return initial_keys_new(c, version, cl, sv);
}

struct tquic_conn *tquic_conn_client_new(const struct tquic_conn_config *cfg,
					 u32 version, const u8 *dcid, u8 dcid_len,
					 const u8 *scid, u8 scid_len,
					 const struct tquic_addr *local,
					 const struct tquic_addr *peer,
					 u64 now, unsigned int gfp, int *err)
{
	struct tquic_conn *c;

	if (dcid_len < 8 || dcid_len > TQUIC_MAX_CID_LEN || scid_len > TQUIC_MAX_CID_LEN ||
	    !tquic_version_supported(version)) {
		*err = -EINVAL;
		return NULL;
	}
	/* Clients are not amplification limited: the path counts as validated. */
	c = conn_alloc(cfg, false, scid_len, local, peer, true, now, gfp, err);
	if (!c)
		return NULL;
	c->version = version;
	c->orig_version = version;
	memcpy(c->odcid, dcid, dcid_len);
	c->odcid_len = dcid_len;
	memcpy(c->idcid, dcid, dcid_len);
	c->idcid_len = dcid_len;
	*err = tquic_conn_set_peer_initial(c, dcid, dcid_len);
	if (!*err)
		*err = conn_set_scid(c, scid, scid_len);
	if (!*err)
		*err = tquic_conn_initial_keys(c, version);
	if (*err) {
		tquic_conn_free(c);
		return NULL;
	}
	return c;
}

struct tquic_conn *tquic_conn_server_new(const struct tquic_conn_config *cfg,
					 const struct tquic_server_params *sp,
					 const struct tquic_addr *local,
					 const struct tquic_addr *peer,
					 u64 now, unsigned int gfp, int *err)
{
	struct tquic_conn *c;

	/* A server using zero-length CIDs offers no preferred address (RFC 9000 18.2). */
	if (!sp->odcid_len || sp->odcid_len > TQUIC_MAX_CID_LEN ||
	    !sp->dcid_len || sp->dcid_len > TQUIC_MAX_CID_LEN ||
	    sp->scid_len > TQUIC_MAX_CID_LEN || !tquic_conn_version_spoken(cfg, sp->version) ||
	    (!cfg->cid_len && config_offers_pref(cfg))) {
		*err = -EINVAL;
		return NULL;
	}
	c = conn_alloc(cfg, true, cfg->cid_len, local, peer, sp->validated, now, gfp, err);
	if (!c)
		return NULL;
	c->version = sp->version;
	c->orig_version = sp->version;
	memcpy(c->odcid, sp->odcid, sp->odcid_len);
	c->odcid_len = sp->odcid_len;
	memcpy(c->idcid, sp->dcid, sp->dcid_len);
	c->idcid_len = sp->dcid_len;
	if (sp->retried) {
		memcpy(c->retry_scid, sp->dcid, sp->dcid_len);
		c->retry_scid_len = sp->dcid_len;
		c->retried = true;
	}
	memcpy(c->peer_scid, sp->scid, sp->scid_len);
	c->peer_scid_len = sp->scid_len;
	if (sp->validated)
		tquic_recovery_on_peer_validated(&c->path->x->rec, now);
	*err = tquic_conn_set_peer_initial(c, sp->scid, sp->scid_len);
	if (!*err)
		*err = conn_set_scid(c, sp->cid, cfg->cid_len);
	/* The preferred_address CID is sequence 1 (RFC 9000 5.1.1). */
	if (!*err && config_offers_pref(cfg) && !tquic_cids_local_reserve(&c->cids, 0, gfp))
		*err = -ENOMEM;
	if (!*err)
		*err = tquic_conn_initial_keys(c, sp->version);
	if (*err) {
		tquic_conn_free(c);
		return NULL;
	}
	return c;
}

static void dgram_list_free(struct tquic_list *l)
{
	struct tquic_dgram *d, *n;

	tquic_list_for_each_entry_safe(d, n, l, node) {
		tquic_list_del(&d->node);
		tquic_mem_free(d);
	}
}

void tquic_conn_release_pending(struct tquic_conn *c)
{
	u32 i;

	for (i = 0; i < c->n_pending; i++)
		tquic_buf_put(c->pending[i].buf);
	c->n_pending = 0;
	tquic_mem_free(c->pending);
	c->pending = NULL;
}

void tquic_conn_free(struct tquic_conn *c)
{
	u32 i;

	if (!c)
		return;
	/* The host forgets the connection's CIDs itself: no events now. */
	c->cids.ops = NULL;
	tquic_cids_destroy(&c->cids);
	while (c->n_paths > 1)
		tquic_conn_path_free(c, tquic_list_entry(c->paths.prev, struct tquic_path, node));
	if (c->path) {
		xmit_release(c->path->x);
		tquic_obj_free(TQUIC_OBJ_PATH_XMIT, c->path->x);
		tquic_path_free(c->path);
	}
	for (i = 0; i < TQUIC_LEVEL_COUNT; i++) {
		tquic_conn_keys_free(&c->rx[i]);
		tquic_conn_keys_free(&c->tx[i]);
	}
	tquic_conn_keys_free(&c->orig_initial_rx);
	if (c->has_rx_next)
		tquic_aead_keys_destroy(&c->rx_next);
	if (c->has_rx_prev)
		tquic_aead_keys_destroy(&c->rx_prev);
	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++)
		crypto_stream_free(&c->cs[i]);
	tquic_streams_destroy(&c->streams);
	dgram_list_free(&c->dgram_rx);
	dgram_list_free(&c->dgram_tx);
	tquic_conn_release_pending(c);
	tquic_mem_free(c->ev);
	tquic_mem_free(c->scratch);
	tquic_mem_free(c->token);
	tquic_mem_free(c->new_token);
	tquic_mem_free(c->peer_pref);
	tquic_mem_free(c->close_reason);
	tquic_memzero_explicit(c, sizeof(*c));
	tquic_obj_free(TQUIC_OBJ_CONN, c);
}

/* Replaces *@dst (@dst_len bytes) with a heap copy of @src (tokens, the close reason). */
int tquic_conn_token_set(struct tquic_conn *c, u8 **dst, size_t *dst_len, const u8 *src,
			 size_t len)
{
	u8 *t = NULL;

	if (len) {
		t = tquic_mem_alloc(len, c->gfp);
		if (!t)
			return -ENOMEM;
		memcpy(t, src, len);
	}
	tquic_mem_free(*dst);
	*dst = t;
	*dst_len = len;
	return 0;
}

int tquic_conn_set_token(struct tquic_conn *c, const u8 *token, size_t len)
{
	if (c->is_server || len > TQUIC_TOKEN_MAX)
		return -EINVAL;
	return tquic_conn_token_set(c, &c->token, &c->token_len, token, len);
}

/* ---- keys ---- */

/* Server, compatible version negotiation: switch to @version before answering. */
int tquic_conn_switch_version(struct tquic_conn *c, u32 version)
{
	struct tquic_keys *cl, *sv;

	if (version == c->version)
		return 0;
	if (!c->is_server) {
		c->version = version;
		return tquic_conn_initial_keys(c, version);
	}
	if (c->tx[TQUIC_LEVEL_EARLY] || c->tx[TQUIC_LEVEL_HANDSHAKE] || c->tx[TQUIC_LEVEL_APP] ||
	    c->cs[TQUIC_PN_SPACE_INITIAL]->tx.send_off)
		return -EALREADY;
	if (initial_keys_new(c, version, &cl, &sv))
		return -ENOMEM;
	/* Keep receiving the original version's Initial packets. */
	tquic_conn_keys_free(&c->orig_initial_rx);
	c->orig_initial_rx = c->rx[TQUIC_LEVEL_INITIAL];
	tquic_conn_keys_free(&c->tx[TQUIC_LEVEL_INITIAL]);
	c->rx[TQUIC_LEVEL_INITIAL] = cl;
	c->tx[TQUIC_LEVEL_INITIAL] = sv;
	c->version = version;
	return 0;
}

int tquic_conn_install_secret(struct tquic_conn *c, enum tquic_level level,
			      bool write, u16 suite, const u8 *secret,
			      size_t secret_len, u64 now, unsigned int gfp)
{
	struct tquic_keys *k, **slot;
	int err;

	if ((unsigned int)level >= TQUIC_LEVEL_COUNT || level == TQUIC_LEVEL_INITIAL ||
	    secret_len > TQUIC_MAX_SECRET_LEN)
		return -EINVAL;
	c->now = now;
	c->gfp = gfp;
	slot = write ? &c->tx[level] : &c->rx[level];
	if (*slot)
		return -EEXIST;
	if (c->discarded[tquic_level_space(level)])
		return -ESTALE;
	k = tquic_mem_alloc(sizeof(*k), gfp);
	if (!k)
		return -ENOMEM;
	err = tquic_keys_init(k, c->version, (enum tquic_suite)suite, secret,
			      secret_len, gfp);
	if (err) {
		tquic_mem_free(k);
		return err;
	}
	*slot = k;
	if (level == TQUIC_LEVEL_APP && !write) {
		err = tquic_aead_keys_next(&k->pkt, &c->rx_next, gfp);
		if (err)
			return err;
		c->has_rx_next = true;
	}
	if (level == TQUIC_LEVEL_HANDSHAKE && c->tx[level] && c->rx[level])
		tquic_recovery_on_handshake_keys(&c->path->x->rec, now);
	if (level == TQUIC_LEVEL_EARLY && !write && c->is_server)
		c->early_keys = true;
	/* A client sends no more 0-RTT once it has 1-RTT keys (RFC 9001 4.9.3). */
	if (level == TQUIC_LEVEL_APP && write && !c->is_server)
		tquic_conn_keys_free(&c->tx[TQUIC_LEVEL_EARLY]);
	if (!write)
		tquic_conn_process_pending(c, (u8)level);
	return 0;
}

/* ---- CRYPTO ---- */

int tquic_conn_crypto_write(struct tquic_conn *c, enum tquic_level level,
			    const u8 *data, size_t len, unsigned int gfp)
{
	enum tquic_pn_space space;

	if ((unsigned int)level >= TQUIC_LEVEL_COUNT || level == TQUIC_LEVEL_EARLY)
		return -EINVAL;
	space = tquic_level_space(level);
	if (c->discarded[space])
		return -ESTALE;
	/* The ServerHello carries the held ACK of the client's Initials. */
	if (c->is_server && space == TQUIC_PN_SPACE_INITIAL)
		tquic_ackmgr_hold(&c->path->x->ack, space, 0);
	if (space == TQUIC_PN_SPACE_APP && crypto_app_unpark(c, gfp))
		return -ENOMEM;
	return tquic_crypto_stream_write(c->cs[space], data, len, gfp);
}

long tquic_conn_crypto_read(struct tquic_conn *c, enum tquic_level level,
			    u8 *dst, size_t cap)
{
	enum tquic_pn_space space;

	if ((unsigned int)level >= TQUIC_LEVEL_COUNT || level == TQUIC_LEVEL_EARLY)
		return -EINVAL;
	space = tquic_level_space(level);
	if (!c->cs[space])
		return 0;
	return (long)tquic_rbuf_read(&c->cs[space]->rx, dst, cap);
}

size_t tquic_conn_crypto_readable(const struct tquic_conn *c, enum tquic_level level)
{
	enum tquic_pn_space space;

	if ((unsigned int)level >= TQUIC_LEVEL_COUNT || level == TQUIC_LEVEL_EARLY)
		return 0;
	space = tquic_level_space(level);
	if (!c->cs[space])
		return 0;
	return (size_t)tquic_rbuf_readable(&c->cs[space]->rx);
}

/* ---- transport parameters ---- */

/* Server: the preferred_address offered, with the CID of sequence 1 (RFC 9000 18.2). */
static void local_tp_pref(struct tquic_conn *c, struct tquic_transport_params *tp)
{
	struct tquic_tp_preferred_address *pa = &tp->preferred_address;
	const struct tquic_lcid *l = tquic_cids_local_find(&c->cids, 0, 1);

	if (!config_offers_pref(&c->cfg) || !l)
		return;
	memset(pa, 0, sizeof(*pa));
	if (c->cfg.preferred_v4.family == TQUIC_ADDR_V4) {
		memcpy(pa->ipv4, c->cfg.preferred_v4.addr, sizeof(pa->ipv4));
		pa->ipv4_port = c->cfg.preferred_v4.port;
	}
	if (c->cfg.preferred_v6.family == TQUIC_ADDR_V6) {
		memcpy(pa->ipv6, c->cfg.preferred_v6.addr, sizeof(pa->ipv6));
		pa->ipv6_port = c->cfg.preferred_v6.port;
	}
	pa->cid.len = l->cid.len;
	memcpy(pa->cid.id, l->cid.id, l->cid.len);
	memcpy(pa->reset_token, l->token, sizeof(pa->reset_token));
	TQUIC_TP_SET(tp, TQUIC_TPB_PREFERRED_ADDRESS);
}

static void local_tp_fill(struct tquic_conn *c, struct tquic_transport_params *tp)
{
	u32 i;

	tquic_tp_init(tp);
	if (c->cfg.idle_timeout) {
		tp->max_idle_timeout = c->cfg.idle_timeout;
		TQUIC_TP_SET(tp, TQUIC_TPB_MAX_IDLE_TIMEOUT);
	}
	tp->max_udp_payload_size = 65527;
	tp->initial_max_data = c->cfg.limits.max_data;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_DATA);
	tp->initial_max_stream_data_bidi_local = c->cfg.limits.max_stream_data_bidi_local;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL);
	tp->initial_max_stream_data_bidi_remote = c->cfg.limits.max_stream_data_bidi_remote;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE);
	tp->initial_max_stream_data_uni = c->cfg.limits.max_stream_data_uni;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAM_DATA_UNI);
	tp->initial_max_streams_bidi = c->cfg.limits.max_streams_bidi;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAMS_BIDI);
	tp->initial_max_streams_uni = c->cfg.limits.max_streams_uni;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAMS_UNI);
	if (c->cfg.ack_delay_exponent != TQUIC_TP_DEFAULT_ACK_DELAY_EXPONENT) {
		tp->ack_delay_exponent = c->cfg.ack_delay_exponent;
		TQUIC_TP_SET(tp, TQUIC_TPB_ACK_DELAY_EXPONENT);
	}
	if (c->cfg.max_ack_delay != TQUIC_TP_DEFAULT_MAX_ACK_DELAY) {
		tp->max_ack_delay = c->cfg.max_ack_delay;
		TQUIC_TP_SET(tp, TQUIC_TPB_MAX_ACK_DELAY);
	}
	if (c->cfg.disable_active_migration)
		TQUIC_TP_SET(tp, TQUIC_TPB_DISABLE_ACTIVE_MIGRATION);
	tp->active_connection_id_limit = c->cfg.active_cid_limit;
	TQUIC_TP_SET(tp, TQUIC_TPB_ACTIVE_CONNECTION_ID_LIMIT);
	tp->initial_scid.len = c->scid_len;
	memcpy(tp->initial_scid.id, c->scid, c->scid_len);
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_SCID);
	if (c->is_server) {
		tp->original_dcid.len = c->odcid_len;
		memcpy(tp->original_dcid.id, c->odcid, c->odcid_len);
		TQUIC_TP_SET(tp, TQUIC_TPB_ORIGINAL_DCID);
		if (c->retried) {
			tp->retry_scid.len = c->retry_scid_len;
			memcpy(tp->retry_scid.id, c->retry_scid, c->retry_scid_len);
			TQUIC_TP_SET(tp, TQUIC_TPB_RETRY_SCID);
		}
		if (c->scid_len) {
			tquic_reset_token(c->cfg.reset_key, c->scid, c->scid_len,
					  tp->stateless_reset_token);
			TQUIC_TP_SET(tp, TQUIC_TPB_STATELESS_RESET_TOKEN);
		}
		local_tp_pref(c, tp);
	}
	if (c->cfg.max_datagram_frame_size) {
		tp->max_datagram_frame_size = c->cfg.max_datagram_frame_size;
		TQUIC_TP_SET(tp, TQUIC_TPB_MAX_DATAGRAM_FRAME_SIZE);
	}
	if (c->cfg.reset_stream_at)
		TQUIC_TP_SET(tp, TQUIC_TPB_RESET_STREAM_AT);
	tp->version_info.chosen = c->version;
	for (i = 0; i < c->cfg.n_versions; i++)
		tp->version_info.available[i] = c->cfg.versions[i];
	tp->version_info.n_available = c->cfg.n_versions;
	TQUIC_TP_SET(tp, TQUIC_TPB_VERSION_INFORMATION);
}

long tquic_conn_local_tparams(struct tquic_conn *c, u8 *buf, size_t cap)
{
	struct tquic_transport_params *tp;
	struct tquic_wbuf w;
	int n;

	tp = tquic_mem_alloc(sizeof(*tp), c->gfp);
	if (!tp)
		return -ENOMEM;
	local_tp_fill(c, tp);
	tquic_wbuf_init(&w, buf, cap);
	n = tquic_tp_encode(&w, tp, c->is_server, NULL);
	tquic_mem_free(tp);
	return n;
}

/* ---- 0-RTT transport parameters (RFC 9000 7.4.1) ---- */

/* The limits 0-RTT data is sent under, as kept by a client. */
struct zrtt_params {
	struct tquic_stream_limits lim;
	u64 cid_limit;
	u64 max_dgram;			/* 0: DATAGRAM not offered */
};

static void zrtt_from_tp(struct zrtt_params *z, const struct tquic_transport_params *tp)
{
	z->lim.max_data = tp->initial_max_data;
	z->lim.max_stream_data_bidi_local = tp->initial_max_stream_data_bidi_local;
	z->lim.max_stream_data_bidi_remote = tp->initial_max_stream_data_bidi_remote;
	z->lim.max_stream_data_uni = tp->initial_max_stream_data_uni;
	z->lim.max_streams_bidi = tp->initial_max_streams_bidi;
	z->lim.max_streams_uni = tp->initial_max_streams_uni;
	z->cid_limit = tp->active_connection_id_limit;
	z->max_dgram = TQUIC_TP_HAS(tp, TQUIC_TPB_MAX_DATAGRAM_FRAME_SIZE) ?
		       tp->max_datagram_frame_size : 0;
}

/* Whether @tp sets a limit below the remembered @z (RFC 9000 7.4.1). */
static bool zrtt_reduced(const struct zrtt_params *z, const struct tquic_transport_params *tp)
{
	struct zrtt_params n;

	zrtt_from_tp(&n, tp);
	return n.lim.max_data < z->lim.max_data ||
	       n.lim.max_stream_data_bidi_local < z->lim.max_stream_data_bidi_local ||
	       n.lim.max_stream_data_bidi_remote < z->lim.max_stream_data_bidi_remote ||
	       n.lim.max_stream_data_uni < z->lim.max_stream_data_uni ||
	       n.lim.max_streams_bidi < z->lim.max_streams_bidi ||
	       n.lim.max_streams_uni < z->lim.max_streams_uni ||
	       n.cid_limit < z->cid_limit || n.max_dgram < z->max_dgram;
}

long tquic_conn_zero_rtt_tparams(struct tquic_conn *c, u8 *buf, size_t cap)
{
	struct tquic_transport_params *tp;
	struct zrtt_params z;
	struct tquic_wbuf w;
	int n;

	if (!c->is_server && !c->has_peer_tp)
		return -EINVAL;
	tp = tquic_mem_alloc(sizeof(*tp), c->gfp);
	if (!tp)
		return -ENOMEM;
	if (c->is_server) {
		local_tp_fill(c, tp);
		zrtt_from_tp(&z, tp);
	} else {
		z.lim = c->zrtt_lim;
		z.cid_limit = c->zrtt_cid_limit;
		z.max_dgram = c->zrtt_max_dgram;
	}
	tquic_tp_init(tp);
	tp->initial_max_data = z.lim.max_data;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_DATA);
	tp->initial_max_stream_data_bidi_local = z.lim.max_stream_data_bidi_local;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL);
	tp->initial_max_stream_data_bidi_remote = z.lim.max_stream_data_bidi_remote;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE);
	tp->initial_max_stream_data_uni = z.lim.max_stream_data_uni;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAM_DATA_UNI);
	tp->initial_max_streams_bidi = z.lim.max_streams_bidi;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAMS_BIDI);
	tp->initial_max_streams_uni = z.lim.max_streams_uni;
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_MAX_STREAMS_UNI);
	tp->active_connection_id_limit = z.cid_limit;
	TQUIC_TP_SET(tp, TQUIC_TPB_ACTIVE_CONNECTION_ID_LIMIT);
	if (z.max_dgram) {
		tp->max_datagram_frame_size = z.max_dgram;
		TQUIC_TP_SET(tp, TQUIC_TPB_MAX_DATAGRAM_FRAME_SIZE);
	}
	/* An empty initial_source_connection_id keeps the encoding decodable. */
	TQUIC_TP_SET(tp, TQUIC_TPB_INITIAL_SCID);
	tquic_wbuf_init(&w, buf, cap);
	n = tquic_tp_encode(&w, tp, false, NULL);
	tquic_mem_free(tp);
	return n;
}

int tquic_conn_set_zero_rtt_tparams(struct tquic_conn *c, const u8 *b, size_t len)
{
	struct tquic_transport_params *tp;
	struct zrtt_params z;
	int err;

	if (!c->is_server && (c->has_peer_tp || c->zrtt_tp_set || c->early_sent))
		return -EINVAL;
	tp = tquic_mem_alloc(sizeof(*tp), c->gfp);
	if (!tp)
		return -ENOMEM;
	err = tquic_tp_decode(b, len, false, tp, NULL) ? -EINVAL : 0;
	if (!err)
		zrtt_from_tp(&z, tp);
	if (!err && c->is_server) {
		local_tp_fill(c, tp);
		err = zrtt_reduced(&z, tp) ? -ESTALE : 0;
	} else if (!err) {
		c->zrtt_lim = z.lim;
		c->zrtt_cid_limit = z.cid_limit;
		c->zrtt_max_dgram = z.max_dgram;
		c->zrtt_tp_set = true;
		tquic_streams_set_peer_limits(&c->streams, &z.lim);
		c->streams_limit_seen[0] = c->streams.type[0].local_limit;
		c->streams_limit_seen[1] = c->streams.type[1].local_limit;
		c->peer_max_dgram = z.max_dgram;
		tquic_cids_set_peer_limit(&c->cids, z.cid_limit);
	}
	tquic_mem_free(tp);
	return err;
}

bool tquic_conn_early_data_accepted(const struct tquic_conn *c)
{
	if (c->is_server)
		return c->early_keys;
	return c->early_sent && !c->early_rejected && c->handshake_complete;
}

static bool tp_cid_eq(const struct tquic_tp_cid *a, const u8 *id, u8 len)
{
	return a->len == len && !memcmp(a->id, id, len);
}

static bool vi_lists(const struct tquic_tp_version_info *vi, u32 v)
{
	u32 i;

	for (i = 0; i < vi->n_available && i < TQUIC_TP_MAX_VERSIONS; i++)
		if (vi->available[i] == v)
			return true;
	return false;
}

/* RFC 9368: checks version_information and, on a server, picks the version. */
static int tp_versions(struct tquic_conn *c, const struct tquic_transport_params *tp)
{
	const struct tquic_tp_version_info *vi = &tp->version_info;
	u32 i;

	if (!TQUIC_TP_HAS(tp, TQUIC_TPB_VERSION_INFORMATION)) {
		if (c->version != c->orig_version)
			return TQUIC_ERR_VERSION_NEGOTIATION_ERROR;
		return 0;
	}
	if (c->is_server) {
		if (vi->chosen != c->orig_version)
			return TQUIC_ERR_VERSION_NEGOTIATION_ERROR;
		for (i = 0; i < c->cfg.n_versions; i++) {
			u32 v = c->cfg.versions[i];

			if (v == c->orig_version || vi_lists(vi, v))
				return tquic_conn_switch_version(c, v) ? TQUIC_ERR_INTERNAL_ERROR : 0;
		}
		return 0;
	}
	if (vi->chosen != c->version || !tquic_conn_version_spoken(&c->cfg, vi->chosen))
		return TQUIC_ERR_VERSION_NEGOTIATION_ERROR;
	return 0;
}

static int tp_check_cids(struct tquic_conn *c, const struct tquic_transport_params *tp)
{
	if (!tp_cid_eq(&tp->initial_scid, c->peer_scid, c->peer_scid_len))
		return TQUIC_ERR_TRANSPORT_PARAMETER_ERROR;
	if (c->is_server)
		return 0;
	if (!tp_cid_eq(&tp->original_dcid, c->odcid, c->odcid_len))
		return TQUIC_ERR_TRANSPORT_PARAMETER_ERROR;
	if (c->retried != !!TQUIC_TP_HAS(tp, TQUIC_TPB_RETRY_SCID))
		return TQUIC_ERR_TRANSPORT_PARAMETER_ERROR;
	if (c->retried && !tp_cid_eq(&tp->retry_scid, c->retry_scid, c->retry_scid_len))
		return TQUIC_ERR_TRANSPORT_PARAMETER_ERROR;
	return 0;
}

/*
 * Client: the server's preferred_address (RFC 9000 9.6, 18.2).  Its CID is
 * sequence 1 whether or not the client moves there.
 */
static int tp_pref(struct tquic_conn *c, const struct tquic_tp_preferred_address *pa)
{
	struct tquic_cid cid;
	int err;

	/* A server using zero-length CIDs must not offer one. */
	if (c->cids.peer_zero_len || !pa->cid.len)
		return TQUIC_ERR_TRANSPORT_PARAMETER_ERROR;
	cid.len = pa->cid.len;
	memcpy(cid.id, pa->cid.id, pa->cid.len);
	err = tquic_cids_peer_add(&c->cids, 0, 1, &cid, pa->reset_token, c->gfp);
	if (err > 0)
		return TQUIC_ERR_TRANSPORT_PARAMETER_ERROR;
	if (err < 0)
		return err;
	if (c->cfg.disable_preferred_address)
		return 0;
	c->peer_pref = tquic_mem_alloc(sizeof(*pa), c->gfp);
	if (!c->peer_pref)
		return -ENOMEM;
	*c->peer_pref = *pa;
	c->pref_state = TQUIC_PREF_OFFERED;
	return 0;
}

static int tp_apply(struct tquic_conn *c, const struct tquic_transport_params *tp)
{
	struct tquic_path_xmit *x = c->path->x;
	struct tquic_stream_limits lim;
	struct tquic_path *p = c->path;
	struct zrtt_params z;

	lim.max_data = tp->initial_max_data;
	lim.max_stream_data_bidi_local = tp->initial_max_stream_data_bidi_local;
	lim.max_stream_data_bidi_remote = tp->initial_max_stream_data_bidi_remote;
	lim.max_stream_data_uni = tp->initial_max_stream_data_uni;
	lim.max_streams_bidi = tp->initial_max_streams_bidi;
	lim.max_streams_uni = tp->initial_max_streams_uni;
	tquic_streams_set_peer_limits(&c->streams, &lim);
	c->streams_limit_seen[0] = c->streams.type[0].local_limit;
	c->streams_limit_seen[1] = c->streams.type[1].local_limit;
	tquic_rtt_set_max_ack_delay(&x->rtt, tp->max_ack_delay * TQUIC_NSEC_PER_MSEC);
	tquic_recovery_set_peer_ack_delay_exponent(&x->rec, (u8)tp->ack_delay_exponent);
	if (tp->max_idle_timeout &&
	    (!c->idle_timeout || tp->max_idle_timeout * TQUIC_NSEC_PER_MSEC < c->idle_timeout))
		c->idle_timeout = tp->max_idle_timeout * TQUIC_NSEC_PER_MSEC;
	c->peer_max_dgram = TQUIC_TP_HAS(tp, TQUIC_TPB_MAX_DATAGRAM_FRAME_SIZE) ?
			    tp->max_datagram_frame_size : 0;
	if (c->zrtt_tp_set) {
		z.lim = c->zrtt_lim;
		z.cid_limit = c->zrtt_cid_limit;
		z.max_dgram = c->zrtt_max_dgram;
		c->zrtt_reduced = zrtt_reduced(&z, tp);
	}
	zrtt_from_tp(&z, tp);
	c->zrtt_lim = z.lim;
	c->zrtt_cid_limit = z.cid_limit;
	c->zrtt_max_dgram = z.max_dgram;
	c->peer_no_migration = TQUIC_TP_HAS(tp, TQUIC_TPB_DISABLE_ACTIVE_MIGRATION);
	tquic_cids_set_peer_limit(&c->cids, tp->active_connection_id_limit);
	tquic_path_set_peer_max_udp_payload(p, tp->max_udp_payload_size);
	if (p->mtu < p->mtu_max) {
		/* No probing: the configured size is the host's word for the path. */
		tquic_path_set_mtu(p, p->mtu_max);
		tquic_conn_path_mtu_changed(p);
	}
	if (c->is_server)
		return 0;
	if (TQUIC_TP_HAS(tp, TQUIC_TPB_STATELESS_RESET_TOKEN))
		tquic_cids_peer_set_token(&c->cids, 0, 0, tp->stateless_reset_token);
	if (TQUIC_TP_HAS(tp, TQUIC_TPB_PREFERRED_ADDRESS))
		return tp_pref(c, &tp->preferred_address);
	return 0;
}

int tquic_conn_set_peer_tparams(struct tquic_conn *c, const u8 *b, size_t len, u64 now)
{
	struct tquic_transport_params *tp;
	int err;

	c->now = now;
	if (c->has_peer_tp)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	tp = tquic_mem_alloc(sizeof(*tp), c->gfp);
	if (!tp)
		return -ENOMEM;
	err = tquic_tp_decode(b, len, !c->is_server, tp, NULL);
	if (!err)
		err = tp_check_cids(c, tp);
	if (!err)
		err = tp_versions(c, tp);
	if (!err) {
		c->has_peer_tp = true;
		err = tp_apply(c, tp);
	}
	tquic_mem_free(tp);
	if (err > 0)
		tquic_conn_enter_closing(c, 0, (u64)err, TQUIC_FT_CRYPTO, NULL, 0);
	return err;
}

/* ---- handshake progress ---- */

/* Drops the undecryptable packets kept for @level. */
static void drop_pending_level(struct tquic_conn *c, u8 level)
{
	u32 i, j;

	for (i = 0, j = 0; i < c->n_pending; i++) {
		if (c->pending[i].level == level)
			tquic_buf_put(c->pending[i].buf);
		else
			c->pending[j++] = c->pending[i];
	}
	c->n_pending = j;
}

void tquic_conn_discard_space(struct tquic_conn *c, enum tquic_pn_space space)
{
	u8 level = space == TQUIC_PN_SPACE_INITIAL ? TQUIC_LEVEL_INITIAL : TQUIC_LEVEL_HANDSHAKE;

	if (space == TQUIC_PN_SPACE_APP || c->discarded[space])
		return;
	c->discarded[space] = true;
	tquic_recovery_discard_space(&c->path->x->rec, space, c->now);
	tquic_ackmgr_discard(&c->path->x->ack, space);
	crypto_stream_free(&c->cs[space]);
	tquic_conn_keys_free(&c->rx[level]);
	tquic_conn_keys_free(&c->tx[level]);
	if (space == TQUIC_PN_SPACE_INITIAL) {
		tquic_conn_keys_free(&c->orig_initial_rx);
		tquic_conn_token_set(c, &c->token, &c->token_len, NULL, 0);
	}
	drop_pending_level(c, level);
}

/* Issues NEW_CONNECTION_IDs up to the peer's active_connection_id_limit (and ours). */
int tquic_conn_issue_cids(struct tquic_conn *c)
{
	int n;

	if (!c->cfg.cid_len)
		return 0;
	n = tquic_cids_local_issue(&c->cids, 0, c->gfp);
	return n < 0 ? n : 0;
}

void tquic_conn_confirm_handshake(struct tquic_conn *c)
{
	if (c->handshake_confirmed)
		return;
	c->handshake_confirmed = true;
	c->state = TQUIC_CONN_ESTABLISHED;
	tquic_recovery_on_handshake_confirmed(&c->path->x->rec, c->now);
	tquic_conn_discard_space(c, TQUIC_PN_SPACE_INITIAL);
	tquic_conn_discard_space(c, TQUIC_PN_SPACE_HANDSHAKE);
	tquic_conn_issue_cids(c);
	if (c->is_server && c->cfg.new_token) {
		u8 *t = tquic_mem_alloc(TQUIC_TOKEN_MAX, c->gfp);
		long n = t ? tquic_token_make(c->cfg.reset_key, false, &c->path->peer, NULL, 0,
					      c->now, t, TQUIC_TOKEN_MAX) : -ENOMEM;

		if (n > 0) {
			tquic_mem_free(c->new_token);
			c->new_token = t;
			c->new_token_len = (size_t)n;
			c->new_token_pending = true;
		} else {
			tquic_mem_free(t);
		}
	}
	if (c->pref_state == TQUIC_PREF_OFFERED)
		pref_start(c);
	tquic_conn_event(c, TQUIC_EV_HANDSHAKE_DONE, 0, 0, 0, NULL, 0);
}

void tquic_conn_handshake_complete(struct tquic_conn *c, u64 now)
{
	c->now = now;
	if (c->handshake_complete || tquic_conn_closed(c))
		return;
	c->handshake_complete = true;
	c->state = TQUIC_CONN_ESTABLISHED;
	if (c->is_server) {
		c->handshake_done_pending = true;
		tquic_conn_confirm_handshake(c);
		if (!c->early_keys)
			drop_pending_level(c, TQUIC_LEVEL_EARLY);
		return;
	}
	/* A server that accepted 0-RTT keeps the limits it was sent under (RFC 9000 7.4.1). */
	if (c->early_sent && !c->early_rejected && c->zrtt_reduced)
		tquic_conn_enter_closing(c, 0, TQUIC_ERR_PROTOCOL_VIOLATION, TQUIC_FT_CRYPTO,
					 NULL, 0);
}

void tquic_conn_early_data_rejected(struct tquic_conn *c, u64 now)
{
	c->now = now;
	/*
	 * A server that rejected 0-RTT never acknowledges those packets:
	 * they leave the flight now and their data is sent again in 1-RTT
	 * packets once the keys are there.
	 */
	u64 lost = c->stats.pkts_lost;

	if (c->is_server || c->early_rejected)
		return;
	c->early_rejected = true;
	tquic_conn_keys_free(&c->tx[TQUIC_LEVEL_EARLY]);
	if (!c->early_sent)
		return;
	/* Nothing waits for their acknowledgment: the data goes again in 1-RTT. */
	c->stats.early_requeued += tquic_recovery_requeue_upto(&c->path->x->rec, TQUIC_PN_SPACE_APP,
							      c->early_pn_max, now);
	c->stats.pkts_lost = lost;
	/*
	 * Data already sent under remembered limits the server's new
	 * parameters no longer allow cannot be sent again: give up rather
	 * than violate them (the host may reconnect).
	 */
	if (c->zrtt_reduced)
		tquic_conn_enter_closing(c, 0, TQUIC_ERR_INTERNAL_ERROR, 0, NULL, 0);
}

/* ---- close ---- */

u64 tquic_conn_pto(const struct tquic_conn *c)
{
	return tquic_rtt_pto(&c->path->x->rtt, true, 0);
}

static void set_close(struct tquic_conn *c, u32 flags, u64 code, u64 frame_type,
		      const u8 *reason, size_t reason_len)
{
	c->close_flags = flags;
	c->close_code = code;
	c->close_frame_type = frame_type;
	if (!reason)
		reason_len = 0;
	if (reason_len > TQUIC_CONN_REASON_MAX)
		reason_len = TQUIC_CONN_REASON_MAX;
	/* Without memory the reason is left out: it is informational. */
	if (tquic_conn_token_set(c, &c->close_reason, &c->close_reason_len, reason, reason_len))
		tquic_conn_token_set(c, &c->close_reason, &c->close_reason_len, NULL, 0);
	c->close_deadline = c->now + 3 * tquic_conn_pto(c);
	tquic_conn_event(c, TQUIC_EV_CLOSED, flags, 0, code, NULL, 0);
}

void tquic_conn_enter_closing(struct tquic_conn *c, u32 flags, u64 code,
			      u64 frame_type, const u8 *reason, size_t reason_len)
{
	if (tquic_conn_closed(c))
		return;
	c->state = TQUIC_CONN_CLOSING;
	c->close_send = true;
	set_close(c, flags, code, frame_type, reason, reason_len);
}

void tquic_conn_enter_draining(struct tquic_conn *c, u32 flags, u64 code,
			       u64 frame_type, const u8 *reason, size_t reason_len)
{
	if (c->state == TQUIC_CONN_CLOSING) {
		/* The peer's close ends our closing period early (RFC 9000 10.2.2). */
		c->state = TQUIC_CONN_DRAINING;
		c->close_send = false;
		return;
	}
	if (tquic_conn_closed(c))
		return;
	c->state = TQUIC_CONN_DRAINING;
	set_close(c, flags, code, frame_type, reason, reason_len);
}

static void conn_drained(struct tquic_conn *c)
{
	if (c->state == TQUIC_CONN_DRAINED)
		return;
	c->state = TQUIC_CONN_DRAINED;
	c->close_send = false;
	tquic_conn_release_pending(c);
	tquic_conn_event(c, TQUIC_EV_DRAINED, c->close_flags, 0, c->close_code, NULL, 0);
}

int tquic_conn_close(struct tquic_conn *c, bool app, u64 code,
		     const u8 *reason, size_t reason_len, u64 now)
{
	c->now = max_u64(c->now, now);
	if (tquic_conn_closed(c))
		return -EALREADY;
	if (code > TQUIC_VARINT_MAX)
		return -EINVAL;
	tquic_conn_enter_closing(c, app ? TQUIC_CLOSE_F_APP : 0, code, 0, reason, reason_len);
	return 0;
}

void tquic_conn_tls_alert(struct tquic_conn *c, u8 alert, u64 now)
{
	c->now = max_u64(c->now, now);
	tquic_conn_enter_closing(c, TQUIC_CLOSE_F_HANDSHAKE,
				 TQUIC_ERR_CRYPTO_ERROR_BASE + alert, TQUIC_FT_CRYPTO, NULL, 0);
}

bool tquic_conn_close_info(const struct tquic_conn *c, struct tquic_close_info *ci)
{
	if (!tquic_conn_closed(c))
		return false;
	ci->flags = c->close_flags;
	ci->code = c->close_code;
	ci->frame_type = c->close_frame_type;
	ci->reason = c->close_reason;
	ci->reason_len = c->close_reason_len;
	return true;
}

bool tquic_conn_is_drained(const struct tquic_conn *c)
{
	return c->state == TQUIC_CONN_DRAINED;
}

/* ---- timers ---- */

static u64 idle_deadline(const struct tquic_conn *c)
{
	if (!c->idle_timeout)
		return TQUIC_TIME_NONE;
	return c->idle_start + max_u64(c->idle_timeout, 3 * tquic_conn_pto(c));
}

/* ---- idle ---- */

/*
 * A connection without packets in or out for this long frees what it can
 * rebuild: the crypto objects of its keys (several KiB of transforms per
 * connection; the key material stays), its sent-packet records once none
 * is in flight, its send scratch, its empty event ring and pending-packet
 * slots, and its 1-RTT CRYPTO stream once that holds nothing.  The next
 * packet unparks it.
 */
#define TQUIC_CONN_PARK_NS	1000000000ULL

static u64 park_deadline(const struct tquic_conn *c)
{
	if (c->parked || !c->handshake_confirmed || tquic_conn_closed(c))
		return TQUIC_TIME_NONE;
	return c->active_at + TQUIC_CONN_PARK_NS;
}

static void conn_park(struct tquic_conn *c)
{
	u8 l;

	for (l = 0; l < TQUIC_LEVEL_COUNT; l++) {
		if (c->rx[l])
			tquic_keys_park(c->rx[l]);
		if (c->tx[l])
			tquic_keys_park(c->tx[l]);
	}
	if (c->has_rx_next)
		tquic_aead_keys_park(&c->rx_next);
	if (c->has_rx_prev)
		tquic_aead_keys_park(&c->rx_prev);
	tquic_recovery_trim(&c->path->x->rec);
	tquic_mem_free(c->scratch);
	c->scratch = NULL;
	c->pkts = NULL;
	if (!c->n_pending)
		tquic_conn_release_pending(c);
	if (!c->ev_len) {
		tquic_mem_free(c->ev);
		c->ev = NULL;
		c->ev_cap = 0;
		c->ev_head = 0;
	}
	/* Past the NewSessionTicket it is its two offsets. */
	if (tquic_crypto_stream_idle(c->cs[TQUIC_PN_SPACE_APP])) {
		c->cs_app_rx_off = c->cs[TQUIC_PN_SPACE_APP]->rx.read_off;
		c->cs_app_tx_off = c->cs[TQUIC_PN_SPACE_APP]->tx.write_off;
		crypto_stream_free(&c->cs[TQUIC_PN_SPACE_APP]);
	}
	c->parked = true;
}

/*
 * Rebuilds every parked key, all directions and phases at once so that the
 * time a packet takes does not depend on its key phase.  Keys that failed
 * stay parked and the caller drops its packet (or sends nothing).
 */
int tquic_conn_unpark(struct tquic_conn *c)
{
	int err = 0;
	u8 l;

	if (!c->parked)
		return 0;
	err = crypto_app_unpark(c, c->gfp);
	for (l = 0; l < TQUIC_LEVEL_COUNT && !err; l++) {
		if (c->rx[l])
			err = tquic_keys_unpark(c->rx[l], c->gfp);
		if (!err && c->tx[l])
			err = tquic_keys_unpark(c->tx[l], c->gfp);
	}
	if (!err && c->has_rx_next)
		err = tquic_aead_keys_unpark(&c->rx_next, c->gfp);
	if (!err && c->has_rx_prev)
		err = tquic_aead_keys_unpark(&c->rx_prev, c->gfp);
	if (err)
		return err;
	c->parked = false;
	/* Rebuilt keys are kept a while even if no packet comes of it. */
	c->active_at = c->now;
	return 0;
}

u64 tquic_conn_next_deadline(const struct tquic_conn *c)
{
	const struct tquic_path *p;
	u64 t;

	if (c->state == TQUIC_CONN_DRAINED)
		return TQUIC_TIME_NONE;
	if (tquic_conn_closed(c))
		return c->close_deadline;
	t = min_u64(tquic_recovery_deadline(&c->path->x->rec),
		    tquic_ackmgr_deadline(&c->path->x->ack));
	t = min_u64(t, idle_deadline(c));
	t = min_u64(t, c->pacer_wait);
	if (c->has_rx_prev)
		t = min_u64(t, c->rx_prev_expiry);
	t = min_u64(t, park_deadline(c));
	tquic_list_for_each_entry(p, &c->paths, node) {
		u64 d = tquic_path_deadline(p);

		/* Path timers are in microseconds. */
		if (d)
			t = min_u64(t, d * 1000);
	}
	return t;
}

/* ---- migration ---- */

int tquic_conn_migrate(struct tquic_conn *c, const struct tquic_addr *local, u64 now)
{
	c->now = max_u64(c->now, now);
	if (c->is_server || !c->handshake_confirmed || tquic_conn_closed(c))
		return -EINVAL;
	if (c->peer_no_migration)
		return -EPERM;
	if (local)
		c->path->local = *local;
	/* A new local address uses a new peer CID (RFC 9000 9.5), when one is left. */
	tquic_conn_path_new_dcid(c, c->path);
	tquic_recovery_reset_cc(&c->path->x->rec, c->now);
	tquic_conn_path_validate(c, c->path);
	c->stats.peer_migrations++;
	return 0;
}

static void path_timers(struct tquic_conn *c, u64 now)
{
	struct tquic_path *p, *n;

	tquic_list_for_each_entry_safe(p, n, &c->paths, node) {
		if (!tquic_path_deadline(p) ||
		    tquic_path_on_timer(p, tquic_ns_to_us(now)) != TQUIC_PATH_EV_FAILED)
			continue;
		if (p != c->path) {
			/* A probed address never answered (the preferred one: stay). */
			tquic_conn_path_free(c, p);
			continue;
		}
		/* The active path's new peer address failed validation (RFC 9000 9.3.2). */
		if (!tquic_path_revert_peer(p))
			continue;
		tquic_conn_path_mtu_changed(p);
		tquic_recovery_set_amp_blocked(&p->x->rec, false, c->now);
		c->stats.path_reverts++;
		tquic_conn_event(c, TQUIC_EV_PEER_MIGRATED, 0, p->id, 0, NULL, 0);
	}
}

/* Marks every unacknowledged CRYPTO byte of @space for retransmission. */
static void requeue_crypto(struct tquic_conn *c, enum tquic_pn_space space)
{
	struct tquic_crypto_stream *cs = c->cs[space];
	struct tquic_stream_sent rec;

	if (!cs || cs->tx.send_off <= cs->tx.acked_off)
		return;
	rec.id = 0;
	rec.off = cs->tx.acked_off;
	rec.len = cs->tx.send_off - cs->tx.acked_off;
	rec.fin = false;
	tquic_crypto_stream_on_lost(cs, &rec);
}

/*
 * A PTO fired in @space: the probes carry the content of the oldest
 * packets still in flight (RFC 9002 6.2.4) when nothing new is waiting.
 * The packets stay in flight; acknowledgments of either copy are fine.
 */
static void requeue_oldest(struct tquic_conn *c, enum tquic_pn_space space, u32 max)
{
	const struct tquic_pn_space_state *sp = tquic_recovery_space(&c->path->x->rec, space);
	const struct tquic_sent_ring *ring = sp ? &sp->ring : NULL;
	u32 i, done = 0;

	for (i = 0; ring && i < ring->len && done < max; i++) {
		const struct tquic_sent_pkt *pkt = &ring->pkts[(ring->head + i) & (ring->cap - 1)];
		const struct tquic_sent_frames *sf = pkt->frames;

		if (!(pkt->flags & TQUIC_SENT_ACK_ELICITING) ||
		    (pkt->flags & (TQUIC_SENT_ACKED | TQUIC_SENT_LOST)) || !sf)
			continue;
		tquic_conn_sent_entries(c, sf->e, sf->n, false);
		done++;
	}
}

void tquic_conn_on_timeout(struct tquic_conn *c, u64 now)
{
	enum tquic_pn_space space;
	int r;

	c->now = max_u64(c->now, now);
	now = c->now;
	if (c->state == TQUIC_CONN_DRAINED)
		return;
	if (tquic_conn_closed(c)) {
		if (now >= c->close_deadline)
			conn_drained(c);
		return;
	}
	if (now >= idle_deadline(c)) {
		c->close_flags = TQUIC_CLOSE_F_IDLE |
				 (c->handshake_complete ? 0 : TQUIC_CLOSE_F_HANDSHAKE);
		c->close_code = 0;
		tquic_conn_event(c, TQUIC_EV_CLOSED, c->close_flags, 0, 0, NULL, 0);
		conn_drained(c);
		return;
	}
	if (c->has_rx_prev && now >= c->rx_prev_expiry) {
		tquic_aead_keys_destroy(&c->rx_prev);
		c->has_rx_prev = false;
		c->rx_prev_expiry = TQUIC_TIME_NONE;
	}
	if (now >= c->pacer_wait)
		c->pacer_wait = TQUIC_TIME_NONE;
	if (now >= park_deadline(c))
		conn_park(c);
	path_timers(c, now);
	r = tquic_recovery_on_timeout(&c->path->x->rec, now);
	if (r == TQUIC_TIMER_PTO && tquic_recovery_probes(&c->path->x->rec, &space)) {
		if (space != TQUIC_PN_SPACE_APP) {
			requeue_crypto(c, space);
		} else {
			if (!c->handshake_confirmed) {
				requeue_crypto(c, TQUIC_PN_SPACE_INITIAL);
				requeue_crypto(c, TQUIC_PN_SPACE_HANDSHAKE);
			}
			requeue_oldest(c, space, 2);
		}
	}
}

/* ---- key update ---- */

/*
 * The next 1-RTT keys (RFC 9001 6.1).  With @c->ku_compat the next secret
 * of a QUIC v2 connection is derived with the v1 label "quic ku", as
 * quic-go does, instead of RFC 9369's "quicv2 ku"; the mode is only
 * entered after the peer's own key update proved it derives that way.
 */
int tquic_conn_keys_next(struct tquic_conn *c, const struct tquic_aead_keys *cur,
			 struct tquic_aead_keys *next)
{
	u8 secret[TQUIC_MAX_SECRET_LEN];
	int err;

	if (!c->ku_compat)
		return tquic_aead_keys_next(cur, next, c->gfp);
	err = tquic_hkdf_expand_label(tquic_suite_hash((enum tquic_suite)cur->suite),
				      cur->secret, cur->secret_len, "quic ku", NULL, 0,
				      secret, cur->secret_len);
	if (!err)
		err = tquic_aead_keys_init(next, cur->version, (enum tquic_suite)cur->suite,
					   secret, cur->secret_len, c->gfp);
	tquic_memzero_explicit(secret, sizeof(secret));
	return err;
}

int tquic_conn_key_update(struct tquic_conn *c, u64 now)
{
	struct tquic_aead_keys next;
	int err;

	c->now = max_u64(c->now, now);
	if (!c->handshake_confirmed || !c->tx[TQUIC_LEVEL_APP] ||
	    !c->tx_phase_acked || tquic_conn_closed(c))
		return -EAGAIN;
	/* Our previous update must have been answered (RFC 9001 6.5). */
	if (c->tx_phase != c->rx_phase)
		return -EAGAIN;
	err = tquic_conn_unpark(c);
	if (err)
		return err;
	err = tquic_conn_keys_next(c, &c->tx[TQUIC_LEVEL_APP]->pkt, &next);
	if (err)
		return err;
	tquic_aead_keys_destroy(&c->tx[TQUIC_LEVEL_APP]->pkt);
	c->tx[TQUIC_LEVEL_APP]->pkt = next;
	c->tx_phase ^= 1;
	c->tx_phase_first_pn = c->path->x->next_pn[TQUIC_PN_SPACE_APP];
	c->tx_phase_acked = false;
	c->pkts_in_phase = 0;
	c->key_updates++;
	tquic_conn_event(c, TQUIC_EV_KEY_UPDATE, 0, c->tx_phase, 0, NULL, 0);
	return 0;
}

/* ---- streams ---- */

static struct tquic_stream *conn_stream(struct tquic_conn *c, u64 id)
{
	tquic_streams_set_now(&c->streams, tquic_ns_to_us(c->now));
	return tquic_streams_find(&c->streams, id);
}

int tquic_conn_stream_open(struct tquic_conn *c, bool uni, u64 *id, unsigned int gfp)
{
	struct tquic_stream *st;
	int err;

	if (tquic_conn_closed(c))
		return -ENOTCONN;
	err = tquic_streams_open(&c->streams, uni, gfp, &st);
	if (err)
		return err;
	*id = st->id;
	return 0;
}

bool tquic_conn_stream_accept(struct tquic_conn *c, u64 *id)
{
	struct tquic_stream *st = tquic_streams_accept(&c->streams);

	if (!st)
		return false;
	*id = st->id;
	return true;
}

long tquic_conn_stream_write(struct tquic_conn *c, u64 id, const u8 *data,
			     size_t len, bool fin, unsigned int gfp)
{
	struct tquic_stream *st;
	size_t written = 0;
	int err;

	if (tquic_conn_closed(c))
		return -ENOTCONN;
	st = conn_stream(c, id);
	if (!st)
		return -ENOENT;
	err = tquic_stream_write(&c->streams, st, data, len, fin, &written, gfp);
	if (err)
		return err;
	return (long)written;
}

int tquic_conn_stream_write_buf(struct tquic_conn *c, u64 id,
				struct tquic_buf *b, size_t boff, size_t len,
				bool fin, unsigned int gfp)
{
	struct tquic_stream *st;

	if (tquic_conn_closed(c))
		return -ENOTCONN;
	st = conn_stream(c, id);
	if (!st)
		return -ENOENT;
	return tquic_stream_write_buf(&c->streams, st, b, boff, len, fin, gfp);
}

u64 tquic_conn_stream_send_space(struct tquic_conn *c, u64 id)
{
	struct tquic_stream *st = conn_stream(c, id);

	return st ? tquic_sbuf_space(&st->tx) : 0;
}

long tquic_conn_stream_read(struct tquic_conn *c, u64 id, u8 *dst, size_t cap,
			    bool *fin, u64 *code)
{
	struct tquic_stream *st = conn_stream(c, id);
	long n;

	*fin = false;
	if (!st)
		return -ENOENT;
	n = tquic_stream_read(&c->streams, st, dst, cap, fin);
	if (n == -ECONNRESET && code)
		*code = st->rx_error;
	return n;
}

int tquic_conn_stream_peek(struct tquic_conn *c, u64 id, struct tquic_rbuf_iov *iov)
{
	struct tquic_stream *st = conn_stream(c, id);

	if (!st)
		return -ENOENT;
	return tquic_stream_peek(&c->streams, st, iov);
}

void tquic_conn_stream_consume(struct tquic_conn *c, u64 id, u64 n)
{
	struct tquic_stream *st = conn_stream(c, id);

	if (st)
		tquic_stream_consume(&c->streams, st, n);
}

int tquic_conn_stream_finish(struct tquic_conn *c, u64 id)
{
	struct tquic_stream *st = conn_stream(c, id);

	if (!st)
		return -ENOENT;
	return tquic_stream_finish(&c->streams, st);
}

int tquic_conn_stream_reset(struct tquic_conn *c, u64 id, u64 code)
{
	struct tquic_stream *st = conn_stream(c, id);

	if (!st)
		return -ENOENT;
	if (code > TQUIC_VARINT_MAX)
		return -EINVAL;
	return tquic_stream_reset(&c->streams, st, code);
}

int tquic_conn_stream_stop(struct tquic_conn *c, u64 id, u64 code)
{
	struct tquic_stream *st = conn_stream(c, id);

	if (!st)
		return -ENOENT;
	if (code > TQUIC_VARINT_MAX)
		return -EINVAL;
	return tquic_stream_stop_sending(&c->streams, st, code);
}

u64 tquic_conn_stream_stop_code(struct tquic_conn *c, u64 id)
{
	struct tquic_stream *st = conn_stream(c, id);

	return st && st->peer_stopped ? st->stop_error : 0;
}

u64 tquic_conn_stream_reset_code(struct tquic_conn *c, u64 id)
{
	struct tquic_stream *st = conn_stream(c, id);

	if (!st || (st->recv_state != TQUIC_RECV_RESET_RECVD &&
		    st->recv_state != TQUIC_RECV_RESET_READ))
		return 0;
	return st->rx_error;
}

int tquic_conn_stream_set_priority(struct tquic_conn *c, u64 id, u8 urgency,
				   bool incremental)
{
	struct tquic_stream *st = conn_stream(c, id);

	if (!st)
		return -ENOENT;
	return tquic_stream_set_priority(&c->streams, st, urgency, incremental);
}

/* ---- datagrams ---- */

bool tquic_conn_datagrams_enabled(const struct tquic_conn *c)
{
	return c->cfg.max_datagram_frame_size && c->peer_max_dgram;
}

size_t tquic_conn_dgram_max(const struct tquic_conn *c)
{
	const struct tquic_path *p = c->path;
	size_t overhead, room;

	if (!tquic_conn_datagrams_enabled(c))
		return 0;
	/* Short header (flags, DCID, 4-byte PN), tag, frame type and length. */
	overhead = 1 + p->dcid.len + 4 + TQUIC_AEAD_TAG_LEN + 1 + 2;
	room = p->mtu > overhead ? p->mtu - overhead : 0;
	return (size_t)min_u64(room, c->peer_max_dgram > 3 ? c->peer_max_dgram - 3 : 0);
}

int tquic_conn_dgram_send(struct tquic_conn *c, const u8 *data, size_t len,
			  unsigned int gfp)
{
	struct tquic_dgram *d;

	if (!tquic_conn_datagrams_enabled(c) || tquic_conn_closed(c))
		return -ENOTCONN;
	if (len > tquic_conn_dgram_max(c))
		return -EMSGSIZE;
	if (c->dgram_tx_n >= c->cfg.datagram_queue)
		return -ENOBUFS;
	d = tquic_mem_alloc(sizeof(*d) + len, gfp);
	if (!d)
		return -ENOMEM;
	d->len = (u32)len;
	memcpy(d->data, data, len);
	tquic_list_add_tail(&d->node, &c->dgram_tx);
	c->dgram_tx_n++;
	return 0;
}

long tquic_conn_dgram_recv(struct tquic_conn *c, u8 *dst, size_t cap)
{
	struct tquic_dgram *d;
	long n;

	if (tquic_list_empty(&c->dgram_rx))
		return -EAGAIN;
	d = tquic_list_first_entry(&c->dgram_rx, struct tquic_dgram, node);
	if (d->len > cap)
		return -EMSGSIZE;
	memcpy(dst, d->data, d->len);
	n = d->len;
	tquic_list_del(&d->node);
	c->dgram_rx_n--;
	tquic_mem_free(d);
	return n;
}

/* ---- state ---- */

u32 tquic_conn_version(const struct tquic_conn *c)
{
	return c->version;
}

bool tquic_conn_handshake_confirmed(const struct tquic_conn *c)
{
	return c->handshake_confirmed;
}

bool tquic_conn_is_server(const struct tquic_conn *c)
{
	return c->is_server;
}

bool tquic_conn_retried(const struct tquic_conn *c)
{
	return c->retried;
}

size_t tquic_conn_new_token(const struct tquic_conn *c, u8 *dst, size_t cap)
{
	if (c->is_server || !c->new_token || c->new_token_len > cap)
		return 0;
	memcpy(dst, c->new_token, c->new_token_len);
	return c->new_token_len;
}

size_t tquic_conn_mem(const struct tquic_conn *c)
{
	const struct tquic_path_xmit *x = c->path->x;
	size_t m = c->mem;
	u32 i;

	if (x->rec.hs)
		m += 2 * sizeof(*x->rec.hs);
	if (x->ack.hs)
		m += 2 * sizeof(*x->ack.hs);
	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++) {
		const struct tquic_pn_space_state *sp = tquic_recovery_space(&x->rec, i);
		const struct tquic_ackmgr_space *as = tquic_ackmgr_space(&x->ack, i);

		m += sp ? (size_t)sp->ring.cap * sizeof(struct tquic_sent_pkt) : 0;
		m += as ? (size_t)as->cap * sizeof(struct tquic_ack_range) : 0;
		m += c->cs[i] ? (size_t)c->cs[i]->rx.mem : 0;
	}
	m += ((size_t)1 << c->streams.hash_bits) * sizeof(struct tquic_list);
	m += (size_t)c->streams.count * sizeof(struct tquic_stream);
	m += tquic_cids_mem(&c->cids);
	for (i = 0; i < c->n_pending; i++)
		m += tquic_buf_truesize(c->pending[i].buf);
	if (c->scratch)
		m += TQUIC_CONN_SCRATCH * sizeof(*c->scratch) +
		     TQUIC_CONN_MAX_PKTS * sizeof(*c->pkts);
	return m;
}

void tquic_conn_stats(const struct tquic_conn *c, struct tquic_conn_stats *st)
{
	*st = c->stats;
	st->key_updates = c->key_updates;
	st->srtt = c->path->x->rtt.smoothed_rtt;
	st->cwnd = tquic_cc_cwnd(&c->path->x->cc);
	st->bytes_in_flight = c->path->x->rec.bytes_in_flight;
}

/* ---- observation: stats dumps and qlog ---- */

void tquic_conn_get_info(const struct tquic_conn *c, struct tquic_conn_info *ci)
{
	const struct tquic_path_xmit *p = c->path->x;

	memset(ci, 0, sizeof(*ci));
	ci->version = c->version;
	ci->is_server = c->is_server;
	ci->handshake_confirmed = c->handshake_confirmed;
	ci->closing = tquic_conn_closed(c);
	ci->n_paths = c->n_paths;
	ci->cc_name = p->cc.ops->name;
	ci->cc_state = tquic_cc_state_name(&p->cc);
	ci->bytes_lost = p->rec.stats.bytes_lost;
	ci->pto_count = p->rec.stats.pto_count;
}

bool tquic_conn_path_info(const struct tquic_conn *c, u32 idx, struct tquic_path_info *pi)
{
	const struct tquic_path *q;
	const struct tquic_path_xmit *p;
	const struct tquic_recovery *r;
	u32 i = 0;

	tquic_list_for_each_entry(q, &c->paths, node)
		if (i++ == idx)
			goto found;
	return false;
found:
	memset(pi, 0, sizeof(*pi));
	pi->id = q->id;
	pi->validated = q->addr_validated;
	pi->local = q->local;
	pi->peer = q->peer;
	pi->mtu = q->mtu;
	/* A probed path has no machinery of its own: addresses only. */
	p = q->x;
	if (!p)
		return true;
	r = &p->rec;
	pi->rtt_latest = p->rtt.latest_rtt;
	pi->rtt_min = p->rtt.has_sample ? p->rtt.min_rtt : 0;
	pi->rtt_smoothed = p->rtt.smoothed_rtt;
	pi->rtt_var = p->rtt.rttvar;
	pi->cwnd = tquic_cc_cwnd(&p->cc);
	pi->ssthresh = p->cc.ops->ssthresh(&p->cc);
	pi->bytes_in_flight = r->bytes_in_flight;
	pi->pacing_rate = c->cfg.pacing ? p->pacer.rate : 0;
	pi->cc_name = p->cc.ops->name;
	pi->cc_state = tquic_cc_state_name(&p->cc);
	pi->pkts_sent = r->stats.pkts_sent;
	pi->bytes_sent = r->stats.bytes_sent;
	pi->pkts_acked = r->stats.pkts_acked;
	pi->pkts_lost = r->stats.pkts_lost;
	pi->bytes_lost = r->stats.bytes_lost;
	pi->pto_count = r->stats.pto_count;
	pi->ecn_state = r->ecn_state;
	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++) {
		const struct tquic_pn_space_state *sp = tquic_recovery_space(r, i);

		if (!sp)
			continue;
		pi->ecn_sent_ect0 += sp->sent_ect0;
		pi->ecn_sent_ect1 += sp->sent_ect1;
		pi->ecn_ect0 += sp->ecn_ect0;
		pi->ecn_ect1 += sp->ecn_ect1;
		pi->ecn_ce += sp->ecn_ce;
	}
	return true;
}

void tquic_conn_set_qlog(struct tquic_conn *c,
			 void (*fn)(void *ctx, const struct tquic_qlog_event *ev),
			 void *ctx)
{
	c->qlog = fn;
	c->qlog_ctx = fn ? ctx : NULL;
}

static void qlog_init(const struct tquic_conn *c, struct tquic_qlog_event *ev, u8 type)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->version = c->version;
	ev->time = c->now;
}

void tquic_conn_qlog_pkt(struct tquic_conn *c, u8 type, u8 pkt_type, u8 space,
			 u64 pn, size_t len, u8 reason)
{
	struct tquic_qlog_event ev;

	if (!c->qlog)
		return;
	qlog_init(c, &ev, type);
	ev.pkt_type = pkt_type;
	ev.space = space;
	ev.pn = pn;
	ev.len = (u32)min_u64(len, 0xffffffffU);
	ev.reason = reason;
	c->qlog(c->qlog_ctx, &ev);
}

void tquic_conn_qlog_metrics(struct tquic_conn *c)
{
	const struct tquic_path_xmit *p = c->path->x;
	struct tquic_qlog_event ev;

	if (!c->qlog)
		return;
	qlog_init(c, &ev, TQUIC_QL_METRICS);
	ev.rtt_min = p->rtt.has_sample ? p->rtt.min_rtt : 0;
	ev.rtt_smoothed = p->rtt.smoothed_rtt;
	ev.rtt_var = p->rtt.rttvar;
	ev.rtt_latest = p->rtt.latest_rtt;
	ev.cwnd = tquic_cc_cwnd(&p->cc);
	ev.bytes_in_flight = p->rec.bytes_in_flight;
	ev.ssthresh = p->cc.ops->ssthresh(&p->cc);
	ev.pacing_rate = c->cfg.pacing ? p->pacer.rate : 0;
	ev.cc_state = tquic_cc_state_name(&p->cc);
	c->qlog(c->qlog_ctx, &ev);
}

void tquic_conn_qlog_event(struct tquic_conn *c, u32 type, u32 flags, u64 id, u64 code)
{
	struct tquic_qlog_event ev;

	if (!c->qlog)
		return;
	qlog_init(c, &ev, TQUIC_QL_EVENT);
	ev.ev_type = type;
	ev.ev_flags = flags;
	ev.ev_id = id;
	ev.ev_code = code;
	c->qlog(c->qlog_ctx, &ev);
}
