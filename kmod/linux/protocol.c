// SPDX-License-Identifier: GPL-2.0
/*
 * IPPROTO_QUIC registration: struct proto for IPv4 and IPv6, the inet
 * protocol switch entries for SOCK_STREAM and SOCK_DGRAM, per network
 * namespace state (CID demux table, tunnel list, counters in
 * /proc/net/tquic_sock) and the check that nobody else owns protocol 261.
 *
 * QUIC rides on UDP: no inet_add_protocol() handler is registered, packets
 * arrive through the UDP tunnel sockets (tunnel.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/random.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/protocol.h>
#include <net/sock.h>
#include <net/inet_common.h>
#if IS_ENABLED(CONFIG_IPV6)
#include <net/ipv6.h>
#include <net/transp_v6.h>
#endif

#include "quic_sock.h"

static unsigned int tquic_sock_net_id __read_mostly;

struct tquic_sock_net *tquic_sock_net(const struct net *net)
{
	return net_generic(net, tquic_sock_net_id);
}

static int tquic_sock_hash(struct sock *sk)
{
	/* Sockets are found through the CID table and tunnel listeners. */
	return 0;
}

static void tquic_sock_unhash(struct sock *sk)
{
}

struct proto tquic_prot = {
	.name		= "TQUIC",
	.owner		= THIS_MODULE,
	.close		= tquic_close,
	.init		= tquic_init_sock,
	.destroy	= tquic_destroy_sock,
	.setsockopt	= tquic_setsockopt,
	.getsockopt	= tquic_getsockopt,
	.sendmsg	= tquic_sendmsg,
	.recvmsg	= tquic_recvmsg,
	.hash		= tquic_sock_hash,
	.unhash		= tquic_sock_unhash,
	.no_autobind	= true,
	.obj_size	= sizeof(struct tquic_sock),
	/* Options are copied to and from user space in place. */
	.useroffset	= offsetof(struct tquic_sock, opts),
	.usersize	= sizeof_field(struct tquic_sock, opts),
};

#if IS_ENABLED(CONFIG_IPV6)
struct proto tquicv6_prot = {
	.name		= "TQUICv6",
	.owner		= THIS_MODULE,
	.close		= tquic_close,
	.init		= tquic_init_sock,
	.destroy	= tquic_destroy_sock,
	.setsockopt	= tquic_setsockopt,
	.getsockopt	= tquic_getsockopt,
	.sendmsg	= tquic_sendmsg,
	.recvmsg	= tquic_recvmsg,
	.hash		= tquic_sock_hash,
	.unhash		= tquic_sock_unhash,
	.no_autobind	= true,
	.obj_size	= sizeof(struct tquic6_sock),
	.useroffset	= offsetof(struct tquic6_sock, qs.opts),
	.usersize	= sizeof_field(struct tquic_sock, opts),
};
#endif

static struct inet_protosw tquic_protosw[] = {
	{
		.type		= SOCK_STREAM,
		.protocol	= IPPROTO_QUIC,
		.prot		= &tquic_prot,
		.ops		= &tquic_inet_ops,
	},
	{
		.type		= SOCK_DGRAM,
		.protocol	= IPPROTO_QUIC,
		.prot		= &tquic_prot,
		.ops		= &tquic_inet_ops,
	},
};

#if IS_ENABLED(CONFIG_IPV6)
static struct inet_protosw tquic6_protosw[] = {
	{
		.type		= SOCK_STREAM,
		.protocol	= IPPROTO_QUIC,
		.prot		= &tquicv6_prot,
		.ops		= &tquic_inet6_ops,
	},
	{
		.type		= SOCK_DGRAM,
		.protocol	= IPPROTO_QUIC,
		.prot		= &tquicv6_prot,
		.ops		= &tquic_inet6_ops,
	},
};
#endif

/* ---- /proc/net/tquic_sock ---- */

