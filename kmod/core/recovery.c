// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Loss recovery (RFC 9002); see recovery.h. */
#include "recovery.h"

#ifndef noinline
#define noinline __attribute__((__noinline__))
#endif

#define RING_MIN_CAP		16U
/* An emptied ring larger than this is freed rather than kept. */
#define RING_KEEP_CAP		64U
/* ACK Delay exponent for Initial and Handshake ACKs (the TP default). */
#define DEFAULT_ACK_DELAY_EXPONENT	3
#define MAX_ACK_DELAY_EXPONENT		20

/* ---- sent-packet ring ---------------------------------------------------- */

static inline struct tquic_sent_pkt *ring_at(const struct tquic_sent_ring *ring,
					     u32 i)
{
	return &ring->pkts[(ring->head + i) & (ring->cap - 1)];
}

static int ring_grow(struct tquic_sent_ring *ring, u32 max, unsigned int gfp)
{
	struct tquic_sent_pkt *pkts;
	u32 cap = ring->cap ? ring->cap * 2 : RING_MIN_CAP;
	u32 i;

	if (ring->len >= max)
		return -ENOBUFS;
	pkts = tquic_mem_alloc((size_t)cap * sizeof(*pkts), gfp);
	if (!pkts)
		return -ENOMEM;
	for (i = 0; i < ring->len; i++)
		pkts[i] = *ring_at(ring, i);
	tquic_mem_free(ring->pkts);
	ring->pkts = pkts;
	ring->cap = cap;
	ring->head = 0;
	return 0;
}

static void ring_free(struct tquic_sent_ring *ring)
{
	tquic_mem_free(ring->pkts);
	ring->pkts = NULL;
	ring->cap = 0;
	ring->head = 0;
	ring->len = 0;
}

/* Index of the last record with pn <= @pn, or -1. */
static s64 ring_find_le(const struct tquic_sent_ring *ring, u64 pn)
{
	u32 lo = 0, hi = ring->len;

	/* Invariant: records below lo have pn <= @pn, from hi on pn > @pn. */
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (ring_at(ring, mid)->pn <= pn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (s64)lo - 1;
}

static bool pkt_done(const struct tquic_sent_pkt *p)
{
	return p->flags & (TQUIC_SENT_ACKED | TQUIC_SENT_LOST);
}

/*
 * Drops finished records from the head.  Lost records stay until one PTO
 * period (without backoff) after they were sent, so a late acknowledgment
 * is still recognised as a spurious loss and the persistent congestion
 * check sees them.
 */
static void ring_pop_done(struct tquic_sent_ring *ring, const struct tquic_rtt *rtt,
			  u64 now)
{
	u64 keep = tquic_rtt_pto_base(rtt);

	while (ring->len) {
		const struct tquic_sent_pkt *p = ring_at(ring, 0);

		if (!(p->flags & TQUIC_SENT_ACKED) &&
		    (!(p->flags & TQUIC_SENT_LOST) ||
		     tquic_sat_add(p->time_sent, keep) > now))
			break;
		ring->head = (ring->head + 1) & (ring->cap - 1);
		ring->len--;
	}
	if (!ring->len) {
		ring->head = 0;
		if (ring->cap > RING_KEEP_CAP)
			ring_free(ring);
	}
}

/* ---- helpers ------------------------------------------------------------- */

static bool ack_eliciting_in_flight(const struct tquic_recovery *r)
{
	const struct tquic_pn_space_state *sp;
	unsigned int i;

	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++) {
		sp = tquic_recovery_space(r, (enum tquic_pn_space)i);
		if (sp && sp->ack_eliciting_in_flight)
			return true;
	}
	return false;
}

static bool peer_completed_address_validation(const struct tquic_recovery *r)
{
	/* Servers assume clients validated the server's address implicitly. */
	return r->is_server || r->peer_validated || r->handshake_confirmed;
}

/* Removes an in-flight record from the flight counters. */
static void remove_from_flight(struct tquic_recovery *r,
			       struct tquic_pn_space_state *sp,
			       const struct tquic_sent_pkt *p)
{
	if (!(p->flags & TQUIC_SENT_IN_FLIGHT))
		return;
	r->bytes_in_flight -= p->size;
	sp->bytes_in_flight -= p->size;
	if (p->flags & TQUIC_SENT_ACK_ELICITING)
		sp->ack_eliciting_in_flight--;
}

/* ---- timers (RFC 9002 appendix A.8) -------------------------------------- */

static u64 loss_time_and_space(const struct tquic_recovery *r,
			       enum tquic_pn_space *space)
{
	const struct tquic_pn_space_state *sp;
	u64 t = TQUIC_TIME_NONE;
	unsigned int i;

