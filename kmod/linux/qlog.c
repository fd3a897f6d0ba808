// SPDX-License-Identifier: GPL-2.0
/*
 * qlog from the kernel: compact records of what a connection's engine does
 * (packets sent, received, dropped, acknowledged and lost, recovery
 * metrics, congestion state, key updates, version and ALPN), multicast on
 * the "qlog" group of the generic netlink family for `tquicctl qlog`,
 * which turns them into JSON-SEQ qlog files.
 *
 * A connection emits records when its socket (or the listener it was
 * accepted from) set TQUIC_SOCKOPT_QLOG, or when the namespace's global
 * switch (TQUIC_A_CONFIG_QLOG) was on when it was created.  Connections
 * without qlog carry no hook at all; with qlog on and nobody listening on
 * the group, the hook returns at once.
 *
 * The engine reports from inside the calls the socket layer makes, with
 * the socket owned.  Records are batched in one netlink message per
 * connection, sent when it is full, by a delayed work shortly after the
 * first record, and when the socket is destroyed.  The per-socket state
 * lives in a hash table keyed by the socket (the socket structure has no
 * field for it); it is freed by ->destroy.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/hashtable.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/timekeeping.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include "tquic.h"
#include "quic_sock.h"
#include "qlog.h"
#include "packet.h"
/* packet.h and cc_math.h both define TQUIC_PN_NONE (same value). */
#undef TQUIC_PN_NONE
#include "conn.h"

/* Records wait this long for company before their message goes out. */
#define TQUIC_QLOG_FLUSH_DELAY	msecs_to_jiffies(20)
#define TQUIC_QLOG_NR_METRICS	8

struct tquic_qlog_net {
	bool global;		/* qlog for every new connection */
};

static unsigned int tquic_qlog_net_id __read_mostly;

struct tquic_qlog {
	struct hlist_node node;		/* tquic_qlog_table */
	struct sock *sk;		/* no reference: ->destroy frees us */
	struct net *net;
	u64 id;
	bool want;			/* TQUIC_SOCKOPT_QLOG */
	bool attached;			/* the engine reports to us */
	bool started;			/* CONN_STARTED went out */
	bool closed;			/* CONN_CLOSED went out */
	u64 t0;				/* ktime_get_ns() of time 0 */
	u32 version;
	u64 metrics[TQUIC_QLOG_NR_METRICS];
	const char *cc_state;

	spinlock_t lock;		/* the message being filled */
	struct sk_buff *msg;
	void *hdr;
	struct nlattr *nest;		/* TQUIC_A_QLOG */
	u32 lost;			/* records that found no room */
	struct delayed_work flush;
};

static DEFINE_SPINLOCK(tquic_qlog_lock);	/* the table */
static DEFINE_HASHTABLE(tquic_qlog_table, 8);

/* One record before it is encoded; @fields has BIT(TQUIC_A_QLOG_*) of the optional ones. */
struct tquic_qlog_rec {
	u8 type;
	u64 time;
	u32 fields;
	u8 pkt_type;
	u8 trigger;
	u8 space;
	u8 server;
	u32 len;
	u32 version;
	u64 pn;
	u64 code;
	u64 metrics[TQUIC_QLOG_NR_METRICS];	/* TQUIC_A_QLOG_RTT_MIN onwards */
	const char *cc_state;
	const u8 *alpn;
	u16 alpn_len;
};

#define F(attr)	BIT(attr)

static struct tquic_qlog_net *tquic_qlog_net(const struct net *net)
{
	return net_generic(net, tquic_qlog_net_id);
}

bool tquic_qlog_global(const struct net *net)
{
	return READ_ONCE(tquic_qlog_net(net)->global);
}

void tquic_qlog_set_global(struct net *net, bool on)
{
	WRITE_ONCE(tquic_qlog_net(net)->global, on);
}

/* Under tquic_qlog_lock. */
static struct tquic_qlog *tquic_qlog_lookup(const struct sock *sk)
{
	struct tquic_qlog *q;

