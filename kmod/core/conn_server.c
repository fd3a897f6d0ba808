// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Stateless server helpers: classifying datagrams for unknown connection
 * IDs, Version Negotiation, Retry and NEW_TOKEN tokens, Retry packets and
 * stateless resets (RFC 9000 sections 5.2.2, 6, 8.1 and 10.3).
 */
#include "conn_internal.h"

#define TOKEN_RETRY		0x52
#define TOKEN_NEW		0x4e
#define TOKEN_MAC_LEN		16
#define TOKEN_HDR_LEN		9	/* type, time (8) */

static bool spoken(const struct tquic_conn_config *cfg, u32 v)
{
	return tquic_conn_version_spoken(cfg, v) && tquic_version_supported(v);
}

enum tquic_server_action tquic_server_classify(const struct tquic_conn_config *cfg,
					       const u8 *dgram, size_t len,
					       struct tquic_server_params *sp,
					       const u8 **token, size_t *token_len)
{
	struct tquic_hdr h;
	u32 version;

	memset(sp, 0, sizeof(*sp));
	*token = NULL;
	*token_len = 0;
	if (len < 1)
		return TQUIC_SERVER_DROP;
	if (!(dgram[0] & 0x80))
		return len >= TQUIC_STATELESS_RESET_MIN_LEN + 1 && len > (size_t)cfg->cid_len + 1 ?
		       TQUIC_SERVER_STATELESS_RESET : TQUIC_SERVER_DROP;
	if (len < 7)
		return TQUIC_SERVER_DROP;
	version = ((u32)dgram[1] << 24) | ((u32)dgram[2] << 16) | ((u32)dgram[3] << 8) | dgram[4];
	if (!version)
		return TQUIC_SERVER_DROP;
	if (!spoken(cfg, version))
		return len >= TQUIC_MIN_INITIAL_SIZE ? TQUIC_SERVER_VERSION_NEGOTIATE :
		       TQUIC_SERVER_DROP;
	if (len < TQUIC_MIN_INITIAL_SIZE)
		return TQUIC_SERVER_DROP;
	if (tquic_parse_header(dgram, len, cfg->cid_len, 0, &h) ||
	    h.type != TQUIC_PKT_INITIAL || h.dcid_len < 8)
		return TQUIC_SERVER_DROP;
	sp->version = version;
	sp->dcid = h.dcid;
	sp->dcid_len = h.dcid_len;
	sp->odcid = h.dcid;
	sp->odcid_len = h.dcid_len;
	sp->scid = h.scid;
	sp->scid_len = h.scid_len;
	*token = h.token;
	*token_len = h.token_len;
	return TQUIC_SERVER_ACCEPT;
}

long tquic_vn_reply(const struct tquic_conn_config *cfg, const u8 *dgram,
		    size_t len, u8 *buf, size_t cap)
{
	const u8 *dcid, *scid;
	u8 dlen, slen, r;
	size_t out;
	int err;

	if (len < 7 || !(dgram[0] & 0x80))
		return -EINVAL;
	dlen = dgram[5];
	if ((size_t)6 + dlen + 1 > len)
		return -EINVAL;
	dcid = dgram + 6;
	slen = dgram[6 + dlen];
	if ((size_t)7 + dlen + slen > len)
		return -EINVAL;
	scid = dgram + 7 + dlen;
	tquic_random_bytes(&r, 1);
	err = tquic_vn_build(buf, cap, r, scid, slen, dcid, dlen, cfg->versions,
			     cfg->n_versions, &out);
	return err ? err : (long)out;
}

static int token_mac(const u8 *key, const u8 *body, size_t body_len,
		     const struct tquic_addr *peer, u8 *mac)
{
	struct tquic_iov iov[2];
	struct tquic_addr a = *peer;
	u8 full[32];
	int err;

	/* NEW_TOKEN tokens serve later connections, from other ports. */
	if (body[0] == TOKEN_NEW)
		a.port = 0;
	a.reserved = 0;
	iov[0].base = body;
	iov[0].len = body_len;
	iov[1].base = &a;
	iov[1].len = sizeof(a);
	err = tquic_hmac(TQUIC_HASH_SHA256, key, TQUIC_RESET_KEY_LEN, iov, 2, full);
	if (!err)
		memcpy(mac, full, TOKEN_MAC_LEN);
	tquic_memzero_explicit(full, sizeof(full));
	return err;
}

