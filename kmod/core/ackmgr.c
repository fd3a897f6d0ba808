// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Receive-side acknowledgment management; see ackmgr.h. */
#include "ackmgr.h"

#define ACKMGR_MIN_CAP		4U
#define MAX_ACK_DELAY_EXPONENT	20

static void space_init(struct tquic_ackmgr_space *s)
{
	memset(s, 0, sizeof(*s));
	s->largest = TQUIC_PN_NONE;
	s->largest_reported = TQUIC_PN_NONE;
	s->deadline = TQUIC_TIME_NONE;
}

int tquic_ackmgr_init(struct tquic_ackmgr *am, u32 path_id, u64 max_ack_delay,
		      u8 ack_delay_exponent, unsigned int gfp)
{
	memset(am, 0, sizeof(*am));
	am->hs = tquic_mem_alloc(2 * sizeof(*am->hs), gfp);
	if (!am->hs)
		return -ENOMEM;
	space_init(&am->hs[TQUIC_PN_SPACE_INITIAL]);
	space_init(&am->hs[TQUIC_PN_SPACE_HANDSHAKE]);
	space_init(&am->app);
	am->path_id = path_id;
	am->max_ack_delay = max_ack_delay ? max_ack_delay :
					    TQUIC_DEFAULT_MAX_ACK_DELAY_NS;
	am->ack_delay_exponent = ack_delay_exponent > MAX_ACK_DELAY_EXPONENT ?
				 MAX_ACK_DELAY_EXPONENT : ack_delay_exponent;
	am->max_ranges = TQUIC_ACK_DEFAULT_RANGES;
	am->threshold = TQUIC_ACK_DEFAULT_THRESHOLD;
	am->reorder = TQUIC_ACK_DEFAULT_REORDER;
	return 0;
}

void tquic_ackmgr_discard(struct tquic_ackmgr *am, enum tquic_pn_space space)
{
	struct tquic_ackmgr_space *s = tquic_ackmgr_space(am, space);

	if (!s)
		return;
	tquic_mem_free(s->ranges);
	space_init(s);
	s->discarded = true;
	/* Initial and Handshake both gone: their block goes too. */
	if (am->hs && am->hs[TQUIC_PN_SPACE_INITIAL].discarded &&
	    am->hs[TQUIC_PN_SPACE_HANDSHAKE].discarded) {
		tquic_mem_free(am->hs);
		am->hs = NULL;
	}
}

void tquic_ackmgr_release(struct tquic_ackmgr *am)
{
	unsigned int i;

	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++)
		tquic_ackmgr_discard(am, (enum tquic_pn_space)i);
}

void tquic_ackmgr_set_max_ranges(struct tquic_ackmgr *am, u32 n)
{
	unsigned int i;

	if (!n || n > TQUIC_ACK_MAX_RANGES)
		n = TQUIC_ACK_MAX_RANGES;
	am->max_ranges = n;
	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++) {
		struct tquic_ackmgr_space *s = tquic_ackmgr_space(am, (enum tquic_pn_space)i);

		while (s && s->nranges > n) {
			s->floor = s->ranges[s->nranges - 1].largest + 1;
			s->nranges--;
		}
	}
}

void tquic_ackmgr_set_path_ack(struct tquic_ackmgr *am, bool on)
{
	am->path_ack = on;
}

void tquic_ackmgr_set_accurate_ecn(struct tquic_ackmgr *am, bool on)
{
	am->accurate_ecn = on;
}

void tquic_ackmgr_set_min_ack_delay(struct tquic_ackmgr *am, u64 ns)
{
	am->min_ack_delay = ns;
}

static u64 space_max_ack_delay(const struct tquic_ackmgr *am,
			       enum tquic_pn_space space)
{
	/* Initial and Handshake packets are acknowledged immediately. */
	if (space != TQUIC_PN_SPACE_APP)
		return 0;
	return am->af_max_ack_delay ? am->af_max_ack_delay : am->max_ack_delay;
}