static const char *const tquic_mib_names[TQUIC_MIB_MAX] = {
	[TQUIC_MIB_RX_DATAGRAMS]	= "RxDatagrams",
	[TQUIC_MIB_RX_CONN]		= "RxConn",
	[TQUIC_MIB_RX_LISTEN]		= "RxListen",
	[TQUIC_MIB_RX_BACKLOG]		= "RxBacklog",
	[TQUIC_MIB_CHILD_CREATED]	= "ChildCreated",
	[TQUIC_MIB_RX_CONSUMED]		= "RxConsumed",
	[TQUIC_MIB_DROP_MALFORMED]	= "DropMalformed",
	[TQUIC_MIB_DROP_NO_CONN]	= "DropNoConn",
	[TQUIC_MIB_DROP_VERSION]	= "DropVersion",
	[TQUIC_MIB_DROP_BACKLOG]	= "DropBacklog",
	[TQUIC_MIB_DROP_CLOSED]		= "DropClosed",
	[TQUIC_MIB_DROP_NO_ENGINE]	= "DropNoEngine",
	[TQUIC_MIB_DROP_ACCEPT_OVERFLOW] = "DropAcceptOverflow",
	[TQUIC_MIB_DROP_CHILD_FAILED]	= "DropChildFailed",
	[TQUIC_MIB_VERSION_NEGOTIATION]	= "VersionNegotiation",
	[TQUIC_MIB_RETRY]		= "Retry",
	[TQUIC_MIB_STATELESS_RESET]	= "StatelessReset",
	[TQUIC_MIB_DROP_ROUTE]		= "DropRoute",
};

static int tquic_sock_proc_show(struct seq_file *seq, void *v)
{
	struct tquic_sock_net *tn = tquic_sock_net(seq_file_single_net(seq));
	u64 sum[TQUIC_MIB_MAX] = {};
	int cpu, i;

	for_each_possible_cpu(cpu) {
		const struct tquic_mib_counters *c = per_cpu_ptr(tn->mib, cpu);

		for (i = 0; i < TQUIC_MIB_MAX; i++)
			sum[i] += READ_ONCE(c->v[i]);
	}
	for (i = 0; i < TQUIC_MIB_MAX; i++)
		seq_printf(seq, "%s %llu\n", tquic_mib_names[i], sum[i]);
	seq_printf(seq, "Sockets %d\n", atomic_read(&tn->nr_socks));
	seq_printf(seq, "Tunnels %d\n", atomic_read(&tn->nr_tunnels));
	seq_printf(seq, "Cids %d\n", atomic_read(&tn->nr_cids));
	return 0;
}

/* ---- per network namespace state ---- */

static int __net_init tquic_sock_net_init(struct net *net)
{
	struct tquic_sock_net *tn = tquic_sock_net(net);
	int err;

	mutex_init(&tn->tunnels_lock);
	INIT_LIST_HEAD(&tn->tunnels);
	atomic_set(&tn->nr_socks, 0);
	atomic_set(&tn->nr_tunnels, 0);
	atomic_set(&tn->nr_cids, 0);
	get_random_bytes(tn->reset_key, sizeof(tn->reset_key));
	spin_lock_init(&tn->reset_lock);
	spin_lock_init(&tn->socks_lock);
	INIT_LIST_HEAD(&tn->socks);
	tn->next_sock_id = 1;
	tn->mib = alloc_percpu(struct tquic_mib_counters);
	if (!tn->mib)
		return -ENOMEM;
	err = tquic_demux_net_init(tn);
	if (err)
		goto err_mib;
	if (!proc_create_net_single("tquic_sock", 0444, net->proc_net,
				    tquic_sock_proc_show, NULL)) {
		err = -ENOMEM;
		goto err_demux;
	}
	return 0;

err_demux:
	tquic_demux_net_exit(tn);
err_mib:
	free_percpu(tn->mib);
	return err;
}

static void __net_exit tquic_sock_net_exit(struct net *net)
{
	struct tquic_sock_net *tn = tquic_sock_net(net);

	/*
	 * User sockets hold the namespace, so none is left here; the tunnels
	 * and CIDs went with them.  Releasing leftovers keeps an exit clean
	 * should that ever not hold.
	 */
	remove_proc_entry("tquic_sock", net->proc_net);
	tquic_tunnels_net_exit(tn);
	tquic_demux_net_exit(tn);
	free_percpu(tn->mib);
}

static struct pernet_operations tquic_sock_net_ops = {
	.init	= tquic_sock_net_init,
	.exit	= tquic_sock_net_exit,
	.id	= &tquic_sock_net_id,
	.size	= sizeof(struct tquic_sock_net),
};

/* ---- refusing to load when protocol 261 is taken ---- */

/*
 * inet_register_protosw() does not reject a second non-permanent entry for
 * the same protocol: it would silently shadow (or be shadowed by) another
 * QUIC implementation, such as an upstream kernel's net/quic.  So before
 * registering, try to create each kind of socket we would serve: if the
 * kernel can already create it, someone owns protocol 261.  Creating the
 * probe may make the kernel try to load a module aliased to that protocol
 * (request_module of net-pf-N-proto-261-type-T); when that succeeds, that
 * module owns the protocol and we refuse as well.  TQUIC itself declares no
 * such alias, so the probe never waits on its own loading.
 */
