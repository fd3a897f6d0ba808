// SPDX-License-Identifier: GPL-2.0
/*
 * UDP tunnel sockets shared per (netns, local address, port, v6only), the
 * per-namespace connection ID demultiplexer and the receive path.
 *
 * The tunnel's UDP socket takes whole trains of datagrams (UDP_GRO: UDP
 * GSO from senders on this host, GRO from the device), which an encap_rcv
 * socket would get split one datagram per skb.  Its data_ready callback
 * runs in softirq, dequeues what UDP queued, reads the Destination CID,
 * looks the connection up in the namespace's RCU hash table and queues the
 * skb to that socket, whose work processes it (engine.c): a train whose
 * datagrams all carry the same Destination CID in one piece, others one
 * datagram at a time.  A datagram that matches no CID and carries a client
 * Initial goes to a listener on the tunnel; anything else is dropped and
 * counted.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/rhashtable.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/cred.h>
#include <asm/unaligned.h>
#include <net/udp.h>
#include <net/udp_tunnel.h>
#include <net/inet_ecn.h>
#include <net/route.h>
#if IS_ENABLED(CONFIG_IPV6)
#include <net/ipv6.h>
#include <net/ipv6_stubs.h>
#include <net/ip6_route.h>
#endif

#include "quic_sock.h"
#include "tquic.h"
#include "cid.h"
#include "conn.h"

#define TQUIC_VERSION_1		0x00000001U
#define TQUIC_VERSION_2		0x6b3343cfU

/* Bytes of QUIC header the demux reads: flags, version, DCID, SCID. */
#define TQUIC_DEMUX_PULL	(1 + 4 + 1 + TQUIC_CID_MAX + 1 + TQUIC_CID_MAX)

/* ---- the CID table ---- */

static const struct rhashtable_params tquic_cid_params = {
	.key_len		= sizeof(struct tquic_cid_key),
	.key_offset		= offsetof(struct tquic_cid_entry, key),
	.head_offset		= offsetof(struct tquic_cid_entry, node),
	.automatic_shrinking	= true,
};

static void tquic_cid_key_set(struct tquic_cid_key *k, const u8 *cid, u8 len)
{
	memset(k, 0, sizeof(*k));
	k->len = len;
	memcpy(k->id, cid, len);
}

int tquic_demux_net_init(struct tquic_sock_net *tn)
{
	int i;

	for (i = 0; i <= TQUIC_CID_MAX; i++)
		atomic_set(&tn->cid_lens[i], 0);
	return rhashtable_init(&tn->cids, &tquic_cid_params);
}

static void tquic_cid_free_leftover(void *ptr, void *arg)
{
	kfree(ptr);
}

void tquic_demux_net_exit(struct tquic_sock_net *tn)
{
	rhashtable_free_and_destroy(&tn->cids, tquic_cid_free_leftover, NULL);
}

/* The socket owning @cid, with a reference, or NULL.  Caller holds RCU. */
static struct sock *tquic_demux_lookup(struct tquic_sock_net *tn, const u8 *cid, u8 len)
{
	struct tquic_cid_entry *e;
	struct tquic_cid_key key;
	struct sock *sk;

	tquic_cid_key_set(&key, cid, len);
	e = rhashtable_lookup(&tn->cids, &key, tquic_cid_params);
	if (!e)
		return NULL;
	sk = READ_ONCE(e->sk);
	if (!refcount_inc_not_zero(&sk->sk_refcnt))
		return NULL;
	return sk;
}

/*
 * Routes @cid to @sk.  Caller owns the socket lock (process or softirq).
 * Returns 0 (also when @sk already owns it), -EEXIST when another socket
 * does, -EINVAL or -ENOMEM.
 */
