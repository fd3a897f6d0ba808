/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * QUIC connections: the sans-IO host API of the engine (ARCHITECTURE
 * decisions 1, 2, 4 and 5).
 *
 * A connection ties the wire layer (packet.h, frame.h, crypto.h,
 * tparams.h), streams and flow control (stream.h, flowctl.h) and loss
 * recovery (recovery.h, ackmgr.h, cc.h, pacer.h) together.  The host:
 *
 *  - feeds every received datagram with tquic_conn_recv() (the datagram is
 *    a host buffer, decrypted in place; stream data stays in it);
 *  - pulls datagrams to send with tquic_conn_send() until it returns 0,
 *    the engine building the packets directly into the host's buffer;
 *  - arms one timer at tquic_conn_next_deadline() and calls
 *    tquic_conn_on_timeout() when it fires;
 *  - runs TLS: it moves CRYPTO bytes per encryption level with
 *    tquic_conn_crypto_read() / tquic_conn_crypto_write(), installs the
 *    secrets TLS derives, and exchanges the encoded transport parameters;
 *  - drains events with tquic_conn_next_event().
 *
 * Times are u64 nanoseconds of a monotonic clock the host reads.  Every
 * function that may allocate takes the caller's TQUIC_GFP_* context.  No
 * function sleeps; the caller serialises calls on one connection.
 *
 * Return conventions: 0 or a positive count on success, a negative errno
 * for local failures.  Protocol errors close the connection (an event says
 * so) rather than being returned.
 *
 * Paths: every per-path structure (packet-number spaces, RTT, congestion
 * controller, pacer, ACK state, addresses, amplification counters, the
 * peer CID) hangs off a path object (path.h) with a 32-bit path ID.  One
 * path (ID 0) is active; others exist while they are being probed.
 */
#ifndef _TQUIC_CORE_CONN_H
#define _TQUIC_CORE_CONN_H

#include "platform.h"
#include "proto.h"
#include "buf.h"
#include "cc.h"
#include "stream.h"
#include "path.h"		/* struct tquic_addr */

/* Encryption levels, in the order of Go's tls.QUICEncryptionLevel. */
enum tquic_level {
	TQUIC_LEVEL_INITIAL = 0,
	TQUIC_LEVEL_EARLY = 1,
	TQUIC_LEVEL_HANDSHAKE = 2,
	TQUIC_LEVEL_APP = 3,
	TQUIC_LEVEL_COUNT = 4,
};

#define TQUIC_CONN_MAX_VERSIONS		4
#define TQUIC_RESET_KEY_LEN		32
#define TQUIC_TOKEN_MAX			256
#define TQUIC_MIN_INITIAL_SIZE		1200
#define TQUIC_CONN_REASON_MAX		128

struct tquic_qlog_event;

struct tquic_conn_config {
	/* Versions spoken, most preferred first (v1 and/or v2). */
	u32 versions[TQUIC_CONN_MAX_VERSIONS];
	u32 n_versions;
	char cc_name[TQUIC_CC_NAME_MAX];	/* "" = default */
	bool pacing;
	/*
	 * Datagrams a paced path may send back to back, 0 = the pacer's
	 * default.  A host whose timers are coarse (user space) sends larger
	 * bursts less often, in one batch.
	 */
	u32 pacing_burst;
	bool ecn;
	bool disable_active_migration;
	u8 cid_len;			/* length of the CIDs we issue, 0..20 */
	u8 active_cid_limit;		/* 2..8 */
	u8 ack_delay_exponent;
	u32 amp_factor;			/* anti-amplification factor, 3 */
	u32 max_datagram_size;		/* UDP payload we send, >= 1200 */
	u64 initial_rtt;		/* ns, 0 = 333 ms */
	u64 idle_timeout;		/* ms, 0 = none */
	u64 max_ack_delay;		/* ms */
	struct tquic_stream_limits limits;	/* what we advertise */
	u64 max_conn_window;		/* receive window auto-tuning caps */
	u64 max_stream_window;
	u64 send_buffer;		/* per-stream send buffer */
	u32 max_frags;			/* per-stream reassembly fragments */
	u64 crypto_rx_cap;		/* out-of-order CRYPTO bytes per level */
	u64 max_datagram_frame_size;	/* 0 = DATAGRAM disabled */
	u32 datagram_queue;		/* datagrams queued per direction */
	u64 key_update_packets;		/* initiate a key update every N packets, 0 = never */
	u8 reset_key[TQUIC_RESET_KEY_LEN];	/* stateless reset token key */
	/*
	 * Server: send a NEW_TOKEN frame once the handshake is confirmed, with
	 * a tquic_token_make() token under @reset_key for the client's
	 * address (RFC 9000 8.1.3).  Default on.
	 */
	bool new_token;
	/*
	 * Offer reset_stream_at (draft-ietf-quic-reliable-stream-reset): the
	 * peer may reset a stream yet keep a prefix reliable, as WebTransport
	 * does with its stream headers.  Default on.
	 */
	bool reset_stream_at;
	/*
	 * Server: the preferred_address to offer (RFC 9000 9.6), IPv4 and/or
	 * IPv6 (family TQUIC_ADDR_NONE: not for that family), with a CID of
	 * sequence 1.  The host receives on it (tquic_conn_recv()'s @local)
	 * and sends from tquic_send_info.local.  Needs cid_len > 0.
	 */
	struct tquic_addr preferred_v4;
	struct tquic_addr preferred_v6;
	/*
	 * Client: stay on the address dialed even when the server offers a
	 * preferred_address.  Otherwise, once the handshake is confirmed, the
	 * client validates a path there (the same address family) with the
	 * CID of sequence 1 and moves to it when it answers
	 * (TQUIC_EV_PREFERRED_ADDRESS); when it does not, the connection
	 * stays where it is.
	 */
	bool disable_preferred_address;
};

