// SPDX-License-Identifier: GPL-2.0
/* Kernel implementation of the engine's memory, random and log hooks. */
#define pr_fmt(fmt) "tquic: " fmt

#include <linux/printk.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "platform.h"
#include "tquic.h"

static gfp_t tquic_gfp(unsigned int gfp)
{
	return (gfp & TQUIC_GFP_KERNEL) ? GFP_KERNEL : GFP_ATOMIC;
}

void *tquic_mem_alloc(size_t size, unsigned int gfp)
{
	return kzalloc(size, tquic_gfp(gfp));
}

void tquic_mem_free(void *p)
{
	kfree(p);
}

static struct kmem_cache *tquic_obj_caches[TQUIC_OBJ_COUNT];

static const char *const tquic_obj_names[TQUIC_OBJ_COUNT] = {
	[TQUIC_OBJ_CONN]	= "tquic_conn",
	[TQUIC_OBJ_PATH]	= "tquic_path",
	[TQUIC_OBJ_PATH_XMIT]	= "tquic_path_xmit",
	[TQUIC_OBJ_PEER_CID]	= "tquic_peer_cid",
};

int tquic_obj_init(void)
{
	unsigned int i;

	for (i = 0; i < TQUIC_OBJ_COUNT; i++) {
		tquic_obj_caches[i] = kmem_cache_create(tquic_obj_names[i], tquic_obj_size(i),
							0, 0, NULL);
		if (!tquic_obj_caches[i]) {
			tquic_obj_exit();
			return -ENOMEM;
		}
	}
	return 0;
}

void tquic_obj_exit(void)
{
	unsigned int i;

	for (i = 0; i < TQUIC_OBJ_COUNT; i++) {
		kmem_cache_destroy(tquic_obj_caches[i]);
		tquic_obj_caches[i] = NULL;
	}
}

void *tquic_obj_alloc(enum tquic_obj kind, unsigned int gfp)
{
	return kmem_cache_zalloc(tquic_obj_caches[kind], tquic_gfp(gfp));
}

void tquic_obj_free(enum tquic_obj kind, void *p)
{
	if (p)
		kmem_cache_free(tquic_obj_caches[kind], p);
}

void tquic_memzero_explicit(void *p, size_t len)
{
	memzero_explicit(p, len);
}

void tquic_random_bytes(void *buf, size_t len)
{
	get_random_bytes(buf, len);
}

void tquic_log(const char *msg)
{
	pr_info("%s\n", msg);
}