int tquic_demux_add(struct sock *sk, const u8 *cid, u8 len, gfp_t gfp)
{
	struct tquic_sock_net *tn = tquic_sock_net(sock_net(sk));
	struct tquic_cid_entry *e, *old;

	if (!len || len > TQUIC_CID_MAX)
		return -EINVAL;
	e = kmalloc(sizeof(*e), gfp);
	if (!e)
		return -ENOMEM;
	tquic_cid_key_set(&e->key, cid, len);
	e->sk = sk;
	rcu_read_lock();
	old = rhashtable_lookup_get_insert_fast(&tn->cids, &e->node, tquic_cid_params);
	if (old) {
		bool mine = !IS_ERR(old) && old->sk == sk;
		int err = IS_ERR(old) ? PTR_ERR(old) : -EEXIST;

		rcu_read_unlock();
		kfree(e);
		return mine ? 0 : err;
	}
	rcu_read_unlock();
	list_add_tail(&e->list, &tquic_sk(sk)->cids);
	atomic_inc(&tn->cid_lens[len]);
	atomic_inc(&tn->nr_cids);
	return 0;
}

static void tquic_demux_free(struct tquic_sock_net *tn, struct tquic_cid_entry *e)
{
	rhashtable_remove_fast(&tn->cids, &e->node, tquic_cid_params);
	list_del(&e->list);
	atomic_dec(&tn->cid_lens[e->key.len]);
	atomic_dec(&tn->nr_cids);
	kfree_rcu(e, rcu);
}

/* Stops routing @cid to @sk.  Caller owns the socket lock. */
void tquic_demux_del(struct sock *sk, const u8 *cid, u8 len)
{
	struct tquic_sock_net *tn = tquic_sock_net(sock_net(sk));
	struct tquic_cid_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, &tquic_sk(sk)->cids, list) {
		if (e->key.len == len && !memcmp(e->key.id, cid, len)) {
			tquic_demux_free(tn, e);
			return;
		}
	}
}

void tquic_demux_del_all(struct sock *sk)
{
	struct tquic_sock_net *tn = tquic_sock_net(sock_net(sk));
	struct tquic_cid_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, &tquic_sk(sk)->cids, list)
		tquic_demux_free(tn, e);
}

/*
 * The engine's CID host hooks (kmod/core/cid.h): @ctx is the socket.  The
 * engine calls them with the socket lock owned, from process context or
 * softirq, so they never sleep.  Sequence numbers and path IDs do not
 * matter to the demux: CIDs are unique in the namespace.
 */
static int tquic_cid_hook_add(void *ctx, u32 path_id, u64 seq, const struct tquic_cid *cid)
{
	return tquic_demux_add(ctx, cid->id, cid->len, GFP_ATOMIC);
}

static void tquic_cid_hook_remove(void *ctx, u32 path_id, u64 seq, const struct tquic_cid *cid)
{
	tquic_demux_del(ctx, cid->id, cid->len);
}

/* ENGINE: passed as tquic_cids_config.ops (ctx = the socket) at connection creation. */
const struct tquic_cid_ops tquic_sock_cid_ops = {
	.add	= tquic_cid_hook_add,
	.remove	= tquic_cid_hook_remove,
};

/* ---- tunnels ---- */

static bool tquic_tunnel_match(const struct tquic_tunnel *t, const union tquic_sockaddr *a,
			       int ifindex, bool v6only)
{
	if (t->local.sa.sa_family != a->sa.sa_family || t->ifindex != ifindex)
		return false;
	if (a->sa.sa_family == AF_INET)
		return t->local.v4.sin_port == a->v4.sin_port &&
		       t->local.v4.sin_addr.s_addr == a->v4.sin_addr.s_addr;
	return t->v6only == v6only && t->local.v6.sin6_port == a->v6.sin6_port &&
	       ipv6_addr_equal(&t->local.v6.sin6_addr, &a->v6.sin6_addr);
}

static void tquic_tunnel_data_ready(struct sock *usk);

/* The tunnel's receive queue: room for trains that wait while another CPU dequeues. */
#define TQUIC_TUNNEL_RCVBUF	(4 << 20)

/*
 * The tunnel for @addr (port 0: a new one on an ephemeral port), with a
 * reference.  Process context.
 */