static void rearm(struct tquic_ackmgr *am, enum tquic_pn_space space)
{
	struct tquic_ackmgr_space *s = tquic_ackmgr_space(am, space);

	if (!s->eliciting)
		s->deadline = TQUIC_TIME_NONE;
	else if (s->immediate)
		s->deadline = s->first_unacked_time;
	else
		s->deadline = tquic_sat_add(s->first_unacked_time,
					    space_max_ack_delay(am, space));
	if (s->eliciting && s->deadline < s->hold_until)
		s->deadline = s->hold_until;
}

void tquic_ackmgr_hold(struct tquic_ackmgr *am, enum tquic_pn_space space, u64 until)
{
	struct tquic_ackmgr_space *s = tquic_ackmgr_space(am, space);

	if (!s)
		return;
	s->hold_until = until;
	rearm(am, space);
}

int tquic_ackmgr_on_ack_frequency(struct tquic_ackmgr *am,
				  const struct tquic_frame_ack_freq *af, u64 now)
{
	u64 delay;

	(void)now;
	if (am->af_seen && af->seq <= am->af_seq)
		return 0;
	delay = tquic_sat_mul(af->request_max_ack_delay, TQUIC_NSEC_PER_USEC);
	if (am->min_ack_delay && delay < am->min_ack_delay)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	am->af_seen = true;
	am->af_seq = af->seq;
	am->threshold = af->ack_eliciting_threshold;
	am->af_max_ack_delay = delay ? delay : 1;
	am->reorder = af->reordering_threshold;
	rearm(am, TQUIC_PN_SPACE_APP);
	return 0;
}

void tquic_ackmgr_on_immediate_ack(struct tquic_ackmgr *am,
				   enum tquic_pn_space space, u64 now)
{
	struct tquic_ackmgr_space *s;

	s = tquic_ackmgr_space(am, space);
	if (!s)
		return;
	/* The packet carrying IMMEDIATE_ACK is ack-eliciting: an ACK is due now. */
	s->immediate = true;
	if (!s->eliciting) {
		s->eliciting = 1;
		s->first_unacked_time = now;
	}
	rearm(am, space);
}

bool tquic_ackmgr_is_duplicate(const struct tquic_ackmgr *am,
			       enum tquic_pn_space space, u64 pn)
{
	const struct tquic_ackmgr_space *s;
	u32 i;

	s = tquic_ackmgr_space(am, space);
	if (!s)
		return true;
	if (pn < s->floor)
		return true;
	for (i = 0; i < s->nranges; i++) {
		if (pn > s->ranges[i].largest)
			return false;
		if (pn >= s->ranges[i].smallest)
			return true;
	}
	return false;
}

static bool can_join(const struct tquic_ackmgr *am, enum tquic_pn_space space,
		     u8 a, u8 b)
{
	return a == b || !(am->accurate_ecn && space == TQUIC_PN_SPACE_APP);
}

static void range_grow(struct tquic_ackmgr_space *s, u32 max, unsigned int gfp)
{
	struct tquic_ack_range *r;
	u32 cap;

	if (s->cap >= max)
		return;
	cap = s->cap ? s->cap * 2 : ACKMGR_MIN_CAP;
	if (cap > max)
		cap = max;
	r = tquic_mem_alloc(cap * sizeof(*r), gfp);
	if (!r)
		return;
	if (s->nranges)
		memcpy(r, s->ranges, s->nranges * sizeof(*r));
	tquic_mem_free(s->ranges);
	s->ranges = r;
	s->cap = cap;
}

