// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The user-space platform of the TQUIC engine: memory from libc, crypto
 * from OpenSSL libcrypto (EVP), but for AES-GCM and AES header protection
 * on CPUs with VAES (aesgcm.c: EVP costs more per packet than the cipher).
 * Each key object owns its cipher contexts; a key object is used by one
 * thread at a time, as in the kernel host.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "platform.h"
#include "glue.h"
#include "aesgcm.h"
#include "cache_user.h"

/*
 * Engine memory.  Small blocks (a sent packet's frames, a received
 * fragment's node) come and go at packet rate, allocated on one thread and
 * freed on another: they are recycled by size class (cache_user.c).  A
 * header before each block says its class.
 */
struct mem_hdr {
	unsigned int cls;	/* index in mem_caches, or MEM_NO_CLASS */
} __attribute__((aligned(16)));

#define MEM_NO_CLASS	UINT_MAX

static const size_t mem_class_size[] = { 64, 128, 256, 512 };	/* header included */

static struct tqb_cache mem_caches[] = {
	TQB_CACHE_INIT(0, 64, 4096),
	TQB_CACHE_INIT(1, 64, 4096),
	TQB_CACHE_INIT(2, 64, 2048),
	TQB_CACHE_INIT(3, 64, 1024),
};

void *tquic_mem_alloc(size_t size, unsigned int gfp)
{
	unsigned int cls;
	struct mem_hdr *h = NULL;
	size_t total;

	(void)gfp;
	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	total = sizeof(*h) + size;
	for (cls = 0; cls < ARRAY_SIZE(mem_class_size); cls++)
		if (total <= mem_class_size[cls])
			break;
	if (cls == ARRAY_SIZE(mem_class_size)) {
		h = calloc(1, total);
		if (!h)
			return NULL;
		h->cls = MEM_NO_CLASS;
		return h + 1;
	}
	h = tqb_cache_get(&mem_caches[cls]);
	if (!h) {
		h = malloc(mem_class_size[cls]);
		if (!h)
			return NULL;
	}
	h->cls = cls;
	memset(h + 1, 0, size);
	return h + 1;
}

void tquic_mem_free(void *p)
{
	struct mem_hdr *h;

	if (!p)
		return;
	h = (struct mem_hdr *)p - 1;
	if (h->cls == MEM_NO_CLASS || !tqb_cache_put(&mem_caches[h->cls], h))
		free(h);
}

void *tquic_obj_alloc(enum tquic_obj kind, unsigned int gfp)
{
	return tquic_mem_alloc(tquic_obj_size(kind), gfp);
}

void tquic_obj_free(enum tquic_obj kind, void *p)
{
	(void)kind;
	tquic_mem_free(p);
}

void tquic_memzero_explicit(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

void tquic_random_bytes(void *buf, size_t len)
{
	/* RAND_bytes only fails when the DRBG cannot be seeded at all. */
	if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1)
		abort();
}

/* Log lines are kept for Go (tqb_log_take) and echoed to stderr. */
static pthread_mutex_t tqb_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char tqb_log_buf[16384];
static size_t tqb_log_len;

void tquic_log(const char *msg)
{
	size_t n = strlen(msg);

	pthread_mutex_lock(&tqb_log_lock);
	if (tqb_log_len + n + 1 < sizeof(tqb_log_buf)) {
		memcpy(tqb_log_buf + tqb_log_len, msg, n);
		tqb_log_len += n;
		tqb_log_buf[tqb_log_len++] = '\n';
		tqb_log_buf[tqb_log_len] = '\0';
	}
	pthread_mutex_unlock(&tqb_log_lock);
	fprintf(stderr, "tquic: %s\n", msg);
}

size_t tqb_log_take(char *out, size_t cap)
{
	size_t n;

	pthread_mutex_lock(&tqb_log_lock);
	n = tqb_log_len < cap ? tqb_log_len : cap;
	memcpy(out, tqb_log_buf, n);
	tqb_log_len = 0;
	tqb_log_buf[0] = '\0';
	pthread_mutex_unlock(&tqb_log_lock);
	return n;
}

/* AES-GCM keys use gcm where the CPU has VAES, else the EVP contexts. */
struct tquic_aead {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	bool fast;
	struct tqb_gcm gcm;
};

static const EVP_CIPHER *tqb_aead_cipher(enum tquic_aead_alg alg,
					 size_t key_len)
{
	switch (alg) {
	case TQUIC_AEAD_AES_128_GCM:
		return key_len == 16 ? EVP_aes_128_gcm() : NULL;
	case TQUIC_AEAD_AES_256_GCM:
		return key_len == 32 ? EVP_aes_256_gcm() : NULL;
	case TQUIC_AEAD_CHACHA20_POLY1305:
		return key_len == 32 ? EVP_chacha20_poly1305() : NULL;
	}
	return NULL;
}