struct tquic_tunnel *tquic_tunnel_get(struct net *net, const union tquic_sockaddr *addr,
				      int ifindex, bool v6only, int *err)
{
	struct tquic_sock_net *tn = tquic_sock_net(net);
	struct udp_port_cfg cfg = {};
	struct tquic_tunnel *t;
	kuid_t uid = current_euid();
	struct sock *usk;
	int one = 1;

	mutex_lock(&tn->tunnels_lock);
	if (addr->v4.sin_port) {	/* same offset in both families */
		list_for_each_entry(t, &tn->tunnels, node) {
			if (!tquic_tunnel_match(t, addr, ifindex, v6only))
				continue;
			/* Like SO_REUSEPORT: only the same user shares a port. */
			if (!uid_eq(t->uid, uid)) {
				*err = -EADDRINUSE;
				t = NULL;
			} else {
				refcount_inc(&t->refcnt);
			}
			mutex_unlock(&tn->tunnels_lock);
			return t;
		}
	}
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t) {
		*err = -ENOMEM;
		goto out;
	}
	cfg.family = addr->sa.sa_family;
	cfg.bind_ifindex = ifindex;
	if (cfg.family == AF_INET) {
		cfg.local_ip = addr->v4.sin_addr;
		cfg.local_udp_port = addr->v4.sin_port;
		cfg.use_udp_checksums = 1;
#if IS_ENABLED(CONFIG_IPV6)
	} else {
		cfg.local_ip6 = addr->v6.sin6_addr;
		cfg.local_udp_port = addr->v6.sin6_port;
		cfg.use_udp6_tx_checksums = 1;
		cfg.use_udp6_rx_checksums = 1;
		cfg.ipv6_v6only = v6only;
#endif
	}
	*err = udp_sock_create(net, &cfg, &t->sock);
	if (*err) {
		kfree(t);
		t = NULL;
		goto out;
	}
	refcount_set(&t->refcnt, 1);
	t->net = net;
	t->local = *addr;
	/* The port the UDP socket got (ephemeral when 0 was asked). */
	t->local.v4.sin_port = inet_sk(t->sock->sk)->inet_sport;
	t->ifindex = ifindex;
	t->v6only = v6only;
	t->uid = uid;
	INIT_HLIST_HEAD(&t->listeners);
	usk = t->sock->sk;
	*err = t->sock->ops->setsockopt(t->sock, SOL_UDP, UDP_GRO, KERNEL_SOCKPTR(&one),
					sizeof(one));
	if (*err) {
		sock_release(t->sock);
		kfree(t);
		t = NULL;
		goto out;
	}
	lock_sock(usk);
	usk->sk_userlocks |= SOCK_RCVBUF_LOCK;
	WRITE_ONCE(usk->sk_rcvbuf, TQUIC_TUNNEL_RCVBUF);
	release_sock(usk);
	write_lock_bh(&usk->sk_callback_lock);
	rcu_assign_sk_user_data(usk, t);
	usk->sk_data_ready = tquic_tunnel_data_ready;
	write_unlock_bh(&usk->sk_callback_lock);
	list_add(&t->node, &tn->tunnels);
	atomic_inc(&tn->nr_tunnels);
out:
	mutex_unlock(&tn->tunnels_lock);
	return t;
}

/* Closes tunnels' UDP sockets once their data_ready can no longer see them. */
static struct workqueue_struct *tquic_tunnel_wq;

static void tquic_tunnel_free(struct work_struct *work)
{
	struct tquic_tunnel *t = container_of(to_rcu_work(work), struct tquic_tunnel, free_work);

	kernel_sock_shutdown(t->sock, SHUT_RDWR);
	sock_release(t->sock);
	kfree(t);
}

/*
 * What udp_tunnel_sock_release() does, without its synchronize_rcu()
 * under tn->tunnels_lock: every close of a client connection (each has
 * its own tunnel) waited a grace period and stalled every bind and
 * connect in the namespace meanwhile.  The port is free at once (the
 * socket leaves the UDP hash now); data_ready running now may still use
 * @t and its socket (the reply of a stateless reset), so both are freed
 * after a grace period, from a work.
 */
static void tquic_tunnel_release(struct tquic_sock_net *tn, struct tquic_tunnel *t)
{
	struct sock *usk = t->sock->sk;

	list_del(&t->node);
	atomic_dec(&tn->nr_tunnels);
	rcu_assign_sk_user_data(usk, NULL);
	usk->sk_prot->unhash(usk);
	INIT_RCU_WORK(&t->free_work, tquic_tunnel_free);
	queue_rcu_work(tquic_tunnel_wq, &t->free_work);
}

