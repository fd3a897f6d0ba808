/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Test helpers of the user-space host buffers (bridge/buf_user.c). */
#ifndef _TQUIC_BRIDGE_BUF_USER_H
#define _TQUIC_BRIDGE_BUF_USER_H

#include "buf.h"

/* A buffer of @len bytes that pins @truesize bytes (at least its own size). */
struct tquic_buf *tqb_buf_new(size_t len, size_t truesize);
/* Buffers alive, and the memory they pin. */
long tqb_buf_live(void);
long tqb_buf_live_bytes(void);

#endif /* _TQUIC_BRIDGE_BUF_USER_H */
