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

#endif /* _UAPI_LINUX_TQUIC_H */
