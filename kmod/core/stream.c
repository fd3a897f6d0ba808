// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC streams: reassembly, send buffers, state machines, the stream table,
 * limits, priorities and CRYPTO streams.  See stream.h.
 */
#include "stream.h"

#define U32_LIMIT		0xffffffffULL
/* Largest engine-allocated buffer (copies, collapsed runs, send chunks). */
#define TQUIC_CHUNK_MAX		16384U
#define TQUIC_CHUNK_MIN		512U
/* Slack on top of twice the window for receive memory. */
#define TQUIC_RMEM_SLACK	65536ULL
#define TQUIC_HASH_BITS_MIN	1U	/* grown as streams come: an idle connection has none */
#define TQUIC_HASH_BITS_MAX	12U	/* 4096 buckets: one 64 KB array */

static inline u64 min_u64(u64 a, u64 b)
{
	return a < b ? a : b;
}

static inline u64 max_u64(u64 a, u64 b)
{
	return a > b ? a : b;
}

/* ------------------------------------------------------------------ */
/* Range sets                                                         */
/* ------------------------------------------------------------------ */

struct tquic_range {
	struct tquic_list node;
	u64 start;
	u64 end;
};

static void rset_init(struct tquic_rset *rs)
{
	tquic_list_init(&rs->ranges);
	rs->count = 0;
}

static struct tquic_range *rset_first(const struct tquic_rset *rs)
{
	if (tquic_list_empty(&rs->ranges))
		return NULL;
	return tquic_list_first_entry(&rs->ranges, struct tquic_range, node);
}

static struct tquic_range *rset_next(const struct tquic_rset *rs, struct tquic_range *r)
{
	if (r->node.next == &rs->ranges)
		return NULL;
	return tquic_list_entry(r->node.next, struct tquic_range, node);
}

static void rset_drop(struct tquic_rset *rs, struct tquic_range *r)
{
	tquic_list_del(&r->node);
	tquic_mem_free(r);
	rs->count--;
}

static void rset_free(struct tquic_rset *rs)
{
	struct tquic_range *r;

	while ((r = rset_first(rs)))
		rset_drop(rs, r);
}

static struct tquic_range *range_new(u64 start, u64 end, unsigned int gfp)
{
	struct tquic_range *n = tquic_mem_alloc(sizeof(*n), gfp);

	if (n) {
		n->start = start;
		n->end = end;
	}
	return n;
}

/* Adds [start, end), merging overlapping and adjacent ranges. */
static int rset_add(struct tquic_rset *rs, u64 start, u64 end, unsigned int gfp)
{
	struct tquic_range *r, *n, *nx;

	if (start >= end)
		return 0;
	if (!tquic_list_empty(&rs->ranges)) {
		r = tquic_list_entry(rs->ranges.prev, struct tquic_range, node);
		if (r->end < start)
			goto append;
	}
	for (r = rset_first(rs); r; r = rset_next(rs, r)) {
		if (r->end < start)
			continue;
		if (r->start > end) {
			n = range_new(start, end, gfp);
			if (!n)
				return -ENOMEM;
			tquic_list_add_tail(&n->node, &r->node);
			rs->count++;
			return 0;
		}
		r->start = min_u64(r->start, start);
		r->end = max_u64(r->end, end);
		while ((nx = rset_next(rs, r)) && nx->start <= r->end) {
			r->end = max_u64(r->end, nx->end);
			rset_drop(rs, nx);
		}
		return 0;
	}
append:
	n = range_new(start, end, gfp);
	if (!n)
		return -ENOMEM;
	tquic_list_add_tail(&n->node, &rs->ranges);
	rs->count++;
	return 0;
}

/* Removes [start, end); -ENOMEM (nothing changed) when a split cannot allocate. */
static int rset_del(struct tquic_rset *rs, u64 start, u64 end, unsigned int gfp)
{
	struct tquic_range *r, *nx, *n;

	for (r = rset_first(rs); r; r = nx) {
		nx = rset_next(rs, r);
		if (r->end <= start)
			continue;
		if (r->start >= end)
			break;
		if (r->start < start && r->end > end) {
			n = range_new(end, r->end, gfp);
			if (!n)
				return -ENOMEM;
			r->end = start;
			tquic_list_add(&n->node, &r->node);
			rs->count++;
			break;
		}
		if (r->start < start)
			r->end = start;
		else if (r->end > end)
			r->start = end;
		else
			rset_drop(rs, r);
	}
	return 0;
}

/* First range ending after @off, or NULL. */
static struct tquic_range *rset_seek(const struct tquic_rset *rs, u64 off)
{
	struct tquic_range *r;

	for (r = rset_first(rs); r; r = rset_next(rs, r))
		if (r->end > off)
			return r;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Buffer references                                                  */
/* ------------------------------------------------------------------ */

/* Charge of a fragment against receive memory. */
static u64 bref_cost(const struct tquic_bref *b)
{
	return sizeof(*b) + tquic_buf_truesize(b->buf);
}

static inline u64 bref_end(const struct tquic_bref *b)
{
	return b->off + b->len;
}

static inline const u8 *bref_data(const struct tquic_bref *b)
{
	return tquic_buf_data(b->buf) + b->boff;
}

/* A node over @buf; takes a reference on @buf when @ref. */
static struct tquic_bref *bref_new(u64 off, struct tquic_buf *buf, u32 boff, u32 len,
				   bool ref, unsigned int gfp)
{
	struct tquic_bref *b = tquic_mem_alloc(sizeof(*b), gfp);

	if (!b)
		return NULL;
	b->off = off;
	b->buf = buf;
	b->boff = boff;
	b->len = len;
	if (ref)
		tquic_buf_get(buf);
	return b;
}

static void bref_free(struct tquic_bref *b)
{
	tquic_list_del(&b->node);
	tquic_buf_put(b->buf);
	tquic_mem_free(b);
}

static struct tquic_bref *bref_next(const struct tquic_list *head, struct tquic_bref *b)
{
	if (b->node.next == head)
		return NULL;
	return tquic_list_entry(b->node.next, struct tquic_bref, node);
}

static struct tquic_bref *bref_prev(const struct tquic_list *head, struct tquic_bref *b)
{
	if (b->node.prev == head)
		return NULL;
	return tquic_list_entry(b->node.prev, struct tquic_bref, node);
}

static struct tquic_bref *bref_first(const struct tquic_list *head)
{
	if (tquic_list_empty(head))
		return NULL;
	return tquic_list_first_entry(head, struct tquic_bref, node);
}

static struct tquic_bref *bref_last(const struct tquic_list *head)
{
	if (tquic_list_empty(head))
		return NULL;
	return tquic_list_entry(head->prev, struct tquic_bref, node);
}

/* ------------------------------------------------------------------ */
/* Receive reassembly                                                 */
/* ------------------------------------------------------------------ */

void tquic_rbuf_init(struct tquic_rbuf *rb, u64 mem_limit, u32 max_frags)
{
	memset(rb, 0, sizeof(*rb));
	tquic_list_init(&rb->frags);
	rb->mem_limit = mem_limit;
	rb->max_frags = max_frags ? max_frags : 1;
}

static void rbuf_unlink(struct tquic_rbuf *rb, struct tquic_bref *b)
{
	rb->mem -= bref_cost(b);
	rb->buffered -= b->len;
	rb->nfrags--;
	bref_free(b);
}

void tquic_rbuf_purge(struct tquic_rbuf *rb)
{
	struct tquic_bref *b;

	while ((b = bref_first(&rb->frags)))
		rbuf_unlink(rb, b);
	rb->mem_collapsed = 0;
	rb->nfrags_collapsed = 0;
}

/* First fragment ending after @off, or NULL; scans from the nearer end. */
static struct tquic_bref *rbuf_seek(const struct tquic_rbuf *rb, u64 off)
{
	struct tquic_bref *first = bref_first(&rb->frags);
	struct tquic_bref *last = bref_last(&rb->frags);
	struct tquic_bref *b, *p;

