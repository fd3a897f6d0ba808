/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The sockets API for in-kernel QUIC (draft-lxin-quic-socket-apis), as
 * TQUIC implements it: protocol and level numbers, control messages,
 * message flags, socket options, notifications and their structures.
 *
 * Names, numbers and layouts follow the draft and the Linux QUIC series
 * (net-next v10 layout, with the explicit reserved fields), so C programs
 * written for the upstream API build unchanged against this header.
 * Reserved fields must be zero on input and are ignored on output.
 *
 * TQUIC's own options (multipath, congestion control by name, QUIC-LB,
 * offload, qlog, statistics) live in a separate range starting at
 * TQUIC_SOCKOPT_BASE (0x1000), far above the draft's numbers, at the end
 * of this file.
 */
#ifndef _UAPI_LINUX_QUIC_H
#define _UAPI_LINUX_QUIC_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/socket.h>
#else
#include <sys/socket.h>		/* the MSG_* flags the QUIC flags alias */
#endif

/* socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM, IPPROTO_QUIC) */
#ifndef IPPROTO_QUIC
#define IPPROTO_QUIC		261
#endif
/* setsockopt()/getsockopt() level and cmsg_level of the QUIC cmsgs. */
#ifndef SOL_QUIC
#define SOL_QUIC		288
#endif

/* ---- Control messages (cmsg_type at SOL_QUIC) ---- */

enum quic_cmsg_type {
	QUIC_STREAM_INFO,	/* struct quic_stream_info */
	QUIC_HANDSHAKE_INFO,	/* struct quic_handshake_info */
};

/* The two low bits of a stream ID. */
#define QUIC_STREAM_TYPE_SERVER_MASK	0x01
#define QUIC_STREAM_TYPE_UNI_MASK	0x02
#define QUIC_STREAM_TYPE_MASK		0x03

/*
 * stream_flags of struct quic_stream_info (and the flags argument of
 * send()/recv() without a stream cmsg).
 */
#define MSG_QUIC_STREAM_NEW		MSG_SYN		/* open the stream with this data */
#define MSG_QUIC_STREAM_FIN		MSG_FIN		/* last data of the stream */
#define MSG_QUIC_STREAM_UNI		MSG_CONFIRM	/* open a unidirectional stream */
#define MSG_QUIC_STREAM_DONTWAIT	MSG_WAITFORONE	/* open without waiting for credit */
#define MSG_QUIC_STREAM_SNDBLOCK	MSG_ERRQUEUE	/* block on stream credit */

/* msg_flags (and send flags) beyond the stream flags. */
#define MSG_QUIC_DATAGRAM		MSG_RST		/* an unreliable datagram (RFC 9221) */
#define MSG_QUIC_NOTIFICATION		MSG_MORE	/* recvmsg: the data is an event */

/* Encryption levels (note: not the order TLS libraries use). */
enum quic_crypto_level {
	QUIC_CRYPTO_APP,
	QUIC_CRYPTO_INITIAL,
	QUIC_CRYPTO_HANDSHAKE,
	QUIC_CRYPTO_EARLY,
	QUIC_CRYPTO_MAX,
};

/* QUIC_HANDSHAKE_INFO: TLS handshake bytes at crypto_level. */
struct quic_handshake_info {
	__u8	crypto_level;
	__u8	reserved[7];
};

/* QUIC_STREAM_INFO, and QUIC_SOCKOPT_STREAM_OPEN. */
struct quic_stream_info {
	__s64	stream_id;	/* -1: the next stream (sendmsg, STREAM_OPEN) */
	__u32	stream_flags;	/* MSG_QUIC_STREAM_* */
	__u32	reserved;
};

/* ---- Socket options (level SOL_QUIC) ---- */

