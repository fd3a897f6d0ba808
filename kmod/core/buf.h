/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Host buffer handles.
 *
 * Received stream and CRYPTO data stays in the buffer the host received it
 * in (an skb in the kernel, heap memory in user space) until the
 * application reads it: the engine keeps a reference to the buffer and an
 * (offset, length) range inside its data instead of copying.  The send side
 * keeps application data in buffers of the same kind (owned copies made
 * with tquic_buf_alloc() or buffers the host hands in).
 *
 * Each host implements these hooks (kmod/linux/buf.c, bridge/buf_user.c).
 *
 * Contract:
 *  - A buffer has a reference count; tquic_buf_alloc() returns one with a
 *    count of 1.  tquic_buf_get() adds a reference, tquic_buf_put() drops
 *    one and frees the buffer with the last.  Both never sleep and may be
 *    called from softirq; the engine calls them with the connection lock
 *    held, the host may drop its own references from anywhere.
 *  - tquic_buf_data() points at tquic_buf_len() bytes of linear, writable
 *    data that stays at the same address, with the same content, for as
 *    long as the engine holds a reference.  The engine never writes to
 *    buffers it did not allocate itself.
 *  - tquic_buf_truesize() is the memory the buffer pins (data, headroom,
 *    metadata: skb->truesize in the kernel); it is what receive memory
 *    limits charge, so small frames in big buffers cannot pin unbounded
 *    memory.  It is >= tquic_buf_len().
 *  - tquic_buf_alloc() honours @gfp (TQUIC_GFP_ATOMIC must not sleep) and
 *    returns NULL on failure; @len may be 0.
 */
#ifndef _TQUIC_CORE_BUF_H
#define _TQUIC_CORE_BUF_H

#include "platform.h"

struct tquic_buf;

struct tquic_buf *tquic_buf_alloc(size_t len, unsigned int gfp);
void tquic_buf_get(struct tquic_buf *b);
void tquic_buf_put(struct tquic_buf *b);
u8 *tquic_buf_data(const struct tquic_buf *b);
size_t tquic_buf_len(const struct tquic_buf *b);
size_t tquic_buf_truesize(const struct tquic_buf *b);

#endif /* _TQUIC_CORE_BUF_H */