	*space = TQUIC_PN_SPACE_INITIAL;
	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++) {
		sp = tquic_recovery_space(r, (enum tquic_pn_space)i);
		if (sp && sp->loss_time < t) {
			t = sp->loss_time;
			*space = (enum tquic_pn_space)i;
		}
	}
	return t;
}

static u64 pto_time_and_space(const struct tquic_recovery *r, u64 now,
			      enum tquic_pn_space *space)
{
	u64 duration = tquic_rtt_pto(r->rtt, false, r->pto_count);
	u64 t = TQUIC_TIME_NONE, cand;
	unsigned int i;

	*space = TQUIC_PN_SPACE_INITIAL;
	if (!ack_eliciting_in_flight(r)) {
		/* Client anti-deadlock PTO, from the current time. */
		*space = r->has_handshake_keys ? TQUIC_PN_SPACE_HANDSHAKE :
						 TQUIC_PN_SPACE_INITIAL;
		return tquic_sat_add(now, duration);
	}
	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++) {
		const struct tquic_pn_space_state *sp;

		sp = tquic_recovery_space(r, (enum tquic_pn_space)i);
		if (!sp || !sp->ack_eliciting_in_flight)
			continue;
		if (i == TQUIC_PN_SPACE_APP) {
			/* Application Data waits for handshake confirmation. */
			if (!r->handshake_confirmed)
				break;
			duration = tquic_rtt_pto(r->rtt, true, r->pto_count);
		}
		cand = tquic_sat_add(sp->last_ack_eliciting_time, duration);
		if (cand < t) {
			t = cand;
			*space = (enum tquic_pn_space)i;
		}
	}
	return t;
}

static void set_timer(struct tquic_recovery *r, u64 now)
{
	enum tquic_pn_space space;
	u64 t;

	t = loss_time_and_space(r, &space);
	if (t != TQUIC_TIME_NONE) {
		r->timer = t;
		r->timer_kind = TQUIC_TIMER_LOSS;
		return;
	}
	if ((r->is_server && r->amp_blocked) ||
	    (!ack_eliciting_in_flight(r) && peer_completed_address_validation(r))) {
		r->timer = TQUIC_TIME_NONE;
		r->timer_kind = TQUIC_TIMER_NONE;
		return;
	}
	t = pto_time_and_space(r, now, &space);
	r->timer = t;
	r->timer_kind = t == TQUIC_TIME_NONE ? TQUIC_TIMER_NONE : TQUIC_TIMER_PTO;
}

/* ---- setup --------------------------------------------------------------- */

static void space_init(struct tquic_pn_space_state *sp)
{
	sp->largest_sent = TQUIC_PN_NONE;
	sp->largest_acked = TQUIC_PN_NONE;
	sp->loss_time = TQUIC_TIME_NONE;
	sp->last_ack_eliciting_time = TQUIC_TIME_NONE;
}

int tquic_recovery_init(struct tquic_recovery *r,
			const struct tquic_recovery_ops *ops, void *ctx,
			struct tquic_rtt *rtt, struct tquic_cc *cc,
			u32 path_id, bool is_server, unsigned int gfp)
{
	if (!rtt || !cc || !cc->ops)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->hs = tquic_mem_alloc(2 * sizeof(*r->hs), gfp);
	if (!r->hs)
		return -ENOMEM;
	space_init(&r->hs[TQUIC_PN_SPACE_INITIAL]);
	space_init(&r->hs[TQUIC_PN_SPACE_HANDSHAKE]);
	space_init(&r->app);
	r->ops = ops;
	r->ctx = ctx;
	r->rtt = rtt;
	r->cc = cc;
	r->path_id = path_id;
	r->is_server = is_server;
	r->pkt_threshold = TQUIC_PACKET_THRESHOLD;
	r->max_tracked = TQUIC_RECOVERY_MAX_TRACKED;
	r->peer_ack_delay_exponent = DEFAULT_ACK_DELAY_EXPONENT;
	r->timer = TQUIC_TIME_NONE;
	r->ecn_codepoint = (cc->ops->flags & TQUIC_CC_F_ECT1) ? TQUIC_ECN_ECT1 :
								TQUIC_ECN_ECT0;
	return 0;
}

void tquic_recovery_trim(struct tquic_recovery *r)
{
	unsigned int s;
	u32 i;

	for (s = 0; s < TQUIC_PN_SPACE_COUNT; s++) {
		struct tquic_pn_space_state *sp;
		struct tquic_sent_ring *ring;

		sp = tquic_recovery_space(r, (enum tquic_pn_space)s);
		if (!sp)
			continue;
		ring = &sp->ring;
		for (i = 0; i < ring->len; i++) {
			const struct tquic_sent_pkt *p = ring_at(ring, i);

			if (p->frames || (!pkt_done(p) && (p->flags & TQUIC_SENT_IN_FLIGHT)))
				break;
		}
		if (i == ring->len)
			ring_free(ring);
	}
}

