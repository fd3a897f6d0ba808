// SPDX-License-Identifier: GPL-2.0
/*
 * IPPROTO_QUIC sockets: lifecycle (create, bind, connect, listen, accept,
 * shutdown, close), poll, sendmsg/recvmsg with the QUIC cmsgs, buffer
 * accounting, the receive entry points (direct and backlog) and the
 * per-socket timer.  Locking is described in quic_sock.h.
 *
 * The connection engine (kmod/core/conn.h) runs behind these calls in
 * engine.c, always in process context with the socket owned: received
 * datagrams and timer expirations go through the socket's work item.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/uio.h>
#include <linux/udp.h>
#include <linux/ip.h>
#include <asm/unaligned.h>
#include <net/sock.h>
#include <net/inet_common.h>
#include <net/tcp_states.h>
#include <net/route.h>
#include <net/ip.h>
#if IS_ENABLED(CONFIG_IPV6)
#include <net/ipv6.h>
#include <net/ipv6_stubs.h>
#include <net/addrconf.h>
#include <net/ip6_route.h>
#include <net/transp_v6.h>
#else
#define LOOPBACK4_IPV6 cpu_to_be32(0x7f000006)
#endif

#include "quic_sock.h"
#include "qlog.h"
#include "tquic.h"
#include "conn.h"

#define TQUIC_SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE | MSG_CMSG_COMPAT | \
			  MSG_QUIC_DATAGRAM | MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN | \
			  MSG_QUIC_STREAM_UNI | MSG_QUIC_STREAM_DONTWAIT | \
			  MSG_QUIC_STREAM_SNDBLOCK)
#define TQUIC_STREAM_SEND_FLAGS (MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN | \
				 MSG_QUIC_STREAM_UNI | MSG_QUIC_STREAM_DONTWAIT | \
				 MSG_QUIC_STREAM_SNDBLOCK)
#define TQUIC_RECV_FLAGS (MSG_DONTWAIT | MSG_PEEK | MSG_CMSG_CLOEXEC | MSG_CMSG_COMPAT)

static struct tquic_sock_net *tquic_sk_net(const struct sock *sk)
{
	return tquic_sock_net(sock_net(sk));
}

static bool tquic_sk_connected(const struct sock *sk)
{
	return (1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_ESTABLISHED);
}

/* ---- timer ---- */

static enum hrtimer_restart tquic_timer_fn(struct hrtimer *timer)
{
	struct tquic_sock *qs = container_of(timer, struct tquic_sock, timer);
	struct sock *sk = &qs->inet.sk;

	/* Soft hrtimer (softirq): the engine runs from the socket's work. */
	if (!test_and_set_bit(TQUIC_DEFERRED_TIMER, &qs->deferred)) {
		qs->opts.stats.timer_deferred++;
		tquic_sock_kick(sk);
	}
	return HRTIMER_NORESTART;
}

/*
 * Arms the socket timer at @deadline_ns (CLOCK_MONOTONIC, ktime_get_ns()
 * time; U64_MAX: none).  Caller owns the socket lock.  The timer holds no
 * reference: destroy cancels it synchronously before the socket can go.
 */
void tquic_sock_timer_arm(struct sock *sk, u64 deadline_ns)
{
	struct tquic_sock *qs = tquic_sk(sk);

	if (sk->sk_state == TCP_CLOSE || deadline_ns == U64_MAX) {
		hrtimer_try_to_cancel(&qs->timer);
		return;
	}
	hrtimer_start(&qs->timer, ns_to_ktime(deadline_ns), HRTIMER_MODE_ABS_SOFT);
}

/* ---- buffers ---- */

/*
 * Queues @skb (kind and metadata in TQUIC_SKB_CB) for recvmsg(), charged
 * to the receive buffer.  Caller owns the socket lock.  Returns 0, or
 * -ENOBUFS when the receive buffer is full (@skb not consumed).
 */
int tquic_sk_enqueue_rx(struct sock *sk, struct sk_buff *skb)
{
	if (atomic_read(&sk->sk_rmem_alloc) + skb->truesize > READ_ONCE(sk->sk_rcvbuf))
		return -ENOBUFS;
	skb_set_owner_r(skb, sk);
	skb_queue_tail(&sk->sk_receive_queue, skb);
	sk->sk_data_ready(sk);
	return 0;
}

/* ---- create and destroy ---- */

int tquic_init_sock(struct sock *sk)
{
	struct tquic_sock_net *tn = tquic_sk_net(sk);
	struct tquic_sock *qs = tquic_sk(sk);

	/* Found under RCU by the demux: freed after a grace period. */
	sock_set_flag(sk, SOCK_RCU_FREE);
	qs->tunnel = NULL;
	INIT_LIST_HEAD(&qs->cids);
	INIT_HLIST_NODE(&qs->listen_node);
	qs->listening = false;
	qs->was_connected = false;
	spin_lock_init(&qs->accept_lock);
	INIT_LIST_HEAD(&qs->accept_queue);
	INIT_LIST_HEAD(&qs->accept_node);
	hrtimer_init(&qs->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	qs->timer.function = tquic_timer_fn;
	qs->deferred = 0;
	tquic_engine_sock_init(qs);
	tquic_sockopt_defaults(qs);
	spin_lock_bh(&tn->socks_lock);
	qs->id = tn->next_sock_id++;
	list_add_tail(&qs->sock_node, &tn->socks);
	spin_unlock_bh(&tn->socks_lock);
	atomic_inc(&tn->nr_socks);
	return 0;
}

struct sock *tquic_sock_next(struct net *net, u64 after)
{
	struct tquic_sock_net *tn = tquic_sock_net(net);
	struct tquic_sock *qs;
	struct sock *sk = NULL;

	spin_lock_bh(&tn->socks_lock);
	list_for_each_entry(qs, &tn->socks, sock_node) {
		if (qs->id > after) {
			sk = &qs->inet.sk;
			sock_hold(sk);
			break;
		}
	}
	spin_unlock_bh(&tn->socks_lock);
	return sk;
}

static void tquic_route_free(struct sock *lsk);

void tquic_destroy_sock(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);

	/* Waits for a running expiry; nothing re-arms a closed socket. */
	hrtimer_cancel(&qs->timer);
	tquic_engine_sock_destroy(sk);
	tquic_qlog_sock_destroy(sk);
	clear_bit(TQUIC_DEFERRED_TIMER, &qs->deferred);
	tquic_demux_del_all(sk);
	skb_queue_purge(&sk->sk_receive_queue);
	tquic_sockopt_free(qs);
	tquic_route_free(sk);
	if (qs->tunnel) {
		tquic_tunnel_put(qs->tunnel);
		qs->tunnel = NULL;
	}
	spin_lock_bh(&tquic_sk_net(sk)->socks_lock);
	list_del_init(&qs->sock_node);
	spin_unlock_bh(&tquic_sk_net(sk)->socks_lock);
	atomic_dec(&tquic_sk_net(sk)->nr_socks);
}

static void tquic_listen_stop(struct sock *sk);

