// SPDX-License-Identifier: GPL-2.0
/* Kernel implementation of the engine's memory, random and log hooks. */
#define pr_fmt(fmt) "tquic: " fmt

#include <linux/printk.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "platform.h"

void *tquic_mem_alloc(size_t size, unsigned int gfp)
{
	return kzalloc(size, (gfp & TQUIC_GFP_KERNEL) ? GFP_KERNEL : GFP_ATOMIC);
}

void tquic_mem_free(void *p)
{
	kfree(p);
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