/* Drops a socket's reference.  Process context (may sleep). */
void tquic_tunnel_put(struct tquic_tunnel *t)
{
	struct tquic_sock_net *tn = tquic_sock_net(t->net);

	if (!refcount_dec_and_mutex_lock(&t->refcnt, &tn->tunnels_lock))
		return;
	tquic_tunnel_release(tn, t);
	mutex_unlock(&tn->tunnels_lock);
}

void tquic_tunnels_net_exit(struct tquic_sock_net *tn)
{
	struct tquic_tunnel *t, *tmp;

	mutex_lock(&tn->tunnels_lock);
	list_for_each_entry_safe(t, tmp, &tn->tunnels, node)
		tquic_tunnel_release(tn, t);
	mutex_unlock(&tn->tunnels_lock);
	/*
	 * The namespace's UDP sockets must be closed before it goes: wait for
	 * the grace periods (queue_rcu_work() queues from an RCU callback),
	 * then for the works.
	 */
	rcu_barrier();
	flush_workqueue(tquic_tunnel_wq);
}

int __init tquic_tunnel_init(void)
{
	tquic_tunnel_wq = alloc_workqueue("tquic_tunnel", 0, 0);
	return tquic_tunnel_wq ? 0 : -ENOMEM;
}

/* After every namespace's exit: no tunnel is left. */
void tquic_tunnel_exit(void)
{
	destroy_workqueue(tquic_tunnel_wq);
}

/* Listeners of a tunnel.  Process context, caller owns the socket. */
void tquic_tunnel_listen(struct tquic_tunnel *t, struct sock *sk)
{
	struct tquic_sock_net *tn = tquic_sock_net(t->net);

	mutex_lock(&tn->tunnels_lock);
	hlist_add_tail_rcu(&tquic_sk(sk)->listen_node, &t->listeners);
	tquic_sk(sk)->listening = true;
	mutex_unlock(&tn->tunnels_lock);
}

void tquic_tunnel_unlisten(struct tquic_tunnel *t, struct sock *sk)
{
	struct tquic_sock_net *tn = tquic_sock_net(t->net);

	mutex_lock(&tn->tunnels_lock);
	if (tquic_sk(sk)->listening) {
		hlist_del_init_rcu(&tquic_sk(sk)->listen_node);
		tquic_sk(sk)->listening = false;
	}
	mutex_unlock(&tn->tunnels_lock);
}

/* The first listener of @t, with a reference.  Caller holds RCU. */
static struct sock *tquic_tunnel_listener(struct tquic_tunnel *t)
{
	struct tquic_sock *qs;

	/*
	 * The first listener takes every new client's Initials; when others
	 * share the port, it routes them by the ClientHello's ALPN
	 * (tquic_alpn_route() in socket.c), as the draft has it.
	 */
	hlist_for_each_entry_rcu(qs, &t->listeners, listen_node) {
		struct sock *sk = &qs->inet.sk;

		if (READ_ONCE(sk->sk_state) == TCP_LISTEN &&
		    refcount_inc_not_zero(&sk->sk_refcnt))
			return sk;
	}
	return NULL;
}

/* ---- receive ---- */

/* Stateless resets a namespace sends per second, at most. */
#define TQUIC_RESET_RATE	1000
/* The longest stateless reset sent (RFC 9000 10.3: as long as a short packet). */
#define TQUIC_RESET_MAX		43

static bool tquic_reset_budget_take(struct tquic_sock_net *tn)
{
	unsigned long now = jiffies;
	bool ok;

	spin_lock(&tn->reset_lock);
	if (!tn->reset_stamp || time_after_eq(now, tn->reset_stamp + HZ)) {
		tn->reset_stamp = now;
		tn->reset_budget = TQUIC_RESET_RATE;
	}
	ok = tn->reset_budget > 0;
	if (ok)
		tn->reset_budget--;
	spin_unlock(&tn->reset_lock);
	return ok;
}

