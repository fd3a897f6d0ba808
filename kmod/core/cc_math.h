/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Integer helpers for loss recovery, congestion control and pacing: time is
 * u64 nanoseconds, sizes are bytes.  No floating point, no 128-bit division
 * (the kernel does not link __udivti3): products that may overflow 64 bits
 * go through tquic_mul_div(), which widens by hand.
 */
#ifndef _TQUIC_CORE_CC_MATH_H
#define _TQUIC_CORE_CC_MATH_H

#include "platform.h"
#include "proto.h"

#define TQUIC_NSEC_PER_USEC	1000ULL
#define TQUIC_NSEC_PER_MSEC	1000000ULL
#define TQUIC_NSEC_PER_SEC	1000000000ULL
#define TQUIC_U64_MAX		(~0ULL)
/* No deadline. */
#define TQUIC_TIME_NONE		TQUIC_U64_MAX

static inline u64 tquic_min_u64(u64 a, u64 b)
{
	return a < b ? a : b;
}

static inline u64 tquic_max_u64(u64 a, u64 b)
{
	return a > b ? a : b;
}

static inline u64 tquic_clamp_u64(u64 v, u64 lo, u64 hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

static inline u64 tquic_sat_add(u64 a, u64 b)
{
	return a + b < a ? TQUIC_U64_MAX : a + b;
}

static inline u64 tquic_sat_sub(u64 a, u64 b)
{
	return a > b ? a - b : 0;
}

static inline u64 tquic_sat_mul(u64 a, u64 b)
{
	if (a && b > TQUIC_U64_MAX / a)
		return TQUIC_U64_MAX;
	return a * b;
}

/* Shifts @v left by @s, saturating. */
static inline u64 tquic_sat_shl(u64 v, unsigned int s)
{
	if (s >= 64)
		return v ? TQUIC_U64_MAX : 0;
	if (v > (TQUIC_U64_MAX >> s))
		return TQUIC_U64_MAX;
	return v << s;
}

/*
 * a * b / d rounded down, computed over a 128-bit product; saturates to
 * U64_MAX when the quotient does not fit (or @d is 0).
 */
static inline u64 tquic_mul_div(u64 a, u64 b, u64 d)
{
	u64 al = a & 0xffffffffULL, ah = a >> 32;
	u64 bl = b & 0xffffffffULL, bh = b >> 32;
	u64 ll, lh, hl, hh, mid, lo, hi, q;
	int i;

	if (!d)
		return TQUIC_U64_MAX;
	if (!a || !b)
		return 0;
	if (b <= TQUIC_U64_MAX / a)
		return a * b / d;

	ll = al * bl;
	lh = al * bh;
	hl = ah * bl;
	hh = ah * bh;
	mid = (ll >> 32) + (lh & 0xffffffffULL) + (hl & 0xffffffffULL);
	lo = (ll & 0xffffffffULL) | (mid << 32);
	hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
	if (hi >= d)
		return TQUIC_U64_MAX;

	/* Restoring division of hi:lo by d; the quotient fits in 64 bits. */
	q = 0;
	for (i = 0; i < 64; i++) {
		u64 top = hi >> 63;

		hi = (hi << 1) | (lo >> 63);
		lo <<= 1;
		q <<= 1;
		if (top || hi >= d) {
			hi -= d;
			q |= 1;
		}
	}
	return q;
}

/* a * b / d rounded up, saturating. */
static inline u64 tquic_mul_div_up(u64 a, u64 b, u64 d)
{
	u64 q = tquic_mul_div(a, b, d);

	if (q == TQUIC_U64_MAX || !d)
		return TQUIC_U64_MAX;
	/* Exact when q * d == a * b; compare modulo 2^64 is enough here
	 * because a * b - q * d < d. */
	if (a * b != q * d)
		q++;
	return q;
}

/* Floor of the cube root of @x (bitwise method, no floating point). */
static inline u64 tquic_cbrt_u64(u64 x)
{
	u64 y = 0, b;
	int s;

	for (s = 63; s >= 0; s -= 3) {
		y <<= 1;
		b = 3 * y * (y + 1) + 1;
		if ((x >> s) >= b) {
			x -= b << s;
			y++;
		}
	}
	return y;
}

#endif /* _TQUIC_CORE_CC_MATH_H */
