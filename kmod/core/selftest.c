// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Engine self-test over the linked platform: RFC 9001 and RFC 9369
 * appendix A (keys, full client and server Initial packets, Retry, the
 * ChaCha20 short header packet), key update, RFC 5869 HKDF, SHA-384 key
 * derivation, the multipath nonce, packet numbers, Version Negotiation,
 * stateless reset and truncated headers.
 */
#include "selftest.h"
#include "crypto.h"
#include "packet.h"
#include "proto.h"
#include "selftest_vectors.h"

#define ST_BUF_LEN	1500

struct tquic_st {
	const char *prefix;
	unsigned int checks;
	int failures;
	u8 *buf;		/* heap: the kernel host builds scatterlists */
	u8 *buf2;
};

static void st_check(struct tquic_st *st, bool ok, const char *name)
{
	char msg[96];
	size_t n = 0, i;

	st->checks++;
	if (ok)
		return;
	st->failures++;
	for (i = 0; st->prefix[i] && n < sizeof(msg) - 1; i++)
		msg[n++] = st->prefix[i];
	if (n < sizeof(msg) - 3) {
		msg[n++] = ':';
		msg[n++] = ' ';
	}
	for (i = 0; name[i] && n < sizeof(msg) - 1; i++)
		msg[n++] = name[i];
	msg[n] = '\0';
	tquic_log(msg);
}

static bool st_eq(const u8 *a, const u8 *b, size_t n)
{
	return memcmp(a, b, n) == 0;
}

static void st_hkdf(struct tquic_st *st)
{
	struct tquic_iov info = { tv_hkdf_info, sizeof(tv_hkdf_info) };
	u8 ikm[22], prk[32], okm[48], secret[48];
	size_t i;

	st->prefix = "hkdf";
	memset(ikm, 0x0b, sizeof(ikm));
	st_check(st, !tquic_hkdf_extract(TQUIC_HASH_SHA256, tv_hkdf_salt,
					 sizeof(tv_hkdf_salt), ikm,
					 sizeof(ikm), prk) &&
		 st_eq(prk, tv_hkdf_prk, 32), "RFC 5869 A.1 extract");
	st_check(st, !tquic_hkdf_expand(TQUIC_HASH_SHA256, prk, sizeof(prk),
					&info, 1, okm, sizeof(tv_hkdf_okm)) &&
		 st_eq(okm, tv_hkdf_okm, sizeof(tv_hkdf_okm)),
		 "RFC 5869 A.1 expand");

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (u8)i;
	st->prefix = "sha384";
	st_check(st, !tquic_hkdf_expand_label(TQUIC_HASH_SHA384, secret, 48,
					      "quic key", NULL, 0, okm, 32) &&
		 st_eq(okm, tv_s384_key, 32), "quic key");
	st_check(st, !tquic_hkdf_expand_label(TQUIC_HASH_SHA384, secret, 48,
					      "quic iv", NULL, 0, okm, 12) &&
		 st_eq(okm, tv_s384_iv, 12), "quic iv");
	st_check(st, !tquic_hkdf_expand_label(TQUIC_HASH_SHA384, secret, 48,
					      "quic ku", NULL, 0, okm, 48) &&
		 st_eq(okm, tv_s384_ku, 48), "quic ku");
	st_check(st, !tquic_hkdf_expand_label(TQUIC_HASH_SHA384, secret, 48,
					      "quicv2 ku", NULL, 0, okm, 48) &&
		 st_eq(okm, tv_v2_s384_ku, 48), "quicv2 ku");
}

/* Key update of an AES-256-GCM/SHA-384 key set (both versions). */
static void st_key_update_384(struct tquic_st *st, u32 version,
			      const u8 *want)
{
	struct tquic_aead_keys cur, next;
	u8 secret[48];
	size_t i;
	int err;

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (u8)i;
	err = tquic_aead_keys_init(&cur, version,
				   TQUIC_SUITE_AES_256_GCM_SHA384, secret,
				   sizeof(secret), TQUIC_GFP_KERNEL);
	st_check(st, !err, "aes-256-gcm keys");
	if (err)
		return;
	err = tquic_aead_keys_next(&cur, &next, TQUIC_GFP_KERNEL);
	st_check(st, !err && next.secret_len == 48 &&
		 st_eq(next.secret, want, 48), "key update sha384");
	if (!err)
		tquic_aead_keys_destroy(&next);
	tquic_aead_keys_destroy(&cur);
}

