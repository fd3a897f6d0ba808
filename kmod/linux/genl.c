// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink family "tquic": the one configuration and observation
 * channel between user space (tquicctl, tquicd) and the module.
 */
#include <linux/kernel.h>
#include <linux/err.h>
#include <net/genetlink.h>
#include <net/tcp_states.h>
#include <linux/crypto.h>
#if IS_ENABLED(CONFIG_IPV6)
#include <net/ipv6.h>
#endif

#include "tquic.h"
#include "tquic_crypto.h"
#include "quic_sock.h"
#include "qlog.h"
#include "conn.h"

enum { TQUIC_GENL_MCGRP_EVENTS_ID, TQUIC_GENL_MCGRP_QLOG_ID };

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
	[TQUIC_A_CONFIG_QLOG]		= NLA_POLICY_MAX(NLA_U8, 1),
};

static const struct nla_policy tquic_genl_policy[TQUIC_A_MAX + 1] = {
	[TQUIC_A_VERSION]		= { .type = NLA_NUL_STRING },
	[TQUIC_A_BUILD_ID]		= { .type = NLA_NUL_STRING },
	[TQUIC_A_CRYPTO]		= { .type = NLA_NESTED },
	[TQUIC_A_SELFTEST_PASSED]	= { .type = NLA_U32 },
	[TQUIC_A_SELFTEST_FAILED]	= { .type = NLA_U32 },
	[TQUIC_A_CONFIG]		= NLA_POLICY_NESTED(tquic_config_policy),
	[TQUIC_A_CC_AVAILABLE]		= { .type = NLA_NESTED },
	/* Requests name a connection by id; the rest only flows to user space. */
	[TQUIC_A_PAD]			= { .type = NLA_REJECT },
	[TQUIC_A_ID]			= NLA_POLICY_MIN(NLA_U64, 1),
	[TQUIC_A_CONN]			= { .type = NLA_REJECT },
	[TQUIC_A_PATH]			= { .type = NLA_REJECT },
	[TQUIC_A_EVENT]			= { .type = NLA_REJECT },
	[TQUIC_A_QLOG]			= { .type = NLA_REJECT },
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

static int tquic_put_config(struct sk_buff *skb, const struct tquic_config *cfg, bool qlog)
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
	    nla_put_u8(skb, TQUIC_A_CONFIG_CID_LEN, cfg->cid_len) ||
	    nla_put_u8(skb, TQUIC_A_CONFIG_QLOG, qlog)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static struct sk_buff *tquic_config_msg(struct net *net, const struct tquic_config *cfg,
					 u32 portid, u32 seq, u8 cmd)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return ERR_PTR(-ENOMEM);
	hdr = genlmsg_put(msg, portid, seq, &tquic_genl_family, 0, cmd);
	if (!hdr || tquic_put_config(msg, cfg, tquic_qlog_global(net))) {
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
	msg = tquic_config_msg(genl_info_net(info), &cfg, info->snd_portid, info->snd_seq,
			       TQUIC_CMD_CONFIG_GET);
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

	if (GENL_REQ_ATTR_CHECK(info, TQUIC_A_CONFIG)) {
		NL_SET_ERR_MSG(info->extack, "missing TQUIC_A_CONFIG: the settings to change");
		return -EINVAL;
	}
	err = nla_parse_nested(ch.tb, TQUIC_A_CONFIG_MAX, info->attrs[TQUIC_A_CONFIG],
			       tquic_config_policy, info->extack);
	if (err)
		return err;
	err = tquic_config_update(net, tquic_apply_config, &ch);
	if (err)
		return err;
	/* The qlog switch lives with the qlog state, not in struct tquic_config. */
	if (ch.tb[TQUIC_A_CONFIG_QLOG])
		tquic_qlog_set_global(net, nla_get_u8(ch.tb[TQUIC_A_CONFIG_QLOG]));

	/* Tell listeners on the events group; nobody listening is fine. */
	tquic_config_get(net, &cfg);
	msg = tquic_config_msg(net, &cfg, 0, 0, TQUIC_CMD_EVENT_CONFIG);
	if (!IS_ERR(msg))
		genlmsg_multicast_netns(&tquic_genl_family, net, msg, 0,
					TQUIC_GENL_MCGRP_EVENTS_ID, GFP_KERNEL);
	return 0;
}

/* ---- connections and paths ---- */

/*
 * @sk's engine connection when it may be looked at (socket owned).  Once
 * close() left a socket closed and shut down both ways, ->destroy frees
 * the engine connection without the socket lock: such sockets (and
 * connections the peer closed and that drained) show socket-level
 * information only.
 */
static struct tquic_conn *tquic_genl_conn(struct sock *sk)
{
	if (sk->sk_state == TCP_CLOSE && (sk->sk_shutdown & SHUTDOWN_MASK) == SHUTDOWN_MASK)
		return NULL;
	return tquic_sk(sk)->conn;
}

static int tquic_put_addr(struct sk_buff *skb, int addr_attr, int port_attr,
			  const struct tquic_addr *a)
{
	if (a->family == TQUIC_ADDR_V4)
		return nla_put(skb, addr_attr, 4, a->addr) || nla_put_u16(skb, port_attr, a->port);
	if (a->family == TQUIC_ADDR_V6)
		return nla_put(skb, addr_attr, 16, a->addr) || nla_put_u16(skb, port_attr, a->port);
	return 0;
}

static u8 tquic_conn_status(struct sock *sk, struct tquic_conn *c, const struct tquic_conn_info *ci)
{
	if (sk->sk_state == TCP_LISTEN)
		return TQUIC_CONN_STATUS_LISTEN;
	if (!c)
		return tquic_sk(sk)->was_connected ? TQUIC_CONN_STATUS_CLOSED :
						     TQUIC_CONN_STATUS_IDLE;
	if (tquic_conn_is_drained(c))
		return TQUIC_CONN_STATUS_CLOSED;
	if (ci->closing)
		return TQUIC_CONN_STATUS_CLOSING;
	if (sk->sk_state == TCP_ESTABLISHED)
		return TQUIC_CONN_STATUS_ESTABLISHED;
	if (sk->sk_state == TCP_CLOSE)
		return TQUIC_CONN_STATUS_CLOSED;
	return TQUIC_CONN_STATUS_HANDSHAKE;
}

static int tquic_put_u64(struct sk_buff *skb, int attr, u64 v)
{
	return nla_put_u64_64bit(skb, attr, v, TQUIC_A_CONN_PAD);
}

/* TQUIC_A_CONN of @sk (socket owned). */
static int tquic_put_conn(struct sk_buff *skb, struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct tquic_conn *c = tquic_genl_conn(sk);
	struct tquic_conn_info ci = {};
	struct tquic_path_info pi = {};
	struct tquic_conn_stats st;
	struct tquic_addr local, peer;
	struct nlattr *nest;
	struct tquic_config ns;

	if (c) {
		tquic_conn_get_info(c, &ci);
		tquic_conn_stats(c, &st);
		tquic_conn_path_info(c, 0, &pi);
	}
	nest = nla_nest_start(skb, TQUIC_A_CONN);
	if (!nest)
		return -EMSGSIZE;
	if (tquic_put_u64(skb, TQUIC_A_CONN_ID, qs->id) ||
	    nla_put_u8(skb, TQUIC_A_CONN_STATE, tquic_conn_status(sk, c, &ci)) ||
	    nla_put_u8(skb, TQUIC_A_CONN_QLOG, tquic_qlog_active(sk)) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_UDP_TX_DATAGRAMS, qs->opts.stats.tx_datagrams) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_UDP_TX_BYTES, qs->opts.stats.tx_bytes) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_UDP_RX_DROPPED, qs->opts.stats.rx_dropped) ||
	    (qs->alpn_len && nla_put(skb, TQUIC_A_CONN_ALPN, qs->alpn_len, qs->alpn)))
		goto cancel;
	if (c && pi.local.family && pi.peer.family) {
		local = pi.local;
		peer = pi.peer;
	} else {
		tquic_sock_addr(sk, false, &local);
		tquic_sock_addr(sk, true, &peer);
	}
	if (tquic_put_addr(skb, TQUIC_A_CONN_LOCAL_ADDR, TQUIC_A_CONN_LOCAL_PORT, &local))
		goto cancel;
	if (sk->sk_state != TCP_LISTEN && peer.port &&
	    tquic_put_addr(skb, TQUIC_A_CONN_PEER_ADDR, TQUIC_A_CONN_PEER_PORT, &peer))
		goto cancel;
	if (!c) {
		/* What a connection made now would use. */
		tquic_config_get(sock_net(sk), &ns);
		if (nla_put_string(skb, TQUIC_A_CONN_CC, qs->opts.cc[0] ? qs->opts.cc : ns.cc))
			goto cancel;
		nla_nest_end(skb, nest);
		return 0;
	}
	if (nla_put_u8(skb, TQUIC_A_CONN_SERVER, ci.is_server) ||
	    nla_put_u32(skb, TQUIC_A_CONN_VERSION, ci.version) ||
	    nla_put_string(skb, TQUIC_A_CONN_CC, ci.cc_name) ||
	    nla_put_string(skb, TQUIC_A_CONN_CC_STATE, ci.cc_state) ||
	    nla_put_u8(skb, TQUIC_A_CONN_HANDSHAKE_CONFIRMED, ci.handshake_confirmed) ||
	    nla_put_u32(skb, TQUIC_A_CONN_PATHS, ci.n_paths) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_PKTS_SENT, st.pkts_sent) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_PKTS_RECV, st.pkts_recv) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_PKTS_LOST, st.pkts_lost) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_PKTS_DROPPED, st.pkts_dropped) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_BYTES_SENT, st.bytes_sent) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_BYTES_RECV, st.bytes_recv) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_BYTES_LOST, ci.bytes_lost) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_RTT_MIN, div_u64(pi.rtt_min, NSEC_PER_USEC)) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_RTT_SMOOTHED, div_u64(pi.rtt_smoothed, NSEC_PER_USEC)) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_RTT_VAR, div_u64(pi.rtt_var, NSEC_PER_USEC)) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_RTT_LATEST, div_u64(pi.rtt_latest, NSEC_PER_USEC)) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_CWND, st.cwnd) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_SSTHRESH, pi.ssthresh) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_BYTES_IN_FLIGHT, st.bytes_in_flight) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_PACING_RATE, pi.pacing_rate) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_KEY_UPDATES, st.key_updates) ||
	    tquic_put_u64(skb, TQUIC_A_CONN_PTO_COUNT, ci.pto_count))
		goto cancel;
	nla_nest_end(skb, nest);
	return 0;
cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

static u8 tquic_path_status(const struct tquic_path_info *pi, bool closing)
{
	if (closing)
		return TQUIC_PATH_STATUS_CLOSED;
	return pi->validated ? TQUIC_PATH_STATUS_ACTIVE : TQUIC_PATH_STATUS_VALIDATING;
}

static int tquic_path_u64(struct sk_buff *skb, int attr, u64 v)
{
	return nla_put_u64_64bit(skb, attr, v, TQUIC_A_PATH_PAD);
}

static int tquic_put_path(struct sk_buff *skb, const struct tquic_path_info *pi, bool closing)
{
	struct nlattr *nest = nla_nest_start(skb, TQUIC_A_PATH);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, TQUIC_A_PATH_ID, pi->id) ||
	    nla_put_u8(skb, TQUIC_A_PATH_STATUS, tquic_path_status(pi, closing)) ||
	    tquic_put_addr(skb, TQUIC_A_PATH_LOCAL_ADDR, TQUIC_A_PATH_LOCAL_PORT, &pi->local) ||
	    tquic_put_addr(skb, TQUIC_A_PATH_PEER_ADDR, TQUIC_A_PATH_PEER_PORT, &pi->peer) ||
	    nla_put_u32(skb, TQUIC_A_PATH_MTU, pi->mtu) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_RTT_MIN, div_u64(pi->rtt_min, NSEC_PER_USEC)) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_RTT_SMOOTHED, div_u64(pi->rtt_smoothed, NSEC_PER_USEC)) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_RTT_VAR, div_u64(pi->rtt_var, NSEC_PER_USEC)) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_RTT_LATEST, div_u64(pi->rtt_latest, NSEC_PER_USEC)) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_CWND, pi->cwnd) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_BYTES_IN_FLIGHT, pi->bytes_in_flight) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_PACING_RATE, pi->pacing_rate) ||
	    nla_put_string(skb, TQUIC_A_PATH_CC_STATE, pi->cc_state) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_PKTS_SENT, pi->pkts_sent) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_PKTS_ACKED, pi->pkts_acked) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_PKTS_LOST, pi->pkts_lost) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_BYTES_SENT, pi->bytes_sent) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_BYTES_LOST, pi->bytes_lost) ||
	    nla_put_u8(skb, TQUIC_A_PATH_ECN_STATE, pi->ecn_state) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_ECN_SENT_ECT0, pi->ecn_sent_ect0) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_ECN_SENT_ECT1, pi->ecn_sent_ect1) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_ECN_ECT0, pi->ecn_ect0) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_ECN_ECT1, pi->ecn_ect1) ||
	    tquic_path_u64(skb, TQUIC_A_PATH_ECN_CE, pi->ecn_ce)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* One CONN_GET message for @sk; takes the socket lock. */