static void __tquic_close(struct sock *sk, bool nested)
{
	if (nested)
		lock_sock_nested(sk, SINGLE_DEPTH_NESTING);
	else
		lock_sock(sk);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	if (sk->sk_state == TCP_LISTEN)
		tquic_listen_stop(sk);
	else if (sk->sk_state != TCP_CLOSE)
		tquic_engine_close(sk);
	/*
	 * The CONNECTION_CLOSE went out once; the socket does not linger in
	 * the closing state to repeat it (the peer's idle timeout covers a
	 * lost one).
	 */
	inet_sk_set_state(sk, TCP_CLOSE);
	tquic_demux_del_all(sk);
	sk->sk_state_change(sk);
	release_sock(sk);	/* backlog left: dropped as closed */
	sk_common_release(sk);	/* ->destroy, orphan, last reference */
}

void tquic_close(struct sock *sk, long timeout)
{
	__tquic_close(sk, false);
}

/* ---- addresses ---- */

/* Copies and checks a user address for @sk's family. */
static int tquic_get_addr(const struct sock *sk, const struct sockaddr *uaddr, int len,
			  union tquic_sockaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (len < (int)sizeof(uaddr->sa_family))
		return -EINVAL;
	if (sk->sk_family == AF_INET) {
		if (len < (int)sizeof(struct sockaddr_in))
			return -EINVAL;
		if (uaddr->sa_family != AF_INET)
			return -EAFNOSUPPORT;
		a->v4.sin_family = AF_INET;
		a->v4.sin_port = ((const struct sockaddr_in *)uaddr)->sin_port;
		a->v4.sin_addr = ((const struct sockaddr_in *)uaddr)->sin_addr;
		return 0;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (len < SIN6_LEN_RFC2133)
		return -EINVAL;
	if (uaddr->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	memcpy(&a->v6, uaddr, min_t(int, len, sizeof(a->v6)));
	if (len < (int)sizeof(struct sockaddr_in6))
		a->v6.sin6_scope_id = 0;
	a->v6.sin6_flowinfo = 0;
	return 0;
#else
	return -EAFNOSUPPORT;
#endif
}

static bool tquic_addr_is_v4(const union tquic_sockaddr *a)
{
	return a->sa.sa_family == AF_INET ||
	       ipv6_addr_v4mapped(&a->v6.sin6_addr);
}

static __be32 tquic_addr_v4(const union tquic_sockaddr *a)
{
	return a->sa.sa_family == AF_INET ? a->v4.sin_addr.s_addr : a->v6.sin6_addr.s6_addr32[3];
}

static int tquic_check_local(struct sock *sk, union tquic_sockaddr *a)
{
	struct net *net = sock_net(sk);
	u16 port = ntohs(a->v4.sin_port);

	if (port && inet_port_requires_bind_service(net, port) &&
	    !ns_capable(net->user_ns, CAP_NET_BIND_SERVICE))
		return -EACCES;
	if (tquic_addr_is_v4(a)) {
		__be32 addr = tquic_addr_v4(a);

		if (a->sa.sa_family == AF_INET6 && sk->sk_ipv6only)
			return -EINVAL;
		if (addr != htonl(INADDR_ANY) && inet_addr_type(net, addr) != RTN_LOCAL &&
		    !inet_can_nonlocal_bind(net, inet_sk(sk)))
			return -EADDRNOTAVAIL;
		return 0;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6_addr_any(&a->v6.sin6_addr))
		return 0;
	if (ipv6_addr_is_multicast(&a->v6.sin6_addr))
		return -EADDRNOTAVAIL;
	if (ipv6_addr_type(&a->v6.sin6_addr) & IPV6_ADDR_LINKLOCAL) {
		if (a->v6.sin6_scope_id) {
			if (sk->sk_bound_dev_if && sk->sk_bound_dev_if != a->v6.sin6_scope_id)
				return -EINVAL;
			sk->sk_bound_dev_if = a->v6.sin6_scope_id;
		}
		if (!sk->sk_bound_dev_if)
			return -EINVAL;
	}
	if (!ipv6_can_nonlocal_bind(net, inet_sk(sk))) {
		struct net_device *dev = NULL;
		bool ok;

		rcu_read_lock();
		if (sk->sk_bound_dev_if)
			dev = dev_get_by_index_rcu(net, sk->sk_bound_dev_if);
		ok = ipv6_chk_addr(net, &a->v6.sin6_addr, dev, 0);
		rcu_read_unlock();
		if (!ok)
			return -EADDRNOTAVAIL;
	}
#endif
	return 0;
}

/* Binds @sk to the tunnel for @a.  Caller owns the socket. */
static int tquic_do_bind(struct sock *sk, union tquic_sockaddr *a)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct tquic_tunnel *t;
	int err = 0;

	t = tquic_tunnel_get(sock_net(sk), a, sk->sk_bound_dev_if, sk->sk_ipv6only, &err);
	if (!t)
		return err;
	qs->tunnel = t;
	inet->inet_sport = t->local.v4.sin_port;
	inet->inet_num = ntohs(inet->inet_sport);
	if (tquic_addr_is_v4(a)) {
		inet->inet_rcv_saddr = tquic_addr_v4(a);
		inet->inet_saddr = inet->inet_rcv_saddr;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		sk->sk_v6_rcv_saddr = a->v6.sin6_addr;
		inet6_sk(sk)->saddr = a->v6.sin6_addr;
		if (!tquic_addr_is_v4(a))
			inet->inet_rcv_saddr = inet->inet_saddr = LOOPBACK4_IPV6;
	}
#endif
	return 0;
}

/*
 * QUIC_SOCKOPT_CONNECTION_MIGRATION on an established client: the
 * connection moves to local address @a (port 0: an ephemeral one) and the
 * engine validates the new path.  Socket owned.
 */
int tquic_sock_migrate(struct sock *sk, union tquic_sockaddr *a)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct tquic_tunnel *old = qs->tunnel;
	__be32 saddr = inet->inet_saddr, rcv_saddr = inet->inet_rcv_saddr;
	__be16 sport = inet->inet_sport;
#if IS_ENABLED(CONFIG_IPV6)
	struct in6_addr v6_rcv = sk->sk_v6_rcv_saddr, v6_src = {};
#endif
	int err;

	err = tquic_engine_can_migrate(sk);
	if (err)
		return err;
	err = tquic_check_local(sk, a);
	if (err)
		return err;
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6)
		v6_src = inet6_sk(sk)->saddr;
#endif
	qs->tunnel = NULL;
	err = tquic_do_bind(sk, a);
	if (!err) {
		err = tquic_engine_migrate(sk);
		if (!err) {
			/* The demux finds this socket by CID from any tunnel. */
			tquic_tunnel_put(old);
			return 0;
		}
		tquic_tunnel_put(qs->tunnel);
	}
	qs->tunnel = old;
	inet->inet_saddr = saddr;
	inet->inet_rcv_saddr = rcv_saddr;
	inet->inet_sport = sport;
	inet->inet_num = ntohs(sport);
#if IS_ENABLED(CONFIG_IPV6)
	sk->sk_v6_rcv_saddr = v6_rcv;
	if (sk->sk_family == AF_INET6)
		inet6_sk(sk)->saddr = v6_src;
#endif
	return err;
}

/* bind() was not called: a wildcard address and an ephemeral port. */
static int tquic_autobind(struct sock *sk)
{
	union tquic_sockaddr a = {};

	a.sa.sa_family = sk->sk_family;
	return tquic_do_bind(sk, &a);
}

