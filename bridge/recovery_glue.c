// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Test glue for recovery, ACK management, congestion control and pacing. */
#include <stdlib.h>
#include "recovery_glue.h"

static void glue_event(struct tqb_path *p, u8 kind, enum tquic_pn_space space,
		       struct tquic_sent_pkt *pkt)
{
	struct tqb_ev *e;

	/* Handles: returned once through on_lost/on_discarded or on_acked. */
	if (pkt->frames) {
		if (!p->frames_live)
			p->frames_double++;
		else
			p->frames_live--;
	}
	if (p->nev >= TQB_EV_MAX) {
		p->ev_dropped++;
		return;
	}
	e = &p->ev[p->nev++];
	e->pn = pkt->pn;
	e->frames = (u64)(uintptr_t)pkt->frames;
	e->ack_largest = pkt->ack_largest;
	e->size = pkt->size;
	e->kind = kind;
	e->space = (u8)space;
	e->flags = pkt->flags;
}

static void glue_on_acked(void *ctx, enum tquic_pn_space space,
			  struct tquic_sent_pkt *pkt)
{
	glue_event(ctx, TQB_EV_ACKED, space, pkt);
}

static void glue_on_lost(void *ctx, enum tquic_pn_space space,
			 struct tquic_sent_pkt *pkt)
{
	glue_event(ctx, TQB_EV_LOST, space, pkt);
}

static void glue_on_discarded(void *ctx, enum tquic_pn_space space,
			      struct tquic_sent_pkt *pkt)
{
	glue_event(ctx, TQB_EV_DISCARDED, space, pkt);
}

static const struct tquic_recovery_ops glue_ops = {
	.on_acked = glue_on_acked,
	.on_lost = glue_on_lost,
	.on_discarded = glue_on_discarded,
};

struct tqb_path *tqb_path_new(const char *cc_name, u32 mss, int is_server,
			      u64 initial_rtt, u64 now, int *err)
{
	const struct tquic_cc_ops *ops = tquic_cc_find(cc_name);
	struct tqb_path *p;

	*err = 0;
	if (!ops) {
		*err = -ENOENT;
		return NULL;
	}
	p = tquic_mem_alloc(sizeof(*p), TQUIC_GFP_KERNEL);
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	tquic_rtt_init(&p->rtt, initial_rtt);
	*err = tquic_cc_init(&p->cc, ops, &p->rtt, mss, 0, now);
	if (!*err)
		*err = tquic_recovery_init(&p->rec, &glue_ops, p, &p->rtt, &p->cc,
					   0, is_server, TQUIC_GFP_KERNEL);
	if (*err) {
		tquic_mem_free(p);
		return NULL;
	}
	tquic_pacer_init(&p->pacer, mss, 0, now);
	return p;
}

void tqb_path_free(struct tqb_path *p)
{
	if (!p)
		return;
	tquic_recovery_release(&p->rec);
	tquic_cc_release(&p->cc);
	tquic_mem_free(p);
}

int tqb_path_sent(struct tqb_path *p, int space, u64 pn, u64 now, u32 size,
		  u8 flags, u8 ecn, u64 ack_largest, u64 frames)
{
	struct tquic_sent_pkt pkt;
	int err;

	memset(&pkt, 0, sizeof(pkt));
	pkt.pn = pn;
	pkt.time_sent = now;
	pkt.size = size;
	pkt.flags = flags;
	pkt.ecn = ecn;
	pkt.ack_largest = ack_largest;
	pkt.frames = (void *)(uintptr_t)frames;
	err = tquic_recovery_on_packet_sent(&p->rec, (enum tquic_pn_space)space,
					    &pkt, TQUIC_GFP_ATOMIC);
	if (!err && frames)
		p->frames_live++;
	return err;
}

int tqb_path_ack_wire(struct tqb_path *p, int space, const u8 *buf, size_t len,
		      u64 now)
{
	struct tquic_cursor c;
	struct tquic_frame f;
	int err;

	tquic_cursor_init(&c, buf, len);
	err = tquic_frame_decode(&c, &f, NULL);
	if (err)
		return -2000 - err;
	if (!tquic_frame_type_is_ack(f.type))
		return -2000;
	return tquic_recovery_on_ack(&p->rec, (enum tquic_pn_space)space, f.type,
				     &f.u.ack, now);
}

int tqb_path_ack(struct tqb_path *p, int space, u64 type, u64 delay,
		 const u64 *ranges, const u8 *marks, u32 nranges,
		 u64 ect0, u64 ect1, u64 ce, u64 now)
{
	struct tquic_ack_range *list;
	struct tquic_frame f;
	struct tquic_wbuf w;
	size_t cap = 64 + (size_t)nranges * 40;
	u8 *buf;
	u32 i;
	int err;

	list = calloc(nranges ? nranges : 1, sizeof(*list));
	buf = malloc(cap);
	if (!list || !buf) {
		free(list);
		free(buf);
		return -1000 - ENOMEM;
	}
	for (i = 0; i < nranges; i++) {
		list[i].largest = ranges[2 * i];
		list[i].smallest = ranges[2 * i + 1];
		list[i].ecn = marks ? marks[i] : 0;
	}
	memset(&f, 0, sizeof(f));
	f.type = type;
	f.u.ack.delay = delay;
	f.u.ack.list = list;
	f.u.ack.list_len = nranges;
	f.u.ack.ect0 = ect0;
	f.u.ack.ect1 = ect1;
	f.u.ack.ce = ce;
	tquic_wbuf_init(&w, buf, cap);
	err = tquic_frame_encode(&w, &f);
	if (err)
		err = -1000 + err;
	else
		err = tqb_path_ack_wire(p, space, buf, cap - w.left, now);
	free(list);
	free(buf);
	return err;
}

struct tquic_ackmgr *tqb_ackmgr_new(u32 path_id, u64 max_ack_delay, u8 exp)
{
	struct tquic_ackmgr *am = tquic_mem_alloc(sizeof(*am), TQUIC_GFP_KERNEL);

	if (am && tquic_ackmgr_init(am, path_id, max_ack_delay, exp, TQUIC_GFP_KERNEL)) {
		tquic_mem_free(am);
		return NULL;
	}
	return am;
}

void tqb_ackmgr_free(struct tquic_ackmgr *am)
{
	if (!am)
		return;
	tquic_ackmgr_release(am);
	tquic_mem_free(am);
}

int tqb_ackmgr_emit(struct tquic_ackmgr *am, int space, u64 now, u32 max_ranges,
		    u8 *out, size_t out_len, int mark_sent)
{
	struct tquic_frame f;
	struct tquic_wbuf w;
	int err;

	err = tquic_ackmgr_build(am, (enum tquic_pn_space)space, now, max_ranges, &f);
	if (err == -ENODATA)
		return 0;
	if (err)
		return err;
	tquic_wbuf_init(&w, out, out_len);
	err = tquic_frame_encode(&w, &f);
	if (err)
		return err;
	if (mark_sent)
		tquic_ackmgr_on_ack_sent(am, (enum tquic_pn_space)space, &f, now);
	return (int)(out_len - w.left);
}

int tqb_ackmgr_ack_frequency(struct tquic_ackmgr *am, u64 seq, u64 threshold,
			     u64 max_delay_us, u64 reorder, u64 now)
{
	struct tquic_frame_ack_freq af = {
		.seq = seq,
		.ack_eliciting_threshold = threshold,
		.request_max_ack_delay = max_delay_us,
		.reordering_threshold = reorder,
	};

	return tquic_ackmgr_on_ack_frequency(am, &af, now);
}