long tquic_token_make(const u8 *key, bool retry, const struct tquic_addr *peer,
		      const u8 *odcid, u8 odcid_len, u64 now, u8 *buf, size_t cap)
{
	size_t len = TOKEN_HDR_LEN + (retry ? 1 + (size_t)odcid_len : 0);
	struct tquic_wbuf w;
	int err;

	if (odcid_len > TQUIC_MAX_CID_LEN)
		return -EINVAL;
	if (cap < len + TOKEN_MAC_LEN)
		return -ENOBUFS;
	tquic_wbuf_init(&w, buf, cap);
	tquic_put_u8(&w, retry ? TOKEN_RETRY : TOKEN_NEW);
	tquic_put_uint(&w, 8, now);
	if (retry) {
		tquic_put_u8(&w, odcid_len);
		tquic_put_bytes(&w, odcid, odcid_len);
	}
	err = token_mac(key, buf, len, peer, buf + len);
	return err ? err : (long)(len + TOKEN_MAC_LEN);
}

int tquic_token_check(const u8 *key, const struct tquic_addr *peer,
		      const u8 *token, size_t len, u64 now, u64 lifetime,
		      u8 *odcid, u8 *odcid_len)
{
	u8 mac[TOKEN_MAC_LEN];
	size_t body;
	u64 t = 0;
	u32 i;

	if (len < TOKEN_HDR_LEN + TOKEN_MAC_LEN)
		return -EBADMSG;
	body = len - TOKEN_MAC_LEN;
	if (token[0] == TOKEN_RETRY) {
		if (body < TOKEN_HDR_LEN + 1 || token[TOKEN_HDR_LEN] > TQUIC_MAX_CID_LEN ||
		    body != (size_t)TOKEN_HDR_LEN + 1 + token[TOKEN_HDR_LEN])
			return -EBADMSG;
	} else if (token[0] != TOKEN_NEW || body != TOKEN_HDR_LEN) {
		return -EBADMSG;
	}
	if (token_mac(key, token, body, peer, mac) ||
	    tquic_memcmp_ct(mac, token + body, TOKEN_MAC_LEN))
		return -EBADMSG;
	for (i = 1; i < TOKEN_HDR_LEN; i++)
		t = (t << 8) | token[i];
	if (t > now + TQUIC_NSEC_PER_SEC || now - t > lifetime)
		return -EBADMSG;
	if (token[0] == TOKEN_NEW)
		return 1;
	*odcid_len = token[TOKEN_HDR_LEN];
	memcpy(odcid, token + TOKEN_HDR_LEN + 1, *odcid_len);
	return 0;
}

long tquic_retry_reply(const struct tquic_server_params *sp, const u8 *new_scid,
		       u8 new_scid_len, const u8 *token, size_t token_len,
		       u8 *buf, size_t cap, unsigned int gfp)
{
	struct tquic_retry_params rp;
	struct tquic_retry_keys rk;
	size_t out;
	u8 r;
	int err;

	if (tquic_retry_keys_init(&rk, gfp))
		return -ENOMEM;
	tquic_random_bytes(&r, 1);
	memset(&rp, 0, sizeof(rp));
	rp.version = sp->version;
	rp.unused_bits = r & 0x0f;
	rp.odcid = sp->dcid;
	rp.odcid_len = sp->dcid_len;
	rp.dcid = sp->scid;
	rp.dcid_len = sp->scid_len;
	rp.scid = new_scid;
	rp.scid_len = new_scid_len;
	rp.token = token;
	rp.token_len = token_len;
	err = tquic_retry_build(&rk, &rp, buf, cap, &out, gfp);
	tquic_retry_keys_destroy(&rk);
	return err ? err : (long)out;
}

int tquic_reset_token(const u8 *key, const u8 *cid, size_t cid_len, u8 *token)
{
	return tquic_cid_reset_token(key, TQUIC_RESET_KEY_LEN, cid, cid_len, token);
}

long tquic_stateless_reset_build(const u8 *key, const u8 *cid, size_t cid_len,
				 size_t trigger_len, u8 *buf, size_t cap)
{
	size_t len;
	int err;

	/* Smaller than the trigger, so two endpoints cannot loop (RFC 9000 10.3.3). */
	if (trigger_len <= TQUIC_STATELESS_RESET_MIN_LEN + 1)
		return 0;
	len = trigger_len - 1;
	if (len > 43)
		len = 43;
	if (len > cap)
		return -ENOBUFS;
	tquic_random_bytes(buf, len - TQUIC_STATELESS_RESET_TOKEN_LEN);
	buf[0] = (u8)((buf[0] & 0x3f) | 0x40);
	err = tquic_reset_token(key, cid, cid_len, buf + len - TQUIC_STATELESS_RESET_TOKEN_LEN);
	return err ? err : (long)len;
}