static int tquic_bind(struct socket *sock, struct sockaddr *uaddr, int addr_len)
{
	struct sock *sk = sock->sk;
	union tquic_sockaddr a;
	int err;

	err = tquic_get_addr(sk, uaddr, addr_len, &a);
	if (err)
		return err;
	lock_sock(sk);
	err = -EINVAL;
	if (tquic_sk(sk)->tunnel || sk->sk_state != TCP_CLOSE)
		goto out;
	err = tquic_check_local(sk, &a);
	if (!err)
		err = tquic_do_bind(sk, &a);
out:
	release_sock(sk);
	return err;
}

static int tquic_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct sock *sk = sock->sk;
	struct inet_sock *inet = inet_sk(sk);
	int len;

	lock_sock(sk);
	if (peer && !inet->inet_dport) {
		release_sock(sk);
		return -ENOTCONN;
	}
	if (sk->sk_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)uaddr;

		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_port = peer ? inet->inet_dport : inet->inet_sport;
		sin->sin_addr.s_addr = peer ? inet->inet_daddr :
				       (inet->inet_rcv_saddr ?: inet->inet_saddr);
		len = sizeof(*sin);
	} else {
#if IS_ENABLED(CONFIG_IPV6)
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)uaddr;

		memset(sin6, 0, sizeof(*sin6));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = peer ? inet->inet_dport : inet->inet_sport;
		if (peer)
			sin6->sin6_addr = sk->sk_v6_daddr;
		else if (ipv6_addr_any(&sk->sk_v6_rcv_saddr))
			sin6->sin6_addr = inet6_sk(sk)->saddr;
		else
			sin6->sin6_addr = sk->sk_v6_rcv_saddr;
		sin6->sin6_scope_id = ipv6_iface_scope_id(&sin6->sin6_addr, sk->sk_bound_dev_if);
		len = sizeof(*sin6);
#else
		len = -EAFNOSUPPORT;
#endif
	}
	release_sock(sk);
	return len;
}

/* ---- connect ---- */

/* The source address routing picks for @peer, when bound to a wildcard. */
static int tquic_route_source(struct sock *sk, const union tquic_sockaddr *peer)
{
	struct inet_sock *inet = inet_sk(sk);
	struct net *net = sock_net(sk);

	if (tquic_addr_is_v4(peer)) {
		struct flowi4 fl4 = {
			.daddr = tquic_addr_v4(peer),
			.saddr = inet->inet_rcv_saddr == LOOPBACK4_IPV6 ? 0 : inet->inet_rcv_saddr,
			.flowi4_oif = sk->sk_bound_dev_if,
			.flowi4_mark = READ_ONCE(sk->sk_mark),
			.flowi4_proto = IPPROTO_UDP,
			.fl4_dport = peer->v4.sin_port,
			.fl4_sport = inet->inet_sport,
		};
		struct rtable *rt = ip_route_output_key(net, &fl4);

		if (IS_ERR(rt))
			return PTR_ERR(rt);
		if (rt->rt_flags & (RTCF_MULTICAST | RTCF_BROADCAST)) {
			ip_rt_put(rt);
			return -ENETUNREACH;
		}
		inet->inet_saddr = fl4.saddr;
#if IS_ENABLED(CONFIG_IPV6)
		if (sk->sk_family == AF_INET6 && ipv6_addr_any(&sk->sk_v6_rcv_saddr))
			ipv6_addr_set_v4mapped(fl4.saddr, &inet6_sk(sk)->saddr);
#endif
		ip_rt_put(rt);
		return 0;
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		struct flowi6 fl6 = {
			.daddr = peer->v6.sin6_addr,
			.saddr = sk->sk_v6_rcv_saddr,
			.flowi6_oif = sk->sk_bound_dev_if,
			.flowi6_mark = READ_ONCE(sk->sk_mark),
			.flowi6_proto = IPPROTO_UDP,
			.fl6_dport = peer->v6.sin6_port,
			.fl6_sport = inet->inet_sport,
		};
		struct dst_entry *dst;

		dst = ipv6_stub->ipv6_dst_lookup_flow(net, sk, &fl6, NULL);
		if (IS_ERR(dst))
			return PTR_ERR(dst);
		inet6_sk(sk)->saddr = fl6.saddr;
		dst_release(dst);
	}
#endif
	return 0;
}

static int tquic_check_peer(struct sock *sk, union tquic_sockaddr *a)
{
	if (!a->v4.sin_port)
		return -EINVAL;
	if (tquic_addr_is_v4(a)) {
		__be32 addr = tquic_addr_v4(a);

		if (a->sa.sa_family == AF_INET6 && sk->sk_ipv6only)
			return -ENETUNREACH;
		if (ipv4_is_zeronet(addr) || ipv4_is_multicast(addr) || ipv4_is_lbcast(addr))
			return -EINVAL;
		return 0;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6_addr_any(&a->v6.sin6_addr) || ipv6_addr_is_multicast(&a->v6.sin6_addr))
		return -EINVAL;
	if ((ipv6_addr_type(&a->v6.sin6_addr) & IPV6_ADDR_LINKLOCAL) &&
	    !a->v6.sin6_scope_id && !sk->sk_bound_dev_if)
		return -EINVAL;
#endif
	return 0;
}

static u8 tquic_cid_len(struct sock *sk)
{
	struct tquic_config cfg;

	/*
	 * Sockets sharing a UDP port are told apart by their CIDs alone: a
	 * namespace configured for zero-length CIDs gets the default length.
	 */
	tquic_config_get(sock_net(sk), &cfg);
	return cfg.cid_len ? min_t(u8, cfg.cid_len, TQUIC_CID_MAX) : TQUIC_DEFAULT_CID_LEN;
}

/* Picks a fresh CID of @len bytes for @sk and routes it.  Socket owned. */
static int tquic_new_cid(struct sock *sk, struct tquic_cid_key *k, u8 len, gfp_t gfp)
{
	int tries, err = -EEXIST;

	for (tries = 0; tries < 4 && err == -EEXIST; tries++) {
		memset(k, 0, sizeof(*k));
		k->len = len;
		get_random_bytes(k->id, len);
		err = tquic_demux_add(sk, k->id, len, gfp);
	}
	return err;
}

static int tquic_connect(struct socket *sock, struct sockaddr *uaddr, int addr_len, int flags)
{
	struct sock *sk = sock->sk;
	struct tquic_sock *qs = tquic_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	union tquic_sockaddr a;
	int err;

	err = tquic_get_addr(sk, uaddr, addr_len, &a);
	if (err)
		return err;
	lock_sock(sk);
	switch (sk->sk_state) {
	case TCP_CLOSE:
		err = qs->was_connected ? -EISCONN : 0;
		break;
	case TCP_LISTEN:
		err = -EINVAL;
		break;
	default:
		err = -EISCONN;
		break;
	}
	if (err)
		goto out;
	err = tquic_check_peer(sk, &a);
	if (err)
		goto out;
	if (!qs->tunnel) {
		err = tquic_autobind(sk);
		if (err)
			goto out;
	}
	err = tquic_route_source(sk, &a);
	if (err)
		goto out;
	inet->inet_dport = a.v4.sin_port;
	if (tquic_addr_is_v4(&a))
		inet->inet_daddr = tquic_addr_v4(&a);
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		sk->sk_v6_daddr = a.v6.sin6_addr;
		if (!tquic_addr_is_v4(&a))
			inet->inet_daddr = LOOPBACK4_IPV6;
		if (a.v6.sin6_scope_id && !sk->sk_bound_dev_if)
			sk->sk_bound_dev_if = a.v6.sin6_scope_id;
	}
