/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel crypto platform of the TQUIC engine (kmod/linux/crypto.c):
 * module-level setup, the self-test entry and the driver report.
 */
#ifndef _TQUIC_LINUX_CRYPTO_H
#define _TQUIC_LINUX_CRYPTO_H

#include <linux/types.h>

/*
 * Allocates the shared HMAC transforms HKDF needs.  Call from module init
 * before any engine code runs; process context.
 */
int tquic_crypto_init(void);
/* Frees them; module exit. */
void tquic_crypto_exit(void);

/*
 * Runs the engine self-test (RFC 9001 / RFC 9369 vectors and more) over the
 * kernel crypto API.  Process context (it allocates transforms).  Returns 0
 * when every check passed, -EBADMSG when some failed (their names are
 * logged), or another -errno; @passed and @failed get the counts.
 */
int tquic_crypto_selftest(u32 *passed, u32 *failed);

/*
 * Writes into @buf the driver name the crypto API picks for @alg
 * ("gcm(aes)", "rfc7539(chacha20,poly1305)", "ecb(aes)", "chacha20",
 * "hmac(sha256)", "hmac(sha384)") when allocated the way the engine
 * allocates it (synchronous only).  Process context.  Returns 0 or -errno.
 */
int tquic_crypto_driver_name(const char *alg, char *buf, size_t len);

#endif /* _TQUIC_LINUX_CRYPTO_H */