#define QUIC_SOCKOPT_EVENT			0	/* set, get: struct quic_event_option */
#define QUIC_SOCKOPT_STREAM_OPEN		1	/* get: struct quic_stream_info */
#define QUIC_SOCKOPT_STREAM_RESET		2	/* set: struct quic_errinfo */
#define QUIC_SOCKOPT_STREAM_STOP_SENDING	3	/* set: struct quic_errinfo */
#define QUIC_SOCKOPT_CONNECTION_ID		4	/* set, get: struct quic_connection_id_info */
#define QUIC_SOCKOPT_CONNECTION_CLOSE		5	/* set, get: struct quic_connection_close */
#define QUIC_SOCKOPT_CONNECTION_MIGRATION	6	/* set: struct sockaddr_in or _in6 */
#define QUIC_SOCKOPT_KEY_UPDATE			7	/* set: no value (optlen 0) */
#define QUIC_SOCKOPT_TRANSPORT_PARAM		8	/* set, get: struct quic_transport_param */
#define QUIC_SOCKOPT_CONFIG			9	/* set, get: struct quic_config */
#define QUIC_SOCKOPT_TOKEN			10	/* set, get: bytes */
#define QUIC_SOCKOPT_ALPN			11	/* set, get: "a,b,c" */
#define QUIC_SOCKOPT_SESSION_TICKET		12	/* set, get: bytes */
#define QUIC_SOCKOPT_CRYPTO_SECRET		13	/* set: struct quic_crypto_secret */
#define QUIC_SOCKOPT_TRANSPORT_PARAM_EXT	14	/* get: ours, set: the peer's (bytes) */

#define QUIC_VERSION_V1			0x1
#define QUIC_VERSION_V2			0x6b3343cf

struct quic_transport_param {
	__u8	remote;				/* the peer's (0-RTT resumption) */
	__u8	disable_active_migration;
	__u8	grease_quic_bit;
	__u8	stateless_reset;
	__u8	disable_1rtt_encryption;
	__u8	disable_compatible_version;
	__u8	active_connection_id_limit;
	__u8	ack_delay_exponent;
	__u16	max_datagram_frame_size;
	__u16	max_udp_payload_size;
	__u32	max_idle_timeout;		/* microseconds */
	__u32	max_ack_delay;			/* microseconds */
	__u16	max_streams_bidi;
	__u16	max_streams_uni;
	__u64	max_data;
	__u64	max_stream_data_bidi_local;
	__u64	max_stream_data_bidi_remote;
	__u64	max_stream_data_uni;
	__u64	reserved[4];
};

struct quic_config {
	__u32	version;			/* QUIC_VERSION_V1 (default) or _V2 */
	__u32	plpmtud_probe_interval;		/* microseconds, 0 = off */
	__u32	initial_smoothed_rtt;		/* microseconds */
	__u32	payload_cipher_type;		/* TLS_CIPHER_*, 0 = any */
	__u8	congestion_control_algo;	/* enum quic_cong_algo */
	__u8	validate_peer_address;		/* server: Retry first */
	__u8	stream_data_nodelay;
	__u8	receive_session_ticket;		/* seconds to wait, 0 = off */
	__u8	certificate_request;		/* 0 ignore, 1 request, 2 require */
	__u8	reserved[43];
};

#define QUIC_CRYPTO_SECRET_BUFFER_SIZE	48

struct quic_crypto_secret {
	__u8	send;		/* !0: the write secret, 0: the read secret */
	__u8	level;		/* enum quic_crypto_level */
	__u16	reserved;
	__u32	type;		/* TLS_CIPHER_* of <linux/tls.h> */
	__u8	secret[QUIC_CRYPTO_SECRET_BUFFER_SIZE];
};

enum quic_cong_algo {
	QUIC_CONG_ALG_RENO,
	QUIC_CONG_ALG_MAX,
};

/* QUIC_SOCKOPT_STREAM_RESET and QUIC_SOCKOPT_STREAM_STOP_SENDING. */
struct quic_errinfo {
	__s64	stream_id;
	__u32	errcode;
	__u32	reserved;
};

struct quic_connection_id_info {
	__u8	dest;		/* !0: the peer's CIDs, 0: ours */
	__u8	reserved[3];
	__u32	active;		/* sequence number of the CID in use */
	__u32	prior_to;	/* lowest sequence number not retired */
};

struct quic_event_option {
	__u8	type;		/* enum quic_event_type */
	__u8	on;
};

/* ---- Notifications (recvmsg with MSG_QUIC_NOTIFICATION) ---- */

/*
 * The first byte of a notification is its type; the rest is the event's
 * structure below.  Every event is off until QUIC_SOCKOPT_EVENT enables it.
 */
