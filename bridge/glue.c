// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Go-facing helpers over the engine (see glue.h). */
#include <pthread.h>
#include <stdlib.h>

#include "glue.h"
#include "proto.h"

static void tqb_from_core(const u8 *base, const struct tquic_hdr *h,
			  struct tqb_hdr *out)
{
	memset(out, 0, sizeof(*out));
	out->version = h->version;
	out->type = h->type;
	out->first = h->first;
	out->dcid_len = h->dcid_len;
	out->scid_len = h->scid_len;
	out->pn_len = h->pn_len;
	out->key_phase = h->key_phase;
	out->pn = h->pn;
	out->dcid_off = h->dcid ? (u64)(h->dcid - base) : 0;
	out->scid_off = h->scid ? (u64)(h->scid - base) : 0;
	out->token_off = h->token ? (u64)(h->token - base) : 0;
	out->token_len = h->token_len;
	out->pn_offset = h->pn_offset;
	out->len = h->len;
	out->payload_offset = h->payload_offset;
	out->payload_len = h->payload_len;
}

static void tqb_to_core(const u8 *base, const struct tqb_hdr *in,
			struct tquic_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->version = in->version;
	h->type = in->type;
	h->first = in->first;
	h->dcid_len = in->dcid_len;
	h->scid_len = in->scid_len;
	h->pn_len = in->pn_len;
	h->key_phase = in->key_phase;
	h->pn = in->pn;
	h->dcid = base + in->dcid_off;
	h->scid = base + in->scid_off;
	h->token = base + in->token_off;
	h->token_len = in->token_len;
	h->pn_offset = in->pn_offset;
	h->len = in->len;
	h->payload_offset = in->payload_offset;
	h->payload_len = in->payload_len;
}

int tqb_parse(const u8 *pkt, size_t len, size_t short_dcid_len,
	      unsigned int flags, struct tqb_hdr *out)
{
	struct tquic_hdr h;
	int err;

	err = tquic_parse_header(pkt, len, short_dcid_len, flags, &h);
	if (!err)
		tqb_from_core(pkt, &h, out);
	return err;
}

int tqb_split(const u8 *dgram, size_t len, size_t short_dcid_len,
	      unsigned int flags, struct tqb_hdr *out, size_t max, size_t *n)
{
	struct tquic_dgram_iter it;
	struct tquic_hdr h;
	size_t off;
	int err;

	*n = 0;
	tquic_dgram_iter_init(&it, dgram, len, short_dcid_len, flags);
	while ((err = tquic_dgram_next(&it, &h, &off)) == 0) {
		if (*n == max)
			return -ENOBUFS;
		/* Offsets relative to the packet, plus its datagram offset. */
		tqb_from_core(dgram + off, &h, &out[*n]);
		out[*n].off = off;
		(*n)++;
	}
	return err == -ENOENT ? 0 : err;
}

int tqb_hp_remove(struct tquic_keys *k, u8 *pkt, size_t len,
		  struct tqb_hdr *bh, u64 largest_pn)
{
	struct tquic_hdr h;
	int err;

	if (bh->len > len)
		return -EINVAL;
	tqb_to_core(pkt, bh, &h);
	err = tquic_hp_remove(k->hp, pkt, pkt, &h, largest_pn);
	if (!err)
		tqb_from_core(pkt, &h, bh);
	return err;
}

int tqb_payload_open(struct tquic_keys *k, u8 *pkt, size_t len,
		     struct tqb_hdr *bh, int multipath, u32 path_id)
{
	struct tquic_hdr h;
	int err;

	if (bh->len > len)
		return -EINVAL;
	tqb_to_core(pkt, bh, &h);
	err = tquic_payload_open(&k->pkt, pkt, pkt, &h, multipath != 0, path_id);
	tqb_from_core(pkt, &h, bh);
	return err;
}

struct tqb_keys *tqb_keys_new(u32 version, int suite, const u8 *secret,
			      size_t secret_len, int *err)
{
	struct tqb_keys *k = calloc(1, sizeof(*k));

	if (!k) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = tquic_keys_init(&k->k, version, (enum tquic_suite)suite, secret,
			       secret_len, TQUIC_GFP_KERNEL);
	if (*err) {
		free(k);
		return NULL;
	}
	k->hp_secret_len = (u8)secret_len;
	memcpy(k->hp_secret, secret, secret_len);
	return k;
}

struct tqb_keys *tqb_keys_next(const struct tqb_keys *cur, int *err)
{
	const struct tquic_aead_keys *pk = &cur->k.pkt;
	struct tqb_keys *k = calloc(1, sizeof(*k));

