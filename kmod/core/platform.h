/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * platform.h - the only header the portable TQUIC engine (kmod/core) includes.
 *
 * Each host (the kernel in kmod/linux, user space in bridge/) provides the
 * basic types and the functions declared here.  The engine never does I/O,
 * never reads a clock and never allocates except through these hooks.
 */
#ifndef _TQUIC_CORE_PLATFORM_H
#define _TQUIC_CORE_PLATFORM_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/string.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#else
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <errno.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#endif /* __KERNEL__ */


/*
 * Host hooks.
 *
 * Context: the kernel host calls the engine from softirq as well as from
 * process context.  Every hook that may allocate takes TQUIC_GFP_* flags;
 * TQUIC_GFP_ATOMIC must never sleep, TQUIC_GFP_KERNEL may.  Crypto objects
 * are allocated by the engine and then used by one context at a time (the
 * connection lock serialises them); seal/open/mask never sleep and never
 * allocate.
 *
 * Buffers handed to seal/open must be host heap memory (the kernel host
 * builds scatterlists over them): packet buffers, never the stack.
 */

/* Allocation context flags. */
#define TQUIC_GFP_ATOMIC	0x0U	/* must not sleep */
#define TQUIC_GFP_KERNEL	0x1U	/* may sleep */

/* Zeroed allocation; NULL on failure. */
void *tquic_mem_alloc(size_t size, unsigned int gfp);
/* Frees memory from tquic_mem_alloc (NULL is fine). */
void tquic_mem_free(void *p);
/*
 * The engine's long-lived objects of fixed size: the kernel host keeps
 * each kind in a slab cache of its own, at its exact size and away from
 * the packet buffers that come and go in the general caches (a connection
 * made among them pins their half-empty slabs for its life).
 */
enum tquic_obj {
	TQUIC_OBJ_CONN,			/* struct tquic_conn */
	TQUIC_OBJ_PATH,			/* struct tquic_path */
	TQUIC_OBJ_PATH_XMIT,		/* struct tquic_path_xmit */
	TQUIC_OBJ_PEER_CID,		/* struct tquic_rcid */
	TQUIC_OBJ_COUNT,
};

/* Bytes of an object of @kind (the engine's answer, for the host's caches). */
size_t tquic_obj_size(enum tquic_obj kind);
/* Zeroed object of @kind; NULL on failure. */
void *tquic_obj_alloc(enum tquic_obj kind, unsigned int gfp);
/* Frees an object from tquic_obj_alloc (NULL is fine). */
void tquic_obj_free(enum tquic_obj kind, void *p);
/* Overwrites @len bytes at @p with zeroes in a way the compiler keeps. */
void tquic_memzero_explicit(void *p, size_t len);
/* Fills @buf with @len cryptographically secure random bytes. */
void tquic_random_bytes(void *buf, size_t len);
/* Logs one line (no trailing newline needed) for diagnostics. */
void tquic_log(const char *msg);

/* AEAD algorithms (RFC 9001 section 5.3). */
enum tquic_aead_alg {
	TQUIC_AEAD_AES_128_GCM = 1,
	TQUIC_AEAD_AES_256_GCM = 2,
	TQUIC_AEAD_CHACHA20_POLY1305 = 3,
};

#define TQUIC_AEAD_TAG_LEN	16
#define TQUIC_AEAD_NONCE_LEN	12
#define TQUIC_AEAD_MAX_KEY_LEN	32

/* Header-protection algorithms (RFC 9001 section 5.4). */
enum tquic_hp_alg {
	TQUIC_HP_AES_128 = 1,
	TQUIC_HP_AES_256 = 2,
	TQUIC_HP_CHACHA20 = 3,
};

#define TQUIC_HP_SAMPLE_LEN	16
#define TQUIC_HP_MASK_LEN	5

/* Hash functions for HMAC/HKDF. */
enum tquic_hash_alg {
	TQUIC_HASH_SHA256 = 1,
	TQUIC_HASH_SHA384 = 2,
};

#define TQUIC_HASH_MAX_LEN	48

/* A piece of HMAC input; tquic_hmac() hashes the pieces in order. */
struct tquic_iov {
	const void *base;
	size_t len;
};

/* Opaque host objects. */
struct tquic_aead;
struct tquic_hp;

/*
 * Allocates an AEAD key object for @alg with the key bytes @key (16 or 32
 * bytes according to @alg).  Returns NULL when the algorithm, the key length
 * or the allocation fails.  The kernel host may only allocate with
 * TQUIC_GFP_KERNEL (transform allocation sleeps); it returns NULL otherwise.
 */
struct tquic_aead *tquic_aead_alloc(enum tquic_aead_alg alg, const u8 *key,
				    size_t key_len, unsigned int gfp);
void tquic_aead_free(struct tquic_aead *aead);

/*
 * Plaintext bytes [@off, @off + @len) that are read from @src rather than
 * from the seal's source: stream data sealed straight from the send
 * buffer into the packet, without a copy first.
 */
struct tquic_aead_gather {
	size_t off;
	size_t len;
	const u8 *src;
};

/*
 * Seals @len bytes at @src into @dst (@src == @dst is in place) and writes
 * the 16-byte tag right after the ciphertext: @dst must have @len + 16
 * bytes.  @g (NULL: none) takes part of the plaintext from elsewhere.
 * @nonce is TQUIC_AEAD_NONCE_LEN bytes.  Returns 0 or -errno.
 */
int tquic_aead_seal(struct tquic_aead *aead, const u8 *nonce,
		    const u8 *aad, size_t aad_len,
		    const u8 *src, u8 *dst, size_t len,
		    const struct tquic_aead_gather *g);

/*
 * Opens @len bytes at @src (ciphertext followed by the tag, so @len >= 16)
 * into @dst (@len - 16 bytes written; @src == @dst is in place).  Returns 0,
 * -EBADMSG when authentication fails (@dst content is then unspecified) or
 * another -errno.
 */
int tquic_aead_open(struct tquic_aead *aead, const u8 *nonce,
		    const u8 *aad, size_t aad_len,
		    const u8 *src, u8 *dst, size_t len);

/* Header-protection mask objects; key rules as for tquic_aead_alloc(). */
struct tquic_hp *tquic_hp_alloc(enum tquic_hp_alg alg, const u8 *key,
				size_t key_len, unsigned int gfp);
void tquic_hp_free(struct tquic_hp *hp);
/* Computes the 5-byte mask from a 16-byte sample.  Returns 0 or -errno. */
int tquic_hp_mask(struct tquic_hp *hp, const u8 *sample, u8 *mask);

/*
 * HMAC(@alg, @key, concatenation of @iov[0..@n)) into @out (32 or 48
 * bytes).  Never sleeps.  Returns 0 or -errno.
 */
int tquic_hmac(enum tquic_hash_alg alg, const u8 *key, size_t key_len,
	       const struct tquic_iov *iov, unsigned int n, u8 *out);

#endif /* _TQUIC_CORE_PLATFORM_H */
