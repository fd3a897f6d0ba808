// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * CUBIC (RFC 9438) with HyStart++ (RFC 9406) for slow-start exit.
 *
 * Integer only.  Windows are in bytes; the cubic curve runs on a time base
 * of 2^-10 s ("ticks", about 1 ms):
 *
 *   W_cubic(t) = W_max + C * mss * (t - K)^3        C = 0.4 = 2/5
 *             = W_max + 2 * mss * (t - K)^3 / (5 * 2^30)     (t, K in ticks)
 *   K = cbrt((W_max - cwnd_epoch) * 5 * 2^30 / (2 * mss))   ticks
 *
 * beta_cubic is 7/10, alpha_cubic 3 * (1 - beta) / (1 + beta) = 9/17.
 */
#include "cc.h"

#define CUBIC_TICK_SHIFT	10			/* 2^-10 s */
#define CUBIC_BETA_NUM		7
#define CUBIC_BETA_DEN		10
#define CUBIC_ALPHA_NUM		9			/* 3 * (1 - 0.7) */
#define CUBIC_ALPHA_DEN		17			/* 1 + 0.7, times 10 */
/* |t - K| is clamped so (t - K)^3 fits in 64 bits. */
#define CUBIC_MAX_OFFS		(1ULL << 21)

/* HyStart++ constants (RFC 9406 section 4.3). */
#define HS_MIN_RTT_THRESH	(4ULL * TQUIC_NSEC_PER_MSEC)
#define HS_MAX_RTT_THRESH	(16ULL * TQUIC_NSEC_PER_MSEC)
#define HS_MIN_RTT_DIVISOR	8
#define HS_N_RTT_SAMPLE		8
#define HS_CSS_GROWTH_DIVISOR	4
#define HS_CSS_ROUNDS		5

enum hs_state {
	HS_SLOW_START = 0,	/* standard slow start, watching the RTT */
	HS_CSS,			/* conservative slow start */
	HS_DONE,		/* slow start is over */
};

struct cubic {
	u64 cwnd;
	u64 ssthresh;
	u64 recovery_start;
	u64 w_max;		/* window before the last reduction (after fast convergence) */
	u64 cwnd_prior;		/* window right before the last reduction */
	u64 k;			/* ticks */
	u64 epoch_start;	/* valid if epoch_valid */
	u64 cwnd_epoch;
	u64 w_est;		/* Reno-friendly estimate */
	u64 acc_cubic;		/* (target - cwnd) * acked not yet applied */
	u64 acc_est;		/* acked * mss * alpha_num not yet applied */
	u64 last_ack_time;
	u64 last_sent_time;
	/* HyStart++ */
	u64 round_start;	/* packets sent after this end the round when acked */
	u64 last_round_min_rtt;
	u64 cur_round_min_rtt;
	u64 css_baseline_min_rtt;
	u32 rtt_sample_count;
	u32 css_rounds;
	u8 hs_state;
	bool recovery_valid;	/* recovery_start is set */
	bool in_recovery;	/* no ACK of a packet sent after recovery_start yet */
	bool epoch_valid;
	bool round_valid;
};

#define CUBIC(cc) TQUIC_CC_PRIV(cc, struct cubic)

static void hystart_reset(struct cubic *c)
{
	c->round_valid = false;
	c->last_round_min_rtt = TQUIC_U64_MAX;
	c->cur_round_min_rtt = TQUIC_U64_MAX;
	c->css_baseline_min_rtt = TQUIC_U64_MAX;
	c->rtt_sample_count = 0;
	c->css_rounds = 0;
}

static int cubic_init(struct tquic_cc *cc, u64 now)
{
	struct cubic *c = CUBIC(cc);

	memset(c, 0, sizeof(*c));
	c->cwnd = tquic_cc_initial_window(cc->mss);
	c->ssthresh = TQUIC_U64_MAX;
	c->hs_state = HS_SLOW_START;
	c->last_ack_time = now;
	c->last_sent_time = now;
	hystart_reset(c);
	return 0;
}

