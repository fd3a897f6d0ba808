/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Connection internals shared by conn.c, conn_recv.c and conn_send.c.
 * Hosts use conn.h only.
 */
#ifndef _TQUIC_CORE_CONN_INTERNAL_H
#define _TQUIC_CORE_CONN_INTERNAL_H

#include "platform.h"
#include "list.h"
#include "varint.h"
#include "proto.h"
#include "crypto.h"
#include "packet.h"
#include "frame.h"
#include "tparams.h"
#include "rtt.h"
#include "cc.h"
#include "pacer.h"
#include "recovery.h"
#include "ackmgr.h"
#include "stream.h"
#include "cid.h"
#include "path.h"
#include "conn.h"

#define TQUIC_CONN_MAX_CIDS		8	/* cap of active_cid_limit */
/*
 * Local CIDs kept issued per path: the one in use and three to migrate or
 * rebind with.  Fewer than a peer's active_connection_id_limit may allow
 * (RFC 9000 5.1.1 lets an endpoint limit issuance): each costs a demux
 * entry here and a record at the peer for the life of the connection.
 */
#define TQUIC_CONN_ISSUE_CIDS		4
#define TQUIC_CONN_MAX_PATHS		2	/* the active path and one being probed */
#define TQUIC_CONN_EVENTS_MIN		8	/* the event ring's first size */
#define TQUIC_CONN_EVENTS_MAX		1024	/* its cap: events past it are dropped */
#define TQUIC_CONN_PENDING_PKTS		8	/* undecryptable packets kept */
#define TQUIC_CONN_SCRATCH		96	/* frame records per datagram */
#define TQUIC_CONN_MAX_PKTS		4	/* packets coalesced per datagram */
#define TQUIC_CONN_DGRAM_MAX_QUEUE	1024
/*
 * A server's first ACK rides on its ServerHello, as it does where TLS runs
 * inline, unless TLS takes longer than this.  An early ACK-only packet
 * hands the client an RTT sample that leaves out the server's handshake
 * work, and its PTO then probes a busy server again and again (RFC 9002
 * 6.2.1 asks clients not to; this keeps them from having to).
 */
#define TQUIC_SERVER_INITIAL_ACK_HOLD_NS	(100ULL * 1000 * 1000)

enum tquic_conn_state {
	TQUIC_CONN_HANDSHAKE = 0,
	TQUIC_CONN_ESTABLISHED,
	TQUIC_CONN_CLOSING,		/* we sent CONNECTION_CLOSE */
	TQUIC_CONN_DRAINING,		/* the peer closed, or a stateless reset */
	TQUIC_CONN_DRAINED,		/* nothing left to do */
};

/* Kinds of struct tquic_sent_entry. */
enum tquic_sent_kind {
	TQUIC_SK_STREAM = 1,		/* a = id, b = off, c = len, fin */
	TQUIC_SK_CRYPTO,		/* b = off, c = len, space */
	TQUIC_SK_CTRL,			/* stream-layer control frame: type, a = id, b = value, c = final size */
	TQUIC_SK_HANDSHAKE_DONE,
	TQUIC_SK_CID,			/* (RETIRE|NEW)_CONNECTION_ID: type, a = seq, b = path ID */
	TQUIC_SK_NEW_TOKEN,
	TQUIC_SK_PING,
};

struct tquic_sent_entry {
	u64 a;
	u64 b;
	u64 c;
	u32 type;
	u8 kind;
	u8 fin;
	u8 space;
};

/* The frames handle of a sent packet (recovery.h). */
struct tquic_sent_frames {
	u32 n;
	u32 early;			/* sent in a 0-RTT packet */
	struct tquic_sent_entry e[];
};

/*
 * A path's transmission machinery (path.h): its packet-number spaces (the
 * next packet numbers here, sent packets in @rec, received ones in @ack),
 * RTT, congestion controller and pacer.
 */
struct tquic_path_xmit {
	u64 next_pn[TQUIC_PN_SPACE_COUNT];
	struct tquic_rtt rtt;
	struct tquic_cc cc;
	struct tquic_pacer pacer;
	struct tquic_recovery rec;
	struct tquic_ackmgr ack;
};