/* Fills @cfg with defaults (v1 then v2, CUBIC, pacing, 30 s idle timeout). */
void tquic_conn_config_init(struct tquic_conn_config *cfg);

/* What a server listener learned from a client's first Initial. */
struct tquic_server_params {
	u32 version;		/* the Initial's version */
	const u8 *odcid;	/* the client's original DCID (from the token after a Retry) */
	u8 odcid_len;
	const u8 *dcid;		/* this Initial's DCID */
	u8 dcid_len;
	const u8 *scid;		/* the client's SCID */
	u8 scid_len;
	const u8 *cid;		/* our CID (cfg->cid_len bytes) */
	bool retried;		/* a Retry was sent: retry_scid is @dcid */
	bool validated;		/* a token proved the client's address */
};

struct tquic_conn;

struct tquic_conn *tquic_conn_client_new(const struct tquic_conn_config *cfg,
					 u32 version, const u8 *dcid, u8 dcid_len,
					 const u8 *scid, u8 scid_len,
					 const struct tquic_addr *local,
					 const struct tquic_addr *peer,
					 u64 now, unsigned int gfp, int *err);
struct tquic_conn *tquic_conn_server_new(const struct tquic_conn_config *cfg,
					 const struct tquic_server_params *sp,
					 const struct tquic_addr *local,
					 const struct tquic_addr *peer,
					 u64 now, unsigned int gfp, int *err);
void tquic_conn_free(struct tquic_conn *c);

/* Client: the token to put in Initial packets (NEW_TOKEN from a previous connection). */
int tquic_conn_set_token(struct tquic_conn *c, const u8 *token, size_t len);

/*
 * A received datagram of tquic_buf_len(@dgram) bytes.  With @src NULL they
 * are in tquic_buf_data(@dgram) and decrypted in place; else they are at
 * @src (read only, needed for the duration of the call) and packets are
 * decrypted into @dgram, whose bytes the host need not initialize: one
 * pass over the data instead of a copy and then a decryption.  The engine
 * takes its own references.  @local (NULL: unknown) and @peer are the
 * addresses it came to and from: a path is the pair (an unknown local
 * address, or an unspecified one on the same port, matches any).  @ecn is
 * the IP ECN codepoint (TQUIC_ECN_*).  Returns 0, or -errno when the
 * datagram was dropped for a local reason.
 */
int tquic_conn_recv(struct tquic_conn *c, struct tquic_buf *dgram, const u8 *src,
		    const struct tquic_addr *local, const struct tquic_addr *peer,
		    u8 ecn, u64 now, unsigned int gfp);

/* Where and how to send the datagram tquic_conn_send() built. */
struct tquic_send_info {
	u32 path_id;
	u8 ecn;				/* IP ECN codepoint to set */
	u64 send_time;			/* earliest departure time */
	const struct tquic_addr *peer;	/* the path's peer address */
	const struct tquic_addr *local;
};