	hash_for_each_possible(tquic_qlog_table, q, node, (unsigned long)sk)
		if (q->sk == sk)
			return q;
	return NULL;
}

static struct tquic_qlog *tquic_qlog_find(const struct sock *sk)
{
	struct tquic_qlog *q;

	spin_lock_bh(&tquic_qlog_lock);
	q = tquic_qlog_lookup(sk);
	spin_unlock_bh(&tquic_qlog_lock);
	return q;
}

/* ---- messages ---- */

/* Sends the message being filled, if any.  q->lock held. */
static void tquic_qlog_send_locked(struct tquic_qlog *q)
{
	struct sk_buff *msg = q->msg;

	if (!msg)
		return;
	q->msg = NULL;
	nla_nest_end(msg, q->nest);
	tquic_genl_qlog_send(q->net, msg, q->hdr);
}

static int tquic_qlog_open_locked(struct tquic_qlog *q)
{
	q->msg = tquic_genl_qlog_new(q->id, GFP_ATOMIC, &q->hdr);
	if (!q->msg)
		return -ENOMEM;
	q->nest = nla_nest_start(q->msg, TQUIC_A_QLOG);
	if (!q->nest) {
		nlmsg_free(q->msg);
		q->msg = NULL;
		return -EMSGSIZE;
	}
	return 0;
}

static int tquic_qlog_encode(struct sk_buff *skb, const struct tquic_qlog_rec *r, u64 t0,
			     u32 lost)
{
	struct nlattr *ev;
	unsigned int i;

	ev = nla_nest_start(skb, TQUIC_A_QLOG_EV);
	if (!ev)
		return -EMSGSIZE;
	if (nla_put_u8(skb, TQUIC_A_QLOG_TYPE, r->type) ||
	    nla_put_u64_64bit(skb, TQUIC_A_QLOG_TIME, r->time > t0 ? r->time - t0 : 0,
			      TQUIC_A_QLOG_PAD) ||
	    (lost && nla_put_u32(skb, TQUIC_A_QLOG_LOST, lost)) ||
	    ((r->fields & F(TQUIC_A_QLOG_PKT_TYPE)) &&
	     nla_put_u8(skb, TQUIC_A_QLOG_PKT_TYPE, r->pkt_type)) ||
	    ((r->fields & F(TQUIC_A_QLOG_PN)) &&
	     nla_put_u64_64bit(skb, TQUIC_A_QLOG_PN, r->pn, TQUIC_A_QLOG_PAD)) ||
	    ((r->fields & F(TQUIC_A_QLOG_LEN)) && nla_put_u32(skb, TQUIC_A_QLOG_LEN, r->len)) ||
	    ((r->fields & F(TQUIC_A_QLOG_TRIGGER)) &&
	     nla_put_u8(skb, TQUIC_A_QLOG_TRIGGER, r->trigger)) ||
	    ((r->fields & F(TQUIC_A_QLOG_SPACE)) && nla_put_u8(skb, TQUIC_A_QLOG_SPACE, r->space)) ||
	    ((r->fields & F(TQUIC_A_QLOG_VERSION)) &&
	     nla_put_u32(skb, TQUIC_A_QLOG_VERSION, r->version)) ||
	    ((r->fields & F(TQUIC_A_QLOG_SERVER)) && nla_put_u8(skb, TQUIC_A_QLOG_SERVER, r->server)) ||
	    ((r->fields & F(TQUIC_A_QLOG_CODE)) &&
	     nla_put_u64_64bit(skb, TQUIC_A_QLOG_CODE, r->code, TQUIC_A_QLOG_PAD)) ||
	    ((r->fields & F(TQUIC_A_QLOG_CC_STATE)) && r->cc_state &&
	     nla_put_string(skb, TQUIC_A_QLOG_CC_STATE, r->cc_state)) ||
	    ((r->fields & F(TQUIC_A_QLOG_ALPN)) && r->alpn_len &&
	     nla_put(skb, TQUIC_A_QLOG_ALPN, r->alpn_len, r->alpn)))
		goto cancel;
	if (r->fields & F(TQUIC_A_QLOG_CWND)) {
		for (i = 0; i < TQUIC_QLOG_NR_METRICS; i++)
			if (nla_put_u64_64bit(skb, TQUIC_A_QLOG_RTT_MIN + i, r->metrics[i],
					      TQUIC_A_QLOG_PAD))
				goto cancel;
	}
	nla_nest_end(skb, ev);
	return 0;
cancel:
	nla_nest_cancel(skb, ev);
	return -EMSGSIZE;
}