/* Inserts @pn (known not to be a duplicate) into the range list. */
static void ranges_insert(struct tquic_ackmgr *am, enum tquic_pn_space space,
			  u64 pn, u8 ecn, unsigned int gfp)
{
	struct tquic_ackmgr_space *s = tquic_ackmgr_space(am, space);
	struct tquic_ack_range *r;
	bool up, down;
	u32 i;

	for (i = 0; i < s->nranges; i++)
		if (pn > s->ranges[i].largest)
			break;
	r = s->ranges;
	/* ranges[i - 1] lies above @pn, ranges[i] below it. */
	up = i > 0 && r[i - 1].smallest == pn + 1 &&
	     can_join(am, space, r[i - 1].ecn, ecn);
	down = i < s->nranges && r[i].largest + 1 == pn &&
	       can_join(am, space, r[i].ecn, ecn);
	if (up && down) {
		r[i - 1].smallest = r[i].smallest;
		memmove(&r[i], &r[i + 1], (s->nranges - i - 1) * sizeof(*r));
		s->nranges--;
		return;
	}
	if (up) {
		r[i - 1].smallest = pn;
		return;
	}
	if (down) {
		r[i].largest = pn;
		return;
	}
	if (s->nranges == s->cap)
		range_grow(s, am->max_ranges, gfp);
	if (s->nranges == s->cap) {
		if (!s->cap || i == s->nranges) {
			/* Older than everything we can keep: forget it. */
			s->floor = tquic_max_u64(s->floor, pn + 1);
			return;
		}
		/* Drop the oldest range. */
		s->floor = s->ranges[s->nranges - 1].largest + 1;
		s->nranges--;
	}
	r = s->ranges;
	memmove(&r[i + 1], &r[i], (s->nranges - i) * sizeof(*r));
	r[i].smallest = pn;
	r[i].largest = pn;
	r[i].ecn = ecn;
	s->nranges++;
}

/*
 * Whether a packet is missing that the peer has not been told about and
 * that is at least @am->reorder below the largest received
 * (draft-ietf-quic-ack-frequency, "expediting the acknowledgment of gaps").
 */
static bool gap_needs_ack(const struct tquic_ackmgr *am,
			  const struct tquic_ackmgr_space *s)
{
	u64 rep_next = s->largest_reported == TQUIC_PN_NONE ? 0 :
		       s->largest_reported + 1;
	u64 lo, hi, m;
	u32 i;

	if (!am->reorder || !s->nranges)
		return false;
	/* Walk the gaps from the oldest upwards. */
	for (i = s->nranges; i > 0; i--) {
		const struct tquic_ack_range *r = &s->ranges[i - 1];

		if (!r->smallest)
			continue;
		lo = i == s->nranges ? s->floor : s->ranges[i].largest + 1;
		hi = r->smallest - 1;
		if (lo > hi || hi < rep_next)
			continue;
		m = tquic_max_u64(lo, rep_next);
		return tquic_sat_add(m, am->reorder) <= s->largest;
	}
	return false;
}

int tquic_ackmgr_on_packet(struct tquic_ackmgr *am, enum tquic_pn_space space,
			   u64 pn, bool ack_eliciting, u8 ecn, u64 now,
			   unsigned int gfp)
{
	struct tquic_ackmgr_space *s;
	u64 prev_largest;
	bool reordered;

	s = tquic_ackmgr_space(am, space);
	if (!s || pn > TQUIC_VARINT_MAX || ecn > TQUIC_ECN_CE)
		return -EINVAL;
	if (tquic_ackmgr_is_duplicate(am, space, pn))
		return -EEXIST;
	prev_largest = s->largest;
	ranges_insert(am, space, pn, ecn, gfp);
	if (prev_largest == TQUIC_PN_NONE || pn > prev_largest) {
		s->largest = pn;
		s->largest_time = now;
	}
	if (ecn == TQUIC_ECN_ECT0)
		s->ect0++;
	else if (ecn == TQUIC_ECN_ECT1)
		s->ect1++;
	else if (ecn == TQUIC_ECN_CE)
		s->ce++;
	s->pending = true;
	if (!ack_eliciting)
		return 0;

	if (!s->eliciting++)
		s->first_unacked_time = now;
	reordered = prev_largest != TQUIC_PN_NONE && pn < prev_largest;
	if (space != TQUIC_PN_SPACE_APP ||		/* RFC 9000 13.2.1 */
	    ecn == TQUIC_ECN_CE ||			/* CE: react fast */
	    s->eliciting > am->threshold ||
	    (reordered && am->reorder == 1) ||
	    gap_needs_ack(am, s))
		s->immediate = true;
	rearm(am, space);
	return 0;
}

bool tquic_ackmgr_should_send(const struct tquic_ackmgr *am,
			      enum tquic_pn_space space, u64 now)
{
	const struct tquic_ackmgr_space *s;