/* Client: following the server's preferred_address (RFC 9000 9.6). */
enum tquic_pref_state {
	TQUIC_PREF_NONE = 0,		/* not offered, not ours to follow, or done */
	TQUIC_PREF_OFFERED,		/* to probe once the handshake is confirmed */
	TQUIC_PREF_PROBING,		/* @pref_path is being validated */
};

/* A packet that arrived before its keys (RFC 9001 5.7): copied, retried at install. */
struct tquic_pending_pkt {
	struct tquic_buf *buf;
	u8 level;
	u8 ecn;
};

struct tquic_dgram {
	struct tquic_list node;
	u32 len;
	u8 data[];
};

/* One packet being built into the datagram. */
struct tquic_pkt_build {
	u8 type;			/* enum tquic_pkt_type */
	u8 space;
	u8 level;
	u8 pn_len;
	u64 pn;
	size_t off;			/* in the datagram */
	size_t hdr_len;
	size_t payload_len;
	u32 first_entry;		/* in c->scratch */
	u32 n_entries;
	u8 flags;			/* TQUIC_SENT_* */
	u64 ack_largest;
	struct tquic_wbuf_defer defer;	/* stream data sealed from the send buffer */
};

struct tquic_conn {
	struct tquic_conn_config cfg;
	/* qlog callback (tquic_conn_set_qlog()), NULL when off. */
	void (*qlog)(void *ctx, const struct tquic_qlog_event *ev);
	void *qlog_ctx;
	bool is_server;
	u8 state;			/* enum tquic_conn_state */
	u32 version;			/* negotiated (or current) version */
	u32 orig_version;		/* version of the first Initial */
	unsigned int gfp;		/* of the current call */
	u64 now;

	/*
	 * Paths: the active one (ID 0, with its machinery in @path->x) first,
	 * then paths being probed (a server's new peer address, a client's
	 * way to the preferred address), allocated while they exist.
	 */
	struct tquic_list paths;
	struct tquic_path *path;	/* the active path */
	u32 n_paths;
	u32 next_path_id;
	struct tquic_path *rx_path;	/* the datagram being processed came on it */
	struct tquic_path *tx_path;	/* the datagram being built goes on it */

	/*
	 * Keys: [level] rx and tx, on the heap while the level has them (an
	 * established connection keeps only 1-RTT ones); key phases below.
	 */
	struct tquic_keys *rx[TQUIC_LEVEL_COUNT];
	struct tquic_keys *tx[TQUIC_LEVEL_COUNT];
	/* Server, compatible negotiation: Initial keys of the original version. */
	struct tquic_keys *orig_initial_rx;
	/* 1-RTT key update (RFC 9001 section 6). */
	struct tquic_aead_keys rx_next;
	struct tquic_aead_keys rx_prev;
	bool has_rx_next;
	bool has_rx_prev;
	u8 rx_phase;
	u8 tx_phase;
	bool tx_phase_acked;		/* a packet of the current tx phase was acknowledged */
	bool ku_compat;			/* v2 peer derives key updates with "quic ku" (quic-go) */
	/* Crypto objects freed while idle (conn_park()). */
	bool parked;
	bool discarded[TQUIC_PN_SPACE_COUNT];
	u64 rx_prev_expiry;
	u64 rx_phase_first_pn;
	u64 tx_phase_first_pn;
	u64 pkts_in_phase;
	u64 key_updates;
	u64 active_at;			/* last packet received or sent */

	/*
	 * CRYPTO streams on the heap, until their space is discarded; the
	 * 1-RTT one also while parked with nothing in it (conn_park()), as the
	 * bytes it read and wrote.
	 */
	struct tquic_crypto_stream *cs[TQUIC_PN_SPACE_COUNT];
	u64 cs_app_rx_off;
	u64 cs_app_tx_off;

	struct tquic_streams streams;