#endif
	/* The client's first DCID (random, >= 8 bytes) and its own CID. */
	memset(&qs->dcid, 0, sizeof(qs->dcid));
	qs->dcid.len = TQUIC_CLIENT_DCID_LEN;
	get_random_bytes(qs->dcid.id, qs->dcid.len);
	err = tquic_new_cid(sk, &qs->scid, tquic_cid_len(sk), GFP_KERNEL);
	if (err)
		goto out_peer;
	/* No packet leaves before the TLS library writes the ClientHello. */
	err = tquic_engine_connect(sk);
	if (err) {
		tquic_demux_del_all(sk);
		goto out_peer;
	}
	qs->was_connected = true;
	inet_sk_set_state(sk, TCP_SYN_SENT);
	sock->state = SS_CONNECTED;
	release_sock(sk);
	return 0;

out_peer:
	inet->inet_dport = 0;
	inet->inet_daddr = 0;
out:
	release_sock(sk);
	return err;
}

/* ---- listen and accept ---- */

static struct sock *tquic_accept_dequeue(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk), *child;

	spin_lock_bh(&qs->accept_lock);
	child = list_first_entry_or_null(&qs->accept_queue, struct tquic_sock, accept_node);
	if (child) {
		list_del_init(&child->accept_node);
		sk_acceptq_removed(sk);
	}
	spin_unlock_bh(&qs->accept_lock);
	return child ? &child->inet.sk : NULL;
}

/* Stops listening and closes the connections nobody accepted.  Socket owned. */
static void tquic_listen_stop(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct sock *child;

	inet_sk_set_state(sk, TCP_CLOSE);
	tquic_tunnel_unlisten(qs->tunnel, sk);
	while ((child = tquic_accept_dequeue(sk)))
		__tquic_close(child, true);
	sk->sk_state_change(sk);
}

static int tquic_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	struct tquic_sock *qs = tquic_sk(sk);
	int err = -EINVAL;

	lock_sock(sk);
	if (sock->state != SS_UNCONNECTED)
		goto out;
	if (sk->sk_state == TCP_LISTEN) {
		/* The draft: a zero backlog turns listening off. */
		if (!backlog)
			tquic_listen_stop(sk);
		else
			WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
		err = 0;
		goto out;
	}
	if (sk->sk_state != TCP_CLOSE || qs->was_connected)
		goto out;
	err = 0;
	if (!backlog)
		goto out;
	if (!qs->tunnel) {
		err = tquic_autobind(sk);
		if (err)
			goto out;
	}
	WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
	WRITE_ONCE(sk->sk_ack_backlog, 0);
	WRITE_ONCE(sk->sk_shutdown, 0);
	inet_sk_set_state(sk, TCP_LISTEN);
	tquic_tunnel_listen(qs->tunnel, sk);
out:
	release_sock(sk);
	return err;
}

static int tquic_wait_for_accept(struct sock *sk, long *timeo)
{
	DEFINE_WAIT(wait);
	int err;

	for (;;) {
		prepare_to_wait_exclusive(sk_sleep(sk), &wait, TASK_INTERRUPTIBLE);
		release_sock(sk);
		if (!READ_ONCE(sk->sk_ack_backlog))
			*timeo = schedule_timeout(*timeo);
		sched_annotate_sleep();
		lock_sock(sk);
		err = 0;
		if (READ_ONCE(sk->sk_ack_backlog))
			break;
		err = -EINVAL;
		if (sk->sk_state != TCP_LISTEN)
			break;
		err = sock_intr_errno(*timeo);
		if (signal_pending(current))
			break;
		err = -EAGAIN;
		if (!*timeo)
			break;
	}
	finish_wait(sk_sleep(sk), &wait);
	return err;
}

static int tquic_accept(struct socket *sock, struct socket *newsock, int flags, bool kern)
{
	struct sock *sk = sock->sk, *newsk;
	long timeo;
	int err;

	lock_sock(sk);
	timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
	for (;;) {
		err = -EINVAL;
		if (sk->sk_state != TCP_LISTEN)
			goto out;
		newsk = tquic_accept_dequeue(sk);
		if (newsk)
			break;
		err = -EAGAIN;
		if (!timeo)
			goto out;
		err = tquic_wait_for_accept(sk, &timeo);
		if (err)
			goto out;
	}
	release_sock(sk);
	lock_sock(newsk);
	sock_graft(newsk, newsock);
	newsock->state = SS_CONNECTED;
	release_sock(newsk);
	return 0;
out:
	release_sock(sk);
	return err;
}

/* Fills a new connection's addresses from the Initial that created it. */
static void tquic_child_addrs(struct sock *sk, struct sk_buff *skb)
{
	const struct udphdr *uh = udp_hdr(skb);
	struct inet_sock *inet = inet_sk(sk);

	inet->inet_dport = uh->source;
	inet->inet_sport = uh->dest;
	inet->inet_num = ntohs(uh->dest);
	if (skb->protocol == htons(ETH_P_IP)) {
		const struct iphdr *iph = ip_hdr(skb);

		inet->inet_daddr = iph->saddr;
		inet->inet_rcv_saddr = iph->daddr;
		inet->inet_saddr = iph->daddr;
#if IS_ENABLED(CONFIG_IPV6)
		if (sk->sk_family == AF_INET6) {
			ipv6_addr_set_v4mapped(iph->saddr, &sk->sk_v6_daddr);
			ipv6_addr_set_v4mapped(iph->daddr, &sk->sk_v6_rcv_saddr);
			inet6_sk(sk)->saddr = sk->sk_v6_rcv_saddr;
		}
#endif
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);

		sk->sk_v6_daddr = ip6h->saddr;
		sk->sk_v6_rcv_saddr = ip6h->daddr;
		inet6_sk(sk)->saddr = ip6h->daddr;
		inet->inet_daddr = LOOPBACK4_IPV6;
		inet->inet_rcv_saddr = LOOPBACK4_IPV6;
		inet->inet_saddr = LOOPBACK4_IPV6;
		if (ipv6_addr_type(&ip6h->saddr) & IPV6_ADDR_LINKLOCAL)
			sk->sk_bound_dev_if = inet6_iif(skb);
	}
#endif
}

/*
 * A socket for the connection a client Initial opens on listener @lsk.
 * Process context, listener owned.  Returned with an extra reference for
 * the caller, or NULL.
 */
static struct sock *tquic_child_new(struct sock *lsk, struct sk_buff *skb)
{
	struct tquic_sock *qs;
	struct inet_sock *inet;
	struct sock *sk;

	sk = sk_alloc(sock_net(lsk), lsk->sk_family, GFP_KERNEL, lsk->sk_prot, 0);
	if (!sk)
		return NULL;
	sock_init_data(NULL, sk);
	sk->sk_type = lsk->sk_type;
	sk->sk_protocol = IPPROTO_QUIC;
	sk->sk_bound_dev_if = lsk->sk_bound_dev_if;
	sk->sk_mark = READ_ONCE(lsk->sk_mark);
	sk->sk_priority = READ_ONCE(lsk->sk_priority);
	sk->sk_userlocks = lsk->sk_userlocks;
	sk->sk_sndbuf = READ_ONCE(lsk->sk_sndbuf);
	sk->sk_rcvbuf = READ_ONCE(lsk->sk_rcvbuf);
	sk->sk_ipv6only = lsk->sk_ipv6only;
	inet = inet_sk(sk);
	inet->pmtudisc = inet_sk(lsk)->pmtudisc;
	inet->uc_ttl = -1;
	inet->mc_loop = 1;
	inet->mc_ttl = 1;
	inet->mc_all = 1;
	sk->sk_destruct = inet_sock_destruct;
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		struct ipv6_pinfo *np = &((struct tquic6_sock *)sk)->inet6;

