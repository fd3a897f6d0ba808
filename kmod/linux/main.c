// SPDX-License-Identifier: GPL-2.0
/*
 * TQUIC: a QUIC transport in the Linux kernel.  Module entry points.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <net/genetlink.h>

#include "tquic.h"
#include "tquic_crypto.h"
#include "quic_sock.h"

const char tquic_build_id[] = TQUIC_BUILD_ID;

static int __init tquic_init(void)
{
	u32 passed, failed;
	int err;

	err = tquic_obj_init();
	if (err)
		return err;
	err = tquic_crypto_init();
	if (err) {
		pr_err("crypto setup failed: %d\n", err);
		goto err_obj;
	}
	/* Refuse to carry traffic on crypto that fails the RFC vectors. */
	err = tquic_crypto_selftest(&passed, &failed);
	if (err) {
		pr_err("self-test failed (%u of %u checks): not loading\n", failed, passed + failed);
		goto err_crypto;
	}
	err = tquic_config_init();
	if (err) {
		pr_err("per-namespace config registration failed: %d\n", err);
		goto err_crypto;
	}
	err = tquic_sock_init();
	if (err)
		goto err_config;
	err = tquic_genl_init();
	if (err) {
		pr_err("generic netlink family registration failed: %d\n", err);
		goto err_sock;
	}
	pr_info("version %s (build %s) loaded\n", TQUIC_MODULE_VERSION, tquic_build_id);
	return 0;

err_sock:
	tquic_sock_exit();
err_config:
	tquic_config_exit();
err_crypto:
	tquic_crypto_exit();
err_obj:
	tquic_obj_exit();
	return err;
}

static void __exit tquic_exit(void)
{
	tquic_genl_exit();
	tquic_sock_exit();
	tquic_config_exit();
	tquic_crypto_exit();
	tquic_obj_exit();
	pr_info("unloaded\n");
}

module_init(tquic_init);
module_exit(tquic_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("TQUIC developers");
MODULE_DESCRIPTION("TQUIC: QUIC transport protocol");
MODULE_VERSION(TQUIC_MODULE_VERSION);
MODULE_ALIAS_GENL_FAMILY(TQUIC_GENL_NAME);
/* The crypto API picks the best driver among those loaded: load the
 * accelerated AES-GCM and ChaCha20-Poly1305 drivers before ours.
 */
MODULE_SOFTDEP("pre: aesni_intel ghash_clmulni_intel gcm chacha_x86_64 poly1305_x86_64 chacha20poly1305 sha256_ssse3 sha512_ssse3");
