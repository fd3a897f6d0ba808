/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Receive-side acknowledgment management (RFC 9000 section 13.2,
 * draft-ietf-quic-ack-frequency, draft-ietf-quic-multipath PATH_ACK,
 * draft-seemann-quic-accurate-ack-ecn).
 *
 * Per packet-number space: the received packet-number ranges (a bounded
 * list, largest first, the oldest dropped beyond the cap), duplicate
 * detection, ECN counts, and the decision when an ACK is due.  The ranges
 * are kept in the exact form the frame encoder takes (struct
 * tquic_ack_range, descending), so tquic_ackmgr_build() fills a struct
 * tquic_frame ready for tquic_frame_encode() without copying.
 *
 * One instance per path: path 0 uses all three spaces; further paths of a
 * multipath connection only the Application Data space.
 */
#ifndef _TQUIC_CORE_ACKMGR_H
#define _TQUIC_CORE_ACKMGR_H

#include "platform.h"
#include "cc_math.h"
#include "frame.h"
#include "recovery.h"

#define TQUIC_ACK_MAX_RANGES		32	/* compile-time ceiling */
#define TQUIC_ACK_DEFAULT_RANGES	32
#define TQUIC_ACK_DEFAULT_THRESHOLD	1	/* ACK after more than 1 ack-eliciting packet */
#define TQUIC_ACK_DEFAULT_REORDER	1	/* RFC 9000 behaviour */
#define TQUIC_ACK_DEFAULT_EXPONENT	3

struct tquic_ackmgr_space {
	struct tquic_ack_range *ranges;	/* descending; ranges[0] holds the largest */
	u32 nranges;
	u32 cap;
	u64 floor;		/* PNs below were forgotten: treated as duplicates */
	u64 largest;		/* largest PN received, TQUIC_PN_NONE if none */
	u64 largest_time;	/* when @largest arrived */
	u64 largest_reported;	/* Largest Acknowledged of the last ACK sent */
	u64 first_unacked_time;	/* arrival of the oldest unacknowledged ack-eliciting packet */
	u64 deadline;		/* TQUIC_TIME_NONE when no ACK is due */
	u64 hold_until;		/* no ACK-only packet before (0: none) */
	u32 eliciting;		/* ack-eliciting packets since the last ACK */
	bool pending;		/* anything received since the last ACK */
	bool immediate;
	bool discarded;
	u64 ect0, ect1, ce;	/* received ECN codepoint counts */
};

struct tquic_ackmgr {
	/*
	 * Application Data; Initial and Handshake (@hs[0] and @hs[1]) on the
	 * heap until both are discarded: a confirmed connection keeps @app only.
	 */
	struct tquic_ackmgr_space app;
	struct tquic_ackmgr_space *hs;
	u64 max_ack_delay;	/* our max_ack_delay transport parameter, ns */
	u64 min_ack_delay;	/* our min_ack_delay (ack-frequency), ns; 0 = not offered */
	u32 max_ranges;
	u32 path_id;
	u8 ack_delay_exponent;	/* our ack_delay_exponent transport parameter */
	bool path_ack;		/* Application Data ACKs are PATH_ACK(_ECN) */
	bool accurate_ecn;	/* Application Data ACKs are ACCURATE_ACK_ECN */
	/* ACK_FREQUENCY state. */
	bool af_seen;
	u64 af_seq;
	u64 threshold;		/* ack-eliciting threshold */
	u64 af_max_ack_delay;	/* ns; 0 = our max_ack_delay */
	u64 reorder;		/* reordering threshold */
};

/* The state of @space, NULL once it was discarded. */
static inline struct tquic_ackmgr_space *
tquic_ackmgr_space(const struct tquic_ackmgr *am, enum tquic_pn_space space)
{
	struct tquic_ackmgr_space *s;

	if (space == TQUIC_PN_SPACE_APP)
		s = (struct tquic_ackmgr_space *)&am->app;
	else if ((unsigned int)space < TQUIC_PN_SPACE_APP && am->hs)
		s = &am->hs[space];
	else
		return NULL;
	return s->discarded ? NULL : s;
}

/* Largest PN received in @space, TQUIC_PN_NONE when none (or discarded). */
static inline u64 tquic_ackmgr_largest(const struct tquic_ackmgr *am,
				       enum tquic_pn_space space)
{
	const struct tquic_ackmgr_space *s = tquic_ackmgr_space(am, space);