		inet->pinet6 = np;
		np->hop_limit = -1;
		np->mcast_hops = IPV6_DEFAULT_MCASTHOPS;
		np->mc_loop = 1;
		np->mc_all = 1;
		np->pmtudisc = IPV6_PMTUDISC_WANT;
		sk->sk_destruct = inet6_sock_destruct;
	}
#endif
	tquic_init_sock(sk);
	qs = tquic_sk(sk);
	if (tquic_sockopt_inherit(qs, tquic_sk(lsk), GFP_KERNEL)) {
		sk_common_release(sk);
		return NULL;
	}
	tquic_child_addrs(sk, skb);
	refcount_inc(&tquic_sk(lsk)->tunnel->refcnt);
	qs->tunnel = tquic_sk(lsk)->tunnel;
	qs->was_connected = true;
	inet_sk_set_state(sk, TCP_SYN_RECV);
	sock_hold(sk);
	return sk;
}

/*
 * Undoes tquic_child_new() after the caller removed its CIDs and closed
 * it under its lock: the child was never visible to user space.
 */
static void tquic_child_abort(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);

	refcount_dec(&qs->tunnel->refcnt);
	qs->tunnel = NULL;
	sock_put(sk);		/* tquic_child_new()'s hold */
	sk_common_release(sk);	/* ->destroy, orphan, last reference */
}

/* ---- routing new connections among the listeners of a port, by ALPN ---- */

/* ClientHello bytes read for routing (the ALPN list sits near the start). */
#define TQUIC_HELLO_PEEK	4096
/* CRYPTO frames of a ClientHello that are laid out. */
#define TQUIC_HELLO_EXTENTS	32
/* Clients whose ClientHello is being gathered, and datagrams held for each. */
#define TQUIC_ROUTE_PENDING	8
#define TQUIC_ROUTE_HELD	4
/* Clients routed elsewhere, remembered for their later Initials. */
#define TQUIC_ROUTE_HINTS	8
/* How long a partial ClientHello waits for the rest. */
#define TQUIC_ROUTE_WAIT	HZ

/* A client whose ClientHello spans Initials: gathered until the ALPN shows. */
struct tquic_route_pending {
	struct sk_buff_head held;	/* its Initials so far, in order */
	unsigned long stamp;
	u8 dcid_len;
	u8 dcid[TQUIC_CID_MAX];
	u32 n_ext;
	struct tquic_crypto_extent ext[TQUIC_HELLO_EXTENTS];
	u8 hello[TQUIC_HELLO_PEEK];
};

/* A client routed to listener @sock_id: its later Initials follow. */
struct tquic_route_hint {
	u64 sock_id;
	u8 dcid_len;
	u8 dcid[TQUIC_CID_MAX];
};

/* A listener's routing state, allocated when it first routes. */
struct tquic_route_state {
	struct tquic_route_pending *pending[TQUIC_ROUTE_PENDING];
	struct tquic_route_hint hints[TQUIC_ROUTE_HINTS];
	u8 hint_next;
};

static bool tquic_tunnel_shared(struct tquic_tunnel *t)
{
	struct hlist_node *first;
	bool shared;

	rcu_read_lock();
	first = rcu_dereference(hlist_first_rcu(&t->listeners));
	shared = first && rcu_dereference(hlist_next_rcu(first));
	rcu_read_unlock();
	return shared;
}

/* Whether @name (@n bytes) is in @list, "id1,id2,..." of @len bytes. */
static bool tquic_alpn_listed(const u8 *list, u16 len, const u8 *name, u8 n)
{
	u16 start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i < len && list[i] != ',')
			continue;
		if (i - start == n && !memcmp(list + start, name, n))
			return true;
		start = i + 1;
	}
	return false;
}

/*
 * The listener of @t for a client offering the ALPN protocols in @names
 * (its order is its preference): the first listener whose ALPN list has
 * the client's first protocol any listener has, else the first listener
 * without a list.  With a reference, or NULL.  Under tn->tunnels_lock,
 * which keeps the list and (with listen()'s rule that a listener's ALPN
 * is fixed) their ALPN lists.
 */
static struct sock *tquic_alpn_pick(struct tquic_tunnel *t, const struct tquic_cursor *names)
{
	struct tquic_cursor c = *names;
	struct tquic_sock *qs;
	const u8 *name;
	u8 n;

	while (tquic_get_u8(&c, &n) && tquic_get_bytes(&c, n, &name)) {
		hlist_for_each_entry(qs, &t->listeners, listen_node)
			if (qs->alpn_len && tquic_alpn_listed(qs->alpn, qs->alpn_len, name, n))
				goto found;
	}
	hlist_for_each_entry(qs, &t->listeners, listen_node)
		if (!qs->alpn_len)
			goto found;
	return NULL;
found:
	sock_hold(&qs->inet.sk);
	return &qs->inet.sk;
}

static struct sock *tquic_listener_by_id(struct tquic_tunnel *t, u64 id)
{
	struct tquic_sock *qs;

	hlist_for_each_entry(qs, &t->listeners, listen_node)
		if (qs->id == id) {
			sock_hold(&qs->inet.sk);
			return &qs->inet.sk;
		}
	return NULL;
}

static void tquic_route_pending_free(struct sock *lsk, struct tquic_route_pending *p)
{
	struct sk_buff *skb;

	while ((skb = __skb_dequeue(&p->held))) {
		TQUIC_INC_STATS(tquic_sk_net(lsk), TQUIC_MIB_DROP_ROUTE);
		tquic_sk(lsk)->opts.stats.rx_dropped++;
		kfree_skb(skb);
	}
	kfree(p);
}

static void tquic_route_free(struct sock *lsk)
{
	struct tquic_route_state *rs = tquic_sk(lsk)->route;
	int i;

	if (!rs)
		return;
	for (i = 0; i < TQUIC_ROUTE_PENDING; i++)
		if (rs->pending[i])
			tquic_route_pending_free(lsk, rs->pending[i]);
	kfree(rs);
	tquic_sk(lsk)->route = NULL;
}

/*
 * The pending slot of the client with @dcid, or a new one (the oldest
 * client's, or one that waited too long, is dropped for it).  Stale
 * entries are dropped on the way.  NULL without memory.
 */
static struct tquic_route_pending *tquic_route_slot(struct sock *lsk, const u8 *dcid, u8 dcid_len,
						   bool *found)
{
	struct tquic_route_state *rs = tquic_sk(lsk)->route;
	struct tquic_route_pending *p;
	int i, free_i = -1, oldest = 0;

	*found = false;
	for (i = 0; i < TQUIC_ROUTE_PENDING; i++) {
		p = rs->pending[i];
		if (p && time_after(jiffies, p->stamp + TQUIC_ROUTE_WAIT)) {
			tquic_route_pending_free(lsk, p);
			rs->pending[i] = NULL;
			p = NULL;
		}
		if (!p) {
			free_i = free_i < 0 ? i : free_i;
			continue;
		}
		if (p->dcid_len == dcid_len && !memcmp(p->dcid, dcid, dcid_len)) {
			*found = true;
			return p;
		}
		if (time_before(p->stamp, rs->pending[oldest] ? rs->pending[oldest]->stamp : p->stamp))
			oldest = i;
	}
	if (free_i < 0) {
		free_i = oldest;
		tquic_route_pending_free(lsk, rs->pending[free_i]);
		rs->pending[free_i] = NULL;
	}
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return NULL;
	__skb_queue_head_init(&p->held);
	p->stamp = jiffies;
	p->dcid_len = dcid_len;
	memcpy(p->dcid, dcid, dcid_len);
	rs->pending[free_i] = p;
	return p;
}

