// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC key schedule: HKDF over the platform HMAC, Initial secrets for QUIC
 * v1 (RFC 9001) and v2 (RFC 9369), packet key sets, key update and nonces.
 */
#include "crypto.h"
#include "proto.h"

static const u8 tquic_v1_salt[20] = {
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};

static const u8 tquic_v2_salt[20] = {
	0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
};

static const u8 tquic_v1_retry_key[16] = {
	0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
	0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e,
};

static const u8 tquic_v1_retry_nonce[12] = {
	0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2,
	0x23, 0x98, 0x25, 0xbb,
};

static const u8 tquic_v2_retry_key[16] = {
	0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2,
	0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92,
};

static const u8 tquic_v2_retry_nonce[12] = {
	0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99,
	0x90, 0xef, 0xb0, 0x4a,
};

static const struct tquic_version_params tquic_versions[] = {
	{
		.version = TQUIC_VERSION_1,
		.initial_salt = tquic_v1_salt,
		.key_label = "quic key",
		.iv_label = "quic iv",
		.hp_label = "quic hp",
		.ku_label = "quic ku",
		.retry_key = tquic_v1_retry_key,
		.retry_nonce = tquic_v1_retry_nonce,
	},
	{
		.version = TQUIC_VERSION_2,
		.initial_salt = tquic_v2_salt,
		.key_label = "quicv2 key",
		.iv_label = "quicv2 iv",
		.hp_label = "quicv2 hp",
		.ku_label = "quicv2 ku",
		.retry_key = tquic_v2_retry_key,
		.retry_nonce = tquic_v2_retry_nonce,
	},
};

const struct tquic_version_params *tquic_version_params(u32 version)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tquic_versions); i++)
		if (tquic_versions[i].version == version)
			return &tquic_versions[i];
	return NULL;
}

bool tquic_version_supported(u32 version)
{
	return tquic_version_params(version) != NULL;
}

size_t tquic_hash_len(enum tquic_hash_alg alg)
{
	switch (alg) {
	case TQUIC_HASH_SHA256:
		return 32;
	case TQUIC_HASH_SHA384:
		return 48;
	}
	return 0;
}

int tquic_hkdf_extract(enum tquic_hash_alg alg, const u8 *salt, size_t salt_len,
		       const u8 *ikm, size_t ikm_len, u8 *prk)
{
	struct tquic_iov iov = { .base = ikm, .len = ikm_len };
	u8 zero[TQUIC_HASH_MAX_LEN];
	size_t hlen = tquic_hash_len(alg);

	if (!hlen)
		return -EINVAL;
	if (!salt_len) {
		/* RFC 5869: an absent salt is HashLen zero bytes. */
		memset(zero, 0, sizeof(zero));
		salt = zero;
		salt_len = hlen;
	}
	return tquic_hmac(alg, salt, salt_len, &iov, 1, prk);
}

#define TQUIC_HKDF_MAX_INFO	6

int tquic_hkdf_expand(enum tquic_hash_alg alg, const u8 *prk, size_t prk_len,
		      const struct tquic_iov *info, unsigned int n_info,
		      u8 *out, size_t out_len)
{
	struct tquic_iov iov[TQUIC_HKDF_MAX_INFO + 2];
	u8 t[TQUIC_HASH_MAX_LEN], prev[TQUIC_HASH_MAX_LEN];
	size_t hlen = tquic_hash_len(alg);
	size_t done = 0, n;
	unsigned int i;
	u8 counter = 0;
	int err = 0;

	if (!hlen || n_info > TQUIC_HKDF_MAX_INFO || out_len > 255 * hlen)
		return -EINVAL;
	for (i = 0; i < n_info; i++)
		iov[i + 1] = info[i];
	iov[n_info + 1].base = &counter;
	iov[n_info + 1].len = 1;
	while (done < out_len) {
		counter++;
		/* T(0) is empty; T(i) = HMAC(PRK, T(i-1) | info | i). */
		iov[0].base = prev;
		iov[0].len = counter == 1 ? 0 : hlen;
		err = tquic_hmac(alg, prk, prk_len, iov, n_info + 2, t);
		if (err)
			break;
		n = out_len - done < hlen ? out_len - done : hlen;
		memcpy(out + done, t, n);
		memcpy(prev, t, hlen);
		done += n;
	}
	tquic_memzero_explicit(t, sizeof(t));
	tquic_memzero_explicit(prev, sizeof(prev));
	return err;
}