static int tquic_fill_conn(struct sk_buff *skb, struct sock *sk, u32 portid, u32 seq, int flags)
{
	void *hdr;
	int err;

	hdr = genlmsg_put(skb, portid, seq, &tquic_genl_family, flags, TQUIC_CMD_CONN_GET);
	if (!hdr)
		return -EMSGSIZE;
	lock_sock(sk);
	err = tquic_put_conn(skb, sk);
	release_sock(sk);
	if (err) {
		genlmsg_cancel(skb, hdr);
		return err;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* The socket with id @id in @net, with a reference, or NULL. */
static struct sock *tquic_sock_by_id(struct net *net, u64 id)
{
	struct sock *sk = tquic_sock_next(net, id - 1);

	if (sk && tquic_sk(sk)->id != id) {
		sock_put(sk);
		sk = NULL;
	}
	return sk;
}

static int tquic_genl_conn_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	struct sock *sk;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, TQUIC_A_ID)) {
		NL_SET_ERR_MSG(info->extack, "missing TQUIC_A_ID: the connection id");
		return -EINVAL;
	}
	sk = tquic_sock_by_id(genl_info_net(info), nla_get_u64(info->attrs[TQUIC_A_ID]));
	if (!sk) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[TQUIC_A_ID],
				    "no connection with this id (tquicctl conn list shows them)");
		return -ENOENT;
	}
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg) {
		sock_put(sk);
		return -ENOMEM;
	}
	err = tquic_fill_conn(msg, sk, info->snd_portid, info->snd_seq, 0);
	sock_put(sk);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);
}