/*
 * Builds the next datagram into @buf (@cap >= 1200 bytes): coalesced
 * packets, protected.  Returns its length, 0 when nothing is to be sent
 * now, or -errno.
 */
long tquic_conn_send(struct tquic_conn *c, u8 *buf, size_t cap, u64 now,
		     struct tquic_send_info *info, unsigned int gfp);

/* Earliest time tquic_conn_on_timeout() must run, TQUIC_TIME_NONE if none. */
u64 tquic_conn_next_deadline(const struct tquic_conn *c);
void tquic_conn_on_timeout(struct tquic_conn *c, u64 now);

/* ---- TLS ---- */

/* Installs the @write (else read) secret of @level for cipher suite @suite. */
int tquic_conn_install_secret(struct tquic_conn *c, enum tquic_level level,
			      bool write, u16 suite, const u8 *secret,
			      size_t secret_len, u64 now, unsigned int gfp);
/* Handshake bytes TLS produced at @level, to send in CRYPTO frames. */
int tquic_conn_crypto_write(struct tquic_conn *c, enum tquic_level level,
			    const u8 *data, size_t len, unsigned int gfp);
/* In-order CRYPTO bytes received at @level for TLS; returns the count. */
long tquic_conn_crypto_read(struct tquic_conn *c, enum tquic_level level,
			    u8 *dst, size_t cap);
/* How many in-order CRYPTO bytes tquic_conn_crypto_read() would return. */
size_t tquic_conn_crypto_readable(const struct tquic_conn *c, enum tquic_level level);
/* Our transport parameters, encoded.  Returns the length or -errno. */
long tquic_conn_local_tparams(struct tquic_conn *c, u8 *buf, size_t cap);
/*
 * The peer's encoded transport parameters.  Returns 0, or a transport
 * error code (the connection is then closing).
 */
int tquic_conn_set_peer_tparams(struct tquic_conn *c, const u8 *b, size_t len,
				u64 now);
/* TLS reports the handshake complete. */
void tquic_conn_handshake_complete(struct tquic_conn *c, u64 now);
/*
 * 0-RTT was rejected: data sent in 0-RTT packets is sent again in 1-RTT
 * packets.
 */
void tquic_conn_early_data_rejected(struct tquic_conn *c, u64 now);

/*
 * 0-RTT transport parameters (RFC 9000 7.4.1), in the transport parameter
 * encoding: the limits 0-RTT data is sent under (initial_max_data, the
 * initial stream data and stream count limits, active_connection_id_limit,
 * max_datagram_frame_size).
 *
 * tquic_conn_zero_rtt_tparams(): a client, once the peer's parameters
 * arrived, gets the server's values to remember with a session ticket; a
 * server gets its own, to carry in the tickets it issues.  Returns the
 * length or -errno.
 *
 * tquic_conn_set_zero_rtt_tparams(): a client resuming a session hands
 * over the remembered values before it sends 0-RTT data, which then flows
 * under them; when the server accepts 0-RTT and its new parameters reduce
 * one of them, the connection closes with PROTOCOL_VIOLATION.  A server
 * hands over the values of the ticket a client resumes with and learns
 * whether it may accept 0-RTT: 0 when its current parameters reduce none
 * of them, -ESTALE when they do.  -EINVAL for a malformed encoding or a
 * call out of place.
 */
long tquic_conn_zero_rtt_tparams(struct tquic_conn *c, u8 *buf, size_t cap);
int tquic_conn_set_zero_rtt_tparams(struct tquic_conn *c, const u8 *b, size_t len);
/*
 * Client: 0-RTT packets were sent and the server did not reject them (once
 * the handshake is complete).  Server: 0-RTT keys were installed (TLS
 * accepted early data).
 */
bool tquic_conn_early_data_accepted(const struct tquic_conn *c);

/* ---- Streams ---- */

/* Opens a stream; -EAGAIN at the peer's stream limit. */
int tquic_conn_stream_open(struct tquic_conn *c, bool uni, u64 *id,
			   unsigned int gfp);
/* Next stream the peer opened that the host has not seen; false if none. */
bool tquic_conn_stream_accept(struct tquic_conn *c, u64 *id);
/* Copies and queues up to @len bytes; returns the count (0 when full). */
long tquic_conn_stream_write(struct tquic_conn *c, u64 id, const u8 *data,
			     size_t len, bool fin, unsigned int gfp);
