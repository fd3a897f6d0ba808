// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * AES-GCM (NIST SP 800-38D) with VAES and VPCLMULQDQ (see aesgcm.h).
 *
 * GHASH is computed as POLYVAL (RFC 8452): GHASH(H, X...) =
 * ByteReverse(POLYVAL(mulX(ByteReverse(H)), ByteReverse(X)...)), whose
 * little-endian field elements suit the carry-less multiply.  Eight blocks
 * are hashed per reduction, with the powers H^8..H^1 (Karatsuba: three
 * multiplies a block); the counter mode runs eight blocks at a time, two
 * per 256-bit register, in the same loop as their hashing.
 */
#include <errno.h>
#include <string.h>

#include "aesgcm.h"

bool tqb_gcm_off;

#if defined(__x86_64__)

#include <immintrin.h>

#define TGT __attribute__((target("aes,pclmul,ssse3,sse4.1,avx2,vaes,vpclmulqdq")))

bool tqb_gcm_usable(void)
{
	__builtin_cpu_init();
	return !tqb_gcm_off && __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul") &&
	       __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vaes") &&
	       __builtin_cpu_supports("vpclmulqdq");
}

static TGT __m128i key_step(__m128i k, __m128i assist)
{
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	return _mm_xor_si128(k, assist);
}

/* The round constant is an immediate: one macro per expansion step. */
#define K128(i, rcon)							\
	(rk[i] = key_step(rk[(i) - 1],					\
			  _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i) - 1], rcon), 0xff)))
#define K256A(i, rcon)							\
	(rk[i] = key_step(rk[(i) - 2],					\
			  _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i) - 1], rcon), 0xff)))
#define K256B(i)							\
	(rk[i] = key_step(rk[(i) - 2],					\
			  _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i) - 1], 0), 0xaa)))

TGT int tqb_aes_init(struct tqb_aes *a, const uint8_t *key, size_t key_len)
{
	__m128i rk[15];
	int i;

	if (key_len == 16) {
		rk[0] = _mm_loadu_si128((const __m128i *)key);
		K128(1, 0x01); K128(2, 0x02); K128(3, 0x04); K128(4, 0x08);
		K128(5, 0x10); K128(6, 0x20); K128(7, 0x40); K128(8, 0x80);
		K128(9, 0x1b); K128(10, 0x36);
		a->rounds = 10;
	} else if (key_len == 32) {
		rk[0] = _mm_loadu_si128((const __m128i *)key);
		rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
		K256A(2, 0x01); K256B(3); K256A(4, 0x02); K256B(5);
		K256A(6, 0x04); K256B(7); K256A(8, 0x08); K256B(9);
		K256A(10, 0x10); K256B(11); K256A(12, 0x20); K256B(13);
		K256A(14, 0x40);
		a->rounds = 14;
	} else {
		return -EINVAL;
	}
	for (i = 0; i <= a->rounds; i++)
		_mm_storeu_si128((__m128i *)a->rk[i], rk[i]);
	return 0;
}

static TGT __m128i rkey(const struct tqb_aes *a, int i)
{
	return _mm_loadu_si128((const __m128i *)a->rk[i]);
}

static TGT __m128i aes_enc(const struct tqb_aes *a, __m128i b)
{
	int i;

	b = _mm_xor_si128(b, rkey(a, 0));
	for (i = 1; i < a->rounds; i++)
		b = _mm_aesenc_si128(b, rkey(a, i));
	return _mm_aesenclast_si128(b, rkey(a, a->rounds));
}

TGT void tqb_aes_block(const struct tqb_aes *a, const uint8_t *in, uint8_t *out)
{
	_mm_storeu_si128((__m128i *)out, aes_enc(a, _mm_loadu_si128((const __m128i *)in)));
}

static TGT __m128i bswap128(__m128i v)
{
	return _mm_shuffle_epi8(v, _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8,
						 7, 6, 5, 4, 3, 2, 1, 0));
}

