// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Congestion-control registry and shared helpers. */
#include "cc.h"

static const struct tquic_cc_ops *const tquic_cc_table[] = {
	&tquic_cc_cubic,
	&tquic_cc_newreno,
};

static bool cc_name_eq(const char *a, const char *b)
{
	unsigned int i;

	for (i = 0; i < TQUIC_CC_NAME_MAX; i++) {
		if (a[i] != b[i])
			return false;
		if (!a[i])
			return true;
	}
	return false;
}

const struct tquic_cc_ops *tquic_cc_find(const char *name)
{
	unsigned int i;

	if (!name)
		return NULL;
	for (i = 0; i < ARRAY_SIZE(tquic_cc_table); i++)
		if (cc_name_eq(tquic_cc_table[i]->name, name))
			return tquic_cc_table[i];
	return NULL;
}

const struct tquic_cc_ops *tquic_cc_get(unsigned int i)
{
	return i < ARRAY_SIZE(tquic_cc_table) ? tquic_cc_table[i] : NULL;
}

int tquic_cc_init(struct tquic_cc *cc, const struct tquic_cc_ops *ops,
		  const struct tquic_rtt *rtt, u32 mss, u32 path_id, u64 now)
{
	if (!ops)
		ops = tquic_cc_find(TQUIC_CC_DEFAULT_NAME);
	if (!ops || !rtt || mss < 64 || !ops->on_ack ||
	    !ops->on_congestion_event || !ops->on_persistent_congestion ||
	    !ops->cwnd || !ops->ssthresh || !ops->in_slow_start ||
	    !ops->in_recovery || !ops->state_name)
		return -EINVAL;
	memset(cc, 0, sizeof(*cc));
	cc->ops = ops;
	cc->rtt = rtt;
	cc->mss = mss;
	cc->path_id = path_id;
	return ops->init ? ops->init(cc, now) : 0;
}

void tquic_cc_release(struct tquic_cc *cc)
{
	if (cc->ops && cc->ops->release)
		cc->ops->release(cc);
	cc->ops = NULL;
}

int tquic_cc_set_mss(struct tquic_cc *cc, u32 mss)
{
	u32 old = cc->mss;

	if (mss < 64)
		return -EINVAL;
	cc->mss = mss;
	if (old != mss && cc->ops->on_mss_change)
		cc->ops->on_mss_change(cc, old);
	return 0;
}

u64 tquic_cc_pacing_rate(const struct tquic_cc *cc)
{
	u64 rate = 0, srtt, cwnd;

	if (cc->ops->pacing_rate)
		rate = cc->ops->pacing_rate(cc);
	if (rate)
		return rate;
	srtt = cc->rtt->has_sample ? cc->rtt->smoothed_rtt : cc->rtt->initial_rtt;
	if (!srtt)
		srtt = 1;
	cwnd = tquic_cc_cwnd(cc);
	/* gain 2 in slow start, 5/4 otherwise (RFC 9002 section 7.7). */
	if (tquic_cc_in_slow_start(cc))
		rate = tquic_mul_div(cwnd, 2 * TQUIC_NSEC_PER_SEC, srtt);
	else
		rate = tquic_mul_div(cwnd, 5 * TQUIC_NSEC_PER_SEC, 4 * srtt);
	return rate ? rate : 1;
}
