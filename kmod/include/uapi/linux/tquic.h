/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * TQUIC user-kernel contract: the generic netlink family "tquic" and, as
 * the socket API lands, the constants of the in-kernel QUIC socket API.
 *
 * pkg/uapi in the Go tree is generated from this file (go generate); a test
 * fails when the generated Go file is stale.
 */
#ifndef _UAPI_LINUX_TQUIC_H
#define _UAPI_LINUX_TQUIC_H

#include <linux/types.h>

/* In-kernel QUIC socket API (draft-lxin-quic-socket-apis). */
#define TQUIC_IPPROTO_QUIC	261
#define TQUIC_SOL_QUIC		288

/* Generic netlink family. */
#define TQUIC_GENL_NAME		"tquic"
#define TQUIC_GENL_VERSION	1

enum tquic_cmd {
	TQUIC_CMD_UNSPEC,
	TQUIC_CMD_GET_INFO,	/* module version, build id, crypto drivers */
	TQUIC_CMD_SELFTEST,	/* run the engine's vectors on kernel crypto */
	TQUIC_CMD_CONFIG_GET,	/* this network namespace's defaults */
	TQUIC_CMD_CONFIG_SET,	/* change them (CAP_NET_ADMIN in the netns) */
	TQUIC_CMD_EVENT_CONFIG,	/* multicast on "events": the config changed */
	TQUIC_CMD_CONN_GET,	/* do: TQUIC_A_ID; dump: every connection (TQUIC_A_CONN) */
	TQUIC_CMD_PATH_GET,	/* dump: every path (TQUIC_A_ID filters to one connection) */
	TQUIC_CMD_EVENT_CONN,	/* multicast on "events": TQUIC_A_EVENT, TQUIC_A_CONN */
	TQUIC_CMD_QLOG,		/* multicast on "qlog": TQUIC_A_ID, TQUIC_A_QLOG */

	__TQUIC_CMD_MAX,
};
#define TQUIC_CMD_MAX (__TQUIC_CMD_MAX - 1)

enum tquic_attr {
	TQUIC_A_UNSPEC,
	TQUIC_A_VERSION,		/* string: module version */
	TQUIC_A_BUILD_ID,		/* string: hash of the module sources */
	TQUIC_A_CRYPTO,			/* nest of TQUIC_A_CRYPTO_ALG */
	TQUIC_A_SELFTEST_PASSED,	/* u32 */
	TQUIC_A_SELFTEST_FAILED,	/* u32 */
	TQUIC_A_CONFIG,			/* nest of enum tquic_config_attr */
	TQUIC_A_CC_AVAILABLE,		/* nest of TQUIC_A_CC_NAME strings */
	TQUIC_A_PAD,
	TQUIC_A_ID,			/* u64: a connection's id (its socket's: stable, unique in the netns) */
	TQUIC_A_CONN,			/* nest of enum tquic_conn_attr */
	TQUIC_A_PATH,			/* nest of enum tquic_path_attr */
	TQUIC_A_EVENT,			/* u8: enum tquic_event_kind */
	TQUIC_A_QLOG,			/* nest of TQUIC_A_QLOG_EV (enum tquic_qlog_attr) */

	__TQUIC_A_MAX,
};
#define TQUIC_A_MAX (__TQUIC_A_MAX - 1)

/* One algorithm and the kernel crypto driver that implements it. */
enum tquic_crypto_attr {
	TQUIC_A_CRYPTO_UNSPEC,
	TQUIC_A_CRYPTO_ALG,		/* nest: one algorithm */
	TQUIC_A_CRYPTO_ALG_NAME,	/* string, e.g. "gcm(aes)" */
	TQUIC_A_CRYPTO_ALG_DRIVER,	/* string, e.g. "generic-gcm-aesni" */

	__TQUIC_A_CRYPTO_MAX,
};
#define TQUIC_A_CRYPTO_MAX (__TQUIC_A_CRYPTO_MAX - 1)