/* Appends @r to the connection's message; a full message goes out first. */
static void tquic_qlog_add(struct tquic_qlog *q, const struct tquic_qlog_rec *r)
{
	bool schedule = false;
	int tries;

	spin_lock_bh(&q->lock);
	for (tries = 0; tries < 2; tries++) {
		if (!q->msg && tquic_qlog_open_locked(q))
			break;
		if (!tquic_qlog_encode(q->msg, r, q->t0, q->lost)) {
			q->lost = 0;
			schedule = true;
			break;
		}
		tquic_qlog_send_locked(q);
	}
	if (!schedule)
		q->lost++;
	spin_unlock_bh(&q->lock);
	if (schedule)
		schedule_delayed_work(&q->flush, TQUIC_QLOG_FLUSH_DELAY);
}

static void tquic_qlog_flush_work(struct work_struct *work)
{
	struct tquic_qlog *q = container_of(to_delayed_work(work), struct tquic_qlog, flush);

	spin_lock_bh(&q->lock);
	tquic_qlog_send_locked(q);
	spin_unlock_bh(&q->lock);
}

/* ---- records ---- */

static u8 tquic_qlog_pkt_type(u8 t)
{
	switch (t) {
	case TQUIC_PKT_INITIAL:
		return TQUIC_QLOG_PKT_INITIAL;
	case TQUIC_PKT_0RTT:
		return TQUIC_QLOG_PKT_0RTT;
	case TQUIC_PKT_HANDSHAKE:
		return TQUIC_QLOG_PKT_HANDSHAKE;
	case TQUIC_PKT_RETRY:
		return TQUIC_QLOG_PKT_RETRY;
	case TQUIC_PKT_1RTT:
		return TQUIC_QLOG_PKT_1RTT;
	case TQUIC_PKT_VN:
		return TQUIC_QLOG_PKT_VN;
	default:
		return TQUIC_QLOG_PKT_UNKNOWN;
	}
}

static u8 tquic_qlog_drop_trigger(u8 reason)
{
	switch (reason) {
	case TQUIC_QL_DROP_DECRYPT:
		return TQUIC_QLOG_DROP_DECRYPT;
	case TQUIC_QL_DROP_DUPLICATE:
		return TQUIC_QLOG_DROP_DUPLICATE;
	case TQUIC_QL_DROP_UNKNOWN_CID:
		return TQUIC_QLOG_DROP_UNKNOWN_CID;
	case TQUIC_QL_DROP_PATH:
		return TQUIC_QLOG_DROP_PATH;
	default:
		return TQUIC_QLOG_DROP_RESOURCES;
	}
}

static u8 tquic_qlog_close_trigger(u32 flags)
{
	if (flags & TQUIC_CLOSE_F_IDLE)
		return TQUIC_QLOG_CLOSE_IDLE;
	if (flags & TQUIC_CLOSE_F_RESET)
		return TQUIC_QLOG_CLOSE_RESET;
	if (flags & TQUIC_CLOSE_F_HANDSHAKE)
		return TQUIC_QLOG_CLOSE_HANDSHAKE;
	if (flags & TQUIC_CLOSE_F_REMOTE)
		return TQUIC_QLOG_CLOSE_REMOTE;
	return TQUIC_QLOG_CLOSE_LOCAL;
}

