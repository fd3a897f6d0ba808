/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * QUIC key schedule (RFC 9001 section 5, RFC 9369 section 3.3): HKDF,
 * Initial secrets for v1 and v2, packet key sets and key update.
 */
#ifndef _TQUIC_CORE_CRYPTO_H
#define _TQUIC_CORE_CRYPTO_H

#include "platform.h"

/* TLS 1.3 cipher suites QUIC can use (RFC 9001 section 5.3). */
enum tquic_suite {
	TQUIC_SUITE_AES_128_GCM_SHA256 = 0x1301,
	TQUIC_SUITE_AES_256_GCM_SHA384 = 0x1302,
	TQUIC_SUITE_CHACHA20_POLY1305_SHA256 = 0x1303,
};

#define TQUIC_INITIAL_SECRET_LEN	32
#define TQUIC_IV_LEN			12
#define TQUIC_MAX_SECRET_LEN		TQUIC_HASH_MAX_LEN
#define TQUIC_RETRY_TAG_LEN		16

/* Per-version constants (salt, labels, Retry integrity key). */
struct tquic_version_params {
	u32 version;
	const u8 *initial_salt;		/* 20 bytes */
	const char *key_label;
	const char *iv_label;
	const char *hp_label;
	const char *ku_label;
	const u8 *retry_key;		/* 16 bytes, AES-128-GCM */
	const u8 *retry_nonce;		/* 12 bytes */
};

/* Constants of @version, or NULL when the engine does not speak it. */
const struct tquic_version_params *tquic_version_params(u32 version);
bool tquic_version_supported(u32 version);

/* Hash output length of @alg (32 or 48), 0 for an unknown algorithm. */
size_t tquic_hash_len(enum tquic_hash_alg alg);

/* RFC 5869.  @prk has tquic_hash_len(@alg) bytes. */
int tquic_hkdf_extract(enum tquic_hash_alg alg, const u8 *salt, size_t salt_len,
		       const u8 *ikm, size_t ikm_len, u8 *prk);
/* RFC 5869 HKDF-Expand with the info given as pieces; @out_len <= 255 * hash. */
int tquic_hkdf_expand(enum tquic_hash_alg alg, const u8 *prk, size_t prk_len,
		      const struct tquic_iov *info, unsigned int n_info,
		      u8 *out, size_t out_len);
/*
 * TLS 1.3 HKDF-Expand-Label (RFC 8446 section 7.1): label without the
 * "tls13 " prefix, at most 249 bytes; context at most 255 bytes;
 * @out_len < 65536.
 */
int tquic_hkdf_expand_label(enum tquic_hash_alg alg, const u8 *secret,
			    size_t secret_len, const char *label,
			    const u8 *context, size_t context_len,
			    u8 *out, size_t out_len);

/*
 * Initial secrets (RFC 9001 section 5.2) from the client's first
 * Destination Connection ID: both are TQUIC_INITIAL_SECRET_LEN bytes.
 * Either output may be NULL.
 */
int tquic_initial_secrets(u32 version, const u8 *dcid, size_t dcid_len,
			  u8 *client_secret, u8 *server_secret);

/* Properties of a cipher suite.  All return 0 for an unknown suite. */
enum tquic_hash_alg tquic_suite_hash(enum tquic_suite suite);
enum tquic_aead_alg tquic_suite_aead(enum tquic_suite suite);
enum tquic_hp_alg tquic_suite_hp(enum tquic_suite suite);
size_t tquic_suite_key_len(enum tquic_suite suite);

/*
 * Packet protection keys of one direction and one key phase: the AEAD key
 * object, the IV and the traffic secret they came from (kept for the next
 * key update).
 */
struct tquic_aead_keys {
	struct tquic_aead *aead;
	u32 version;
	u16 suite;
	u8 secret_len;
	u8 iv[TQUIC_IV_LEN];
	u8 secret[TQUIC_MAX_SECRET_LEN];
};

/*
 * One direction of an encryption level: header protection (which does not
 * change with key updates) and the current packet keys.  The header
 * protection key is kept so that a parked @hp can be rebuilt.
 */
struct tquic_keys {
	struct tquic_hp *hp;
	u8 hp_key[TQUIC_AEAD_MAX_KEY_LEN];
	struct tquic_aead_keys pkt;
};

/* Derives key and IV from @secret; allocates the AEAD object. */
int tquic_aead_keys_init(struct tquic_aead_keys *k, u32 version,
			 enum tquic_suite suite, const u8 *secret,
			 size_t secret_len, unsigned int gfp);
/* Frees the AEAD object and wipes the key material. */
void tquic_aead_keys_destroy(struct tquic_aead_keys *k);
/*
 * Key update (RFC 9001 section 6.1): the next secret is
 * HKDF-Expand-Label(secret, "quic ku" / "quicv2 ku", "", hash length);
 * @next gets that secret and keys derived from it.
 */
int tquic_next_secret(const struct tquic_aead_keys *cur, u8 *next_secret);
int tquic_aead_keys_next(const struct tquic_aead_keys *cur,
			 struct tquic_aead_keys *next, unsigned int gfp);

/* Header protection key from @secret ("quic hp" / "quicv2 hp"). */
int tquic_hp_key_init(struct tquic_hp **hp, u32 version,
		      enum tquic_suite suite, const u8 *secret,
		      size_t secret_len, unsigned int gfp);

/* Both of the above. */
int tquic_keys_init(struct tquic_keys *k, u32 version, enum tquic_suite suite,
		    const u8 *secret, size_t secret_len, unsigned int gfp);
void tquic_keys_destroy(struct tquic_keys *k);

/*
 * Parking frees the host crypto objects of keys that are not in use for a
 * while (an idle connection) and keeps the key material; unparking
 * rebuilds them.  Both are no-ops on keys already in that state; unpark
 * returns 0 or -errno (the keys stay parked).
 */
void tquic_aead_keys_park(struct tquic_aead_keys *k);
int tquic_aead_keys_unpark(struct tquic_aead_keys *k, unsigned int gfp);
void tquic_keys_park(struct tquic_keys *k);
int tquic_keys_unpark(struct tquic_keys *k, unsigned int gfp);

/*
 * Initial keys for @version from the client's first DCID: @client protects
 * packets the client sends, @server those the server sends.
 */
int tquic_initial_keys(u32 version, const u8 *dcid, size_t dcid_len,
		       struct tquic_keys *client, struct tquic_keys *server,
		       unsigned int gfp);

/*
 * Nonce for packet number @pn (RFC 9001 section 5.3).  With @multipath,
 * the nonce is IV XOR (Path ID (32) || 0b00 || PN (62)) as in
 * draft-ietf-quic-multipath; otherwise IV XOR PN.
 */
void tquic_make_nonce(const u8 *iv, u64 pn, bool multipath, u32 path_id,
		      u8 *nonce);

/* AEAD objects for the Retry integrity tag (one per version). */
struct tquic_retry_keys {
	struct tquic_aead *v1;
	struct tquic_aead *v2;
};

int tquic_retry_keys_init(struct tquic_retry_keys *rk, unsigned int gfp);
void tquic_retry_keys_destroy(struct tquic_retry_keys *rk);
struct tquic_aead *tquic_retry_aead(const struct tquic_retry_keys *rk,
				    u32 version);

/* Constant-time comparison: 0 when equal. */
int tquic_memcmp_ct(const u8 *a, const u8 *b, size_t len);

#endif /* _TQUIC_CORE_CRYPTO_H */