	s = tquic_ackmgr_space(am, space);
	if (!s)
		return false;
	return s->eliciting && s->nranges && now >= s->hold_until &&
	       (s->immediate || s->deadline <= now);
}

bool tquic_ackmgr_has_pending(const struct tquic_ackmgr *am,
			      enum tquic_pn_space space)
{
	const struct tquic_ackmgr_space *s = tquic_ackmgr_space(am, space);

	return s && s->pending && s->nranges;
}

u64 tquic_ackmgr_deadline(const struct tquic_ackmgr *am)
{
	const struct tquic_ackmgr_space *s;
	u64 t = TQUIC_TIME_NONE;
	unsigned int i;

	for (i = 0; i < TQUIC_PN_SPACE_COUNT; i++) {
		s = tquic_ackmgr_space(am, (enum tquic_pn_space)i);
		if (s && s->nranges && s->deadline < t)
			t = s->deadline;
	}
	return t;
}

int tquic_ackmgr_build(const struct tquic_ackmgr *am, enum tquic_pn_space space,
		       u64 now, u32 max_ranges, struct tquic_frame *f)
{
	const struct tquic_ackmgr_space *s;
	struct tquic_frame_ack *a = &f->u.ack;
	bool app = space == TQUIC_PN_SPACE_APP;
	bool ecn;
	u64 delay = 0;
	u8 exp;

	s = tquic_ackmgr_space(am, space);
	if (!s || !s->nranges)
		return -ENODATA;
	memset(f, 0, sizeof(*f));
	ecn = s->ect0 || s->ect1 || s->ce;
	if (app && am->accurate_ecn)
		f->type = TQUIC_FT_ACCURATE_ACK_ECN;
	else if (app && am->path_ack)
		f->type = ecn ? TQUIC_FT_PATH_ACK_ECN : TQUIC_FT_PATH_ACK;
	else
		f->type = ecn ? TQUIC_FT_ACK_ECN : TQUIC_FT_ACK;
	a->path_id = am->path_id;
	a->list = s->ranges;
	a->list_len = s->nranges;
	if (!max_ranges || max_ranges > am->max_ranges)
		max_ranges = am->max_ranges;
	if (a->list_len > max_ranges)
		a->list_len = max_ranges;
	a->largest = s->ranges[0].largest;
	a->smallest = s->ranges[a->list_len - 1].smallest;
	/* Delay since the largest acknowledged packet arrived. */
	if (s->ranges[0].largest == s->largest && now > s->largest_time)
		delay = (now - s->largest_time) / TQUIC_NSEC_PER_USEC;
	exp = app ? am->ack_delay_exponent : TQUIC_ACK_DEFAULT_EXPONENT;
	a->delay = tquic_min_u64(delay >> exp, TQUIC_VARINT_MAX);
	a->ect0 = s->ect0;
	a->ect1 = s->ect1;
	a->ce = s->ce;
	return 0;
}

void tquic_ackmgr_on_ack_sent(struct tquic_ackmgr *am, enum tquic_pn_space space,
			      const struct tquic_frame *f, u64 now)
{
	struct tquic_ackmgr_space *s;

	(void)now;
	s = tquic_ackmgr_space(am, space);
	if (!s)
		return;
	s->eliciting = 0;
	s->pending = false;
	s->immediate = false;
	s->deadline = TQUIC_TIME_NONE;
	if (s->largest_reported == TQUIC_PN_NONE ||
	    f->u.ack.largest > s->largest_reported)
		s->largest_reported = f->u.ack.largest;
}

void tquic_ackmgr_on_ack_acked(struct tquic_ackmgr *am, enum tquic_pn_space space,
			       u64 largest)
{
	struct tquic_ackmgr_space *s;

	s = tquic_ackmgr_space(am, space);
	if (!s)
		return;
	while (s->nranges && s->ranges[s->nranges - 1].largest <= largest)
		s->nranges--;
	if (s->nranges && s->ranges[s->nranges - 1].smallest <= largest)
		s->ranges[s->nranges - 1].smallest = largest + 1;
	s->floor = tquic_max_u64(s->floor, largest + 1);
}