static bool cubic_in_recovery(const struct tquic_cc *cc, u64 sent_time)
{
	const struct cubic *c = CUBIC(cc);

	return c->recovery_valid && sent_time <= c->recovery_start;
}

static u64 ns_to_ticks(u64 ns)
{
	return tquic_mul_div(ns, 1ULL << CUBIC_TICK_SHIFT, TQUIC_NSEC_PER_SEC);
}

/* W_cubic at @t ticks after the epoch start. */
static u64 cubic_w(const struct tquic_cc *cc, const struct cubic *c, u64 t)
{
	u64 offs, delta;
	bool above = t >= c->k;

	offs = above ? t - c->k : c->k - t;
	if (offs > CUBIC_MAX_OFFS)
		offs = CUBIC_MAX_OFFS;
	delta = tquic_mul_div(offs * offs * offs, 2ULL * cc->mss,
			      5ULL << (3 * CUBIC_TICK_SHIFT));
	return above ? tquic_sat_add(c->w_max, delta) :
		       tquic_sat_sub(c->w_max, delta);
}

/* Start of a congestion-avoidance epoch (RFC 9438 section 4.2). */
static void cubic_epoch_start(struct tquic_cc *cc, struct cubic *c, u64 now)
{
	c->epoch_valid = true;
	c->epoch_start = now;
	c->cwnd_epoch = c->cwnd;
	c->w_est = c->cwnd;
	c->acc_cubic = 0;
	c->acc_est = 0;
	if (c->w_max <= c->cwnd) {
		c->w_max = c->cwnd;
		c->k = 0;
	} else {
		c->k = tquic_cbrt_u64(tquic_mul_div(c->w_max - c->cwnd,
						    5ULL << (3 * CUBIC_TICK_SHIFT),
						    2ULL * cc->mss));
	}
}

static void cubic_ca(struct tquic_cc *cc, struct cubic *c,
		     const struct tquic_ack_sample *s)
{
	u64 t, rtt, target, w_t, alpha_num, inc, srtt;

	if (!c->epoch_valid)
		cubic_epoch_start(cc, c, s->now);

	/* Reno-friendly estimate (section 4.3), alpha 1 once past cwnd_prior. */
	alpha_num = c->w_est >= c->cwnd_prior ? CUBIC_ALPHA_DEN : CUBIC_ALPHA_NUM;
	c->acc_est = tquic_sat_add(c->acc_est,
				   tquic_sat_mul(s->bytes_acked, (u64)cc->mss * alpha_num));
	inc = c->acc_est / tquic_sat_mul(c->cwnd, CUBIC_ALPHA_DEN);
	if (inc) {
		c->acc_est -= inc * c->cwnd * CUBIC_ALPHA_DEN;
		c->w_est = tquic_sat_add(c->w_est, inc);
	}

	srtt = cc->rtt->has_sample ? cc->rtt->smoothed_rtt : cc->rtt->initial_rtt;
	t = ns_to_ticks(tquic_sat_sub(s->now, c->epoch_start));
	rtt = ns_to_ticks(srtt);
	w_t = cubic_w(cc, c, t);
	if (w_t < c->w_est) {
		/* Reno-friendly region. */
		if (c->w_est > c->cwnd)
			c->cwnd = c->w_est;
		return;
	}

	target = cubic_w(cc, c, tquic_sat_add(t, rtt));
	target = tquic_min_u64(target, tquic_sat_add(c->cwnd, c->cwnd / 2));
	if (target <= c->cwnd)
		return;
	c->acc_cubic = tquic_sat_add(c->acc_cubic,
				     tquic_sat_mul(target - c->cwnd, s->bytes_acked));
	inc = c->acc_cubic / c->cwnd;
	if (inc) {
		c->acc_cubic -= inc * c->cwnd;
		c->cwnd = tquic_sat_add(c->cwnd, inc);
	}
}

