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

#endif /* _UAPI_LINUX_TQUIC_H */