/* x^-128 * (hi:lo) reduced modulo x^128 + x^127 + x^126 + x^121 + 1. */
static TGT __m128i gf_reduce(__m128i lo, __m128i hi)
{
	const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ULL, 0);

	lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x10));
	lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x10));
	return _mm_xor_si128(lo, hi);
}

/* Accumulates the unreduced product a * b in lo, mid, hi. */
static TGT void gf_mul_acc(__m128i a, __m128i b, __m128i *lo, __m128i *mid, __m128i *hi)
{
	*lo = _mm_xor_si128(*lo, _mm_clmulepi64_si128(a, b, 0x00));
	*hi = _mm_xor_si128(*hi, _mm_clmulepi64_si128(a, b, 0x11));
	*mid = _mm_xor_si128(*mid, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01),
						 _mm_clmulepi64_si128(a, b, 0x10)));
}

static TGT __m128i gf_finish(__m128i lo, __m128i mid, __m128i hi)
{
	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
	return gf_reduce(lo, hi);
}

static TGT __m128i gf_mul(__m128i a, __m128i b)
{
	__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;

	gf_mul_acc(a, b, &lo, &mid, &hi);
	return gf_finish(lo, mid, hi);
}

/* v * x modulo the POLYVAL polynomial. */
static TGT __m128i gf_mulx(__m128i v)
{
	__m128i sh = _mm_or_si128(_mm_slli_epi64(v, 1), _mm_slli_si128(_mm_srli_epi64(v, 63), 8));
	__m128i top = _mm_shuffle_epi32(_mm_srai_epi32(v, 31), 0xff);

	return _mm_xor_si128(sh, _mm_and_si128(top, _mm_set_epi64x((long long)0xc200000000000000ULL, 1)));
}

static TGT __m128i hpow(const struct tqb_gcm *g, int i)
{
	return _mm_loadu_si128((const __m128i *)g->hpow[i]);
}

TGT int tqb_gcm_init(struct tqb_gcm *g, const uint8_t *key, size_t key_len)
{
	__m128i h, p;
	int i, err;

	err = tqb_aes_init(&g->aes, key, key_len);
	if (err)
		return err;
	h = gf_mulx(bswap128(aes_enc(&g->aes, _mm_setzero_si128())));
	p = h;
	for (i = 7; i >= 0; i--) {
		_mm_storeu_si128((__m128i *)g->hpow[i], p);
		/* Both halves XORed, in both lanes: Karatsuba's middle factor. */
		_mm_storeu_si128((__m128i *)g->hkar[i],
				 _mm_xor_si128(_mm_unpacklo_epi64(p, p), _mm_unpackhi_epi64(p, p)));
		p = gf_mul(p, h);
	}
	return 0;
}

/*
 * Hashes the eight blocks of c0..c3 (two per register, in memory order)
 * into @acc: one Karatsuba product per block with H^8 .. H^1, one reduction.
 */
/* One register of two blocks times the powers at @i, accumulated. */
#define GHASH2(d, i)							\
	do {								\
		__m256i k_ = _mm256_loadu_si256((const __m256i *)g->hpow[i]); \
		__m256i kk_ = _mm256_loadu_si256((const __m256i *)g->hkar[i]); \
		__m256i dd_ = _mm256_xor_si256(d, _mm256_shuffle_epi32(d, 0x4e)); \
		l = _mm256_xor_si256(l, _mm256_clmulepi64_epi128(d, k_, 0x00)); \
		h = _mm256_xor_si256(h, _mm256_clmulepi64_epi128(d, k_, 0x11)); \
		m = _mm256_xor_si256(m, _mm256_clmulepi64_epi128(dd_, kk_, 0x00)); \
	} while (0)

