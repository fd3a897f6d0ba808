/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Management plane of the kernel host: connection events on the "events"
 * multicast group and qlog records on the "qlog" group of the generic
 * netlink family (genl.c, qlog.c).
 *
 * The socket layer calls the functions of the first block; every one of
 * them runs in process context with the socket owned (lock_sock) unless
 * said otherwise.
 */
#ifndef _TQUIC_LINUX_QLOG_H
#define _TQUIC_LINUX_QLOG_H

#include <linux/types.h>

struct sock;
struct sk_buff;
struct net;

/* ---- called by the socket layer ---- */

/*
 * An engine connection was just created for @sk (tquic_sk(sk)->conn set,
 * before it sends or receives anything).  @parent is the listener of an
 * accepted connection, NULL for a client.  Turns qlog on for it when the
 * socket (or @parent) asked for it with TQUIC_SOCKOPT_QLOG or the
 * namespace's global switch is on.
 */
void tquic_qlog_conn_new(struct sock *sk, struct sock *parent);

/*
 * TQUIC_SOCKOPT_QLOG set (@on) and get.  Allowed at any time: on a socket
 * with a connection it starts or stops the records at once; on a listener
 * it applies to the connections accepted afterwards.  Set returns 0 or
 * -ENOMEM; get returns 0 or 1.
 */
int tquic_qlog_set(struct sock *sk, bool on);
int tquic_qlog_get(struct sock *sk);

/*
 * ->destroy, after the engine connection is freed (no engine call can
 * report to the qlog state any more).  Socket not owned; may sleep.
 */
void tquic_qlog_sock_destroy(struct sock *sk);

/*
 * A connection event (enum tquic_event_kind of the UAPI) for the "events"
 * group: TQUIC_EVENT_CONN_UP when the socket becomes established,
 * TQUIC_EVENT_CONN_DOWN on TQUIC_EV_CLOSED, TQUIC_EVENT_KEY_UPDATE on
 * TQUIC_EV_KEY_UPDATE, TQUIC_EVENT_PATH_CHANGE on TQUIC_EV_PATH_VALIDATED,
 * TQUIC_EVENT_VERSION_NEGOTIATION on TQUIC_EV_VERSION_NEGOTIATION.  Costs
 * nothing when nobody listens.  Does not sleep.
 */
void tquic_genl_conn_event(struct sock *sk, u8 kind);

/* ---- between genl.c and qlog.c ---- */

int tquic_qlog_init(void);
void tquic_qlog_exit(void);
/* The namespace's global qlog switch (TQUIC_A_CONFIG_QLOG). */
bool tquic_qlog_global(const struct net *net);
void tquic_qlog_set_global(struct net *net, bool on);
/* Whether @sk's connection emits qlog records (socket owned). */
bool tquic_qlog_active(const struct sock *sk);

/* genl.c: qlog messages on the "qlog" group. */
bool tquic_genl_qlog_listening(struct net *net);
struct sk_buff *tquic_genl_qlog_new(u64 id, gfp_t gfp, void **hdr);
void tquic_genl_qlog_send(struct net *net, struct sk_buff *msg, void *hdr);

#endif /* _TQUIC_LINUX_QLOG_H */
