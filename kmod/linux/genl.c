// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink family "tquic": the one configuration and observation
 * channel between user space (tquicctl, tquicd) and the module.
 */
#include <linux/kernel.h>
#include <linux/err.h>
#include <net/genetlink.h>
#include <crypto/aead.h>

#include "tquic.h"

static const struct nla_policy tquic_genl_policy[TQUIC_A_MAX + 1] = {
	[TQUIC_A_VERSION]		= { .type = NLA_NUL_STRING },
	[TQUIC_A_BUILD_ID]		= { .type = NLA_NUL_STRING },
	[TQUIC_A_CRYPTO]		= { .type = NLA_NESTED },
	[TQUIC_A_SELFTEST_PASSED]	= { .type = NLA_U32 },
	[TQUIC_A_SELFTEST_FAILED]	= { .type = NLA_U32 },
};

/* The AEADs the engine uses; GET_INFO names the driver the kernel picks. */
static const char *const tquic_aead_algs[] = {
	"gcm(aes)",
	"rfc7539(chacha20,poly1305)",
};

static int tquic_put_crypto_driver(struct sk_buff *skb, const char *alg)
{
	struct crypto_aead *tfm;
	struct nlattr *nest;
	const char *driver;
	int err;

	tfm = crypto_alloc_aead(alg, 0, 0);
	driver = IS_ERR(tfm) ? "unavailable" : crypto_aead_driver_name(tfm);

	err = -EMSGSIZE;
	nest = nla_nest_start(skb, TQUIC_A_CRYPTO_ALG);
	if (!nest)
		goto out;
	if (nla_put_string(skb, TQUIC_A_CRYPTO_ALG_NAME, alg) ||
	    nla_put_string(skb, TQUIC_A_CRYPTO_ALG_DRIVER, driver)) {
		nla_nest_cancel(skb, nest);
		goto out;
	}
	nla_nest_end(skb, nest);
	err = 0;
out:
	if (!IS_ERR(tfm))
		crypto_free_aead(tfm);
	return err;
}

static struct genl_family tquic_genl_family;

static int tquic_genl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *crypto;
	struct sk_buff *msg;
	unsigned int i;
	void *hdr;
	int err;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	err = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &tquic_genl_family, 0, TQUIC_CMD_GET_INFO);
	if (!hdr)
		goto err_free;
	if (nla_put_string(msg, TQUIC_A_VERSION, TQUIC_MODULE_VERSION) ||
	    nla_put_string(msg, TQUIC_A_BUILD_ID, tquic_build_id))
		goto err_free;

	crypto = nla_nest_start(msg, TQUIC_A_CRYPTO);
	if (!crypto)
		goto err_free;
	for (i = 0; i < ARRAY_SIZE(tquic_aead_algs); i++) {
		err = tquic_put_crypto_driver(msg, tquic_aead_algs[i]);
		if (err)
			goto err_free;
	}
	nla_nest_end(msg, crypto);

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

static const struct genl_small_ops tquic_genl_ops[] = {
	{
		.cmd	= TQUIC_CMD_GET_INFO,
		.doit	= tquic_genl_get_info,
	},
};

static struct genl_family tquic_genl_family __ro_after_init = {
	.name		= TQUIC_GENL_NAME,
	.version	= TQUIC_GENL_VERSION,
	.maxattr	= TQUIC_A_MAX,
	.policy		= tquic_genl_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.small_ops	= tquic_genl_ops,
	.n_small_ops	= ARRAY_SIZE(tquic_genl_ops),
	.resv_start_op	= TQUIC_CMD_GET_INFO,
};

int __init tquic_genl_init(void)
{
	return genl_register_family(&tquic_genl_family);
}

void tquic_genl_exit(void)
{
	genl_unregister_family(&tquic_genl_family);
}