/*
 * @skb, a short-header datagram of @len bytes, matched no connection: its
 * endpoint lost the state (a restarted server, a closed socket).  Answer
 * with a stateless reset (RFC 9000 10.3) carrying the token the CID was
 * issued with: the namespace's key over the CID, read with the
 * namespace's CID length.  The reset is shorter than its trigger, so two
 * endpoints cannot loop, and a budget per second bounds the work.  True
 * when one was sent (@skb is left to the caller).
 */
static bool tquic_tunnel_stateless_reset(struct tquic_tunnel *t, struct tquic_sock_net *tn,
					 struct sk_buff *skb, unsigned int len)
{
	const u8 *cid = skb->data + sizeof(struct udphdr) + 1;
	struct tquic_config ns;
	struct sk_buff *reply;
	long n;
	u8 cid_len;

	tquic_config_get(t->net, &ns);
	cid_len = ns.cid_len ? min_t(u8, ns.cid_len, TQUIC_CID_MAX) : TQUIC_DEFAULT_CID_LEN;
	/* The demux pulled min(len, TQUIC_DEMUX_PULL) > 1 + cid_len bytes. */
	if (len <= 1U + cid_len || !tquic_reset_budget_take(tn))
		return false;
	reply = alloc_skb(TQUIC_TX_HEADROOM + TQUIC_RESET_MAX, GFP_ATOMIC);
	if (!reply)
		return false;
	skb_reserve(reply, TQUIC_TX_HEADROOM);
	/* 0 when the trigger is too short to answer with a shorter reset. */
	n = tquic_stateless_reset_build(tn->reset_key, cid, cid_len, len, reply->data,
					TQUIC_RESET_MAX);
	if (n <= 0) {
		kfree_skb(reply);
		return false;
	}
	skb_put(reply, n);
	tquic_tunnel_reply(t, skb, reply);
	return true;
}

/*
 * For a listener: the socket that already owns this Initial's DCID (an
 * earlier Initial of the same client created it), with a reference.
 */
struct sock *tquic_demux_initial_owner(struct sock *listener, struct sk_buff *skb)
{
	struct tquic_sock_net *tn = tquic_sock_net(sock_net(listener));
	const u8 *p = skb->data + sizeof(struct udphdr);
	struct sock *sk;

	rcu_read_lock();
	sk = tquic_demux_lookup(tn, p + 6, p[5]);
	rcu_read_unlock();
	return sk;
}

bool tquic_version_known(u32 version)
{
	return version == TQUIC_VERSION_1 || version == TQUIC_VERSION_2;
}

static bool tquic_is_initial(u8 first, u32 version)
{
	u8 type = (first & 0x30) >> 4;

	return version == TQUIC_VERSION_2 ? type == 1 : type == 0;
}

/*
 * Whether every datagram of train @skb (GSO, data at the UDP header) has
 * the Destination CID @cid of @cid_len bytes, which the first one carries,
 * in the place its header has it: then the train goes to that CID's
 * connection in one piece.
 */
static bool tquic_train_one_cid(struct sk_buff *skb, const u8 *cid, u8 cid_len)
{
	unsigned int seg = skb_shinfo(skb)->gso_size, off;
	u8 buf[6 + TQUIC_CID_MAX];

	for (off = sizeof(struct udphdr) + seg; off < skb->len; off += seg) {
		unsigned int len = min(skb->len - off, seg), want;
		const u8 *p;

		p = skb_header_pointer(skb, off, min_t(unsigned int, len, sizeof(buf)), buf);
		if (!p)
			return false;
		/* Long header: the DCID after flags, version and its length. */
		want = (p[0] & 0x80) ? 6 + cid_len : 1 + cid_len;
		if (len < want || ((p[0] & 0x80) && p[5] != cid_len) ||
		    memcmp(p + want - cid_len, cid, cid_len))
			return false;
	}
	return true;
}

static void tquic_tunnel_rcv(struct tquic_tunnel *t, struct sk_buff *skb);

/* @n datagrams received and dropped for reason @mib. */
static void tquic_rx_drop(struct tquic_sock_net *tn, int mib, unsigned int n)
{
	TQUIC_ADD_STATS(tn, TQUIC_MIB_RX_DATAGRAMS, n);
	TQUIC_ADD_STATS(tn, mib, n);
}