static struct sock *tquic_listen_rcv(struct sock *lsk, struct sk_buff *skb);

/* A held Initial goes on: to @target's queue, or through this listener. */
static void tquic_route_release(struct sock *lsk, struct sock *target, struct sk_buff *skb)
{
	struct tquic_sock_net *tn = tquic_sk_net(lsk);

	TQUIC_SKB_CB(skb)->routed = 1;
	if (target == lsk)
		target = tquic_listen_rcv(lsk, skb);
	else
		sock_hold(target);
	if (!target)
		return;
	local_bh_disable();
	tquic_sock_queue_rx(tn, target, skb);
	local_bh_enable();
	sock_put(target);
}

/*
 * Several listeners share @lsk's port (its tunnel): the ALPN of the
 * client's ClientHello picks one (tquic_alpn_pick) before the connection
 * exists, so that it starts with that listener's options.  A ClientHello
 * may span Initials that arrive in any order (clients split and shuffle
 * its CRYPTO frames): they are held until the ALPN extension shows, for a
 * second at most, then go on in order.  Later Initials of a routed client
 * follow it.  Returns the listener to redirect @skb to, with a reference;
 * NULL to go on here; ERR_PTR(-EINPROGRESS) when @skb is held.  Listener
 * owned.
 */
static struct sock *tquic_alpn_route(struct sock *lsk, struct sk_buff *skb)
{
	struct tquic_sock_net *tn = tquic_sk_net(lsk);
	struct tquic_sock *lqs = tquic_sk(lsk);
	struct tquic_tunnel *t = lqs->tunnel;
	struct tquic_route_pending *p;
	struct tquic_route_state *rs;
	struct sock *target = NULL;
	struct tquic_cursor names;
	struct tquic_route_hint *h;
	const u8 *dcid;
	bool found;
	u8 dcid_len;
	int i, r;

	if (TQUIC_SKB_CB(skb)->routed || !tquic_tunnel_shared(t))
		return NULL;
	if (!lqs->route)
		lqs->route = kzalloc(sizeof(*lqs->route), GFP_KERNEL);
	rs = lqs->route;
	if (!rs)
		return NULL;
	/* The tunnel pulled the long header: the Initial's DCID is linear. */
	dcid = skb->data + sizeof(struct udphdr) + 6;
	dcid_len = dcid[-1];
	for (i = 0; i < TQUIC_ROUTE_HINTS; i++) {
		h = &rs->hints[i];
		if (h->dcid_len != dcid_len || memcmp(h->dcid, dcid, dcid_len))
			continue;
		mutex_lock(&tn->tunnels_lock);
		target = tquic_listener_by_id(t, h->sock_id);
		mutex_unlock(&tn->tunnels_lock);
		if (target == lsk) {
			sock_put(target);
			target = NULL;
		}
		TQUIC_SKB_CB(skb)->routed = 1;
		return target;
	}
	p = tquic_route_slot(lsk, dcid, dcid_len, &found);
	if (!p)
		return NULL;
	if (tquic_engine_peek_hello(lsk, skb, p->hello, sizeof(p->hello), p->ext, &p->n_ext,
				    TQUIC_HELLO_EXTENTS)) {
		/* Not an Initial that opens: the engine's accept drops it. */
		if (!found) {
			for (i = 0; i < TQUIC_ROUTE_PENDING; i++)
				if (rs->pending[i] == p)
					rs->pending[i] = NULL;
			tquic_route_pending_free(lsk, p);
		}
		return NULL;
	}
	r = tquic_client_hello_alpn(p->hello, tquic_crypto_prefix(p->ext, p->n_ext), &names);
	if (r == -EAGAIN && skb_queue_len(&p->held) < TQUIC_ROUTE_HELD) {
		__skb_queue_tail(&p->held, skb);
		return ERR_PTR(-EINPROGRESS);
	}
	if (!r) {
		mutex_lock(&tn->tunnels_lock);
		target = tquic_alpn_pick(t, &names);
		mutex_unlock(&tn->tunnels_lock);
	}
	/* No ALPN to go by (none offered, malformed, too long): here. */
	if (!target) {
		target = lsk;
		sock_hold(target);
	}
	for (i = 0; i < TQUIC_ROUTE_PENDING; i++)
		if (rs->pending[i] == p)
			rs->pending[i] = NULL;
	h = &rs->hints[rs->hint_next++ % TQUIC_ROUTE_HINTS];
	h->sock_id = tquic_sk(target)->id;
	h->dcid_len = dcid_len;
	memcpy(h->dcid, dcid, dcid_len);
	while ((skb_peek(&p->held)))
		tquic_route_release(lsk, target, __skb_dequeue(&p->held));
	kfree(p);
	TQUIC_SKB_CB(skb)->routed = 1;
	if (target == lsk) {
		sock_put(target);
		return NULL;
	}
	return target;
}

/*
 * An Initial that matched no connection, on a listener (owned, from its
 * work).  Returns a socket (with a reference) to deliver @skb to instead,
 * or NULL when @skb was consumed.
 */
static struct sock *tquic_listen_rcv(struct sock *lsk, struct sk_buff *skb)
{
	struct tquic_sock_net *tn = tquic_sk_net(lsk);
	struct tquic_sock *lqs = tquic_sk(lsk);
	const u8 *p = skb->data + sizeof(struct udphdr);
	struct tquic_cid_key scid;
	struct sock *sk;
	int mib, err;

	/* A version we do not speak (the tunnel checked the size). */
	if ((p[0] & 0x80) && !tquic_version_known(get_unaligned_be32(p + 1))) {
		tquic_engine_vn_reply(lsk, skb);
		return NULL;
	}
	/* An earlier Initial of this client may have created it meanwhile. */
	sk = tquic_demux_initial_owner(lsk, skb);
	if (sk)
		return sk;
	sk = tquic_alpn_route(lsk, skb);
	if (IS_ERR(sk))
		return NULL;	/* held until the ClientHello shows its ALPN */
	if (sk)
		return sk;
	mib = TQUIC_MIB_DROP_CLOSED;
	if (READ_ONCE(lsk->sk_shutdown) & RCV_SHUTDOWN)
		goto drop;
	mib = TQUIC_MIB_DROP_ACCEPT_OVERFLOW;
	if (sk_acceptq_is_full(lsk)) {
		lqs->opts.stats.accept_overflow++;
		goto drop;
	}
	mib = TQUIC_MIB_DROP_CHILD_FAILED;
	sk = tquic_child_new(lsk, skb);
	if (!sk)
		goto drop;
	/* Locked from the first CID on: the demux can find it from there. */
	lock_sock_nested(sk, SINGLE_DEPTH_NESTING);
	/* Route our CID and, until the handshake retires it, the client's. */
	err = tquic_new_cid(sk, &scid, tquic_cid_len(lsk), GFP_KERNEL);
	if (!err)
		err = tquic_demux_add(sk, p + 6, p[5], GFP_KERNEL);
	if (!err) {
		/* The engine takes @skb; an Initial it cannot open closes the child. */
		err = tquic_engine_accept(lsk, sk, skb, &scid);
		skb = NULL;
	}
	if (err) {
		tquic_demux_del_all(sk);
		WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
		inet_sk_set_state(sk, TCP_CLOSE);
		release_sock(sk);
		tquic_child_abort(sk);
		if (skb)
			goto drop;
		lqs->opts.stats.rx_dropped++;
		return NULL;
	}
	release_sock(sk);

