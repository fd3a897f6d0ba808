/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * QUIC variable-length integers (RFC 9000 section 16) and a bounds-checked
 * cursor for reading and writing wire data.  Every read checks the remaining
 * length first; a failed read leaves the cursor unchanged and returns false.
 */
#ifndef _TQUIC_CORE_VARINT_H
#define _TQUIC_CORE_VARINT_H

#include "platform.h"

#define TQUIC_VARINT_MAX ((1ULL << 62) - 1)

struct tquic_cursor {
	const u8 *p;
	size_t left;
};

/*
 * Bytes a writer left out of the buffer: they belong at @dst and stay at
 * @src until the packet is sealed (tquic_aead_gather), one run at most.
 */
struct tquic_wbuf_defer {
	u8 *dst;
	const u8 *src;
	size_t len;
};

struct tquic_wbuf {
	u8 *p;
	size_t left;
	struct tquic_wbuf_defer *defer;	/* NULL: every byte is written */
};

static inline void tquic_cursor_init(struct tquic_cursor *c, const u8 *p, size_t len)
{
	c->p = p;
	c->left = len;
}

static inline void tquic_wbuf_init(struct tquic_wbuf *w, u8 *p, size_t len)
{
	w->p = p;
	w->left = len;
	w->defer = NULL;
}

/* Encoded size of @v, or 0 when @v does not fit in 62 bits. */
static inline size_t tquic_varint_len(u64 v)
{
	if (v < (1ULL << 6))
		return 1;
	if (v < (1ULL << 14))
		return 2;
	if (v < (1ULL << 30))
		return 4;
	if (v <= TQUIC_VARINT_MAX)
		return 8;
	return 0;
}

static inline bool tquic_get_u8(struct tquic_cursor *c, u8 *v)
{
	if (c->left < 1)
		return false;
	*v = c->p[0];
	c->p++;
	c->left--;
	return true;
}

/* Reads an unsigned big-endian integer of @n (1..8) bytes. */
static inline bool tquic_get_uint(struct tquic_cursor *c, size_t n, u64 *v)
{
	u64 r = 0;
	size_t i;

	if (n < 1 || n > 8 || c->left < n)
		return false;
	for (i = 0; i < n; i++)
		r = (r << 8) | c->p[i];
	c->p += n;
	c->left -= n;
	*v = r;
	return true;
}

static inline bool tquic_get_varint(struct tquic_cursor *c, u64 *v)
{
	size_t n;
	u64 r;

	if (c->left < 1)
		return false;
	n = (size_t)1 << (c->p[0] >> 6);
	if (c->left < n)
		return false;
	if (!tquic_get_uint(c, n, &r))
		return false;
	*v = r & (TQUIC_VARINT_MAX >> (62 - (8 * n - 2)));
	return true;
}

/* Points @out at the next @n bytes without copying them. */
static inline bool tquic_get_bytes(struct tquic_cursor *c, size_t n, const u8 **out)
{
	if (c->left < n)
		return false;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

static inline bool tquic_put_u8(struct tquic_wbuf *w, u8 v)
{
	if (w->left < 1)
		return false;
	*w->p++ = v;
	w->left--;
	return true;
}

static inline bool tquic_put_uint(struct tquic_wbuf *w, size_t n, u64 v)
{
	size_t i;

	if (n < 1 || n > 8 || w->left < n)
		return false;
	for (i = 0; i < n; i++)
		w->p[i] = (u8)(v >> (8 * (n - 1 - i)));
	w->p += n;
	w->left -= n;
	return true;
}

/* Writes @v in exactly @n bytes (1, 2, 4 or 8) when it fits. */
static inline bool tquic_put_varint_n(struct tquic_wbuf *w, size_t n, u64 v)
{
	static const u8 prefix[9] = { [1] = 0x00, [2] = 0x40, [4] = 0x80, [8] = 0xc0 };

	if ((n != 1 && n != 2 && n != 4 && n != 8) || tquic_varint_len(v) == 0 ||
	    tquic_varint_len(v) > n || w->left < n)
		return false;
	tquic_put_uint(w, n, v);
	w->p[-(long)n] |= prefix[n];
	return true;
}

static inline bool tquic_put_varint(struct tquic_wbuf *w, u64 v)
{
	return tquic_put_varint_n(w, tquic_varint_len(v), v);
}

static inline bool tquic_put_bytes(struct tquic_wbuf *w, const u8 *src, size_t n)
{
	if (w->left < n)
		return false;
	if (!n)		/* @src may be NULL then: memcpy() must not see it */
		return true;
	memcpy(w->p, src, n);
	w->p += n;
	w->left -= n;
	return true;
}

#endif /* _TQUIC_CORE_VARINT_H */