/*
 * Train @skb cannot go to one connection in one piece (its datagrams are
 * for several, or for a listener): each datagram goes on in an skb of its
 * own, with the IP and UDP headers the receive path reads.  Uncommon (a
 * client's first Initials, hostile trains), so a copy.
 */
static void tquic_train_split(struct tquic_tunnel *t, struct sk_buff *skb)
{
	unsigned int nhlen = skb_transport_header(skb) - skb_network_header(skb);
	unsigned int seg = skb_shinfo(skb)->gso_size, off = sizeof(struct udphdr);
	struct tquic_sock_net *tn = tquic_sock_net(t->net);

	if (!seg)
		tquic_rx_drop(tn, TQUIC_MIB_DROP_MALFORMED, 1);
	for (; seg && off < skb->len; off += seg) {
		unsigned int len = min(seg, skb->len - off);
		struct sk_buff *one;

		one = alloc_skb(nhlen + sizeof(struct udphdr) + len, GFP_ATOMIC);
		if (!one) {
			tquic_rx_drop(tn, TQUIC_MIB_DROP_BACKLOG, 1);
			continue;
		}
		/* The IP and UDP headers are in the head: the stack pulled them. */
		skb_put_data(one, skb_network_header(skb), nhlen + sizeof(struct udphdr));
		if (skb_copy_bits(skb, off, skb_put(one, len), len)) {
			kfree_skb(one);
			tquic_rx_drop(tn, TQUIC_MIB_DROP_MALFORMED, 1);
			continue;
		}
		skb_reset_network_header(one);
		skb_set_transport_header(one, nhlen);
		__skb_pull(one, nhlen);
		one->protocol = skb->protocol;
		tquic_tunnel_rcv(t, one);
	}
	consume_skb(skb);
}

/*
 * A datagram, or a train of them, from tunnel @t, data at the UDP header.
 * Softirq, RCU held; @skb is consumed.
 */
static void tquic_tunnel_rcv(struct tquic_tunnel *t, struct sk_buff *skb)
{
	unsigned int hlen = sizeof(struct udphdr), len = skb->len - hlen, n;
	struct tquic_sock_net *tn = tquic_sock_net(t->net);
	bool train = skb_is_gso(skb);
	const u8 *p, *cid = NULL;
	struct sock *sk = NULL;
	int mib, via;
	u8 cid_len = 0;

	/* A train's first datagram decides where the train goes. */
	if (train)
		len = min(len, (unsigned int)skb_shinfo(skb)->gso_size);
	mib = TQUIC_MIB_DROP_MALFORMED;
	if (len < 1 || !pskb_may_pull(skb, hlen + min_t(unsigned int, len, TQUIC_DEMUX_PULL)))
		goto drop;
	p = skb->data + hlen;

	via = TQUIC_MIB_RX_LISTEN;
	if (p[0] & 0x80) {
		u8 dcil, scil;
		u32 version;

		/* Long header: flags, version, DCID length + DCID, SCID length + SCID. */
		if (len < 7)
			goto drop;
		version = get_unaligned_be32(p + 1);
		dcil = p[5];
		if (version && !tquic_version_known(version)) {
			/*
			 * A version we do not speak (its CIDs may be longer):
			 * a listener answers a full-sized datagram with
			 * Version Negotiation (RFC 9000 6.1).
			 */
			mib = TQUIC_MIB_DROP_VERSION;
			if (len < TQUIC_MIN_INITIAL)
				goto drop;
			sk = tquic_tunnel_listener(t);
			if (!sk)
				goto drop;
			goto deliver;
		}
		if (dcil > TQUIC_CID_MAX)
			goto drop;
		if (len < 7U + dcil)
			goto drop;
		scil = p[6 + dcil];
		if (scil > TQUIC_CID_MAX || len < 7U + dcil + scil)
			goto drop;
		if (dcil)
			sk = tquic_demux_lookup(tn, p + 6, dcil);
		if (sk) {
			via = TQUIC_MIB_RX_CONN;
			cid = p + 6;
			cid_len = dcil;
			goto deliver;
		}
		/* Version Negotiation packets for unknown connections. */
		mib = TQUIC_MIB_DROP_NO_CONN;
		if (!version)
			goto drop;
		if (!tquic_is_initial(p[0], version) || len < TQUIC_MIN_INITIAL ||
		    dcil < TQUIC_CID_MIN_ODCID)
			goto drop;
		sk = tquic_tunnel_listener(t);
		if (!sk)
			goto drop;
	} else {
		int l;

		/*
		 * Short header: the DCID length is not on the wire.  Try the
		 * lengths that connections in this namespace use (usually one).
		 */
		for (l = 1; l <= TQUIC_CID_MAX && l < len; l++) {
			if (!atomic_read(&tn->cid_lens[l]))
				continue;
			sk = tquic_demux_lookup(tn, p + 1, l);
			if (sk)
				break;
		}
		mib = TQUIC_MIB_DROP_NO_CONN;
		if (!sk) {
			if (!train && tquic_tunnel_stateless_reset(t, tn, skb, len))
				mib = TQUIC_MIB_STATELESS_RESET;
			goto drop;
		}
		via = TQUIC_MIB_RX_CONN;
		cid = p + 1;
		cid_len = l;
	}
deliver:
	if (train && (!cid || !tquic_train_one_cid(skb, cid, cid_len))) {
		sock_put(sk);
		tquic_train_split(t, skb);
		return;
	}
	n = tquic_skb_datagrams(skb);
	TQUIC_ADD_STATS(tn, TQUIC_MIB_RX_DATAGRAMS, n);
	TQUIC_ADD_STATS(tn, via, n);
	TQUIC_SKB_CB(skb)->routed = 0;
	tquic_sock_queue_rx(tn, sk, skb);
	sock_put(sk);
	return;
drop:
	if (train) {
		/* Its other datagrams may be fine: each is judged alone. */
		tquic_train_split(t, skb);
		return;
	}
	tquic_rx_drop(tn, mib, 1);
	kfree_skb(skb);
}

