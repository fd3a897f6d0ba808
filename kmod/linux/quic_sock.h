/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The IPPROTO_QUIC socket layer of the kernel host: sockets, shared UDP
 * tunnel sockets, the per-namespace connection ID demultiplexer, timers.
 *
 * Locking follows TCP.  A socket's state (and, once it is plugged in, its
 * engine connection) is only touched by whoever owns the socket lock: a
 * process between lock_sock() and release_sock(), or softirq code holding
 * bh_lock_sock() while !sock_owned_by_user().  Datagrams that arrive while
 * a process owns the socket go to the socket backlog (sk_add_backlog) and
 * are processed from release_sock() through ->backlog_rcv; timer
 * expirations that find the socket owned set a deferred flag that
 * ->release_cb runs (the TSQ pattern).
 *
 * Lookups from softirq (CID demux, listeners of a tunnel) run under RCU and
 * take a reference with refcount_inc_not_zero(); sockets are freed after a
 * grace period (SOCK_RCU_FREE).  Tunnels (one UDP socket per netns, local
 * address, port and v6only) are reference counted by the QUIC sockets
 * bound to them, created and released in process context under the
 * namespace's tunnel mutex, and freed after a grace period.
 */
#ifndef _TQUIC_LINUX_QUIC_SOCK_H
#define _TQUIC_LINUX_QUIC_SOCK_H

#include <linux/types.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rhashtable-types.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <linux/sockptr.h>
#include <linux/workqueue.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <linux/ipv6.h>
#include <uapi/linux/quic.h>

#define TQUIC_CID_MAX		20	/* RFC 9000: v1/v2 CIDs are at most 20 bytes */
#define TQUIC_CID_MIN_ODCID	8	/* a client's first DCID is at least 8 bytes */
#define TQUIC_MIN_INITIAL	1200	/* UDP payload of a client's Initial datagram */
#define TQUIC_DEFAULT_CID_LEN	8	/* when the namespace config asks for 0 */
#define TQUIC_CLIENT_DCID_LEN	16	/* the client's random first DCID */

#define TQUIC_ALPN_MAX		255
#define TQUIC_TOKEN_MAX		256
#define TQUIC_TICKET_MAX	4096
#define TQUIC_PHRASE_MAX	80	/* CONNECTION_CLOSE reason phrase */
#define TQUIC_TP_EXT_MAX	4096	/* encoded transport parameters */
#define TQUIC_HS_CHUNK		4096	/* handshake bytes per queued skb */

union tquic_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

/* The demux key: length then bytes, zero padded (no holes: 21 bytes). */
struct tquic_cid_key {
	u8 len;
	u8 id[TQUIC_CID_MAX];
};

struct tquic_cid_entry {
	struct rhash_head node;		/* tn->cids */
	struct tquic_cid_key key;
	struct sock *sk;
	/* RCU readers walk @node only: @rcu takes @list's place once unlinked (kmalloc-64). */
	union {
		struct list_head list;	/* the socket's entries, under its lock */
		struct rcu_head rcu;
	};
};

/* Per-namespace counters, /proc/net/tquic_sock. */
enum tquic_mib {
	/* Every datagram the tunnels receive counts once here ... */
	TQUIC_MIB_RX_DATAGRAMS,
	/* ... passes through some of these ... */
	TQUIC_MIB_RX_CONN,		/* its DCID matched a socket */
	TQUIC_MIB_RX_LISTEN,		/* an Initial handed to a listener */
	TQUIC_MIB_RX_BACKLOG,		/* queued to a socket's backlog */
	TQUIC_MIB_CHILD_CREATED,	/* listeners: connections queued for accept() */
	/* ... and ends in exactly one of these. */
	TQUIC_MIB_RX_CONSUMED,		/* processed by a connection */
	TQUIC_MIB_DROP_MALFORMED,	/* not a QUIC header (short, CID lengths) */
	TQUIC_MIB_DROP_NO_CONN,		/* no connection, and not an Initial for a listener */
	TQUIC_MIB_DROP_VERSION,		/* long header of a version we do not speak */
	TQUIC_MIB_DROP_BACKLOG,		/* the socket backlog was full */
	TQUIC_MIB_DROP_CLOSED,		/* the socket was closing */
	TQUIC_MIB_DROP_NO_ENGINE,	/* matched, but no connection engine yet */
	TQUIC_MIB_DROP_ACCEPT_OVERFLOW,	/* listener's accept queue full */
	TQUIC_MIB_DROP_CHILD_FAILED,	/* no memory for a new connection */
	TQUIC_MIB_VERSION_NEGOTIATION,	/* a listener answered with Version Negotiation */
	TQUIC_MIB_RETRY,		/* a listener answered with Retry (its policy) */
	TQUIC_MIB_STATELESS_RESET,	/* no connection: answered with a stateless reset */
	TQUIC_MIB_DROP_ROUTE,		/* held for ALPN routing; the ClientHello never completed */
	TQUIC_MIB_MAX
};