/* Dump position: the next socket id to show and, for paths, the path index. */
struct tquic_dump_ctx {
	u64 next_id;
	u32 path;
};

static struct tquic_dump_ctx *tquic_dump_ctx(struct netlink_callback *cb)
{
	BUILD_BUG_ON(sizeof(struct tquic_dump_ctx) > sizeof(cb->ctx));
	return (struct tquic_dump_ctx *)cb->ctx;
}

static int tquic_genl_conn_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct tquic_dump_ctx *ctx = tquic_dump_ctx(cb);
	struct net *net = sock_net(skb->sk);
	struct sock *sk;
	int err;

	while ((sk = tquic_sock_next(net, ctx->next_id ? ctx->next_id - 1 : 0))) {
		u64 id = tquic_sk(sk)->id;

		err = tquic_fill_conn(skb, sk, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				      NLM_F_MULTI);
		sock_put(sk);
		if (err)
			break;	/* full: this socket starts the next part */
		ctx->next_id = id + 1;
	}
	return skb->len;
}

/* The paths of @sk from index @first; returns the index to resume at, or -1 when done. */
static int tquic_fill_paths(struct sk_buff *skb, struct sock *sk, u32 first,
			    struct netlink_callback *cb)
{
	struct tquic_path_info pi;
	struct tquic_conn_info ci;
	struct tquic_conn *c;
	int ret = -1;
	u32 i;

	lock_sock(sk);
	c = tquic_genl_conn(sk);
	if (!c)
		goto out;
	tquic_conn_get_info(c, &ci);
	for (i = first; tquic_conn_path_info(c, i, &pi); i++) {
		void *hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
					&tquic_genl_family, NLM_F_MULTI, TQUIC_CMD_PATH_GET);

