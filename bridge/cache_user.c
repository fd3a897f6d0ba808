// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Recycling caches of same-sized blocks (engine memory, packet buffers).
 *
 * The bridge allocates at packet rate on one thread and frees on another
 * (a sent packet's frames are freed by the thread that reads its ACK, a
 * received fragment by the application's reader): glibc then hands blocks
 * back to their arena under its lock and grows and trims heaps over and
 * over.  Here each thread keeps up to two batches of block pointers, and
 * only whole batches go through the shared depot, one lock per batch.
 * Pointers are kept in arrays rather than linked through the blocks, so
 * that taking one does not wait for a cache line another CPU wrote.
 *
 * Built with AddressSanitizer, nothing is cached, so that every block is
 * a malloc/free ASan can check.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cache_user.h"

#if defined(__SANITIZE_ADDRESS__)
#define TQB_CACHE_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TQB_CACHE_OFF 1
#endif
#endif

#ifndef TQB_CACHE_OFF
/* A thread's blocks of one cache. */
struct tqb_mag {
	unsigned int n;
	void *p[2 * TQB_CACHE_BATCH_MAX];
};

static __thread struct tqb_mag thread_mags[TQB_CACHE_MAX];
static __thread bool thread_registered;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

/* A thread that ends frees the blocks it held. */
static void thread_exit(void *arg)
{
	unsigned int i, j;

	(void)arg;
	for (i = 0; i < TQB_CACHE_MAX; i++) {
		for (j = 0; j < thread_mags[i].n; j++)
			free(thread_mags[i].p[j]);
		thread_mags[i].n = 0;
	}
}

static void thread_key_init(void)
{
	/* Without the key, a thread that ends leaks what it held. */
	(void)pthread_key_create(&thread_key, thread_exit);
}

static void thread_register(void)
{
	if (thread_registered)
		return;
	thread_registered = true;
	pthread_once(&thread_key_once, thread_key_init);
	(void)pthread_setspecific(thread_key, &thread_registered);
}

void *tqb_cache_get(struct tqb_cache *c)
{
	struct tqb_mag *m = &thread_mags[c->id];
	unsigned int k;

	if (!m->n) {
		pthread_mutex_lock(&c->lock);
		k = c->n < c->batch ? c->n : c->batch;
		c->n -= k;
		memcpy(m->p, c->depot + c->n, k * sizeof(void *));
		pthread_mutex_unlock(&c->lock);
		if (!k)
			return NULL;
		m->n = k;
		thread_register();
	}
	return m->p[--m->n];
}

bool tqb_cache_put(struct tqb_cache *c, void *p)
{
	struct tqb_mag *m = &thread_mags[c->id];
	unsigned int k, i;

	thread_register();
	if (m->n == 2 * c->batch) {
		/* The older half goes to the depot; what it cannot keep is freed. */
		pthread_mutex_lock(&c->lock);
		k = c->max - c->n < c->batch ? c->max - c->n : c->batch;
		memcpy(c->depot + c->n, m->p, k * sizeof(void *));
		c->n += k;
		pthread_mutex_unlock(&c->lock);
		for (i = k; i < c->batch; i++)
			free(m->p[i]);
		m->n -= c->batch;
		memmove(m->p, m->p + c->batch, m->n * sizeof(void *));
	}
	m->p[m->n++] = p;
	return true;
}
#else
void *tqb_cache_get(struct tqb_cache *c)
{
	(void)c;
	return NULL;
}

bool tqb_cache_put(struct tqb_cache *c, void *p)
{
	(void)c;
	(void)p;
	return false;
}
#endif