struct tquic_mib_counters {
	u64 v[TQUIC_MIB_MAX];
};

struct tquic_sock_net {
	struct rhashtable cids;			/* struct tquic_cid_entry */
	atomic_t cid_lens[TQUIC_CID_MAX + 1];	/* entries per CID length (short headers) */
	struct mutex tunnels_lock;		/* tunnels list, tunnel listeners */
	struct list_head tunnels;
	struct tquic_mib_counters __percpu *mib;
	atomic_t nr_socks;			/* live QUIC sockets, children included */
	atomic_t nr_tunnels;
	atomic_t nr_cids;
	u8 reset_key[32];			/* stateless reset tokens of this namespace */
	spinlock_t reset_lock;			/* the stateless reset budget */
	unsigned long reset_stamp;		/* jiffies the budget was refilled */
	unsigned int reset_budget;		/* resets left until a second after it */
	spinlock_t socks_lock;			/* socks */
	struct list_head socks;			/* every QUIC socket, oldest first */
	u64 next_sock_id;			/* under socks_lock */
};

struct tquic_sock_net *tquic_sock_net(const struct net *net);

#define TQUIC_INC_STATS(tn, field)	this_cpu_inc((tn)->mib->v[field])
#define TQUIC_ADD_STATS(tn, field, n)	this_cpu_add((tn)->mib->v[field], n)

/* Datagrams in received @skb (data at the UDP header): a GSO train holds several. */
static inline unsigned int tquic_skb_datagrams(const struct sk_buff *skb)
{
	unsigned int len = skb->len - sizeof(struct udphdr);

	if (!skb_is_gso(skb) || !skb_shinfo(skb)->gso_size)
		return 1;
	return DIV_ROUND_UP(len, skb_shinfo(skb)->gso_size);
}

struct tquic_tunnel {
	struct list_head node;		/* tn->tunnels */
	refcount_t refcnt;		/* QUIC sockets bound here */
	struct net *net;
	struct socket *sock;		/* the kernel UDP socket */
	union tquic_sockaddr local;	/* bound address and port */
	int ifindex;
	bool v6only;
	kuid_t uid;			/* only sockets of this user share it */
	struct hlist_head listeners;	/* RCU; written under tn->tunnels_lock */
	struct rcu_work free_work;	/* closes the UDP socket after a grace period */
};

/* What sits in skb->cb of the socket's queues. */
enum tquic_skb_kind {
	TQUIC_SKB_HANDSHAKE,		/* TLS bytes at @level */
	TQUIC_SKB_STREAM,		/* stream data */
	TQUIC_SKB_DATAGRAM,		/* RFC 9221 datagram */
	TQUIC_SKB_EVENT,		/* notification (first byte: type) */
};

struct tquic_skb_cb {
	u8 kind;		/* enum tquic_skb_kind */
	u8 level;		/* enum quic_crypto_level */
	u8 routed;		/* rx: a listener redirected it by ALPN */
	u32 stream_flags;	/* MSG_QUIC_STREAM_FIN */
	s64 stream_id;
	u32 offset;		/* bytes already read */
};

#define TQUIC_SKB_CB(skb)	((struct tquic_skb_cb *)&((skb)->cb[0]))

/* Deferred work bits (qs->deferred), run by the socket's work. */
enum {
	TQUIC_DEFERRED_TIMER,
};

struct tquic_conn;
struct tquic_conn_stats;

/*
 * Options copied to and from user space directly (the slab usercopy
 * whitelist of the socket caches).
 */
struct tquic_sock_opts {
	struct quic_transport_param tp;	/* local transport parameters */
	struct quic_config config;
	char cc[TQUIC_CC_NAME_MAX];	/* "" = namespace default */
	bool wide_errcodes;		/* TQUIC_SOCKOPT_WIDE_ERRCODES */
	struct tquic_sock_stats stats;
};