/* HyStart++ round bookkeeping and RTT checks (RFC 9406 section 4.2). */
static void hystart_on_ack(struct cubic *c,
			   const struct tquic_ack_sample *s)
{
	u64 thresh;
	bool round_end = !c->round_valid || s->newest_sent_time > c->round_start;

	if (round_end) {
		if (c->round_valid && c->hs_state == HS_CSS) {
			c->css_rounds++;
			if (c->css_rounds >= HS_CSS_ROUNDS) {
				/* Enter congestion avoidance. */
				c->ssthresh = c->cwnd;
				c->hs_state = HS_DONE;
				return;
			}
		}
		c->round_valid = true;
		c->round_start = s->now;
		c->last_round_min_rtt = c->cur_round_min_rtt;
		c->cur_round_min_rtt = TQUIC_U64_MAX;
		c->rtt_sample_count = 0;
	}
	if (!s->rtt)
		return;
	if (s->rtt < c->cur_round_min_rtt)
		c->cur_round_min_rtt = s->rtt;
	c->rtt_sample_count++;
	if (c->rtt_sample_count < HS_N_RTT_SAMPLE)
		return;

	if (c->hs_state == HS_SLOW_START) {
		if (c->last_round_min_rtt == TQUIC_U64_MAX ||
		    c->cur_round_min_rtt == TQUIC_U64_MAX)
			return;
		thresh = tquic_clamp_u64(c->last_round_min_rtt / HS_MIN_RTT_DIVISOR,
					 HS_MIN_RTT_THRESH, HS_MAX_RTT_THRESH);
		if (c->cur_round_min_rtt >=
		    tquic_sat_add(c->last_round_min_rtt, thresh)) {
			c->css_baseline_min_rtt = c->cur_round_min_rtt;
			c->css_rounds = 0;
			c->hs_state = HS_CSS;
		}
	} else if (c->hs_state == HS_CSS) {
		if (c->cur_round_min_rtt < c->css_baseline_min_rtt) {
			/* The RTT increase was spurious: back to slow start. */
			c->css_baseline_min_rtt = TQUIC_U64_MAX;
			c->hs_state = HS_SLOW_START;
		}
	}
}

static void cubic_on_ack(struct tquic_cc *cc, const struct tquic_ack_sample *s)
{
	struct cubic *c = CUBIC(cc);

	c->last_ack_time = s->now;
	if (!s->bytes_acked || cubic_in_recovery(cc, s->newest_sent_time))
		return;
	c->in_recovery = false;
	/* RFC 9438 section 5.8 / RFC 9002 section 7.8: no growth when app limited. */
	if (s->app_limited)
		return;

	if (c->cwnd < c->ssthresh) {
		if (c->hs_state != HS_DONE)
			hystart_on_ack(c, s);
		if (c->cwnd >= c->ssthresh)
			return;
		/* Paced senders use no growth limit L (RFC 9406 section 4.3). */
		if (c->hs_state == HS_CSS)
			c->cwnd = tquic_sat_add(c->cwnd,
						s->bytes_acked / HS_CSS_GROWTH_DIVISOR);
		else
			c->cwnd = tquic_sat_add(c->cwnd, s->bytes_acked);
		return;
	}
	cubic_ca(cc, c, s);
}

static void cubic_on_sent(struct tquic_cc *cc, u64 now, u64 bytes, u64 in_flight)
{
	struct cubic *c = CUBIC(cc);
	u64 last = tquic_max_u64(c->last_ack_time, c->last_sent_time);

	(void)bytes;
	/*
	 * Restarting after an idle period: the curve must not count the idle
	 * time as growth time (as Linux does on CA_EVENT_TX_START).
	 */
	if (!in_flight && c->epoch_valid && now > last)
		c->epoch_start = tquic_min_u64(tquic_sat_add(c->epoch_start, now - last),
					       now);
	c->last_sent_time = now;
}

