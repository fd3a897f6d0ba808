/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Test glue for the engine's loss recovery, ACK management, congestion
 * control and pacing: one C-allocated "path" (RTT estimator, controller,
 * pacer, recovery) whose recovery callbacks record events Go drains.
 */
#ifndef _TQUIC_BRIDGE_RECOVERY_GLUE_H
#define _TQUIC_BRIDGE_RECOVERY_GLUE_H

#include "platform.h"
#include "frame.h"
#include "rtt.h"
#include "cc.h"
#include "pacer.h"
#include "recovery.h"
#include "ackmgr.h"

#define TQB_EV_ACKED		1
#define TQB_EV_LOST		2
#define TQB_EV_DISCARDED	3
#define TQB_EV_MAX		8192

struct tqb_ev {
	u64 pn;
	u64 frames;		/* the handle given at send time */
	u64 ack_largest;
	u32 size;
	u8 kind;
	u8 space;
	u8 flags;
	u8 pad;
};

struct tqb_path {
	struct tquic_rtt rtt;
	struct tquic_cc cc;
	struct tquic_pacer pacer;
	struct tquic_recovery rec;
	u32 nev;
	u32 ev_dropped;
	u64 frames_live;	/* handles given out and not yet returned */
	u64 frames_double;	/* handles returned twice (must stay 0) */
	struct tqb_ev ev[TQB_EV_MAX];
};

struct tqb_path *tqb_path_new(const char *cc_name, u32 mss, int is_server,
			      u64 initial_rtt, u64 now, int *err);
void tqb_path_free(struct tqb_path *p);
int tqb_path_sent(struct tqb_path *p, int space, u64 pn, u64 now, u32 size,
		  u8 flags, u8 ecn, u64 ack_largest, u64 frames);
/*
 * Encodes an ACK-family frame of @type from @ranges (pairs largest,
 * smallest, descending; @marks the ACCURATE_ACK_ECN marks or NULL), decodes
 * it again with the engine's decoder and feeds it to recovery.  Returns the
 * recovery result, or -1000 - errno when encoding fails, -2000 - code when
 * decoding fails.
 */
int tqb_path_ack(struct tqb_path *p, int space, u64 type, u64 delay,
		 const u64 *ranges, const u8 *marks, u32 nranges,
		 u64 ect0, u64 ect1, u64 ce, u64 now);
/* Feeds the frame at @buf (wire bytes) to recovery. */
int tqb_path_ack_wire(struct tqb_path *p, int space, const u8 *buf, size_t len,
		      u64 now);

/* Receiver side. */
struct tquic_ackmgr *tqb_ackmgr_new(u32 path_id, u64 max_ack_delay, u8 exp);
void tqb_ackmgr_free(struct tquic_ackmgr *am);
/*
 * Builds the ACK for @space, encodes it into @out and marks it sent.
 * Returns the encoded length, 0 when there is nothing to acknowledge, or
 * -errno.  @ranges (2 * @cap u64) receives the ranges when not NULL.
 */
int tqb_ackmgr_emit(struct tquic_ackmgr *am, int space, u64 now, u32 max_ranges,
		    u8 *out, size_t out_len, int mark_sent);

/* Processes @buf as one ACK_FREQUENCY frame. */
int tqb_ackmgr_ack_frequency(struct tquic_ackmgr *am, u64 seq, u64 threshold,
			     u64 max_delay_us, u64 reorder, u64 now);

#endif /* _TQUIC_BRIDGE_RECOVERY_GLUE_H */