	if (!last || bref_end(last) <= off)
		return NULL;
	if (off < first->off || off - first->off < bref_end(last) - off) {
		for (b = first; b; b = bref_next(&rb->frags, b))
			if (bref_end(b) > off)
				return b;
		return NULL;
	}
	b = last;
	while ((p = bref_prev(&rb->frags, b)) && bref_end(p) > off)
		b = p;
	return b;
}

/*
 * Copies runs of contiguous fragments (up to TQUIC_CHUNK_MAX bytes each)
 * and fragments that pin much more memory than they hold into buffers of
 * their own size.  Runs only when enough was added since the last time,
 * so hostile input cannot make every insert pay for a full pass.
 */
static void rbuf_collapse(struct tquic_rbuf *rb, unsigned int gfp)
{
	struct tquic_bref *p, *q, *nx, *b;
	struct tquic_buf *nb;
	u64 run, cost;
	u32 n, pos;
	u8 *dst;

	if (rb->mem_collapsed && rb->mem < rb->mem_collapsed + rb->mem_limit / 8 &&
	    rb->nfrags < rb->nfrags_collapsed + rb->max_frags / 8 + 1)
		return;
	p = bref_first(&rb->frags);
	while (p) {
		q = p;
		run = p->len;
		n = 1;
		while ((nx = bref_next(&rb->frags, q)) && nx->off == bref_end(q) &&
		       run + nx->len <= TQUIC_CHUNK_MAX) {
			q = nx;
			run += nx->len;
			n++;
		}
		nx = bref_next(&rb->frags, q);
		cost = bref_cost(p);
		if (n == 1 && (p->len > TQUIC_CHUNK_MAX || cost <= 2 * (u64)p->len + 256)) {
			p = nx;
			continue;
		}
		nb = tquic_buf_alloc((size_t)run, gfp);
		if (!nb)
			break;
		b = bref_new(p->off, nb, 0, (u32)run, false, gfp);
		if (!b) {
			tquic_buf_put(nb);
			break;
		}
		dst = tquic_buf_data(nb);
		pos = 0;
		tquic_list_add_tail(&b->node, &p->node);
		while (p != nx) {
			q = bref_next(&rb->frags, p);
			memcpy(dst + pos, bref_data(p), p->len);
			pos += p->len;
			rbuf_unlink(rb, p);
			p = q;
		}
		rb->mem += bref_cost(b);
		rb->buffered += b->len;
		rb->nfrags++;
		p = nx;
	}
	rb->mem_collapsed = rb->mem ? rb->mem : 1;
	rb->nfrags_collapsed = rb->nfrags;
}

static bool rbuf_over(const struct tquic_rbuf *rb, u64 cost)
{
	return rb->nfrags >= rb->max_frags || rb->mem + cost > rb->mem_limit;
}

/*
 * Stores one gap-filling piece before @before (NULL: at the tail).  May
 * collapse the queue, which invalidates fragment pointers: the caller
 * seeks again when *@collapsed.
 */
static int rbuf_store(struct tquic_rbuf *rb, u64 off, const u8 *data, u32 len,
		      struct tquic_buf *buf, struct tquic_bref *before,
		      unsigned int gfp, bool *collapsed)
{
	struct tquic_buf *nb = NULL;
	struct tquic_bref *b;
	u64 cost;
	u32 boff;

	if (buf) {
		boff = (u32)(data - tquic_buf_data(buf));
		cost = sizeof(*b) + tquic_buf_truesize(buf);
	} else {
		nb = tquic_buf_alloc(len, gfp);
		if (!nb)
			return -ENOMEM;
		memcpy(tquic_buf_data(nb), data, len);
		buf = nb;
		boff = 0;
		cost = sizeof(*b) + tquic_buf_truesize(nb);
	}
	if (rbuf_over(rb, cost)) {
		rbuf_collapse(rb, gfp);
		*collapsed = true;
		before = rbuf_seek(rb, off);
		if (rbuf_over(rb, cost)) {
			/*
			 * Over the limits.  Data filling the first gap is still
			 * taken (else a peer that lost many packets could never
			 * make progress), copied so it pins no packet buffer;
			 * anything else is refused until the application reads.
			 */
			if (off != rb->contig) {
				if (nb)
					tquic_buf_put(nb);
				return -ENOBUFS;
			}
			if (!nb) {
				nb = tquic_buf_alloc(len, gfp);
				if (!nb)
					return -ENOMEM;
				memcpy(tquic_buf_data(nb), data, len);
				buf = nb;
				boff = 0;
			}
		}
	}
	b = bref_new(off, buf, boff, len, !nb, gfp);
	if (!b) {
		if (nb)
			tquic_buf_put(nb);
		return -ENOMEM;
	}
	b->owned = !!nb;
	if (before)
		tquic_list_add_tail(&b->node, &before->node);
	else
		tquic_list_add_tail(&b->node, &rb->frags);
	rb->mem += bref_cost(b);
	rb->buffered += len;
	rb->nfrags++;
	return 0;
}

static void rbuf_advance_contig(struct tquic_rbuf *rb)
{
	struct tquic_bref *b = rbuf_seek(rb, rb->contig);

	while (b && b->off <= rb->contig) {
		rb->contig = max_u64(rb->contig, bref_end(b));
		b = bref_next(&rb->frags, b);
	}
}

int tquic_rbuf_insert(struct tquic_rbuf *rb, u64 off, const u8 *data, u64 len,
		      struct tquic_buf *buf, unsigned int gfp)
{
	struct tquic_bref *p;
	bool collapsed = false;
	u64 end, skip, piece;
	const u8 *base;
	size_t blen;
	int err = 0;

	if (!len)
		return 0;
	if (buf) {
		base = tquic_buf_data(buf);
		blen = tquic_buf_len(buf);
		if (data < base || (size_t)(data - base) > blen ||
		    len > blen - (size_t)(data - base) || blen > U32_LIMIT)
			return -EINVAL;
	}
	if (off > TQUIC_VARINT_MAX || len > TQUIC_VARINT_MAX - off)
		return -EINVAL;
	end = off + len;
	if (end <= rb->read_off)
		return 0;
	if (off < rb->read_off) {
		skip = rb->read_off - off;
		data += skip;
		off += skip;
		len -= skip;
	}
	p = rbuf_seek(rb, off);
	while (len) {
		if (p && p->off <= off) {
			skip = min_u64(bref_end(p), end) - off;
			data += skip;
			off += skip;
			len -= skip;
			p = bref_next(&rb->frags, p);
			continue;
		}
		piece = p ? min_u64(len, p->off - off) : len;
		if (!buf)
			piece = min_u64(piece, TQUIC_CHUNK_MAX);
		collapsed = false;
		err = rbuf_store(rb, off, data, (u32)piece, buf, p, gfp, &collapsed);
		if (err)
			break;
		if (off == rb->contig)
			rbuf_advance_contig(rb);
		data += piece;
		off += piece;
		len -= piece;
		if (collapsed)
			p = rbuf_seek(rb, off);
	}
	rbuf_advance_contig(rb);
	return err;
}

bool tquic_rbuf_peek(const struct tquic_rbuf *rb, struct tquic_rbuf_iov *iov)
{
	struct tquic_bref *b = bref_first(&rb->frags);

	if (!b || b->off != rb->read_off) {
		memset(iov, 0, sizeof(*iov));
		iov->off = rb->read_off;
		return false;
	}
	iov->buf = b->buf;
	iov->data = bref_data(b);
	iov->boff = b->boff;
	iov->len = b->len;
	iov->off = b->off;
	return true;
}

void tquic_rbuf_consume(struct tquic_rbuf *rb, u64 n)
{
	struct tquic_bref *b;
	u64 take;

	n = min_u64(n, tquic_rbuf_readable(rb));
	while (n && (b = bref_first(&rb->frags))) {
		take = min_u64(n, b->len);
		b->off += take;
		b->boff += (u32)take;
		b->len -= (u32)take;
		rb->read_off += take;
		rb->buffered -= take;
		n -= take;
		if (!b->len) {
			rb->mem -= bref_cost(b);
			rb->nfrags--;
			bref_free(b);
		}
	}
	/* Measure growth towards the next collapse from the low-water mark. */
	if (rb->mem_collapsed > rb->mem)
		rb->mem_collapsed = rb->mem ? rb->mem : 1;
	if (rb->nfrags_collapsed > rb->nfrags)
		rb->nfrags_collapsed = rb->nfrags;
}

size_t tquic_rbuf_read(struct tquic_rbuf *rb, u8 *dst, size_t cap)
{
	struct tquic_rbuf_iov iov;
	size_t done = 0, n;

	while (done < cap && tquic_rbuf_peek(rb, &iov)) {
		n = min_u64(cap - done, iov.len);
		memcpy(dst + done, iov.data, n);
		done += n;
		tquic_rbuf_consume(rb, n);
	}
	return done;
}

/* ------------------------------------------------------------------ */
/* Send buffer                                                        */
/* ------------------------------------------------------------------ */

void tquic_sbuf_init(struct tquic_sbuf *sb, u64 limit)
{
	memset(sb, 0, sizeof(*sb));
	tquic_list_init(&sb->chunks);
	rset_init(&sb->lost);
	rset_init(&sb->acked);
	sb->limit = limit;
}

void tquic_sbuf_purge(struct tquic_sbuf *sb)
{
	struct tquic_bref *b;

	while ((b = bref_first(&sb->chunks)))
		bref_free(b);
	sb->hint = NULL;
	rset_free(&sb->lost);
	rset_free(&sb->acked);
	sb->rewind = false;
}

long tquic_sbuf_write(struct tquic_sbuf *sb, const u8 *data, size_t len,
		      unsigned int gfp)
{
	struct tquic_bref *tail = bref_last(&sb->chunks);
	size_t n = (size_t)min_u64(len, tquic_sbuf_space(sb)), done = 0, cp, room, cap;
	struct tquic_buf *b;

	while (done < n) {
		room = 0;
		if (tail && tail->owned && bref_end(tail) == sb->write_off)
			room = tquic_buf_len(tail->buf) - tail->boff - tail->len;
		if (room) {
			cp = min_u64(room, n - done);
			memcpy(tquic_buf_data(tail->buf) + tail->boff + tail->len,
			       data + done, cp);
			tail->len += (u32)cp;
			done += cp;
			sb->write_off += cp;
			continue;
		}
		cap = min_u64(max_u64(n - done, TQUIC_CHUNK_MIN), TQUIC_CHUNK_MAX);
		b = tquic_buf_alloc(cap, gfp);
		if (!b)
			break;
		tail = bref_new(sb->write_off, b, 0, 0, false, gfp);
		if (!tail) {
			tquic_buf_put(b);
			break;
		}
		tail->owned = true;
		tquic_list_add_tail(&tail->node, &sb->chunks);
	}
	if (!done && n)
		return -ENOMEM;
	return (long)done;
}

int tquic_sbuf_append(struct tquic_sbuf *sb, struct tquic_buf *b, size_t boff,
		      size_t len, unsigned int gfp)
{
	struct tquic_bref *r;
	size_t blen = tquic_buf_len(b);

	if (boff > blen || len > blen - boff || blen > U32_LIMIT)
		return -EINVAL;
	if (!len)
		return 0;
	if (len > tquic_sbuf_space(sb))
		return -ENOSPC;
	r = bref_new(sb->write_off, b, (u32)boff, (u32)len, true, gfp);
	if (!r)
		return -ENOMEM;
	tquic_list_add_tail(&r->node, &sb->chunks);
	sb->write_off += len;
	return 0;
}

/* Drops written bytes from @end on (never sent ones: undoes a partial write). */
static void sbuf_truncate(struct tquic_sbuf *sb, u64 end)
{
	struct tquic_bref *b;

	while ((b = bref_last(&sb->chunks)) && b->off >= end && b->off >= sb->send_off) {
		if (sb->hint == b)
			sb->hint = NULL;
		bref_free(b);
	}
	if (b && bref_end(b) > end)
		b->len = (u32)(end - b->off);
	sb->write_off = end;
}

static bool sbuf_fin_due(const struct tquic_sbuf *sb)
{
	return sb->fin && !sb->fin_acked && (!sb->fin_sent || sb->fin_lost);
}

bool tquic_sbuf_has_retransmit(const struct tquic_sbuf *sb)
{
	return sb->lost.count || sb->rewind ||
	       (sbuf_fin_due(sb) && sb->send_off == sb->write_off);
}

bool tquic_sbuf_has_pending(const struct tquic_sbuf *sb)
{
	return tquic_sbuf_has_retransmit(sb) || sb->send_off < sb->write_off ||
	       sbuf_fin_due(sb);
}

/* Frees chunks wholly below the acknowledged offset. */
static void sbuf_release(struct tquic_sbuf *sb)
{
	struct tquic_bref *b;

	while ((b = bref_first(&sb->chunks)) && bref_end(b) <= sb->acked_off) {
		if (sb->hint == b)
			sb->hint = NULL;
		bref_free(b);
	}
}

/* The chunk holding offset @off (NULL: none). */
static struct tquic_bref *sbuf_seek(struct tquic_sbuf *sb, u64 off)
{
	struct tquic_bref *b = sb->hint;