static void tquic_qlog_rec_init(struct tquic_qlog_rec *r, u8 type, u64 time)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->time = time;
}

/* ALPN list of the socket (socket owned). */
static void tquic_qlog_alpn(struct tquic_qlog *q, u64 time)
{
	struct tquic_sock *qs = tquic_sk(q->sk);
	struct tquic_qlog_rec r;

	if (!qs->alpn_len)
		return;
	tquic_qlog_rec_init(&r, TQUIC_QLOG_ALPN, time);
	r.fields = F(TQUIC_A_QLOG_ALPN);
	r.alpn = qs->alpn;
	r.alpn_len = qs->alpn_len;
	tquic_qlog_add(q, &r);
}

/* The first record a listener sees of a connection (socket owned). */
static void tquic_qlog_start(struct tquic_qlog *q, u64 time)
{
	struct tquic_sock *qs = tquic_sk(q->sk);
	struct tquic_qlog_rec r;

	q->started = true;
	tquic_qlog_rec_init(&r, TQUIC_QLOG_CONN_STARTED, time);
	r.fields = F(TQUIC_A_QLOG_VERSION) | F(TQUIC_A_QLOG_SERVER) | F(TQUIC_A_QLOG_CODE) |
		   F(TQUIC_A_QLOG_ALPN);
	q->version = qs->conn ? tquic_conn_version(qs->conn) : 0;
	r.version = q->version;
	r.server = qs->conn && tquic_conn_is_server(qs->conn);
	/* Time 0 on the wall clock, for the qlog reference time. */
	r.code = ktime_get_real_ns() - (ktime_get_ns() - q->t0);
	r.alpn = qs->alpn;
	r.alpn_len = qs->alpn_len;
	tquic_qlog_add(q, &r);
}

static bool tquic_qlog_metrics_changed(struct tquic_qlog *q, const u64 *m)
{
	if (!memcmp(q->metrics, m, sizeof(q->metrics)))
		return false;
	memcpy(q->metrics, m, sizeof(q->metrics));
	return true;
}