	return s ? s->largest : TQUIC_PN_NONE;
}

/*
 * @max_ack_delay 0 selects 25 ms; @ack_delay_exponent above 20 is clamped.
 * Allocates the Initial and Handshake space state: 0 or -ENOMEM.
 */
int tquic_ackmgr_init(struct tquic_ackmgr *am, u32 path_id, u64 max_ack_delay,
		      u8 ack_delay_exponent, unsigned int gfp);
void tquic_ackmgr_release(struct tquic_ackmgr *am);
/* Range cap (1..TQUIC_ACK_MAX_RANGES). */
void tquic_ackmgr_set_max_ranges(struct tquic_ackmgr *am, u32 n);
void tquic_ackmgr_set_path_ack(struct tquic_ackmgr *am, bool on);
void tquic_ackmgr_set_accurate_ecn(struct tquic_ackmgr *am, bool on);
/*
 * Sends no ACK of @space on its own before @until (0 lifts the hold); an
 * ACK still rides on any packet of the space sent meanwhile.
 */
void tquic_ackmgr_hold(struct tquic_ackmgr *am, enum tquic_pn_space space, u64 until);
/* Our min_ack_delay transport parameter (enables ACK_FREQUENCY checks). */
void tquic_ackmgr_set_min_ack_delay(struct tquic_ackmgr *am, u64 ns);

/*
 * Applies an ACK_FREQUENCY frame (older sequence numbers are ignored).
 * Returns 0 or TQUIC_ERR_PROTOCOL_VIOLATION (requested delay below our
 * min_ack_delay).
 */
int tquic_ackmgr_on_ack_frequency(struct tquic_ackmgr *am,
				  const struct tquic_frame_ack_freq *af, u64 now);
/* An IMMEDIATE_ACK frame arrived in @space. */
void tquic_ackmgr_on_immediate_ack(struct tquic_ackmgr *am,
				   enum tquic_pn_space space, u64 now);

/* Whether @pn was already received (or is too old to tell). */
bool tquic_ackmgr_is_duplicate(const struct tquic_ackmgr *am,
			       enum tquic_pn_space space, u64 pn);

/*
 * Records a successfully processed packet.  @ecn is the IP codepoint
 * (TQUIC_ECN_*).  Returns 0, -EEXIST for a duplicate or -EINVAL.  May
 * allocate (range storage) with @gfp; on allocation failure the oldest
 * range is forgotten instead.
 */
int tquic_ackmgr_on_packet(struct tquic_ackmgr *am, enum tquic_pn_space space,
			   u64 pn, bool ack_eliciting, u8 ecn, u64 now,
			   unsigned int gfp);

/* Whether an ACK should be sent in @space at @now. */
bool tquic_ackmgr_should_send(const struct tquic_ackmgr *am,
			      enum tquic_pn_space space, u64 now);
/* Whether there is anything an ACK in @space could report (piggybacking). */
bool tquic_ackmgr_has_pending(const struct tquic_ackmgr *am,
			      enum tquic_pn_space space);
/* Earliest ACK deadline over all spaces, TQUIC_TIME_NONE if none. */
u64 tquic_ackmgr_deadline(const struct tquic_ackmgr *am);

/*
 * Fills @f with the ACK frame for @space at @now (type, path ID, delay,
 * ECN counts, the range list pointing into @am, at most @max_ranges
 * ranges — 0 for the configured cap).  The list is valid until the next
 * call that changes @space.  Returns 0 or -ENODATA when nothing was
 * received.
 */
int tquic_ackmgr_build(const struct tquic_ackmgr *am, enum tquic_pn_space space,
		       u64 now, u32 max_ranges, struct tquic_frame *f);

/* The ACK frame @f built for @space went out at @now. */
void tquic_ackmgr_on_ack_sent(struct tquic_ackmgr *am, enum tquic_pn_space space,
			      const struct tquic_frame *f, u64 now);

/*
 * A packet carrying our ACK with Largest Acknowledged @largest was
 * acknowledged (RFC 9000 section 13.2.4): stop reporting PNs <= @largest.
 */
void tquic_ackmgr_on_ack_acked(struct tquic_ackmgr *am, enum tquic_pn_space space,
			       u64 largest);

/* Forgets @space (key discard). */
void tquic_ackmgr_discard(struct tquic_ackmgr *am, enum tquic_pn_space space);

#endif /* _TQUIC_CORE_ACKMGR_H */
