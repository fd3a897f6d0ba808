/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Loss recovery (RFC 9002 sections 5-7, appendix A) for one path.
 *
 * A struct tquic_recovery belongs to a path, next to that path's RTT
 * estimator (rtt.h), congestion controller (cc.h) and pacer (pacer.h).
 * Path 0 uses the Initial, Handshake and Application Data packet-number
 * spaces; with multipath every further path has its own instance and only
 * uses the Application Data space (PATH_ACK frames are routed to the
 * instance of their Path ID).
 *
 * The connection layer owns packet contents: each sent-packet record
 * carries an opaque @frames handle that comes back through the ops
 * (on_acked, on_lost, on_discarded) exactly once, so retransmission stays
 * in the connection layer.  Callbacks must not call back into the same
 * recovery instance.
 *
 * Sent-packet records live in one ring per space, in packet-number order,
 * grown on demand up to a hard cap (-ENOBUFS beyond it: treat it as "do
 * not send in this space now").
 */
#ifndef _TQUIC_CORE_RECOVERY_H
#define _TQUIC_CORE_RECOVERY_H

#include "platform.h"
#include "cc_math.h"
#include "frame.h"
#include "rtt.h"
#include "cc.h"

enum tquic_pn_space {
	TQUIC_PN_SPACE_INITIAL = 0,
	TQUIC_PN_SPACE_HANDSHAKE = 1,
	TQUIC_PN_SPACE_APP = 2,
	TQUIC_PN_SPACE_COUNT = 3,
};

#define TQUIC_PACKET_THRESHOLD		3	/* RFC 9002 kPacketThreshold */
#define TQUIC_RECOVERY_MAX_TRACKED	16384	/* default per-space record cap */
#define TQUIC_RECOVERY_MAX_SKIPPED	8	/* skipped PNs remembered per space */
#define TQUIC_ECN_TESTING_PACKETS	10	/* RFC 9000 section 13.4.2 */

/* struct tquic_sent_pkt flags; the connection layer sets the first group. */
#define TQUIC_SENT_ACK_ELICITING	0x01U
#define TQUIC_SENT_IN_FLIGHT		0x02U
#define TQUIC_SENT_HAS_ACK		0x04U	/* @ack_largest is valid */
#define TQUIC_SENT_PTO_PROBE		0x08U
/* Set by recovery. */
#define TQUIC_SENT_ACKED		0x10U
#define TQUIC_SENT_LOST			0x20U
#define TQUIC_SENT_APP_LIMITED		0x40U
#define TQUIC_SENT_USER_FLAGS		0x0fU

struct tquic_sent_pkt {
	u64 pn;
	u64 time_sent;
	void *frames;		/* the connection layer's handle, may be NULL */
	u64 ack_largest;	/* largest PN acknowledged by an ACK frame in it */
	/* Delivery-rate state at send time (recovery fills these). */
	u64 delivered;
	u64 delivered_time;
	u64 first_sent_time;
	u64 tx_in_flight;	/* bytes in flight right after sending it */
	u64 lost;		/* path's lost-bytes count when it was sent */
	u32 size;		/* bytes of the UDP payload */
	u32 path_id;
	u8 flags;		/* TQUIC_SENT_* */
	u8 ecn;			/* codepoint sent, TQUIC_ECN_* of frame.h */
};

struct tquic_recovery_ops {
	/*
	 * The peer acknowledged @pkt.  If TQUIC_SENT_LOST is set it was
	 * declared lost before (a spurious loss) and @frames is NULL.
	 */
	void (*on_acked)(void *ctx, enum tquic_pn_space space,
			 struct tquic_sent_pkt *pkt);
	/* @pkt is lost: requeue what @frames describes.  Called once. */
	void (*on_lost)(void *ctx, enum tquic_pn_space space,
			struct tquic_sent_pkt *pkt);
	/* The space was discarded (or the instance released): free @frames. */
	void (*on_discarded)(void *ctx, enum tquic_pn_space space,
			     struct tquic_sent_pkt *pkt);
};

struct tquic_sent_ring {
	struct tquic_sent_pkt *pkts;
	u32 cap;		/* power of two, or 0 */
	u32 head;		/* index of the oldest record */
	u32 len;
};

enum tquic_ecn_state {
	TQUIC_ECN_STATE_DISABLED = 0,
	TQUIC_ECN_STATE_TESTING,	/* marking the first packets */
	TQUIC_ECN_STATE_UNKNOWN,	/* waiting for their acknowledgments */
	TQUIC_ECN_STATE_CAPABLE,
	TQUIC_ECN_STATE_FAILED,
};

struct tquic_pn_space_state {
	struct tquic_sent_ring ring;
	u64 largest_sent;	/* TQUIC_PN_NONE until the first packet */
	u64 largest_acked;	/* TQUIC_PN_NONE until the first ACK */
	u64 largest_acked_sent_time;
	u64 loss_time;		/* TQUIC_TIME_NONE if unset */
	u64 last_ack_eliciting_time;	/* TQUIC_TIME_NONE if none in flight */
	u64 ack_eliciting_in_flight;	/* packets */
	u64 bytes_in_flight;
	u64 skipped[TQUIC_RECOVERY_MAX_SKIPPED];
	u32 nskipped;
	/* ECN: peer-reported counts and packets we sent per codepoint. */
	u64 ecn_ect0, ecn_ect1, ecn_ce;
	u64 sent_ect0, sent_ect1;
	bool discarded;
};

enum tquic_timer_kind {
	TQUIC_TIMER_NONE = 0,
	TQUIC_TIMER_LOSS,
	TQUIC_TIMER_PTO,
};

struct tquic_recovery_stats {
	u64 pkts_sent;
	u64 bytes_sent;			/* in-flight bytes ever sent */
	u64 pkts_acked;
	u64 bytes_acked;
	u64 pkts_lost;
	u64 bytes_lost;
	u64 bytes_discarded;		/* in flight when their space was dropped */
	u64 spurious_losses;
	u64 pto_count;			/* PTO expirations */
	u64 persistent_congestion;
	u64 ecn_ce;			/* CE marks the peer reported */
};

struct tquic_recovery {
	const struct tquic_recovery_ops *ops;
	void *ctx;
	struct tquic_rtt *rtt;
	struct tquic_cc *cc;
	/*
	 * Application Data; Initial and Handshake (@hs[0] and @hs[1]) on the
	 * heap until both are discarded: a confirmed connection keeps @app only.
	 */
	struct tquic_pn_space_state app;
	struct tquic_pn_space_state *hs;
	u64 bytes_in_flight;
	u64 timer;			/* loss-detection deadline */
	u32 pto_count;			/* consecutive PTOs (backoff exponent) */
	u32 probes;			/* ack-eliciting probes still to send */
	u32 pkt_threshold;
	u32 max_tracked;
	u32 path_id;
	u8 timer_kind;			/* enum tquic_timer_kind */
	u8 probe_space;
	u8 peer_ack_delay_exponent;
	u8 ecn_state;			/* enum tquic_ecn_state */
	u8 ecn_codepoint;		/* ECT(0) or ECT(1) when marking */
	u32 ecn_testing_sent;
	u32 ecn_testing_lost;
	bool is_server;
	bool handshake_confirmed;
	bool has_handshake_keys;
	bool peer_validated;		/* peer completed address validation */
	bool amp_blocked;		/* server at its anti-amplification limit */
	/* Delivery-rate estimation. */
	u64 delivered;
	u64 delivered_time;
	u64 first_sent_time;
	u64 lost;
	u64 app_limited;		/* delivered mark ending the app-limited phase, 0 = none */
	struct tquic_recovery_stats stats;
};

/*
 * Sets up @r for path @path_id with the path's @rtt and @cc (both must
 * outlive @r).  Allocates the Initial and Handshake space state.  Returns
 * 0, -EINVAL or -ENOMEM.
 */
int tquic_recovery_init(struct tquic_recovery *r,
			const struct tquic_recovery_ops *ops, void *ctx,
			struct tquic_rtt *rtt, struct tquic_cc *cc,
			u32 path_id, bool is_server, unsigned int gfp);
/* Discards every record (on_discarded) and frees the rings and spaces. */
void tquic_recovery_release(struct tquic_recovery *r);
/*
 * An idle path: frees the rings whose records are all finished or out of
 * flight and hold no frames.  Such records only prune acknowledgment
 * ranges or reveal a spurious loss when acknowledged late; an ACK of a
 * record gone is ignored like one of a record already popped.
 */
void tquic_recovery_trim(struct tquic_recovery *r);

/* Tunables. */
void tquic_recovery_set_max_tracked(struct tquic_recovery *r, u32 max);
void tquic_recovery_set_packet_threshold(struct tquic_recovery *r, u32 n);
/* The peer's ack_delay_exponent (Application Data ACKs; Initial and Handshake use 3). */
void tquic_recovery_set_peer_ack_delay_exponent(struct tquic_recovery *r, u8 e);
/* Turns ECN marking on (starts validation) or off. */
void tquic_recovery_set_ecn(struct tquic_recovery *r, bool enable);

/* Handshake progress; each re-arms the timer at @now. */
void tquic_recovery_on_handshake_keys(struct tquic_recovery *r, u64 now);
void tquic_recovery_on_handshake_confirmed(struct tquic_recovery *r, u64 now);
void tquic_recovery_on_peer_validated(struct tquic_recovery *r, u64 now);
void tquic_recovery_set_amp_blocked(struct tquic_recovery *r, bool blocked, u64 now);

/*
 * Records a sent packet.  @pkt supplies pn (strictly increasing per
 * space), time_sent, size, path_id, frames, ack_largest, ecn and the
 * TQUIC_SENT_USER_FLAGS; the record is a copy.  Returns 0, -EINVAL (PN not
 * increasing, space discarded, in-flight packet of size 0), -ENOBUFS (the
 * record cap is reached) or -ENOMEM.  On error nothing changed and
 * @pkt->frames stays the caller's.
 */
int tquic_recovery_on_packet_sent(struct tquic_recovery *r,
				  enum tquic_pn_space space,
				  const struct tquic_sent_pkt *pkt,
				  unsigned int gfp);

/*
 * Notes a packet number deliberately left unused (optimistic-ACK
 * defence): an ACK covering it is a PROTOCOL_VIOLATION.  @pn must be
 * above every PN sent in the space.
 */
int tquic_recovery_skip_pn(struct tquic_recovery *r, enum tquic_pn_space space,
			   u64 pn);

/*
 * Processes a decoded ACK-family frame (ACK, ACK_ECN, PATH_ACK,
 * PATH_ACK_ECN, ACCURATE_ACK_ECN) received in @space.  Returns 0 or a QUIC
 * transport error code (TQUIC_ERR_PROTOCOL_VIOLATION for an acknowledgment
 * of a packet never sent or skipped).
 */
int tquic_recovery_on_ack(struct tquic_recovery *r, enum tquic_pn_space space,
			  u64 frame_type, const struct tquic_frame_ack *ack,
			  u64 now);

/* Loss-detection / PTO deadline, TQUIC_TIME_NONE when unarmed. */
static inline u64 tquic_recovery_deadline(const struct tquic_recovery *r)
{
	return r->timer;
}

/*
 * Runs the timer if it is due at @now.  Returns TQUIC_TIMER_NONE (not
 * due), TQUIC_TIMER_LOSS (packets were declared lost) or TQUIC_TIMER_PTO
 * (send tquic_recovery_probes() ack-eliciting probes).
 */
int tquic_recovery_on_timeout(struct tquic_recovery *r, u64 now);

/*
 * Probes to send now and the space to send them in (@space may be NULL).
 * Probes ignore the congestion window; each ack-eliciting packet sent
 * consumes one.
 */
static inline u32 tquic_recovery_probes(const struct tquic_recovery *r,
					enum tquic_pn_space *space)
{
	if (space)
		*space = (enum tquic_pn_space)r->probe_space;
	return r->probes;
}

/* Bytes the congestion window still allows in flight. */
static inline u64 tquic_recovery_cwnd_room(const struct tquic_recovery *r)
{
	return tquic_sat_sub(tquic_cc_cwnd(r->cc), r->bytes_in_flight);
}

/*
 * Drops a packet-number space (Initial or Handshake key discard, RFC 9002
 * section 6.4): its records are removed from bytes in flight without a
 * congestion signal and handed to on_discarded.
 */
void tquic_recovery_discard_space(struct tquic_recovery *r,
				  enum tquic_pn_space space, u64 now);

/*
 * Takes the packets of @space numbered up to @max_pn that are still
 * outstanding out of the flight without a congestion signal (0-RTT
 * packets a server rejected: RFC 9001 4.6.2) and hands them to on_lost
 * so that what they carried is sent again.  Returns how many.
 */
u32 tquic_recovery_requeue_upto(struct tquic_recovery *r, enum tquic_pn_space space,
				u64 max_pn, u64 now);

/*
 * The sender has nothing more to send although the window allows it:
 * rate samples and window growth treat the current flight as app limited.
 */
void tquic_recovery_on_app_limited(struct tquic_recovery *r);

/* ECN codepoint to mark the next packet with (TQUIC_ECN_*). */
u8 tquic_recovery_ecn_codepoint(const struct tquic_recovery *r);

/*
 * Resets congestion state for a new path after migration (RFC 9000
 * section 9.4): RTT estimate and controller restart; packets in flight
 * stay tracked.
 */
int tquic_recovery_reset_cc(struct tquic_recovery *r, u64 now);

/* The state of @space, NULL once it was discarded. */
static inline struct tquic_pn_space_state *
tquic_recovery_space(const struct tquic_recovery *r, enum tquic_pn_space space)
{
	struct tquic_pn_space_state *sp;

	if (space == TQUIC_PN_SPACE_APP)
		sp = (struct tquic_pn_space_state *)&r->app;
	else if ((unsigned int)space < TQUIC_PN_SPACE_APP && r->hs)
		sp = &r->hs[space];
	else
		return NULL;
	return sp->discarded ? NULL : sp;
}

/* Largest PN acknowledged in @space, TQUIC_PN_NONE when none (or discarded). */
static inline u64 tquic_recovery_largest_acked(const struct tquic_recovery *r,
					       enum tquic_pn_space space)
{
	const struct tquic_pn_space_state *sp = tquic_recovery_space(r, space);

	return sp ? sp->largest_acked : TQUIC_PN_NONE;
}

/* Number of records held in @space (for tests and memory accounting). */
static inline u32 tquic_recovery_tracked(const struct tquic_recovery *r,
					 enum tquic_pn_space space)
{
	const struct tquic_pn_space_state *sp = tquic_recovery_space(r, space);

	return sp ? sp->ring.len : 0;
}

#endif /* _TQUIC_CORE_RECOVERY_H */
