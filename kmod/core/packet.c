// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC packet headers, packet numbers, packet protection, Retry, Version
 * Negotiation and stateless reset detection.
 */
#include "packet.h"
#include "proto.h"
#include "varint.h"

#define TQUIC_FORM_LONG		0x80
#define TQUIC_FIXED_BIT		0x40
#define TQUIC_SHORT_SPIN	0x20
#define TQUIC_SHORT_KEY_PHASE	0x04
#define TQUIC_LONG_RESERVED	0x0c
#define TQUIC_SHORT_RESERVED	0x18

/* Largest Length field the writer emits in two bytes. */
#define TQUIC_VARINT2_MAX	16383

/* tquic_put_bytes() for optional fields: @p may be NULL when @n is 0. */
static bool tquic_put_opt(struct tquic_wbuf *w, const u8 *p, size_t n)
{
	return !n || tquic_put_bytes(w, p, n);
}

static u32 tquic_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

int tquic_long_type_bits(u32 version, enum tquic_pkt_type type, u8 *bits)
{
	/* RFC 9000 17.2 and RFC 9369 3.2. */
	static const u8 v1[] = {
		[TQUIC_PKT_INITIAL] = 0, [TQUIC_PKT_0RTT] = 1,
		[TQUIC_PKT_HANDSHAKE] = 2, [TQUIC_PKT_RETRY] = 3,
	};
	static const u8 v2[] = {
		[TQUIC_PKT_INITIAL] = 1, [TQUIC_PKT_0RTT] = 2,
		[TQUIC_PKT_HANDSHAKE] = 3, [TQUIC_PKT_RETRY] = 0,
	};

	if (type < TQUIC_PKT_INITIAL || type > TQUIC_PKT_RETRY)
		return -EINVAL;
	switch (version) {
	case TQUIC_VERSION_1:
		*bits = v1[type];
		return 0;
	case TQUIC_VERSION_2:
		*bits = v2[type];
		return 0;
	}
	return -EPROTONOSUPPORT;
}

static u8 tquic_long_type(u32 version, u8 bits)
{
	static const u8 v1[4] = {
		TQUIC_PKT_INITIAL, TQUIC_PKT_0RTT, TQUIC_PKT_HANDSHAKE,
		TQUIC_PKT_RETRY,
	};
	static const u8 v2[4] = {
		TQUIC_PKT_RETRY, TQUIC_PKT_INITIAL, TQUIC_PKT_0RTT,
		TQUIC_PKT_HANDSHAKE,
	};

	return version == TQUIC_VERSION_2 ? v2[bits & 3] : v1[bits & 3];
}

/* Reads a length-prefixed connection ID of at most @max bytes. */
static bool tquic_get_cid(struct tquic_cursor *c, size_t max, const u8 **cid,
			  u8 *cid_len)
{
	u8 n;

	if (!tquic_get_u8(c, &n) || n > max)
		return false;
	*cid_len = n;
	return tquic_get_bytes(c, n, cid);
}

static int tquic_parse_short(const u8 *pkt, size_t len, size_t dcid_len,
			     struct tquic_hdr *h)
{
	if (dcid_len > TQUIC_MAX_CID_LEN)
		return -EINVAL;
	if (len < 1 + dcid_len)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	h->type = TQUIC_PKT_1RTT;
	h->dcid = pkt + 1;
	h->dcid_len = (u8)dcid_len;
	h->pn_offset = 1 + dcid_len;
	h->len = len;
	return 0;
}

