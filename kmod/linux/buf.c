// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel host buffers for the engine (kmod/core/buf.h), kmalloc-backed.
 *
 * This is the engine-allocated kind (send-buffer chunks, copies made by
 * reassembly).  Received datagrams will be wrapped around their skbs by the
 * socket layer (reference = skb_get/kfree_skb, data = the linear,
 * decrypted payload, truesize = skb->truesize) so stream data is not copied
 * on receive; both kinds then share these hooks.
 */
#include <linux/overflow.h>
#include <linux/refcount.h>
#include <linux/slab.h>

#include "buf.h"

struct tquic_buf {
	refcount_t ref;
	u32 len;
	u8 data[];
};

struct tquic_buf *tquic_buf_alloc(size_t len, unsigned int gfp)
{
	struct tquic_buf *b;

	if (len > U32_MAX)
		return NULL;
	b = kmalloc(struct_size(b, data, len),
		    (gfp & TQUIC_GFP_KERNEL) ? GFP_KERNEL : GFP_ATOMIC);
	if (!b)
		return NULL;
	refcount_set(&b->ref, 1);
	b->len = (u32)len;
	return b;
}

void tquic_buf_get(struct tquic_buf *b)
{
	refcount_inc(&b->ref);
}

void tquic_buf_put(struct tquic_buf *b)
{
	if (b && refcount_dec_and_test(&b->ref))
		kfree(b);
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
	return struct_size(b, data, b->len);
}
