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

int tquic_server_initial_crypto(const struct tquic_server_params *sp, const u8 *dgram,
				size_t len, u8 *out, size_t cap, struct tquic_crypto_extent *ext,
				u32 *n_ext, u32 max_ext, unsigned int gfp)
{
	u8 cs[TQUIC_INITIAL_SECRET_LEN], ss[TQUIC_INITIAL_SECRET_LEN];
	struct tquic_keys client = {};
	struct tquic_frame *f = NULL;
	struct tquic_cursor cur;
	struct tquic_hdr h;
	u8 *pkt;
	int ret;

	if (tquic_parse_header(dgram, len, 0, 0, &h) || h.type != TQUIC_PKT_INITIAL ||
	    h.len > len)
		return -EINVAL;
	pkt = tquic_mem_alloc(h.len, gfp);
	if (!pkt)
		return -ENOMEM;
	memcpy(pkt, dgram, h.len);
	/* Only the client's keys: the server's are not needed to read it. */
	ret = tquic_initial_secrets(sp->version, sp->dcid, sp->dcid_len, cs, ss);
	if (!ret)
		ret = tquic_keys_init(&client, sp->version, TQUIC_SUITE_AES_128_GCM_SHA256, cs,
				      sizeof(cs), gfp);
	tquic_memzero_explicit(cs, sizeof(cs));
	tquic_memzero_explicit(ss, sizeof(ss));
	if (ret)
		goto out;
	if (tquic_packet_unprotect(&client, pkt, pkt, &h, 0, false, 0)) {
		ret = -EBADMSG;
		goto out;
	}
	f = tquic_mem_alloc(sizeof(*f), gfp);
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	tquic_cursor_init(&cur, pkt + h.payload_offset, h.payload_len);
	while (cur.left) {
		u64 end;

		if (tquic_frame_decode(&cur, f, NULL)) {
			ret = -EBADMSG;
			goto out;
		}
		if (f->type != TQUIC_FT_CRYPTO || !f->u.data.len || f->u.data.offset >= cap ||
		    *n_ext >= max_ext)
			continue;
		end = tquic_min_u64(f->u.data.offset + f->u.data.len, cap);
		memcpy(out + f->u.data.offset, f->u.data.data, (size_t)(end - f->u.data.offset));
		ext[*n_ext].start = f->u.data.offset;
		ext[(*n_ext)++].end = end;
	}
out:
	tquic_mem_free(f);
	tquic_keys_destroy(&client);
	tquic_memzero_explicit(pkt, h.len);
	tquic_mem_free(pkt);
	return ret;
}

u64 tquic_crypto_prefix(const struct tquic_crypto_extent *ext, u32 n_ext)
{
	u64 prefix = 0;
	bool grew;
	u32 i;

	/* Extents come in any order: grow the prefix until none extends it. */
	do {
		grew = false;
		for (i = 0; i < n_ext; i++) {
			if (ext[i].start <= prefix && ext[i].end > prefix) {
				prefix = ext[i].end;
				grew = true;
			}
		}
	} while (grew);
	return prefix;
}

/* TLS values (RFC 8446 4, RFC 7301 3.1). */
#define TQUIC_TLS_CLIENT_HELLO		1
#define TQUIC_TLS_EXT_ALPN		16

/* Skips a vector with an @n-byte length; false when the prefix ends first. */
static bool tls_skip_vec(struct tquic_cursor *c, size_t n)
{
	const u8 *p;
	u64 l;

	return tquic_get_uint(c, n, &l) && tquic_get_bytes(c, (size_t)l, &p);
}

int tquic_client_hello_alpn(const u8 *msg, size_t len, struct tquic_cursor *list)
{
	struct tquic_cursor c, exts;
	const u8 *p, *random;
	u64 body, ext_len, type, l;
	u8 t;

	tquic_cursor_init(&c, msg, len);
	if (!tquic_get_u8(&c, &t) || !tquic_get_uint(&c, 3, &body))
		return len < 4 ? -EAGAIN : -EINVAL;
	if (t != TQUIC_TLS_CLIENT_HELLO || body < 2 + 32 + 1 + 2 + 1)
		return -EINVAL;
	/* Only the message counts: anything after it is the next one. */
	if (c.left > body)
		c.left = (size_t)body;
	/* legacy_version, random, session ID, cipher suites, compression methods. */
	if (!tquic_get_bytes(&c, 2 + 32, &random) || !tls_skip_vec(&c, 1) ||
	    !tls_skip_vec(&c, 2) || !tls_skip_vec(&c, 1))
		return len - 4 < body ? -EAGAIN : -EINVAL;
	if (!c.left)
		return len - 4 < body ? -EAGAIN : -ENOENT;
	if (!tquic_get_uint(&c, 2, &ext_len))
		return len - 4 < body ? -EAGAIN : -EINVAL;
	exts = c;
	if (exts.left > ext_len)
		exts.left = (size_t)ext_len;
	while (exts.left) {
		if (!tquic_get_uint(&exts, 2, &type) || !tquic_get_uint(&exts, 2, &l) ||
		    !tquic_get_bytes(&exts, (size_t)l, &p))
			return len - 4 < body ? -EAGAIN : -EINVAL;
		if (type != TQUIC_TLS_EXT_ALPN)
			continue;
		/* ProtocolNameList: a 2-byte length, then non-empty names. */
		tquic_cursor_init(list, p, (size_t)l);
		if (!tquic_get_uint(list, 2, &l) || l != list->left || !l)
			return -EINVAL;
		tquic_cursor_init(&c, list->p, list->left);
		while (c.left) {
			if (!tquic_get_u8(&c, &t) || !t || !tquic_get_bytes(&c, t, &p))
				return -EINVAL;
		}
		return 0;
	}
	/* The extension block ended: complete when it fit in the message. */
	if (ext_len > c.left)
		return len - 4 < body ? -EAGAIN : -EINVAL;
	return -ENOENT;
}