struct tquic_sock {
	struct inet_sock inet;		/* first */

	u64 id;				/* unique in the namespace, for the dumps */
	struct list_head sock_node;	/* tn->socks */
	struct tquic_tunnel *tunnel;	/* bound: holds a reference */
	struct list_head cids;		/* struct tquic_cid_entry */
	struct hlist_node listen_node;	/* tunnel->listeners */
	bool listening;			/* on tunnel->listeners */
	bool was_connected;		/* connect()ed or accepted once */

	/* Listeners sharing a port: routing new connections by ALPN (socket.c). */
	struct tquic_route_state *route;

	/* Listeners: connections waiting for accept(). */
	spinlock_t accept_lock;
	struct list_head accept_queue;	/* struct tquic_sock.accept_node */
	struct list_head accept_node;

	/* The client's handshake CIDs (the engine takes them at connect). */
	struct tquic_cid_key dcid, scid;

	struct hrtimer timer;		/* the engine's next deadline */
	unsigned long deferred;		/* TQUIC_DEFERRED_* */

	/* The engine (engine.c): only touched with the socket owned. */
	struct tquic_conn *conn;
	struct work_struct work;	/* received datagrams and timers */
	struct sk_buff_head rx_queue;	/* datagrams from the tunnels, for the work */
	atomic_t rx_queued;		/* their truesize */
	u64 *rstreams;			/* ring of streams with something to read */
	u32 rs_head, rs_len, rs_cap;
	u8 app_secrets;			/* application secrets installed */
	bool send_blocked;		/* a send waits for room: no EPOLLOUT */
	u8 tx_batch;			/* datagrams the last transmit skb held */

	bool tp_set;			/* the application set QUIC_SOCKOPT_TRANSPORT_PARAM */
	u32 events;			/* enabled QUIC_EVENT_* bits */
	u8 *alpn;
	u16 alpn_len;
	u8 *token;
	u16 token_len;
	u8 *ticket;
	u16 ticket_len;
	struct quic_connection_close *close_info;	/* what close() sends */
	u16 close_len;
	u32 crypto_queued;		/* handshake bytes in sk_write_queue */

	struct tquic_sock_opts opts;
};

#if IS_ENABLED(CONFIG_IPV6)
struct tquic6_sock {
	struct tquic_sock qs;
	struct ipv6_pinfo inet6;	/* last, see inet6_sk_generic() */
};
#endif

static inline struct tquic_sock *tquic_sk(const struct sock *sk)
{
	return (struct tquic_sock *)sk;
}

/* protocol.c */
int tquic_sock_init(void);
void tquic_sock_exit(void);
extern struct proto tquic_prot;
#if IS_ENABLED(CONFIG_IPV6)
extern struct proto tquicv6_prot;
#endif

/* tunnel.c: UDP tunnel sockets, demux, receive */
struct tquic_tunnel *tquic_tunnel_get(struct net *net, const union tquic_sockaddr *addr,
				      int ifindex, bool v6only, int *err);
void tquic_tunnel_put(struct tquic_tunnel *t);
void tquic_tunnel_listen(struct tquic_tunnel *t, struct sock *sk);
void tquic_tunnel_unlisten(struct tquic_tunnel *t, struct sock *sk);
int tquic_demux_add(struct sock *sk, const u8 *cid, u8 len, gfp_t gfp);
void tquic_demux_del(struct sock *sk, const u8 *cid, u8 len);
void tquic_demux_del_all(struct sock *sk);
int tquic_demux_net_init(struct tquic_sock_net *tn);
void tquic_demux_net_exit(struct tquic_sock_net *tn);
void tquic_tunnels_net_exit(struct tquic_sock_net *tn);
int tquic_tunnel_init(void);
void tquic_tunnel_exit(void);
/* The engine's CID hooks (kmod/core/cid.h), ctx = the socket. */
struct tquic_cid_ops;
extern const struct tquic_cid_ops tquic_sock_cid_ops;
struct sock *tquic_demux_initial_owner(struct sock *listener, struct sk_buff *skb);
int tquic_tunnel_xmit(struct sock *sk, struct sk_buff *skb, const union tquic_sockaddr *peer,
		      u8 ecn);