/* Congestion controllers the engine offers (in TQUIC_A_CC_AVAILABLE). */
enum tquic_cc_attr {
	TQUIC_A_CC_UNSPEC,
	TQUIC_A_CC_NAME,		/* string */

	__TQUIC_A_CC_MAX,
};

/* Multicast group for events (connection, path, key and config changes). */
#define TQUIC_GENL_MCGRP_EVENTS	"events"
/* Multicast group for qlog records of connections with qlog on (CAP_NET_ADMIN). */
#define TQUIC_GENL_MCGRP_QLOG	"qlog"

/* Per network namespace defaults that new connections start from. */
enum tquic_config_attr {
	TQUIC_A_CONFIG_UNSPEC,
	TQUIC_A_CONFIG_CC,		/* string: congestion control name */
	TQUIC_A_CONFIG_VERSIONS,	/* binary: u32 versions, most preferred first */
	TQUIC_A_CONFIG_PACING,		/* u8: 0 off, 1 on */
	TQUIC_A_CONFIG_ECN,		/* u8: enum tquic_ecn_mode */
	TQUIC_A_CONFIG_AMPLIFICATION,	/* u8: anti-amplification factor (1..10) */
	TQUIC_A_CONFIG_RETRY,		/* u8: enum tquic_retry_policy */
	TQUIC_A_CONFIG_IDLE_TIMEOUT_MS,	/* u32: max_idle_timeout, 0 = none */
	TQUIC_A_CONFIG_CID_LEN,		/* u8: length of CIDs we issue (0..20) */
	TQUIC_A_CONFIG_QLOG,		/* u8: 0 off, 1 qlog records for every new connection */

	__TQUIC_A_CONFIG_MAX,
};
#define TQUIC_A_CONFIG_MAX (__TQUIC_A_CONFIG_MAX - 1)

#define TQUIC_CONFIG_MAX_VERSIONS	8
#define TQUIC_CONFIG_CC_NAME_MAX	16

enum tquic_ecn_mode {
	TQUIC_ECN_OFF,		/* send Not-ECT */
	TQUIC_ECN_ECT0,		/* classic ECN: ECT(0) */
	TQUIC_ECN_L4S,		/* L4S: ECT(1), scalable congestion control */
};

enum tquic_retry_policy {
	TQUIC_RETRY_NEVER,
	TQUIC_RETRY_ALWAYS,
	TQUIC_RETRY_UNDER_LOAD,	/* only while handshakes pile up */
};

/*
 * One connection (a QUIC socket) in CONN_GET replies and EVENT_CONN.
 * Times are microseconds, windows and counts bytes unless named packets.
 * Addresses are 4 (IPv4) or 16 (IPv6) bytes in network order, ports u16 in
 * host order.  Engine counters are absent while a socket has no engine
 * connection (listeners, sockets before connect()).
 */