int tquic_hkdf_expand_label(enum tquic_hash_alg alg, const u8 *secret,
			    size_t secret_len, const char *label,
			    const u8 *context, size_t context_len,
			    u8 *out, size_t out_len)
{
	static const char prefix[] = "tls13 ";
	const size_t prefix_len = sizeof(prefix) - 1;
	struct tquic_iov info[5];
	size_t label_len = strlen(label);
	u8 hdr[3], ctx_len;

	if (label_len > 255 - prefix_len || context_len > 255 || out_len > 0xffff)
		return -EINVAL;
	/* struct HkdfLabel { u16 length; opaque label<7..255>; opaque context<0..255>; } */
	hdr[0] = (u8)(out_len >> 8);
	hdr[1] = (u8)out_len;
	hdr[2] = (u8)(prefix_len + label_len);
	ctx_len = (u8)context_len;
	info[0].base = hdr;
	info[0].len = sizeof(hdr);
	info[1].base = prefix;
	info[1].len = prefix_len;
	info[2].base = label;
	info[2].len = label_len;
	info[3].base = &ctx_len;
	info[3].len = 1;
	info[4].base = context;
	info[4].len = context_len;
	return tquic_hkdf_expand(alg, secret, secret_len, info, 5, out, out_len);
}

int tquic_initial_secrets(u32 version, const u8 *dcid, size_t dcid_len,
			  u8 *client_secret, u8 *server_secret)
{
	const struct tquic_version_params *vp = tquic_version_params(version);
	u8 initial[TQUIC_INITIAL_SECRET_LEN];
	int err;

	if (!vp)
		return -EPROTONOSUPPORT;
	if (dcid_len > TQUIC_MAX_CID_LEN)
		return -EINVAL;
	err = tquic_hkdf_extract(TQUIC_HASH_SHA256, vp->initial_salt, 20,
				 dcid, dcid_len, initial);
	if (!err && client_secret)
		err = tquic_hkdf_expand_label(TQUIC_HASH_SHA256, initial,
					      sizeof(initial), "client in",
					      NULL, 0, client_secret,
					      TQUIC_INITIAL_SECRET_LEN);
	if (!err && server_secret)
		err = tquic_hkdf_expand_label(TQUIC_HASH_SHA256, initial,
					      sizeof(initial), "server in",
					      NULL, 0, server_secret,
					      TQUIC_INITIAL_SECRET_LEN);
	tquic_memzero_explicit(initial, sizeof(initial));
	return err;
}

enum tquic_hash_alg tquic_suite_hash(enum tquic_suite suite)
{
	switch (suite) {
	case TQUIC_SUITE_AES_128_GCM_SHA256:
	case TQUIC_SUITE_CHACHA20_POLY1305_SHA256:
		return TQUIC_HASH_SHA256;
	case TQUIC_SUITE_AES_256_GCM_SHA384:
		return TQUIC_HASH_SHA384;
	}
	return 0;
}

enum tquic_aead_alg tquic_suite_aead(enum tquic_suite suite)
{
	switch (suite) {
	case TQUIC_SUITE_AES_128_GCM_SHA256:
		return TQUIC_AEAD_AES_128_GCM;
	case TQUIC_SUITE_AES_256_GCM_SHA384:
		return TQUIC_AEAD_AES_256_GCM;
	case TQUIC_SUITE_CHACHA20_POLY1305_SHA256:
		return TQUIC_AEAD_CHACHA20_POLY1305;
	}
	return 0;
}

enum tquic_hp_alg tquic_suite_hp(enum tquic_suite suite)
{
	switch (suite) {
	case TQUIC_SUITE_AES_128_GCM_SHA256:
		return TQUIC_HP_AES_128;
	case TQUIC_SUITE_AES_256_GCM_SHA384:
		return TQUIC_HP_AES_256;
	case TQUIC_SUITE_CHACHA20_POLY1305_SHA256:
		return TQUIC_HP_CHACHA20;
	}
	return 0;
}

size_t tquic_suite_key_len(enum tquic_suite suite)
{
	switch (suite) {
	case TQUIC_SUITE_AES_128_GCM_SHA256:
		return 16;
	case TQUIC_SUITE_AES_256_GCM_SHA384:
	case TQUIC_SUITE_CHACHA20_POLY1305_SHA256:
		return 32;
	}
	return 0;
}

/* Checks @suite, @version and the secret length; returns the hash. */
static int tquic_check_secret(u32 version, enum tquic_suite suite,
			      size_t secret_len,
			      const struct tquic_version_params **vp,
			      enum tquic_hash_alg *hash)
{
	*vp = tquic_version_params(version);
	if (!*vp)
		return -EPROTONOSUPPORT;
	*hash = tquic_suite_hash(suite);
	if (!*hash)
		return -EINVAL;
	if (secret_len != tquic_hash_len(*hash))
		return -EINVAL;
	return 0;
}