	if (!k) {
		*err = -ENOMEM;
		return NULL;
	}
	/* Header protection keys do not change on key update (RFC 9001 6). */
	*err = tquic_hp_key_init(&k->k.hp, pk->version, pk->suite,
				 cur->hp_secret, cur->hp_secret_len,
				 TQUIC_GFP_KERNEL);
	if (!*err) {
		*err = tquic_aead_keys_next(pk, &k->k.pkt, TQUIC_GFP_KERNEL);
		if (*err)
			tquic_hp_free(k->k.hp);
	}
	if (*err) {
		free(k);
		return NULL;
	}
	k->hp_secret_len = cur->hp_secret_len;
	memcpy(k->hp_secret, cur->hp_secret, cur->hp_secret_len);
	return k;
}

void tqb_keys_free(struct tqb_keys *k)
{
	if (!k)
		return;
	tquic_keys_destroy(&k->k);
	tquic_memzero_explicit(k, sizeof(*k));
	free(k);
}

static struct tquic_retry_keys tqb_retry_keys;
static int tqb_retry_err;
static pthread_once_t tqb_retry_once = PTHREAD_ONCE_INIT;

static void tqb_retry_init(void)
{
	tqb_retry_err = tquic_retry_keys_init(&tqb_retry_keys, TQUIC_GFP_KERNEL);
}

int tqb_retry_build(u32 version, u8 unused, const u8 *odcid, size_t odcid_len,
		    const u8 *dcid, size_t dcid_len, const u8 *scid,
		    size_t scid_len, const u8 *token, size_t token_len,
		    u8 *buf, size_t cap, size_t *out_len)
{
	struct tquic_retry_params p = {
		.version = version,
		.unused_bits = unused,
		.odcid = odcid,
		.dcid = dcid,
		.scid = scid,
		.token = token,
		.token_len = token_len,
	};

	pthread_once(&tqb_retry_once, tqb_retry_init);
	if (tqb_retry_err)
		return tqb_retry_err;
	if (odcid_len > 255 || dcid_len > 255 || scid_len > 255)
		return -EINVAL;
	p.odcid_len = (u8)odcid_len;
	p.dcid_len = (u8)dcid_len;
	p.scid_len = (u8)scid_len;
	return tquic_retry_build(&tqb_retry_keys, &p, buf, cap, out_len,
				 TQUIC_GFP_KERNEL);
}

int tqb_retry_verify(const u8 *pkt, size_t len, const u8 *odcid,
		     size_t odcid_len)
{
	pthread_once(&tqb_retry_once, tqb_retry_init);
	if (tqb_retry_err)
		return tqb_retry_err;
	return tquic_retry_verify(&tqb_retry_keys, pkt, len, odcid, odcid_len,
				  TQUIC_GFP_KERNEL);
}

#define TQB_BENCH_DCID_LEN 8

int tqb_bench_packet(struct tquic_keys *k, u8 *buf, size_t len, u64 iters)
{
	static const u8 dcid[TQB_BENCH_DCID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct tquic_hdr_out o = {
		.type = TQUIC_PKT_1RTT,
		.dcid = dcid,
		.dcid_len = TQB_BENCH_DCID_LEN,
		.pn_len = 4,
	};
	struct tquic_hdr h;
	size_t hdr_len;
	u64 i, pn;
	int err;

	for (i = 0; i < iters; i++) {
		pn = 1000 + i;
		o.pn = pn;
		err = tquic_write_header(buf, len, &o, &hdr_len);
		if (err)
			return err;
		if (hdr_len + TQUIC_AEAD_TAG_LEN > len)
			return -ENOBUFS;
		err = tquic_packet_protect(k, buf, hdr_len, o.pn_len, pn,
					   len - hdr_len - TQUIC_AEAD_TAG_LEN,
					   false, 0, NULL);
		if (err)
			return err;
		err = tquic_parse_header(buf, len, TQB_BENCH_DCID_LEN, 0, &h);
		if (!err)
			err = tquic_packet_unprotect(k, buf, buf, &h, pn - 1, false, 0);
		if (err)
			return err;
		if (h.pn != pn)
			return -EIO;
	}
	return 0;
}

int tqb_bench_raw(struct tquic_keys *k, u8 *buf, size_t len, u64 iters)
{
	const size_t hdr_len = 1 + TQB_BENCH_DCID_LEN + 4;
	u8 nonce[TQUIC_AEAD_NONCE_LEN];
	u64 i;
	int err;

	if (len < hdr_len + TQUIC_AEAD_TAG_LEN)
		return -ENOBUFS;
	for (i = 0; i < iters; i++) {
		tquic_make_nonce(k->pkt.iv, 1000 + i, false, 0, nonce);
		err = tquic_aead_seal(k->pkt.aead, nonce, buf, hdr_len,
				      buf + hdr_len, buf + hdr_len,
				      len - hdr_len - TQUIC_AEAD_TAG_LEN, NULL);
		if (!err)
			err = tquic_aead_open(k->pkt.aead, nonce, buf, hdr_len,
					      buf + hdr_len, buf + hdr_len,
					      len - hdr_len);
		if (err)
			return err;
	}
	return 0;
}