/* Zero-copy write of @len bytes at @boff of @b: all or -ENOSPC. */
int tquic_conn_stream_write_buf(struct tquic_conn *c, u64 id,
				struct tquic_buf *b, size_t boff, size_t len,
				bool fin, unsigned int gfp);
/* Bytes the send buffer accepts now. */
u64 tquic_conn_stream_send_space(struct tquic_conn *c, u64 id);
/*
 * Copies up to @cap bytes; returns the count with *@fin at the end of the
 * stream, -ECONNRESET after a peer reset (*@code set), -ENOENT for a
 * stream that no longer exists.
 */
long tquic_conn_stream_read(struct tquic_conn *c, u64 id, u8 *dst, size_t cap,
			    bool *fin, u64 *code);
/* Zero-copy read: the next in-order bytes in place, then consume. */
int tquic_conn_stream_peek(struct tquic_conn *c, u64 id,
			   struct tquic_rbuf_iov *iov);
void tquic_conn_stream_consume(struct tquic_conn *c, u64 id, u64 n);
int tquic_conn_stream_finish(struct tquic_conn *c, u64 id);
int tquic_conn_stream_reset(struct tquic_conn *c, u64 id, u64 code);
int tquic_conn_stream_stop(struct tquic_conn *c, u64 id, u64 code);
/* The peer's STOP_SENDING code for @id (0 when none or unknown). */
u64 tquic_conn_stream_stop_code(struct tquic_conn *c, u64 id);
/*
 * The peer's RESET_STREAM code for @id (0 when none): read it before the
 * read that reports the reset, which may retire a finished stream.
 */
u64 tquic_conn_stream_reset_code(struct tquic_conn *c, u64 id);
int tquic_conn_stream_set_priority(struct tquic_conn *c, u64 id, u8 urgency,
				   bool incremental);

/* ---- Datagrams (RFC 9221) ---- */

/* Largest datagram payload that fits in one packet now (0: disabled). */
size_t tquic_conn_dgram_max(const struct tquic_conn *c);
/* Queues a datagram: -EMSGSIZE too large, -ENOBUFS queue full, -ENOTCONN disabled. */
int tquic_conn_dgram_send(struct tquic_conn *c, const u8 *data, size_t len,
			  unsigned int gfp);
/* The next received datagram; -EAGAIN when none, -EMSGSIZE when @cap is short. */
long tquic_conn_dgram_recv(struct tquic_conn *c, u8 *dst, size_t cap);

/* ---- Events ---- */

enum tquic_event_type {
	TQUIC_EV_NONE = 0,
	TQUIC_EV_STREAM,		/* @id, @flags TQUIC_STREAM_EV_* */
	TQUIC_EV_STREAMS_AVAILABLE,	/* MAX_STREAMS raised; @flags 1 = uni */
	TQUIC_EV_HANDSHAKE_DONE,	/* handshake confirmed */
	TQUIC_EV_CLOSED,		/* closing/draining began; see tquic_conn_close_info() */
	TQUIC_EV_DRAINED,		/* fully closed: the host may free the connection */
	TQUIC_EV_NEW_TOKEN,		/* a NEW_TOKEN arrived: tquic_conn_new_token() */
	TQUIC_EV_CID_NEW,		/* route @data (@len bytes) to this connection */
	TQUIC_EV_CID_RETIRED,		/* stop routing @data */
	TQUIC_EV_DATAGRAM,		/* datagrams to read */
	TQUIC_EV_VERSION_NEGOTIATION,	/* VN received: @code = version to retry with (0: none) */
	TQUIC_EV_KEY_UPDATE,		/* key phase changed; @flags 1 = initiated by the peer */
	TQUIC_EV_PATH_VALIDATED,	/* @id path */
	TQUIC_EV_PEER_MIGRATED,		/* the active path's peer address changed; @flags 1 = unvalidated */
	TQUIC_EV_PREFERRED_ADDRESS,	/* client: moved to the server's preferred address, a
					 * struct tquic_addr in @data (tquic_send_info.peer too) */
};

struct tquic_event {
	u32 type;
	u32 flags;
	u64 id;
	u64 code;
	u8 len;
	u8 data[TQUIC_MAX_CID_LEN];
};

/* Returns false when no event is pending. */
bool tquic_conn_next_event(struct tquic_conn *c, struct tquic_event *ev);

/* ---- Close ---- */