	spin_lock_bh(&lqs->accept_lock);
	list_add_tail(&tquic_sk(sk)->accept_node, &lqs->accept_queue);
	sk_acceptq_added(lsk);
	spin_unlock_bh(&lqs->accept_lock);
	sock_put(sk);
	TQUIC_INC_STATS(tn, TQUIC_MIB_CHILD_CREATED);
	lsk->sk_data_ready(lsk);
	return NULL;
drop:
	TQUIC_INC_STATS(tn, mib);
	lqs->opts.stats.rx_dropped++;
	kfree_skb(skb);
	return NULL;
}

/*
 * A datagram for @sk, socket owned (from its work).  Returns a socket to
 * redirect @skb to, else consumes it.
 */
struct sock *tquic_rcv_locked(struct sock *sk, struct sk_buff *skb)
{
	struct tquic_sock_net *tn = tquic_sk_net(sk);
	struct tquic_sock *qs = tquic_sk(sk);

	qs->opts.stats.rx_datagrams += tquic_skb_datagrams(skb);
	qs->opts.stats.rx_bytes += skb->len - sizeof(struct udphdr);
	if (sk->sk_state == TCP_LISTEN)
		return tquic_listen_rcv(sk, skb);
	if (sk->sk_state == TCP_CLOSE) {
		TQUIC_ADD_STATS(tn, TQUIC_MIB_DROP_CLOSED, tquic_skb_datagrams(skb));
		qs->opts.stats.rx_dropped += tquic_skb_datagrams(skb);
		kfree_skb(skb);
		return NULL;
	}
	if (!qs->conn) {
		TQUIC_ADD_STATS(tn, TQUIC_MIB_DROP_NO_ENGINE, tquic_skb_datagrams(skb));
		qs->opts.stats.rx_dropped += tquic_skb_datagrams(skb);
		kfree_skb(skb);
		return NULL;
	}
	tquic_engine_rcv(sk, skb);
	return NULL;
}

/* ---- poll and shutdown ---- */

static __poll_t tquic_poll(struct file *file, struct socket *sock, poll_table *wait)
{
	struct sock *sk = sock->sk;
	__poll_t mask = 0;
	u8 shutdown;
	int state;

	sock_poll_wait(file, sock, wait);
	state = inet_sk_state_load(sk);
	if (state == TCP_LISTEN)
		return READ_ONCE(sk->sk_ack_backlog) ? EPOLLIN | EPOLLRDNORM : 0;

	if (READ_ONCE(sk->sk_err) || !skb_queue_empty_lockless(&sk->sk_error_queue))
		mask |= EPOLLERR;
	shutdown = READ_ONCE(sk->sk_shutdown);
	if (shutdown == SHUTDOWN_MASK || state == TCP_CLOSE)
		mask |= EPOLLHUP;
	if (shutdown & RCV_SHUTDOWN)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	if (!skb_queue_empty_lockless(&sk->sk_receive_queue) || tquic_engine_readable(sk))
		mask |= EPOLLIN | EPOLLRDNORM;
	/* Writable unless a send found its stream (or the stream count) full. */
	if (((1 << state) & (TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_ESTABLISHED)) &&
	    !(shutdown & SEND_SHUTDOWN) && !READ_ONCE(tquic_sk(sk)->send_blocked))
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

static int tquic_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	int err = 0;

	how++;	/* SHUT_RD, SHUT_WR, SHUT_RDWR -> RCV_, SEND_, SHUTDOWN_MASK */
	if (!how || (how & ~SHUTDOWN_MASK))
		return -EINVAL;
	lock_sock(sk);
	switch (sk->sk_state) {
	case TCP_LISTEN:
		/* Discard connection requests; wakes accept() (EINVAL). */
		if (how & RCV_SHUTDOWN)
			tquic_listen_stop(sk);
		break;
	case TCP_CLOSE:
		if (!tquic_sk(sk)->was_connected)
			err = -ENOTCONN;
		else
			WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | how);
		break;
	default:
		WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | how);
		/* The draft: SHUT_WR closes the connection (CONNECTION_CLOSE). */
		if (how & SEND_SHUTDOWN)
			tquic_engine_close(sk);
		break;
	}
	sk->sk_state_change(sk);
	release_sock(sk);
	return err;
}

/* ---- sendmsg ---- */

struct tquic_send_ctl {
	bool handshake;
	bool stream;
	u8 level;
	struct quic_stream_info sinfo;
};

