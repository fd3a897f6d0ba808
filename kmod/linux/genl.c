// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink family "tquic": the one configuration and observation
 * channel between user space (tquicctl, tquicd) and the module.
 */
#include <linux/kernel.h>
#include <linux/err.h>
#include <net/genetlink.h>
#include <linux/crypto.h>

#include "tquic.h"
#include "tquic_crypto.h"
#include "cc.h"

enum { TQUIC_GENL_MCGRP_EVENTS_ID };

static int tquic_validate_versions(const struct nlattr *attr, struct netlink_ext_ack *extack);

/* An hour: longer idle timeouts only keep dead peers' state around. */
static struct netlink_range_validation tquic_idle_timeout_range __ro_after_init = {
	.min = 0,
	.max = 3600000,
};

static const struct nla_policy tquic_config_policy[TQUIC_A_CONFIG_MAX + 1] = {
	[TQUIC_A_CONFIG_CC]		= { .type = NLA_NUL_STRING,
					    .len = TQUIC_CONFIG_CC_NAME_MAX - 1 },
	[TQUIC_A_CONFIG_VERSIONS]	= NLA_POLICY_VALIDATE_FN(NLA_BINARY, tquic_validate_versions,
								 TQUIC_CONFIG_MAX_VERSIONS * 4),
	[TQUIC_A_CONFIG_PACING]		= NLA_POLICY_MAX(NLA_U8, 1),
	[TQUIC_A_CONFIG_ECN]		= NLA_POLICY_MAX(NLA_U8, TQUIC_ECN_L4S),
	[TQUIC_A_CONFIG_AMPLIFICATION]	= NLA_POLICY_RANGE(NLA_U8, 1, 10),
	[TQUIC_A_CONFIG_RETRY]		= NLA_POLICY_MAX(NLA_U8, TQUIC_RETRY_UNDER_LOAD),
	[TQUIC_A_CONFIG_IDLE_TIMEOUT_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &tquic_idle_timeout_range),
	[TQUIC_A_CONFIG_CID_LEN]	= NLA_POLICY_MAX(NLA_U8, 20),
};

static const struct nla_policy tquic_genl_policy[TQUIC_A_MAX + 1] = {
	[TQUIC_A_VERSION]		= { .type = NLA_NUL_STRING },
	[TQUIC_A_BUILD_ID]		= { .type = NLA_NUL_STRING },
	[TQUIC_A_CRYPTO]		= { .type = NLA_NESTED },
	[TQUIC_A_SELFTEST_PASSED]	= { .type = NLA_U32 },
	[TQUIC_A_SELFTEST_FAILED]	= { .type = NLA_U32 },
	[TQUIC_A_CONFIG]		= NLA_POLICY_NESTED(tquic_config_policy),
	[TQUIC_A_CC_AVAILABLE]		= { .type = NLA_NESTED },
};

static bool tquic_version_supported(u32 version)
{
	return version == TQUIC_VERSION_V1 || version == TQUIC_VERSION_V2;
}

static int tquic_validate_versions(const struct nlattr *attr, struct netlink_ext_ack *extack)
{
	const __be32 *v = nla_data(attr);
	int i, n, len = nla_len(attr);

	if (len == 0 || len % 4) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "versions: need 1 to 8 32-bit versions");
		return -EINVAL;
	}
	n = len / 4;
	for (i = 0; i < n; i++) {
		if (!tquic_version_supported(be32_to_cpu(v[i]))) {
			NL_SET_ERR_MSG_ATTR(extack, attr, "versions: only QUIC v1 (0x1) and v2 (0x6b3343cf) are supported");
			return -EINVAL;
		}
	}
	return 0;
}

/* The algorithms the engine uses; GET_INFO names the driver the kernel picks. */
static const char *const tquic_crypto_algs[] = {
	"gcm(aes)",
	"rfc7539(chacha20,poly1305)",
	"ecb(aes)",
	"chacha20",
	"hmac(sha256)",
	"hmac(sha384)",
};