/* The engine's hook (struct tquic_conn_config.qlog): socket owned. */
static void tquic_qlog_hook(void *ctx, const struct tquic_qlog_event *ev)
{
	struct tquic_qlog *q = ctx;
	struct tquic_qlog_rec r;

	if (!q->attached || !tquic_genl_qlog_listening(q->net))
		return;
	if (!q->started)
		tquic_qlog_start(q, ev->time);
	if (ev->version && ev->version != q->version) {
		q->version = ev->version;
		tquic_qlog_rec_init(&r, TQUIC_QLOG_VERSION, ev->time);
		r.fields = F(TQUIC_A_QLOG_VERSION);
		r.version = ev->version;
		tquic_qlog_add(q, &r);
	}
	tquic_qlog_rec_init(&r, 0, ev->time);
	switch (ev->type) {
	case TQUIC_QL_PACKET_SENT:
	case TQUIC_QL_PACKET_RECEIVED:
		r.type = ev->type == TQUIC_QL_PACKET_SENT ? TQUIC_QLOG_PACKET_SENT :
			 TQUIC_QLOG_PACKET_RECEIVED;
		r.fields = F(TQUIC_A_QLOG_PKT_TYPE) | F(TQUIC_A_QLOG_PN) | F(TQUIC_A_QLOG_LEN);
		r.pkt_type = tquic_qlog_pkt_type(ev->pkt_type);
		r.pn = ev->pn;
		r.len = ev->len;
		break;
	case TQUIC_QL_PACKET_DROPPED:
		r.type = TQUIC_QLOG_PACKET_DROPPED;
		r.fields = F(TQUIC_A_QLOG_PKT_TYPE) | F(TQUIC_A_QLOG_LEN) | F(TQUIC_A_QLOG_TRIGGER);
		r.pkt_type = tquic_qlog_pkt_type(ev->pkt_type);
		r.len = ev->len;
		r.trigger = tquic_qlog_drop_trigger(ev->reason);
		break;
	case TQUIC_QL_PACKET_ACKED:
	case TQUIC_QL_PACKET_LOST:
		r.type = ev->type == TQUIC_QL_PACKET_ACKED ? TQUIC_QLOG_PACKETS_ACKED :
			 TQUIC_QLOG_PACKET_LOST;
		r.fields = F(TQUIC_A_QLOG_SPACE) | F(TQUIC_A_QLOG_PN);
		r.space = ev->space;
		r.pn = ev->pn;
		break;
	case TQUIC_QL_METRICS: {
		u64 m[TQUIC_QLOG_NR_METRICS] = {
			div_u64(ev->rtt_min, NSEC_PER_USEC),
			div_u64(ev->rtt_smoothed, NSEC_PER_USEC),
			div_u64(ev->rtt_var, NSEC_PER_USEC),
			div_u64(ev->rtt_latest, NSEC_PER_USEC),
			ev->cwnd,
			ev->bytes_in_flight,
			ev->ssthresh,
			ev->pacing_rate,
		};

		if (ev->cc_state && (!q->cc_state || strcmp(q->cc_state, ev->cc_state))) {
			struct tquic_qlog_rec s;

			q->cc_state = ev->cc_state;
			tquic_qlog_rec_init(&s, TQUIC_QLOG_CC_STATE, ev->time);
			s.fields = F(TQUIC_A_QLOG_CC_STATE);
			s.cc_state = ev->cc_state;
			tquic_qlog_add(q, &s);
		}
		if (!tquic_qlog_metrics_changed(q, m))
			return;
		r.type = TQUIC_QLOG_METRICS;
		r.fields = F(TQUIC_A_QLOG_CWND);
		memcpy(r.metrics, m, sizeof(m));
		break;
	}
	case TQUIC_QL_EVENT:
		switch (ev->ev_type) {
		case TQUIC_EV_KEY_UPDATE:
			r.type = TQUIC_QLOG_KEY_UPDATE;
			r.fields = F(TQUIC_A_QLOG_CODE) | F(TQUIC_A_QLOG_TRIGGER);
			r.code = ev->ev_id;
			r.trigger = ev->ev_flags & 1;
			break;
		case TQUIC_EV_HANDSHAKE_DONE:
			r.type = TQUIC_QLOG_HANDSHAKE_DONE;
			tquic_qlog_add(q, &r);
			tquic_qlog_alpn(q, ev->time);
			return;
		case TQUIC_EV_CLOSED:
			if (q->closed)
				return;
			q->closed = true;
			r.type = TQUIC_QLOG_CONN_CLOSED;
			r.fields = F(TQUIC_A_QLOG_CODE) | F(TQUIC_A_QLOG_TRIGGER);
			r.code = ev->ev_code;
			r.trigger = tquic_qlog_close_trigger(ev->ev_flags);
			break;
		case TQUIC_EV_PATH_VALIDATED:
			r.type = TQUIC_QLOG_PATH_VALIDATED;
			break;
		default:
			return;
		}
		break;
	default:
		return;
	}
	tquic_qlog_add(q, &r);
}

/* ---- the socket layer's calls ---- */

static struct tquic_qlog *tquic_qlog_create(struct sock *sk)
{
	struct tquic_qlog *q, *old;

	q = kzalloc(sizeof(*q), GFP_ATOMIC);
	if (!q)
		return NULL;
	q->sk = sk;
	q->net = sock_net(sk);
	q->id = tquic_sk(sk)->id;
	spin_lock_init(&q->lock);
	INIT_DELAYED_WORK(&q->flush, tquic_qlog_flush_work);
	spin_lock_bh(&tquic_qlog_lock);
	old = tquic_qlog_lookup(sk);
	if (!old)
		hash_add(tquic_qlog_table, &q->node, (unsigned long)sk);
	spin_unlock_bh(&tquic_qlog_lock);
	if (old) {
		kfree(q);
		return old;
	}
	return q;
}