/* Headers in front of a datagram the engine builds. */
#define TQUIC_TX_HEADROOM	(MAX_HEADER + sizeof(struct ipv6hdr) + sizeof(struct udphdr))
int tquic_tunnel_reply(struct tquic_tunnel *t, const struct sk_buff *in, struct sk_buff *reply);
bool tquic_version_known(u32 version);

/* socket.c */
int tquic_init_sock(struct sock *sk);
void tquic_destroy_sock(struct sock *sk);
void tquic_close(struct sock *sk, long timeout);
int tquic_sendmsg(struct sock *sk, struct msghdr *msg, size_t len);
int tquic_recvmsg(struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len);
struct sock *tquic_rcv_locked(struct sock *sk, struct sk_buff *skb);
void tquic_sock_timer_arm(struct sock *sk, u64 deadline_ns);
int tquic_sock_migrate(struct sock *sk, union tquic_sockaddr *a);
int tquic_sk_enqueue_rx(struct sock *sk, struct sk_buff *skb);
extern const struct proto_ops tquic_inet_ops;
#if IS_ENABLED(CONFIG_IPV6)
extern const struct proto_ops tquic_inet6_ops;
#endif

/* engine.c */
int tquic_engine_init(void);
void tquic_engine_exit(void);
void tquic_sock_kick(struct sock *sk);
void tquic_sock_queue_rx(struct tquic_sock_net *tn, struct sock *sk, struct sk_buff *skb);
void tquic_engine_sock_init(struct tquic_sock *qs);
void tquic_engine_sock_destroy(struct sock *sk);
int tquic_engine_connect(struct sock *sk);
int tquic_engine_accept(struct sock *lsk, struct sock *sk, struct sk_buff *skb,
			const struct tquic_cid_key *cid);
void tquic_engine_rcv(struct sock *sk, struct sk_buff *skb);
void tquic_engine_vn_reply(struct sock *lsk, struct sk_buff *skb);
struct tquic_crypto_extent;
int tquic_engine_peek_hello(struct sock *lsk, struct sk_buff *skb, u8 *buf, size_t cap,
			    struct tquic_crypto_extent *ext, u32 *n_ext, u32 max_ext);
void tquic_engine_timeout(struct sock *sk);
void tquic_engine_process(struct sock *sk);
void tquic_engine_close(struct sock *sk);
bool tquic_engine_readable(const struct sock *sk);
int tquic_engine_send_crypto(struct sock *sk, struct msghdr *msg, u8 level);
int tquic_engine_send_stream(struct sock *sk, struct msghdr *msg, s64 sid, u32 sflags,
			     int flags);
int tquic_engine_send_dgram(struct sock *sk, struct msghdr *msg, size_t len);
int tquic_engine_recv_stream(struct sock *sk, struct msghdr *msg, size_t len, int flags);
int tquic_engine_stream_open(struct sock *sk, bool uni, bool nowait, s64 *id);
int tquic_engine_stream_cancel(struct sock *sk, bool reset, u64 id, u64 code);
int tquic_engine_key_update(struct sock *sk);
int tquic_engine_install_secret(struct sock *sk, const struct quic_crypto_secret *cs,
				size_t secret_len);
int tquic_engine_set_peer_tparams(struct sock *sk, sockptr_t optval, unsigned int optlen);
int tquic_engine_local_tparams(struct sock *sk, char __user *optval, int __user *optlen,
			       int len);
void tquic_engine_stats(struct sock *sk, struct tquic_conn_stats *st);
u32 tquic_engine_version(struct sock *sk);
struct tquic_addr;
void tquic_sock_addr(struct sock *sk, bool peer, struct tquic_addr *a);
int tquic_engine_can_migrate(struct sock *sk);
int tquic_engine_migrate(struct sock *sk);

/*
 * The next socket of @net after id @after (0: the first), with a reference,
 * or NULL.  For dumps that walk every socket without holding a lock.
 */
struct sock *tquic_sock_next(struct net *net, u64 after);

/* sockopt.c */
int tquic_setsockopt(struct sock *sk, int level, int optname, sockptr_t optval,
		     unsigned int optlen);
int tquic_getsockopt(struct sock *sk, int level, int optname, char __user *optval,
		     int __user *optlen);
void tquic_sockopt_defaults(struct tquic_sock *qs);
int tquic_sockopt_inherit(struct tquic_sock *child, const struct tquic_sock *parent, gfp_t gfp);
void tquic_sockopt_free(struct tquic_sock *qs);

#endif /* _TQUIC_LINUX_QUIC_SOCK_H */
