// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Pacing token bucket; see pacer.h. */
#include "pacer.h"

static bool pacer_unpaced(const struct tquic_pacer *p)
{
	return !p->rate || p->rate == TQUIC_U64_MAX;
}

/* Credits the bytes earned since p->last, keeping the sub-byte remainder. */
static void pacer_refill(struct tquic_pacer *p, u64 now)
{
	u64 elapsed, credit, used;

	if (now <= p->last)
		return;
	if (pacer_unpaced(p) || p->tokens >= p->capacity) {
		p->tokens = p->capacity;
		p->last = now;
		return;
	}
	elapsed = now - p->last;
	credit = tquic_mul_div(elapsed, p->rate, TQUIC_NSEC_PER_SEC);
	if (credit >= p->capacity - p->tokens) {
		p->tokens = p->capacity;
		p->last = now;
		return;
	}
	p->tokens += credit;
	/* Advance only by the time those whole bytes took. */
	used = tquic_mul_div(credit, TQUIC_NSEC_PER_SEC, p->rate);
	p->last += tquic_min_u64(used, elapsed);
}

static void pacer_set_capacity(struct tquic_pacer *p)
{
	p->capacity = (u64)p->burst_packets * p->mss;
	if (p->tokens > p->capacity)
		p->tokens = p->capacity;
}

void tquic_pacer_init(struct tquic_pacer *p, u32 mss, u32 burst_packets, u64 now)
{
	memset(p, 0, sizeof(*p));
	p->mss = mss;
	p->burst_packets = burst_packets ? burst_packets : TQUIC_PACER_BURST_PACKETS;
	pacer_set_capacity(p);
	p->tokens = p->capacity;
	p->last = now;
}

void tquic_pacer_set_rate(struct tquic_pacer *p, u64 rate, u64 now)
{
	if (rate == p->rate)
		return;
	pacer_refill(p, now);
	p->rate = rate;
	if (now > p->last)
		p->last = now;
}

void tquic_pacer_set_mss(struct tquic_pacer *p, u32 mss)
{
	p->mss = mss;
	pacer_set_capacity(p);
}

u64 tquic_pacer_budget(struct tquic_pacer *p, u64 now)
{
	if (pacer_unpaced(p))
		return TQUIC_U64_MAX;
	pacer_refill(p, now);
	return p->tokens;
}

u64 tquic_pacer_next_send_time(struct tquic_pacer *p, u64 bytes, u64 now)
{
	u64 wait, need;

	if (pacer_unpaced(p))
		return now;
	pacer_refill(p, now);
	/* A datagram larger than the bucket waits for a full bucket. */
	need = tquic_min_u64(bytes, p->capacity);
	if (p->tokens >= need)
		return now;
	wait = tquic_mul_div_up(need - p->tokens, TQUIC_NSEC_PER_SEC, p->rate);
	return tquic_max_u64(now, tquic_sat_add(p->last, wait));
}

void tquic_pacer_on_sent(struct tquic_pacer *p, u64 bytes, u64 now)
{
	if (pacer_unpaced(p))
		return;
	pacer_refill(p, now);
	p->tokens = tquic_sat_sub(p->tokens, bytes);
}