static int tquic_parse_cmsgs(struct msghdr *msg, struct tquic_send_ctl *ctl)
{
	struct cmsghdr *cmsg;

	memset(ctl, 0, sizeof(*ctl));
	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return -EINVAL;
		if (cmsg->cmsg_level != SOL_QUIC)
			continue;	/* the draft allows other levels' items */
		/* Only one QUIC item per call. */
		if (ctl->handshake || ctl->stream)
			return -EINVAL;
		switch (cmsg->cmsg_type) {
		case QUIC_HANDSHAKE_INFO: {
			struct quic_handshake_info hi;

			if (cmsg->cmsg_len != CMSG_LEN(sizeof(hi)))
				return -EINVAL;
			memcpy(&hi, CMSG_DATA(cmsg), sizeof(hi));
			if (memchr_inv(hi.reserved, 0, sizeof(hi.reserved)))
				return -EINVAL;
			/* CRYPTO frames never travel in 0-RTT packets. */
			if (hi.crypto_level >= QUIC_CRYPTO_MAX || hi.crypto_level == QUIC_CRYPTO_EARLY)
				return -EINVAL;
			ctl->handshake = true;
			ctl->level = hi.crypto_level;
			break;
		}
		case QUIC_STREAM_INFO:
			if (cmsg->cmsg_len != CMSG_LEN(sizeof(ctl->sinfo)))
				return -EINVAL;
			memcpy(&ctl->sinfo, CMSG_DATA(cmsg), sizeof(ctl->sinfo));
			if (ctl->sinfo.reserved ||
			    (ctl->sinfo.stream_flags & ~TQUIC_STREAM_SEND_FLAGS) ||
			    ctl->sinfo.stream_id < -1)
				return -EINVAL;
			ctl->stream = true;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

static int tquic_send_handshake(struct sock *sk, struct msghdr *msg, u8 level, int flags)
{
	if (sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN))
		return sk_stream_error(sk, flags, -EPIPE);
	if (!tquic_sk_connected(sk))
		return -ENOTCONN;
	return tquic_engine_send_crypto(sk, msg, level);
}

int tquic_sendmsg(struct sock *sk, struct msghdr *msg, size_t len)
{
	struct tquic_send_ctl ctl;
	int flags = msg->msg_flags;
	int err;

	if (flags & ~TQUIC_SEND_FLAGS)
		return -EINVAL;
	err = tquic_parse_cmsgs(msg, &ctl);
	if (err)
		return err;
	/* Stream flags go in the cmsg, or in the flags without one. */
	if (ctl.stream && (flags & TQUIC_STREAM_SEND_FLAGS))
		return -EINVAL;
	if (ctl.handshake && (flags & (TQUIC_STREAM_SEND_FLAGS | MSG_QUIC_DATAGRAM)))
		return -EINVAL;
	if (ctl.stream && (flags & MSG_QUIC_DATAGRAM))
		return -EINVAL;

	lock_sock(sk);
	if (ctl.handshake) {
		err = tquic_send_handshake(sk, msg, ctl.level, flags);
		goto out;
	}
	if (sk->sk_shutdown & SEND_SHUTDOWN) {
		err = sk_stream_error(sk, flags, -EPIPE);
		goto out;
	}
	err = -ENOTCONN;
	if (sk->sk_state != TCP_ESTABLISHED)
		goto out;
	if (flags & MSG_QUIC_DATAGRAM) {
		err = tquic_engine_send_dgram(sk, msg, len);
		goto out;
	}
	if (!ctl.stream) {
		/* Without the cmsg: the flags, and a new stream. */
		ctl.sinfo.stream_id = -1;
		ctl.sinfo.stream_flags = flags & TQUIC_STREAM_SEND_FLAGS;
	}
	err = tquic_engine_send_stream(sk, msg, ctl.sinfo.stream_id, ctl.sinfo.stream_flags,
				       flags);
out:
	release_sock(sk);
	return err;
}

/* ---- recvmsg ---- */

/* Waits for a queued message, a readable stream, an error or shutdown. */
static void tquic_wait_data(struct sock *sk, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	add_wait_queue(sk_sleep(sk), &wait);
	sk_set_bit(SOCKWQ_ASYNC_WAITDATA, sk);
	sk_wait_event(sk, timeo, !skb_queue_empty(&sk->sk_receive_queue) ||
		      tquic_engine_readable(sk) || sk->sk_err ||
		      (sk->sk_shutdown & RCV_SHUTDOWN) || sk->sk_state == TCP_CLOSE, &wait);
	sk_clear_bit(SOCKWQ_ASYNC_WAITDATA, sk);
	remove_wait_queue(sk_sleep(sk), &wait);
}

int tquic_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len)
{
	struct tquic_skb_cb *cb;
	struct sk_buff *skb;
	size_t avail, copied;
	long timeo;
	int err;

	if (flags & ~TQUIC_RECV_FLAGS)
		return -EINVAL;
	lock_sock(sk);
	err = -ENOTCONN;
	if (sk->sk_state == TCP_LISTEN)
		goto out;
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	for (;;) {
		skb = skb_peek(&sk->sk_receive_queue);
		if (skb)
			break;
		if (tquic_engine_readable(sk)) {
			err = tquic_engine_recv_stream(sk, msg, len, flags);
			if (err != -EAGAIN)
				goto out;
			continue;
		}
		err = sock_error(sk);
		if (err)
			goto out;
		err = 0;
		if (sk->sk_shutdown & RCV_SHUTDOWN)
			goto out;
		if (sk->sk_state == TCP_CLOSE) {
			err = tquic_sk(sk)->was_connected ? 0 : -ENOTCONN;
			goto out;
		}
		err = -EAGAIN;
		if (!timeo)
			goto out;
		err = sock_intr_errno(timeo);
		if (signal_pending(current))
			goto out;
		tquic_wait_data(sk, &timeo);
	}

	cb = TQUIC_SKB_CB(skb);
	switch (cb->kind) {
	case TQUIC_SKB_HANDSHAKE: {
		struct quic_handshake_info hi = { .crypto_level = cb->level };

		/* The draft: handshake bytes need the cmsg (not plain recv()). */
		err = -EINVAL;
		if (msg->msg_controllen < CMSG_LEN(sizeof(hi)))
			goto out;
		err = put_cmsg(msg, SOL_QUIC, QUIC_HANDSHAKE_INFO, sizeof(hi), &hi);
		break;
	}
	case TQUIC_SKB_STREAM: {
		struct quic_stream_info si = {
			.stream_id = cb->stream_id,
			.stream_flags = cb->stream_flags,
		};

		err = put_cmsg(msg, SOL_QUIC, QUIC_STREAM_INFO, sizeof(si), &si);
		break;
	}
	case TQUIC_SKB_DATAGRAM:
		msg->msg_flags |= MSG_QUIC_DATAGRAM;
		err = 0;
		break;
	default:
		msg->msg_flags |= MSG_QUIC_NOTIFICATION;
		err = 0;
		break;
	}
	if (err)
		goto out;
	avail = skb->len - cb->offset;
	copied = min(len, avail);
	err = skb_copy_datagram_msg(skb, cb->offset, msg, copied);
	if (err)
		goto out;
	/* A message read in parts ends with MSG_EOR on its last part. */
	if (copied == avail)
		msg->msg_flags |= MSG_EOR;
	if (!(flags & MSG_PEEK)) {
		if (copied >= avail) {
			skb_unlink(skb, &sk->sk_receive_queue);
			kfree_skb(skb);
		} else {
			cb->offset += copied;
		}
	}
	err = copied;
out:
	release_sock(sk);
	return err;
}

/* ---- proto_ops ---- */

static int tquic_ops_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
{
	return tquic_sendmsg(sock->sk, msg, len);
}

static int tquic_ops_recvmsg(struct socket *sock, struct msghdr *msg, size_t len, int flags)
{
	int addr_len = 0;

	return tquic_recvmsg(sock->sk, msg, len, flags, &addr_len);
}

const struct proto_ops tquic_inet_ops = {
	.family		= PF_INET,
	.owner		= THIS_MODULE,
	.release	= inet_release,
	.bind		= tquic_bind,
	.connect	= tquic_connect,
	.socketpair	= sock_no_socketpair,
	.accept		= tquic_accept,
	.getname	= tquic_getname,
	.poll		= tquic_poll,
	.ioctl		= inet_ioctl,
	.listen		= tquic_listen,
	.shutdown	= tquic_shutdown,
	.setsockopt	= sock_common_setsockopt,
	.getsockopt	= sock_common_getsockopt,
	.sendmsg	= tquic_ops_sendmsg,
	.recvmsg	= tquic_ops_recvmsg,
	.mmap		= sock_no_mmap,
	.sendpage	= sock_no_sendpage,
};

#if IS_ENABLED(CONFIG_IPV6)
const struct proto_ops tquic_inet6_ops = {
	.family		= PF_INET6,
	.owner		= THIS_MODULE,
	.release	= inet6_release,
	.bind		= tquic_bind,
	.connect	= tquic_connect,
	.socketpair	= sock_no_socketpair,
	.accept		= tquic_accept,
	.getname	= tquic_getname,
	.poll		= tquic_poll,
	.ioctl		= inet6_ioctl,
	.listen		= tquic_listen,
	.shutdown	= tquic_shutdown,
	.setsockopt	= sock_common_setsockopt,
	.getsockopt	= sock_common_getsockopt,
	.sendmsg	= tquic_ops_sendmsg,
	.recvmsg	= tquic_ops_recvmsg,
	.mmap		= sock_no_mmap,
	.sendpage	= sock_no_sendpage,
};
#endif
