/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * QUIC packets: long and short headers for v1 (RFC 9000 section 17) and v2
 * (RFC 9369), packet numbers (RFC 9000 appendix A), coalesced packets,
 * header and payload protection (RFC 9001 section 5), Retry, Version
 * Negotiation and stateless reset detection.
 *
 * Return values: 0 on success; a positive QUIC transport error code
 * (enum tquic_transport_error) when the input is malformed, so the caller
 * can drop the packet or close the connection with that code; a negative
 * errno for local conditions: -EBADMSG when authentication fails (drop the
 * packet), -ENOBUFS when an output buffer is too small, -EINVAL for invalid
 * arguments from the caller, -ENOMEM, -EPROTONOSUPPORT for an unknown
 * version.  No function reads outside the lengths it is given.
 */
#ifndef _TQUIC_CORE_PACKET_H
#define _TQUIC_CORE_PACKET_H

#include "platform.h"
#include "crypto.h"
#include "proto.h"

enum tquic_pkt_type {
	TQUIC_PKT_INITIAL = 1,
	TQUIC_PKT_0RTT = 2,
	TQUIC_PKT_HANDSHAKE = 3,
	TQUIC_PKT_RETRY = 4,
	TQUIC_PKT_1RTT = 5,		/* short header */
	TQUIC_PKT_VN = 6,		/* Version Negotiation */
	TQUIC_PKT_UNKNOWN_VERSION = 7,	/* long header, version not spoken */
};

#define TQUIC_PN_MAX		((1ULL << 62) - 1)

#define TQUIC_STATELESS_RESET_TOKEN_LEN	16
/* Smallest datagram that can be a stateless reset (RFC 9000 10.3). */
#define TQUIC_STATELESS_RESET_MIN_LEN	21

/* tquic_parse_header() flags. */
#define TQUIC_PARSE_GREASE_QUIC_BIT	0x1U	/* RFC 9287 negotiated */

/*
 * A parsed header.  Pointers point into the packet.  Fields after pn_offset
 * are filled by header protection removal and payload opening.
 */
struct tquic_hdr {
	u8 type;		/* enum tquic_pkt_type */
	u8 first;		/* first byte (unprotected after tquic_hp_remove) */
	u8 dcid_len;
	u8 scid_len;
	u32 version;		/* 0 for short headers */
	const u8 *dcid;
	const u8 *scid;
	const u8 *token;	/* Initial and Retry */
	size_t token_len;
	size_t pn_offset;	/* offset of the packet number field */
	size_t len;		/* bytes the packet occupies in the datagram */
	/* Set by tquic_hp_remove(). */
	u8 pn_len;
	u8 key_phase;
	u64 pn;
	size_t payload_offset;
	/* Set by tquic_payload_open(): plaintext at payload_offset. */
	size_t payload_len;
};

/* Long header packet type bits for @type in @version (RFC 9369 3.2). */
int tquic_long_type_bits(u32 version, enum tquic_pkt_type type, u8 *bits);

/*
 * Parses the header at the start of @pkt (@len bytes up to the end of the
 * datagram).  Short headers need the local connection ID length.  For
 * Initial, 0-RTT and Handshake packets @h->len is the packet length from
 * the Length field (so coalesced packets can follow); other packets extend
 * to the end of the datagram.
 */
int tquic_parse_header(const u8 *pkt, size_t len, size_t short_dcid_len,
		       unsigned int flags, struct tquic_hdr *h);

/*
 * Iterates over the packets coalesced in one datagram (RFC 9000 12.2).
 * The caller should ignore packets whose DCID differs from the first one.
 */
struct tquic_dgram_iter {
	const u8 *dgram;
	size_t len;
	size_t off;
	size_t short_dcid_len;
	unsigned int flags;
};

void tquic_dgram_iter_init(struct tquic_dgram_iter *it, const u8 *dgram,
			   size_t len, size_t short_dcid_len,
			   unsigned int flags);
/*
 * Returns 0 with the next packet's header in @h and its offset in the
 * datagram in @off, -ENOENT once the datagram is consumed, or a transport
 * error when the next packet is malformed (the rest of the datagram cannot
 * be delimited and is consumed).
 */
int tquic_dgram_next(struct tquic_dgram_iter *it, struct tquic_hdr *h,
		     size_t *off);

/* Packet number length for sending @pn (RFC 9000 A.2), 1 to 4. */
u8 tquic_pn_len(u64 pn, u64 largest_acked);
/* Full packet number from @truncated of @pn_len bytes (RFC 9000 A.3). */
u64 tquic_pn_decode(u64 largest_pn, u64 truncated, u8 pn_len);

