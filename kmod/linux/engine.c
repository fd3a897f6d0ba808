// SPDX-License-Identifier: GPL-2.0
/*
 * The connection engine (kmod/core/conn.h) under IPPROTO_QUIC sockets.
 *
 * Every engine call runs in process context with the socket owned
 * (lock_sock): from the socket calls themselves, or from the socket's work
 * item, which drains the datagrams the tunnels queued from softirq and runs
 * expired timers.  Process context lets the engine allocate crypto
 * transforms (which sleep) wherever the protocol asks for new keys: a new
 * server connection's Initial keys, a Retry, a peer's key update.
 *
 * After each engine input (a socket call, or a batch of received
 * datagrams) the socket runs tquic_engine_process(): it drains the engine's
 * events (routing CIDs, waking readers and writers, queueing handshake
 * bytes, datagrams and notifications for recvmsg()), sends what is due, as
 * UDP GSO batches where datagrams line up, and re-arms the timer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/tls.h>
#include <linux/udp.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <net/sock.h>
#include <net/inet_ecn.h>
#include <net/tcp_states.h>
#include <net/ip.h>
#if IS_ENABLED(CONFIG_IPV6)
#include <net/ipv6.h>
#endif

#include "quic_sock.h"
#include "qlog.h"
#include "tquic.h"
#include "conn.h"
#include "crypto.h"

/* Room the engine builds one datagram in, and the headers in front of it. */
#define TQUIC_TX_CAP		1500
/* Datagrams one pass sends before yielding to the next work run. */
#define TQUIC_TX_BUDGET		64
/* Datagrams one transmit skb carries at most (UDP GSO). */
#define TQUIC_GSO_SEGS		16
/* Datagrams one work run processes before re-queueing itself. */
#define TQUIC_RX_BUDGET		256
/* Bytes of application data copied into one engine buffer. */
#define TQUIC_TX_CHUNK		(16384 - 64)
/* Streams with data to read that the socket remembers (the ring's cap). */
#define TQUIC_RSTREAMS_MAX	65536

static struct workqueue_struct *tquic_wq;

static u64 tquic_now(void)
{
	return ktime_get_ns();
}

/* ---- work: received datagrams and timers ---- */

/* Runs the socket's work soon; it holds a socket reference while queued. */
void tquic_sock_kick(struct sock *sk)
{
	sock_hold(sk);
	if (!queue_work(tquic_wq, &tquic_sk(sk)->work))
		sock_put(sk);
}

/*
 * A datagram from a tunnel for @sk (a reference held by the caller).
 * Softirq context; @skb is consumed.
 */
void tquic_sock_queue_rx(struct tquic_sock_net *tn, struct sock *sk, struct sk_buff *skb)
{
	struct tquic_sock *qs = tquic_sk(sk);
	int limit = READ_ONCE(sk->sk_rcvbuf) + READ_ONCE(sk->sk_sndbuf);

	if (atomic_read(&qs->rx_queued) + (int)skb->truesize > limit) {
		qs->opts.stats.rx_dropped += tquic_skb_datagrams(skb);
		TQUIC_ADD_STATS(tn, TQUIC_MIB_DROP_BACKLOG, tquic_skb_datagrams(skb));
		kfree_skb(skb);
		return;
	}
	atomic_add(skb->truesize, &qs->rx_queued);
	skb_queue_tail(&qs->rx_queue, skb);
	qs->opts.stats.rx_backlogged++;
	TQUIC_INC_STATS(tn, TQUIC_MIB_RX_BACKLOG);
	tquic_sock_kick(sk);
}

static void tquic_sock_work(struct work_struct *work)
{
	struct tquic_sock *qs = container_of(work, struct tquic_sock, work);
	struct sock *sk = &qs->inet.sk;
	struct sk_buff *skb;
	int n = 0;

	lock_sock(sk);
	while (n++ < TQUIC_RX_BUDGET && (skb = skb_dequeue(&qs->rx_queue))) {
		struct sock *redirect;

		atomic_sub(skb->truesize, &qs->rx_queued);
		redirect = tquic_rcv_locked(sk, skb);
		if (redirect) {
			/* A listener found the connection an earlier Initial created. */
			local_bh_disable();
			tquic_sock_queue_rx(tquic_sock_net(sock_net(sk)), redirect, skb);
			local_bh_enable();
			sock_put(redirect);
		}
	}
	/* One transmit pass for the whole batch: ACKs and data go out together. */
	if (test_and_clear_bit(TQUIC_DEFERRED_TIMER, &qs->deferred))
		tquic_engine_timeout(sk);
	else if (n > 1)
		tquic_engine_process(sk);
	if (!skb_queue_empty(&qs->rx_queue))
		tquic_sock_kick(sk);	/* yield: the rest in the next run */
	release_sock(sk);
	sock_put(sk);
}

void tquic_engine_sock_init(struct tquic_sock *qs)
{
	qs->conn = NULL;
	INIT_WORK(&qs->work, tquic_sock_work);
	skb_queue_head_init(&qs->rx_queue);
	atomic_set(&qs->rx_queued, 0);
	qs->rstreams = NULL;
	qs->rs_head = 0;
	qs->rs_len = 0;
	qs->rs_cap = 0;
	qs->app_secrets = 0;
	qs->send_blocked = false;
	qs->tx_batch = 0;
}

/*
 * ->destroy, socket not owned: the work is gone and nothing queues new
 * input (TCP_CLOSE).
 */
void tquic_engine_sock_destroy(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);

	if (cancel_work_sync(&qs->work))
		sock_put(sk);	/* the reference the queued work held */
	skb_queue_purge(&qs->rx_queue);
	atomic_set(&qs->rx_queued, 0);
	/* Dumps (genl.c) read the connection with the socket owned. */
	lock_sock_nested(sk, SINGLE_DEPTH_NESTING);
	if (qs->conn) {
		tquic_conn_free(qs->conn);
		qs->conn = NULL;
	}
	release_sock(sk);
	kfree(qs->rstreams);
	qs->rstreams = NULL;
	qs->rs_len = 0;
	qs->rs_cap = 0;
}

int __init tquic_engine_init(void)
{
	/*
	 * Unbound: a socket's work is queued from the softirq of whoever
	 * sent to it, over veth or loopback the peer's own CPU; bound to that
	 * CPU, a receiver's decryption would compete with its sender while
	 * another CPU idles.
	 */
	tquic_wq = alloc_workqueue("tquic", WQ_UNBOUND | WQ_HIGHPRI, 0);
	return tquic_wq ? 0 : -ENOMEM;
}

void tquic_engine_exit(void)
{
	/* The last socket's final sock_put() may still be returning from a work. */
	destroy_workqueue(tquic_wq);
}

/* ---- addresses and configuration ---- */

/* The socket's own local (or @peer) address, in the engine's form. */
void tquic_sock_addr(struct sock *sk, bool peer, struct tquic_addr *a)
{
	const struct inet_sock *inet = inet_sk(sk);

	memset(a, 0, sizeof(*a));
	a->port = ntohs(peer ? inet->inet_dport : inet->inet_sport);
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		const struct in6_addr *ip = peer ? &sk->sk_v6_daddr : &sk->sk_v6_rcv_saddr;

		if (!peer && ipv6_addr_any(ip))
			ip = &inet6_sk(sk)->saddr;
		if (ipv6_addr_v4mapped(ip)) {
			a->family = TQUIC_ADDR_V4;
			memcpy(a->addr, &ip->s6_addr32[3], 4);
		} else {
			a->family = TQUIC_ADDR_V6;
			memcpy(a->addr, ip, 16);
		}
		return;
	}