static void cubic_reduce(struct tquic_cc *cc, u64 now, u64 sent_time)
{
	struct cubic *c = CUBIC(cc);

	if (cubic_in_recovery(cc, sent_time))
		return;
	c->recovery_valid = true;
	c->in_recovery = true;
	c->recovery_start = now;
	c->epoch_valid = false;
	c->cwnd_prior = c->cwnd;
	/* Fast convergence (section 4.7). */
	if (c->cwnd < c->w_max)
		c->w_max = c->cwnd * (CUBIC_BETA_DEN + CUBIC_BETA_NUM) /
			   (2 * CUBIC_BETA_DEN);
	else
		c->w_max = c->cwnd;
	c->ssthresh = tquic_max_u64(tquic_mul_div(c->cwnd, CUBIC_BETA_NUM,
						  CUBIC_BETA_DEN),
				    tquic_cc_min_window(cc->mss));
	c->cwnd = c->ssthresh;
	c->hs_state = HS_DONE;
	cc->congestion_events++;
}

static void cubic_on_loss(struct tquic_cc *cc, const struct tquic_loss_sample *l)
{
	cubic_reduce(cc, l->now, l->largest_lost_sent_time);
}

static void cubic_on_ecn(struct tquic_cc *cc, const struct tquic_ecn_sample *e)
{
	if (!e->ce_delta)
		return;
	cc->ecn_events++;
	cubic_reduce(cc, e->now, e->largest_acked_sent_time);
}

static void cubic_on_pc(struct tquic_cc *cc, u64 now)
{
	struct cubic *c = CUBIC(cc);

	(void)now;
	c->cwnd = tquic_cc_min_window(cc->mss);
	c->recovery_valid = false;
	c->in_recovery = false;
	c->epoch_valid = false;
	/* Slow start again up to ssthresh, with HyStart++ watching the RTT. */
	c->hs_state = HS_SLOW_START;
	hystart_reset(c);
	cc->persistent_congestion_events++;
}

static void cubic_on_mss_change(struct tquic_cc *cc, u32 old_mss)
{
	struct cubic *c = CUBIC(cc);

	(void)old_mss;
	c->cwnd = tquic_max_u64(c->cwnd, tquic_cc_min_window(cc->mss));
	c->epoch_valid = false;
}

static u64 cubic_cwnd(const struct tquic_cc *cc)
{
	return CUBIC(cc)->cwnd;
}

static u64 cubic_ssthresh(const struct tquic_cc *cc)
{
	return CUBIC(cc)->ssthresh;
}

static bool cubic_in_slow_start(const struct tquic_cc *cc)
{
	const struct cubic *c = CUBIC(cc);

	return c->cwnd < c->ssthresh;
}

static const char *cubic_state(const struct tquic_cc *cc)
{
	const struct cubic *c = CUBIC(cc);

	if (c->in_recovery)
		return "recovery";
	if (c->cwnd >= c->ssthresh)
		return "congestion_avoidance";
	return c->hs_state == HS_CSS ? "conservative_slow_start" : "slow_start";
}

u64 tquic_cubic_w(const struct tquic_cc *cc, u64 t_ns, u64 *k_ns)
{
	const struct cubic *c = CUBIC(cc);

	if (k_ns)
		*k_ns = tquic_mul_div(c->k, TQUIC_NSEC_PER_SEC, 1ULL << CUBIC_TICK_SHIFT);
	return cubic_w(cc, c, ns_to_ticks(t_ns));
}

u64 tquic_cubic_w_max(const struct tquic_cc *cc)
{
	return CUBIC(cc)->w_max;
}

const struct tquic_cc_ops tquic_cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.on_packet_sent = cubic_on_sent,
	.on_ack = cubic_on_ack,
	.on_congestion_event = cubic_on_loss,
	.on_persistent_congestion = cubic_on_pc,
	.on_ecn = cubic_on_ecn,
	.on_mss_change = cubic_on_mss_change,
	.cwnd = cubic_cwnd,
	.ssthresh = cubic_ssthresh,
	.in_slow_start = cubic_in_slow_start,
	.in_recovery = cubic_in_recovery,
	.state_name = cubic_state,
};