enum tquic_conn_attr {
	TQUIC_A_CONN_UNSPEC,
	TQUIC_A_CONN_PAD,
	TQUIC_A_CONN_ID,		/* u64 */
	TQUIC_A_CONN_STATE,		/* u8: enum tquic_conn_status */
	TQUIC_A_CONN_SERVER,		/* u8: 1 server side (accepted), 0 client */
	TQUIC_A_CONN_VERSION,		/* u32: QUIC version in use */
	TQUIC_A_CONN_LOCAL_ADDR,	/* binary: 4 or 16 bytes */
	TQUIC_A_CONN_LOCAL_PORT,	/* u16 */
	TQUIC_A_CONN_PEER_ADDR,		/* binary: 4 or 16 bytes */
	TQUIC_A_CONN_PEER_PORT,		/* u16 */
	TQUIC_A_CONN_ALPN,		/* binary: the socket's ALPN list ("a,b") */
	TQUIC_A_CONN_CC,		/* string: congestion controller */
	TQUIC_A_CONN_CC_STATE,		/* string: e.g. "slow_start", "recovery" */
	TQUIC_A_CONN_PKTS_SENT,		/* u64: QUIC packets */
	TQUIC_A_CONN_PKTS_RECV,		/* u64 */
	TQUIC_A_CONN_PKTS_LOST,		/* u64: declared lost (their frames are sent again) */
	TQUIC_A_CONN_PKTS_DROPPED,	/* u64: received but not processed */
	TQUIC_A_CONN_BYTES_SENT,	/* u64: UDP payload bytes */
	TQUIC_A_CONN_BYTES_RECV,	/* u64 */
	TQUIC_A_CONN_BYTES_LOST,	/* u64: of the lost packets, i.e. bytes retransmitted */
	TQUIC_A_CONN_RTT_MIN,		/* u64 us */
	TQUIC_A_CONN_RTT_SMOOTHED,	/* u64 us */
	TQUIC_A_CONN_RTT_VAR,		/* u64 us */
	TQUIC_A_CONN_RTT_LATEST,	/* u64 us */
	TQUIC_A_CONN_CWND,		/* u64 */
	TQUIC_A_CONN_SSTHRESH,		/* u64 (U64_MAX before the first congestion event) */
	TQUIC_A_CONN_BYTES_IN_FLIGHT,	/* u64 */
	TQUIC_A_CONN_PACING_RATE,	/* u64: bytes per second */
	TQUIC_A_CONN_KEY_UPDATES,	/* u64 */
	TQUIC_A_CONN_PTO_COUNT,		/* u64: probe timeouts */
	TQUIC_A_CONN_PATHS,		/* u32: paths the connection has */
	TQUIC_A_CONN_HANDSHAKE_CONFIRMED, /* u8 */
	TQUIC_A_CONN_QLOG,		/* u8: qlog records on */
	TQUIC_A_CONN_UDP_TX_DATAGRAMS,	/* u64: socket layer, datagrams handed to UDP */
	TQUIC_A_CONN_UDP_TX_BYTES,	/* u64 */
	TQUIC_A_CONN_UDP_RX_DROPPED,	/* u64: socket layer drops */

	__TQUIC_A_CONN_MAX,
};
#define TQUIC_A_CONN_MAX (__TQUIC_A_CONN_MAX - 1)

/* TQUIC_A_CONN_STATE */
enum tquic_conn_status {
	TQUIC_CONN_STATUS_IDLE,		/* no connection yet (not connected) */
	TQUIC_CONN_STATUS_LISTEN,	/* a listener */
	TQUIC_CONN_STATUS_HANDSHAKE,
	TQUIC_CONN_STATUS_ESTABLISHED,
	TQUIC_CONN_STATUS_CLOSING,	/* closing or draining */
	TQUIC_CONN_STATUS_CLOSED,
};