/*
 * The tunnel's UDP socket queued datagrams: take them all.  Softirq (the
 * UDP receive path), so the callers of tquic_tunnel_rcv() need nothing more.
 */
static void tquic_tunnel_data_ready(struct sock *usk)
{
	struct tquic_tunnel *t;
	struct sk_buff *skb;
	int off = 0, err;
	bool bad;

	rcu_read_lock();
	t = rcu_dereference_sk_user_data(usk);
	/* Without @t the tunnel is being released, which purges the queue. */
	while (t && ((skb = __skb_recv_udp(usk, MSG_DONTWAIT, &off, &err)) || err != -EAGAIN)) {
		if (!skb)
			continue;	/* a socket error, now cleared */
		bad = !udp_skb_csum_unnecessary(skb) && __udp_lib_checksum_complete(skb);
		/* UDP pulled its header; the receive path reads the ports there. */
		__skb_push(skb, sizeof(struct udphdr));
		if (bad) {
			tquic_rx_drop(tquic_sock_net(t->net), TQUIC_MIB_DROP_MALFORMED,
				      tquic_skb_datagrams(skb));
			kfree_skb(skb);
			continue;
		}
		tquic_tunnel_rcv(t, skb);
	}
	rcu_read_unlock();
}

/* ---- transmit ---- */

/*
 * Sends @skb (the QUIC payload, with headroom for UDP/IP) through tunnel
 * @t from @local to @peer.  Process or softirq context; @skb is consumed.
 * The caller sets skb->mark and skb->priority.
 */