		if (!hdr ||
		    nla_put_u64_64bit(skb, TQUIC_A_ID, tquic_sk(sk)->id, TQUIC_A_PAD) ||
		    tquic_put_path(skb, &pi, ci.closing || tquic_conn_is_drained(c))) {
			if (hdr)
				genlmsg_cancel(skb, hdr);
			ret = i;
			goto out;
		}
		genlmsg_end(skb, hdr);
	}
out:
	release_sock(sk);
	return ret;
}

static int tquic_genl_path_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	struct tquic_dump_ctx *ctx = tquic_dump_ctx(cb);
	struct net *net = sock_net(skb->sk);
	u64 only = 0;
	struct sock *sk;

	if (info->attrs[TQUIC_A_ID])
		only = nla_get_u64(info->attrs[TQUIC_A_ID]);
	for (;;) {
		u64 id;
		int resume;

		if (only) {
			if (ctx->next_id > only)
				break;
			sk = tquic_sock_by_id(net, only);
			if (!sk) {
				if (!ctx->next_id) {
					NL_SET_ERR_MSG_ATTR(cb->extack, info->attrs[TQUIC_A_ID],
							    "no connection with this id");
					return -ENOENT;
				}
				break;
			}
		} else {
			sk = tquic_sock_next(net, ctx->next_id ? ctx->next_id - 1 : 0);
			if (!sk)
				break;
		}
		id = tquic_sk(sk)->id;
		if (id != ctx->next_id)
			ctx->path = 0;	/* the socket we stopped in is gone */
		resume = tquic_fill_paths(skb, sk, ctx->path, cb);
		sock_put(sk);
		if (resume >= 0) {
			ctx->next_id = id;
			ctx->path = resume;
			break;
		}
		ctx->next_id = id + 1;
		ctx->path = 0;
	}
	return skb->len;
}

/* ---- events ---- */

void tquic_genl_conn_event(struct sock *sk, u8 kind)
{
	struct net *net = sock_net(sk);
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&tquic_genl_family, net, TQUIC_GENL_MCGRP_EVENTS_ID))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_ATOMIC);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &tquic_genl_family, 0, TQUIC_CMD_EVENT_CONN);
	if (!hdr || nla_put_u8(msg, TQUIC_A_EVENT, kind) || tquic_put_conn(msg, sk)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&tquic_genl_family, net, msg, 0, TQUIC_GENL_MCGRP_EVENTS_ID,
				GFP_ATOMIC);
}

bool tquic_genl_qlog_listening(struct net *net)
{
	return genl_has_listeners(&tquic_genl_family, net, TQUIC_GENL_MCGRP_QLOG_ID);
}

struct sk_buff *tquic_genl_qlog_new(u64 id, gfp_t gfp, void **hdr)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_GOODSIZE, gfp);

	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &tquic_genl_family, 0, TQUIC_CMD_QLOG);
	if (!*hdr || nla_put_u64_64bit(msg, TQUIC_A_ID, id, TQUIC_A_PAD)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

void tquic_genl_qlog_send(struct net *net, struct sk_buff *msg, void *hdr)
{
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&tquic_genl_family, net, msg, 0, TQUIC_GENL_MCGRP_QLOG_ID,
				GFP_ATOMIC);
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
	{
		.cmd	= TQUIC_CMD_CONN_GET,
		.doit	= tquic_genl_conn_get,
		.dumpit	= tquic_genl_conn_dump,
	},
	{
		.cmd	= TQUIC_CMD_PATH_GET,
		.dumpit	= tquic_genl_path_dump,
	},
};

static const struct genl_multicast_group tquic_genl_mcgrps[] = {
	[TQUIC_GENL_MCGRP_EVENTS_ID] = { .name = TQUIC_GENL_MCGRP_EVENTS },
	/* Packet-level traces of other users' connections: administrators only. */
	[TQUIC_GENL_MCGRP_QLOG_ID] = { .name = TQUIC_GENL_MCGRP_QLOG, .flags = GENL_UNS_ADMIN_PERM },
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
	int err;

	err = tquic_qlog_init();
	if (err)
		return err;
	err = genl_register_family(&tquic_genl_family);
	if (err)
		tquic_qlog_exit();
	return err;
}

void tquic_genl_exit(void)
{
	genl_unregister_family(&tquic_genl_family);
	tquic_qlog_exit();
}