static inline TGT __m128i ghash8(const struct tqb_gcm *g, __m128i acc, __m256i c0, __m256i c1,
				 __m256i c2, __m256i c3)
{
	const __m256i rev = _mm256_broadcastsi128_si256(_mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8,
								      7, 6, 5, 4, 3, 2, 1, 0));
	__m256i l = _mm256_setzero_si256(), m = l, h = l;
	__m128i lo, hi, mid;

	c0 = _mm256_xor_si256(_mm256_shuffle_epi8(c0, rev), _mm256_zextsi128_si256(acc));
	c1 = _mm256_shuffle_epi8(c1, rev);
	c2 = _mm256_shuffle_epi8(c2, rev);
	c3 = _mm256_shuffle_epi8(c3, rev);
	GHASH2(c0, 0);
	GHASH2(c1, 2);
	GHASH2(c2, 4);
	GHASH2(c3, 6);
	lo = _mm_xor_si128(_mm256_castsi256_si128(l), _mm256_extracti128_si256(l, 1));
	hi = _mm_xor_si128(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
	mid = _mm_xor_si128(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
	return gf_finish(lo, _mm_xor_si128(mid, _mm_xor_si128(lo, hi)), hi);
}

static inline TGT __m256i load256(const uint8_t *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/*
 * The @len < 16 bytes at @p, zero-padded to a block.  With @room, 16 bytes
 * may be read at @p (more of the packet follows): a load and a mask rather
 * than a copy through the stack.
 */
static TGT __m128i load_partial(const uint8_t *p, size_t len, bool room)
{
	static const uint8_t mask[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint8_t last[16];

	if (room)
		return _mm_and_si128(_mm_loadu_si128((const __m128i *)p),
				     _mm_loadu_si128((const __m128i *)(mask + 16 - len)));
	memset(last, 0, sizeof(last));
	memcpy(last, p, len);
	return _mm_loadu_si128((const __m128i *)last);
}

/*
 * Multiplies the (len + 15) / 16 <= 8 blocks at @p (the last zero-padded;
 * @room: load_partial()), @acc added to the first, by H^(8 - @pow0) ..
 * and accumulates the products, unreduced, into @lo, @mid, @hi.
 */
static TGT void ghash_blocks_acc(const struct tqb_gcm *g, __m128i acc, const uint8_t *p,
				 size_t len, bool room, size_t pow0, __m128i *lo, __m128i *mid,
				 __m128i *hi)
{
	__m128i x;
	size_t i;

	for (i = 0; len; i++, p += 16, len -= len >= 16 ? 16 : len) {
		x = len >= 16 ? _mm_loadu_si128((const __m128i *)p) : load_partial(p, len, room);
		x = bswap128(x);
		if (i == 0)
			x = _mm_xor_si128(x, acc);
		gf_mul_acc(x, hpow(g, (int)(pow0 + i)), lo, mid, hi);
	}
}

/* Hashes @len bytes into @acc, the last block zero-padded (@room: load_partial()). */
static TGT __m128i ghash(const struct tqb_gcm *g, __m128i acc, const uint8_t *p, size_t len,
			 bool room)
{
	__m128i lo, mid, hi;
	size_t n;

	for (; len >= 128; len -= 128, p += 128)
		acc = ghash8(g, acc, load256(p), load256(p + 32), load256(p + 64), load256(p + 96));
	if (!len)
		return acc;
	/* The last n <= 8 blocks, with H^n .. H^1. */
	n = (len + 15) / 16;
	lo = mid = hi = _mm_setzero_si128();
	ghash_blocks_acc(g, acc, p, len, room, 8 - n, &lo, &mid, &hi);
	return gf_finish(lo, mid, hi);
}

/*
 * Counter mode: the counter blocks of two registers hold the 32-bit
 * big-endian counter word as a little-endian lane (swap is its own
 * inverse), so that inc32 is an addition.
 */
struct ctr {
	__m256i c;
	__m256i swap;
};

static inline TGT struct ctr ctr_start(__m128i j0)
{
	struct ctr ct;

	ct.swap = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
							    10, 11, 15, 14, 13, 12));
	ct.c = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(j0), ct.swap);
	/* The first data block is inc32(J0). */
	ct.c = _mm256_add_epi32(ct.c, _mm256_setr_epi32(0, 0, 0, 1, 0, 0, 0, 2));
	return ct;
}