static int tquic_tunnel_send(struct tquic_tunnel *t, struct sk_buff *skb,
			     const union tquic_sockaddr *local, const union tquic_sockaddr *peer,
			     u8 ecn, int oif)
{
	struct sock *usk = t->sock->sk;
	__be16 sport = t->local.v4.sin_port;

	if (peer->sa.sa_family == AF_INET) {
		struct flowi4 fl4 = {
			.daddr = peer->v4.sin_addr.s_addr,
			.saddr = local->v4.sin_addr.s_addr,
			.flowi4_oif = oif,
			.flowi4_mark = skb->mark,
			.flowi4_proto = IPPROTO_UDP,
			.fl4_dport = peer->v4.sin_port,
			.fl4_sport = sport,
		};
		struct rtable *rt = ip_route_output_key(t->net, &fl4);

		if (IS_ERR(rt)) {
			kfree_skb(skb);
			return PTR_ERR(rt);
		}
		udp_tunnel_xmit_skb(rt, usk, skb, fl4.saddr, fl4.daddr, ecn & INET_ECN_MASK,
				    ip4_dst_hoplimit(&rt->dst), htons(IP_DF),
				    fl4.fl4_sport, fl4.fl4_dport, false, false);
		return 0;
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		struct flowi6 fl6 = {
			.daddr = peer->v6.sin6_addr,
			.saddr = local->v6.sin6_addr,
			.flowi6_oif = oif ?: peer->v6.sin6_scope_id,
			.flowi6_mark = skb->mark,
			.flowi6_proto = IPPROTO_UDP,
			.fl6_dport = peer->v6.sin6_port,
			.fl6_sport = sport,
		};
		struct dst_entry *dst;

		dst = ipv6_stub->ipv6_dst_lookup_flow(t->net, usk, &fl6, NULL);
		if (IS_ERR(dst)) {
			kfree_skb(skb);
			return PTR_ERR(dst);
		}
		return udp_tunnel6_xmit_skb(dst, usk, skb, dst->dev, &fl6.saddr, &fl6.daddr,
					    ecn & INET_ECN_MASK, ip6_dst_hoplimit(dst), 0, fl6.fl6_sport,
					    fl6.fl6_dport, false);
	}
#else
	kfree_skb(skb);
	return -EAFNOSUPPORT;
#endif
}

/*
 * Sends one datagram the engine built (@skb holds the QUIC payload, with
 * headroom for UDP/IP) from @sk's tunnel to @peer.  Process or softirq
 * context; @skb is consumed.  @ecn is the IP ECN codepoint to set.
 */
int tquic_tunnel_xmit(struct sock *sk, struct sk_buff *skb, const union tquic_sockaddr *peer,
		      u8 ecn)
{
	union tquic_sockaddr local = {};
	struct tquic_tunnel *t = tquic_sk(sk)->tunnel;

	if (!t) {
		kfree_skb(skb);
		return -ENOTCONN;
	}
	skb->mark = READ_ONCE(sk->sk_mark);
	skb->priority = READ_ONCE(sk->sk_priority);
	if (peer->sa.sa_family == AF_INET)
		local.v4.sin_addr.s_addr = inet_sk(sk)->inet_saddr;
#if IS_ENABLED(CONFIG_IPV6)
	else
		local.v6.sin6_addr = inet6_sk(sk)->saddr;
#endif
	return tquic_tunnel_send(t, skb, &local, peer, ecn, sk->sk_bound_dev_if);
}

/*
 * Answers @in, a datagram tunnel @t received, with @reply: from the
 * address @in was sent to (the tunnel may be bound to a wildcard) back to
 * its source.  Process or softirq context; @reply is consumed.
 */
int tquic_tunnel_reply(struct tquic_tunnel *t, const struct sk_buff *in, struct sk_buff *reply)
{
	union tquic_sockaddr local = {}, peer = {};

	if (!t) {
		kfree_skb(reply);
		return -ENOTCONN;
	}

	if (in->protocol == htons(ETH_P_IP)) {
		local.v4.sin_family = AF_INET;
		local.v4.sin_addr.s_addr = ip_hdr(in)->daddr;
		peer.v4.sin_family = AF_INET;
		peer.v4.sin_addr.s_addr = ip_hdr(in)->saddr;
		peer.v4.sin_port = udp_hdr(in)->source;
	}
#if IS_ENABLED(CONFIG_IPV6)
	else {
		local.v6.sin6_family = AF_INET6;
		local.v6.sin6_addr = ipv6_hdr(in)->daddr;
		peer.v6.sin6_family = AF_INET6;
		peer.v6.sin6_addr = ipv6_hdr(in)->saddr;
		peer.v6.sin6_port = udp_hdr(in)->source;
		if (ipv6_addr_type(&peer.v6.sin6_addr) & IPV6_ADDR_LINKLOCAL)
			peer.v6.sin6_scope_id = inet6_iif(in);
	}
#endif
	return tquic_tunnel_send(t, reply, &local, &peer, 0, t->ifindex);
}