int tquic_parse_header(const u8 *pkt, size_t len, size_t short_dcid_len,
		       unsigned int flags, struct tquic_hdr *h)
{
	struct tquic_cursor c;
	u64 v;
	u8 first;

	memset(h, 0, sizeof(*h));
	tquic_cursor_init(&c, pkt, len);
	if (!tquic_get_u8(&c, &first))
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	h->first = first;
	if (!(first & TQUIC_FORM_LONG)) {
		if (!(first & TQUIC_FIXED_BIT) &&
		    !(flags & TQUIC_PARSE_GREASE_QUIC_BIT))
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		return tquic_parse_short(pkt, len, short_dcid_len, h);
	}
	if (!tquic_get_uint(&c, 4, &v))
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	h->version = (u32)v;
	if (!tquic_version_supported(h->version)) {
		/* Invariants only (RFC 8999): CIDs up to 255 bytes. */
		if (!tquic_get_cid(&c, 255, &h->dcid, &h->dcid_len) ||
		    !tquic_get_cid(&c, 255, &h->scid, &h->scid_len))
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		h->type = h->version ? TQUIC_PKT_UNKNOWN_VERSION : TQUIC_PKT_VN;
		h->len = len;
		return 0;
	}
	if (!(first & TQUIC_FIXED_BIT) && !(flags & TQUIC_PARSE_GREASE_QUIC_BIT))
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	if (!tquic_get_cid(&c, TQUIC_MAX_CID_LEN, &h->dcid, &h->dcid_len) ||
	    !tquic_get_cid(&c, TQUIC_MAX_CID_LEN, &h->scid, &h->scid_len))
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	h->type = tquic_long_type(h->version, first >> 4);
	if (h->type == TQUIC_PKT_RETRY) {
		if (c.left < TQUIC_RETRY_TAG_LEN)
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		h->token = c.p;
		h->token_len = c.left - TQUIC_RETRY_TAG_LEN;
		h->len = len;
		return 0;
	}
	if (h->type == TQUIC_PKT_INITIAL) {
		if (!tquic_get_varint(&c, &v) || v > c.left ||
		    !tquic_get_bytes(&c, (size_t)v, &h->token))
			return TQUIC_ERR_PROTOCOL_VIOLATION;
		h->token_len = (size_t)v;
	}
	if (!tquic_get_varint(&c, &v) || v > c.left)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	h->pn_offset = len - c.left;
	h->len = h->pn_offset + (size_t)v;
	return 0;
}

void tquic_dgram_iter_init(struct tquic_dgram_iter *it, const u8 *dgram,
			   size_t len, size_t short_dcid_len,
			   unsigned int flags)
{
	it->dgram = dgram;
	it->len = len;
	it->off = 0;
	it->short_dcid_len = short_dcid_len;
	it->flags = flags;
}

int tquic_dgram_next(struct tquic_dgram_iter *it, struct tquic_hdr *h,
		     size_t *off)
{
	int err;

	if (it->off >= it->len)
		return -ENOENT;
	err = tquic_parse_header(it->dgram + it->off, it->len - it->off,
				 it->short_dcid_len, it->flags, h);
	if (err) {
		it->off = it->len;
		return err;
	}
	*off = it->off;
	it->off += h->len;
	return 0;
}

u8 tquic_pn_len(u64 pn, u64 largest_acked)
{
	u64 unacked;
	u8 n;

	if (largest_acked == TQUIC_PN_NONE || largest_acked >= pn)
		unacked = pn + 1;
	else
		unacked = pn - largest_acked;
	/* A range more than twice the number of unacknowledged packets. */
	for (n = 1; n < 4; n++)
		if (unacked < (1ULL << (8 * n - 1)))
			return n;
	return 4;
}

