// SPDX-License-Identifier: GPL-2.0 OR MIT
/* NewReno congestion control as RFC 9002 section 7 describes it. */
#include "cc.h"

struct newreno {
	u64 cwnd;
	u64 ssthresh;
	u64 recovery_start;	/* valid if recovery_valid */
	u64 ca_acc;		/* bytes acked * mss not yet turned into cwnd */
	bool recovery_valid;	/* recovery_start is set */
	bool in_recovery;	/* no ACK of a packet sent after recovery_start yet */
};

#define NR(cc) TQUIC_CC_PRIV(cc, struct newreno)

static int newreno_init(struct tquic_cc *cc, u64 now)
{
	struct newreno *nr = NR(cc);

	(void)now;
	memset(nr, 0, sizeof(*nr));
	nr->cwnd = tquic_cc_initial_window(cc->mss);
	nr->ssthresh = TQUIC_U64_MAX;
	return 0;
}

static bool newreno_in_recovery(const struct tquic_cc *cc, u64 sent_time)
{
	const struct newreno *nr = NR(cc);

	return nr->recovery_valid && sent_time <= nr->recovery_start;
}

static void newreno_on_ack(struct tquic_cc *cc, const struct tquic_ack_sample *s)
{
	struct newreno *nr = NR(cc);
	u64 inc;

	if (!s->bytes_acked || newreno_in_recovery(cc, s->newest_sent_time))
		return;
	/* Leaving recovery: an ACK for a packet sent after it started. */
	nr->in_recovery = false;
	/* RFC 9002 section 7.8: no growth while the window is underused. */
	if (s->app_limited)
		return;
	if (nr->cwnd < nr->ssthresh) {
		nr->cwnd = tquic_sat_add(nr->cwnd, s->bytes_acked);
		return;
	}
	nr->ca_acc = tquic_sat_add(nr->ca_acc, tquic_sat_mul(s->bytes_acked, cc->mss));
	if (nr->ca_acc >= nr->cwnd) {
		inc = nr->ca_acc / nr->cwnd;
		nr->ca_acc -= inc * nr->cwnd;
		nr->cwnd = tquic_sat_add(nr->cwnd, inc);
	}
}

static void newreno_reduce(struct tquic_cc *cc, u64 now, u64 sent_time)
{
	struct newreno *nr = NR(cc);

	if (newreno_in_recovery(cc, sent_time))
		return;
	nr->recovery_valid = true;
	nr->in_recovery = true;
	nr->recovery_start = now;
	nr->ssthresh = nr->cwnd / 2;
	nr->cwnd = tquic_max_u64(nr->ssthresh, tquic_cc_min_window(cc->mss));
	nr->ca_acc = 0;
	cc->congestion_events++;
}

static void newreno_on_loss(struct tquic_cc *cc, const struct tquic_loss_sample *l)
{
	newreno_reduce(cc, l->now, l->largest_lost_sent_time);
}

static void newreno_on_ecn(struct tquic_cc *cc, const struct tquic_ecn_sample *e)
{
	if (!e->ce_delta)
		return;
	cc->ecn_events++;
	newreno_reduce(cc, e->now, e->largest_acked_sent_time);
}

static void newreno_on_pc(struct tquic_cc *cc, u64 now)
{
	struct newreno *nr = NR(cc);

	(void)now;
	nr->cwnd = tquic_cc_min_window(cc->mss);
	nr->recovery_valid = false;
	nr->in_recovery = false;
	nr->ca_acc = 0;
	cc->persistent_congestion_events++;
}

static void newreno_on_mss_change(struct tquic_cc *cc, u32 old_mss)
{
	struct newreno *nr = NR(cc);

	(void)old_mss;
	nr->cwnd = tquic_max_u64(nr->cwnd, tquic_cc_min_window(cc->mss));
}

static u64 newreno_cwnd(const struct tquic_cc *cc)
{
	return NR(cc)->cwnd;
}

static u64 newreno_ssthresh(const struct tquic_cc *cc)
{
	return NR(cc)->ssthresh;
}

static bool newreno_in_slow_start(const struct tquic_cc *cc)
{
	const struct newreno *nr = NR(cc);

	return nr->cwnd < nr->ssthresh;
}

static const char *newreno_state(const struct tquic_cc *cc)
{
	const struct newreno *nr = NR(cc);

	if (nr->in_recovery)
		return "recovery";
	return nr->cwnd < nr->ssthresh ? "slow_start" : "congestion_avoidance";
}

const struct tquic_cc_ops tquic_cc_newreno = {
	.name = "newreno",
	.init = newreno_init,
	.on_ack = newreno_on_ack,
	.on_congestion_event = newreno_on_loss,
	.on_persistent_congestion = newreno_on_pc,
	.on_ecn = newreno_on_ecn,
	.on_mss_change = newreno_on_mss_change,
	.cwnd = newreno_cwnd,
	.ssthresh = newreno_ssthresh,
	.in_slow_start = newreno_in_slow_start,
	.in_recovery = newreno_in_recovery,
	.state_name = newreno_state,
};
