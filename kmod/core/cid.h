/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Connection ID management (RFC 9000 section 5.1, draft-ietf-quic-multipath).
 *
 * Local CIDs are the ones we issue (the peer puts them in the Destination
 * CID of its packets): sequence numbers, stateless reset tokens,
 * NEW_CONNECTION_ID content, retire_prior_to, the peer's
 * active_connection_id_limit and RETIRE_CONNECTION_ID from the peer.
 * Peer CIDs are the ones the peer issued us: stored, retired on request
 * (retire_prior_to) or when we stop using them, handed out to paths, and
 * their reset tokens matched to detect stateless resets.
 *
 * Everything lives in a pool per path ID, so the multipath frames
 * (PATH_NEW_CONNECTION_ID, PATH_RETIRE_CONNECTION_ID) and the RFC 9000
 * ones (path 0) run the same code.  Without multipath, path 0's pool is
 * the connection's single pool and migration picks unused CIDs from it.
 *
 * Host hooks (struct tquic_cid_ops): a CID generator (QUIC-LB plugs in
 * here), and add/remove so the host keeps its demultiplexing table (the
 * kernel's RCU hash) in step with the CIDs the peer may use.
 *
 * Frame handlers return 0 or a QUIC transport error code (> 0), or a
 * negative errno (< 0: drop the packet without acknowledging it).
 */
#ifndef _TQUIC_CORE_CID_H
#define _TQUIC_CORE_CID_H

#include "platform.h"
#include "list.h"
#include "proto.h"
#include "frame.h"

struct tquic_cid {
	u8 len;
	u8 id[TQUIC_MAX_CID_LEN];
};

static inline bool tquic_cid_eq(const struct tquic_cid *a, const struct tquic_cid *b)
{
	return a->len == b->len && !memcmp(a->id, b->id, a->len);
}

struct tquic_cid_ops {
	/*
	 * Generates a new local CID for @path_id/@seq (1..20 bytes).  Returns
	 * 0 when the engine should derive the reset token, 1 when the
	 * generator wrote it to @token, or -errno.  NULL: random bytes of the
	 * configured length.
	 */
	int (*generate)(void *ctx, u32 path_id, u64 seq, struct tquic_cid *cid,
			u8 *token);
	/* The peer may now send to @cid: add it to the demux table (0 or -errno). */
	int (*add)(void *ctx, u32 path_id, u64 seq, const struct tquic_cid *cid);
	/* @cid is retired: remove it from the demux table. */
	void (*remove)(void *ctx, u32 path_id, u64 seq, const struct tquic_cid *cid);
};

/* A CID we issued. */
struct tquic_lcid {
	struct tquic_list node;
	u64 seq;
	struct tquic_cid cid;
	u8 token[TQUIC_RESET_TOKEN_LEN];
	bool pending;		/* NEW_CONNECTION_ID to (re)send */
	bool registered;	/* added to the host's demux table */
};

/* A CID the peer issued. */
struct tquic_rcid {
	struct tquic_list node;
	u64 seq;
	struct tquic_cid cid;
	u8 token[TQUIC_RESET_TOKEN_LEN];
	bool has_token;
	bool in_use;		/* a path sends with it */
	u32 used_by;		/* that path's ID */
};

/* A peer CID sequence number we retired. */
#define TQUIC_RETIRE_PENDING	0	/* RETIRE_CONNECTION_ID to send */
#define TQUIC_RETIRE_SENT	1	/* in flight */
#define TQUIC_RETIRE_DONE	2	/* acknowledged; kept to ignore replays */

struct tquic_retire {
	struct tquic_list node;
	u64 seq;
	u8 state;
};

struct tquic_cid_pool {
	struct tquic_list node;
	u32 path_id;
	/* Local CIDs by sequence number. */
	struct tquic_list local;
	u64 local_next_seq;
	u64 local_rpt;			/* our Retire Prior To */
	u32 local_active;		/* issued with seq >= local_rpt */
	/* Peer CIDs by sequence number. */
	struct tquic_list peer;
	struct tquic_list retire;	/* struct tquic_retire by seq */
	u64 peer_rpt;			/* largest Retire Prior To received */
	u32 peer_count;
	u32 retire_inflight;		/* PENDING + SENT entries */
	u32 retire_done;		/* DONE entries */
};

struct tquic_cids_config {
	const struct tquic_cid_ops *ops;
	void *ctx;
	u8 cid_len;			/* default generator length (1..20) */
	const u8 *reset_key;		/* HMAC key for reset tokens, or NULL */
	size_t reset_key_len;		/* at most 32 bytes used */
	u32 active_cid_limit;		/* our active_connection_id_limit (>= 2) */
	u32 issue_cap;			/* local CIDs kept issued per path */
	u32 max_path_id;		/* highest path ID accepted */
	bool multipath;
};

/* Connection events from CID processing (tquic_cids_take_events). */
#define TQUIC_CID_EV_DCID_RETIRED	0x1U	/* a CID a path used was retired */
#define TQUIC_CID_EV_NEW_PEER_CID	0x2U	/* new peer CIDs available */

struct tquic_cids {
	const struct tquic_cid_ops *ops;
	void *ctx;
	u8 cid_len;
	u8 reset_key[32];
	u8 reset_key_len;
	bool multipath;
	bool peer_zero_len;		/* the peer uses zero-length CIDs */
	u32 local_limit;		/* peer CIDs we accept per path */
	u32 peer_limit;			/* the peer's active_connection_id_limit */
	u32 issue_cap;
	u32 max_path_id;
	u32 events;
	u32 npools;
	/*
	 * A NEW_ or RETIRE_CONNECTION_ID may be due: set whenever one
	 * becomes due, cleared when tquic_cids_next_frame() finds none (it
	 * runs for every packet built; the pools need not be walked then).
	 */
	bool frames_due;
	struct tquic_list pools;
};

/*
 * Stateless reset token of @cid: HMAC-SHA256(@key, "tquic reset" || CID)
 * truncated to 16 bytes (RFC 9000 10.3.2), so that a server which lost its
 * state derives the same token from the CID alone.
 */
int tquic_cid_reset_token(const u8 *key, size_t key_len, const u8 *cid, size_t cid_len,
			  u8 *token);

int tquic_cids_init(struct tquic_cids *c, const struct tquic_cids_config *cfg);
/* Removes every local CID from the demux table and frees everything. */
void tquic_cids_destroy(struct tquic_cids *c);
/* Bytes allocated for the CIDs. */
size_t tquic_cids_mem(const struct tquic_cids *c);
/* The peer's active_connection_id_limit (transport parameter). */
void tquic_cids_set_peer_limit(struct tquic_cids *c, u64 limit);
/* Multipath negotiated / the highest path ID either side allowed. */
void tquic_cids_set_multipath(struct tquic_cids *c, bool on, u32 max_path_id);

/* The pool of @path_id; created when @create (NULL when over limits or OOM). */
struct tquic_cid_pool *tquic_cids_pool(struct tquic_cids *c, u32 path_id, bool create,
				       unsigned int gfp);
/* Abandoned path: removes its local CIDs from the demux table and forgets the pool. */
void tquic_cids_pool_release(struct tquic_cids *c, u32 path_id);

/* Local CIDs. */
/*
 * Adds a CID issued outside NEW_CONNECTION_ID (the handshake's Source CID,
 * seq 0; preferred_address, seq 1) with its token (NULL: derived).  Not
 * advertised in frames.  Returns 0 or -errno.
 */
int tquic_cids_local_add(struct tquic_cids *c, u32 path_id, u64 seq,
			 const struct tquic_cid *cid, const u8 *token, unsigned int gfp);
/*
 * Issues new CIDs on @path_id up to min(peer limit, issue cap), queued as
 * NEW_CONNECTION_ID frames.  Returns how many were issued or -errno.
 */
int tquic_cids_local_issue(struct tquic_cids *c, u32 path_id, unsigned int gfp);
/*
 * A new CID on @path_id issued outside NEW_CONNECTION_ID (a server's
 * preferred_address, sequence 1 when called right after the handshake CID
 * was added), generated and registered like the others.  NULL on failure.
 */
struct tquic_lcid *tquic_cids_local_reserve(struct tquic_cids *c, u32 path_id, unsigned int gfp);
/* The local CID @seq of @path_id, or NULL. */
struct tquic_lcid *tquic_cids_local_find(struct tquic_cids *c, u32 path_id, u64 seq);
/* Asks the peer to retire every CID issued so far on @path_id and issues fresh ones. */
int tquic_cids_local_rotate(struct tquic_cids *c, u32 path_id, unsigned int gfp);
/* The local CID @cid (the Destination CID of a received packet), or NULL. */
struct tquic_lcid *tquic_cids_local_lookup(struct tquic_cids *c, const u8 *cid, size_t len,
					   u32 *path_id);
/*
 * RETIRE_CONNECTION_ID (@path_frame: PATH_RETIRE_CONNECTION_ID) received in
 * a packet sent to the local CID @pkt_dcid_seq on @pkt_path (pass ~0ULL when
 * unknown, e.g. zero-length CIDs).  Replacements are issued.
 */
int tquic_cids_on_retire(struct tquic_cids *c, const struct tquic_frame_path_seq *f,
			 bool path_frame, u32 pkt_path, u64 pkt_dcid_seq, unsigned int gfp);

/* Peer CIDs. */
/*
 * The peer's handshake CID (seq 0 on path 0); replaces the previous one
 * (Retry, the server's chosen CID).  Zero length: the peer uses none.
 */
int tquic_cids_peer_set_initial(struct tquic_cids *c, const struct tquic_cid *cid,
				unsigned int gfp);
/* A reset token learned for @seq (stateless_reset_token, preferred_address). */
int tquic_cids_peer_set_token(struct tquic_cids *c, u32 path_id, u64 seq, const u8 *token);
/* A CID from preferred_address (seq 1) with its token. */
int tquic_cids_peer_add(struct tquic_cids *c, u32 path_id, u64 seq,
			const struct tquic_cid *cid, const u8 *token, unsigned int gfp);
/* NEW_CONNECTION_ID or PATH_NEW_CONNECTION_ID (@path_frame). */
int tquic_cids_on_new_cid(struct tquic_cids *c, const struct tquic_frame_new_cid *f,
			  bool path_frame, unsigned int gfp);
/*
 * An unused peer CID of pool @path_id for path @for_path (a new path or a
 * migration), marked in use; NULL when none is left.
 */
struct tquic_rcid *tquic_cids_peer_pick(struct tquic_cids *c, u32 path_id, u32 for_path);
struct tquic_rcid *tquic_cids_peer_find(struct tquic_cids *c, u32 path_id, u64 seq);
/* We stop using peer CID @seq: queue RETIRE_CONNECTION_ID.  0 or -errno. */
int tquic_cids_peer_retire(struct tquic_cids *c, u32 path_id, u64 seq, unsigned int gfp);
/* Unused peer CIDs left in pool @path_id. */
u32 tquic_cids_peer_unused(struct tquic_cids *c, u32 path_id);
/*
 * Whether the last 16 bytes of a packet that failed to decrypt match the
 * reset token of a peer CID in use (constant time per token).
 */
bool tquic_cids_is_stateless_reset(const struct tquic_cids *c, const u8 *token);

/* Frames to send: NEW_CONNECTION_ID / RETIRE_CONNECTION_ID (and PATH_ forms). */
bool tquic_cids_next_frame(struct tquic_cids *c, struct tquic_frame *f);
void tquic_cids_frame_sent(struct tquic_cids *c, const struct tquic_frame *f);
void tquic_cids_frame_acked(struct tquic_cids *c, const struct tquic_frame *f);
void tquic_cids_frame_lost(struct tquic_cids *c, const struct tquic_frame *f);

static inline u32 tquic_cids_take_events(struct tquic_cids *c)
{
	u32 ev = c->events;

	c->events = 0;
	return ev;
}

#endif /* _TQUIC_CORE_CID_H */