#endif
	a->family = TQUIC_ADDR_V4;
	memcpy(a->addr, peer ? &inet->inet_daddr : &inet->inet_saddr, 4);
}

/* The engine's peer address as a socket address of @sk's family. */
static void tquic_addr_to_sockaddr(struct sock *sk, const struct tquic_addr *a,
				   union tquic_sockaddr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (a->family == TQUIC_ADDR_V4 && sk->sk_family == AF_INET) {
		sa->v4.sin_family = AF_INET;
		sa->v4.sin_port = htons(a->port);
		memcpy(&sa->v4.sin_addr, a->addr, 4);
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
	sa->v6.sin6_family = AF_INET6;
	sa->v6.sin6_port = htons(a->port);
	if (a->family == TQUIC_ADDR_V4)
		ipv6_addr_set_v4mapped(*(const __be32 *)a->addr, &sa->v6.sin6_addr);
	else
		memcpy(&sa->v6.sin6_addr, a->addr, 16);
	if (ipv6_addr_type(&sa->v6.sin6_addr) & IPV6_ADDR_LINKLOCAL)
		sa->v6.sin6_scope_id = sk->sk_bound_dev_if;
#endif
}

/* The engine configuration from the namespace defaults and the socket's options. */
static void tquic_engine_config(struct sock *sk, struct tquic_conn_config *cfg)
{
	struct tquic_sock_net *tn = tquic_sock_net(sock_net(sk));
	struct tquic_sock *qs = tquic_sk(sk);
	const struct quic_transport_param *tp = &qs->opts.tp;
	struct tquic_config ns;
	u32 first = qs->opts.config.version;
	u32 i;

	tquic_config_get(sock_net(sk), &ns);
	tquic_conn_config_init(cfg);
	/* The socket's version first, then the namespace's others (compatible negotiation). */
	cfg->n_versions = 0;
	cfg->versions[cfg->n_versions++] = first;
	for (i = 0; i < ns.nr_versions && cfg->n_versions < TQUIC_CONN_MAX_VERSIONS; i++)
		if (ns.versions[i] != first)
			cfg->versions[cfg->n_versions++] = ns.versions[i];
	strscpy(cfg->cc_name, qs->opts.cc[0] ? qs->opts.cc : ns.cc, sizeof(cfg->cc_name));
	cfg->pacing = ns.pacing;
	cfg->ecn = ns.ecn != TQUIC_ECN_OFF;
	if (ns.amplification)
		cfg->amp_factor = ns.amplification;
	cfg->cid_len = ns.cid_len ? min_t(u8, ns.cid_len, TQUIC_CID_MAX) : TQUIC_DEFAULT_CID_LEN;
	if (tp->active_connection_id_limit)
		cfg->active_cid_limit = min_t(u8, tp->active_connection_id_limit, 8);
	cfg->ack_delay_exponent = tp->ack_delay_exponent;
	cfg->max_ack_delay = tp->max_ack_delay / 1000;
	/* The application's choice (QUIC_SOCKOPT_TRANSPORT_PARAM), else the namespace's. */
	cfg->idle_timeout = qs->tp_set ? tp->max_idle_timeout / 1000 : ns.idle_timeout_ms;
	cfg->disable_active_migration = tp->disable_active_migration;
	cfg->initial_rtt = (u64)qs->opts.config.initial_smoothed_rtt * NSEC_PER_USEC;
	cfg->limits.max_data = tp->max_data;
	cfg->limits.max_stream_data_bidi_local = tp->max_stream_data_bidi_local;
	cfg->limits.max_stream_data_bidi_remote = tp->max_stream_data_bidi_remote;
	cfg->limits.max_stream_data_uni = tp->max_stream_data_uni;
	cfg->limits.max_streams_bidi = tp->max_streams_bidi;
	cfg->limits.max_streams_uni = tp->max_streams_uni;
	cfg->max_datagram_frame_size = tp->max_datagram_frame_size;
	memcpy(cfg->reset_key, tn->reset_key, sizeof(cfg->reset_key));
}

/* ---- creation ---- */

/* connect(): the client connection.  Socket owned, addresses and CIDs set. */
int tquic_engine_connect(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct tquic_conn_config cfg;
	struct tquic_addr local, peer;
	int err = 0;

	tquic_engine_config(sk, &cfg);
	tquic_sock_addr(sk, false, &local);
	tquic_sock_addr(sk, true, &peer);
	qs->conn = tquic_conn_client_new(&cfg, cfg.versions[0], qs->dcid.id, qs->dcid.len,
					 qs->scid.id, qs->scid.len, &local, &peer, tquic_now(),
					 TQUIC_GFP_KERNEL, &err);
	if (!qs->conn)
		return err ? err : -ENOMEM;
	tquic_qlog_conn_new(sk, NULL);
	if (qs->token_len) {
		err = tquic_conn_set_token(qs->conn, qs->token, qs->token_len);
		if (err) {
			tquic_conn_free(qs->conn);
			qs->conn = NULL;
			return err;
		}
	}
	return 0;
}

/* How long address validation tokens are good for (RFC 9000 8.1.3). */
#define TQUIC_RETRY_TOKEN_LIFETIME	(10 * NSEC_PER_SEC)
#define TQUIC_NEW_TOKEN_LIFETIME	(24ULL * 3600 * NSEC_PER_SEC)
/* Room for a Retry: header, two CIDs, a token, the integrity tag. */
#define TQUIC_RETRY_MAX			(64 + TQUIC_TOKEN_MAX)

/*
 * Checks the token of the Initial in @sp from @peer: a Retry token (its
 * original DCID goes into @sp, kept in @odcid) or a NEW_TOKEN token proves
 * the address.  Anything else is ignored, as RFC 9000 8.1.3 allows.
 */
static void tquic_check_token(const struct tquic_conn_config *cfg, struct tquic_server_params *sp,
			      const struct tquic_addr *peer, const u8 *token, size_t token_len,
			      u64 now, u8 *odcid)
{
	u8 odcid_len;
	int r;

	if (!token_len)
		return;
	r = tquic_token_check(cfg->reset_key, peer, token, token_len, now,
			      TQUIC_RETRY_TOKEN_LIFETIME, odcid, &odcid_len);
	if (r == 0) {
		sp->retried = true;
		sp->validated = true;
		sp->odcid = odcid;
		sp->odcid_len = odcid_len;
	} else if (tquic_token_check(cfg->reset_key, peer, token, token_len, now,
				     TQUIC_NEW_TOKEN_LIFETIME, odcid, &odcid_len) == 1) {
		/* A NEW_TOKEN token lives longer than a Retry token. */
		sp->validated = true;
	}
}

/* Answers the Initial in @sp with a Retry (from child @sk's addresses). */
static void tquic_send_retry(struct sock *sk, const struct tquic_server_params *sp,
			     const struct tquic_conn_config *cfg, const struct tquic_addr *peer,
			     u64 now)
{
	u8 scid[TQUIC_CID_MAX], *token;
	union tquic_sockaddr to;
	struct sk_buff *skb;
	long tl, len = -ENOMEM;

	token = kmalloc(TQUIC_TOKEN_MAX, GFP_KERNEL);
	skb = alloc_skb(TQUIC_TX_HEADROOM + TQUIC_RETRY_MAX, GFP_KERNEL);
	if (token && skb) {
		skb_reserve(skb, TQUIC_TX_HEADROOM);
		get_random_bytes(scid, cfg->cid_len);
		tl = tquic_token_make(cfg->reset_key, true, peer, sp->dcid, sp->dcid_len, now,
				      token, TQUIC_TOKEN_MAX);
		if (tl > 0)
			len = tquic_retry_reply(sp, scid, cfg->cid_len, token, tl, skb->data,
						TQUIC_RETRY_MAX, TQUIC_GFP_KERNEL);
	}
	kfree(token);
	if (len <= 0) {
		kfree_skb(skb);
		return;
	}
	skb_put(skb, len);
	tquic_addr_to_sockaddr(sk, peer, &to);
	if (!tquic_tunnel_xmit(sk, skb, &to, 0)) {
		tquic_sk(sk)->opts.stats.tx_datagrams++;
		tquic_sk(sk)->opts.stats.tx_bytes += len;
	}
}

/*
 * The CRYPTO data of the client Initial @skb that reached listener @lsk
 * (owned), laid out into @buf with its extents appended to @ext
 * (tquic_server_initial_crypto()).  0 or -errno.
 */
int tquic_engine_peek_hello(struct sock *lsk, struct sk_buff *skb, u8 *buf, size_t cap,
			    struct tquic_crypto_extent *ext, u32 *n_ext, u32 max_ext)
{
	struct tquic_server_params sp;
	struct tquic_conn_config cfg;
	const u8 *token;
	size_t token_len;

	tquic_engine_config(lsk, &cfg);
	if (skb_linearize(skb))
		return -ENOMEM;
	if (tquic_server_classify(&cfg, skb->data + sizeof(struct udphdr),
				  skb->len - sizeof(struct udphdr), &sp, &token,
				  &token_len) != TQUIC_SERVER_ACCEPT)
		return -EPROTO;
	return tquic_server_initial_crypto(&sp, skb->data + sizeof(struct udphdr),
					   skb->len - sizeof(struct udphdr), buf, cap, ext, n_ext,
					   max_ext, TQUIC_GFP_KERNEL);
}

/* Whether the namespace's Retry policy asks to validate new clients now. */
static bool tquic_retry_wanted(struct sock *lsk)
{
	struct tquic_config ns;

	tquic_config_get(sock_net(lsk), &ns);
	if (ns.retry == TQUIC_RETRY_ALWAYS)
		return true;
	/* Under load: once half of the accept queue waits. */
	return ns.retry == TQUIC_RETRY_UNDER_LOAD &&
	       READ_ONCE(lsk->sk_ack_backlog) > READ_ONCE(lsk->sk_max_ack_backlog) / 2;
}

/*
 * The server connection of child @sk for the client Initial @skb; @cid is
 * the CID already routed to @sk.  Child owned.  Returns 0 when the Initial
 * authenticated (the ClientHello is then queued for recvmsg()), -EAGAIN
 * when it was answered with a Retry instead, else an error.  @skb is
 * consumed and counted either way.
 */
int tquic_engine_accept(struct sock *lsk, struct sock *sk, struct sk_buff *skb,
			const struct tquic_cid_key *cid)
{
	struct tquic_sock_net *tn = tquic_sock_net(sock_net(sk));
	struct tquic_sock *qs = tquic_sk(sk);
	struct tquic_server_params sp;
	struct tquic_conn_config cfg;
	struct tquic_conn_stats st;
	struct tquic_addr local, peer;
	u8 odcid[TQUIC_CID_MAX];
	u64 now = tquic_now();
	const u8 *token;
	size_t token_len;
	int err = 0;

	tquic_engine_config(lsk, &cfg);
	if (skb_linearize(skb)) {
		TQUIC_INC_STATS(tn, TQUIC_MIB_DROP_CHILD_FAILED);
		kfree_skb(skb);
		return -ENOMEM;
	}
	if (tquic_server_classify(&cfg, skb->data + sizeof(struct udphdr),
				  skb->len - sizeof(struct udphdr), &sp, &token,
				  &token_len) != TQUIC_SERVER_ACCEPT) {
		TQUIC_INC_STATS(tn, TQUIC_MIB_DROP_MALFORMED);
		kfree_skb(skb);
		return -EPROTO;
	}
	sp.cid = cid->id;
	cfg.cid_len = cid->len;
	tquic_sock_addr(sk, false, &local);
	tquic_sock_addr(sk, true, &peer);
	tquic_check_token(&cfg, &sp, &peer, token, token_len, now, odcid);
	if (!sp.validated && tquic_retry_wanted(lsk)) {
		tquic_send_retry(sk, &sp, &cfg, &peer, now);
		TQUIC_INC_STATS(tn, TQUIC_MIB_RETRY);
		kfree_skb(skb);
		return -EAGAIN;
	}
	qs->conn = tquic_conn_server_new(&cfg, &sp, &local, &peer, now,
					 TQUIC_GFP_KERNEL, &err);
	if (!qs->conn) {
		TQUIC_INC_STATS(tn, TQUIC_MIB_DROP_CHILD_FAILED);
		kfree_skb(skb);
		return err ? err : -ENOMEM;
	}
	tquic_qlog_conn_new(sk, lsk);
	tquic_engine_rcv(sk, skb);
	tquic_engine_process(sk);
	/* Forged Initials must not leave connections behind. */
	tquic_conn_stats(qs->conn, &st);
	return st.pkts_recv ? 0 : -EBADMSG;
}

/* ---- readable streams ---- */

static int tquic_rstream_push(struct tquic_sock *qs, u64 id)
{
	u32 i;

	/* A stream already waiting to be read is not queued twice. */
	for (i = 0; i < qs->rs_len; i++)
		if (qs->rstreams[(qs->rs_head + i) % qs->rs_cap] == id)
			return 0;
	if (qs->rs_len == qs->rs_cap) {
		u32 cap = qs->rs_cap ? qs->rs_cap * 2 : 16;
		u64 *ring;

		if (cap > TQUIC_RSTREAMS_MAX)
			return -ENOBUFS;
		ring = kmalloc_array(cap, sizeof(*ring), GFP_KERNEL);
		if (!ring)
			return -ENOMEM;
		for (i = 0; i < qs->rs_len; i++)
			ring[i] = qs->rstreams[(qs->rs_head + i) % qs->rs_cap];
		kfree(qs->rstreams);
		qs->rstreams = ring;
		qs->rs_cap = cap;
		qs->rs_head = 0;
	}
	qs->rstreams[(qs->rs_head + qs->rs_len) % qs->rs_cap] = id;
	qs->rs_len++;
	return 0;
}

static void tquic_rstream_pop(struct tquic_sock *qs)
{
	qs->rs_head = (qs->rs_head + 1) % qs->rs_cap;
	qs->rs_len--;
}

bool tquic_engine_readable(const struct sock *sk)
{
	return READ_ONCE(tquic_sk(sk)->rs_len) != 0;
}

/* ---- events ---- */

/* A notification for recvmsg(), when the application enabled its type. */
static void tquic_notify(struct sock *sk, u8 type, const void *data, size_t len)
{
	struct sk_buff *skb;

	if (!(tquic_sk(sk)->events & BIT(type)))
		return;
	skb = alloc_skb(1 + len, GFP_KERNEL);
	if (!skb)
		return;
	skb_put_u8(skb, type);
	if (len)
		skb_put_data(skb, data, len);
	memset(TQUIC_SKB_CB(skb), 0, sizeof(struct tquic_skb_cb));
	TQUIC_SKB_CB(skb)->kind = TQUIC_SKB_EVENT;
	/* Events are small and rare: never lost to a full receive buffer. */
	skb_set_owner_r(skb, sk);
	skb_queue_tail(&sk->sk_receive_queue, skb);
	sk->sk_data_ready(sk);
}

static void tquic_wake_writers(struct sock *sk)
{
	struct socket_wq *wq;

	tquic_sk(sk)->send_blocked = false;
	if (sk->sk_socket)
		clear_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
	rcu_read_unlock();
}

/* QUIC_EVENT_STREAM_UPDATE for a reset (@state) of stream @id with @code. */
static void tquic_notify_stream_reset(struct sock *sk, u64 id, u8 state, u64 code)
{
	if (tquic_sk(sk)->opts.wide_errcodes) {
		struct tquic_stream_update w = { .id = id, .state = state, .errcode = code };

		tquic_notify(sk, QUIC_EVENT_STREAM_UPDATE, &w, sizeof(w));
	} else {
		struct quic_stream_update u = {
			.id = id,
			.state = state,
			/* The draft's structure has 32 bits: larger codes saturate. */
			.errcode = (u32)min_t(u64, code, U32_MAX),
		};

		tquic_notify(sk, QUIC_EVENT_STREAM_UPDATE, &u, sizeof(u));
	}
}

static void tquic_on_stream_event(struct sock *sk, const struct tquic_event *ev)
{
	struct tquic_sock *qs = tquic_sk(sk);

	if (ev->flags & (TQUIC_STREAM_EV_READABLE | TQUIC_STREAM_EV_PEER_RESET)) {
		if (!tquic_rstream_push(qs, ev->id))
			sk->sk_data_ready(sk);
	}
	if (ev->flags & TQUIC_STREAM_EV_PEER_STOP)
		tquic_notify_stream_reset(sk, ev->id, QUIC_STREAM_SEND_STATE_RESET_SENT,
					  tquic_conn_stream_stop_code(qs->conn, ev->id));
	if (ev->flags & (TQUIC_STREAM_EV_WRITABLE | TQUIC_STREAM_EV_PEER_STOP))
		tquic_wake_writers(sk);
}

static int tquic_close_errno(const struct sock *sk, const struct tquic_close_info *ci)
{
	/* The application closed (close() or shutdown()): no error to report. */
	if (!(ci->flags & TQUIC_CLOSE_F_REMOTE) && (sk->sk_shutdown & SEND_SHUTDOWN))
		return 0;
	if (ci->flags & TQUIC_CLOSE_F_IDLE)
		return ETIMEDOUT;
	if (ci->flags & TQUIC_CLOSE_F_HANDSHAKE)
		return ECONNREFUSED;
	if (ci->flags & TQUIC_CLOSE_F_RESET)
		return ECONNRESET;
	if (!(ci->flags & TQUIC_CLOSE_F_REMOTE))
		return ECONNABORTED;
	/* A peer's clean close (NO_ERROR, or an application's) reads as EOF. */
	if ((ci->flags & TQUIC_CLOSE_F_APP) || !ci->code)
		return 0;
	return ECONNRESET;
}

static void tquic_on_closed(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct tquic_close_info ci;
	struct {
		struct quic_connection_close cc;
		u8 phrase[TQUIC_PHRASE_MAX];
	} n = {};
	size_t plen;
	int err;

	if (!tquic_conn_close_info(qs->conn, &ci))
		return;
	tquic_genl_conn_event(sk, TQUIC_EVENT_CONN_DOWN);
	err = tquic_close_errno(sk, &ci);
	plen = min_t(size_t, ci.reason_len, TQUIC_PHRASE_MAX);
	n.cc.errcode = (u32)min_t(u64, ci.code, U32_MAX);
	n.cc.frame = (u8)ci.frame_type;
	if (plen)
		memcpy(n.phrase, ci.reason, plen);
	if (ci.flags & TQUIC_CLOSE_F_REMOTE)
		tquic_notify(sk, QUIC_EVENT_CONNECTION_CLOSE, &n, sizeof(n.cc) + plen);
	if (err)
		WRITE_ONCE(sk->sk_err, err);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	sk->sk_state_change(sk);
	if (err)
		sk_error_report(sk);
	tquic_wake_writers(sk);
}

/* Handshake bytes the engine received, queued for the TLS library. */
static void tquic_queue_crypto(struct sock *sk)
{
	static const u8 levels[][2] = {
		{ TQUIC_LEVEL_INITIAL, QUIC_CRYPTO_INITIAL },
		{ TQUIC_LEVEL_HANDSHAKE, QUIC_CRYPTO_HANDSHAKE },
		{ TQUIC_LEVEL_APP, QUIC_CRYPTO_APP },
	};
	struct tquic_conn *c = tquic_sk(sk)->conn;
	int i;

	for (i = 0; i < ARRAY_SIZE(levels); i++) {
		size_t avail;

		/* Called after every datagram: allocate only for bytes that are there. */
		while ((avail = tquic_conn_crypto_readable(c, levels[i][0]))) {
			size_t len = min_t(size_t, avail, TQUIC_HS_CHUNK);
			struct sk_buff *skb = alloc_skb(len, GFP_KERNEL);
			long n;

			if (!skb)
				return;
			n = tquic_conn_crypto_read(c, levels[i][0], skb->data, len);
			if (n <= 0) {
				kfree_skb(skb);
				break;
			}
			skb_put(skb, n);
			memset(TQUIC_SKB_CB(skb), 0, sizeof(struct tquic_skb_cb));
			TQUIC_SKB_CB(skb)->kind = TQUIC_SKB_HANDSHAKE;
			TQUIC_SKB_CB(skb)->level = levels[i][1];
			/* TLS flow control is the peer's business: always queued. */
			skb_set_owner_r(skb, sk);
			skb_queue_tail(&sk->sk_receive_queue, skb);
			sk->sk_data_ready(sk);
		}
	}
}

static void tquic_queue_datagrams(struct sock *sk)
{
	struct tquic_conn *c = tquic_sk(sk)->conn;
	const size_t cap = 65536;
	u8 *buf = kmalloc(cap, GFP_KERNEL);

	if (!buf)
		return;
	for (;;) {
		struct sk_buff *skb;
		long n = tquic_conn_dgram_recv(c, buf, cap);

		if (n < 0)
			break;
		/* Sized to the datagram: the receive buffer charges truesize. */
		skb = alloc_skb(n, GFP_KERNEL);
		if (!skb)
			break;
		skb_put_data(skb, buf, n);
		memset(TQUIC_SKB_CB(skb), 0, sizeof(struct tquic_skb_cb));
		TQUIC_SKB_CB(skb)->kind = TQUIC_SKB_DATAGRAM;
		/* Unreliable by definition: dropped when the buffer is full. */
		if (tquic_sk_enqueue_rx(sk, skb))
			kfree_skb(skb);
	}
	kfree(buf);
}

static void tquic_drain_events(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct tquic_conn *c = qs->conn;
	struct tquic_event ev;
	u64 id;

	while (tquic_conn_next_event(c, &ev)) {
		switch (ev.type) {
		case TQUIC_EV_STREAM:
			tquic_on_stream_event(sk, &ev);
			break;
		case TQUIC_EV_STREAMS_AVAILABLE: {
			u64 max = ev.id;

			tquic_notify(sk, QUIC_EVENT_STREAM_MAX_STREAM, &max, sizeof(max));
			tquic_wake_writers(sk);
			break;
		}
		case TQUIC_EV_CLOSED:
			tquic_on_closed(sk);
			break;
		case TQUIC_EV_DRAINED:
			tquic_demux_del_all(sk);
			inet_sk_set_state(sk, TCP_CLOSE);
			sk->sk_state_change(sk);
			break;
		case TQUIC_EV_NEW_TOKEN: {
			u8 token[TQUIC_TOKEN_MAX];
			size_t n = tquic_conn_new_token(c, token, sizeof(token));

			if (n) {
				kfree_sensitive(qs->token);
				qs->token = kmemdup(token, n, GFP_KERNEL);
				qs->token_len = qs->token ? n : 0;
				tquic_notify(sk, QUIC_EVENT_NEW_TOKEN, token, n);
			}
			break;
		}
		case TQUIC_EV_CID_NEW:
			/* Unroutable (taken by another socket): counted, not fatal. */
			if (tquic_demux_add(sk, ev.data, ev.len, GFP_KERNEL))
				qs->opts.stats.rx_dropped++;
			break;
		case TQUIC_EV_CID_RETIRED:
			tquic_demux_del(sk, ev.data, ev.len);
			break;
		case TQUIC_EV_DATAGRAM:
			tquic_queue_datagrams(sk);
			break;
		case TQUIC_EV_VERSION_NEGOTIATION:
			tquic_genl_conn_event(sk, TQUIC_EVENT_VERSION_NEGOTIATION);
			/* No version in common: connect fails. */
			WRITE_ONCE(sk->sk_err, EPROTONOSUPPORT);
			sk_error_report(sk);
			break;
		case TQUIC_EV_KEY_UPDATE: {
			u8 phase = (u8)ev.code;

			tquic_notify(sk, QUIC_EVENT_KEY_UPDATE, &phase, sizeof(phase));
			tquic_genl_conn_event(sk, TQUIC_EVENT_KEY_UPDATE);
			break;
		}
		case TQUIC_EV_PATH_VALIDATED: {
			u8 local = 0;

			tquic_notify(sk, QUIC_EVENT_CONNECTION_MIGRATION, &local, sizeof(local));
			tquic_genl_conn_event(sk, TQUIC_EVENT_PATH_CHANGE);
			break;
		}
		case TQUIC_EV_PEER_MIGRATED:
			tquic_genl_conn_event(sk, TQUIC_EVENT_PATH_CHANGE);
			break;
		case TQUIC_EV_PREFERRED_ADDRESS: {
			/* The peer moved us to its preferred address: not a local migration. */
			u8 local = 0;

			tquic_notify(sk, QUIC_EVENT_CONNECTION_MIGRATION, &local, sizeof(local));
			tquic_genl_conn_event(sk, TQUIC_EVENT_PATH_CHANGE);
			break;
		}
		default:
			break;
		}
	}
	/* New peer streams show up with their first data; only drain the list. */
	while (tquic_conn_stream_accept(c, &id))
		;
}

/* ---- transmit ---- */

/* Sends @skb, @segs datagrams of @gso_size bytes (the last may be shorter). */
static void tquic_xmit(struct sock *sk, struct sk_buff *skb, unsigned int segs,
		       unsigned int gso_size, const struct tquic_send_info *info)
{
	struct tquic_sock *qs = tquic_sk(sk);
	union tquic_sockaddr peer;
	unsigned int len = skb->len;

	if (segs > 1) {
		skb_shinfo(skb)->gso_size = gso_size;
		skb_shinfo(skb)->gso_segs = segs;
		skb_shinfo(skb)->gso_type = SKB_GSO_UDP_L4;
		/* The tunnel writes the pseudo-header sum; segmentation completes it. */
		skb->ip_summed = CHECKSUM_PARTIAL;
		skb->csum_start = skb_headroom(skb) - sizeof(struct udphdr);
		skb->csum_offset = offsetof(struct udphdr, check);
	}
	tquic_addr_to_sockaddr(sk, info->peer, &peer);
	if (!tquic_tunnel_xmit(sk, skb, &peer, info->ecn)) {
		qs->opts.stats.tx_datagrams += segs;
		qs->opts.stats.tx_bytes += len;
	}
}

/*
 * Builds and sends one skb: the engine's next datagram and, when it is
 * full-sized, more of its size to the same peer with the same ECN codepoint
 * behind it, as one UDP GSO skb the stack (or the NIC) splits.  Returns the
 * datagrams sent, 0 when the engine had nothing to send, or -errno.
 */
static int tquic_xmit_batch(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct tquic_conn *c = qs->conn;
	unsigned int segs = 1, max_segs, gso_size;
	struct tquic_send_info info, next;
	struct sk_buff *skb, *batch;
	u64 now = tquic_now();
	long len;

	/* Buffers are zeroed on allocation (init_on_alloc): no bigger than needed. */
	skb = alloc_skb(TQUIC_TX_HEADROOM + TQUIC_TX_CAP, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	skb_reserve(skb, TQUIC_TX_HEADROOM);
	len = tquic_conn_send(c, skb->data, TQUIC_TX_CAP, now, &info, TQUIC_GFP_KERNEL);
	if (len <= 0) {
		kfree_skb(skb);
		return len < 0 ? (int)len : 0;
	}
	skb_put(skb, len);
	gso_size = len;
	/* Grow towards what the last batch needed; the engine needs 1200 bytes of room. */
	max_segs = clamp_t(unsigned int, 2 * qs->tx_batch, 2, TQUIC_GSO_SEGS);
	if (gso_size < TQUIC_MIN_INITIAL_SIZE)
		goto out;
	batch = alloc_skb(TQUIC_TX_HEADROOM + max_segs * gso_size,
			  GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
	if (!batch)
		goto out;
	skb_reserve(batch, TQUIC_TX_HEADROOM);
	skb_put_data(batch, skb->data, skb->len);
	kfree_skb(skb);
	skb = batch;
	while (segs < max_segs) {
		len = tquic_conn_send(c, skb_tail_pointer(skb), gso_size, now, &next,
				      TQUIC_GFP_KERNEL);
		if (len <= 0)
			break;
		if (next.ecn != info.ecn || !tquic_addr_eq(next.peer, info.peer)) {
			/* Another path's datagram (a probe): it goes alone. */
			struct sk_buff *one = alloc_skb(TQUIC_TX_HEADROOM + len, GFP_KERNEL);

			if (one) {
				skb_reserve(one, TQUIC_TX_HEADROOM);
				skb_put_data(one, skb_tail_pointer(skb), len);
				tquic_xmit(sk, one, 1, len, &next);
			}
			break;
		}
		skb_put(skb, len);
		segs++;
		if (len < gso_size)
			break;	/* only the last segment may be shorter */
	}
out:
	qs->tx_batch = segs;
	tquic_xmit(sk, skb, segs, gso_size, &info);
	return segs;
}

static void tquic_flush(struct sock *sk)
{
	int n = 0, sent;

	while (n < TQUIC_TX_BUDGET) {
		sent = tquic_xmit_batch(sk);
		if (sent <= 0)
			return;
		n += sent;
	}
	/* More to send than one pass: continue from the work, after others ran. */
	tquic_sock_kick(sk);
}

/* After any engine input: events, handshake bytes, transmit, timer.  Socket owned. */
void tquic_engine_process(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);

	if (!qs->conn)
		return;
	tquic_drain_events(sk);
	tquic_queue_crypto(sk);
	if (!qs->conn)
		return;
	tquic_flush(sk);
	tquic_drain_events(sk);
	tquic_sock_timer_arm(sk, tquic_conn_next_deadline(qs->conn));
}

/* ---- receive and timer ---- */

static u8 tquic_skb_ecn(const struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		return ip_hdr(skb)->tos & INET_ECN_MASK;
#if IS_ENABLED(CONFIG_IPV6)
	if (skb->protocol == htons(ETH_P_IPV6))
		return ipv6_get_dsfield(ipv6_hdr(skb)) & INET_ECN_MASK;
#endif
	return 0;
}

/*
 * A datagram, or a train of them (GSO: gso_size bytes each, the last may be
 * shorter), for the connection of @sk.  Socket owned; @skb is consumed.
 */
void tquic_engine_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct tquic_sock_net *tn = tquic_sock_net(sock_net(sk));
	struct tquic_sock *qs = tquic_sk(sk);
	unsigned int off = sizeof(struct udphdr), seg = skb->len - off;
	const struct udphdr *uh = udp_hdr(skb);
	struct tquic_addr local, peer;
	u8 ecn = tquic_skb_ecn(skb);
	/* A train's datagrams arrived together (and a clock read can be an MMIO read). */
	u64 now = tquic_now();

	if (skb_is_gso(skb))
		seg = skb_shinfo(skb)->gso_size;
	tquic_sock_addr(sk, false, &local);
	local.port = ntohs(uh->dest);
	memset(&peer, 0, sizeof(peer));
	peer.port = ntohs(uh->source);
	if (skb->protocol == htons(ETH_P_IP)) {
		peer.family = TQUIC_ADDR_V4;
		memcpy(peer.addr, &ip_hdr(skb)->saddr, 4);
		local.family = TQUIC_ADDR_V4;
		memcpy(local.addr, &ip_hdr(skb)->daddr, 4);
	}
#if IS_ENABLED(CONFIG_IPV6)
	else {
		peer.family = TQUIC_ADDR_V6;
		memcpy(peer.addr, &ipv6_hdr(skb)->saddr, 16);
		local.family = TQUIC_ADDR_V6;
		memcpy(local.addr, &ipv6_hdr(skb)->daddr, 16);
	}
#endif
	for (; seg && off < skb->len; off += seg) {
		unsigned int len = min(seg, skb->len - off);
		const u8 *src = NULL;
		struct tquic_buf *b;

		/*
		 * The engine keeps stream data in buffers of its own: it
		 * decrypts into one straight from the skb's head, else in
		 * place in a copy.
		 */
		b = tquic_buf_alloc(len, TQUIC_GFP_KERNEL);
		if (b && off + len <= skb_headlen(skb)) {
			src = skb->data + off;
		} else if (!b || skb_copy_bits(skb, off, tquic_buf_data(b), len)) {
			tquic_buf_put(b);
			qs->opts.stats.rx_dropped++;
			TQUIC_INC_STATS(tn, TQUIC_MIB_DROP_BACKLOG);
			continue;
		}
		tquic_conn_recv(qs->conn, b, src, &local, &peer, ecn, now, TQUIC_GFP_KERNEL);
		tquic_buf_put(b);
		TQUIC_INC_STATS(tn, TQUIC_MIB_RX_CONSUMED);
	}
	kfree_skb(skb);
}

/* Room for a Version Negotiation packet: two 255-byte CIDs and our versions. */
#define TQUIC_VN_MAX		(7 + 2 * 255 + 4 * TQUIC_CONN_MAX_VERSIONS)

/*
 * Version Negotiation (RFC 9000 6.1) for @skb, a full-sized datagram of a
 * version we do not speak that reached listener @lsk (owned): the versions
 * the listener offers, from the address the client sent to.  @skb is
 * consumed and counted.
 */
void tquic_engine_vn_reply(struct sock *lsk, struct sk_buff *skb)
{
	struct tquic_sock_net *tn = tquic_sock_net(sock_net(lsk));
	struct tquic_conn_config cfg;
	struct sk_buff *reply;
	long len = -ENOMEM;

	tquic_engine_config(lsk, &cfg);
	reply = alloc_skb(TQUIC_TX_HEADROOM + TQUIC_VN_MAX, GFP_KERNEL);
	if (reply && !skb_linearize(skb)) {
		skb_reserve(reply, TQUIC_TX_HEADROOM);
		len = tquic_vn_reply(&cfg, skb->data + sizeof(struct udphdr),
				     skb->len - sizeof(struct udphdr), reply->data, TQUIC_VN_MAX);
	}
	if (len <= 0) {
		kfree_skb(reply);
		tquic_sk(lsk)->opts.stats.rx_dropped++;
		TQUIC_INC_STATS(tn, TQUIC_MIB_DROP_VERSION);
		kfree_skb(skb);
		return;
	}
	skb_put(reply, len);
	reply->mark = READ_ONCE(lsk->sk_mark);
	if (!tquic_tunnel_reply(tquic_sk(lsk)->tunnel, skb, reply)) {
		tquic_sk(lsk)->opts.stats.tx_datagrams++;
		tquic_sk(lsk)->opts.stats.tx_bytes += len;
	}
	TQUIC_INC_STATS(tn, TQUIC_MIB_VERSION_NEGOTIATION);
	kfree_skb(skb);
}

void tquic_engine_timeout(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);

	if (!qs->conn || sk->sk_state == TCP_CLOSE)
		return;
	qs->opts.stats.timer_fired++;
	tquic_conn_on_timeout(qs->conn, tquic_now());
	tquic_engine_process(sk);
}