#define TQUIC_CLOSE_F_APP	0x1U	/* application error (CONNECTION_CLOSE 0x1d) */
#define TQUIC_CLOSE_F_REMOTE	0x2U	/* the peer closed */
#define TQUIC_CLOSE_F_IDLE	0x4U	/* idle timeout */
#define TQUIC_CLOSE_F_RESET	0x8U	/* stateless reset */
#define TQUIC_CLOSE_F_HANDSHAKE	0x10U	/* handshake timed out or failed */

struct tquic_close_info {
	u32 flags;
	u64 code;
	u64 frame_type;
	size_t reason_len;
	const u8 *reason;
};

/* Closes with CONNECTION_CLOSE (@app: 0x1d with an application code). */
int tquic_conn_close(struct tquic_conn *c, bool app, u64 code,
		     const u8 *reason, size_t reason_len, u64 now);
/* TLS failed with @alert: CONNECTION_CLOSE with CRYPTO_ERROR 0x100 + alert. */
void tquic_conn_tls_alert(struct tquic_conn *c, u8 alert, u64 now);
/* Whether the connection is closing or closed, and why. */
bool tquic_conn_close_info(const struct tquic_conn *c, struct tquic_close_info *ci);
bool tquic_conn_is_drained(const struct tquic_conn *c);

/* ---- State ---- */

u32 tquic_conn_version(const struct tquic_conn *c);
bool tquic_conn_handshake_confirmed(const struct tquic_conn *c);
bool tquic_conn_is_server(const struct tquic_conn *c);
/* Whether address validation used a Retry. */
bool tquic_conn_retried(const struct tquic_conn *c);
bool tquic_conn_datagrams_enabled(const struct tquic_conn *c);
/* Client: the token of the last NEW_TOKEN; returns its length. */
size_t tquic_conn_new_token(const struct tquic_conn *c, u8 *dst, size_t cap);
/*
 * Connection migration (RFC 9000 section 9).
 *
 * Server: a datagram from another peer address (or to another local one,
 * as the preferred address) is processed as usual; a PATH_CHALLENGE in it
 * is answered on that path (tquic_send_info.peer, .local and a path_id
 * other than 0 tell the host where), and the address is challenged in
 * turn, within 3x the bytes received from it.  A non-probing packet with
 * the largest packet number from that address moves the active path
 * there (TQUIC_EV_PEER_MIGRATED): sends follow tquic_send_info.peer,
 * amplification-limited until the address is validated, congestion
 * control and RTT restart unless only the port changed (NAT rebinding),
 * and an unused peer CID is used when there is one.  When validation of
 * the new address fails, the path goes back to the last validated one.
 *
 * Client: tquic_conn_migrate() says the host moved the connection to
 * another local address (@local may be NULL): the engine switches to an
 * unused peer CID (RFC 9000 9.5), restarts congestion control and RTT and
 * validates the new path (TQUIC_EV_PATH_VALIDATED).  -EINVAL on a server
 * or before the handshake is confirmed, -EPERM when the server disabled
 * active migration.
 */
int tquic_conn_migrate(struct tquic_conn *c, const struct tquic_addr *local, u64 now);

/* Initiates a 1-RTT key update: -EAGAIN until the previous one is done. */
int tquic_conn_key_update(struct tquic_conn *c, u64 now);
/* Memory the connection holds in the engine, in bytes. */
size_t tquic_conn_mem(const struct tquic_conn *c);

struct tquic_conn_stats {
	u64 pkts_sent;
	u64 pkts_recv;
	u64 pkts_dropped;
	u64 bytes_sent;
	u64 bytes_recv;
	u64 pkts_lost;
	u64 key_updates;
	u64 srtt;
	u64 cwnd;
	u64 bytes_in_flight;
	u64 amp_blocked;		/* times the amplification limit stopped a send */
	u64 amp_violations;		/* sends above the limit (must stay 0) */
	u64 early_sent;			/* 0-RTT packets sent */
	u64 early_recv;			/* 0-RTT packets processed */
	u64 early_requeued;		/* rejected 0-RTT packets whose data went again */
	u64 peer_migrations;		/* the path moved: server, the peer's address (migration,
					 * NAT rebinding); client, tquic_conn_migrate() */
	u64 path_reverts;		/* a migrated address failed validation: back to the old one */
};

void tquic_conn_stats(const struct tquic_conn *c, struct tquic_conn_stats *st);

/* ---- Stateless server helpers ---- */

