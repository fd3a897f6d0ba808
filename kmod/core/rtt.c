// SPDX-License-Identifier: GPL-2.0 OR MIT
/* RTT estimation and probe timeout (RFC 9002 sections 5 and 6.2). */
#include "rtt.h"

void tquic_rtt_reset(struct tquic_rtt *r)
{
	r->latest_rtt = 0;
	r->min_rtt = 0;
	r->smoothed_rtt = r->initial_rtt;
	r->rttvar = r->initial_rtt / 2;
	r->first_sample_time = 0;
	r->samples = 0;
	r->has_sample = false;
}

void tquic_rtt_init(struct tquic_rtt *r, u64 initial_rtt)
{
	memset(r, 0, sizeof(*r));
	r->initial_rtt = initial_rtt ? initial_rtt : TQUIC_INITIAL_RTT_NS;
	r->max_ack_delay = TQUIC_DEFAULT_MAX_ACK_DELAY_NS;
	tquic_rtt_reset(r);
}

void tquic_rtt_set_max_ack_delay(struct tquic_rtt *r, u64 max_ack_delay)
{
	r->max_ack_delay = max_ack_delay;
}

void tquic_rtt_update(struct tquic_rtt *r, u64 latest, u64 ack_delay,
		      bool handshake_confirmed, u64 now)
{
	u64 adjusted, diff;

	r->latest_rtt = latest;
	r->samples++;
	if (!r->has_sample) {
		r->has_sample = true;
		r->first_sample_time = now;
		r->min_rtt = latest;
		r->smoothed_rtt = latest;
		r->rttvar = latest / 2;
		return;
	}

	/* min_rtt ignores the acknowledgment delay. */
	if (latest < r->min_rtt)
		r->min_rtt = latest;
	if (handshake_confirmed && ack_delay > r->max_ack_delay)
		ack_delay = r->max_ack_delay;
	/* Never adjust below min_rtt. */
	adjusted = latest;
	if (latest >= tquic_sat_add(r->min_rtt, ack_delay))
		adjusted = latest - ack_delay;

	diff = r->smoothed_rtt > adjusted ? r->smoothed_rtt - adjusted :
					    adjusted - r->smoothed_rtt;
	/* Weights 3/4 and 7/8; each term is divided first so the sums cannot overflow. */
	r->rttvar = r->rttvar - r->rttvar / 4 + diff / 4;
	r->smoothed_rtt = r->smoothed_rtt - r->smoothed_rtt / 8 + adjusted / 8;
}

u64 tquic_rtt_pto_base(const struct tquic_rtt *r)
{
	return tquic_sat_add(r->smoothed_rtt,
			     tquic_max_u64(tquic_sat_mul(4, r->rttvar),
					   TQUIC_GRANULARITY_NS));
}

u64 tquic_rtt_pto(const struct tquic_rtt *r, bool with_max_ack_delay,
		  unsigned int backoff)
{
	u64 pto = tquic_rtt_pto_base(r);

	if (with_max_ack_delay)
		pto = tquic_sat_add(pto, r->max_ack_delay);
	if (backoff > TQUIC_PTO_MAX_BACKOFF)
		backoff = TQUIC_PTO_MAX_BACKOFF;
	return tquic_sat_shl(pto, backoff);
}

u64 tquic_rtt_loss_delay(const struct tquic_rtt *r)
{
	u64 rtt = tquic_max_u64(r->smoothed_rtt, r->latest_rtt);

	rtt = tquic_sat_add(rtt, rtt / 8);
	return tquic_max_u64(rtt, TQUIC_GRANULARITY_NS);
}

u64 tquic_rtt_pc_duration(const struct tquic_rtt *r, bool with_max_ack_delay)
{
	return tquic_sat_mul(3, tquic_rtt_pto(r, with_max_ack_delay, 0));
}