	/* Connection IDs. */
	u8 odcid_len;			/* client's first DCID (Initial keys, TP check) */
	u8 odcid[TQUIC_MAX_CID_LEN];
	u8 idcid_len;			/* DCID the Initial keys derive from */
	u8 idcid[TQUIC_MAX_CID_LEN];
	u8 retry_scid_len;
	u8 retry_scid[TQUIC_MAX_CID_LEN];
	bool retried;
	u8 peer_scid_len;		/* the peer's initial SCID (TP check) */
	u8 peer_scid[TQUIC_MAX_CID_LEN];
	u8 scid_len;			/* our handshake CID (sequence 0) */
	u8 scid[TQUIC_MAX_CID_LEN];
	struct tquic_cids cids;		/* every CID, ours and the peer's */
	u64 rx_dcid_seq;		/* our CID the packet being processed was sent to */
	/* Tokens live on the heap while they matter (an idle connection keeps none). */
	u8 *token;			/* client: token for Initial packets */
	size_t token_len;
	u8 *new_token;			/* client: received NEW_TOKEN; server: the one to send */
	size_t new_token_len;
	bool new_token_pending;		/* server: NEW_TOKEN to send */

	/* Transport parameters. */
	bool has_peer_tp;
	bool peer_no_migration;		/* disable_active_migration */
	/* Client: the server's preferred_address, while it is to be followed. */
	struct tquic_tp_preferred_address *peer_pref;
	u64 peer_max_dgram;		/* peer's max_datagram_frame_size */

	/* 0-RTT (RFC 9000 7.4.1, RFC 9001 4.6). */
	/*
	 * Client: the server's limits 0-RTT data goes under: remembered from
	 * the last connection, then (once its parameters arrived) the server's
	 * current ones, to remember for the next.
	 */
	struct tquic_stream_limits zrtt_lim;
	u64 zrtt_cid_limit;
	u64 zrtt_max_dgram;
	bool zrtt_tp_set;		/* client: remembered parameters in use */
	bool zrtt_reduced;		/* client: the server's new parameters reduce them */
	bool early_sent;		/* client: a 0-RTT packet went out */
	bool early_rejected;		/* client: the server rejected 0-RTT */
	bool early_keys;		/* server: 0-RTT read keys were installed */
	u64 early_pn_max;		/* client: last 0-RTT packet number */

	/* Handshake. */
	bool got_peer_packet;		/* client: a server packet was processed */
	bool handshake_complete;
	bool handshake_confirmed;
	bool handshake_done_pending;
	bool sent_handshake;		/* client: first Handshake packet sent */
	bool vn_done;

	/* Close. */
	u32 close_flags;		/* TQUIC_CLOSE_F_* */
	u32 close_rx;			/* datagrams received while closing */
	u64 close_code;
	u64 close_frame_type;
	u8 *close_reason;		/* heap, while there is one */
	size_t close_reason_len;
	u64 close_deadline;
	bool close_send;		/* a CONNECTION_CLOSE is due */
	bool close_event;

	/* Idle timeout. */
	u64 idle_timeout;		/* ns, 0 = none */
	u64 idle_start;
	bool eliciting_since_recv;
	u8 last_ecn;			/* codepoint of the last datagram built */
	u64 pacer_wait;			/* pacing released the next packet at this time */

	/* Migration (RFC 9000 section 9). */
	bool rx_nonprobing;		/* the datagram being processed carried a non-probing packet */
	bool rx_migrate;		/* ... with the largest packet number, on another path */
	bool pad_probe;			/* the datagram built carries a PATH_CHALLENGE */
	u8 probe_data[TQUIC_PATH_CHALLENGE_LEN];	/* ... with this data */
	u8 pref_state;			/* enum tquic_pref_state */
	struct tquic_path *pref_path;	/* client: the path to the preferred address */

	/* Datagrams. */
	struct tquic_list dgram_rx;
	struct tquic_list dgram_tx;
	u32 dgram_rx_n;
	u32 dgram_tx_n;

	/* Undecryptable packets: TQUIC_CONN_PENDING_PKTS slots, allocated when one comes. */
	struct tquic_pending_pkt *pending;
	u32 n_pending;

	/* Events: a ring allocated and grown as they come (most need a few slots). */
	struct tquic_event *ev;
	u32 ev_cap;
	u32 ev_head;
	u32 ev_len;
	u64 streams_limit_seen[2];

	/* Send scratch, allocated by the first send, released when parked. */
	struct tquic_sent_entry *scratch;
	u32 n_scratch;
	struct tquic_pkt_build *pkts;	/* TQUIC_CONN_MAX_PKTS, after @scratch's entries */