/* Drops the records of @space (not discarded yet) and marks it discarded. */
static void discard_records(struct tquic_recovery *r, enum tquic_pn_space space)
{
	struct tquic_pn_space_state *sp = tquic_recovery_space(r, space);
	struct tquic_sent_ring *ring = &sp->ring;
	u32 i;

	for (i = 0; i < ring->len; i++) {
		struct tquic_sent_pkt *p = ring_at(ring, i);

		if (pkt_done(p))
			continue;
		if (p->flags & TQUIC_SENT_IN_FLIGHT)
			r->stats.bytes_discarded += p->size;
		remove_from_flight(r, sp, p);
		p->flags |= TQUIC_SENT_LOST;
		if (r->ops && r->ops->on_discarded)
			r->ops->on_discarded(r->ctx, space, p);
		p->frames = NULL;
	}
	ring_free(ring);
	sp->loss_time = TQUIC_TIME_NONE;
	sp->last_ack_eliciting_time = TQUIC_TIME_NONE;
	sp->nskipped = 0;
	sp->discarded = true;
	/* Initial and Handshake both gone: their block goes too. */
	if (r->hs && r->hs[TQUIC_PN_SPACE_INITIAL].discarded &&
	    r->hs[TQUIC_PN_SPACE_HANDSHAKE].discarded) {
		tquic_mem_free(r->hs);
		r->hs = NULL;
	}
}

void tquic_recovery_release(struct tquic_recovery *r)
{
	unsigned int i;

	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++)
		if (tquic_recovery_space(r, (enum tquic_pn_space)i))
			discard_records(r, (enum tquic_pn_space)i);
	r->timer = TQUIC_TIME_NONE;
	r->timer_kind = TQUIC_TIMER_NONE;
}

void tquic_recovery_set_max_tracked(struct tquic_recovery *r, u32 max)
{
	r->max_tracked = max ? max : TQUIC_RECOVERY_MAX_TRACKED;
}

void tquic_recovery_set_packet_threshold(struct tquic_recovery *r, u32 n)
{
	r->pkt_threshold = n ? n : TQUIC_PACKET_THRESHOLD;
}

void tquic_recovery_set_peer_ack_delay_exponent(struct tquic_recovery *r, u8 e)
{
	r->peer_ack_delay_exponent = e > MAX_ACK_DELAY_EXPONENT ?
				     MAX_ACK_DELAY_EXPONENT : e;
}

void tquic_recovery_set_ecn(struct tquic_recovery *r, bool enable)
{
	if (!enable) {
		r->ecn_state = TQUIC_ECN_STATE_DISABLED;
		return;
	}
	if (r->ecn_state == TQUIC_ECN_STATE_DISABLED) {
		r->ecn_state = TQUIC_ECN_STATE_TESTING;
		r->ecn_testing_sent = 0;
		r->ecn_testing_lost = 0;
	}
}

u8 tquic_recovery_ecn_codepoint(const struct tquic_recovery *r)
{
	switch (r->ecn_state) {
	case TQUIC_ECN_STATE_TESTING:
	case TQUIC_ECN_STATE_CAPABLE:
		return r->ecn_codepoint;
	default:
		return TQUIC_ECN_NOT_ECT;
	}
}

void tquic_recovery_on_handshake_keys(struct tquic_recovery *r, u64 now)
{
	r->has_handshake_keys = true;
	set_timer(r, now);
}

void tquic_recovery_on_handshake_confirmed(struct tquic_recovery *r, u64 now)
{
	r->handshake_confirmed = true;
	r->peer_validated = true;
	set_timer(r, now);
}

void tquic_recovery_on_peer_validated(struct tquic_recovery *r, u64 now)
{
	r->peer_validated = true;
	set_timer(r, now);
}

void tquic_recovery_set_amp_blocked(struct tquic_recovery *r, bool blocked, u64 now)
{
	r->amp_blocked = blocked;
	set_timer(r, now);
}

void tquic_recovery_on_app_limited(struct tquic_recovery *r)
{
	u64 mark = r->delivered + r->bytes_in_flight;

	r->app_limited = mark ? mark : 1;
}

int tquic_recovery_reset_cc(struct tquic_recovery *r, u64 now)
{
	tquic_rtt_reset(r->rtt);
	r->pto_count = 0;
	return tquic_cc_init(r->cc, r->cc->ops, r->rtt, r->cc->mss,
			     r->cc->path_id, now);
}

/* ---- sending ------------------------------------------------------------- */