static void tquic_qlog_attach(struct tquic_qlog *q)
{
	struct tquic_sock *qs = tquic_sk(q->sk);

	if (!qs->conn || q->attached)
		return;
	q->attached = true;
	q->started = false;
	q->closed = false;
	q->t0 = ktime_get_ns();
	q->cc_state = NULL;
	memset(q->metrics, 0, sizeof(q->metrics));
	tquic_conn_set_qlog(qs->conn, tquic_qlog_hook, q);
	if (tquic_genl_qlog_listening(q->net))
		tquic_qlog_start(q, q->t0);
}

static void tquic_qlog_detach(struct tquic_qlog *q)
{
	struct tquic_sock *qs = tquic_sk(q->sk);

	if (!q->attached)
		return;
	q->attached = false;
	if (qs->conn)
		tquic_conn_set_qlog(qs->conn, NULL, NULL);
	spin_lock_bh(&q->lock);
	tquic_qlog_send_locked(q);
	spin_unlock_bh(&q->lock);
}

void tquic_qlog_conn_new(struct sock *sk, struct sock *parent)
{
	struct tquic_qlog *q = tquic_qlog_find(sk), *pq;
	bool on = tquic_qlog_global(sock_net(sk)) || (q && q->want);

	if (!on && parent) {
		pq = tquic_qlog_find(parent);
		on = pq && pq->want;
	}
	if (!on)
		return;
	if (!q)
		q = tquic_qlog_create(sk);
	if (q)
		tquic_qlog_attach(q);
}

int tquic_qlog_set(struct sock *sk, bool on)
{
	struct tquic_qlog *q = tquic_qlog_find(sk);

	if (!q) {
		if (!on)
			return 0;
		q = tquic_qlog_create(sk);
		if (!q)
			return -ENOMEM;
	}
	q->want = on;
	if (on)
		tquic_qlog_attach(q);
	else
		tquic_qlog_detach(q);
	return 0;
}

int tquic_qlog_get(struct sock *sk)
{
	struct tquic_qlog *q = tquic_qlog_find(sk);

	return q && q->want;
}

bool tquic_qlog_active(const struct sock *sk)
{
	struct tquic_qlog *q = tquic_qlog_find(sk);

	return q && q->attached;
}

void tquic_qlog_sock_destroy(struct sock *sk)
{
	struct tquic_qlog *q;

	spin_lock_bh(&tquic_qlog_lock);
	q = tquic_qlog_lookup(sk);
	if (q)
		hash_del(&q->node);
	spin_unlock_bh(&tquic_qlog_lock);
	if (!q)
		return;
	cancel_delayed_work_sync(&q->flush);
	if (q->attached && q->started && !q->closed) {
		struct tquic_qlog_rec r;

		/* The last record tells readers the connection is gone. */
		tquic_qlog_rec_init(&r, TQUIC_QLOG_CONN_CLOSED, ktime_get_ns());
		r.fields = F(TQUIC_A_QLOG_TRIGGER);
		r.trigger = TQUIC_QLOG_CLOSE_LOCAL;
		tquic_qlog_add(q, &r);
		cancel_delayed_work_sync(&q->flush);
	}
	spin_lock_bh(&q->lock);
	tquic_qlog_send_locked(q);
	spin_unlock_bh(&q->lock);
	kfree(q);
}

/* ---- module ---- */

static struct pernet_operations tquic_qlog_net_ops = {
	.id	= &tquic_qlog_net_id,
	.size	= sizeof(struct tquic_qlog_net),
};

int __init tquic_qlog_init(void)
{
	return register_pernet_subsys(&tquic_qlog_net_ops);
}

void tquic_qlog_exit(void)
{
	unregister_pernet_subsys(&tquic_qlog_net_ops);
}