/* close() and shutdown(SHUT_WR): CONNECTION_CLOSE with the socket's close info. */
void tquic_engine_close(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	const struct quic_connection_close *cc = qs->close_info;
	size_t plen = cc ? qs->close_len - sizeof(*cc) : 0;

	struct tquic_conn_stats st;

	if (!qs->conn)
		return;
	/* A client that never sent anything has no connection to close. */
	tquic_conn_stats(qs->conn, &st);
	if (!st.pkts_sent)
		return;
	/* Application codes once the handshake is done, else transport codes. */
	tquic_conn_close(qs->conn, sk->sk_state == TCP_ESTABLISHED, cc ? cc->errcode : 0,
			 cc ? cc->phrase : NULL, plen, tquic_now());
	tquic_engine_process(sk);
}

/* ---- handshake ---- */

static int tquic_level_from_uapi(u8 level)
{
	switch (level) {
	case QUIC_CRYPTO_INITIAL:
		return TQUIC_LEVEL_INITIAL;
	case QUIC_CRYPTO_HANDSHAKE:
		return TQUIC_LEVEL_HANDSHAKE;
	case QUIC_CRYPTO_APP:
		return TQUIC_LEVEL_APP;
	case QUIC_CRYPTO_EARLY:
		return TQUIC_LEVEL_EARLY;
	default:
		return -EINVAL;
	}
}