/* One path of a connection in PATH_GET replies (next to TQUIC_A_ID). */
enum tquic_path_attr {
	TQUIC_A_PATH_UNSPEC,
	TQUIC_A_PATH_PAD,
	TQUIC_A_PATH_ID,		/* u32 */
	TQUIC_A_PATH_STATUS,		/* u8: enum tquic_path_status */
	TQUIC_A_PATH_LOCAL_ADDR,	/* binary: 4 or 16 bytes */
	TQUIC_A_PATH_LOCAL_PORT,	/* u16 */
	TQUIC_A_PATH_PEER_ADDR,		/* binary: 4 or 16 bytes */
	TQUIC_A_PATH_PEER_PORT,		/* u16 */
	TQUIC_A_PATH_MTU,		/* u32: UDP payload */
	TQUIC_A_PATH_RTT_MIN,		/* u64 us */
	TQUIC_A_PATH_RTT_SMOOTHED,	/* u64 us */
	TQUIC_A_PATH_RTT_VAR,		/* u64 us */
	TQUIC_A_PATH_RTT_LATEST,	/* u64 us */
	TQUIC_A_PATH_CWND,		/* u64 */
	TQUIC_A_PATH_BYTES_IN_FLIGHT,	/* u64 */
	TQUIC_A_PATH_PACING_RATE,	/* u64: bytes per second */
	TQUIC_A_PATH_CC_STATE,		/* string */
	TQUIC_A_PATH_PKTS_SENT,		/* u64: in-flight packets */
	TQUIC_A_PATH_PKTS_ACKED,	/* u64 */
	TQUIC_A_PATH_PKTS_LOST,		/* u64 */
	TQUIC_A_PATH_BYTES_SENT,	/* u64: in-flight bytes */
	TQUIC_A_PATH_BYTES_LOST,	/* u64 */
	TQUIC_A_PATH_ECN_STATE,		/* u8: enum tquic_path_ecn_state */
	TQUIC_A_PATH_ECN_SENT_ECT0,	/* u64: packets we marked */
	TQUIC_A_PATH_ECN_SENT_ECT1,	/* u64 */
	TQUIC_A_PATH_ECN_ECT0,		/* u64: counts the peer reported */
	TQUIC_A_PATH_ECN_ECT1,		/* u64 */
	TQUIC_A_PATH_ECN_CE,		/* u64 */

	__TQUIC_A_PATH_MAX,
};
#define TQUIC_A_PATH_MAX (__TQUIC_A_PATH_MAX - 1)

enum tquic_path_status {
	TQUIC_PATH_STATUS_VALIDATING,	/* the peer's address is not validated yet */
	TQUIC_PATH_STATUS_ACTIVE,	/* validated, carrying data */
	TQUIC_PATH_STATUS_STANDBY,
	TQUIC_PATH_STATUS_CLOSED,
};

enum tquic_path_ecn_state {
	TQUIC_PATH_ECN_DISABLED,
	TQUIC_PATH_ECN_TESTING,
	TQUIC_PATH_ECN_UNKNOWN,
	TQUIC_PATH_ECN_CAPABLE,
	TQUIC_PATH_ECN_FAILED,
};

/* TQUIC_A_EVENT of TQUIC_CMD_EVENT_CONN. */
enum tquic_event_kind {
	TQUIC_EVENT_UNSPEC,
	TQUIC_EVENT_CONN_UP,		/* handshake complete: established */
	TQUIC_EVENT_CONN_DOWN,		/* closing (local or remote close, idle, reset) */
	TQUIC_EVENT_KEY_UPDATE,		/* 1-RTT key phase changed */
	TQUIC_EVENT_PATH_CHANGE,	/* a path was validated, added, or its address changed */
	TQUIC_EVENT_VERSION_NEGOTIATION, /* the server offered no version in common */
};

/*
 * qlog records.  TQUIC_CMD_QLOG carries TQUIC_A_ID and TQUIC_A_QLOG,
 * a nest of TQUIC_A_QLOG_EV nests in time order, each one event.
 */