	if (!b || b->off > off)
		b = bref_first(&sb->chunks);
	while (b && bref_end(b) <= off)
		b = bref_next(&sb->chunks, b);
	return b;
}

/* Copies [off, off + len) of the written data to @dst. */
static void sbuf_copy(struct tquic_sbuf *sb, u64 off, u64 len, u8 *dst)
{
	struct tquic_bref *b = sbuf_seek(sb, off);
	u64 skip, n;

	while (len && b) {
		skip = off - b->off;
		n = min_u64(len, b->len - skip);
		memcpy(dst, bref_data(b) + skip, n);
		dst += n;
		off += n;
		len -= n;
		sb->hint = b;
		if (len)
			b = bref_next(&sb->chunks, b);
	}
}

/* The next range to send. */
struct sbuf_plan {
	u64 off;
	u64 len;
	bool fin;
	u8 kind;
};

#define PLAN_REWIND	1
#define PLAN_LOST	2
#define PLAN_FIN	3
#define PLAN_NEW	4

/* Skips acknowledged bytes from @a; returns the new start and the end bound. */
static u64 sbuf_skip_acked(const struct tquic_sbuf *sb, u64 a, u64 *bound)
{
	struct tquic_range *q;

	a = max_u64(a, sb->acked_off);
	q = rset_seek(&sb->acked, a);
	if (q && q->start <= a) {
		a = q->end;
		q = rset_next(&sb->acked, q);
	}
	*bound = q ? q->start : ~0ULL;
	return a;
}

/*
 * Chooses what to send next: a rewind after a bookkeeping failure, lost
 * ranges, a lost FIN, then new data within @credit.  @max_len bounds the
 * data.  Only cleans up state (consumed ranges) without committing.
 */
static bool sbuf_plan(struct tquic_sbuf *sb, u64 max_len, u64 credit,
		      struct sbuf_plan *pl)
{
	struct tquic_range *r;
	u64 a, e, bound;