struct st_version_vec {
	const char *name;
	u32 version;
	const u8 *client_secret, *server_secret;
	const u8 *ck, *civ, *chp, *sk, *siv, *shp;
	const u8 *sample, *mask;
	const u8 *chdr, *cdata, *cpkt, *shdr, *sdata, *spkt, *retry;
	const u8 *chacha_pkt, *chacha_ku, *s384_ku;
	size_t chdr_len, cdata_len, cpkt_len, shdr_len, sdata_len, spkt_len;
	size_t retry_len;
};

static const struct st_version_vec st_versions[] = {
	{
		.name = "v1", .version = TQUIC_VERSION_1,
		.client_secret = tv_v1_client_secret,
		.server_secret = tv_v1_server_secret,
		.ck = tv_v1_client_key, .civ = tv_v1_client_iv,
		.chp = tv_v1_client_hp, .sk = tv_v1_server_key,
		.siv = tv_v1_server_iv, .shp = tv_v1_server_hp,
		.sample = tv_v1_sample, .mask = tv_v1_mask,
		.chdr = tv_v1_client_hdr, .chdr_len = sizeof(tv_v1_client_hdr),
		.cdata = tv_v1_client_data,
		.cdata_len = sizeof(tv_v1_client_data),
		.cpkt = tv_v1_client_pkt, .cpkt_len = sizeof(tv_v1_client_pkt),
		.shdr = tv_v1_server_hdr, .shdr_len = sizeof(tv_v1_server_hdr),
		.sdata = tv_v1_server_data,
		.sdata_len = sizeof(tv_v1_server_data),
		.spkt = tv_v1_server_pkt, .spkt_len = sizeof(tv_v1_server_pkt),
		.retry = tv_v1_retry, .retry_len = sizeof(tv_v1_retry),
		.chacha_pkt = tv_v1_chacha_pkt, .chacha_ku = tv_v1_chacha_ku,
		.s384_ku = tv_s384_ku,
	},
	{
		.name = "v2", .version = TQUIC_VERSION_2,
		.client_secret = tv_v2_client_secret,
		.server_secret = tv_v2_server_secret,
		.ck = tv_v2_client_key, .civ = tv_v2_client_iv,
		.chp = tv_v2_client_hp, .sk = tv_v2_server_key,
		.siv = tv_v2_server_iv, .shp = tv_v2_server_hp,
		.sample = tv_v2_sample, .mask = tv_v2_mask,
		.chdr = tv_v2_client_hdr, .chdr_len = sizeof(tv_v2_client_hdr),
		.cdata = tv_v2_client_data,
		.cdata_len = sizeof(tv_v2_client_data),
		.cpkt = tv_v2_client_pkt, .cpkt_len = sizeof(tv_v2_client_pkt),
		.shdr = tv_v2_server_hdr, .shdr_len = sizeof(tv_v2_server_hdr),
		.sdata = tv_v2_server_data,
		.sdata_len = sizeof(tv_v2_server_data),
		.spkt = tv_v2_server_pkt, .spkt_len = sizeof(tv_v2_server_pkt),
		.retry = tv_v2_retry, .retry_len = sizeof(tv_v2_retry),
		.chacha_pkt = tv_v2_chacha_pkt, .chacha_ku = tv_v2_chacha_ku,
		.s384_ku = tv_v2_s384_ku,
	},
};

static bool st_label_is(const u8 *secret, const char *label, const u8 *want,
			size_t len)
{
	u8 out[16];

	if (len > sizeof(out))
		return false;
	return !tquic_hkdf_expand_label(TQUIC_HASH_SHA256, secret, 32, label,
					NULL, 0, out, len) &&
	       st_eq(out, want, len);
}