/* sendmsg() with QUIC_HANDSHAKE_INFO: TLS bytes into CRYPTO frames. */
int tquic_engine_send_crypto(struct sock *sk, struct msghdr *msg, u8 level)
{
	struct tquic_sock *qs = tquic_sk(sk);
	size_t copied = 0;
	int lvl = tquic_level_from_uapi(level);
	u8 *buf;
	int err = 0;

	if (lvl < 0)
		return lvl;
	if (!qs->conn)
		return -ENOTCONN;
	buf = kmalloc(TQUIC_HS_CHUNK, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	while (msg_data_left(msg)) {
		size_t chunk = min_t(size_t, msg_data_left(msg), TQUIC_HS_CHUNK);

		if (!copy_from_iter_full(buf, chunk, &msg->msg_iter)) {
			err = -EFAULT;
			break;
		}
		err = tquic_conn_crypto_write(qs->conn, lvl, buf, chunk, TQUIC_GFP_KERNEL);
		if (err)
			break;
		copied += chunk;
	}
	kfree(buf);
	qs->opts.stats.crypto_queued += copied;
	tquic_engine_process(sk);
	return copied ? copied : err;
}

static int tquic_suite_from_tls(u32 type)
{
	switch (type) {
	case TLS_CIPHER_AES_GCM_128:
		return TQUIC_SUITE_AES_128_GCM_SHA256;
	case TLS_CIPHER_AES_GCM_256:
		return TQUIC_SUITE_AES_256_GCM_SHA384;
	case TLS_CIPHER_CHACHA20_POLY1305:
		return TQUIC_SUITE_CHACHA20_POLY1305_SHA256;
	default:
		return -EINVAL;
	}
}

#define TQUIC_APP_SECRET_READ	BIT(0)
#define TQUIC_APP_SECRET_WRITE	BIT(1)

/*
 * QUIC_SOCKOPT_CRYPTO_SECRET.  The TLS library installs the application
 * secrets once its handshake is complete: with both of them the socket is
 * established (and a server sends HANDSHAKE_DONE).
 */
int tquic_engine_install_secret(struct sock *sk, const struct quic_crypto_secret *cs,
				size_t secret_len)
{
	struct tquic_sock *qs = tquic_sk(sk);
	int lvl = tquic_level_from_uapi(cs->level);
	int suite = tquic_suite_from_tls(cs->type);
	int err;

	if (lvl < 0 || suite < 0)
		return -EINVAL;
	if (!qs->conn)
		return -ENOTCONN;
	err = tquic_conn_install_secret(qs->conn, lvl, !!cs->send, suite, cs->secret,
					secret_len, tquic_now(), TQUIC_GFP_KERNEL);
	if (err)
		return err;
	if (lvl == TQUIC_LEVEL_APP) {
		qs->app_secrets |= cs->send ? TQUIC_APP_SECRET_WRITE : TQUIC_APP_SECRET_READ;
		if (qs->app_secrets == (TQUIC_APP_SECRET_READ | TQUIC_APP_SECRET_WRITE) &&
		    sk->sk_state != TCP_ESTABLISHED && sk->sk_state != TCP_CLOSE) {
			tquic_conn_handshake_complete(qs->conn, tquic_now());
			inet_sk_set_state(sk, TCP_ESTABLISHED);
			sk->sk_state_change(sk);
			tquic_wake_writers(sk);
			tquic_genl_conn_event(sk, TQUIC_EVENT_CONN_UP);
		}
	}
	tquic_engine_process(sk);
	return 0;
}

/* QUIC_SOCKOPT_TRANSPORT_PARAM_EXT set: the peer's encoded parameters. */
int tquic_engine_set_peer_tparams(struct sock *sk, sockptr_t optval, unsigned int optlen)
{
	struct tquic_sock *qs = tquic_sk(sk);
	u8 *tp;
	int err;

	if (!qs->conn)
		return -ENOTCONN;
	tp = memdup_sockptr(optval, optlen);
	if (IS_ERR(tp))
		return PTR_ERR(tp);
	err = tquic_conn_set_peer_tparams(qs->conn, tp, optlen, tquic_now());
	kfree(tp);
	tquic_engine_process(sk);
	/* A transport error closed the connection: the parameters were bad. */
	return err ? -EINVAL : 0;
}

/* QUIC_SOCKOPT_TRANSPORT_PARAM_EXT get: ours, encoded. */
int tquic_engine_local_tparams(struct sock *sk, char __user *optval, int __user *optlen,
			       int len)
{
	struct tquic_sock *qs = tquic_sk(sk);
	long n;
	u8 *buf;
	int err = 0;

	if (!qs->conn)
		return -ENOTCONN;
	buf = kmalloc(TQUIC_TP_EXT_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	n = tquic_conn_local_tparams(qs->conn, buf, TQUIC_TP_EXT_MAX);
	if (n < 0)
		err = n;
	else if (n > len)
		err = -EINVAL;
	else if (put_user((int)n, optlen) || copy_to_user(optval, buf, n))
		err = -EFAULT;
	kfree(buf);
	return err;
}

/* ---- streams ---- */

/*
 * Waits until an event may have made room (tquic_wake_writers() clears
 * send_blocked, which the caller set) or the connection failed.
 */
static int tquic_wait_send(struct sock *sk, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct tquic_sock *qs = tquic_sk(sk);
	int err = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		if (sk->sk_err) {
			err = -sk->sk_err;
			break;
		}
		if ((sk->sk_shutdown & SEND_SHUTDOWN) || sk->sk_state != TCP_ESTABLISHED) {
			err = -EPIPE;
			break;
		}
		if (!qs->send_blocked)
			break;
		if (!*timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(*timeo);
			break;
		}
		sk_wait_event(sk, timeo, !qs->send_blocked || sk->sk_err ||
			      (sk->sk_shutdown & SEND_SHUTDOWN), &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

/* Opens a stream (QUIC_SOCKOPT_STREAM_OPEN, or sendmsg with stream id -1). */
int tquic_engine_stream_open(struct sock *sk, bool uni, bool nowait, s64 *id)
{
	struct tquic_sock *qs = tquic_sk(sk);
	long timeo = nowait ? 0 : sock_sndtimeo(sk, false);
	u64 sid;
	int err;

	for (;;) {
		if (!qs->conn)
			return -ENOTCONN;
		err = tquic_conn_stream_open(qs->conn, uni, &sid, TQUIC_GFP_KERNEL);
		if (err != -EAGAIN)
			break;
		/* At the peer's stream limit: MAX_STREAMS wakes us. */
		qs->send_blocked = true;
		tquic_engine_process(sk);
		err = tquic_wait_send(sk, &timeo);
		if (err)
			return err;
	}
	if (err)
		return err;
	*id = sid;
	return 0;
}

/* sendmsg() of stream data.  Socket owned. */
int tquic_engine_send_stream(struct sock *sk, struct msghdr *msg, s64 sid, u32 sflags,
			     int flags)
{
	struct tquic_sock *qs = tquic_sk(sk);
	bool fin = sflags & MSG_QUIC_STREAM_FIN;
	long timeo = sock_sndtimeo(sk, (flags & MSG_DONTWAIT) ||
				   (sflags & MSG_QUIC_STREAM_DONTWAIT));
	size_t copied = 0;
	int err = 0;
	u64 id;

	if (sid < 0) {
		err = tquic_engine_stream_open(sk, sflags & MSG_QUIC_STREAM_UNI,
					       sflags & MSG_QUIC_STREAM_DONTWAIT, &sid);
		if (err)
			return err;
	}
	id = sid;
	if (!msg_data_left(msg)) {
		if (fin)
			err = tquic_conn_stream_finish(qs->conn, id);
		tquic_engine_process(sk);
		return err == -ENOENT ? -EINVAL : err;
	}
	while (msg_data_left(msg)) {
		size_t left = msg_data_left(msg), chunk;
		struct tquic_buf *b;
		u64 space;

		space = tquic_conn_stream_send_space(qs->conn, id);
		if (!space) {
			/* The stream's buffer is full: ACKs (from the work) make room. */
			qs->send_blocked = true;
			tquic_engine_process(sk);
			err = tquic_wait_send(sk, &timeo);
			if (err)
				break;
			continue;
		}
		chunk = min3((u64)left, space, (u64)TQUIC_TX_CHUNK);
		b = tquic_buf_alloc(chunk, TQUIC_GFP_KERNEL);
		if (!b) {
			err = -ENOBUFS;
			break;
		}
		if (!copy_from_iter_full(tquic_buf_data(b), chunk, &msg->msg_iter)) {
			tquic_buf_put(b);
			err = -EFAULT;
			break;
		}
		err = tquic_conn_stream_write_buf(qs->conn, id, b, 0, chunk,
						  fin && chunk == left, TQUIC_GFP_KERNEL);
		tquic_buf_put(b);
		if (err) {
			/* The bytes were taken from the iterator but not queued. */
			iov_iter_revert(&msg->msg_iter, chunk);
			break;
		}
		copied += chunk;
		/* Keep the pipe full while copying a large write. */
		if (copied % (4 * TQUIC_TX_CHUNK) < chunk)
			tquic_engine_process(sk);
	}
	tquic_engine_process(sk);
	if (copied)
		return copied;
	if (err == -ENOENT)
		return -EINVAL;	/* not a stream this connection has */
	if (err == -EPIPE)
		return sk_stream_error(sk, flags, err);
	return err;
}

int tquic_engine_send_dgram(struct sock *sk, struct msghdr *msg, size_t len)
{
	struct tquic_sock *qs = tquic_sk(sk);
	u8 *buf;
	int err;

	if (len > 65535)
		return -EMSGSIZE;
	buf = kmalloc(len ? len : 1, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (!copy_from_iter_full(buf, len, &msg->msg_iter)) {
		kfree(buf);
		return -EFAULT;
	}
	err = tquic_conn_dgram_send(qs->conn, buf, len, TQUIC_GFP_KERNEL);
	kfree(buf);
	if (err)
		return err;
	tquic_engine_process(sk);
	return len;
}

/* The peer reset stream @id with @code: tell the application, in order. */
static void tquic_rstream_reset(struct sock *sk, u64 id, u64 code)
{
	tquic_rstream_pop(tquic_sk(sk));
	tquic_notify_stream_reset(sk, id, QUIC_STREAM_RECV_STATE_RESET_RECVD, code);
}

/*
 * recvmsg() of stream data: the first stream with something to read.
 * Socket owned.  Returns the bytes copied (0 with FIN at the end of a
 * stream), -EAGAIN when no stream has anything, or an error.
 */
int tquic_engine_recv_stream(struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct quic_stream_info si = {};
	size_t copied = 0;
	u64 id, code;

	while (qs->rs_len) {
		struct tquic_rbuf_iov iov;
		bool fin = false;
		int r;

		id = qs->rstreams[qs->rs_head];
		/* Before the peek: reporting a reset may retire the stream. */
		code = tquic_conn_stream_reset_code(qs->conn, id);
		r = tquic_conn_stream_peek(qs->conn, id, &iov);
		if (r == -ECONNRESET) {
			tquic_rstream_reset(sk, id, code);
			return -EAGAIN;	/* the notification is next in the queue */
		}
		if (r < 0 || (r == 0 && !iov.len)) {
			/* Nothing (left) to read on this one. */
			tquic_rstream_pop(qs);
			continue;
		}
		si.stream_id = id;
		if (r == 1) {
			/* Everything read: the FIN alone. */
			fin = true;
		} else {
			/* As much in-order data as fits: one datagram's worth per call is slow. */
			while (copied < len) {
				size_t n = min_t(size_t, len - copied, iov.len);

				if (copy_to_iter(iov.data, n, &msg->msg_iter) != n)
					return copied ? copied : -EFAULT;
				copied += n;
				if (flags & MSG_PEEK)
					break;
				tquic_conn_stream_consume(qs->conn, id, n);
				/* More right behind, or the end of the stream? */
				code = tquic_conn_stream_reset_code(qs->conn, id);
				r = tquic_conn_stream_peek(qs->conn, id, &iov);
				fin = r == 1;
				if (r == -ECONNRESET) {
					/* A RESET_STREAM_AT's reliable bytes are all read. */
					tquic_rstream_reset(sk, id, code);
					break;
				}
				if (r != 0 || !iov.len)
					break;
			}
		}
		if (fin && !(flags & MSG_PEEK)) {
			si.stream_flags |= MSG_QUIC_STREAM_FIN;
			tquic_rstream_pop(qs);
		}
		if (fin)
			msg->msg_flags |= MSG_EOR;
		if (put_cmsg(msg, SOL_QUIC, QUIC_STREAM_INFO, sizeof(si), &si))
			return -EINVAL;
		if (!(flags & MSG_PEEK))
			tquic_engine_process(sk);	/* flow-control credit */
		return copied;
	}
	return -EAGAIN;
}

/* ---- options that act on the connection ---- */

int tquic_engine_stream_cancel(struct sock *sk, bool reset, u64 id, u64 code)
{
	struct tquic_sock *qs = tquic_sk(sk);
	int err;

	if (!qs->conn)
		return -ENOTCONN;
	err = reset ? tquic_conn_stream_reset(qs->conn, id, code) :
		      tquic_conn_stream_stop(qs->conn, id, code);
	tquic_engine_process(sk);
	return err == -ENOENT ? -EINVAL : err;
}

int tquic_engine_key_update(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	int err;

	if (!qs->conn)
		return -ENOTCONN;
	err = tquic_conn_key_update(qs->conn, tquic_now());
	tquic_engine_process(sk);
	return err;
}

/* Engine counters for TQUIC_SOCKOPT_STATS and the genetlink dumps. */
void tquic_engine_stats(struct sock *sk, struct tquic_conn_stats *st)
{
	struct tquic_sock *qs = tquic_sk(sk);

	memset(st, 0, sizeof(*st));
	if (qs->conn)
		tquic_conn_stats(qs->conn, st);
}

/* The QUIC version the connection uses (negotiation may have changed it). */
u32 tquic_engine_version(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);

	return qs->conn ? tquic_conn_version(qs->conn) : qs->opts.config.version;
}

/*
 * Whether the connection may move to another local address: 0 for a client
 * whose handshake is confirmed, -EAGAIN before that (RFC 9000 9), -EINVAL
 * for a server.
 */
int tquic_engine_can_migrate(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);

	if (!qs->conn || tquic_conn_is_server(qs->conn))
		return -EINVAL;
	return tquic_conn_handshake_confirmed(qs->conn) ? 0 : -EAGAIN;
}

/* The socket moved to a new local address: the engine validates the path. */
int tquic_engine_migrate(struct sock *sk)
{
	struct tquic_sock *qs = tquic_sk(sk);
	struct tquic_addr local;
	int err;

	tquic_sock_addr(sk, false, &local);
	err = tquic_conn_migrate(qs->conn, &local, tquic_now());
	if (!err)
		tquic_engine_process(sk);
	return err;
}