struct tquic_aead *tquic_aead_alloc(enum tquic_aead_alg alg, const u8 *key,
				    size_t key_len, unsigned int gfp)
{
	const EVP_CIPHER *cipher = tqb_aead_cipher(alg, key_len);
	struct tquic_aead *a;

	(void)gfp;
	if (!cipher)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	if (alg != TQUIC_AEAD_CHACHA20_POLY1305 && tqb_gcm_usable()) {
		a->fast = !tqb_gcm_init(&a->gcm, key, key_len);
		if (a->fast)
			return a;
	}
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	if (!a->enc || !a->dec ||
	    EVP_EncryptInit_ex(a->enc, cipher, NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(a->dec, cipher, NULL, key, NULL) != 1) {
		tquic_aead_free(a);
		return NULL;
	}
	return a;
}

void tquic_aead_free(struct tquic_aead *aead)
{
	if (!aead)
		return;
	EVP_CIPHER_CTX_free(aead->enc);
	EVP_CIPHER_CTX_free(aead->dec);
	OPENSSL_cleanse(aead, sizeof(*aead));
	free(aead);
}

static bool seal_update(EVP_CIPHER_CTX *c, u8 *dst, const u8 *src, size_t len)
{
	int n;

	return !len || EVP_EncryptUpdate(c, dst, &n, src, (int)len) == 1;
}

int tquic_aead_seal(struct tquic_aead *aead, const u8 *nonce,
		    const u8 *aad, size_t aad_len,
		    const u8 *src, u8 *dst, size_t len,
		    const struct tquic_aead_gather *g)
{
	EVP_CIPHER_CTX *c = aead->enc;
	size_t goff = 0, glen = 0;
	int n;

	if (len > INT_MAX - 64 || aad_len > INT_MAX)
		return -EINVAL;
	if (g) {
		if (g->off > len || g->len > len - g->off)
			return -EINVAL;
		goff = g->off;
		glen = g->len;
	}
	if (aead->fast) {
		tqb_gcm_seal(&aead->gcm, nonce, aad, aad_len, src, dst, len,
			     glen ? g->src : NULL, goff, glen);
		return 0;
	}
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1)
		return -EIO;
	if (aad_len && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		return -EIO;
	/* Stream modes: each part's output is exactly its length. */
	if (!seal_update(c, dst, src, goff) ||
	    !seal_update(c, dst + goff, glen ? g->src : NULL, glen) ||
	    !seal_update(c, dst + goff + glen, src + goff + glen, len - goff - glen))
		return -EIO;
	if (EVP_EncryptFinal_ex(c, dst + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TQUIC_AEAD_TAG_LEN,
				dst + len) != 1)
		return -EIO;
	return 0;
}

int tquic_aead_open(struct tquic_aead *aead, const u8 *nonce,
		    const u8 *aad, size_t aad_len,
		    const u8 *src, u8 *dst, size_t len)
{
	EVP_CIPHER_CTX *c = aead->dec;
	u8 tag[TQUIC_AEAD_TAG_LEN];
	size_t ct_len;
	int n;

	if (len < TQUIC_AEAD_TAG_LEN)
		return -EBADMSG;
	if (len > INT_MAX || aad_len > INT_MAX)
		return -EINVAL;
	if (aead->fast)
		return tqb_gcm_open(&aead->gcm, nonce, aad, aad_len, src, dst, len);
	ct_len = len - TQUIC_AEAD_TAG_LEN;
	memcpy(tag, src + ct_len, sizeof(tag));
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, sizeof(tag), tag) != 1)
		return -EIO;
	if (aad_len && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		return -EIO;
	if (ct_len && EVP_DecryptUpdate(c, dst, &n, src, (int)ct_len) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(c, dst + ct_len, &n) != 1)
		return -EBADMSG;
	return 0;
}

struct tquic_hp {
	EVP_CIPHER_CTX *ctx;		/* AES-ECB without VAES */
	enum tquic_hp_alg alg;
	bool fast;			/* AES in aes */
	struct tqb_aes aes;
	u32 chacha_key[8];		/* ChaCha20 */
};

/*
 * ChaCha20 header protection computes one keystream block per packet with a
 * new counter and nonce.  Re-initialising an EVP context for that costs
 * several hundred nanoseconds, so the block function (RFC 8439 2.3) is
 * computed here; OpenSSL still does every AEAD operation.
 */
static u32 tqb_rotl(u32 v, int n)
{
	return (v << n) | (v >> (32 - n));
}

static u32 tqb_le32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

#define TQB_QR(a, b, c, d)					\
	do {							\
		a += b; d ^= a; d = tqb_rotl(d, 16);		\
		c += d; b ^= c; b = tqb_rotl(b, 12);		\
		a += b; d ^= a; d = tqb_rotl(d, 8);		\
		c += d; b ^= c; b = tqb_rotl(b, 7);		\
	} while (0)