static void st_initial_keys(struct tquic_st *st, const struct st_version_vec *v,
			    const struct tquic_keys *c,
			    const struct tquic_keys *s)
{
	const struct tquic_version_params *vp = tquic_version_params(v->version);
	u8 cs[32], ss[32], mask[TQUIC_HP_MASK_LEN];

	st_check(st, !tquic_initial_secrets(v->version, tv_dcid,
					    sizeof(tv_dcid), cs, ss) &&
		 st_eq(cs, v->client_secret, 32) &&
		 st_eq(ss, v->server_secret, 32), "initial secrets");
	st_check(st, st_label_is(cs, vp->key_label, v->ck, 16) &&
		 st_eq(c->pkt.iv, v->civ, 12) &&
		 st_label_is(cs, vp->hp_label, v->chp, 16), "client keys");
	st_check(st, st_label_is(ss, vp->key_label, v->sk, 16) &&
		 st_eq(s->pkt.iv, v->siv, 12) &&
		 st_label_is(ss, vp->hp_label, v->shp, 16), "server keys");
	st_check(st, !tquic_hp_mask(c->hp, v->sample, mask) &&
		 st_eq(mask, v->mask, sizeof(mask)), "header protection mask");
}

static void st_client_initial(struct tquic_st *st,
			      const struct st_version_vec *v,
			      const struct tquic_keys *c)
{
	struct tquic_hdr_out o = {
		.version = v->version, .type = TQUIC_PKT_INITIAL,
		.dcid = tv_dcid, .dcid_len = sizeof(tv_dcid),
		.pn = 2, .pn_len = 4, .payload_len = 1162,
	};
	struct tquic_hdr h;
	size_t hl = 0;
	int err;

	memset(st->buf, 0, ST_BUF_LEN);
	err = tquic_write_header(st->buf, ST_BUF_LEN, &o, &hl);
	st_check(st, !err && hl == v->chdr_len && st_eq(st->buf, v->chdr, hl),
		 "client initial header");
	if (err || hl != v->chdr_len)
		return;
	/* CRYPTO frame, then PADDING up to 1162 bytes. */
	memcpy(st->buf + hl, v->cdata, v->cdata_len);
	err = tquic_packet_protect(c, st->buf, hl, 4, 2, 1162, false, 0, NULL);
	st_check(st, !err && hl + 1162 + 16 == v->cpkt_len &&
		 st_eq(st->buf, v->cpkt, v->cpkt_len), "client initial packet");

	memcpy(st->buf, v->cpkt, v->cpkt_len);
	err = tquic_parse_header(st->buf, v->cpkt_len, 0, 0, &h);
	st_check(st, !err && h.type == TQUIC_PKT_INITIAL &&
		 h.version == v->version && h.len == v->cpkt_len &&
		 h.dcid_len == 8 && st_eq(h.dcid, tv_dcid, 8),
		 "client initial parse");
	if (err)
		return;
	err = tquic_packet_unprotect(c, st->buf, st->buf, &h, TQUIC_PN_NONE, false, 0);
	memset(st->buf2, 0, 1162);
	memcpy(st->buf2, v->cdata, v->cdata_len);
	st_check(st, !err && h.pn == 2 && h.pn_len == 4 &&
		 h.payload_len == 1162 &&
		 st_eq(st->buf + h.payload_offset, st->buf2, 1162),
		 "client initial unprotect");

	memcpy(st->buf, v->cpkt, v->cpkt_len);
	st->buf[600] ^= 0x01;
	tquic_parse_header(st->buf, v->cpkt_len, 0, 0, &h);
	st_check(st, tquic_packet_unprotect(c, st->buf, st->buf, &h, TQUIC_PN_NONE,
					    false, 0) == -EBADMSG,
		 "tampered initial rejected");
}

