/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Congestion control: a small ops table (ARCHITECTURE decision 5) with a
 * registry by name.  One instance per path; its state lives in a fixed
 * private area inside struct tquic_cc, so a controller never allocates.
 *
 * Loss recovery (recovery.c) drives the instance: it calls on_packet_sent
 * for every in-flight packet, on_ack once per ACK frame that acknowledges
 * new data, on_congestion_event when packets are declared lost,
 * on_persistent_congestion, and on_ecn when the peer reports new CE marks.
 * Reactions are "at most once per round trip": a congestion event whose
 * lost packet was sent before the current recovery period started is
 * ignored by the controller.
 *
 * The samples carry what NewReno and CUBIC need and what BBRv2/v3 (a
 * delivery-rate sample, in-flight and loss volumes) and Prague (ECT(1)/CE
 * byte counts per ACK) need, so those controllers slot in behind the same
 * table.
 */
#ifndef _TQUIC_CORE_CC_H
#define _TQUIC_CORE_CC_H

#include "platform.h"
#include "cc_math.h"
#include "rtt.h"

/* Initial window (RFC 9002 section 7.2): min(10 * mss, max(14720, 2 * mss)). */
#define TQUIC_CC_INITIAL_PACKETS	10
#define TQUIC_CC_INITIAL_WINDOW_MIN	14720
#define TQUIC_CC_MIN_WINDOW_PACKETS	2
/*
 * Private state area per instance, in u64 words: the largest controller's
 * (CUBIC with HyStart++, 152 bytes).  Every path carries it, so it is no
 * larger; TQUIC_CC_PRIV() fails the build of a controller that outgrows it.
 */
#define TQUIC_CC_PRIV_WORDS		19
#define TQUIC_CC_NAME_MAX		16

/* ops->flags */
#define TQUIC_CC_F_ECT1			0x1U	/* L4S: mark ECT(1), react to CE per RFC 9331 */

struct tquic_cc;

/* One delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation). */
struct tquic_rate_sample {
	u64 delivered;		/* bytes delivered over @interval */
	u64 interval;		/* ns; 0 when the sample is not valid */
	u64 prior_delivered;	/* connection delivered count when the packet was sent */
	u64 prior_in_flight;	/* bytes in flight when the newest acked packet was sent */
	u64 lost;		/* bytes declared lost while this ACK was processed */
	bool is_app_limited;
};

struct tquic_ack_sample {
	u64 now;
	u64 bytes_acked;	/* newly acknowledged in-flight bytes */
	u64 packets_acked;	/* newly acknowledged in-flight packets */
	u64 rtt;		/* latest RTT sample, 0 if this ACK gave none */
	u64 newest_sent_time;	/* send time of the newest newly acked packet */
	u64 bytes_in_flight;	/* after removing acked and lost packets */
	u64 delivered;		/* total bytes ever delivered on the path */
	bool app_limited;	/* the sender was application limited */
	struct tquic_rate_sample rs;
};

struct tquic_loss_sample {
	u64 now;
	u64 bytes_lost;		/* in-flight bytes newly declared lost */
	u64 packets_lost;
	u64 largest_lost_sent_time;	/* send time of the newest lost packet */
	u64 bytes_in_flight;	/* after removing the lost packets */
};

struct tquic_ecn_sample {
	u64 now;
	u64 ce_delta;		/* increase of the peer's CE count */
	u64 ect1_delta;		/* increase of the peer's ECT(1) count */
	u64 ect0_delta;
	u64 bytes_acked;	/* in-flight bytes this ACK acknowledged */
	u64 largest_acked_sent_time;	/* send time of the largest acknowledged packet */
	u64 bytes_in_flight;
};

/*
 * init, release, on_packet_sent, on_ecn, on_mss_change and pacing_rate may
 * be NULL; the other operations are required (tquic_cc_init checks).
 */
