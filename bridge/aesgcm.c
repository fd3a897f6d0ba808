// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * AES-GCM (NIST SP 800-38D) with VAES and VPCLMULQDQ (see aesgcm.h).
 *
 * GHASH is computed as POLYVAL (RFC 8452): GHASH(H, X...) =
 * ByteReverse(POLYVAL(mulX(ByteReverse(H)), ByteReverse(X)...)), whose
 * little-endian field elements suit the carry-less multiply.  Eight blocks
 * are hashed per reduction, with the powers H^8..H^1; the counter mode
 * runs eight blocks at a time, two per 256-bit register.
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
		p = gf_mul(p, h);
	}
	return 0;
}

/* Hashes @len bytes into @acc, the last block zero-padded. */
static TGT __m128i ghash(const struct tqb_gcm *g, __m128i acc, const uint8_t *p, size_t len)
{
	const __m256i rev = _mm256_broadcastsi128_si256(_mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8,
								      7, 6, 5, 4, 3, 2, 1, 0));
	__m128i lo, mid, hi, x;
	uint8_t last[16];
	size_t n, i;

	for (; len >= 128; len -= 128, p += 128) {
		__m256i l = _mm256_setzero_si256(), m = l, h = l;

		for (i = 0; i < 4; i++) {
			__m256i d = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p + 32 * i)), rev);
			__m256i k = _mm256_loadu_si256((const __m256i *)g->hpow[2 * i]);

			if (i == 0)
				d = _mm256_xor_si256(d, _mm256_zextsi128_si256(acc));
			l = _mm256_xor_si256(l, _mm256_clmulepi64_epi128(d, k, 0x00));
			h = _mm256_xor_si256(h, _mm256_clmulepi64_epi128(d, k, 0x11));
			m = _mm256_xor_si256(m, _mm256_clmulepi64_epi128(d, k, 0x01));
			m = _mm256_xor_si256(m, _mm256_clmulepi64_epi128(d, k, 0x10));
		}
		acc = gf_finish(_mm_xor_si128(_mm256_castsi256_si128(l), _mm256_extracti128_si256(l, 1)),
				_mm_xor_si128(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1)),
				_mm_xor_si128(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
	}
	if (!len)
		return acc;
	/* The last n <= 8 blocks, with H^n .. H^1. */
	n = (len + 15) / 16;
	lo = mid = hi = _mm_setzero_si128();
	for (i = 0; i < n; i++, p += 16, len -= 16) {
		if (len >= 16) {
			x = _mm_loadu_si128((const __m128i *)p);
		} else {
			memset(last, 0, sizeof(last));
			memcpy(last, p, len);
			x = _mm_loadu_si128((const __m128i *)last);
			len = 16;
		}
		x = bswap128(x);
		if (i == 0)
			x = _mm_xor_si128(x, acc);
		gf_mul_acc(x, hpow(g, 8 - n + i), &lo, &mid, &hi);
	}
	return gf_finish(lo, mid, hi);
}

/* Encrypts one 256-bit register of two blocks. */
#define AES2(b, a, rounds)						\
	do {								\
		int r_;							\
		b = _mm256_xor_si256(b, _mm256_broadcastsi128_si256(rkey(a, 0))); \
		for (r_ = 1; r_ < (rounds); r_++)			\
			b = _mm256_aesenc_epi128(b, _mm256_broadcastsi128_si256(rkey(a, r_))); \
		b = _mm256_aesenclast_epi128(b, _mm256_broadcastsi128_si256(rkey(a, rounds))); \
	} while (0)

/*
 * XORs @len bytes of @src with the key stream from counter block @ctr0
 * (inc32 per block) into @dst.
 */