int tquic_recovery_on_packet_sent(struct tquic_recovery *r,
				  enum tquic_pn_space space,
				  const struct tquic_sent_pkt *pkt,
				  unsigned int gfp)
{
	struct tquic_pn_space_state *sp;
	struct tquic_sent_ring *ring;
	struct tquic_sent_pkt *p;
	bool in_flight;
	u64 before;
	int err;

	sp = tquic_recovery_space(r, space);
	if (!sp)
		return -EINVAL;
	ring = &sp->ring;
	in_flight = pkt->flags & TQUIC_SENT_IN_FLIGHT;
	if ((in_flight && !pkt->size) ||
	    pkt->pn > TQUIC_VARINT_MAX ||
	    (sp->largest_sent != TQUIC_PN_NONE && pkt->pn <= sp->largest_sent))
		return -EINVAL;
	if (ring->len >= r->max_tracked)
		return -ENOBUFS;
	if (ring->len == ring->cap) {
		err = ring_grow(ring, r->max_tracked, gfp);
		if (err)
			return err;
	}

	p = &ring->pkts[(ring->head + ring->len) & (ring->cap - 1)];
	ring->len++;
	*p = *pkt;
	p->flags &= TQUIC_SENT_USER_FLAGS;
	if (!(p->flags & TQUIC_SENT_HAS_ACK))
		p->ack_largest = TQUIC_PN_NONE;
	sp->largest_sent = p->pn;
	r->stats.pkts_sent++;

	if (p->ecn == TQUIC_ECN_ECT0)
		sp->sent_ect0++;
	else if (p->ecn == TQUIC_ECN_ECT1)
		sp->sent_ect1++;
	if ((p->ecn == TQUIC_ECN_ECT0 || p->ecn == TQUIC_ECN_ECT1) &&
	    r->ecn_state == TQUIC_ECN_STATE_TESTING &&
	    ++r->ecn_testing_sent >= TQUIC_ECN_TESTING_PACKETS)
		r->ecn_state = TQUIC_ECN_STATE_UNKNOWN;

	if (p->flags & TQUIC_SENT_ACK_ELICITING && r->probes)
		r->probes--;
	if (!in_flight)
		return 0;

	before = r->bytes_in_flight;
	if (!before) {
		r->first_sent_time = p->time_sent;
		r->delivered_time = p->time_sent;
	}
	if (r->app_limited && r->delivered > r->app_limited)
		r->app_limited = 0;
	p->delivered = r->delivered;
	p->delivered_time = r->delivered_time;
	p->first_sent_time = r->first_sent_time;
	p->lost = r->lost;
	if (r->app_limited)
		p->flags |= TQUIC_SENT_APP_LIMITED;

	r->bytes_in_flight += p->size;
	sp->bytes_in_flight += p->size;
	p->tx_in_flight = r->bytes_in_flight;
	r->stats.bytes_sent += p->size;
	if (p->flags & TQUIC_SENT_ACK_ELICITING) {
		sp->ack_eliciting_in_flight++;
		sp->last_ack_eliciting_time = p->time_sent;
	}
	if (r->cc->ops->on_packet_sent)
		r->cc->ops->on_packet_sent(r->cc, p->time_sent, p->size, before);
	set_timer(r, p->time_sent);
	return 0;
}

int tquic_recovery_skip_pn(struct tquic_recovery *r, enum tquic_pn_space space,
			   u64 pn)
{
	struct tquic_pn_space_state *sp;

	sp = tquic_recovery_space(r, space);
	if (!sp || pn > TQUIC_VARINT_MAX ||
	    (sp->largest_sent != TQUIC_PN_NONE && pn <= sp->largest_sent))
		return -EINVAL;
	if (sp->nskipped == TQUIC_RECOVERY_MAX_SKIPPED) {
		/* Forget the oldest. */
		memmove(&sp->skipped[0], &sp->skipped[1],
			sizeof(sp->skipped[0]) * (TQUIC_RECOVERY_MAX_SKIPPED - 1));
		sp->nskipped--;
	}
	sp->skipped[sp->nskipped++] = pn;
	sp->largest_sent = pn;
	return 0;
}

/* ---- loss detection (RFC 9002 section 6.1, appendix A.10) ---------------- */

struct loss_scan {
	u64 bytes_lost;
	u64 pkts_lost;
	u64 largest_lost_sent_time;
	bool persistent;
};

static void declare_lost(struct tquic_recovery *r, enum tquic_pn_space space,
			 struct tquic_sent_pkt *p, struct loss_scan *ls)
{
	struct tquic_pn_space_state *sp = tquic_recovery_space(r, space);

