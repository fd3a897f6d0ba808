// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel host buffers for the engine (kmod/core/buf.h), of two kinds
 * behind one handle:
 *  - engine-allocated ones (send-buffer chunks, copies made by reassembly),
 *    kmalloc-backed;
 *  - received datagrams, wrapped around their skbs (tquic_buf_from_skb()):
 *    the reference is skb->users, the data the skb's linear payload, which
 *    the engine decrypts in place and whose stream data it keeps, so a
 *    received datagram is neither copied nor given a second allocation.
 * An skb handle has bit 0 set (both kinds are at least 8-byte aligned).
 */
#include <linux/overflow.h>
#include <linux/refcount.h>
#include <linux/skbuff.h>
#include <linux/slab.h>

#include "buf.h"
#include "quic_sock.h"

#define TQUIC_BUF_SKB	1UL

struct tquic_buf {
	refcount_t ref;
	u32 len;
	u8 data[];
};

static bool tquic_buf_is_skb(const struct tquic_buf *b)
{
	return (unsigned long)b & TQUIC_BUF_SKB;
}

static struct sk_buff *tquic_buf_skb(const struct tquic_buf *b)
{
	return (struct sk_buff *)((unsigned long)b & ~TQUIC_BUF_SKB);
}

/*
 * The handle for received @skb, taking over the caller's reference: its
 * data (skb->data, skb->len bytes) must be linear and writable.
 */
struct tquic_buf *tquic_buf_from_skb(struct sk_buff *skb)
{
	return (struct tquic_buf *)((unsigned long)skb | TQUIC_BUF_SKB);
}

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
	if (tquic_buf_is_skb(b))
		skb_get(tquic_buf_skb(b));
	else
		refcount_inc(&b->ref);
}

void tquic_buf_put(struct tquic_buf *b)
{
	if (!b)
		return;
	if (tquic_buf_is_skb(b))
		consume_skb(tquic_buf_skb(b));
	else if (refcount_dec_and_test(&b->ref))
		kfree(b);
}

u8 *tquic_buf_data(const struct tquic_buf *b)
{
	if (tquic_buf_is_skb(b))
		return tquic_buf_skb(b)->data;
	return (u8 *)b->data;
}

size_t tquic_buf_len(const struct tquic_buf *b)
{
	if (tquic_buf_is_skb(b))
		return tquic_buf_skb(b)->len;
	return b->len;
}

size_t tquic_buf_truesize(const struct tquic_buf *b)
{
	if (tquic_buf_is_skb(b))
		return tquic_buf_skb(b)->truesize;
	return struct_size(b, data, b->len);
}