enum tquic_qlog_attr {
	TQUIC_A_QLOG_UNSPEC,
	TQUIC_A_QLOG_PAD,
	TQUIC_A_QLOG_EV,		/* nest: one event */
	TQUIC_A_QLOG_TYPE,		/* u8: enum tquic_qlog_type */
	TQUIC_A_QLOG_TIME,		/* u64: ns since the connection's qlog started */
	TQUIC_A_QLOG_PKT_TYPE,		/* u8: enum tquic_qlog_pkt_type */
	TQUIC_A_QLOG_PN,		/* u64: packet number */
	TQUIC_A_QLOG_LEN,		/* u32: packet length */
	TQUIC_A_QLOG_TRIGGER,		/* u8: drop reason / key update trigger */
	TQUIC_A_QLOG_RTT_MIN,		/* u64 us (metrics) */
	TQUIC_A_QLOG_RTT_SMOOTHED,	/* u64 us */
	TQUIC_A_QLOG_RTT_VAR,		/* u64 us */
	TQUIC_A_QLOG_RTT_LATEST,	/* u64 us */
	TQUIC_A_QLOG_CWND,		/* u64 */
	TQUIC_A_QLOG_BYTES_IN_FLIGHT,	/* u64 */
	TQUIC_A_QLOG_SSTHRESH,		/* u64 */
	TQUIC_A_QLOG_PACING_RATE,	/* u64: bytes per second */
	TQUIC_A_QLOG_CC_STATE,		/* string */
	TQUIC_A_QLOG_VERSION,		/* u32 */
	TQUIC_A_QLOG_ALPN,		/* binary: ALPN list */
	TQUIC_A_QLOG_SERVER,		/* u8: vantage point is the server */
	TQUIC_A_QLOG_CODE,		/* u64: close error code, key phase */
	TQUIC_A_QLOG_SPACE,		/* u8: packet number space (0 initial, 1 handshake, 2 app) */
	TQUIC_A_QLOG_LOST,		/* u32: records lost to a full buffer before this one */

	__TQUIC_A_QLOG_MAX,
};
#define TQUIC_A_QLOG_MAX (__TQUIC_A_QLOG_MAX - 1)

enum tquic_qlog_type {
	TQUIC_QLOG_CONN_STARTED,	/* VERSION, ALPN, SERVER */
	TQUIC_QLOG_PACKET_SENT,		/* PKT_TYPE, PN, LEN */
	TQUIC_QLOG_PACKET_RECEIVED,	/* PKT_TYPE, PN, LEN */
	TQUIC_QLOG_PACKET_DROPPED,	/* PKT_TYPE, LEN, TRIGGER (enum tquic_qlog_drop) */
	TQUIC_QLOG_PACKETS_ACKED,	/* SPACE, PN */
	TQUIC_QLOG_PACKET_LOST,		/* SPACE, PN */
	TQUIC_QLOG_METRICS,		/* RTT_*, CWND, BYTES_IN_FLIGHT, SSTHRESH, PACING_RATE */
	TQUIC_QLOG_CC_STATE,		/* CC_STATE */
	TQUIC_QLOG_KEY_UPDATE,		/* CODE = new key phase, TRIGGER 1 = the peer's */
	TQUIC_QLOG_VERSION,		/* VERSION: the version in use changed */
	TQUIC_QLOG_HANDSHAKE_DONE,
	TQUIC_QLOG_CONN_CLOSED,		/* CODE, TRIGGER (enum tquic_qlog_close) */
	TQUIC_QLOG_PATH_VALIDATED,
	TQUIC_QLOG_ALPN,		/* ALPN */
};

enum tquic_qlog_pkt_type {
	TQUIC_QLOG_PKT_INITIAL,
	TQUIC_QLOG_PKT_0RTT,
	TQUIC_QLOG_PKT_HANDSHAKE,
	TQUIC_QLOG_PKT_RETRY,
	TQUIC_QLOG_PKT_1RTT,
	TQUIC_QLOG_PKT_VN,
	TQUIC_QLOG_PKT_UNKNOWN,
};

enum tquic_qlog_drop {
	TQUIC_QLOG_DROP_DECRYPT,	/* failed to authenticate */
	TQUIC_QLOG_DROP_DUPLICATE,
	TQUIC_QLOG_DROP_UNKNOWN_CID,
	TQUIC_QLOG_DROP_RESOURCES,	/* a local limit */
	TQUIC_QLOG_DROP_PATH,		/* from an address not allowed */
};

enum tquic_qlog_close {
	TQUIC_QLOG_CLOSE_LOCAL,
	TQUIC_QLOG_CLOSE_REMOTE,
	TQUIC_QLOG_CLOSE_IDLE,
	TQUIC_QLOG_CLOSE_RESET,
	TQUIC_QLOG_CLOSE_HANDSHAKE,
};

#endif /* _UAPI_LINUX_TQUIC_H */