	p->flags |= TQUIC_SENT_LOST;
	r->stats.pkts_lost++;
	if (p->flags & TQUIC_SENT_IN_FLIGHT) {
		remove_from_flight(r, sp, p);
		r->stats.bytes_lost += p->size;
		r->lost += p->size;
		ls->bytes_lost += p->size;
		ls->pkts_lost++;
		if (p->time_sent > ls->largest_lost_sent_time || ls->pkts_lost == 1)
			ls->largest_lost_sent_time = p->time_sent;
	}
	if ((p->ecn == TQUIC_ECN_ECT0 || p->ecn == TQUIC_ECN_ECT1) &&
	    (r->ecn_state == TQUIC_ECN_STATE_TESTING ||
	     r->ecn_state == TQUIC_ECN_STATE_UNKNOWN) &&
	    ++r->ecn_testing_lost >= TQUIC_ECN_TESTING_PACKETS)
		/* Every testing packet lost: the path likely drops ECT. */
		r->ecn_state = TQUIC_ECN_STATE_FAILED;
	if (r->ops && r->ops->on_lost)
		r->ops->on_lost(r->ctx, space, p);
	p->frames = NULL;
}

/*
 * Declares lost the packets at or below largest_acked that are past the
 * packet or time threshold, and sets loss_time for the others.  Also looks
 * for persistent congestion: a run of lost ack-eliciting packets, sent
 * after the first RTT sample, spanning more than the persistent congestion
 * duration, with nothing acknowledged in between.  Only records still held
 * in the ring count towards the run.
 */
static void detect_lost(struct tquic_recovery *r, enum tquic_pn_space space,
			u64 now, struct loss_scan *ls)
{
	struct tquic_pn_space_state *sp = tquic_recovery_space(r, space);
	struct tquic_sent_ring *ring = &sp->ring;
	u64 loss_delay = tquic_rtt_loss_delay(r->rtt);
	u64 pc_duration, run_start = 0, t;
	bool run = false, new_loss = false;
	u32 i;

	sp->loss_time = TQUIC_TIME_NONE;
	if (sp->largest_acked == TQUIC_PN_NONE)
		return;
	pc_duration = tquic_rtt_pc_duration(r->rtt, space == TQUIC_PN_SPACE_APP);

	for (i = 0; i < ring->len; i++) {
		struct tquic_sent_pkt *p = ring_at(ring, i);

		if (p->pn > sp->largest_acked)
			break;
		if (p->flags & TQUIC_SENT_ACKED) {
			run = false;
			continue;
		}
		if (!(p->flags & TQUIC_SENT_LOST)) {
			t = tquic_sat_add(p->time_sent, loss_delay);
			if (t <= now ||
			    sp->largest_acked - p->pn >= r->pkt_threshold) {
				declare_lost(r, space, p, ls);
				new_loss = true;
			} else {
				if (t < sp->loss_time)
					sp->loss_time = t;
				continue;
			}
		}
		/* A lost record: extend the persistent congestion run. */
		if (!(p->flags & TQUIC_SENT_ACK_ELICITING) ||
		    !r->rtt->has_sample ||
		    p->time_sent <= r->rtt->first_sample_time)
			continue;
		if (!run) {
			run = true;
			run_start = p->time_sent;
		} else if (new_loss && p->time_sent - run_start > pc_duration) {
			ls->persistent = true;
		}
	}
}

static void on_packets_lost(struct tquic_recovery *r, const struct loss_scan *ls,
			    u64 now)
{
	struct tquic_loss_sample l;

	if (!ls->bytes_lost)
		return;
	l.now = now;
	l.bytes_lost = ls->bytes_lost;
	l.packets_lost = ls->pkts_lost;
	l.largest_lost_sent_time = ls->largest_lost_sent_time;
	l.bytes_in_flight = r->bytes_in_flight;
	r->cc->ops->on_congestion_event(r->cc, &l);
	if (ls->persistent) {
		r->stats.persistent_congestion++;
		r->cc->ops->on_persistent_congestion(r->cc, now);
	}
}

/* ---- ACK processing (RFC 9002 appendix A.7) ------------------------------ */

struct ack_scan {
	u64 newly_acked;		/* all packets, in flight or not */
	u64 bytes_acked;
	u64 pkts_acked;
	u64 newest_sent_time;
	u64 largest_newly_acked_sent_time;
	bool largest_newly_acked;
	bool ack_eliciting;
	u64 ect0_acked, ect1_acked;	/* packets sent with each mark */
	u64 acc_ce, acc_ect0, acc_ect1;	/* ACCURATE_ACK_ECN marks of newly acked */
	u64 acc_ce_bytes;
	/* Rate sample of the newest acknowledged packet. */
	bool rs_valid;
	u64 rs_prior_delivered;
	u64 rs_send_elapsed;
	u64 rs_ack_elapsed;
	u64 rs_prior_in_flight;
	u64 rs_lost_at_send;
	bool rs_app_limited;
};

