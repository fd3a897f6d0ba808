/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * AES-GCM and single AES blocks on x86-64 with VAES and VPCLMULQDQ, for the
 * user-space platform (platform_openssl.c).  OpenSSL's EVP layer costs more
 * per packet than sealing a full-size packet does; these functions keep
 * only the arithmetic.  Where the CPU lacks the instructions,
 * tqb_gcm_usable() is false and OpenSSL does the work.
 */
#ifndef _TQUIC_BRIDGE_AESGCM_H
#define _TQUIC_BRIDGE_AESGCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An expanded AES-128 or AES-256 encryption key. */
struct tqb_aes {
	uint8_t rk[15][16];
	int rounds;
};

/* An AES-GCM key: the AES key and the powers of the hash key. */
struct tqb_gcm {
	struct tqb_aes aes;
	/* H^8 .. H^1, in the POLYVAL domain (RFC 8452 appendix A). */
	uint8_t hpow[8][16];
	/* Each power's two 64-bit halves XORed (twice). */
	uint8_t hkar[8][16];
};

/* Whether this CPU runs the functions below (and tqb_gcm_off is false). */
bool tqb_gcm_usable(void);
/* Tests set it to make keys on OpenSSL's AES even where VAES is there. */
extern bool tqb_gcm_off;

/* Expands a 16- or 32-byte key; -EINVAL for another length. */
int tqb_aes_init(struct tqb_aes *a, const uint8_t *key, size_t key_len);
void tqb_aes_block(const struct tqb_aes *a, const uint8_t *in, uint8_t *out);

int tqb_gcm_init(struct tqb_gcm *g, const uint8_t *key, size_t key_len);
/*
 * Encrypts @len bytes (@src may be @dst) and writes the tag at @dst + @len.
 * Plaintext bytes [@goff, @goff + @glen) come from @gsrc instead of @src.
 */
void tqb_gcm_seal(const struct tqb_gcm *g, const uint8_t *nonce, const uint8_t *aad,
		  size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len,
		  const uint8_t *gsrc, size_t goff, size_t glen);
/*
 * Checks the tag of @len bytes (ciphertext and tag) and decrypts the
 * ciphertext into @dst only when it is right: 0, or -EBADMSG.
 */
int tqb_gcm_open(const struct tqb_gcm *g, const uint8_t *nonce, const uint8_t *aad,
		 size_t aad_len, const uint8_t *src, uint8_t *dst, size_t len);

#endif /* _TQUIC_BRIDGE_AESGCM_H */