	u64 err_frame_type;		/* frame that caused the pending error */
	struct tquic_conn_stats stats;
	size_t mem;			/* bytes allocated for this connection */
};

/* conn.c */
int tquic_conn_initial_keys(struct tquic_conn *c, u32 version);
bool tquic_conn_version_spoken(const struct tquic_conn_config *cfg, u32 v);
int tquic_conn_keys_next(struct tquic_conn *c, const struct tquic_aead_keys *cur,
			 struct tquic_aead_keys *next);
void tquic_conn_sent_entries(struct tquic_conn *c, const struct tquic_sent_entry *ents, u32 n,
			     bool acked);
void tquic_conn_event(struct tquic_conn *c, u32 type, u32 flags, u64 id, u64 code,
		      const u8 *data, u8 len);
void tquic_conn_enter_closing(struct tquic_conn *c, u32 flags, u64 code,
			      u64 frame_type, const u8 *reason, size_t reason_len);
void tquic_conn_enter_draining(struct tquic_conn *c, u32 flags, u64 code,
			       u64 frame_type, const u8 *reason, size_t reason_len);
void tquic_conn_discard_space(struct tquic_conn *c, enum tquic_pn_space space);
void tquic_conn_confirm_handshake(struct tquic_conn *c);
u64 tquic_conn_pto(const struct tquic_conn *c);
int tquic_conn_switch_version(struct tquic_conn *c, u32 version);
void tquic_conn_release_pending(struct tquic_conn *c);
int tquic_conn_issue_cids(struct tquic_conn *c);
void tquic_conn_process_pending(struct tquic_conn *c, u8 level);
int tquic_conn_unpark(struct tquic_conn *c);
/* Destroys and frees *@k (NULL is fine) and clears it. */
void tquic_conn_keys_free(struct tquic_keys **k);
struct tquic_path *tquic_conn_path_new(struct tquic_conn *c, const struct tquic_addr *local,
				       const struct tquic_addr *peer, bool validated);
void tquic_conn_path_free(struct tquic_conn *c, struct tquic_path *p);
bool tquic_conn_path_new_dcid(struct tquic_conn *c, struct tquic_path *p);
void tquic_conn_path_validate(struct tquic_conn *c, struct tquic_path *p);
void tquic_conn_path_validated(struct tquic_conn *c, struct tquic_path *p);
void tquic_conn_path_moved(struct tquic_conn *c, enum tquic_addr_change ch);
/* @p's MTU changed: its congestion controller and pacer count in it. */
void tquic_conn_path_mtu_changed(struct tquic_path *p);
enum tquic_addr_change tquic_conn_path_adopt(struct tquic_conn *c, struct tquic_path *np);
int tquic_conn_set_peer_initial(struct tquic_conn *c, const u8 *id, u8 len);
int tquic_conn_token_set(struct tquic_conn *c, u8 **dst, size_t *dst_len, const u8 *src,
			 size_t len);
int tquic_conn_cid_events(struct tquic_conn *c);
extern const struct tquic_recovery_ops tquic_conn_rec_ops;

/* conn_recv.c */
int tquic_conn_recv_packet(struct tquic_conn *c, struct tquic_buf *b, u8 *pkt,
			   const u8 *src, struct tquic_hdr *h, u8 ecn);

/* conn_send.c */
long tquic_conn_build(struct tquic_conn *c, u8 *buf, size_t cap);
long tquic_conn_build_probe(struct tquic_conn *c, struct tquic_path *p, u8 *buf, size_t cap);

static inline enum tquic_pn_space tquic_level_space(u8 level)
{
	if (level == TQUIC_LEVEL_INITIAL)
		return TQUIC_PN_SPACE_INITIAL;
	if (level == TQUIC_LEVEL_HANDSHAKE)
		return TQUIC_PN_SPACE_HANDSHAKE;
	return TQUIC_PN_SPACE_APP;
}

static inline bool tquic_conn_closed(const struct tquic_conn *c)
{
	return c->state >= TQUIC_CONN_CLOSING;
}

static inline u64 tquic_ns_to_us(u64 ns)
{
	return ns / 1000;
}

#endif /* _TQUIC_CORE_CONN_INTERNAL_H */