u64 tquic_pn_decode(u64 largest_pn, u64 truncated, u8 pn_len)
{
	u64 expected = largest_pn == TQUIC_PN_NONE ? 0 : largest_pn + 1;
	u64 win, hwin, mask, cand;

	if (pn_len < 1 || pn_len > 4)
		return TQUIC_PN_NONE;
	win = 1ULL << (8 * pn_len);
	hwin = win / 2;
	mask = win - 1;
	cand = (expected & ~mask) | (truncated & mask);
	if (cand + hwin <= expected && cand < (1ULL << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}

int tquic_write_header(u8 *buf, size_t cap, const struct tquic_hdr_out *o,
		       size_t *hdr_len)
{
	struct tquic_wbuf w;
	size_t length;
	u8 bits, first;
	int err;

	if (o->pn_len < 1 || o->pn_len > 4 || o->pn > TQUIC_PN_MAX ||
	    o->dcid_len > TQUIC_MAX_CID_LEN || o->scid_len > TQUIC_MAX_CID_LEN)
		return -EINVAL;
	tquic_wbuf_init(&w, buf, cap);
	if (o->type == TQUIC_PKT_1RTT) {
		first = TQUIC_FIXED_BIT | (u8)(o->pn_len - 1);
		if (o->spin)
			first |= TQUIC_SHORT_SPIN;
		if (o->key_phase)
			first |= TQUIC_SHORT_KEY_PHASE;
		if (!tquic_put_u8(&w, first) ||
		    !tquic_put_opt(&w, o->dcid, o->dcid_len))
			return -ENOBUFS;
		goto pn;
	}
	if (o->type != TQUIC_PKT_INITIAL && o->type != TQUIC_PKT_0RTT &&
	    o->type != TQUIC_PKT_HANDSHAKE)
		return -EINVAL;
	if (o->token_len && o->type != TQUIC_PKT_INITIAL)
		return -EINVAL;
	err = tquic_long_type_bits(o->version, o->type, &bits);
	if (err)
		return err;
	if (o->payload_len > TQUIC_VARINT_MAX - 4 - TQUIC_AEAD_TAG_LEN)
		return -EINVAL;
	length = o->pn_len + o->payload_len + TQUIC_AEAD_TAG_LEN;
	first = TQUIC_FORM_LONG | TQUIC_FIXED_BIT | (u8)(bits << 4) |
		(u8)(o->pn_len - 1);
	if (!tquic_put_u8(&w, first) || !tquic_put_uint(&w, 4, o->version) ||
	    !tquic_put_u8(&w, o->dcid_len) ||
	    !tquic_put_opt(&w, o->dcid, o->dcid_len) ||
	    !tquic_put_u8(&w, o->scid_len) ||
	    !tquic_put_opt(&w, o->scid, o->scid_len))
		return -ENOBUFS;
	if (o->type == TQUIC_PKT_INITIAL &&
	    (!tquic_put_varint(&w, o->token_len) ||
	     !tquic_put_opt(&w, o->token, o->token_len)))
		return -ENOBUFS;
	if (!tquic_put_varint_n(&w, length <= TQUIC_VARINT2_MAX ? 2 :
				tquic_varint_len(length), length))
		return -ENOBUFS;
pn:
	if (!tquic_put_uint(&w, o->pn_len, o->pn))
		return -ENOBUFS;
	*hdr_len = cap - w.left;
	return 0;
}

/* Masks (or unmasks) the first byte and @pn_len packet number bytes. */
static void tquic_apply_mask(u8 *pkt, size_t pn_offset, u8 pn_len,
			     const u8 *mask)
{
	u8 i;

	pkt[0] ^= mask[0] & ((pkt[0] & TQUIC_FORM_LONG) ? 0x0f : 0x1f);
	for (i = 0; i < pn_len; i++)
		pkt[pn_offset + i] ^= mask[1 + i];
}

int tquic_packet_protect(const struct tquic_keys *k, u8 *pkt, size_t hdr_len,
			 u8 pn_len, u64 pn, size_t payload_len,
			 bool multipath, u32 path_id, const struct tquic_aead_gather *g)
{
	u8 nonce[TQUIC_AEAD_NONCE_LEN], mask[TQUIC_HP_MASK_LEN];
	size_t pn_offset, total;
	int err;

	if (pn_len < 1 || pn_len > 4 || hdr_len < 1u + pn_len ||
	    pn > TQUIC_PN_MAX || !k->hp || !k->pkt.aead)
		return -EINVAL;
	pn_offset = hdr_len - pn_len;
	total = hdr_len + payload_len + TQUIC_AEAD_TAG_LEN;
	/* The sample starts 4 bytes after the packet number (RFC 9001 5.4.2). */
	if (pn_offset + 4 + TQUIC_HP_SAMPLE_LEN > total)
		return -EINVAL;
	/* The multipath nonce applies to 1-RTT (short header) packets. */
	if (pkt[0] & TQUIC_FORM_LONG)
		multipath = false;
	tquic_make_nonce(k->pkt.iv, pn, multipath, path_id, nonce);
	err = tquic_aead_seal(k->pkt.aead, nonce, pkt, hdr_len, pkt + hdr_len,
			      pkt + hdr_len, payload_len, g);
	if (err)
		return err;
	err = tquic_hp_mask(k->hp, pkt + pn_offset + 4, mask);
	if (err)
		return err;
	tquic_apply_mask(pkt, pn_offset, pn_len, mask);
	return 0;
}

int tquic_hp_remove(struct tquic_hp *hp, u8 *pkt, const u8 *src,
		    struct tquic_hdr *h, u64 largest_pn)
{
	u8 mask[TQUIC_HP_MASK_LEN];
	u64 truncated = 0;
	u8 i;
	int err;

	if (h->type != TQUIC_PKT_INITIAL && h->type != TQUIC_PKT_0RTT &&
	    h->type != TQUIC_PKT_HANDSHAKE && h->type != TQUIC_PKT_1RTT)
		return -EINVAL;
	/* Room for the sample; this also covers a 4-byte PN and the tag. */
	if (h->pn_offset + 4 + TQUIC_HP_SAMPLE_LEN > h->len)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	err = tquic_hp_mask(hp, src + h->pn_offset + 4, mask);
	if (err)
		return err;
	if (pkt != src)
		memcpy(pkt, src, h->pn_offset + 4);
	pkt[0] ^= mask[0] & ((pkt[0] & TQUIC_FORM_LONG) ? 0x0f : 0x1f);
	h->first = pkt[0];
	h->pn_len = (u8)((pkt[0] & 0x03) + 1);
	for (i = 0; i < h->pn_len; i++) {
		pkt[h->pn_offset + i] ^= mask[1 + i];
		truncated = truncated << 8 | pkt[h->pn_offset + i];
	}
	h->pn = tquic_pn_decode(largest_pn, truncated, h->pn_len);
	h->key_phase = h->type == TQUIC_PKT_1RTT ?
		       !!(pkt[0] & TQUIC_SHORT_KEY_PHASE) : 0;
	h->payload_offset = h->pn_offset + h->pn_len;
	return 0;
}

int tquic_payload_open(const struct tquic_aead_keys *k, u8 *pkt, const u8 *src,
		       struct tquic_hdr *h, bool multipath, u32 path_id)
{
	u8 nonce[TQUIC_AEAD_NONCE_LEN];
	size_t ct_len;
	u8 reserved;
	int err;

	if (!h->pn_len || !k->aead || h->payload_offset > h->len)
		return -EINVAL;
	ct_len = h->len - h->payload_offset;
	if (ct_len < TQUIC_AEAD_TAG_LEN)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	if (h->type != TQUIC_PKT_1RTT)
		multipath = false;
	tquic_make_nonce(k->iv, h->pn, multipath, path_id, nonce);
	err = tquic_aead_open(k->aead, nonce, pkt, h->payload_offset,
			      src + h->payload_offset, pkt + h->payload_offset,
			      ct_len);
	if (err)
		return err;
	h->payload_len = ct_len - TQUIC_AEAD_TAG_LEN;
	/* Checked only once the packet is authenticated (RFC 9000 17.2). */
	reserved = h->type == TQUIC_PKT_1RTT ? TQUIC_SHORT_RESERVED :
					       TQUIC_LONG_RESERVED;
	if (h->first & reserved)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	/* A packet without frames (RFC 9000 12.4). */
	if (!h->payload_len)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	return 0;
}

int tquic_packet_unprotect(const struct tquic_keys *k, u8 *pkt, const u8 *src,
			   struct tquic_hdr *h, u64 largest_pn,
			   bool multipath, u32 path_id)
{
	int err;

	if (!k->hp)
		return -EINVAL;
	err = tquic_hp_remove(k->hp, pkt, src, h, largest_pn);
	if (err)
		return err;
	return tquic_payload_open(&k->pkt, pkt, src, h, multipath, path_id);
}

/*
 * Retry integrity tag: AES-128-GCM with an empty plaintext over the pseudo
 * packet ODCID Length || ODCID || Retry packet without the tag.  The pseudo
 * packet is built in host heap memory (the kernel host builds scatterlists).
 */
static int tquic_retry_tag(struct tquic_aead *aead, u32 version,
			   const u8 *odcid, size_t odcid_len, const u8 *pkt,
			   size_t len, u8 *tag, unsigned int gfp)
{
	const struct tquic_version_params *vp = tquic_version_params(version);
	size_t aad_len = 1 + odcid_len + len;
	u8 *buf;
	int err;

	if (!vp || !aead)
		return -EPROTONOSUPPORT;
	buf = tquic_mem_alloc(aad_len + TQUIC_RETRY_TAG_LEN, gfp);
	if (!buf)
		return -ENOMEM;
	buf[0] = (u8)odcid_len;
	if (odcid_len)
		memcpy(buf + 1, odcid, odcid_len);
	memcpy(buf + 1 + odcid_len, pkt, len);
	err = tquic_aead_seal(aead, vp->retry_nonce, buf, aad_len,
			      buf + aad_len, buf + aad_len, 0, NULL);
	if (!err)
		memcpy(tag, buf + aad_len, TQUIC_RETRY_TAG_LEN);
	tquic_mem_free(buf);
	return err;
}

int tquic_retry_build(const struct tquic_retry_keys *rk,
		      const struct tquic_retry_params *p, u8 *buf, size_t cap,
		      size_t *out_len, unsigned int gfp)
{
	struct tquic_wbuf w;
	u8 bits;
	int err;

	if (p->odcid_len > TQUIC_MAX_CID_LEN || p->dcid_len > TQUIC_MAX_CID_LEN ||
	    p->scid_len > TQUIC_MAX_CID_LEN || !p->token_len)
		return -EINVAL;
	err = tquic_long_type_bits(p->version, TQUIC_PKT_RETRY, &bits);
	if (err)
		return err;
	tquic_wbuf_init(&w, buf, cap);
	if (!tquic_put_u8(&w, TQUIC_FORM_LONG | TQUIC_FIXED_BIT |
			  (u8)(bits << 4) | (p->unused_bits & 0x0f)) ||
	    !tquic_put_uint(&w, 4, p->version) ||
	    !tquic_put_u8(&w, p->dcid_len) ||
	    !tquic_put_opt(&w, p->dcid, p->dcid_len) ||
	    !tquic_put_u8(&w, p->scid_len) ||
	    !tquic_put_opt(&w, p->scid, p->scid_len) ||
	    !tquic_put_opt(&w, p->token, p->token_len) ||
	    w.left < TQUIC_RETRY_TAG_LEN)
		return -ENOBUFS;
	err = tquic_retry_tag(tquic_retry_aead(rk, p->version), p->version,
			      p->odcid, p->odcid_len, buf, cap - w.left, w.p,
			      gfp);
	if (err)
		return err;
	*out_len = cap - w.left + TQUIC_RETRY_TAG_LEN;
	return 0;
}

int tquic_retry_verify(const struct tquic_retry_keys *rk, const u8 *pkt,
		       size_t len, const u8 *odcid, size_t odcid_len,
		       unsigned int gfp)
{
	u8 tag[TQUIC_RETRY_TAG_LEN];
	struct tquic_hdr h;
	int err;

	if (odcid_len > TQUIC_MAX_CID_LEN)
		return -EINVAL;
	err = tquic_parse_header(pkt, len, 0, 0, &h);
	if (err)
		return err;
	if (h.type != TQUIC_PKT_RETRY || !h.token_len)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	err = tquic_retry_tag(tquic_retry_aead(rk, h.version), h.version,
			      odcid, odcid_len, pkt, len - TQUIC_RETRY_TAG_LEN,
			      tag, gfp);
	if (err)
		return err;
	if (tquic_memcmp_ct(tag, pkt + len - TQUIC_RETRY_TAG_LEN,
			    TQUIC_RETRY_TAG_LEN))
		return -EBADMSG;
	return 0;
}

int tquic_vn_build(u8 *buf, size_t cap, u8 unused_bits, const u8 *dcid,
		   size_t dcid_len, const u8 *scid, size_t scid_len,
		   const u32 *versions, size_t n_versions, size_t *out_len)
{
	struct tquic_wbuf w;
	size_t i;

	if (dcid_len > 255 || scid_len > 255 || !n_versions)
		return -EINVAL;
	tquic_wbuf_init(&w, buf, cap);
	if (!tquic_put_u8(&w, TQUIC_FORM_LONG | (unused_bits & 0x7f)) ||
	    !tquic_put_uint(&w, 4, 0) ||
	    !tquic_put_u8(&w, (u8)dcid_len) ||
	    !tquic_put_opt(&w, dcid, dcid_len) ||
	    !tquic_put_u8(&w, (u8)scid_len) ||
	    !tquic_put_opt(&w, scid, scid_len))
		return -ENOBUFS;
	for (i = 0; i < n_versions; i++)
		if (!tquic_put_uint(&w, 4, versions[i]))
			return -ENOBUFS;
	*out_len = cap - w.left;
	return 0;
}

int tquic_vn_parse(const u8 *pkt, size_t len, struct tquic_vn *vn)
{
	struct tquic_cursor c;
	u64 version;
	u8 first;

	memset(vn, 0, sizeof(*vn));
	tquic_cursor_init(&c, pkt, len);
	if (!tquic_get_u8(&c, &first) || !(first & TQUIC_FORM_LONG) ||
	    !tquic_get_uint(&c, 4, &version) || version != 0 ||
	    !tquic_get_cid(&c, 255, &vn->dcid, &vn->dcid_len) ||
	    !tquic_get_cid(&c, 255, &vn->scid, &vn->scid_len))
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	/* A non-empty list of whole 32-bit versions. */
	if (!c.left || c.left % 4)
		return TQUIC_ERR_PROTOCOL_VIOLATION;
	vn->versions = c.p;
	vn->n_versions = c.left / 4;
	return 0;
}

u32 tquic_vn_version(const struct tquic_vn *vn, size_t i)
{
	if (i >= vn->n_versions)
		return 0;
	return tquic_be32(vn->versions + 4 * i);
}

bool tquic_vn_lists(const struct tquic_vn *vn, u32 version)
{
	size_t i;

	for (i = 0; i < vn->n_versions; i++)
		if (tquic_be32(vn->versions + 4 * i) == version)
			return true;
	return false;
}

bool tquic_is_stateless_reset(const u8 *dgram, size_t len, const u8 *tokens,
			      size_t n)
{
	const u8 *tail;
	bool found = false;
	size_t i;

	/* It looks like a short header packet of at least 21 bytes. */
	if (len < TQUIC_STATELESS_RESET_MIN_LEN || (dgram[0] & TQUIC_FORM_LONG))
		return false;
	tail = dgram + len - TQUIC_STATELESS_RESET_TOKEN_LEN;
	/* Every token is compared in full: no early exit on a match. */
	for (i = 0; i < n; i++)
		found |= !tquic_memcmp_ct(tail,
					  tokens + i * TQUIC_STATELESS_RESET_TOKEN_LEN,
					  TQUIC_STATELESS_RESET_TOKEN_LEN);
	return found;
}