/* The AEAD object of @k from its secret. */
static int aead_keys_alloc(struct tquic_aead_keys *k, unsigned int gfp)
{
	const struct tquic_version_params *vp = tquic_version_params(k->version);
	enum tquic_suite suite = (enum tquic_suite)k->suite;
	size_t key_len = tquic_suite_key_len(suite);
	u8 key[TQUIC_AEAD_MAX_KEY_LEN];
	int err;

	err = tquic_hkdf_expand_label(tquic_suite_hash(suite), k->secret,
				      k->secret_len, vp->key_label, NULL, 0,
				      key, key_len);
	if (!err) {
		k->aead = tquic_aead_alloc(tquic_suite_aead(suite), key,
					   key_len, gfp);
		if (!k->aead)
			err = -ENOMEM;
	}
	tquic_memzero_explicit(key, sizeof(key));
	return err;
}

int tquic_aead_keys_init(struct tquic_aead_keys *k, u32 version,
			 enum tquic_suite suite, const u8 *secret,
			 size_t secret_len, unsigned int gfp)
{
	const struct tquic_version_params *vp;
	enum tquic_hash_alg hash;
	int err;

	memset(k, 0, sizeof(*k));
	err = tquic_check_secret(version, suite, secret_len, &vp, &hash);
	if (err)
		return err;
	k->version = version;
	k->suite = (u16)suite;
	k->secret_len = (u8)secret_len;
	memcpy(k->secret, secret, secret_len);
	err = tquic_hkdf_expand_label(hash, secret, secret_len, vp->iv_label,
				      NULL, 0, k->iv, TQUIC_IV_LEN);
	if (!err)
		err = aead_keys_alloc(k, gfp);
	if (err)
		tquic_memzero_explicit(k, sizeof(*k));
	return err;
}

void tquic_aead_keys_park(struct tquic_aead_keys *k)
{
	tquic_aead_free(k->aead);
	k->aead = NULL;
}

int tquic_aead_keys_unpark(struct tquic_aead_keys *k, unsigned int gfp)
{
	if (k->aead || !k->secret_len)
		return 0;
	return aead_keys_alloc(k, gfp);
}

void tquic_aead_keys_destroy(struct tquic_aead_keys *k)
{
	tquic_aead_free(k->aead);
	tquic_memzero_explicit(k, sizeof(*k));
}

int tquic_next_secret(const struct tquic_aead_keys *cur, u8 *next_secret)
{
	const struct tquic_version_params *vp;
	enum tquic_hash_alg hash;
	int err;

	err = tquic_check_secret(cur->version, cur->suite, cur->secret_len,
				 &vp, &hash);
	if (err)
		return err;
	return tquic_hkdf_expand_label(hash, cur->secret, cur->secret_len,
				       vp->ku_label, NULL, 0, next_secret,
				       cur->secret_len);
}

int tquic_aead_keys_next(const struct tquic_aead_keys *cur,
			 struct tquic_aead_keys *next, unsigned int gfp)
{
	u8 secret[TQUIC_MAX_SECRET_LEN];
	int err;

	err = tquic_next_secret(cur, secret);
	if (!err)
		err = tquic_aead_keys_init(next, cur->version, cur->suite,
					   secret, cur->secret_len, gfp);
	tquic_memzero_explicit(secret, sizeof(secret));
	return err;
}

/* The header protection key of @secret into @key (the suite's key length). */
static int hp_key_derive(u32 version, enum tquic_suite suite, const u8 *secret,
			 size_t secret_len, u8 *key)
{
	const struct tquic_version_params *vp;
	enum tquic_hash_alg hash;
	int err;

	err = tquic_check_secret(version, suite, secret_len, &vp, &hash);
	if (err)
		return err;
	return tquic_hkdf_expand_label(hash, secret, secret_len, vp->hp_label,
				       NULL, 0, key, tquic_suite_key_len(suite));
}

int tquic_hp_key_init(struct tquic_hp **hp, u32 version,
		      enum tquic_suite suite, const u8 *secret,
		      size_t secret_len, unsigned int gfp)
{
	u8 key[TQUIC_AEAD_MAX_KEY_LEN];
	int err;

	*hp = NULL;
	err = hp_key_derive(version, suite, secret, secret_len, key);
	if (!err) {
		*hp = tquic_hp_alloc(tquic_suite_hp(suite), key,
				     tquic_suite_key_len(suite), gfp);
		if (!*hp)
			err = -ENOMEM;
	}
	tquic_memzero_explicit(key, sizeof(key));
	return err;
}