static int tquic_probe_protocol(int family, int type)
{
	struct socket *sock;
	int err;

	err = sock_create_kern(&init_net, family, type, IPPROTO_QUIC, &sock);
	if (!err) {
		pr_err("protocol %d (IPPROTO_QUIC) is already provided by \"%s\" for %s %s sockets: not loading\n",
		       IPPROTO_QUIC, sock->sk ? sock->sk->sk_prot->name : "?",
		       family == AF_INET ? "AF_INET" : "AF_INET6",
		       type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM");
		sock_release(sock);
		return -EEXIST;
	}
	switch (err) {
	case -EPROTONOSUPPORT:
	case -ESOCKTNOSUPPORT:
	case -EAFNOSUPPORT:
	case -EPROTOTYPE:
		return 0;
	default:
		pr_err("cannot tell whether protocol %d is free (probe failed: %d): not loading\n",
		       IPPROTO_QUIC, err);
		return err;
	}
}

static int tquic_probe_all(void)
{
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
	int i, err;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		err = tquic_probe_protocol(AF_INET, types[i]);
		if (err)
			return err;
#if IS_ENABLED(CONFIG_IPV6)
		err = tquic_probe_protocol(AF_INET6, types[i]);
		if (err)
			return err;
#endif
	}
	return 0;
}

int __init tquic_sock_init(void)
{
	int err, i;

	err = tquic_probe_all();
	if (err)
		return err;
	err = tquic_engine_init();
	if (err)
		return err;
	err = tquic_tunnel_init();
	if (err)
		goto err_engine;
	err = proto_register(&tquic_prot, 1);
	if (err)
		goto err_tunnel;
#if IS_ENABLED(CONFIG_IPV6)
	err = proto_register(&tquicv6_prot, 1);
	if (err)
		goto err_prot;
#endif
	err = register_pernet_subsys(&tquic_sock_net_ops);
	if (err)
		goto err_prot6;
	for (i = 0; i < ARRAY_SIZE(tquic_protosw); i++)
		inet_register_protosw(&tquic_protosw[i]);
#if IS_ENABLED(CONFIG_IPV6)
	for (i = 0; i < ARRAY_SIZE(tquic6_protosw); i++) {
		err = inet6_register_protosw(&tquic6_protosw[i]);
		if (err) {
			while (--i >= 0)
				inet6_unregister_protosw(&tquic6_protosw[i]);
			goto err_protosw;
		}
	}
#endif
	return 0;

#if IS_ENABLED(CONFIG_IPV6)
err_protosw:
	for (i = 0; i < ARRAY_SIZE(tquic_protosw); i++)
		inet_unregister_protosw(&tquic_protosw[i]);
	unregister_pernet_subsys(&tquic_sock_net_ops);
#endif
err_prot6:
#if IS_ENABLED(CONFIG_IPV6)
	proto_unregister(&tquicv6_prot);
err_prot:
#endif
	proto_unregister(&tquic_prot);
err_tunnel:
	tquic_tunnel_exit();
err_engine:
	tquic_engine_exit();
	return err;
}

void tquic_sock_exit(void)
{
	int i;

	/*
	 * Every socket holds a module reference (proto and proto_ops owner),
	 * so none is left: no new one can appear once the switch entries are
	 * gone (unregistering waits for a grace period).
	 */
#if IS_ENABLED(CONFIG_IPV6)
	for (i = 0; i < ARRAY_SIZE(tquic6_protosw); i++)
		inet6_unregister_protosw(&tquic6_protosw[i]);
#endif
	for (i = 0; i < ARRAY_SIZE(tquic_protosw); i++)
		inet_unregister_protosw(&tquic_protosw[i]);
	unregister_pernet_subsys(&tquic_sock_net_ops);
	/* kfree_rcu() of CID entries, RCU-freed sockets. */
	rcu_barrier();
#if IS_ENABLED(CONFIG_IPV6)
	proto_unregister(&tquicv6_prot);
#endif
	proto_unregister(&tquic_prot);
	tquic_tunnel_exit();
	tquic_engine_exit();
}

/*
 * The UDP tunnel helpers are modules: insmod (test/vm/load-tquic.sh loads
 * the soft dependencies first) does not resolve symbol dependencies.
 */
MODULE_SOFTDEP("pre: udp_tunnel ip6_udp_tunnel");
