/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Helpers between Go and the engine.  Go memory handed to C must not hold Go
 * pointers, so headers cross the boundary as offsets (struct tqb_hdr) and
 * are turned back into struct tquic_hdr on the C side.
 */
#ifndef _TQUIC_BRIDGE_GLUE_H
#define _TQUIC_BRIDGE_GLUE_H

#include "platform.h"
#include "crypto.h"
#include "packet.h"
#include "proto.h"

struct tqb_hdr {
	u32 version;
	u8 type;
	u8 first;
	u8 dcid_len;
	u8 scid_len;
	u8 pn_len;
	u8 key_phase;
	u64 pn;
	u64 dcid_off;
	u64 scid_off;
	u64 token_off;
	u64 token_len;
	u64 pn_offset;
	u64 len;
	u64 payload_offset;
	u64 payload_len;
	u64 off;		/* offset of the packet in its datagram */
};

size_t tqb_log_take(char *out, size_t cap);

int tqb_parse(const u8 *pkt, size_t len, size_t short_dcid_len,
	      unsigned int flags, struct tqb_hdr *out);
int tqb_split(const u8 *dgram, size_t len, size_t short_dcid_len,
	      unsigned int flags, struct tqb_hdr *out, size_t max, size_t *n);
int tqb_hp_remove(struct tquic_keys *k, u8 *pkt, size_t len,
		  struct tqb_hdr *bh, u64 largest_pn);
int tqb_payload_open(struct tquic_keys *k, u8 *pkt, size_t len,
		     struct tqb_hdr *bh, int multipath, u32 path_id);

/*
 * Engine keys plus the secret header protection came from: a key update
 * changes the packet keys only, so the next generation re-derives the same
 * header protection key from it.
 */
struct tqb_keys {
	struct tquic_keys k;
	u8 hp_secret_len;
	u8 hp_secret[TQUIC_MAX_SECRET_LEN];
};

struct tqb_keys *tqb_keys_new(u32 version, int suite, const u8 *secret,
			      size_t secret_len, int *err);
struct tqb_keys *tqb_keys_next(const struct tqb_keys *cur, int *err);
void tqb_keys_free(struct tqb_keys *k);

int tqb_retry_build(u32 version, u8 unused, const u8 *odcid, size_t odcid_len,
		    const u8 *dcid, size_t dcid_len, const u8 *scid,
		    size_t scid_len, const u8 *token, size_t token_len,
		    u8 *buf, size_t cap, size_t *out_len);
int tqb_retry_verify(const u8 *pkt, size_t len, const u8 *odcid,
		     size_t odcid_len);

/* Benchmarks: @iters round trips of one 1-RTT packet. */
int tqb_bench_packet(struct tquic_keys *k, u8 *buf, size_t len, u64 iters);
int tqb_bench_raw(struct tquic_keys *k, u8 *buf, size_t len, u64 iters);

#endif /* _TQUIC_BRIDGE_GLUE_H */
