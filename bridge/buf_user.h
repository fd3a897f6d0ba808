/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Test helpers of the user-space host buffers (bridge/buf_user.c). */
#ifndef _TQUIC_BRIDGE_BUF_USER_H
#define _TQUIC_BRIDGE_BUF_USER_H

#include "buf.h"

/* A buffer of @len bytes that pins @truesize bytes (at least its own size). */
struct tquic_buf *tqb_buf_new(size_t len, size_t truesize);
/* Buffers alive. */
long tqb_buf_live(void);

#endif /* _TQUIC_BRIDGE_BUF_USER_H */