static void on_pkt_acked(struct tquic_recovery *r, enum tquic_pn_space space,
			 struct tquic_sent_pkt *p, u8 range_ecn, bool accurate,
			 u64 now, struct ack_scan *as)
{
	struct tquic_pn_space_state *sp = tquic_recovery_space(r, space);
	bool was_lost = p->flags & TQUIC_SENT_LOST;

	p->flags |= TQUIC_SENT_ACKED;
	as->newly_acked++;
	r->stats.pkts_acked++;
	if (was_lost)
		r->stats.spurious_losses++;
	if (p->flags & TQUIC_SENT_ACK_ELICITING)
		as->ack_eliciting = true;
	if (p->ecn == TQUIC_ECN_ECT0)
		as->ect0_acked++;
	else if (p->ecn == TQUIC_ECN_ECT1)
		as->ect1_acked++;
	if (accurate) {
		if (range_ecn == TQUIC_ECN_CE)
			as->acc_ce++;
		else if (range_ecn == TQUIC_ECN_ECT0)
			as->acc_ect0++;
		else if (range_ecn == TQUIC_ECN_ECT1)
			as->acc_ect1++;
	}

	if ((p->flags & TQUIC_SENT_IN_FLIGHT) && !was_lost) {
		remove_from_flight(r, sp, p);
		r->stats.bytes_acked += p->size;
		as->bytes_acked += p->size;
		as->pkts_acked++;
		if (accurate && range_ecn == TQUIC_ECN_CE)
			as->acc_ce_bytes += p->size;
		if (as->pkts_acked == 1 || p->time_sent > as->newest_sent_time)
			as->newest_sent_time = p->time_sent;

		/* Delivery-rate estimation. */
		r->delivered += p->size;
		r->delivered_time = now;
		if (!as->rs_valid || p->delivered >= as->rs_prior_delivered) {
			as->rs_valid = true;
			as->rs_prior_delivered = p->delivered;
			as->rs_app_limited = p->flags & TQUIC_SENT_APP_LIMITED;
			as->rs_send_elapsed = tquic_sat_sub(p->time_sent,
							    p->first_sent_time);
			as->rs_ack_elapsed = tquic_sat_sub(now, p->delivered_time);
			as->rs_prior_in_flight = p->tx_in_flight;
			as->rs_lost_at_send = p->lost;
			r->first_sent_time = p->time_sent;
		}
	}
	if (r->ops && r->ops->on_acked)
		r->ops->on_acked(r->ctx, space, p);
	p->frames = NULL;
}

static bool acks_skipped_pn(const struct tquic_pn_space_state *sp,
			    const struct tquic_ack_range *rg)
{
	u32 i;

	for (i = 0; i < sp->nskipped; i++)
		if (sp->skipped[i] >= rg->smallest && sp->skipped[i] <= rg->largest)
			return true;
	return false;
}

static u64 decode_ack_delay(const struct tquic_recovery *r,
			    enum tquic_pn_space space, u64 delay)
{
	unsigned int e = space == TQUIC_PN_SPACE_APP ? r->peer_ack_delay_exponent :
						       DEFAULT_ACK_DELAY_EXPONENT;

	return tquic_sat_mul(tquic_sat_shl(delay, e), TQUIC_NSEC_PER_USEC);
}

/*
 * ECN validation and congestion signal (RFC 9000 section 13.4.2, RFC 9002
 * section 7.1).  Counts are only looked at when the ACK raised the largest
 * acknowledged PN, so reordered ACKs cannot fail validation.
 */