int tquic_keys_init(struct tquic_keys *k, u32 version, enum tquic_suite suite,
		    const u8 *secret, size_t secret_len, unsigned int gfp)
{
	int err;

	memset(k, 0, sizeof(*k));
	err = hp_key_derive(version, suite, secret, secret_len, k->hp_key);
	if (!err)
		err = tquic_aead_keys_init(&k->pkt, version, suite, secret,
					   secret_len, gfp);
	if (!err) {
		err = tquic_keys_unpark(k, gfp);
		if (err)
			tquic_aead_keys_destroy(&k->pkt);
	}
	if (err)
		tquic_memzero_explicit(k, sizeof(*k));
	return err;
}

void tquic_keys_destroy(struct tquic_keys *k)
{
	tquic_hp_free(k->hp);
	k->hp = NULL;
	tquic_memzero_explicit(k->hp_key, sizeof(k->hp_key));
	tquic_aead_keys_destroy(&k->pkt);
}

void tquic_keys_park(struct tquic_keys *k)
{
	tquic_hp_free(k->hp);
	k->hp = NULL;
	tquic_aead_keys_park(&k->pkt);
}

int tquic_keys_unpark(struct tquic_keys *k, unsigned int gfp)
{
	enum tquic_suite suite = (enum tquic_suite)k->pkt.suite;
	int err;

	if (!k->pkt.secret_len)
		return 0;
	if (!k->hp) {
		k->hp = tquic_hp_alloc(tquic_suite_hp(suite), k->hp_key,
				       tquic_suite_key_len(suite), gfp);
		if (!k->hp)
			return -ENOMEM;
	}
	err = tquic_aead_keys_unpark(&k->pkt, gfp);
	if (err) {
		/* All or nothing: a half-built direction is parked again. */
		tquic_hp_free(k->hp);
		k->hp = NULL;
	}
	return err;
}

int tquic_initial_keys(u32 version, const u8 *dcid, size_t dcid_len,
		       struct tquic_keys *client, struct tquic_keys *server,
		       unsigned int gfp)
{
	u8 cs[TQUIC_INITIAL_SECRET_LEN], ss[TQUIC_INITIAL_SECRET_LEN];
	int err;

	memset(client, 0, sizeof(*client));
	memset(server, 0, sizeof(*server));
	err = tquic_initial_secrets(version, dcid, dcid_len, cs, ss);
	if (!err)
		err = tquic_keys_init(client, version,
				      TQUIC_SUITE_AES_128_GCM_SHA256, cs,
				      sizeof(cs), gfp);
	if (!err) {
		err = tquic_keys_init(server, version,
				      TQUIC_SUITE_AES_128_GCM_SHA256, ss,
				      sizeof(ss), gfp);
		if (err)
			tquic_keys_destroy(client);
	}
	tquic_memzero_explicit(cs, sizeof(cs));
	tquic_memzero_explicit(ss, sizeof(ss));
	return err;
}

void tquic_make_nonce(const u8 *iv, u64 pn, bool multipath, u32 path_id,
		      u8 *nonce)
{
	int i;

	memcpy(nonce, iv, TQUIC_IV_LEN);
	if (multipath) {
		/* 96 bits: Path ID (32) || 0b00 || PN (62). */
		pn &= (1ULL << 62) - 1;
		nonce[0] ^= (u8)(path_id >> 24);
		nonce[1] ^= (u8)(path_id >> 16);
		nonce[2] ^= (u8)(path_id >> 8);
		nonce[3] ^= (u8)path_id;
	}
	for (i = 0; i < 8; i++)
		nonce[TQUIC_IV_LEN - 1 - i] ^= (u8)(pn >> (8 * i));
}

int tquic_retry_keys_init(struct tquic_retry_keys *rk, unsigned int gfp)
{
	rk->v1 = tquic_aead_alloc(TQUIC_AEAD_AES_128_GCM, tquic_v1_retry_key,
				  sizeof(tquic_v1_retry_key), gfp);
	rk->v2 = tquic_aead_alloc(TQUIC_AEAD_AES_128_GCM, tquic_v2_retry_key,
				  sizeof(tquic_v2_retry_key), gfp);
	if (!rk->v1 || !rk->v2) {
		tquic_retry_keys_destroy(rk);
		return -ENOMEM;
	}
	return 0;
}

void tquic_retry_keys_destroy(struct tquic_retry_keys *rk)
{
	tquic_aead_free(rk->v1);
	tquic_aead_free(rk->v2);
	rk->v1 = NULL;
	rk->v2 = NULL;
}

struct tquic_aead *tquic_retry_aead(const struct tquic_retry_keys *rk,
				    u32 version)
{
	switch (version) {
	case TQUIC_VERSION_1:
		return rk->v1;
	case TQUIC_VERSION_2:
		return rk->v2;
	}
	return NULL;
}

int tquic_memcmp_ct(const u8 *a, const u8 *b, size_t len)
{
	volatile u8 diff = 0;
	size_t i;

	for (i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff != 0;
}
