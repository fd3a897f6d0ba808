/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * RTT estimation and probe timeout (RFC 9002 sections 5 and 6.2).
 *
 * One estimator per path.  Times are u64 nanoseconds.
 */
#ifndef _TQUIC_CORE_RTT_H
#define _TQUIC_CORE_RTT_H

#include "platform.h"
#include "cc_math.h"

/* RFC 9002 section 6.1.2 / 6.2.2 constants. */
#define TQUIC_GRANULARITY_NS		(1ULL * TQUIC_NSEC_PER_MSEC)
#define TQUIC_INITIAL_RTT_NS		(333ULL * TQUIC_NSEC_PER_MSEC)
/* Default max_ack_delay transport parameter (RFC 9000 section 18.2). */
#define TQUIC_DEFAULT_MAX_ACK_DELAY_NS	(25ULL * TQUIC_NSEC_PER_MSEC)
/* PTO backoff never shifts by more than this (2^16 x PTO is beyond any idle timeout). */
#define TQUIC_PTO_MAX_BACKOFF		16

struct tquic_rtt {
	u64 latest_rtt;
	u64 min_rtt;
	u64 smoothed_rtt;
	u64 rttvar;
	u64 initial_rtt;
	u64 max_ack_delay;	/* the peer's max_ack_delay */
	u64 first_sample_time;	/* time of the first sample; valid if has_sample */
	u64 samples;		/* number of samples taken */
	bool has_sample;
};

/* @initial_rtt: 0 selects the RFC 9002 default of 333 ms. */
void tquic_rtt_init(struct tquic_rtt *r, u64 initial_rtt);

/* Records the peer's max_ack_delay (from its transport parameters). */
void tquic_rtt_set_max_ack_delay(struct tquic_rtt *r, u64 max_ack_delay);

/*
 * Takes one RTT sample (RFC 9002 section 5.3).  @latest is now minus the
 * send time of the largest newly acknowledged packet; @ack_delay is the
 * decoded ACK Delay (0 to ignore it, e.g. for Initial packets).  Once
 * @handshake_confirmed, @ack_delay is clamped to the peer's max_ack_delay.
 */
void tquic_rtt_update(struct tquic_rtt *r, u64 latest, u64 ack_delay,
		      bool handshake_confirmed, u64 now);

/* smoothed_rtt + max(4 * rttvar, kGranularity): the PTO without max_ack_delay. */
u64 tquic_rtt_pto_base(const struct tquic_rtt *r);

/*
 * The probe timeout period with exponential backoff: (pto_base +
 * (@with_max_ack_delay ? max_ack_delay : 0)) << @backoff, saturating.
 */
u64 tquic_rtt_pto(const struct tquic_rtt *r, bool with_max_ack_delay,
		  unsigned int backoff);

/* Time-threshold loss delay: max(9/8 * max(smoothed, latest), kGranularity). */
u64 tquic_rtt_loss_delay(const struct tquic_rtt *r);

/*
 * Persistent congestion duration (RFC 9002 section 7.6.1):
 * (smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay) * 3.
 */
u64 tquic_rtt_pc_duration(const struct tquic_rtt *r, bool with_max_ack_delay);

/*
 * Restarts the estimator as if no sample had been taken (RFC 9000 section
 * 9.4: a new path after migration), keeping max_ack_delay.
 */
void tquic_rtt_reset(struct tquic_rtt *r);

#endif /* _TQUIC_CORE_RTT_H */