	if (sb->rewind) {
		a = sbuf_skip_acked(sb, sb->rewind_off, &bound);
		if (a >= sb->send_off) {
			sb->rewind = false;
		} else {
			sb->rewind_off = a;
			e = min_u64(sb->send_off, bound);
			e = a + min_u64(max_len, e - a);
			pl->kind = PLAN_REWIND;
			goto range;
		}
	}
	while ((r = rset_first(&sb->lost))) {
		a = sbuf_skip_acked(sb, r->start, &bound);
		if (a >= r->end || a >= sb->send_off) {
			rset_drop(&sb->lost, r);
			continue;
		}
		r->start = a;
		e = min_u64(min_u64(r->end, bound), sb->send_off);
		e = a + min_u64(max_len, e - a);
		pl->kind = PLAN_LOST;
		goto range;
	}
	if (sbuf_fin_due(sb) && sb->fin_sent && sb->send_off == sb->write_off) {
		pl->kind = PLAN_FIN;
		pl->off = sb->write_off;
		pl->len = 0;
		pl->fin = true;
		return true;
	}
	a = sb->send_off;
	e = a + min_u64(min_u64(sb->write_off - a, max_len), credit);
	pl->kind = PLAN_NEW;
	pl->off = a;
	pl->len = e - a;
	pl->fin = sbuf_fin_due(sb) && e == sb->write_off;
	return pl->len || pl->fin;

range:
	pl->off = a;
	pl->len = e > a ? e - a : 0;
	pl->fin = sbuf_fin_due(sb) && e == sb->write_off && sb->send_off == sb->write_off;
	return pl->len || pl->fin;
}

/* Commits @pl after it was written into a packet. */
static void sbuf_take(struct tquic_sbuf *sb, const struct sbuf_plan *pl)
{
	struct tquic_range *r;
	u64 e = pl->off + pl->len;

	switch (pl->kind) {
	case PLAN_REWIND:
		sb->rewind_off = e;
		if (e >= sb->send_off)
			sb->rewind = false;
		break;
	case PLAN_LOST:
		r = rset_first(&sb->lost);
		if (r && r->start == pl->off) {
			r->start = e;
			if (r->start >= r->end)
				rset_drop(&sb->lost, r);
		}
		break;
	case PLAN_NEW:
		sb->send_off = e;
		break;
	}
	if (pl->fin) {
		sb->fin_sent = true;
		sb->fin_lost = false;
	}
}

static void sbuf_lost(struct tquic_sbuf *sb, u64 off, u64 len, bool fin)
{
	u64 start = max_u64(off, sb->acked_off), end = min_u64(off + len, sb->send_off);

	if (fin && sb->fin_sent && !sb->fin_acked)
		sb->fin_lost = true;
	if (start >= end)
		return;
	if (rset_add(&sb->lost, start, end, TQUIC_GFP_ATOMIC) < 0) {
		/* Retransmit everything unacknowledged rather than lose data. */
		if (!sb->rewind || start < sb->rewind_off)
			sb->rewind_off = start;
		sb->rewind = true;
	}
}

/* Returns true when the acknowledged offset moved. */
static bool sbuf_acked(struct tquic_sbuf *sb, u64 off, u64 len, bool fin)
{
	u64 end = off + len, old = sb->acked_off;
	struct tquic_range *r;

	if (fin && sb->fin_sent) {
		sb->fin_acked = true;
		sb->fin_lost = false;
	}
	end = min_u64(end, sb->send_off);
	if (end <= sb->acked_off)
		return false;
	if (off <= sb->acked_off) {
		sb->acked_off = end;
	} else if (rset_add(&sb->acked, off, end, TQUIC_GFP_ATOMIC) < 0) {
		/* Cannot remember the ack: send the bytes again instead. */
		sbuf_lost(sb, off, end - off, false);
		return false;
	}
	while ((r = rset_first(&sb->acked)) && r->start <= sb->acked_off) {
		sb->acked_off = max_u64(sb->acked_off, r->end);
		rset_drop(&sb->acked, r);
	}
	/* Best effort: the planner skips acknowledged bytes anyway. */
	rset_del(&sb->lost, off, end, TQUIC_GFP_ATOMIC);
	while ((r = rset_first(&sb->lost)) && r->end <= sb->acked_off)
		rset_drop(&sb->lost, r);
	sbuf_release(sb);
	return sb->acked_off != old;
}

/* Max data bytes of a frame whose fixed header is @hdr bytes in @room. */
static u64 frame_data_room(size_t room, size_t hdr)
{
	u64 avail, ml;

	if (room <= hdr)
		return ~0ULL;	/* not even a length field */
	avail = room - hdr;
	ml = avail - 1;
	if (ml > 63)
		ml = avail - 2;
	if (ml > 16383)
		ml = avail - 4;
	if (ml > 1073741823ULL)
		ml = avail - 8;
	return ml;
}

/*
 * Plans and writes one STREAM (@is_stream) or CRYPTO frame from @sb into
 * @w.  Returns bytes written (0: nothing) and the plan in @pl.
 */
static size_t sbuf_write_frame(struct tquic_sbuf *sb, bool is_stream, u64 id,
			       u64 credit, struct tquic_wbuf *w, struct sbuf_plan *pl)
{
	struct tquic_wbuf c = *w;
	struct tquic_bref *b;
	size_t hdr;
	u64 type, ml;

	if (!sbuf_plan(sb, ~0ULL, credit, pl))
		return 0;
	if (is_stream)
		hdr = 1 + tquic_varint_len(id) + (pl->off ? tquic_varint_len(pl->off) : 0);
	else
		hdr = 1 + tquic_varint_len(pl->off);
	ml = frame_data_room(w->left, hdr);
	if (ml == ~0ULL)
		return 0;
	if (!sbuf_plan(sb, ml, credit, pl))
		return 0;
	if (!is_stream && !pl->len)
		return 0;
	if (is_stream) {
		type = TQUIC_FT_STREAM | TQUIC_FT_STREAM_LEN |
		       (pl->off ? TQUIC_FT_STREAM_OFF : 0) |
		       (pl->fin ? TQUIC_FT_STREAM_FIN : 0);
		if (!tquic_put_varint(&c, type) || !tquic_put_varint(&c, id) ||
		    (pl->off && !tquic_put_varint(&c, pl->off)))
			return 0;
	} else if (!tquic_put_varint(&c, TQUIC_FT_CRYPTO) ||
		   !tquic_put_varint(&c, pl->off)) {
		return 0;
	}
	if (!tquic_put_varint(&c, pl->len) || c.left < pl->len)
		return 0;
	b = c.defer && !c.defer->len && pl->len ? sbuf_seek(sb, pl->off) : NULL;
	if (b && b->off <= pl->off && pl->off + pl->len <= bref_end(b)) {
		/* Sealed straight from the chunk: no copy into the packet first. */
		c.defer->dst = c.p;
		c.defer->src = bref_data(b) + (pl->off - b->off);
		c.defer->len = pl->len;
		sb->hint = b;
	} else {
		sbuf_copy(sb, pl->off, pl->len, c.p);
	}
	c.p += pl->len;
	c.left -= pl->len;
	sbuf_take(sb, pl);
	hdr = w->left - c.left;
	*w = c;
	return hdr;
}

/* ------------------------------------------------------------------ */
/* Stream table                                                       */
/* ------------------------------------------------------------------ */

static u32 id_hash(u64 id, u32 bits)
{
	return (u32)((id * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
}

static int streams_alloc_buckets(struct tquic_list **out, u32 bits, unsigned int gfp)
{
	struct tquic_list *b;
	u32 i, n = 1U << bits;

	b = tquic_mem_alloc(sizeof(*b) * n, gfp);
	if (!b)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		tquic_list_init(&b[i]);
	*out = b;
	return 0;
}

static void streams_rehash(struct tquic_streams *s, unsigned int gfp)
{
	struct tquic_list *nb, *old = s->buckets;
	u32 i, bits = s->hash_bits + 1, n = 1U << s->hash_bits;
	struct tquic_stream *st, *tmp;

	if (bits > TQUIC_HASH_BITS_MAX || streams_alloc_buckets(&nb, bits, gfp))
		return;
	for (i = 0; i < n; i++) {
		tquic_list_for_each_entry_safe(st, tmp, &old[i], hnode) {
			tquic_list_del(&st->hnode);
			tquic_list_add_tail(&st->hnode, &nb[id_hash(st->id, bits)]);
		}
	}
	s->buckets = nb;
	s->hash_bits = bits;
	tquic_mem_free(old);
}

struct tquic_stream *tquic_streams_find(struct tquic_streams *s, u64 id)
{
	struct tquic_list *head = &s->buckets[id_hash(id, s->hash_bits)];
	struct tquic_stream *st;

	tquic_list_for_each_entry(st, head, hnode)
		if (st->id == id)
			return st;
	return NULL;
}

static bool is_local(const struct tquic_streams *s, u64 id)
{
	return tquic_stream_id_is_local(id, s->cfg.is_server);
}

/* Our receive window for a new stream @id. */
static u64 local_stream_window(const struct tquic_streams *s, u64 id)
{
	if (tquic_stream_id_is_uni(id))
		return s->cfg.local.max_stream_data_uni;
	return is_local(s, id) ? s->cfg.local.max_stream_data_bidi_local :
				 s->cfg.local.max_stream_data_bidi_remote;
}

/* The peer's receive window for a new stream @id (our send credit). */
static u64 peer_stream_window(const struct tquic_streams *s, u64 id)
{
	if (tquic_stream_id_is_uni(id))
		return s->peer.max_stream_data_uni;
	return is_local(s, id) ? s->peer.max_stream_data_bidi_remote :
				 s->peer.max_stream_data_bidi_local;
}

static void rx_set_mem_limit(struct tquic_stream *st)
{
	st->rx.mem_limit = 2 * st->fc_rx.window + TQUIC_RMEM_SLACK;
}

static struct tquic_stream *stream_new(struct tquic_streams *s, u64 id, unsigned int gfp)
{
	struct tquic_stream *st = tquic_mem_alloc(sizeof(*st), gfp);
	u64 w;

	if (!st)
		return NULL;
	st->id = id;
	tquic_list_init(&st->sched_node);
	tquic_list_init(&st->ctrl_node);
	tquic_list_init(&st->ev_node);
	tquic_list_init(&st->accept_node);
	st->urgency = TQUIC_URGENCY_DEFAULT;
	tquic_rbuf_init(&st->rx, 0, s->cfg.max_frags);
	tquic_sbuf_init(&st->tx, s->cfg.send_buffer);
	if (tquic_stream_id_can_recv(id, s->cfg.is_server)) {
		st->recv_state = TQUIC_RECV_RECV;
		w = local_stream_window(s, id);
		tquic_fc_rx_init(&st->fc_rx, w, max_u64(w, s->cfg.max_stream_window));
		rx_set_mem_limit(st);
	}
	if (tquic_stream_id_can_send(id, s->cfg.is_server)) {
		st->send_state = TQUIC_SEND_READY;
		tquic_fc_tx_init(&st->fc_tx, peer_stream_window(s, id));
	}
	tquic_list_add_tail(&st->hnode, &s->buckets[id_hash(id, s->hash_bits)]);
	s->count++;
	if (s->count > (2U << s->hash_bits))
		streams_rehash(s, gfp);
	return st;
}

static void stream_free(struct tquic_stream *st)
{
	tquic_list_del(&st->hnode);
	tquic_list_del(&st->sched_node);
	tquic_list_del(&st->ctrl_node);
	tquic_list_del(&st->ev_node);
	tquic_list_del(&st->accept_node);
	tquic_rbuf_purge(&st->rx);
	tquic_sbuf_purge(&st->tx);
	tquic_mem_free(st);
}

int tquic_streams_init(struct tquic_streams *s, const struct tquic_streams_config *cfg,
		       unsigned int gfp)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	if (!s->cfg.max_frags)
		s->cfg.max_frags = 1024;
	if (streams_alloc_buckets(&s->buckets, TQUIC_HASH_BITS_MIN, gfp))
		return -ENOMEM;
	s->hash_bits = TQUIC_HASH_BITS_MIN;
	for (i = 0; i < TQUIC_URGENCY_LEVELS; i++)
		tquic_list_init(&s->sched[i]);
	tquic_list_init(&s->ctrl);
	tquic_list_init(&s->events);
	tquic_list_init(&s->accept);
	tquic_list_init(&s->reap);
	tquic_fc_rx_init(&s->conn_rx, cfg->local.max_data,
			 max_u64(cfg->local.max_data, cfg->max_conn_window));
	tquic_fc_tx_init(&s->conn_tx, 0);
	for (i = 0; i < 2; i++) {
		u64 lim = i ? cfg->local.max_streams_uni : cfg->local.max_streams_bidi;

		lim = min_u64(lim, TQUIC_MAX_STREAMS_LIMIT);
		s->type[i].peer_limit = lim;
		s->type[i].peer_window = lim;
		s->type[i].blocked_at = ~0ULL;
	}
	return 0;
}

void tquic_streams_destroy(struct tquic_streams *s)
{
	struct tquic_stream *st, *tmp;
	u32 i;

	if (!s->buckets)
		return;
	tquic_streams_reap(s);
	for (i = 0; i < (1U << s->hash_bits); i++)
		tquic_list_for_each_entry_safe(st, tmp, &s->buckets[i], hnode)
			stream_free(st);
	tquic_mem_free(s->buckets);
	s->buckets = NULL;
	s->count = 0;
}

static void stream_event(struct tquic_streams *s, struct tquic_stream *st, u32 ev)
{
	st->events |= ev;
	if (tquic_list_empty(&st->ev_node))
		tquic_list_add_tail(&st->ev_node, &s->events);
}

static void stream_ctrl(struct tquic_streams *s, struct tquic_stream *st, u8 bits)
{
	st->ctrl |= bits;
	if (tquic_list_empty(&st->ctrl_node))
		tquic_list_add_tail(&st->ctrl_node, &s->ctrl);
}

static void stream_ctrl_clear(struct tquic_stream *st, u8 bits)
{
	st->ctrl &= ~bits;
	if (!st->ctrl)
		tquic_list_del(&st->ctrl_node);
}

static void maybe_max_streams(struct tquic_stream_type *t)
{
	u64 lim = min_u64(t->peer_closed + t->peer_window, TQUIC_MAX_STREAMS_LIMIT);

	if (lim > t->peer_limit && lim - t->peer_limit >= (t->peer_window + 7) / 8)
		t->max_pending = true;
}

/* Unhashes a stream whose both sides are terminal and queues it for reaping. */
static void stream_maybe_done(struct tquic_streams *s, struct tquic_stream *st)
{
	struct tquic_stream_type *t;

	if (st->dead || !tquic_stream_send_terminal(st) || !tquic_stream_recv_terminal(st))
		return;
	st->dead = true;
	tquic_list_del(&st->hnode);
	tquic_list_del(&st->sched_node);
	tquic_list_del(&st->ctrl_node);
	st->ctrl = 0;
	tquic_list_add_tail(&st->hnode, &s->reap);
	s->count--;
	if (!is_local(s, st->id)) {
		t = &s->type[tquic_stream_id_is_uni(st->id)];
		t->peer_closed++;
		maybe_max_streams(t);
	}
}

void tquic_streams_reap(struct tquic_streams *s)
{
	struct tquic_stream *st, *tmp;

	tquic_list_for_each_entry_safe(st, tmp, &s->reap, hnode)
		stream_free(st);
}

static bool stream_send_open(const struct tquic_stream *st)
{
	return st->send_state == TQUIC_SEND_READY || st->send_state == TQUIC_SEND_SEND ||
	       st->send_state == TQUIC_SEND_DATA_SENT;
}

/* Whether the stream can put anything on the wire with stream credit. */
static bool stream_wants_send(struct tquic_stream *st)
{
	struct tquic_sbuf *sb = &st->tx;

	if (!stream_send_open(st))
		return false;
	if (tquic_sbuf_has_retransmit(sb))
		return true;
	if (sb->send_off < sb->write_off)
		return tquic_fc_tx_avail(&st->fc_tx) > 0;
	return sb->fin && !sb->fin_sent;
}

static void sched_insert(struct tquic_streams *s, struct tquic_stream *st)
{
	struct tquic_list *head = &s->sched[st->urgency];
	struct tquic_stream *p;

	if (st->incremental) {
		tquic_list_add_tail(&st->sched_node, head);
		return;
	}
	tquic_list_for_each_entry(p, head, sched_node) {
		if (p->incremental || p->id > st->id) {
			tquic_list_add_tail(&st->sched_node, &p->sched_node);
			return;
		}
	}
	tquic_list_add_tail(&st->sched_node, head);
}

/* Puts @st into (or takes it out of) the scheduler; signals stream blocking. */
static void sched_update(struct tquic_streams *s, struct tquic_stream *st)
{
	bool want = stream_wants_send(st);

	if (want && tquic_list_empty(&st->sched_node))
		sched_insert(s, st);
	else if (!want)
		tquic_list_del(&st->sched_node);
	if (stream_send_open(st) && st->tx.send_off < st->tx.write_off &&
	    !tquic_fc_tx_avail(&st->fc_tx)) {
		tquic_fc_tx_blocked(&st->fc_tx);
		if (st->fc_tx.blocked_pending)
			stream_ctrl(s, st, TQUIC_SCTRL_DATA_BLOCKED);
	}
}

void tquic_streams_set_peer_limits(struct tquic_streams *s,
				   const struct tquic_stream_limits *peer)
{
	struct tquic_stream *st;
	u32 i;

	s->peer = *peer;
	tquic_fc_tx_update(&s->conn_tx, peer->max_data);
	for (i = 0; i < 2; i++) {
		u64 lim = min_u64(i ? peer->max_streams_uni : peer->max_streams_bidi,
				  TQUIC_MAX_STREAMS_LIMIT);

		if (lim > s->type[i].local_limit) {
			s->type[i].local_limit = lim;
			s->type[i].blocked_pending = false;
		}
	}
	for (i = 0; i < (1U << s->hash_bits); i++) {
		tquic_list_for_each_entry(st, &s->buckets[i], hnode) {
			if (st->send_state == TQUIC_SEND_NONE)
				continue;
			if (tquic_fc_tx_update(&st->fc_tx, peer_stream_window(s, st->id)))
				stream_event(s, st, TQUIC_STREAM_EV_WRITABLE);
			sched_update(s, st);
		}
	}
}

int tquic_streams_open(struct tquic_streams *s, bool uni, unsigned int gfp,
		       struct tquic_stream **out)
{
	struct tquic_stream_type *t = &s->type[uni];
	struct tquic_stream *st;

	if (t->next_local >= t->local_limit) {
		if (t->blocked_at != t->local_limit)
			t->blocked_pending = true;
		return -EAGAIN;
	}
	st = stream_new(s, tquic_stream_id_make(t->next_local, s->cfg.is_server, uni), gfp);
	if (!st)
		return -ENOMEM;
	t->next_local++;
	*out = st;
	return 0;
}

struct tquic_stream *tquic_streams_accept(struct tquic_streams *s)
{
	struct tquic_stream *st;

	if (tquic_list_empty(&s->accept))
		return NULL;
	st = tquic_list_first_entry(&s->accept, struct tquic_stream, accept_node);
	tquic_list_del(&st->accept_node);
	return st;
}

struct tquic_stream *tquic_streams_next_event(struct tquic_streams *s, u32 *events)
{
	struct tquic_stream *st;

	if (tquic_list_empty(&s->events))
		return NULL;
	st = tquic_list_first_entry(&s->events, struct tquic_stream, ev_node);
	tquic_list_del(&st->ev_node);
	*events = st->events;
	st->events = 0;
	return st;
}

/*
 * Finds the stream a received frame refers to.  @send: the frame is about
 * our sending direction (STOP_SENDING, MAX_STREAM_DATA), else about our
 * receiving direction.  Opens peer streams implicitly (RFC 9000 3.2).
 * *@out is NULL for a closed stream (the frame is then ignored).
 */
static int streams_lookup(struct tquic_streams *s, u64 id, bool send, unsigned int gfp,
			  struct tquic_stream **out)
{
	bool uni = tquic_stream_id_is_uni(id);
	struct tquic_stream_type *t = &s->type[uni];
	u64 idx = tquic_stream_id_index(id);
	struct tquic_stream *st = NULL;

	*out = NULL;
	if (id > TQUIC_STREAM_ID_MAX)
		return TQUIC_ERR_FRAME_ENCODING_ERROR;
	if (send ? !tquic_stream_id_can_send(id, s->cfg.is_server) :
		   !tquic_stream_id_can_recv(id, s->cfg.is_server))
		return TQUIC_ERR_STREAM_STATE_ERROR;
	if (is_local(s, id)) {
		if (idx >= t->next_local)
			return TQUIC_ERR_STREAM_STATE_ERROR;
		*out = tquic_streams_find(s, id);
		return 0;
	}
	if (idx < t->peer_opened) {
		*out = tquic_streams_find(s, id);
		return 0;
	}
	if (idx >= t->peer_limit)
		return TQUIC_ERR_STREAM_LIMIT_ERROR;
	while (t->peer_opened <= idx) {
		st = stream_new(s, tquic_stream_id_make(t->peer_opened, !s->cfg.is_server, uni),
				gfp);
		if (!st)
			return -ENOMEM;
		tquic_list_add_tail(&st->accept_node, &s->accept);
		t->peer_opened++;
	}
	*out = st;
	return 0;
}

/* The application consumed @n bytes (read or discarded): credit flows back. */
static void stream_credit(struct tquic_streams *s, struct tquic_stream *st, u64 n)
{
	u64 w = st->fc_rx.window;

	tquic_fc_rx_consume(&st->fc_rx, n, s->now_us, s->rtt_us);
	if (st->fc_rx.window != w) {
		rx_set_mem_limit(st);
		/* Keep the connection window ahead of its streams (1.5x). */
		tquic_fc_rx_ensure_window(&s->conn_rx,
					  st->fc_rx.window + st->fc_rx.window / 2);
	}
	if (st->fc_rx.pending)
		stream_ctrl(s, st, TQUIC_SCTRL_MAX_STREAM_DATA);
	tquic_fc_rx_consume(&s->conn_rx, n, s->now_us, s->rtt_us);
}

static void stream_check_data_recvd(struct tquic_streams *s, struct tquic_stream *st)
{
	/* Behind a RESET_STREAM_AT the stream ends in the reset, not in its data. */
	if (st->recv_state == TQUIC_RECV_SIZE_KNOWN && st->rx.contig >= st->final_size &&
	    !st->reset_at)
		st->recv_state = TQUIC_RECV_DATA_RECVD;
	/* Data Read needs the application to see the end, unless it opted out. */
	if (st->discard && st->recv_state == TQUIC_RECV_DATA_RECVD &&
	    st->rx.read_off >= st->final_size) {
		st->recv_state = TQUIC_RECV_DATA_READ;
		stream_maybe_done(s, st);
	}
}

/* After STOP_SENDING: drop whatever became readable. */
static void stream_discard(struct tquic_streams *s, struct tquic_stream *st)
{
	u64 n = tquic_rbuf_readable(&st->rx);

	if (!n)
		return;
	tquic_rbuf_consume(&st->rx, n);
	stream_credit(s, st, n);
}

/* Final-size rules shared by STREAM and RESET_STREAM (RFC 9000 4.5). */
static int stream_check_final(const struct tquic_stream *st, u64 end, bool fin)
{
	if (st->final_known) {
		if (end > st->final_size || (fin && end != st->final_size))
			return TQUIC_ERR_FINAL_SIZE_ERROR;
	} else if (fin && end < st->fc_rx.highest) {
		return TQUIC_ERR_FINAL_SIZE_ERROR;
	}
	return 0;
}

int tquic_streams_on_stream(struct tquic_streams *s, const struct tquic_frame_stream *f,
			    struct tquic_buf *buf, u64 now_us, unsigned int gfp)
{
	struct tquic_stream *st;
	u64 end, delta, before;
	int err;

	s->now_us = now_us;
	if (f->offset > TQUIC_VARINT_MAX || f->len > TQUIC_VARINT_MAX - f->offset)
		return TQUIC_ERR_FRAME_ENCODING_ERROR;
	err = streams_lookup(s, f->id, false, gfp, &st);
	if (err || !st)
		return err;
	end = f->offset + f->len;
	err = stream_check_final(st, end, f->fin);
	if (err)
		return err;
	err = tquic_fc_rx_on_data(&st->fc_rx, end, &delta);
	if (err)
		return err;
	err = tquic_fc_rx_charge(&s->conn_rx, delta);
	if (err)
		return err;
	if (st->recv_state != TQUIC_RECV_RECV && st->recv_state != TQUIC_RECV_SIZE_KNOWN)
		return 0;	/* all received, or reset: nothing more to keep */
	if (f->fin && !st->final_known) {
		st->final_known = true;
		st->final_size = end;
		st->recv_state = TQUIC_RECV_SIZE_KNOWN;
		tquic_fc_rx_stop(&st->fc_rx);
		stream_ctrl_clear(st, TQUIC_SCTRL_MAX_STREAM_DATA);
	}
	before = st->rx.contig;
	err = tquic_rbuf_insert(&st->rx, f->offset, f->data, f->len, buf, gfp);
	if (st->rx.contig != before || (f->fin && st->rx.contig >= st->final_size))
		stream_event(s, st, TQUIC_STREAM_EV_READABLE);
	if (st->discard)
		stream_discard(s, st);
	stream_check_data_recvd(s, st);
	return err;
}

/* The peer's reset takes effect: what was not read is dropped. */
static void stream_reset_recvd(struct tquic_streams *s, struct tquic_stream *st)
{
	/* Bytes that will never be read give their connection credit back. */
	u64 unread = st->final_size - st->rx.read_off;

	st->reset_at = false;
	st->recv_state = TQUIC_RECV_RESET_RECVD;
	tquic_rbuf_purge(&st->rx);
	stream_ctrl_clear(st, TQUIC_SCTRL_STOP);
	tquic_fc_rx_consume(&s->conn_rx, unread, s->now_us, s->rtt_us);
	stream_event(s, st, TQUIC_STREAM_EV_PEER_RESET | TQUIC_STREAM_EV_READABLE);
	/* After STOP_SENDING the application reads no more: nothing to tell it. */
	if (st->discard) {
		st->recv_state = TQUIC_RECV_RESET_READ;
		stream_maybe_done(s, st);
	}
}

int tquic_streams_on_reset(struct tquic_streams *s, const struct tquic_frame_reset *f,
			   u64 now_us, unsigned int gfp)
{
	struct tquic_stream *st;
	u64 delta, reliable;
	int err;

	s->now_us = now_us;
	if (f->final_size > TQUIC_VARINT_MAX)
		return TQUIC_ERR_FRAME_ENCODING_ERROR;
	err = streams_lookup(s, f->id, false, gfp, &st);
	if (err || !st)
		return err;
	err = stream_check_final(st, f->final_size, true);
	if (err)
		return err;
	err = tquic_fc_rx_on_data(&st->fc_rx, f->final_size, &delta);
	if (err)
		return err;
	err = tquic_fc_rx_charge(&s->conn_rx, delta);
	if (err)
		return err;
	/* All data received already: deliver it and ignore the reset. */
	if (st->recv_state != TQUIC_RECV_RECV && st->recv_state != TQUIC_RECV_SIZE_KNOWN)
		return 0;
	/* A later RESET_STREAM_AT may lower the reliable size, never raise it. */
	reliable = f->reliable_size;
	if (st->reset_at && reliable > st->reliable_size)
		reliable = st->reliable_size;
	st->final_known = true;
	st->final_size = f->final_size;
	st->rx_error = f->error_code;
	tquic_fc_rx_stop(&st->fc_rx);
	stream_ctrl_clear(st, TQUIC_SCTRL_MAX_STREAM_DATA);
	if (reliable > st->rx.read_off) {
		st->reset_at = true;
		st->reliable_size = reliable;
		st->recv_state = TQUIC_RECV_SIZE_KNOWN;
		return 0;
	}
	stream_reset_recvd(s, st);
	return 0;
}

static void stream_do_reset(struct tquic_streams *s, struct tquic_stream *st, u64 code)
{
	st->reset_code = code;
	st->reset_size = st->tx.send_off;
	st->send_state = TQUIC_SEND_RESET_SENT;
	tquic_sbuf_purge(&st->tx);
	tquic_list_del(&st->sched_node);
	stream_ctrl_clear(st, TQUIC_SCTRL_DATA_BLOCKED);
	stream_ctrl(s, st, TQUIC_SCTRL_RESET);
}

int tquic_streams_on_stop_sending(struct tquic_streams *s,
				  const struct tquic_frame_reset *f, unsigned int gfp)
{
	struct tquic_stream *st;
	int err;

	err = streams_lookup(s, f->id, true, gfp, &st);
	if (err || !st)
		return err;
	if (!stream_send_open(st))
		return 0;
	st->stop_error = f->error_code;
	st->peer_stopped = true;
	stream_do_reset(s, st, f->error_code);
	stream_event(s, st, TQUIC_STREAM_EV_PEER_STOP);
	return 0;
}

int tquic_streams_on_max_data(struct tquic_streams *s, u64 max)
{
	tquic_fc_tx_update(&s->conn_tx, max);
	return 0;
}

int tquic_streams_on_max_stream_data(struct tquic_streams *s, u64 id, u64 max,
				     unsigned int gfp)
{
	struct tquic_stream *st;
	int err;

	err = streams_lookup(s, id, true, gfp, &st);
	if (err || !st)
		return err;
	if (tquic_fc_tx_update(&st->fc_tx, max)) {
		stream_ctrl_clear(st, TQUIC_SCTRL_DATA_BLOCKED);
		if (stream_send_open(st))
			stream_event(s, st, TQUIC_STREAM_EV_WRITABLE);
		sched_update(s, st);
	}
	return 0;
}

int tquic_streams_on_max_streams(struct tquic_streams *s, bool uni, u64 max)
{
	struct tquic_stream_type *t = &s->type[uni];

	if (max > TQUIC_MAX_STREAMS_LIMIT)
		return TQUIC_ERR_FRAME_ENCODING_ERROR;
	if (max > t->local_limit) {
		t->local_limit = max;
		t->blocked_pending = false;
	}
	return 0;
}

int tquic_streams_on_data_blocked(struct tquic_streams *s, u64 limit)
{
	(void)limit;
	if (tquic_fc_rx_next_limit(&s->conn_rx) > s->conn_rx.limit)
		s->conn_rx.pending = true;
	return 0;
}

int tquic_streams_on_stream_data_blocked(struct tquic_streams *s, u64 id, u64 limit,
					 unsigned int gfp)
{
	struct tquic_stream *st;
	int err;

	err = streams_lookup(s, id, false, gfp, &st);
	if (err || !st)
		return err;
	(void)limit;
	if (st->recv_state == TQUIC_RECV_RECV && !st->fc_rx.stopped &&
	    tquic_fc_rx_next_limit(&st->fc_rx) > st->fc_rx.limit) {
		st->fc_rx.pending = true;
		stream_ctrl(s, st, TQUIC_SCTRL_MAX_STREAM_DATA);
	}
	return 0;
}

int tquic_streams_on_streams_blocked(struct tquic_streams *s, bool uni, u64 limit)
{
	struct tquic_stream_type *t = &s->type[uni];
	u64 lim;

	if (limit > TQUIC_MAX_STREAMS_LIMIT)
		return TQUIC_ERR_FRAME_ENCODING_ERROR;
	lim = min_u64(t->peer_closed + t->peer_window, TQUIC_MAX_STREAMS_LIMIT);
	if (lim > t->peer_limit)
		t->max_pending = true;
	return 0;
}

/* ---- application side ---- */

static int stream_write_check(const struct tquic_stream *st)
{
	if (st->send_state == TQUIC_SEND_NONE)
		return -EINVAL;
	if (st->send_state == TQUIC_SEND_RESET_SENT ||
	    st->send_state == TQUIC_SEND_RESET_RECVD)
		return st->peer_stopped ? -ECONNRESET : -EPIPE;
	if (st->tx.fin)
		return -EPIPE;
	return 0;
}

int tquic_stream_write(struct tquic_streams *s, struct tquic_stream *st, const u8 *data,
		       size_t len, bool fin, size_t *written, unsigned int gfp)
{
	long n;
	int err;

	*written = 0;
	err = stream_write_check(st);
	if (err)
		return err;
	n = tquic_sbuf_write(&st->tx, data, len, gfp);
	if (n < 0)
		return (int)n;
	*written = (size_t)n;
	if (fin && (size_t)n == len)
		st->tx.fin = true;
	sched_update(s, st);
	return 0;
}

int tquic_stream_write_buf(struct tquic_streams *s, struct tquic_stream *st,
			   struct tquic_buf *b, size_t boff, size_t len, bool fin,
			   unsigned int gfp)
{
	int err = stream_write_check(st);

	if (err)
		return err;
	err = tquic_sbuf_append(&st->tx, b, boff, len, gfp);
	if (err)
		return err;
	if (fin)
		st->tx.fin = true;
	sched_update(s, st);
	return 0;
}

int tquic_stream_finish(struct tquic_streams *s, struct tquic_stream *st)
{
	int err = stream_write_check(st);

	if (err)
		return err;
	st->tx.fin = true;
	sched_update(s, st);
	return 0;
}

int tquic_stream_peek(struct tquic_streams *s, struct tquic_stream *st,
		      struct tquic_rbuf_iov *iov)
{
	memset(iov, 0, sizeof(*iov));
	switch (st->recv_state) {
	case TQUIC_RECV_NONE:
		return -EINVAL;
	case TQUIC_RECV_RESET_RECVD:
		st->recv_state = TQUIC_RECV_RESET_READ;
		stream_maybe_done(s, st);
		return -ECONNRESET;
	case TQUIC_RECV_RESET_READ:
		return -ECONNRESET;
	case TQUIC_RECV_DATA_READ:
		return 1;
	default:
		break;
	}
	if (tquic_rbuf_peek(&st->rx, iov)) {
		/* Nothing at or past a RESET_STREAM_AT's reliable size is delivered. */
		if (st->reset_at && iov->len > st->reliable_size - st->rx.read_off)
			iov->len = st->reliable_size - st->rx.read_off;
		return 0;
	}
	if (st->recv_state == TQUIC_RECV_DATA_RECVD && st->rx.read_off >= st->final_size) {
		st->recv_state = TQUIC_RECV_DATA_READ;
		stream_maybe_done(s, st);
		return 1;
	}
	return 0;
}

void tquic_stream_consume(struct tquic_streams *s, struct tquic_stream *st, u64 n)
{
	if (st->recv_state != TQUIC_RECV_RECV && st->recv_state != TQUIC_RECV_SIZE_KNOWN &&
	    st->recv_state != TQUIC_RECV_DATA_RECVD)
		return;
	n = min_u64(n, tquic_rbuf_readable(&st->rx));
	if (!n)
		return;
	tquic_rbuf_consume(&st->rx, n);
	stream_credit(s, st, n);
	if (st->reset_at && st->rx.read_off >= st->reliable_size)
		stream_reset_recvd(s, st);
	else
		stream_check_data_recvd(s, st);
}

long tquic_stream_read(struct tquic_streams *s, struct tquic_stream *st, u8 *dst,
		       size_t cap, bool *fin)
{
	struct tquic_rbuf_iov iov;
	size_t done = 0, n;
	int r;

	*fin = false;
	for (;;) {
		r = tquic_stream_peek(s, st, &iov);
		if (r < 0)
			return done ? (long)done : r;
		if (r == 1) {
			*fin = true;
			break;
		}
		if (!iov.len || done == cap)
			break;
		n = min_u64(cap - done, iov.len);
		memcpy(dst + done, iov.data, n);
		done += n;
		tquic_stream_consume(s, st, n);
	}
	return (long)done;
}

int tquic_stream_reset(struct tquic_streams *s, struct tquic_stream *st, u64 code)
{
	if (st->send_state == TQUIC_SEND_NONE)
		return -EINVAL;
	if (code > TQUIC_VARINT_MAX)
		return -EINVAL;
	if (stream_send_open(st))
		stream_do_reset(s, st, code);
	return 0;
}

int tquic_stream_stop_sending(struct tquic_streams *s, struct tquic_stream *st, u64 code)
{
	if (st->recv_state == TQUIC_RECV_NONE || code > TQUIC_VARINT_MAX)
		return -EINVAL;
	if (st->discard)
		return 0;
	st->discard = true;
	if (st->recv_state == TQUIC_RECV_RECV || st->recv_state == TQUIC_RECV_SIZE_KNOWN) {
		st->stop_code = code;
		stream_ctrl(s, st, TQUIC_SCTRL_STOP);
	}
	if (st->recv_state == TQUIC_RECV_RECV || st->recv_state == TQUIC_RECV_SIZE_KNOWN ||
	    st->recv_state == TQUIC_RECV_DATA_RECVD) {
		stream_discard(s, st);
		stream_check_data_recvd(s, st);
	}
	return 0;
}

int tquic_stream_set_priority(struct tquic_streams *s, struct tquic_stream *st,
			      u8 urgency, bool incremental)
{
	if (urgency >= TQUIC_URGENCY_LEVELS)
		return -EINVAL;
	st->urgency = urgency;
	st->incremental = incremental;
	if (!tquic_list_empty(&st->sched_node)) {
		tquic_list_del(&st->sched_node);
		sched_insert(s, st);
	}
	return 0;
}

/* ---- sending ---- */

/* Whether @st can send something now, given connection credit. */
static bool stream_can_send_now(struct tquic_streams *s, struct tquic_stream *st)
{
	if (tquic_sbuf_has_retransmit(&st->tx))
		return true;
	if (st->tx.send_off < st->tx.write_off) {
		if (tquic_fc_tx_avail(&s->conn_tx))
			return tquic_fc_tx_avail(&st->fc_tx) > 0;
		tquic_fc_tx_blocked(&s->conn_tx);
		return false;
	}
	return st->tx.fin && !st->tx.fin_sent;
}

struct tquic_stream *tquic_streams_sched_next(struct tquic_streams *s)
{
	struct tquic_stream *st;
	int u;

	for (u = 0; u < TQUIC_URGENCY_LEVELS; u++)
		tquic_list_for_each_entry(st, &s->sched[u], sched_node)
			if (stream_can_send_now(s, st))
				return st;
	return NULL;
}

size_t tquic_stream_write_frame(struct tquic_streams *s, struct tquic_stream *st,
				struct tquic_wbuf *w, struct tquic_stream_sent *rec)
{
	struct sbuf_plan pl;
	u64 credit;
	size_t n;

	if (!stream_send_open(st))
		return 0;
	credit = min_u64(tquic_fc_tx_avail(&st->fc_tx), tquic_fc_tx_avail(&s->conn_tx));
	n = sbuf_write_frame(&st->tx, true, st->id, credit, w, &pl);
	if (!n)
		return 0;
	if (pl.kind == PLAN_NEW) {
		tquic_fc_tx_consume(&st->fc_tx, pl.len);
		tquic_fc_tx_consume(&s->conn_tx, pl.len);
	}
	if (st->send_state == TQUIC_SEND_READY)
		st->send_state = TQUIC_SEND_SEND;
	if (st->send_state == TQUIC_SEND_SEND && st->tx.fin_sent &&
	    st->tx.send_off == st->tx.write_off)
		st->send_state = TQUIC_SEND_DATA_SENT;
	rec->id = st->id;
	rec->off = pl.off;
	rec->len = pl.len;
	rec->fin = pl.fin;
	if (st->incremental && !tquic_list_empty(&st->sched_node)) {
		tquic_list_del(&st->sched_node);
		tquic_list_add_tail(&st->sched_node, &s->sched[st->urgency]);
	}
	sched_update(s, st);
	if (!tquic_fc_tx_avail(&s->conn_tx) && st->tx.send_off < st->tx.write_off)
		tquic_fc_tx_blocked(&s->conn_tx);
	return n;
}

void tquic_streams_on_acked(struct tquic_streams *s, const struct tquic_stream_sent *rec)
{
	struct tquic_stream *st = tquic_streams_find(s, rec->id);
	u64 space;

	if (!st || !stream_send_open(st))
		return;
	space = tquic_sbuf_space(&st->tx);
	sbuf_acked(&st->tx, rec->off, rec->len, rec->fin);
	if (!space && tquic_sbuf_space(&st->tx))
		stream_event(s, st, TQUIC_STREAM_EV_WRITABLE);
	if (st->send_state == TQUIC_SEND_DATA_SENT && tquic_sbuf_all_acked(&st->tx)) {
		st->send_state = TQUIC_SEND_DATA_RECVD;
		tquic_sbuf_purge(&st->tx);
		tquic_list_del(&st->sched_node);
		stream_event(s, st, TQUIC_STREAM_EV_SEND_DONE);
		stream_maybe_done(s, st);
		return;
	}
	sched_update(s, st);
}

void tquic_streams_on_lost(struct tquic_streams *s, const struct tquic_stream_sent *rec)
{
	struct tquic_stream *st = tquic_streams_find(s, rec->id);

	if (!st || (st->send_state != TQUIC_SEND_SEND &&
		    st->send_state != TQUIC_SEND_DATA_SENT))
		return;
	sbuf_lost(&st->tx, rec->off, rec->len, rec->fin);
	sched_update(s, st);
}

/* ---- control frames ---- */

static void limit_frame(struct tquic_frame *f, u64 type, u64 id, u64 max)
{
	memset(f, 0, sizeof(*f));
	f->type = type;
	f->u.limit.id = id;
	f->u.limit.max = max;
}

static void reset_frame(struct tquic_frame *f, u64 type, u64 id, u64 code, u64 size)
{
	memset(f, 0, sizeof(*f));
	f->type = type;
	f->u.reset.id = id;
	f->u.reset.error_code = code;
	f->u.reset.final_size = size;
}

bool tquic_streams_next_ctrl(struct tquic_streams *s, struct tquic_frame *f)
{
	struct tquic_stream *st, *tmp;
	int i;

	if (s->conn_rx.pending && !s->conn_rx.stopped) {
		limit_frame(f, TQUIC_FT_MAX_DATA, 0, tquic_fc_rx_next_limit(&s->conn_rx));
		return true;
	}
	if (s->conn_tx.blocked_pending) {
		limit_frame(f, TQUIC_FT_DATA_BLOCKED, 0, s->conn_tx.limit);
		return true;
	}
	for (i = 0; i < 2; i++) {
		struct tquic_stream_type *t = &s->type[i];

		if (t->max_pending) {
			limit_frame(f, i ? TQUIC_FT_MAX_STREAMS_UNI : TQUIC_FT_MAX_STREAMS_BIDI, 0,
				    min_u64(t->peer_closed + t->peer_window,
					    TQUIC_MAX_STREAMS_LIMIT));
			return true;
		}
		if (t->blocked_pending) {
			limit_frame(f, i ? TQUIC_FT_STREAMS_BLOCKED_UNI :
				    TQUIC_FT_STREAMS_BLOCKED_BIDI, 0, t->local_limit);
			return true;
		}
	}
	tquic_list_for_each_entry_safe(st, tmp, &s->ctrl, ctrl_node) {
		if (st->ctrl & TQUIC_SCTRL_RESET) {
			reset_frame(f, TQUIC_FT_RESET_STREAM, st->id, st->reset_code,
				    st->reset_size);
			return true;
		}
		if (st->ctrl & TQUIC_SCTRL_STOP) {
			reset_frame(f, TQUIC_FT_STOP_SENDING, st->id, st->stop_code, 0);
			return true;
		}
		if ((st->ctrl & TQUIC_SCTRL_MAX_STREAM_DATA) && !st->fc_rx.stopped) {
			limit_frame(f, TQUIC_FT_MAX_STREAM_DATA, st->id,
				    tquic_fc_rx_next_limit(&st->fc_rx));
			return true;
		}
		if ((st->ctrl & TQUIC_SCTRL_DATA_BLOCKED) && st->fc_tx.blocked_pending) {
			limit_frame(f, TQUIC_FT_STREAM_DATA_BLOCKED, st->id, st->fc_tx.limit);
			return true;
		}
		st->ctrl = 0;
		tquic_list_del(&st->ctrl_node);
	}
	return false;
}

void tquic_streams_ctrl_sent(struct tquic_streams *s, const struct tquic_frame *f)
{
	struct tquic_stream_type *t;
	struct tquic_stream *st;

	switch (f->type) {
	case TQUIC_FT_MAX_DATA:
		tquic_fc_rx_update_sent(&s->conn_rx, f->u.limit.max);
		return;
	case TQUIC_FT_DATA_BLOCKED:
		tquic_fc_tx_blocked_sent(&s->conn_tx, f->u.limit.max);
		return;
	case TQUIC_FT_MAX_STREAMS_BIDI:
	case TQUIC_FT_MAX_STREAMS_UNI:
		t = &s->type[f->type == TQUIC_FT_MAX_STREAMS_UNI];
		t->peer_limit = max_u64(t->peer_limit, f->u.limit.max);
		t->max_pending = false;
		return;
	case TQUIC_FT_STREAMS_BLOCKED_BIDI:
	case TQUIC_FT_STREAMS_BLOCKED_UNI:
		t = &s->type[f->type == TQUIC_FT_STREAMS_BLOCKED_UNI];
		t->blocked_at = f->u.limit.max;
		if (f->u.limit.max == t->local_limit)
			t->blocked_pending = false;
		return;
	case TQUIC_FT_RESET_STREAM:
	case TQUIC_FT_STOP_SENDING:
		st = tquic_streams_find(s, f->u.reset.id);
		if (st)
			stream_ctrl_clear(st, f->type == TQUIC_FT_RESET_STREAM ?
					  TQUIC_SCTRL_RESET : TQUIC_SCTRL_STOP);
		return;
	case TQUIC_FT_MAX_STREAM_DATA:
		st = tquic_streams_find(s, f->u.limit.id);
		if (st) {
			tquic_fc_rx_update_sent(&st->fc_rx, f->u.limit.max);
			stream_ctrl_clear(st, TQUIC_SCTRL_MAX_STREAM_DATA);
		}
		return;
	case TQUIC_FT_STREAM_DATA_BLOCKED:
		st = tquic_streams_find(s, f->u.limit.id);
		if (st) {
			tquic_fc_tx_blocked_sent(&st->fc_tx, f->u.limit.max);
			stream_ctrl_clear(st, TQUIC_SCTRL_DATA_BLOCKED);
		}
		return;
	}
}

void tquic_streams_ctrl_acked(struct tquic_streams *s, const struct tquic_frame *f)
{
	struct tquic_stream *st;

	if (f->type != TQUIC_FT_RESET_STREAM)
		return;
	st = tquic_streams_find(s, f->u.reset.id);
	if (!st || st->send_state != TQUIC_SEND_RESET_SENT)
		return;
	st->send_state = TQUIC_SEND_RESET_RECVD;
	stream_ctrl_clear(st, TQUIC_SCTRL_RESET);
	stream_event(s, st, TQUIC_STREAM_EV_SEND_DONE);
	stream_maybe_done(s, st);
}

void tquic_streams_ctrl_lost(struct tquic_streams *s, const struct tquic_frame *f)
{
	struct tquic_stream_type *t;
	struct tquic_stream *st;

	switch (f->type) {
	case TQUIC_FT_MAX_DATA:
		tquic_fc_rx_update_lost(&s->conn_rx, f->u.limit.max);
		return;
	case TQUIC_FT_DATA_BLOCKED:
		tquic_fc_tx_blocked_lost(&s->conn_tx, f->u.limit.max);
		return;
	case TQUIC_FT_MAX_STREAMS_BIDI:
	case TQUIC_FT_MAX_STREAMS_UNI:
		t = &s->type[f->type == TQUIC_FT_MAX_STREAMS_UNI];
		if (f->u.limit.max == t->peer_limit)
			t->max_pending = true;
		return;
	case TQUIC_FT_STREAMS_BLOCKED_BIDI:
	case TQUIC_FT_STREAMS_BLOCKED_UNI:
		t = &s->type[f->type == TQUIC_FT_STREAMS_BLOCKED_UNI];
		if (f->u.limit.max == t->local_limit && t->next_local >= t->local_limit)
			t->blocked_pending = true;
		return;
	case TQUIC_FT_RESET_STREAM:
		st = tquic_streams_find(s, f->u.reset.id);
		if (st && st->send_state == TQUIC_SEND_RESET_SENT)
			stream_ctrl(s, st, TQUIC_SCTRL_RESET);
		return;
	case TQUIC_FT_STOP_SENDING:
		st = tquic_streams_find(s, f->u.reset.id);
		if (st && st->discard && (st->recv_state == TQUIC_RECV_RECV ||
					  st->recv_state == TQUIC_RECV_SIZE_KNOWN))
			stream_ctrl(s, st, TQUIC_SCTRL_STOP);
		return;
	case TQUIC_FT_MAX_STREAM_DATA:
		st = tquic_streams_find(s, f->u.limit.id);
		if (!st || st->recv_state != TQUIC_RECV_RECV)
			return;
		tquic_fc_rx_update_lost(&st->fc_rx, f->u.limit.max);
		if (st->fc_rx.pending)
			stream_ctrl(s, st, TQUIC_SCTRL_MAX_STREAM_DATA);
		return;
	case TQUIC_FT_STREAM_DATA_BLOCKED:
		st = tquic_streams_find(s, f->u.limit.id);
		if (!st || !stream_send_open(st))
			return;
		tquic_fc_tx_blocked_lost(&st->fc_tx, f->u.limit.max);
		if (st->fc_tx.blocked_pending)
			stream_ctrl(s, st, TQUIC_SCTRL_DATA_BLOCKED);
		return;
	}
}

/* ------------------------------------------------------------------ */
/* CRYPTO streams                                                     */
/* ------------------------------------------------------------------ */

void tquic_crypto_stream_init(struct tquic_crypto_stream *cs, u64 rx_cap, u64 tx_limit,
			      u64 rx_off, u64 tx_off)
{
	u64 frags = rx_cap / 64;

	frags = min_u64(max_u64(frags, 64), 1024);
	tquic_rbuf_init(&cs->rx, 2 * rx_cap + TQUIC_RMEM_SLACK, (u32)frags);
	tquic_sbuf_init(&cs->tx, tx_limit);
	cs->rx_cap = rx_cap;
	cs->rx.read_off = rx_off;
	cs->rx.contig = rx_off;
	cs->tx.acked_off = tx_off;
	cs->tx.send_off = tx_off;
	cs->tx.write_off = tx_off;
}

bool tquic_crypto_stream_idle(const struct tquic_crypto_stream *cs)
{
	return !cs->rx.nfrags && cs->rx.contig == cs->rx.read_off &&
	       tquic_list_empty(&cs->tx.chunks) && cs->tx.acked_off == cs->tx.write_off;
}

void tquic_crypto_stream_destroy(struct tquic_crypto_stream *cs)
{
	tquic_rbuf_purge(&cs->rx);
	tquic_sbuf_purge(&cs->tx);
}

int tquic_crypto_stream_on_frame(struct tquic_crypto_stream *cs, const struct tquic_frame_data *f,
			  struct tquic_buf *buf, unsigned int gfp)
{
	if (f->offset > TQUIC_VARINT_MAX || f->len > TQUIC_VARINT_MAX - f->offset)
		return TQUIC_ERR_FRAME_ENCODING_ERROR;
	if (f->offset + f->len > cs->rx.read_off + cs->rx_cap)
		return TQUIC_ERR_CRYPTO_BUFFER_EXCEEDED;
	return tquic_rbuf_insert(&cs->rx, f->offset, f->data, f->len, buf, gfp);
}

int tquic_crypto_stream_write(struct tquic_crypto_stream *cs, const u8 *data, size_t len,
		       unsigned int gfp)
{
	u64 start = cs->tx.write_off;
	long n;

	if (len > tquic_sbuf_space(&cs->tx))
		return -ENOSPC;
	n = tquic_sbuf_write(&cs->tx, data, len, gfp);
	if (n >= 0 && (size_t)n == len)
		return 0;
	/* All or nothing: TLS hands each message over once. */
	sbuf_truncate(&cs->tx, start);
	return -ENOMEM;
}

size_t tquic_crypto_stream_write_frame(struct tquic_crypto_stream *cs, struct tquic_wbuf *w,
				struct tquic_stream_sent *rec)
{
	struct sbuf_plan pl;
	size_t n;

	n = sbuf_write_frame(&cs->tx, false, 0, ~0ULL, w, &pl);
	if (!n)
		return 0;
	rec->id = 0;
	rec->off = pl.off;
	rec->len = pl.len;
	rec->fin = false;
	return n;
}

void tquic_crypto_stream_on_acked(struct tquic_crypto_stream *cs, const struct tquic_stream_sent *rec)
{
	sbuf_acked(&cs->tx, rec->off, rec->len, false);
}

void tquic_crypto_stream_on_lost(struct tquic_crypto_stream *cs, const struct tquic_stream_sent *rec)
{
	sbuf_lost(&cs->tx, rec->off, rec->len, false);
}