/* The next two counter blocks. */
static inline TGT __m256i ctr_next(struct ctr *ct)
{
	__m256i b = _mm256_shuffle_epi8(ct->c, ct->swap);

	ct->c = _mm256_add_epi32(ct->c, _mm256_setr_epi32(0, 0, 0, 2, 0, 0, 0, 2));
	return b;
}

/* The key stream of the next eight blocks (written out: kept in registers). */
static inline TGT void ctr8(const struct tqb_aes *a, struct ctr *ct, __m256i b[4])
{
	__m256i k = _mm256_broadcastsi128_si256(rkey(a, 0));
	__m256i b0, b1, b2, b3;
	int r;

	b0 = _mm256_xor_si256(ctr_next(ct), k);
	b1 = _mm256_xor_si256(ctr_next(ct), k);
	b2 = _mm256_xor_si256(ctr_next(ct), k);
	b3 = _mm256_xor_si256(ctr_next(ct), k);
	for (r = 1; r < a->rounds; r++) {
		k = _mm256_broadcastsi128_si256(rkey(a, r));
		b0 = _mm256_aesenc_epi128(b0, k);
		b1 = _mm256_aesenc_epi128(b1, k);
		b2 = _mm256_aesenc_epi128(b2, k);
		b3 = _mm256_aesenc_epi128(b3, k);
	}
	k = _mm256_broadcastsi128_si256(rkey(a, a->rounds));
	b[0] = _mm256_aesenclast_epi128(b0, k);
	b[1] = _mm256_aesenclast_epi128(b1, k);
	b[2] = _mm256_aesenclast_epi128(b2, k);
	b[3] = _mm256_aesenclast_epi128(b3, k);
}

/* The key stream of the next @n <= 4 registers (two blocks each). */
static inline TGT void ctr_n(const struct tqb_aes *a, struct ctr *ct, __m256i b[4], int n)
{
	__m256i k = _mm256_broadcastsi128_si256(rkey(a, 0));
	int r, j;

	for (j = 0; j < n; j++)
		b[j] = _mm256_xor_si256(ctr_next(ct), k);
	for (r = 1; r < a->rounds; r++) {
		k = _mm256_broadcastsi128_si256(rkey(a, r));
		for (j = 0; j < n; j++)
			b[j] = _mm256_aesenc_epi128(b[j], k);
	}
	k = _mm256_broadcastsi128_si256(rkey(a, a->rounds));
	for (j = 0; j < n; j++)
		b[j] = _mm256_aesenclast_epi128(b[j], k);
}

/*
 * XORs the key stream into @len < 128 bytes: only the blocks needed are
 * encrypted, whole ones are XORed in place, the last partial one through
 * a copy.
 */
static TGT void ctr_tail(const struct tqb_aes *a, struct ctr *ct, const uint8_t *src, uint8_t *dst,
			 size_t len)
{
	__m256i k[4];
	__m128i ks;
	uint8_t t[16];
	size_t i;

	switch ((len + 31) / 32) {
	case 0:
		return;
	case 1:
		ctr_n(a, ct, k, 1);
		break;
	case 2:
		ctr_n(a, ct, k, 2);
		break;
	case 3:
		ctr_n(a, ct, k, 3);
		break;
	default:
		ctr_n(a, ct, k, 4);
		break;
	}
	for (i = 0; i + 32 <= len; i += 32)
		_mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(k[i / 32], load256(src + i)));
	if (i == len)
		return;
	ks = _mm256_castsi256_si128(k[i / 32]);
	if (i + 16 <= len) {
		_mm_storeu_si128((__m128i *)(dst + i),
				 _mm_xor_si128(ks, _mm_loadu_si128((const __m128i *)(src + i))));
		ks = _mm256_extracti128_si256(k[i / 32], 1);
		i += 16;
		if (i == len)
			return;
	}
	memcpy(t, src + i, len - i);
	_mm_storeu_si128((__m128i *)t, _mm_xor_si128(ks, _mm_loadu_si128((const __m128i *)t)));
	memcpy(dst + i, t, len - i);
}