static int tquic_put_crypto_driver(struct sk_buff *skb, const char *alg)
{
	char driver[CRYPTO_MAX_ALG_NAME];
	struct nlattr *nest;

	if (tquic_crypto_driver_name(alg, driver, sizeof(driver)))
		strscpy(driver, "unavailable", sizeof(driver));
	nest = nla_nest_start(skb, TQUIC_A_CRYPTO_ALG);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_string(skb, TQUIC_A_CRYPTO_ALG_NAME, alg) ||
	    nla_put_string(skb, TQUIC_A_CRYPTO_ALG_DRIVER, driver)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int tquic_put_cc_available(struct sk_buff *skb)
{
	const struct tquic_cc_ops *ops;
	struct nlattr *nest;
	unsigned int i;

	nest = nla_nest_start(skb, TQUIC_A_CC_AVAILABLE);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; (ops = tquic_cc_get(i)); i++) {
		if (nla_put_string(skb, TQUIC_A_CC_NAME, ops->name)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
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
	for (i = 0; i < ARRAY_SIZE(tquic_crypto_algs); i++) {
		err = tquic_put_crypto_driver(msg, tquic_crypto_algs[i]);
		if (err)
			goto err_free;
	}
	nla_nest_end(msg, crypto);

	err = tquic_put_cc_available(msg);
	if (err)
		goto err_free;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

static int tquic_genl_selftest(struct sk_buff *skb, struct genl_info *info)
{
	u32 passed, failed;
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = tquic_crypto_selftest(&passed, &failed);
	if (err && err != -EBADMSG)
		return err;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &tquic_genl_family, 0, TQUIC_CMD_SELFTEST);
	if (!hdr || nla_put_u32(msg, TQUIC_A_SELFTEST_PASSED, passed) ||
	    nla_put_u32(msg, TQUIC_A_SELFTEST_FAILED, failed)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int tquic_put_config(struct sk_buff *skb, const struct tquic_config *cfg)
{
	__be32 versions[TQUIC_CONFIG_MAX_VERSIONS];
	struct nlattr *nest;
	unsigned int i;

	for (i = 0; i < cfg->nr_versions; i++)
		versions[i] = cpu_to_be32(cfg->versions[i]);
	nest = nla_nest_start(skb, TQUIC_A_CONFIG);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_string(skb, TQUIC_A_CONFIG_CC, cfg->cc) ||
	    nla_put(skb, TQUIC_A_CONFIG_VERSIONS, cfg->nr_versions * 4, versions) ||
	    nla_put_u8(skb, TQUIC_A_CONFIG_PACING, cfg->pacing) ||
	    nla_put_u8(skb, TQUIC_A_CONFIG_ECN, cfg->ecn) ||
	    nla_put_u8(skb, TQUIC_A_CONFIG_AMPLIFICATION, cfg->amplification) ||
	    nla_put_u8(skb, TQUIC_A_CONFIG_RETRY, cfg->retry) ||
	    nla_put_u32(skb, TQUIC_A_CONFIG_IDLE_TIMEOUT_MS, cfg->idle_timeout_ms) ||
	    nla_put_u8(skb, TQUIC_A_CONFIG_CID_LEN, cfg->cid_len)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static struct sk_buff *tquic_config_msg(const struct tquic_config *cfg, u32 portid, u32 seq,
					 u8 cmd)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return ERR_PTR(-ENOMEM);
	hdr = genlmsg_put(msg, portid, seq, &tquic_genl_family, 0, cmd);
	if (!hdr || tquic_put_config(msg, cfg)) {
		nlmsg_free(msg);
		return ERR_PTR(-EMSGSIZE);
	}
	genlmsg_end(msg, hdr);
	return msg;
}

static int tquic_genl_config_get(struct sk_buff *skb, struct genl_info *info)
{
	struct tquic_config cfg;
	struct sk_buff *msg;

	tquic_config_get(genl_info_net(info), &cfg);
	msg = tquic_config_msg(&cfg, info->snd_portid, info->snd_seq, TQUIC_CMD_CONFIG_GET);
	if (IS_ERR(msg))
		return PTR_ERR(msg);
	return genlmsg_reply(msg, info);
}

struct tquic_config_change {
	struct nlattr *tb[TQUIC_A_CONFIG_MAX + 1];
	struct netlink_ext_ack *extack;
};

static int tquic_apply_config(struct tquic_config *cfg, void *arg)
{
	struct tquic_config_change *ch = arg;
	struct nlattr **tb = ch->tb;
	unsigned int i;

	if (tb[TQUIC_A_CONFIG_CC]) {
		if (!tquic_cc_find(nla_data(tb[TQUIC_A_CONFIG_CC]))) {
			NL_SET_ERR_MSG_ATTR(ch->extack, tb[TQUIC_A_CONFIG_CC],
					    "unknown congestion control (tquicctl show lists the available ones)");
			return -ENOENT;
		}
		nla_strscpy(cfg->cc, tb[TQUIC_A_CONFIG_CC], sizeof(cfg->cc));
	}
	if (tb[TQUIC_A_CONFIG_VERSIONS]) {
		const __be32 *v = nla_data(tb[TQUIC_A_CONFIG_VERSIONS]);

		cfg->nr_versions = nla_len(tb[TQUIC_A_CONFIG_VERSIONS]) / 4;
		for (i = 0; i < cfg->nr_versions; i++)
			cfg->versions[i] = be32_to_cpu(v[i]);
	}
	if (tb[TQUIC_A_CONFIG_PACING])
		cfg->pacing = nla_get_u8(tb[TQUIC_A_CONFIG_PACING]);
	if (tb[TQUIC_A_CONFIG_ECN])
		cfg->ecn = nla_get_u8(tb[TQUIC_A_CONFIG_ECN]);
	if (tb[TQUIC_A_CONFIG_AMPLIFICATION])
		cfg->amplification = nla_get_u8(tb[TQUIC_A_CONFIG_AMPLIFICATION]);
	if (tb[TQUIC_A_CONFIG_RETRY])
		cfg->retry = nla_get_u8(tb[TQUIC_A_CONFIG_RETRY]);
	if (tb[TQUIC_A_CONFIG_IDLE_TIMEOUT_MS])
		cfg->idle_timeout_ms = nla_get_u32(tb[TQUIC_A_CONFIG_IDLE_TIMEOUT_MS]);
	if (tb[TQUIC_A_CONFIG_CID_LEN])
		cfg->cid_len = nla_get_u8(tb[TQUIC_A_CONFIG_CID_LEN]);
	return 0;
}

static int tquic_genl_config_set(struct sk_buff *skb, struct genl_info *info)
{
	struct tquic_config_change ch = { .extack = info->extack };
	struct net *net = genl_info_net(info);
	struct tquic_config cfg;
	struct sk_buff *msg;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, TQUIC_A_CONFIG))
		return -EINVAL;
	err = nla_parse_nested(ch.tb, TQUIC_A_CONFIG_MAX, info->attrs[TQUIC_A_CONFIG],
			       tquic_config_policy, info->extack);
	if (err)
		return err;
	err = tquic_config_update(net, tquic_apply_config, &ch);
	if (err)
		return err;

	/* Tell listeners on the events group; nobody listening is fine. */
	tquic_config_get(net, &cfg);
	msg = tquic_config_msg(&cfg, 0, 0, TQUIC_CMD_EVENT_CONFIG);
	if (!IS_ERR(msg))
		genlmsg_multicast_netns(&tquic_genl_family, net, msg, 0,
					TQUIC_GENL_MCGRP_EVENTS_ID, GFP_KERNEL);
	return 0;
}

static const struct genl_small_ops tquic_genl_ops[] = {
	{
		.cmd	= TQUIC_CMD_GET_INFO,
		.doit	= tquic_genl_get_info,
	},
	{
		.cmd	= TQUIC_CMD_SELFTEST,
		.doit	= tquic_genl_selftest,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= TQUIC_CMD_CONFIG_GET,
		.doit	= tquic_genl_config_get,
	},
	{
		.cmd	= TQUIC_CMD_CONFIG_SET,
		.doit	= tquic_genl_config_set,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
};

static const struct genl_multicast_group tquic_genl_mcgrps[] = {
	[TQUIC_GENL_MCGRP_EVENTS_ID] = { .name = TQUIC_GENL_MCGRP_EVENTS },
};

static struct genl_family tquic_genl_family __ro_after_init = {
	.name		= TQUIC_GENL_NAME,
	.version	= TQUIC_GENL_VERSION,
	.maxattr	= TQUIC_A_MAX,
	.policy		= tquic_genl_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.small_ops	= tquic_genl_ops,
	.mcgrps		= tquic_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(tquic_genl_mcgrps),
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