static void st_server_initial(struct tquic_st *st,
			      const struct st_version_vec *v,
			      const struct tquic_keys *s)
{
	struct tquic_hdr_out o = {
		.version = v->version, .type = TQUIC_PKT_INITIAL,
		.scid = tv_server_scid, .scid_len = sizeof(tv_server_scid),
		.pn = 1, .pn_len = 2, .payload_len = v->sdata_len,
	};
	struct tquic_hdr h;
	size_t hl = 0;
	int err;

	memset(st->buf, 0, ST_BUF_LEN);
	err = tquic_write_header(st->buf, ST_BUF_LEN, &o, &hl);
	st_check(st, !err && hl == v->shdr_len && st_eq(st->buf, v->shdr, hl),
		 "server initial header");
	if (err || hl != v->shdr_len)
		return;
	memcpy(st->buf + hl, v->sdata, v->sdata_len);
	err = tquic_packet_protect(s, st->buf, hl, 2, 1, v->sdata_len, false, 0, NULL);
	st_check(st, !err && st_eq(st->buf, v->spkt, v->spkt_len),
		 "server initial packet");

	memcpy(st->buf, v->spkt, v->spkt_len);
	err = tquic_parse_header(st->buf, v->spkt_len, 0, 0, &h);
	if (!err)
		err = tquic_packet_unprotect(s, st->buf, st->buf, &h, TQUIC_PN_NONE,
					     false, 0);
	st_check(st, !err && h.pn == 1 && h.payload_len == v->sdata_len &&
		 st_eq(st->buf + h.payload_offset, v->sdata, v->sdata_len),
		 "server initial unprotect");
}

static void st_retry(struct tquic_st *st, const struct st_version_vec *v,
		     const struct tquic_retry_keys *rk)
{
	struct tquic_retry_params p = {
		.version = v->version, .unused_bits = 0x0f,
		.odcid = tv_dcid, .odcid_len = sizeof(tv_dcid),
		.scid = tv_server_scid, .scid_len = sizeof(tv_server_scid),
		.token = tv_retry_token, .token_len = sizeof(tv_retry_token),
	};
	size_t len = 0;
	int err;

	err = tquic_retry_build(rk, &p, st->buf, ST_BUF_LEN, &len,
				TQUIC_GFP_KERNEL);
	st_check(st, !err && len == v->retry_len &&
		 st_eq(st->buf, v->retry, len), "retry build");
	memcpy(st->buf, v->retry, v->retry_len);
	st_check(st, !tquic_retry_verify(rk, st->buf, v->retry_len, tv_dcid,
					 sizeof(tv_dcid), TQUIC_GFP_KERNEL),
		 "retry verify");
	st_check(st, tquic_retry_verify(rk, st->buf, v->retry_len,
					tv_server_scid, sizeof(tv_server_scid),
					TQUIC_GFP_KERNEL) == -EBADMSG,
		 "retry wrong odcid rejected");
}