/*
 * The GHASH of @acc followed by the @len < 128 bytes at @p (the last block
 * zero-padded; the tag's 16 bytes follow them) and the length block of
 * @aad_len and @ct_len bytes: one
 * reduction when the blocks and the length block take at most eight
 * powers of H.
 */
static TGT __m128i ghash_final(const struct tqb_gcm *g, __m128i acc, const uint8_t *p, size_t len,
			       size_t aad_len, size_t ct_len)
{
	/* The length block, big-endian bit counts, byte-reversed for POLYVAL. */
	__m128i lens = _mm_set_epi64x((long long)(aad_len * 8), (long long)(ct_len * 8));
	__m128i lo, mid, hi;
	size_t n = (len + 15) / 16;

	if (n == 8) {
		acc = ghash(g, acc, p, len, true);
		return gf_mul(_mm_xor_si128(acc, lens), hpow(g, 7));
	}
	/* Blocks 0..n-1 and the length block, with H^(n+1) .. H^1. */
	lo = mid = hi = _mm_setzero_si128();
	ghash_blocks_acc(g, acc, p, len, true, 7 - n, &lo, &mid, &hi);
	if (n == 0)
		lens = _mm_xor_si128(lens, acc);
	gf_mul_acc(lens, hpow(g, 7), &lo, &mid, &hi);
	return gf_finish(lo, mid, hi);
}

static TGT __m128i j0_block(const uint8_t *nonce)
{
	uint8_t j0[16];

	memcpy(j0, nonce, 12);
	j0[12] = 0;
	j0[13] = 0;
	j0[14] = 0;
	j0[15] = 1;
	return _mm_loadu_si128((const __m128i *)j0);
}

/* The plaintext: @src, but bytes [@goff, @goff + @glen) are at @gsrc. */
struct pt_view {
	const uint8_t *src, *gsrc;
	size_t goff, glen;
};

/* @n plaintext bytes at @pos: where they are, or put together in @tmp. */
static inline const uint8_t *pt_at(const struct pt_view *v, size_t pos, size_t n, uint8_t *tmp)
{
	size_t gend = v->goff + v->glen, a, b;

	if (!v->glen || pos + n <= v->goff || pos >= gend)
		return v->src + pos;
	if (pos >= v->goff && pos + n <= gend)
		return v->gsrc + (pos - v->goff);
	a = pos > v->goff ? pos : v->goff;
	b = pos + n < gend ? pos + n : gend;
	memcpy(tmp, v->src + pos, n);
	memcpy(tmp + (a - pos), v->gsrc + (a - v->goff), b - a);
	return tmp;
}

/* Each eight blocks are encrypted and hashed in one pass (the units overlap). */
TGT void tqb_gcm_seal(const struct tqb_gcm *g, const uint8_t *nonce, const uint8_t *aad,
		      size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len,
		      const uint8_t *gsrc, size_t goff, size_t glen)
{
	__m128i j0 = j0_block(nonce), acc = _mm_setzero_si128();
	struct pt_view v = { src, gsrc, goff, glen };
	struct ctr ct = ctr_start(j0);
	size_t left = len, pos = 0;
	__m256i k[4], c0, c1, c2, c3;
	uint8_t tmp[128];
	const uint8_t *p;

	if (aad_len)
		acc = ghash(g, acc, aad, aad_len, aad + aad_len == src);
	for (; left >= 128; left -= 128, pos += 128, dst += 128) {
		p = pt_at(&v, pos, 128, tmp);
		ctr8(&g->aes, &ct, k);
		c0 = _mm256_xor_si256(k[0], load256(p));
		c1 = _mm256_xor_si256(k[1], load256(p + 32));
		c2 = _mm256_xor_si256(k[2], load256(p + 64));
		c3 = _mm256_xor_si256(k[3], load256(p + 96));
		_mm256_storeu_si256((__m256i *)dst, c0);
		_mm256_storeu_si256((__m256i *)(dst + 32), c1);
		_mm256_storeu_si256((__m256i *)(dst + 64), c2);
		_mm256_storeu_si256((__m256i *)(dst + 96), c3);
		acc = ghash8(g, acc, c0, c1, c2, c3);
	}
	ctr_tail(&g->aes, &ct, pt_at(&v, pos, left, tmp), dst, left);
	acc = ghash_final(g, acc, dst, left, aad_len, len);
	_mm_storeu_si128((__m128i *)(dst + left), _mm_xor_si128(bswap128(acc), aes_enc(&g->aes, j0)));
}