static noinline void process_ecn(struct tquic_recovery *r, enum tquic_pn_space space,
			u64 type, const struct tquic_frame_ack *ack,
			const struct ack_scan *as, bool largest_increased, u64 now)
{
	struct tquic_pn_space_state *sp = tquic_recovery_space(r, space);
	struct tquic_ecn_sample e;
	bool has_counts = type == TQUIC_FT_ACK_ECN || type == TQUIC_FT_PATH_ACK_ECN;
	bool accurate = type == TQUIC_FT_ACCURATE_ACK_ECN;
	u64 d0 = 0, d1 = 0, dce = 0;

	if (r->ecn_state == TQUIC_ECN_STATE_DISABLED ||
	    r->ecn_state == TQUIC_ECN_STATE_FAILED)
		return;
	if (accurate) {
		d0 = as->acc_ect0;
		d1 = as->acc_ect1;
		dce = as->acc_ce;
		if (as->ect0_acked + as->ect1_acked > d0 + d1 + dce)
			goto fail;	/* marks bleached on the path */
	} else {
		if (!largest_increased)
			return;
		if (!has_counts) {
			if (as->ect0_acked || as->ect1_acked)
				goto fail;	/* peer or path drops ECN */
			return;
		}
		if (ack->ect0 < sp->ecn_ect0 || ack->ect1 < sp->ecn_ect1 ||
		    ack->ce < sp->ecn_ce)
			goto fail;
		if (ack->ect0 > sp->sent_ect0 || ack->ect1 > sp->sent_ect1 ||
		    ack->ce > sp->sent_ect0 + sp->sent_ect1)
			goto fail;
		d0 = ack->ect0 - sp->ecn_ect0;
		d1 = ack->ect1 - sp->ecn_ect1;
		dce = ack->ce - sp->ecn_ce;
		if (d0 + dce < as->ect0_acked || d1 + dce < as->ect1_acked)
			goto fail;
		sp->ecn_ect0 = ack->ect0;
		sp->ecn_ect1 = ack->ect1;
		sp->ecn_ce = ack->ce;
	}
	if ((as->ect0_acked || as->ect1_acked) &&
	    (r->ecn_state == TQUIC_ECN_STATE_TESTING ||
	     r->ecn_state == TQUIC_ECN_STATE_UNKNOWN))
		r->ecn_state = TQUIC_ECN_STATE_CAPABLE;
	if (!dce && !d1)
		return;
	r->stats.ecn_ce += dce;
	if (r->cc->ops->on_ecn) {
		e.now = now;
		e.ce_delta = dce;
		e.ect1_delta = d1;
		e.ect0_delta = d0;
		e.bytes_acked = as->bytes_acked;
		e.largest_acked_sent_time = sp->largest_acked_sent_time;
		e.bytes_in_flight = r->bytes_in_flight;
		r->cc->ops->on_ecn(r->cc, &e);
	}
	return;
fail:
	r->ecn_state = TQUIC_ECN_STATE_FAILED;
}

/* Hands the ACK's sample to the congestion controller (own stack frame). */
static noinline void cc_on_ack(struct tquic_recovery *r, const struct ack_scan *as,
			       u64 rtt_sample, u64 now)
{
	struct tquic_ack_sample s;

	memset(&s, 0, sizeof(s));
	s.now = now;
	s.rtt = rtt_sample;
	s.bytes_acked = as->bytes_acked;
	s.packets_acked = as->pkts_acked;
	s.newest_sent_time = as->newest_sent_time;
	s.bytes_in_flight = r->bytes_in_flight;
	s.delivered = r->delivered;
	s.app_limited = as->rs_app_limited;
	s.rs.prior_delivered = as->rs_prior_delivered;
	s.rs.delivered = r->delivered - as->rs_prior_delivered;
	s.rs.interval = tquic_max_u64(as->rs_send_elapsed, as->rs_ack_elapsed);
	if (s.rs.interval < r->rtt->min_rtt)
		s.rs.interval = 0;	/* too short to trust */
	s.rs.prior_in_flight = as->rs_prior_in_flight;
	s.rs.lost = r->lost - as->rs_lost_at_send;
	s.rs.is_app_limited = as->rs_app_limited;
	r->cc->ops->on_ack(r->cc, &s);
}

