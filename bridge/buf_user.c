// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * User-space host buffers (kmod/core/buf.h): heap memory with an atomic
 * reference count.  The kernel host backs the same hooks with skbs.
 *
 * A live buffer count is kept for the tests (leak checks): one atomic per
 * allocation and per free, as the count is shared by the threads.
 * tqb_buf_new() lets tests fake packet buffers whose pinned memory
 * (truesize) is larger than their data, as an skb's is.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "buf.h"
#include "buf_user.h"
#include "cache_user.h"

struct tquic_buf {
	atomic_long ref;
	size_t len;
	size_t truesize;
	size_t cap;		/* bytes of data[] allocated */
	u8 data[];
};

static atomic_long live_bufs;

/*
 * Recycled buffers.  Datagram buffers and stream send chunks are allocated
 * and freed at packet rate, often on different threads; glibc then grows
 * and trims its heaps over and over, a page fault per page each time.
 * Buffers of these two size classes go back to a cache instead
 * (cache_user.c; cache ids after the engine memory's in platform_openssl.c).
 */
struct buf_class {
	size_t cap;		/* data capacity of the class */
	struct tqb_cache cache;
};

/* Each class keeps up to 8 MB: a bulk transfer's windows and send buffer. */
static struct buf_class buf_classes[] = {
	{ 2048, TQB_CACHE_INIT(4, 32, 4096) },	/* datagrams */
	{ 16384, TQB_CACHE_INIT(5, 8, 512) },	/* send chunks */
};

static struct buf_class *buf_class(size_t len)
{
	size_t i;

	/* At most half of a recycled buffer goes unused. */
	for (i = 0; i < sizeof(buf_classes) / sizeof(buf_classes[0]); i++)
		if (len > buf_classes[i].cap / 2 && len <= buf_classes[i].cap)
			return &buf_classes[i];
	return NULL;
}

/* Returns false when the cache is full (the caller frees @b). */
static bool buf_cache_put(struct tquic_buf *b)
{
	struct buf_class *bc = buf_class(b->cap);

	if (!bc || bc->cap != b->cap)
		return false;
	return tqb_cache_put(&bc->cache, b);
}

struct tquic_buf *tqb_buf_new(size_t len, size_t truesize)
{
	struct buf_class *bc;
	struct tquic_buf *b = NULL;
	size_t cap = len ? len : 1;

	if (len > ((size_t)-1) / 2)
		return NULL;
	bc = buf_class(len);
	if (bc) {
		cap = bc->cap;
		b = tqb_cache_get(&bc->cache);
	}
	if (!b) {
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
	}
	atomic_init(&b->ref, 1);
	b->len = len;
	/* The memory pinned is the allocation, as with an skb. */
	b->truesize = truesize > cap + sizeof(*b) ? truesize : cap + sizeof(*b);
	atomic_fetch_add(&live_bufs, 1);
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
	if (!buf_cache_put(b))
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