static TGT void ctr_xor(const struct tqb_aes *a, __m128i ctr0, const uint8_t *src, uint8_t *dst,
			size_t len)
{
	/* The 32-bit big-endian counter word as a little-endian lane, and back. */
	const __m256i swap = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
								       10, 11, 15, 14, 13, 12));
	const __m256i two = _mm256_setr_epi32(0, 0, 0, 2, 0, 0, 0, 2);
	const int rounds = a->rounds;
	__m256i c, b0, b1, b2, b3;
	uint8_t tmp[32];
	size_t n;
	int r;

	c = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(ctr0), swap);
	c = _mm256_add_epi32(c, _mm256_setr_epi32(0, 0, 0, 1, 0, 0, 0, 2));
	for (; len >= 128; len -= 128, src += 128, dst += 128) {
		b0 = _mm256_shuffle_epi8(c, swap);
		c = _mm256_add_epi32(c, two);
		b1 = _mm256_shuffle_epi8(c, swap);
		c = _mm256_add_epi32(c, two);
		b2 = _mm256_shuffle_epi8(c, swap);
		c = _mm256_add_epi32(c, two);
		b3 = _mm256_shuffle_epi8(c, swap);
		c = _mm256_add_epi32(c, two);
		{
			__m256i k = _mm256_broadcastsi128_si256(rkey(a, 0));

			b0 = _mm256_xor_si256(b0, k);
			b1 = _mm256_xor_si256(b1, k);
			b2 = _mm256_xor_si256(b2, k);
			b3 = _mm256_xor_si256(b3, k);
		}
		for (r = 1; r < rounds; r++) {
			__m256i k = _mm256_broadcastsi128_si256(rkey(a, r));

			b0 = _mm256_aesenc_epi128(b0, k);
			b1 = _mm256_aesenc_epi128(b1, k);
			b2 = _mm256_aesenc_epi128(b2, k);
			b3 = _mm256_aesenc_epi128(b3, k);
		}
		{
			__m256i k = _mm256_broadcastsi128_si256(rkey(a, rounds));

			b0 = _mm256_aesenclast_epi128(b0, k);
			b1 = _mm256_aesenclast_epi128(b1, k);
			b2 = _mm256_aesenclast_epi128(b2, k);
			b3 = _mm256_aesenclast_epi128(b3, k);
		}
		_mm256_storeu_si256((__m256i *)dst, _mm256_xor_si256(b0,
					_mm256_loadu_si256((const __m256i *)src)));
		_mm256_storeu_si256((__m256i *)(dst + 32), _mm256_xor_si256(b1,
					_mm256_loadu_si256((const __m256i *)(src + 32))));
		_mm256_storeu_si256((__m256i *)(dst + 64), _mm256_xor_si256(b2,
					_mm256_loadu_si256((const __m256i *)(src + 64))));
		_mm256_storeu_si256((__m256i *)(dst + 96), _mm256_xor_si256(b3,
					_mm256_loadu_si256((const __m256i *)(src + 96))));
	}
	for (; len; len -= n, src += n, dst += n) {
		n = len < 32 ? len : 32;
		b0 = _mm256_shuffle_epi8(c, swap);
		c = _mm256_add_epi32(c, two);
		AES2(b0, a, rounds);
		if (n == 32) {
			_mm256_storeu_si256((__m256i *)dst, _mm256_xor_si256(b0,
						_mm256_loadu_si256((const __m256i *)src)));
			continue;
		}
		memcpy(tmp, src, n);
		_mm256_storeu_si256((__m256i *)tmp, _mm256_xor_si256(b0,
					_mm256_loadu_si256((const __m256i *)tmp)));
		memcpy(dst, tmp, n);
	}
}

/* The tag of @aad and the ciphertext @ct, XORed with E(K, J0) by the caller. */
static TGT __m128i gcm_hash(const struct tqb_gcm *g, const uint8_t *aad, size_t aad_len,
			    const uint8_t *ct, size_t len)
{
	__m128i acc = _mm_setzero_si128(), lens;

	if (aad_len)
		acc = ghash(g, acc, aad, aad_len);
	if (len)
		acc = ghash(g, acc, ct, len);
	/* The length block, big-endian bit counts, byte-reversed for POLYVAL. */
	lens = _mm_set_epi64x((long long)(aad_len * 8), (long long)(len * 8));
	acc = gf_mul(_mm_xor_si128(acc, lens), hpow(g, 7));
	return bswap128(acc);
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

TGT void tqb_gcm_seal(const struct tqb_gcm *g, const uint8_t *nonce, const uint8_t *aad,
		      size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len)
{
	__m128i j0 = j0_block(nonce), tag;

	ctr_xor(&g->aes, j0, src, dst, len);
	tag = _mm_xor_si128(gcm_hash(g, aad, aad_len, dst, len), aes_enc(&g->aes, j0));
	_mm_storeu_si128((__m128i *)(dst + len), tag);
}

TGT int tqb_gcm_open(const struct tqb_gcm *g, const uint8_t *nonce, const uint8_t *aad,
		     size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len)
{
	__m128i j0, tag, diff;

	if (len < 16)
		return -EBADMSG;
	len -= 16;
	j0 = j0_block(nonce);
	tag = _mm_xor_si128(gcm_hash(g, aad, aad_len, src, len), aes_enc(&g->aes, j0));
	/* Compared in constant time. */
	diff = _mm_xor_si128(tag, _mm_loadu_si128((const __m128i *)(src + len)));
	if (!_mm_testz_si128(diff, diff))
		return -EBADMSG;
	ctr_xor(&g->aes, j0, src, dst, len);
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
		  size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len)
{
	(void)g;
	(void)nonce;
	(void)aad;
	(void)aad_len;
	(void)src;
	(void)dst;
	(void)len;
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