/* What to write in a header. */
struct tquic_hdr_out {
	u32 version;		/* long headers */
	u8 type;		/* enum tquic_pkt_type */
	u8 dcid_len;
	u8 scid_len;
	u8 pn_len;		/* 1..4 */
	bool key_phase;		/* short headers */
	bool spin;		/* short headers */
	const u8 *dcid;
	const u8 *scid;
	const u8 *token;	/* Initial */
	size_t token_len;
	u64 pn;
	size_t payload_len;	/* plaintext bytes that will follow */
};

/*
 * Writes an unprotected header (Initial, 0-RTT, Handshake or 1-RTT) into
 * @buf; the Length field of long headers covers the packet number, the
 * payload and the AEAD tag.  The header length goes to @hdr_len.
 */
int tquic_write_header(u8 *buf, size_t cap, const struct tquic_hdr_out *o,
		       size_t *hdr_len);

/*
 * Seals the @payload_len plaintext bytes at @pkt + @hdr_len in place, with
 * the header as AAD, appends the tag and applies header protection.  The
 * header ends with the @pn_len byte packet number @pn.  @pkt must have
 * @hdr_len + @payload_len + 16 bytes.  With @multipath (1-RTT packets
 * only) the nonce carries @path_id.  @g (NULL: none) names payload bytes
 * still in the send buffer (offsets from the payload's start).
 */
int tquic_packet_protect(const struct tquic_keys *k, u8 *pkt, size_t hdr_len,
			 u8 pn_len, u64 pn, size_t payload_len,
			 bool multipath, u32 path_id, const struct tquic_aead_gather *g);

/*
 * Removes header protection into @pkt: unmasks the first byte and the
 * packet number, decodes the packet number against @largest_pn
 * (TQUIC_PN_NONE when none) and sets pn_len, pn, key_phase and
 * payload_offset.  @src holds the packet as received; when it is not @pkt
 * (decryption into another buffer), the header is copied to @pkt first.
 */
int tquic_hp_remove(struct tquic_hp *hp, u8 *pkt, const u8 *src,
		    struct tquic_hdr *h, u64 largest_pn);

/*
 * Decrypts the payload of @src (the ciphertext after the header; @src may
 * be @pkt) into @pkt, whose header tquic_hp_remove() unprotected, and checks
 * the reserved bits and that the payload is not empty (PROTOCOL_VIOLATION).
 * @multipath selects the multipath nonce for 1-RTT packets.
 */
int tquic_payload_open(const struct tquic_aead_keys *k, u8 *pkt, const u8 *src,
		       struct tquic_hdr *h, bool multipath, u32 path_id);

/* tquic_hp_remove() and tquic_payload_open() with one key set. */
int tquic_packet_unprotect(const struct tquic_keys *k, u8 *pkt, const u8 *src,
			   struct tquic_hdr *h, u64 largest_pn,
			   bool multipath, u32 path_id);

/* Retry (RFC 9000 17.2.5, RFC 9001 5.8, RFC 9369 3.3.3). */
struct tquic_retry_params {
	u32 version;
	u8 unused_bits;		/* low 4 bits of the first byte */
	u8 odcid_len;
	u8 dcid_len;
	u8 scid_len;
	const u8 *odcid;	/* the client's original DCID */
	const u8 *dcid;
	const u8 *scid;
	const u8 *token;
	size_t token_len;
};

/* Builds a Retry packet with its integrity tag into heap memory @buf. */
int tquic_retry_build(const struct tquic_retry_keys *rk,
		      const struct tquic_retry_params *p, u8 *buf, size_t cap,
		      size_t *out_len, unsigned int gfp);
/*
 * Checks a received Retry packet against the client's original DCID:
 * 0, -EBADMSG for a wrong tag, or a transport error when malformed
 * (including an empty token, which clients must discard).
 */
int tquic_retry_verify(const struct tquic_retry_keys *rk, const u8 *pkt,
		       size_t len, const u8 *odcid, size_t odcid_len,
		       unsigned int gfp);

/* Version Negotiation (RFC 9000 17.2.1). */
struct tquic_vn {
	const u8 *dcid;
	const u8 *scid;
	u8 dcid_len;
	u8 scid_len;
	const u8 *versions;	/* n_versions big-endian u32 */
	size_t n_versions;
};

int tquic_vn_build(u8 *buf, size_t cap, u8 unused_bits, const u8 *dcid,
		   size_t dcid_len, const u8 *scid, size_t scid_len,
		   const u32 *versions, size_t n_versions, size_t *out_len);
int tquic_vn_parse(const u8 *pkt, size_t len, struct tquic_vn *vn);
u32 tquic_vn_version(const struct tquic_vn *vn, size_t i);
bool tquic_vn_lists(const struct tquic_vn *vn, u32 version);

/*
 * Stateless reset detection (RFC 9000 10.3.1): compares the last 16 bytes
 * of the datagram with each of the @n tokens (16 bytes each, contiguous)
 * in constant time.
 */
bool tquic_is_stateless_reset(const u8 *dgram, size_t len, const u8 *tokens,
			      size_t n);

#endif /* _TQUIC_CORE_PACKET_H */
