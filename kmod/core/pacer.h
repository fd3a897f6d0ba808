/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Pacing: a token bucket in bytes refilled at the path's pacing rate.
 *
 * The bucket holds at most @burst_packets datagrams' worth of bytes (10 by
 * default, the initial burst RFC 9002 section 7.7 allows); it starts full.
 * A datagram may leave when the bucket holds its size; otherwise
 * tquic_pacer_next_send_time() says when it will.  Rate 0 or U64_MAX means
 * "not paced".  One pacer per path.
 */
#ifndef _TQUIC_CORE_PACER_H
#define _TQUIC_CORE_PACER_H

#include "platform.h"
#include "cc_math.h"

#define TQUIC_PACER_BURST_PACKETS	10

struct tquic_pacer {
	u64 rate;		/* bytes per second; 0 = unpaced */
	u64 tokens;		/* bytes */
	u64 capacity;		/* bytes */
	u64 last;		/* time the bucket was last brought up to date */
	u32 mss;
	u32 burst_packets;
};

/* @burst_packets: 0 selects TQUIC_PACER_BURST_PACKETS. */
void tquic_pacer_init(struct tquic_pacer *p, u32 mss, u32 burst_packets, u64 now);

/* Sets the rate in bytes per second (refilling at the old rate first). */
void tquic_pacer_set_rate(struct tquic_pacer *p, u64 rate, u64 now);

/* Changes the datagram size (the burst capacity follows). */
void tquic_pacer_set_mss(struct tquic_pacer *p, u32 mss);

/*
 * Earliest time (>= @now) a datagram of @bytes may be sent.  Does not
 * change the pacer: call tquic_pacer_on_sent() when the datagram leaves.
 */
u64 tquic_pacer_next_send_time(struct tquic_pacer *p, u64 bytes, u64 now);

/* Charges @bytes sent at @now. */
void tquic_pacer_on_sent(struct tquic_pacer *p, u64 bytes, u64 now);

/* Number of bytes the pacer lets go at @now without waiting. */
u64 tquic_pacer_budget(struct tquic_pacer *p, u64 now);

#endif /* _TQUIC_CORE_PACER_H */