TGT int tqb_gcm_open(const struct tqb_gcm *g, const uint8_t *nonce, const uint8_t *aad,
		     size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len)
{
	__m128i j0 = j0_block(nonce), acc = _mm_setzero_si128(), diff;
	struct ctr ct = ctr_start(j0);
	uint8_t *out = dst;
	size_t left;
	__m256i k[4], c0, c1, c2, c3;

	if (len < 16)
		return -EBADMSG;
	len -= 16;
	left = len;
	if (aad_len)
		acc = ghash(g, acc, aad, aad_len, aad + aad_len == src);
	for (; left >= 128; left -= 128, src += 128, dst += 128) {
		c0 = load256(src);
		c1 = load256(src + 32);
		c2 = load256(src + 64);
		c3 = load256(src + 96);
		ctr8(&g->aes, &ct, k);
		_mm256_storeu_si256((__m256i *)dst, _mm256_xor_si256(k[0], c0));
		_mm256_storeu_si256((__m256i *)(dst + 32), _mm256_xor_si256(k[1], c1));
		_mm256_storeu_si256((__m256i *)(dst + 64), _mm256_xor_si256(k[2], c2));
		_mm256_storeu_si256((__m256i *)(dst + 96), _mm256_xor_si256(k[3], c3));
		acc = ghash8(g, acc, c0, c1, c2, c3);
	}
	/* Hashed before it is decrypted: src may be dst. */
	acc = ghash_final(g, acc, src, left, aad_len, len);
	diff = _mm_xor_si128(_mm_xor_si128(bswap128(acc), aes_enc(&g->aes, j0)),
			     _mm_loadu_si128((const __m128i *)(src + left)));
	ctr_tail(&g->aes, &ct, src, dst, left);
	/* Compared in constant time; no unauthenticated plaintext is left. */
	if (!_mm_testz_si128(diff, diff)) {
		if (len)	/* @out may be NULL for an empty payload */
			memset(out, 0, len);
		return -EBADMSG;
	}
	return 0;
}

#else /* !__x86_64__ */

bool tqb_gcm_usable(void)
{
	return false;
}

int tqb_aes_init(struct tqb_aes *a, const uint8_t *key, size_t key_len)
{
	(void)a;
	(void)key;
	(void)key_len;
	return -EINVAL;
}

void tqb_aes_block(const struct tqb_aes *a, const uint8_t *in, uint8_t *out)
{
	(void)a;
	(void)in;
	(void)out;
}

int tqb_gcm_init(struct tqb_gcm *g, const uint8_t *key, size_t key_len)
{
	(void)g;
	(void)key;
	(void)key_len;
	return -EINVAL;
}

void tqb_gcm_seal(const struct tqb_gcm *g, const uint8_t *nonce, const uint8_t *aad,
		  size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len,
		  const uint8_t *gsrc, size_t goff, size_t glen)
{
	(void)g;
	(void)nonce;
	(void)aad;
	(void)aad_len;
	(void)src;
	(void)dst;
	(void)len;
	(void)gsrc;
	(void)goff;
	(void)glen;
}

int tqb_gcm_open(const struct tqb_gcm *g, const uint8_t *nonce, const uint8_t *aad,
		 size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len)
{
	(void)g;
	(void)nonce;
	(void)aad;
	(void)aad_len;
	(void)src;
	(void)dst;
	(void)len;
	return -EBADMSG;
}

#endif /* __x86_64__ */
