// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * User-space host buffers (kmod/core/buf.h): heap memory with an atomic
 * reference count.  The kernel host backs the same hooks with skbs.
 *
 * Live buffer and byte counts are kept for the tests (leak and memory
 * bound checks); tqb_buf_new() lets tests fake packet buffers whose pinned
 * memory (truesize) is larger than their data, as an skb's is.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "buf.h"
#include "buf_user.h"

struct tquic_buf {
	atomic_long ref;
	size_t len;
	size_t truesize;
	u8 data[];
};

static atomic_long live_bufs;
static atomic_long live_bytes;

struct tquic_buf *tqb_buf_new(size_t len, size_t truesize)
{
	struct tquic_buf *b;

	if (len > ((size_t)-1) / 2)
		return NULL;
	b = malloc(sizeof(*b) + (len ? len : 1));
	if (!b)
		return NULL;
	atomic_init(&b->ref, 1);
	b->len = len;
	b->truesize = truesize > len + sizeof(*b) ? truesize : len + sizeof(*b);
	atomic_fetch_add(&live_bufs, 1);
	atomic_fetch_add(&live_bytes, (long)b->truesize);
	return b;
}

struct tquic_buf *tquic_buf_alloc(size_t len, unsigned int gfp)
{
	(void)gfp;
	return tqb_buf_new(len, 0);
}

void tquic_buf_get(struct tquic_buf *b)
{
	atomic_fetch_add_explicit(&b->ref, 1, memory_order_relaxed);
}

void tquic_buf_put(struct tquic_buf *b)
{
	if (!b)
		return;
	if (atomic_fetch_sub_explicit(&b->ref, 1, memory_order_acq_rel) != 1)
		return;
	atomic_fetch_sub(&live_bufs, 1);
	atomic_fetch_sub(&live_bytes, (long)b->truesize);
	free(b);
}

u8 *tquic_buf_data(const struct tquic_buf *b)
{
	return (u8 *)b->data;
}

size_t tquic_buf_len(const struct tquic_buf *b)
{
	return b->len;
}

size_t tquic_buf_truesize(const struct tquic_buf *b)
{
	return b->truesize;
}

long tqb_buf_live(void)
{
	return atomic_load(&live_bufs);
}

long tqb_buf_live_bytes(void)
{
	return atomic_load(&live_bytes);
}