enum quic_event_type {
	QUIC_EVENT_NONE,
	QUIC_EVENT_STREAM_UPDATE,	/* struct quic_stream_update */
	QUIC_EVENT_STREAM_MAX_DATA,	/* struct quic_stream_max_data */
	QUIC_EVENT_STREAM_MAX_STREAM,	/* __u64 max_stream (type in the low 2 bits) */
	QUIC_EVENT_CONNECTION_ID,	/* struct quic_connection_id_info */
	QUIC_EVENT_CONNECTION_CLOSE,	/* struct quic_connection_close */
	QUIC_EVENT_CONNECTION_MIGRATION,	/* __u8 local_migration */
	QUIC_EVENT_KEY_UPDATE,		/* __u8 key_update_phase */
	QUIC_EVENT_NEW_TOKEN,		/* token bytes */
	QUIC_EVENT_NEW_SESSION_TICKET,	/* TLS NewSessionTicket message */
	QUIC_EVENT_MAX,
};

/* Stream states reported by QUIC_EVENT_STREAM_UPDATE. */
enum {
	QUIC_STREAM_SEND_STATE_READY,
	QUIC_STREAM_SEND_STATE_SEND,
	QUIC_STREAM_SEND_STATE_SENT,
	QUIC_STREAM_SEND_STATE_RECVD,
	QUIC_STREAM_SEND_STATE_RESET_SENT,
	QUIC_STREAM_SEND_STATE_RESET_RECVD,

	QUIC_STREAM_RECV_STATE_RECV,
	QUIC_STREAM_RECV_STATE_SIZE_KNOWN,
	QUIC_STREAM_RECV_STATE_RECVD,
	QUIC_STREAM_RECV_STATE_READ,
	QUIC_STREAM_RECV_STATE_RESET_RECVD,
	QUIC_STREAM_RECV_STATE_RESET_READ,
};

struct quic_stream_update {
	__s64	id;
	__u8	state;
	__u8	reserved[3];
	__u32	errcode;	/* RESET_SENT / RESET_RECVD */
	__u64	finalsz;	/* SIZE_KNOWN / RECVD / RESET_RECVD */
};

struct quic_stream_max_data {
	__s64	id;
	__u64	max_data;
};

/* QUIC_EVENT_CONNECTION_CLOSE and QUIC_SOCKOPT_CONNECTION_CLOSE. */
struct quic_connection_close {
	__u32	errcode;
	__u8	frame;
	__u8	reserved[3];
	__u8	phrase[];	/* optional reason phrase */
};

union quic_event {
	struct quic_stream_update	update;
	struct quic_stream_max_data	max_data;
	struct quic_connection_close	close;
	struct quic_connection_id_info	info;
	__u64	max_stream;
	__u8	local_migration;
	__u8	key_update_phase;
};

/* Transport error codes (RFC 9000 section 20.1). */
enum {
	QUIC_TRANSPORT_ERROR_NONE			= 0x00,
	QUIC_TRANSPORT_ERROR_INTERNAL			= 0x01,
	QUIC_TRANSPORT_ERROR_CONNECTION_REFUSED		= 0x02,
	QUIC_TRANSPORT_ERROR_FLOW_CONTROL		= 0x03,
	QUIC_TRANSPORT_ERROR_STREAM_LIMIT		= 0x04,
	QUIC_TRANSPORT_ERROR_STREAM_STATE		= 0x05,
	QUIC_TRANSPORT_ERROR_FINAL_SIZE			= 0x06,
	QUIC_TRANSPORT_ERROR_FRAME_ENCODING		= 0x07,
	QUIC_TRANSPORT_ERROR_TRANSPORT_PARAM		= 0x08,
	QUIC_TRANSPORT_ERROR_CONNECTION_ID_LIMIT	= 0x09,
	QUIC_TRANSPORT_ERROR_PROTOCOL_VIOLATION		= 0x0a,
	QUIC_TRANSPORT_ERROR_INVALID_TOKEN		= 0x0b,
	QUIC_TRANSPORT_ERROR_APPLICATION		= 0x0c,
	QUIC_TRANSPORT_ERROR_CRYPTO_BUF_EXCEEDED	= 0x0d,
	QUIC_TRANSPORT_ERROR_KEY_UPDATE			= 0x0e,
	QUIC_TRANSPORT_ERROR_AEAD_LIMIT_REACHED		= 0x0f,
	QUIC_TRANSPORT_ERROR_NO_VIABLE_PATH		= 0x10,
	/* 0x0100-0x01ff: TLS alert + 0x100 (RFC 9001 section 4.8) */
	QUIC_TRANSPORT_ERROR_CRYPTO			= 0x0100,
};