static void st_chacha(struct tquic_st *st, const struct st_version_vec *v)
{
	struct tquic_hdr_out o = {
		.type = TQUIC_PKT_1RTT, .pn = 654360564, .pn_len = 3,
		.payload_len = 1,
	};
	const struct tquic_version_params *vp = tquic_version_params(v->version);
	u8 next[32], key[32];
	struct tquic_keys k;
	struct tquic_hdr h;
	size_t hl = 0;
	int err;

	err = tquic_keys_init(&k, v->version,
			      TQUIC_SUITE_CHACHA20_POLY1305_SHA256,
			      tv_chacha_secret, sizeof(tv_chacha_secret),
			      TQUIC_GFP_KERNEL);
	st_check(st, !err, "chacha20 keys");
	if (err)
		return;
	if (v->version == TQUIC_VERSION_1)
		st_check(st, !tquic_hkdf_expand_label(TQUIC_HASH_SHA256,
						      tv_chacha_secret, 32,
						      vp->key_label, NULL, 0,
						      key, 32) &&
			 st_eq(key, tv_v1_chacha_key, 32) &&
			 st_eq(k.pkt.iv, tv_v1_chacha_iv, 12) &&
			 !tquic_hkdf_expand_label(TQUIC_HASH_SHA256,
						  tv_chacha_secret, 32,
						  vp->hp_label, NULL, 0,
						  key, 32) &&
			 st_eq(key, tv_v1_chacha_hp, 32), "chacha20 key/iv/hp");
	memset(st->buf, 0, ST_BUF_LEN);
	err = tquic_write_header(st->buf, ST_BUF_LEN, &o, &hl);
	st_check(st, !err && hl == sizeof(tv_chacha_hdr) &&
		 st_eq(st->buf, tv_chacha_hdr, hl), "chacha20 header");
	if (!err) {
		st->buf[hl] = 0x01;	/* PING */
		err = tquic_packet_protect(&k, st->buf, hl, 3, 654360564, 1,
					   false, 0, NULL);
		st_check(st, !err && st_eq(st->buf, v->chacha_pkt, 21),
			 "chacha20 short header packet");
		memcpy(st->buf, v->chacha_pkt, 21);
		err = tquic_parse_header(st->buf, 21, 0, 0, &h);
		if (!err)
			err = tquic_packet_unprotect(&k, st->buf, st->buf, &h, 654360500,
						     false, 0);
		st_check(st, !err && h.type == TQUIC_PKT_1RTT &&
			 h.pn == 654360564 && h.payload_len == 1 &&
			 st->buf[h.payload_offset] == 0x01 && h.key_phase == 0,
			 "chacha20 unprotect");
	}
	st_check(st, !tquic_next_secret(&k.pkt, next) &&
		 st_eq(next, v->chacha_ku, 32), "key update secret");
	/* Parked keys hold no crypto objects and rebuild the same ones. */
	tquic_keys_park(&k);
	st_check(st, !k.hp && !k.pkt.aead, "keys parked");
	err = tquic_keys_unpark(&k, TQUIC_GFP_KERNEL);
	if (!err) {
		err = tquic_write_header(st->buf, ST_BUF_LEN, &o, &hl);
		st->buf[hl] = 0x01;	/* PING */
	}
	if (!err)
		err = tquic_packet_protect(&k, st->buf, hl, 3, 654360564, 1,
					   false, 0, NULL);
	st_check(st, !err && st_eq(st->buf, v->chacha_pkt, 21), "keys unparked");
	tquic_keys_destroy(&k);
}

static void st_version(struct tquic_st *st, const struct st_version_vec *v,
		       const struct tquic_retry_keys *rk)
{
	struct tquic_keys c, s;
	int err;

	st->prefix = v->name;
	err = tquic_initial_keys(v->version, tv_dcid, sizeof(tv_dcid), &c, &s,
				 TQUIC_GFP_KERNEL);
	st_check(st, !err, "initial keys");
	if (!err) {
		st_initial_keys(st, v, &c, &s);
		st_client_initial(st, v, &c);
		st_server_initial(st, v, &s);
		tquic_keys_destroy(&c);
		tquic_keys_destroy(&s);
	}
	if (rk)
		st_retry(st, v, rk);
	st_chacha(st, v);
	st_key_update_384(st, v->version, v->s384_ku);
}