/* First @n (<= 8) bytes of the block for (key, counter, nonce) of @iv. */
static void tqb_chacha20_block(const u32 *key, const u8 *iv, u8 *out, size_t n)
{
	u32 in[16], x[16];
	int i;

	in[0] = 0x61707865;
	in[1] = 0x3320646e;
	in[2] = 0x79622d32;
	in[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		in[4 + i] = key[i];
	for (i = 0; i < 4; i++)
		in[12 + i] = tqb_le32(iv + 4 * i);	/* counter, nonce */
	memcpy(x, in, sizeof(x));
	for (i = 0; i < 10; i++) {
		TQB_QR(x[0], x[4], x[8], x[12]);
		TQB_QR(x[1], x[5], x[9], x[13]);
		TQB_QR(x[2], x[6], x[10], x[14]);
		TQB_QR(x[3], x[7], x[11], x[15]);
		TQB_QR(x[0], x[5], x[10], x[15]);
		TQB_QR(x[1], x[6], x[11], x[12]);
		TQB_QR(x[2], x[7], x[8], x[13]);
		TQB_QR(x[3], x[4], x[9], x[14]);
	}
	for (i = 0; i < 2; i++) {
		u32 v = x[i] + in[i];
		u8 b[4] = { (u8)v, (u8)(v >> 8), (u8)(v >> 16), (u8)(v >> 24) };
		size_t k;

		for (k = 0; k < 4 && 4 * (size_t)i + k < n; k++)
			out[4 * i + k] = b[k];
	}
}

struct tquic_hp *tquic_hp_alloc(enum tquic_hp_alg alg, const u8 *key,
				size_t key_len, unsigned int gfp)
{
	const EVP_CIPHER *cipher;
	struct tquic_hp *hp;

	(void)gfp;
	switch (alg) {
	case TQUIC_HP_AES_128:
		cipher = key_len == 16 ? EVP_aes_128_ecb() : NULL;
		break;
	case TQUIC_HP_AES_256:
		cipher = key_len == 32 ? EVP_aes_256_ecb() : NULL;
		break;
	case TQUIC_HP_CHACHA20:
		if (key_len != 32)
			return NULL;
		hp = calloc(1, sizeof(*hp));
		if (!hp)
			return NULL;
		hp->alg = alg;
		for (int i = 0; i < 8; i++)
			hp->chacha_key[i] = tqb_le32(key + 4 * i);
		return hp;
	default:
		cipher = NULL;
	}
	if (!cipher)
		return NULL;
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return NULL;
	hp->alg = alg;
	if (tqb_gcm_usable()) {
		hp->fast = !tqb_aes_init(&hp->aes, key, key_len);
		if (hp->fast)
			return hp;
	}
	hp->ctx = EVP_CIPHER_CTX_new();
	if (!hp->ctx ||
	    EVP_EncryptInit_ex(hp->ctx, cipher, NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(hp->ctx, 0) != 1) {
		tquic_hp_free(hp);
		return NULL;
	}
	return hp;
}

void tquic_hp_free(struct tquic_hp *hp)
{
	if (!hp)
		return;
	EVP_CIPHER_CTX_free(hp->ctx);
	OPENSSL_cleanse(hp, sizeof(*hp));
	free(hp);
}

int tquic_hp_mask(struct tquic_hp *hp, const u8 *sample, u8 *mask)
{
	u8 block[TQUIC_HP_SAMPLE_LEN];

	if (hp->alg == TQUIC_HP_CHACHA20) {
		/* counter = sample[0..3] (little endian), nonce = sample[4..15] */
		tqb_chacha20_block(hp->chacha_key, sample, mask, TQUIC_HP_MASK_LEN);
		return 0;
	}
	if (hp->fast) {
		tqb_aes_block(&hp->aes, sample, block);
		memcpy(mask, block, TQUIC_HP_MASK_LEN);
		return 0;
	}
	/* One ECB block; EVP_Cipher skips EVP_EncryptUpdate's buffering. */
	if (EVP_Cipher(hp->ctx, block, sample, TQUIC_HP_SAMPLE_LEN) <= 0)
		return -EIO;
	memcpy(mask, block, TQUIC_HP_MASK_LEN);
	return 0;
}

static EVP_MAC *tqb_hmac;
static pthread_once_t tqb_hmac_once = PTHREAD_ONCE_INIT;

static void tqb_hmac_init(void)
{
	tqb_hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
}

int tquic_hmac(enum tquic_hash_alg alg, const u8 *key, size_t key_len,
	       const struct tquic_iov *iov, unsigned int n, u8 *out)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	const char *digest;
	size_t out_len, want;
	unsigned int i;
	int err = -EIO;

	switch (alg) {
	case TQUIC_HASH_SHA256:
		digest = "SHA256";
		want = 32;
		break;
	case TQUIC_HASH_SHA384:
		digest = "SHA384";
		want = 48;
		break;
	default:
		return -EINVAL;
	}
	pthread_once(&tqb_hmac_once, tqb_hmac_init);
	if (!tqb_hmac)
		return -ENOSYS;
	ctx = EVP_MAC_CTX_new(tqb_hmac);
	if (!ctx)
		return -ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, key_len, params) != 1)
		goto out;
	for (i = 0; i < n; i++)
		if (iov[i].len && EVP_MAC_update(ctx, iov[i].base, iov[i].len) != 1)
			goto out;
	if (EVP_MAC_final(ctx, out, &out_len, want) != 1 || out_len != want)
		goto out;
	err = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return err;
}