enum tquic_server_action {
	TQUIC_SERVER_DROP = 0,
	TQUIC_SERVER_ACCEPT,		/* new connection: Initial of a spoken version */
	TQUIC_SERVER_VERSION_NEGOTIATE,	/* answer with tquic_vn_reply() */
	TQUIC_SERVER_STATELESS_RESET,	/* short header for an unknown CID */
};

/*
 * Classifies a datagram whose DCID matches no connection.  Fills @sp
 * (version, dcid, scid, token pointers into @dgram) for ACCEPT.
 */
enum tquic_server_action tquic_server_classify(const struct tquic_conn_config *cfg,
					       const u8 *dgram, size_t len,
					       struct tquic_server_params *sp,
					       const u8 **token, size_t *token_len);

/* Version Negotiation answer to @dgram into @buf.  Returns the length or -errno. */
long tquic_vn_reply(const struct tquic_conn_config *cfg, const u8 *dgram,
		    size_t len, u8 *buf, size_t cap);

/* Where CRYPTO data landed: [start, end) of the flight. */
struct tquic_crypto_extent {
	u64 start;
	u64 end;
};

/*
 * The CRYPTO data of the first packet of @dgram, an Initial that
 * tquic_server_classify() accepted into @sp: the packet is decrypted in a
 * copy and each CRYPTO frame's data below @cap laid out by offset into
 * @out, its extent appended to @ext (@n_ext of at most @max_ext used).
 * Returns 0 or -errno (the packet does not decrypt or parse).  With
 * tquic_crypto_prefix(), this routes a new connection by its ClientHello
 * (the ALPN, say) before the connection exists, even when the ClientHello
 * spans datagrams in any order.
 */
int tquic_server_initial_crypto(const struct tquic_server_params *sp, const u8 *dgram,
				size_t len, u8 *out, size_t cap, struct tquic_crypto_extent *ext,
				u32 *n_ext, u32 max_ext, unsigned int gfp);
/* Bytes from offset 0 that @ext covers without a gap. */
u64 tquic_crypto_prefix(const struct tquic_crypto_extent *ext, u32 n_ext);

/*
 * Finds the ALPN extension (RFC 7301) in the first @len bytes of a TLS
 * ClientHello handshake message.  Returns 0 with @list over the
 * ProtocolNameList's entries (each a length byte and the name), -EAGAIN
 * when @len ends before the extension was found, -ENOENT when the whole
 * message has none, -EINVAL when it is not a well-formed ClientHello.
 */
int tquic_client_hello_alpn(const u8 *msg, size_t len, struct tquic_cursor *list);

/*
 * Address validation tokens (Retry and NEW_TOKEN), authenticated with
 * @key: a Retry token binds the client address, the time and the original
 * DCID; a NEW_TOKEN token binds the client's IP address (not the port: the
 * client comes back from another one) and the time.  tquic_token_check()
 * returns 0 and the original DCID for a valid Retry token, 1 for a valid
 * NEW_TOKEN token, -EBADMSG otherwise.
 */
long tquic_token_make(const u8 *key, bool retry, const struct tquic_addr *peer,
		      const u8 *odcid, u8 odcid_len, u64 now, u8 *buf, size_t cap);
int tquic_token_check(const u8 *key, const struct tquic_addr *peer,
		      const u8 *token, size_t len, u64 now, u64 lifetime,
		      u8 *odcid, u8 *odcid_len);

/* A Retry packet answering the Initial in @sp, with @token. */
long tquic_retry_reply(const struct tquic_server_params *sp, const u8 *new_scid,
		       u8 new_scid_len, const u8 *token, size_t token_len,
		       u8 *buf, size_t cap, unsigned int gfp);

/* Stateless reset token of @cid under @key (RFC 9000 10.3.2). */
int tquic_reset_token(const u8 *key, const u8 *cid, size_t cid_len, u8 *token);
/*
 * A stateless reset answering a datagram of @trigger_len bytes sent to
 * @cid.  Returns the length (smaller than @trigger_len), or 0 when the
 * trigger is too short to answer.
 */
long tquic_stateless_reset_build(const u8 *key, const u8 *cid, size_t cid_len,
				 size_t trigger_len, u8 *buf, size_t cap);

/* ---- Observation: stats dumps and qlog ---- */

