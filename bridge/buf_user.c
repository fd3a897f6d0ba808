// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * User-space host buffers (kmod/core/buf.h): heap memory with an atomic
 * reference count.  The kernel host backs the same hooks with skbs.
 *
 * A live buffer count is kept for the tests (leak checks), in one counter
 * per thread (summed when read): a single shared atomic was a cache line
 * that the allocating and the freeing thread took from each other, and a
 * locked instruction, for every buffer.
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

/*
 * A thread's count (allocations minus frees), written by that thread only:
 * plain loads and stores, no locked instruction.  A thread that ends
 * leaves its counter, count included, to the next thread that starts.
 */
struct live_count {
	atomic_long n;
	atomic_bool used;
	struct live_count *next;
} __attribute__((aligned(64)));

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct live_count *live_all;	/* every counter, never freed */
static pthread_key_t live_key;
static pthread_once_t live_key_once = PTHREAD_ONCE_INIT;
static __thread struct live_count *live_mine;

static void live_release(void *arg)
{
	struct live_count *lc = arg;

	/* Buffers this thread still frees from here take a counter again. */
	live_mine = NULL;
	atomic_store_explicit(&lc->used, false, memory_order_release);
}

static void live_key_init(void)
{
	(void)pthread_key_create(&live_key, live_release);
}

static struct live_count *live_take(void)
{
	struct live_count *lc;

	pthread_once(&live_key_once, live_key_init);
	pthread_mutex_lock(&live_lock);
	for (lc = live_all; lc; lc = lc->next)
		if (!atomic_load_explicit(&lc->used, memory_order_acquire))
			break;
	if (!lc) {
		lc = aligned_alloc(64, sizeof(*lc));
		if (lc) {
			atomic_init(&lc->n, 0);
			lc->next = live_all;
			live_all = lc;
		}
	}
	if (lc)
		atomic_store_explicit(&lc->used, true, memory_order_relaxed);
	pthread_mutex_unlock(&live_lock);
	return lc;
}

/* Adds @d to this thread's count of live buffers. */
static void live_add(long d)
{
	if (!live_mine) {
		live_mine = live_take();
		if (!live_mine)
			return;	/* out of memory: the count is for tests only */
		(void)pthread_setspecific(live_key, live_mine);
	}
	atomic_store_explicit(&live_mine->n,
			      atomic_load_explicit(&live_mine->n, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

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
	live_add(1);
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
	live_add(-1);
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
	struct live_count *lc;
	long n = 0;

	pthread_mutex_lock(&live_lock);
	for (lc = live_all; lc; lc = lc->next)
		n += atomic_load_explicit(&lc->n, memory_order_relaxed);
	pthread_mutex_unlock(&live_lock);
	return n;
}