struct tquic_cc_ops {
	const char *name;
	unsigned int flags;	/* TQUIC_CC_F_* */
	/* Sets up cc->priv; cc->mss and cc->rtt are valid.  Returns 0 or -errno. */
	int (*init)(struct tquic_cc *cc, u64 now);
	void (*release)(struct tquic_cc *cc);
	void (*on_packet_sent)(struct tquic_cc *cc, u64 now, u64 bytes,
			       u64 bytes_in_flight_before);
	void (*on_ack)(struct tquic_cc *cc, const struct tquic_ack_sample *s);
	void (*on_congestion_event)(struct tquic_cc *cc,
				    const struct tquic_loss_sample *l);
	void (*on_persistent_congestion)(struct tquic_cc *cc, u64 now);
	void (*on_ecn)(struct tquic_cc *cc, const struct tquic_ecn_sample *e);
	/* Called when the datagram size changes (DPLPMTUD); may be NULL. */
	void (*on_mss_change)(struct tquic_cc *cc, u32 old_mss);
	/* Bytes per second, or 0 to let the pacer derive it from cwnd/srtt. */
	u64 (*pacing_rate)(const struct tquic_cc *cc);
	u64 (*cwnd)(const struct tquic_cc *cc);
	u64 (*ssthresh)(const struct tquic_cc *cc);
	bool (*in_slow_start)(const struct tquic_cc *cc);
	bool (*in_recovery)(const struct tquic_cc *cc, u64 sent_time);
	/* Short static state name for stats and qlog. */
	const char *(*state_name)(const struct tquic_cc *cc);
};

struct tquic_cc {
	const struct tquic_cc_ops *ops;
	const struct tquic_rtt *rtt;	/* the path's estimator, read only */
	u32 mss;			/* max datagram size, bytes */
	u32 path_id;
	u64 congestion_events;
	u64 ecn_events;
	u64 persistent_congestion_events;
	u64 priv[TQUIC_CC_PRIV_WORDS];
};

/* The registry of built-in controllers. */
const struct tquic_cc_ops *tquic_cc_find(const char *name);
/* The @i-th registered controller, NULL past the end (for listing). */
const struct tquic_cc_ops *tquic_cc_get(unsigned int i);
extern const struct tquic_cc_ops tquic_cc_newreno;
extern const struct tquic_cc_ops tquic_cc_cubic;
#define TQUIC_CC_DEFAULT_NAME	"cubic"

/*
 * Initialises @cc with @ops (NULL: the default), the path's RTT estimator
 * and datagram size.  Returns 0, -EINVAL for a bad @mss or -errno from the
 * controller.
 */
int tquic_cc_init(struct tquic_cc *cc, const struct tquic_cc_ops *ops,
		  const struct tquic_rtt *rtt, u32 mss, u32 path_id, u64 now);
void tquic_cc_release(struct tquic_cc *cc);
/* Changes the datagram size (e.g. after PMTU discovery). */
int tquic_cc_set_mss(struct tquic_cc *cc, u32 mss);

static inline u64 tquic_cc_cwnd(const struct tquic_cc *cc)
{
	return cc->ops->cwnd(cc);
}

static inline bool tquic_cc_in_slow_start(const struct tquic_cc *cc)
{
	return cc->ops->in_slow_start(cc);
}

static inline const char *tquic_cc_state_name(const struct tquic_cc *cc)
{
	return cc->ops->state_name(cc);
}

/* Initial and minimum windows for @mss. */
static inline u64 tquic_cc_initial_window(u32 mss)
{
	u64 w = tquic_max_u64(TQUIC_CC_INITIAL_WINDOW_MIN, 2ULL * mss);

	return tquic_min_u64((u64)TQUIC_CC_INITIAL_PACKETS * mss, w);
}

static inline u64 tquic_cc_min_window(u32 mss)
{
	return (u64)TQUIC_CC_MIN_WINDOW_PACKETS * mss;
}

/*
 * The pacing rate in bytes per second: the controller's own when it has
 * one, else cwnd / smoothed_rtt times 5/4 (times 2 in slow start), with
 * the initial RTT standing in before the first sample.  Never 0.
 */
u64 tquic_cc_pacing_rate(const struct tquic_cc *cc);

/*
 * CUBIC introspection for tests and qlog: W_cubic(@t_ns after the epoch
 * start) in bytes, and K in ns through @k_ns (may be NULL).  Only valid
 * for an instance running tquic_cc_cubic.
 */
u64 tquic_cubic_w(const struct tquic_cc *cc, u64 t_ns, u64 *k_ns);
u64 tquic_cubic_w_max(const struct tquic_cc *cc);

/* Private area accessor with a compile-time size check. */
#define TQUIC_CC_PRIV(cc, type)						\
	({								\
		_Static_assert(sizeof(type) <= sizeof((cc)->priv),	\
			       "cc private state too large");		\
		(type *)(cc)->priv;					\
	})

#endif /* _TQUIC_CORE_CC_H */