struct tquic_conn_info {
	u32 version;
	bool is_server;
	bool handshake_confirmed;
	bool closing;			/* closing, draining or drained */
	u32 n_paths;
	const char *cc_name;		/* path 0's controller (static strings) */
	const char *cc_state;
	u64 bytes_lost;			/* all paths */
	u64 pto_count;
};

void tquic_conn_get_info(const struct tquic_conn *c, struct tquic_conn_info *ci);

/* One path; times in ns, windows in bytes, rates in bytes per second. */
struct tquic_path_info {
	u32 id;
	bool validated;
	struct tquic_addr local;
	struct tquic_addr peer;
	u32 mtu;
	u64 rtt_latest;
	u64 rtt_min;
	u64 rtt_smoothed;
	u64 rtt_var;
	u64 cwnd;
	u64 ssthresh;
	u64 bytes_in_flight;
	u64 pacing_rate;
	const char *cc_name;
	const char *cc_state;
	u64 pkts_sent;			/* in-flight packets */
	u64 bytes_sent;
	u64 pkts_acked;
	u64 pkts_lost;
	u64 bytes_lost;
	u64 pto_count;
	u8 ecn_state;			/* enum tquic_ecn_state (recovery.h) */
	u64 ecn_sent_ect0;		/* packets we marked, all spaces */
	u64 ecn_sent_ect1;
	u64 ecn_ect0;			/* the peer's counts, all spaces */
	u64 ecn_ect1;
	u64 ecn_ce;
};

/* Fills @pi for the @idx-th path; false past the last one. */
bool tquic_conn_path_info(const struct tquic_conn *c, u32 idx, struct tquic_path_info *pi);

/*
 * qlog: the engine reports what it does through the callback set with
 * tquic_conn_set_qlog() (the configuration holds no pointers, so hosts
 * may keep it anywhere), from inside the calls the host makes, so
 * the callback runs in the caller's context and must not call back into
 * the connection.
 */
enum tquic_qlog_ev_type {
	TQUIC_QL_PACKET_SENT = 1,	/* pkt_type, pn, len */
	TQUIC_QL_PACKET_RECEIVED,	/* pkt_type, pn, len */
	TQUIC_QL_PACKET_DROPPED,	/* pkt_type, len, reason */
	TQUIC_QL_PACKET_ACKED,		/* space, pn */
	TQUIC_QL_PACKET_LOST,		/* space, pn */
	TQUIC_QL_METRICS,		/* rtt_*, cwnd, ... (may repeat unchanged values) */
	TQUIC_QL_EVENT,			/* ev_*: an engine event (enum tquic_event_type) */
};

enum tquic_qlog_drop_reason {
	TQUIC_QL_DROP_DECRYPT = 0,
	TQUIC_QL_DROP_DUPLICATE,
	TQUIC_QL_DROP_UNKNOWN_CID,
	TQUIC_QL_DROP_RESOURCES,
	TQUIC_QL_DROP_PATH,
};

struct tquic_qlog_event {
	u8 type;			/* enum tquic_qlog_ev_type */
	u8 pkt_type;			/* TQUIC_PKT_* (packet.h) */
	u8 space;			/* enum tquic_pn_space */
	u8 reason;			/* enum tquic_qlog_drop_reason */
	u32 len;
	u32 version;			/* the connection's version now */
	u64 time;			/* the engine's clock, ns */
	u64 pn;
	u32 ev_type;
	u32 ev_flags;
	u64 ev_id;
	u64 ev_code;
	u64 rtt_min;
	u64 rtt_smoothed;
	u64 rtt_var;
	u64 rtt_latest;
	u64 cwnd;
	u64 bytes_in_flight;
	u64 ssthresh;
	u64 pacing_rate;
	const char *cc_state;
};

/* Turns qlog on (@fn set) or off (@fn NULL) for an existing connection. */
void tquic_conn_set_qlog(struct tquic_conn *c,
			 void (*fn)(void *ctx, const struct tquic_qlog_event *ev),
			 void *ctx);
/* Reporting points inside the engine; each returns at once with qlog off. */
void tquic_conn_qlog_pkt(struct tquic_conn *c, u8 type, u8 pkt_type, u8 space,
			 u64 pn, size_t len, u8 reason);
void tquic_conn_qlog_metrics(struct tquic_conn *c);
void tquic_conn_qlog_event(struct tquic_conn *c, u32 type, u32 flags, u64 id,
			   u64 code);

#endif /* _TQUIC_CORE_CONN_H */