/*
 * ---- TQUIC extensions (level SOL_QUIC, numbers from 0x1000) ----
 *
 * Options the draft does not define.  Their numbers cannot collide with
 * the draft's (which are below 0x1000); a kernel without TQUIC answers
 * them with ENOPROTOOPT.
 */
#define TQUIC_SOCKOPT_BASE		0x1000
#define TQUIC_SOCKOPT_MULTIPATH		0x1000	/* set, get: int (0 or 1), before connect()/listen() */
#define TQUIC_SOCKOPT_CONGESTION	0x1001	/* set, get: char[TQUIC_CC_NAME_MAX], NUL-terminated */
#define TQUIC_SOCKOPT_QUIC_LB		0x1002	/* set, get: struct tquic_lb_config (listeners) */
#define TQUIC_SOCKOPT_OFFLOAD		0x1003	/* set, get: int (enum tquic_offload_mode) */
#define TQUIC_SOCKOPT_QLOG		0x1004	/* set, get: int (0 or 1) */
#define TQUIC_SOCKOPT_STATS		0x1005	/* get: struct tquic_sock_stats */
/*
 * QUIC error codes have 62 bits; the draft's structures carry 32.  These
 * take and give whole codes: reset and stop-sending with struct
 * tquic_stream_error, and, once WIDE_ERRCODES is 1, QUIC_EVENT_STREAM_UPDATE
 * notifications carry struct tquic_stream_update instead of the draft's.
 */
#define TQUIC_SOCKOPT_STREAM_RESET	0x1006	/* set: struct tquic_stream_error */
#define TQUIC_SOCKOPT_STREAM_STOP_SENDING 0x1007	/* set: struct tquic_stream_error */
#define TQUIC_SOCKOPT_WIDE_ERRCODES	0x1008	/* set, get: int (0 or 1) */

/* Congestion controller names ("newreno", "cubic", ...), with the NUL. */
#define TQUIC_CC_NAME_MAX		16

/* QUIC-LB (draft-ietf-quic-load-balancers) server ID encoding. */
struct tquic_lb_config {
	__u8	config_id;		/* 0..6 (7 is reserved for unroutable CIDs) */
	__u8	server_id_len;		/* 1..15 */
	__u8	nonce_len;		/* 4..18, server_id_len + nonce_len <= 19 */
	__u8	encrypt;		/* !0: AES-128 with key, 0: plaintext */
	__u8	reserved[4];
	__u8	server_id[16];		/* server_id_len bytes used */
	__u8	key[16];		/* when encrypt */
};

enum tquic_offload_mode {
	TQUIC_OFFLOAD_OFF,		/* software crypto only */
	TQUIC_OFFLOAD_AUTO,		/* the device's when it offers it */
};

struct tquic_stream_error {
	__s64	stream_id;
	__u64	errcode;		/* below 2^62 */
};

/* QUIC_EVENT_STREAM_UPDATE with TQUIC_SOCKOPT_WIDE_ERRCODES. */
struct tquic_stream_update {
	__s64	id;
	__u8	state;
	__u8	reserved[7];
	__u64	errcode;		/* RESET_SENT / RESET_RECVD */
	__u64	finalsz;		/* SIZE_KNOWN / RECVD / RESET_RECVD */
};

/* Per-socket counters of the socket layer. */
struct tquic_sock_stats {
	__u64	rx_datagrams;		/* UDP datagrams demultiplexed to this socket */
	__u64	rx_bytes;
	__u64	rx_backlogged;		/* of which queued to the backlog (socket owned) */
	__u64	rx_dropped;		/* dropped: backlog full, socket closing, no engine */
	__u64	tx_datagrams;
	__u64	tx_bytes;
	__u64	timer_fired;
	__u64	timer_deferred;		/* timer expirations run from release_sock() */
	__u32	accept_queue;		/* listeners: connections waiting for accept() */
	__u32	accept_overflow;	/* listeners: Initials dropped, queue full */
	__u32	crypto_queued;		/* handshake bytes queued by sendmsg() */
	__u32	reserved;
};

#endif /* _UAPI_LINUX_QUIC_H */
