/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Recycling caches of same-sized blocks for the user-space host (engine
 * memory, packet buffers): see cache_user.c.
 */
#ifndef _TQUIC_BRIDGE_CACHE_USER_H
#define _TQUIC_BRIDGE_CACHE_USER_H

#include <pthread.h>

/*
 * One size class of malloc()ed blocks; blocks the cache cannot keep are
 * free()d.  The cache never touches a block's memory: the block was last
 * written by the thread that freed it, often on another CPU.
 */
struct tqb_cache {
	unsigned int id;	/* index of its per-thread magazines, < TQB_CACHE_MAX */
	unsigned int batch;	/* blocks moved to or from the depot at once */
	unsigned int max;	/* blocks the shared depot keeps */
	pthread_mutex_t lock;	/* guards the depot */
	unsigned int n;		/* blocks in the depot */
	void **depot;		/* max block pointers */
};

#define TQB_CACHE_MAX		8	/* caches */
#define TQB_CACHE_BATCH_MAX	64

#define TQB_CACHE_INIT(_id, _batch, _max)					\
	{ .id = (_id), .max = (_max),						\
	  .batch = (_batch) + 0 * sizeof(char[(_batch) <= TQB_CACHE_BATCH_MAX ? 1 : -1]), \
	  .lock = PTHREAD_MUTEX_INITIALIZER, .depot = (void *[_max]){ 0 } }

/* A recycled block, or NULL (the caller allocates one). */
void *tqb_cache_get(struct tqb_cache *c);
/* Keeps @p for reuse; false when the cache is full (the caller frees it). */
bool tqb_cache_put(struct tqb_cache *c, void *p);

#endif /* _TQUIC_BRIDGE_CACHE_USER_H */