int tquic_recovery_on_ack(struct tquic_recovery *r, enum tquic_pn_space space,
			  u64 frame_type, const struct tquic_frame_ack *ack,
			  u64 now)
{
	struct tquic_pn_space_state *sp;
	struct tquic_sent_ring *ring;
	struct tquic_ack_iter it;
	struct tquic_ack_range rg;
	struct ack_scan as;
	struct loss_scan ls;
	bool accurate = frame_type == TQUIC_FT_ACCURATE_ACK_ECN;
	bool largest_increased;
	u64 ack_delay, rtt_sample;
	s64 idx;

	if ((unsigned int)space >= TQUIC_PN_SPACE_COUNT)
		return TQUIC_ERR_INTERNAL_ERROR;
	sp = tquic_recovery_space(r, space);
	if (!sp)
		return 0;
	ring = &sp->ring;
	if (sp->largest_sent == TQUIC_PN_NONE || ack->largest > sp->largest_sent)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	if (sp->nskipped) {
		tquic_ack_iter_init(&it, frame_type, ack);
		while (tquic_ack_iter_next(&it, &rg))
			if (acks_skipped_pn(sp, &rg))
				return TQUIC_ERR_PROTOCOL_VIOLATION;
	}

	largest_increased = sp->largest_acked == TQUIC_PN_NONE ||
			    ack->largest > sp->largest_acked;
	memset(&as, 0, sizeof(as));
	tquic_ack_iter_init(&it, frame_type, ack);
	while (tquic_ack_iter_next(&it, &rg)) {
		idx = ring_find_le(ring, rg.largest);
		for (; idx >= 0; idx--) {
			struct tquic_sent_pkt *p = ring_at(ring, (u32)idx);

			if (p->pn < rg.smallest)
				break;
			if (p->flags & TQUIC_SENT_ACKED)
				continue;
			if (p->pn == ack->largest) {
				as.largest_newly_acked = true;
				as.largest_newly_acked_sent_time = p->time_sent;
			}
			on_pkt_acked(r, space, p, rg.ecn, accurate, now, &as);
		}
	}
	if (largest_increased) {
		sp->largest_acked = ack->largest;
		if (as.largest_newly_acked)
			sp->largest_acked_sent_time = as.largest_newly_acked_sent_time;
	}
	/* A client's Handshake packet acknowledged: the server validated us. */
	if (space == TQUIC_PN_SPACE_HANDSHAKE && !r->is_server && as.newly_acked)
		r->peer_validated = true;
	if (!as.newly_acked) {
		/* Nothing newly acknowledged (RFC 9002 A.7). */
		ring_pop_done(ring, r->rtt, now);
		return 0;
	}

	/* RTT sample: largest acknowledged newly acked and something ack-eliciting. */
	rtt_sample = 0;
	if (as.largest_newly_acked && as.ack_eliciting) {
		u64 latest = tquic_sat_sub(now, as.largest_newly_acked_sent_time);

		ack_delay = space == TQUIC_PN_SPACE_INITIAL ? 0 :
			    decode_ack_delay(r, space, ack->delay);
		tquic_rtt_update(r->rtt, latest ? latest : 1, ack_delay,
				 r->handshake_confirmed, now);
		rtt_sample = r->rtt->latest_rtt;
	}

	process_ecn(r, space, frame_type, ack, &as, largest_increased, now);

	memset(&ls, 0, sizeof(ls));
	detect_lost(r, space, now, &ls);
	on_packets_lost(r, &ls, now);

	if (r->app_limited && r->delivered > r->app_limited)
		r->app_limited = 0;
	if (as.bytes_acked)
		cc_on_ack(r, &as, rtt_sample, now);

	if (peer_completed_address_validation(r))
		r->pto_count = 0;
	ring_pop_done(ring, r->rtt, now);
	set_timer(r, now);
	return 0;
}

/* ---- timeout (RFC 9002 appendix A.9) ------------------------------------- */

int tquic_recovery_on_timeout(struct tquic_recovery *r, u64 now)
{
	enum tquic_pn_space space;
	struct loss_scan ls;
	u64 t;

	if (r->timer == TQUIC_TIME_NONE || now < r->timer)
		return TQUIC_TIMER_NONE;

	t = loss_time_and_space(r, &space);
	if (t != TQUIC_TIME_NONE) {
		memset(&ls, 0, sizeof(ls));
		detect_lost(r, space, now, &ls);
		on_packets_lost(r, &ls, now);
		ring_pop_done(&tquic_recovery_space(r, space)->ring, r->rtt, now);
		set_timer(r, now);
		return TQUIC_TIMER_LOSS;
	}

	if (!ack_eliciting_in_flight(r)) {
		/* Anti-deadlock: one padded Initial or one Handshake packet. */
		space = r->has_handshake_keys ? TQUIC_PN_SPACE_HANDSHAKE :
						TQUIC_PN_SPACE_INITIAL;
		r->probes = 1;
	} else {
		pto_time_and_space(r, now, &space);
		r->probes = 2;
	}
	r->probe_space = space;
	r->pto_count++;
	r->stats.pto_count++;
	set_timer(r, now);
	return TQUIC_TIMER_PTO;
}

/* ---- space discard (RFC 9002 section 6.4) -------------------------------- */

u32 tquic_recovery_requeue_upto(struct tquic_recovery *r, enum tquic_pn_space space,
				u64 max_pn, u64 now)
{
	struct tquic_pn_space_state *sp;
	u32 i, n = 0;

	sp = tquic_recovery_space(r, space);
	if (!sp)
		return 0;
	for (i = 0; i < sp->ring.len; i++) {
		struct tquic_sent_pkt *p = ring_at(&sp->ring, i);

		if (p->pn > max_pn)
			break;
		if (pkt_done(p))
			continue;
		remove_from_flight(r, sp, p);
		p->flags |= TQUIC_SENT_LOST;
		if (r->ops && r->ops->on_lost)
			r->ops->on_lost(r->ctx, space, p);
		p->frames = NULL;
		n++;
	}
	if (!sp->ack_eliciting_in_flight)
		sp->last_ack_eliciting_time = TQUIC_TIME_NONE;
	set_timer(r, now);
	return n;
}

void tquic_recovery_discard_space(struct tquic_recovery *r,
				  enum tquic_pn_space space, u64 now)
{
	if (!tquic_recovery_space(r, space))
		return;
	discard_records(r, space);
	if (r->probes && r->probe_space == space)
		r->probes = 0;
	r->pto_count = 0;
	set_timer(r, now);
}