static void st_misc(struct tquic_st *st)
{
	static const u32 versions[] = { 0x1a2a3a4a, TQUIC_VERSION_2,
					TQUIC_VERSION_1 };
	u8 nonce[TQUIC_AEAD_NONCE_LEN], token[16];
	struct tquic_hdr h;
	struct tquic_vn vn;
	size_t len = 0, i;
	bool ok;
	int err;

	st->prefix = "misc";
	tquic_make_nonce(tv_mp_iv, 54321, true, 3, nonce);
	st_check(st, st_eq(nonce, tv_mp_nonce, sizeof(nonce)),
		 "multipath nonce");
	/* RFC 9000 A.2 and A.3. */
	st_check(st, tquic_pn_len(0xac5c02, 0xabe8b3) == 2 &&
		 tquic_pn_len(0xace8fe, 0xabe8b3) == 3 &&
		 tquic_pn_len(0, TQUIC_PN_NONE) == 1,
		 "packet number encoding");
	st_check(st, tquic_pn_decode(0xa82f30ea, 0x9b32, 2) == 0xa82f9b32 &&
		 tquic_pn_decode(TQUIC_PN_NONE, 0, 1) == 0 &&
		 tquic_pn_decode(0xff, 0x02, 1) == 0x102,
		 "packet number decoding");

	err = tquic_vn_build(st->buf, ST_BUF_LEN, 0x2a, tv_dcid,
			     sizeof(tv_dcid), tv_server_scid,
			     sizeof(tv_server_scid), versions,
			     ARRAY_SIZE(versions), &len);
	ok = !err && len == 7 + 8 + 8 + 12 && st->buf[0] == (0x80 | 0x2a);
	if (ok)
		ok = !tquic_vn_parse(st->buf, len, &vn) && vn.n_versions == 3 &&
		     tquic_vn_version(&vn, 0) == 0x1a2a3a4a &&
		     tquic_vn_lists(&vn, TQUIC_VERSION_1) &&
		     !tquic_vn_lists(&vn, 0x0a0a0a0a) && vn.dcid_len == 8 &&
		     st_eq(vn.scid, tv_server_scid, 8);
	st_check(st, ok, "version negotiation");
	st_check(st, ok && tquic_vn_parse(st->buf, len - 1, &vn) ==
		 TQUIC_ERR_PROTOCOL_VIOLATION &&
		 tquic_vn_parse(st->buf, 7 + 8 + 8, &vn) ==
		 TQUIC_ERR_PROTOCOL_VIOLATION, "version negotiation malformed");

	for (i = 0; i < sizeof(token); i++)
		token[i] = (u8)(0xa0 + i);
	memset(st->buf, 0x5c, 40);
	st->buf[0] = 0x41;
	memcpy(st->buf + 40 - 16, token, 16);
	st_check(st, tquic_is_stateless_reset(st->buf, 40, token, 1) &&
		 !tquic_is_stateless_reset(st->buf, 40, tv_hkdf_prk, 1) &&
		 !tquic_is_stateless_reset(st->buf + 20, 20, token, 1),
		 "stateless reset");

	/* Every truncation of a long header is malformed, never read past. */
	memcpy(st->buf, tv_v1_client_pkt, sizeof(tv_v1_client_pkt));
	ok = true;
	for (i = 0; i < 18 && ok; i++)
		ok = tquic_parse_header(st->buf, i, 0, 0, &h) ==
		     TQUIC_ERR_PROTOCOL_VIOLATION;
	/* Length beyond the datagram. */
	ok = ok && tquic_parse_header(st->buf, 1199, 0, 0, &h) ==
		   TQUIC_ERR_PROTOCOL_VIOLATION;
	st_check(st, ok, "truncated headers");
}

int tquic_selftest(unsigned int *checks)
{
	struct tquic_retry_keys rk;
	struct tquic_st st = { .prefix = "selftest" };
	bool have_rk;
	size_t i;

	st.buf = tquic_mem_alloc(ST_BUF_LEN, TQUIC_GFP_KERNEL);
	st.buf2 = tquic_mem_alloc(ST_BUF_LEN, TQUIC_GFP_KERNEL);
	if (!st.buf || !st.buf2) {
		tquic_mem_free(st.buf);
		tquic_mem_free(st.buf2);
		tquic_log("selftest: out of memory");
		if (checks)
			*checks = 1;
		return 1;
	}
	have_rk = !tquic_retry_keys_init(&rk, TQUIC_GFP_KERNEL);
	st_check(&st, have_rk, "retry keys");

	st_hkdf(&st);
	for (i = 0; i < ARRAY_SIZE(st_versions); i++)
		st_version(&st, &st_versions[i], have_rk ? &rk : NULL);
	st_misc(&st);

	if (have_rk)
		tquic_retry_keys_destroy(&rk);
	tquic_mem_free(st.buf);
	tquic_mem_free(st.buf2);
	if (checks)
		*checks = st.checks;
	return st.failures;
}
