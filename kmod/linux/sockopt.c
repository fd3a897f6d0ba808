// SPDX-License-Identifier: GPL-2.0
/*
 * SOL_QUIC socket options (draft-lxin-quic-socket-apis) and TQUIC's own
 * (from TQUIC_SOCKOPT_BASE).
 *
 * Every option checks its length first: a fixed-size option takes exactly
 * its structure (anything else is EINVAL), a variable one a bounded range;
 * nothing is read or written beyond the user's buffer.  Then reserved
 * fields and values, then the socket state (ENOTCONN where a connection is
 * needed); what acts on the connection goes to engine.c.  Options TQUIC
 * does not implement yet answer EOPNOTSUPP.
 * Options that configure the connection to come are stored here and
 * handed to the engine when the connection is created; their getsockopt
 * returns what was set.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include <linux/uaccess.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tls.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "quic_sock.h"
#include "qlog.h"
#include "cc.h"

static bool tquic_established(const struct sock *sk)
{
	return sk->sk_state == TCP_ESTABLISHED;
}

static bool tquic_connecting(const struct sock *sk)
{
	return (1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_ESTABLISHED);
}

/* Defaults of the draft (section on QUIC_SOCKOPT_TRANSPORT_PARAM, CONFIG). */
void tquic_sockopt_defaults(struct tquic_sock *qs)
{
	struct quic_transport_param *tp = &qs->opts.tp;
	struct quic_config *c = &qs->opts.config;

	memset(&qs->opts, 0, sizeof(qs->opts));
	tp->active_connection_id_limit = 7;
	tp->ack_delay_exponent = 3;
	tp->max_udp_payload_size = 65527;
	tp->max_idle_timeout = 30000000;
	tp->max_ack_delay = 25000;
	tp->max_streams_bidi = 100;
	tp->max_streams_uni = 100;
	tp->max_data = 65536 * 32;
	tp->max_stream_data_bidi_local = 65536 * 4;
	tp->max_stream_data_bidi_remote = 65536 * 4;
	tp->max_stream_data_uni = 65536 * 4;
	c->version = QUIC_VERSION_V1;
	c->initial_smoothed_rtt = 333000;
	qs->events = 0;
	qs->tp_set = false;
	qs->alpn = NULL;
	qs->alpn_len = 0;
	qs->token = NULL;
	qs->token_len = 0;
	qs->ticket = NULL;
	qs->ticket_len = 0;
	qs->close_info = NULL;
	qs->close_len = 0;
}

void tquic_sockopt_free(struct tquic_sock *qs)
{
	kfree(qs->alpn);
	qs->alpn = NULL;
	kfree_sensitive(qs->token);
	qs->token = NULL;
	kfree_sensitive(qs->ticket);
	qs->ticket = NULL;
	kfree(qs->close_info);
	qs->close_info = NULL;
}

static int tquic_dup(u8 **dst, u16 *dst_len, const u8 *src, u16 len, gfp_t gfp)
{
	*dst = NULL;
	*dst_len = 0;
	if (!src || !len)
		return 0;
	*dst = kmemdup(src, len, gfp);
	if (!*dst)
		return -ENOMEM;
	*dst_len = len;
	return 0;
}

/* What a listener's new connection takes from it.  Listener locked. */
/*
 * The stream and code of a reset or stop-sending option: the draft's struct
 * quic_errinfo (32-bit code) or TQUIC's struct tquic_stream_error (62 bits).
 */
static int tquic_stream_error_from_user(int optname, sockptr_t optval, unsigned int optlen,
					struct tquic_stream_error *se)
{
	if (optname == QUIC_SOCKOPT_STREAM_RESET || optname == QUIC_SOCKOPT_STREAM_STOP_SENDING) {
		struct quic_errinfo ei;

		if (optlen != sizeof(ei))
			return -EINVAL;
		if (copy_from_sockptr(&ei, optval, sizeof(ei)))
			return -EFAULT;
		if (ei.reserved)
			return -EINVAL;
		se->stream_id = ei.stream_id;
		se->errcode = ei.errcode;
	} else {
		if (optlen != sizeof(*se))
			return -EINVAL;
		if (copy_from_sockptr(se, optval, sizeof(*se)))
			return -EFAULT;
		if (se->errcode >= (1ULL << 62))
			return -EINVAL;
	}
	return se->stream_id < 0 ? -EINVAL : 0;
}

int tquic_sockopt_inherit(struct tquic_sock *child, const struct tquic_sock *parent, gfp_t gfp)
{
	u16 len;

	child->opts.tp = parent->opts.tp;
	child->tp_set = parent->tp_set;
	child->opts.config = parent->opts.config;
	memcpy(child->opts.cc, parent->opts.cc, sizeof(child->opts.cc));
	child->opts.wide_errcodes = parent->opts.wide_errcodes;
	child->events = parent->events;
	if (tquic_dup(&child->alpn, &child->alpn_len, parent->alpn, parent->alpn_len, gfp))
		return -ENOMEM;
	/* The listener's session ticket data is the server's ticket key. */
	if (tquic_dup(&child->ticket, &child->ticket_len, parent->ticket, parent->ticket_len, gfp))
		return -ENOMEM;
	if (parent->close_info) {
		len = parent->close_len;
		child->close_info = kmemdup(parent->close_info, len, gfp);
		if (!child->close_info)
			return -ENOMEM;
		child->close_len = len;
	}
	return 0;
}

/* Replaces a stored byte string with @len bytes from user space. */
static int tquic_set_bytes(u8 **dst, u16 *dst_len, sockptr_t optval, unsigned int len)
{
	u8 *p = NULL;

	if (len) {
		p = memdup_sockptr(optval, len);
		if (IS_ERR(p))
			return PTR_ERR(p);
	}
	kfree_sensitive(*dst);
	*dst = p;
	*dst_len = len;
	return 0;
}

static int tquic_check_alpn(const u8 *a, unsigned int len)
{
	unsigned int i, start = 0;

	/* "id1,id2,...": every identifier 1..255 bytes, printable. */
	for (i = 0; i <= len; i++) {
		if (i == len || a[i] == ',') {
			if (i == start)
				return -EINVAL;
			start = i + 1;
			continue;
		}
		if (a[i] < 0x21 || a[i] > 0x7e)
			return -EINVAL;
	}
	return 0;
}

static int tquic_set_tp(struct sock *sk, const struct quic_transport_param *tp)
{
	struct tquic_sock *qs = tquic_sk(sk);

	if (memchr_inv(tp->reserved, 0, sizeof(tp->reserved)))
		return -EINVAL;
	if (tp->ack_delay_exponent > 20 || tp->max_ack_delay >= (1U << 14) * 1000U ||
	    (tp->active_connection_id_limit && tp->active_connection_id_limit < 2) ||
	    (tp->max_udp_payload_size && tp->max_udp_payload_size < 1200) ||
	    tp->max_udp_payload_size > 65527)
		return -EINVAL;
	if (tp->remote) {
		/*
		 * The peer's parameters remembered with a session ticket, for
		 * 0-RTT.  ENGINE: tquic_conn_set_peer_tparams() before the
		 * handshake; needs a connection.
		 */
		if (!tquic_connecting(sk))
			return -ENOTCONN;
		return -EOPNOTSUPP;
	}
	/* Ours are advertised at connect()/accept: fixed afterwards. */
	if (sk->sk_state != TCP_CLOSE && sk->sk_state != TCP_LISTEN)
		return -EISCONN;
	qs->opts.tp = *tp;
	qs->tp_set = true;
	return 0;
}

static int tquic_set_config(struct sock *sk, const struct quic_config *c)
{
	if (memchr_inv(c->reserved, 0, sizeof(c->reserved)))
		return -EINVAL;
	if (c->version && c->version != QUIC_VERSION_V1 && c->version != QUIC_VERSION_V2)
		return -EINVAL;
	if (c->plpmtud_probe_interval && c->plpmtud_probe_interval < 5000000)
		return -EINVAL;
	if (c->initial_smoothed_rtt &&
	    (c->initial_smoothed_rtt < 100000 || c->initial_smoothed_rtt >= 6000000))
		return -EINVAL;
	switch (c->payload_cipher_type) {
	case 0:
	case TLS_CIPHER_AES_GCM_128:
	case TLS_CIPHER_AES_GCM_256:
	case TLS_CIPHER_CHACHA20_POLY1305:
		break;
	default:	/* AES-CCM: the engine has no CCM suite */
		return -EINVAL;
	}
	if (c->congestion_control_algo >= QUIC_CONG_ALG_MAX || c->certificate_request > 2)
		return -EINVAL;
	if (sk->sk_state != TCP_CLOSE && sk->sk_state != TCP_LISTEN)
		return -EISCONN;
	tquic_sk(sk)->opts.config = *c;
	if (!c->version)
		tquic_sk(sk)->opts.config.version = QUIC_VERSION_V1;
	if (!c->initial_smoothed_rtt)
		tquic_sk(sk)->opts.config.initial_smoothed_rtt = 333000;
	return 0;
}

static int tquic_secret_len(u32 type)
{
	switch (type) {
	case TLS_CIPHER_AES_GCM_128:
	case TLS_CIPHER_CHACHA20_POLY1305:
		return 32;	/* HKDF-SHA256 */
	case TLS_CIPHER_AES_GCM_256:
		return 48;	/* HKDF-SHA384 */
	default:
		return -EINVAL;
	}
}

static int tquic_setsockopt_locked(struct sock *sk, int optname, sockptr_t optval,
				   unsigned int optlen)
{
	struct tquic_sock *qs = tquic_sk(sk);

	switch (optname) {
	case QUIC_SOCKOPT_EVENT: {
		struct quic_event_option ev;

		if (optlen != sizeof(ev))
			return -EINVAL;
		if (copy_from_sockptr(&ev, optval, sizeof(ev)))
			return -EFAULT;
		if (!ev.type || ev.type >= QUIC_EVENT_MAX)
			return -EINVAL;
		if (ev.on)
			qs->events |= BIT(ev.type);
		else
			qs->events &= ~BIT(ev.type);
		return 0;
	}
	case QUIC_SOCKOPT_STREAM_RESET:
	case QUIC_SOCKOPT_STREAM_STOP_SENDING:
	case TQUIC_SOCKOPT_STREAM_RESET:
	case TQUIC_SOCKOPT_STREAM_STOP_SENDING: {
		struct tquic_stream_error se;
		int err;

		err = tquic_stream_error_from_user(optname, optval, optlen, &se);
		if (err)
			return err;
		if (!tquic_established(sk))
			return -ENOTCONN;
		return tquic_engine_stream_cancel(sk, optname == QUIC_SOCKOPT_STREAM_RESET ||
						  optname == TQUIC_SOCKOPT_STREAM_RESET,
						  se.stream_id, se.errcode);
	}
	case QUIC_SOCKOPT_CONNECTION_ID: {
		struct quic_connection_id_info ci;

		if (optlen != sizeof(ci))
			return -EINVAL;
		if (copy_from_sockptr(&ci, optval, sizeof(ci)))
			return -EFAULT;
		if (memchr_inv(ci.reserved, 0, sizeof(ci.reserved)))
			return -EINVAL;
		if (!tquic_established(sk))
			return -ENOTCONN;
		/*
		 * ENGINE: switch the active CID (tquic_cids_peer_pick) and
		 * retire below prior_to (tquic_cids_local_rotate /
		 * tquic_cids_peer_retire).
		 */
		return -EOPNOTSUPP;
	}
	case QUIC_SOCKOPT_CONNECTION_CLOSE: {
		struct quic_connection_close *cc;

		if (optlen < sizeof(*cc) || optlen > sizeof(*cc) + TQUIC_PHRASE_MAX)
			return -EINVAL;
		cc = memdup_sockptr(optval, optlen);
		if (IS_ERR(cc))
			return PTR_ERR(cc);
		if (memchr_inv(cc->reserved, 0, sizeof(cc->reserved))) {
			kfree(cc);
			return -EINVAL;
		}
		/* Sent by close() and shutdown(SHUT_WR). */
		kfree(qs->close_info);
		qs->close_info = cc;
		qs->close_len = optlen;
		return 0;
	}
	case QUIC_SOCKOPT_CONNECTION_MIGRATION: {
		union tquic_sockaddr a;

		if (optlen != sizeof(struct sockaddr_in) && optlen != sizeof(struct sockaddr_in6) &&
		    optlen != sizeof(struct sockaddr_storage))
			return -EINVAL;
		memset(&a, 0, sizeof(a));
		if (copy_from_sockptr(&a, optval, min_t(unsigned int, optlen, sizeof(a))))
			return -EFAULT;
		if (a.sa.sa_family == AF_INET ? optlen < sizeof(struct sockaddr_in) :
		    a.sa.sa_family == AF_INET6 ? optlen < sizeof(struct sockaddr_in6) : true)
			return -EINVAL;
		if (a.sa.sa_family != sk->sk_family && sk->sk_family == AF_INET)
			return -EAFNOSUPPORT;
		if (!tquic_connecting(sk) && sk->sk_state != TCP_LISTEN)
			return -ENOTCONN;
		/* A server's preferred_address is not offered (yet). */
		if (sk->sk_state != TCP_ESTABLISHED)
			return -EOPNOTSUPP;
		return tquic_sock_migrate(sk, &a);
	}
	case QUIC_SOCKOPT_KEY_UPDATE:
		if (optlen)
			return -EINVAL;
		if (!tquic_established(sk))
			return -ENOTCONN;
		return tquic_engine_key_update(sk);
	case QUIC_SOCKOPT_TRANSPORT_PARAM: {
		struct quic_transport_param tp;

		if (optlen != sizeof(tp))
			return -EINVAL;
		if (copy_from_sockptr(&tp, optval, sizeof(tp)))
			return -EFAULT;
		return tquic_set_tp(sk, &tp);
	}
	case QUIC_SOCKOPT_CONFIG: {
		struct quic_config c;

		if (optlen != sizeof(c))
			return -EINVAL;
		if (copy_from_sockptr(&c, optval, sizeof(c)))
			return -EFAULT;
		return tquic_set_config(sk, &c);
	}
	case QUIC_SOCKOPT_TOKEN:
		if (optlen > TQUIC_TOKEN_MAX)
			return -EINVAL;
		if (!optlen) {
			/* Server: send a NEW_TOKEN.  ENGINE: tquic_token_make + frame. */
			if (!tquic_established(sk))
				return -ENOTCONN;
			return -EOPNOTSUPP;
		}
		/* Client: the token for the Initial (ENGINE: tquic_conn_set_token). */
		if (sk->sk_state != TCP_CLOSE)
			return -EISCONN;
		return tquic_set_bytes(&qs->token, &qs->token_len, optval, optlen);
	case QUIC_SOCKOPT_ALPN: {
		u8 buf[TQUIC_ALPN_MAX];

		if (!optlen || optlen > TQUIC_ALPN_MAX)
			return -EINVAL;
		if (copy_from_sockptr(buf, optval, optlen))
			return -EFAULT;
		if (tquic_check_alpn(buf, optlen))
			return -EINVAL;
		if (sk->sk_state == TCP_LISTEN)
			return -EISCONN;	/* routing is fixed by listen() */
		kfree(qs->alpn);
		qs->alpn = kmemdup(buf, optlen, GFP_KERNEL);
		qs->alpn_len = qs->alpn ? optlen : 0;
		return qs->alpn ? 0 : -ENOMEM;
	}
	case QUIC_SOCKOPT_SESSION_TICKET:
		if (!optlen || optlen > TQUIC_TICKET_MAX)
			return -EINVAL;
		return tquic_set_bytes(&qs->ticket, &qs->ticket_len, optval, optlen);
	case QUIC_SOCKOPT_CRYPTO_SECRET: {
		struct quic_crypto_secret cs;
		int len, err;

		if (optlen != sizeof(cs))
			return -EINVAL;
		if (copy_from_sockptr(&cs, optval, sizeof(cs)))
			return -EFAULT;
		len = tquic_secret_len(cs.type);
		/* Initial secrets come from the DCID; the others from TLS. */
		if (cs.reserved || len < 0 || cs.level >= QUIC_CRYPTO_MAX ||
		    cs.level == QUIC_CRYPTO_INITIAL ||
		    memchr_inv(cs.secret + len, 0, sizeof(cs.secret) - len)) {
			memzero_explicit(&cs, sizeof(cs));
			return -EINVAL;
		}
		if (!tquic_connecting(sk)) {
			memzero_explicit(&cs, sizeof(cs));
			return -ENOTCONN;
		}
		err = tquic_engine_install_secret(sk, &cs, len);
		memzero_explicit(&cs, sizeof(cs));
		return err;
	}
	case QUIC_SOCKOPT_TRANSPORT_PARAM_EXT:
		if (!optlen || optlen > TQUIC_TP_EXT_MAX)
			return -EINVAL;
		if (!tquic_connecting(sk))
			return -ENOTCONN;
		return tquic_engine_set_peer_tparams(sk, optval, optlen);

	/* ---- TQUIC extensions ---- */
	case TQUIC_SOCKOPT_CONGESTION: {
		char name[TQUIC_CC_NAME_MAX];

		if (!optlen || optlen > sizeof(name))
			return -EINVAL;
		memset(name, 0, sizeof(name));
		if (copy_from_sockptr(name, optval, optlen))
			return -EFAULT;
		if (name[sizeof(name) - 1] || (name[0] && !tquic_cc_find(name)))
			return -EINVAL;
		if (sk->sk_state != TCP_CLOSE && sk->sk_state != TCP_LISTEN)
			return -EISCONN;
		/* The connection's controller, taken at connect()/accept. */
		memcpy(qs->opts.cc, name, sizeof(name));
		return 0;
	}
	case TQUIC_SOCKOPT_MULTIPATH:
	case TQUIC_SOCKOPT_OFFLOAD:
	case TQUIC_SOCKOPT_WIDE_ERRCODES:
	case TQUIC_SOCKOPT_QLOG: {
		int v;

		if (optlen != sizeof(v))
			return -EINVAL;
		if (copy_from_sockptr(&v, optval, sizeof(v)))
			return -EFAULT;
		if (v < 0 || v > 1)
			return -EINVAL;
		if (optname == TQUIC_SOCKOPT_QLOG)
			return tquic_qlog_set(sk, v);
		if (optname == TQUIC_SOCKOPT_WIDE_ERRCODES) {
			qs->opts.wide_errcodes = v;
			return 0;
		}
		/* Multipath negotiation and the offload ops: not yet. */
		return -EOPNOTSUPP;
	}
	case TQUIC_SOCKOPT_QUIC_LB: {
		struct tquic_lb_config lb;

		if (optlen != sizeof(lb))
			return -EINVAL;
		if (copy_from_sockptr(&lb, optval, sizeof(lb)))
			return -EFAULT;
		if (memchr_inv(lb.reserved, 0, sizeof(lb.reserved)) || lb.config_id > 6 ||
		    !lb.server_id_len || lb.server_id_len > 15 || lb.nonce_len < 4 ||
		    lb.nonce_len > 18 || lb.server_id_len + lb.nonce_len > 19)
			return -EINVAL;
		/* ENGINE: a QUIC-LB tquic_cid_ops.generate for the listener's connections. */
		return -EOPNOTSUPP;
	}
	default:
		return -ENOPROTOOPT;
	}
}

int tquic_setsockopt(struct sock *sk, int level, int optname, sockptr_t optval,
		     unsigned int optlen)
{
	int err;

	if (level != SOL_QUIC) {
		/* Only dual-stack control from the IPv6 level. */
		if (level == SOL_IPV6 && optname == IPV6_V6ONLY && sk->sk_family == AF_INET6) {
			int v;

			if (optlen < sizeof(v))
				return -EINVAL;
			if (copy_from_sockptr(&v, optval, sizeof(v)))
				return -EFAULT;
			lock_sock(sk);
			err = tquic_sk(sk)->tunnel ? -EINVAL : 0;
			if (!err)
				sk->sk_ipv6only = !!v;
			release_sock(sk);
			return err;
		}
		return -ENOPROTOOPT;
	}
	lock_sock(sk);
	err = tquic_setsockopt_locked(sk, optname, optval, optlen);
	release_sock(sk);
	return err;
}

/* Copies @len bytes of a variable-length value; @ulen is the user's size. */
static int tquic_put_bytes(char __user *optval, int __user *optlen, int ulen,
			   const void *src, unsigned int len)
{
	if (ulen < (int)len)
		return -EINVAL;
	if (put_user(len, optlen))
		return -EFAULT;
	if (len && copy_to_user(optval, src, len))
		return -EFAULT;
	return 0;
}

static int tquic_getsockopt_locked(struct sock *sk, int optname, char __user *optval,
				   int __user *optlen, int len)
{
	struct tquic_sock *qs = tquic_sk(sk);

	switch (optname) {
	case QUIC_SOCKOPT_EVENT: {
		struct quic_event_option ev;

		if (len != sizeof(ev))
			return -EINVAL;
		if (copy_from_user(&ev, optval, sizeof(ev)))
			return -EFAULT;
		if (!ev.type || ev.type >= QUIC_EVENT_MAX)
			return -EINVAL;
		ev.on = !!(qs->events & BIT(ev.type));
		return copy_to_user(optval, &ev, sizeof(ev)) ? -EFAULT : 0;
	}
	case QUIC_SOCKOPT_STREAM_OPEN: {
		struct quic_stream_info si;
		int err;

		if (len != sizeof(si))
			return -EINVAL;
		if (copy_from_user(&si, optval, sizeof(si)))
			return -EFAULT;
		if (si.reserved || si.stream_id < -1 ||
		    (si.stream_flags & ~(MSG_QUIC_STREAM_UNI | MSG_QUIC_STREAM_DONTWAIT)))
			return -EINVAL;
		if (!tquic_established(sk))
			return -ENOTCONN;
		if (si.stream_id >= 0)
			return -EINVAL;	/* only "the next stream" can be opened */
		err = tquic_engine_stream_open(sk, si.stream_flags & MSG_QUIC_STREAM_UNI,
					       si.stream_flags & MSG_QUIC_STREAM_DONTWAIT,
					       &si.stream_id);
		if (err)
			return err;
		return copy_to_user(optval, &si, sizeof(si)) ? -EFAULT : 0;
	}
	case QUIC_SOCKOPT_CONNECTION_ID: {
		struct quic_connection_id_info ci;

		if (len != sizeof(ci))
			return -EINVAL;
		if (copy_from_user(&ci, optval, sizeof(ci)))
			return -EFAULT;
		if (!tquic_established(sk))
			return -ENOTCONN;
		/* ENGINE: active and lowest sequence numbers of our or the peer's CIDs. */
		return -EOPNOTSUPP;
	}
	case QUIC_SOCKOPT_CONNECTION_CLOSE: {
		struct quic_connection_close none = {};

		if (len < (int)sizeof(none) || len > (int)(sizeof(none) + TQUIC_PHRASE_MAX))
			return -EINVAL;
		/* ENGINE: after a peer's close, tquic_conn_close_info() instead. */
		if (!qs->close_info)
			return tquic_put_bytes(optval, optlen, len, &none, sizeof(none));
		return tquic_put_bytes(optval, optlen, len, qs->close_info, qs->close_len);
	}
	case QUIC_SOCKOPT_TRANSPORT_PARAM: {
		struct quic_transport_param tp;

		if (len != sizeof(tp))
			return -EINVAL;
		if (copy_from_user(&tp, optval, sizeof(tp)))
			return -EFAULT;
		if (tp.remote) {
			if (!tquic_connecting(sk))
				return -ENOTCONN;
			/* ENGINE: the peer's parameters once received. */
			return -EOPNOTSUPP;
		}
		return copy_to_user(optval, &qs->opts.tp, sizeof(qs->opts.tp)) ? -EFAULT : 0;
	}
	case QUIC_SOCKOPT_CONFIG: {
		struct quic_config c = qs->opts.config;

		if (len != sizeof(c))
			return -EINVAL;
		/* After compatible version negotiation: the version in use. */
		if (qs->conn)
			c.version = tquic_engine_version(sk);
		return copy_to_user(optval, &c, sizeof(c)) ? -EFAULT : 0;
	}
	case QUIC_SOCKOPT_TOKEN:
		if (len < 0 || len > TQUIC_TOKEN_MAX)
			return -EINVAL;
		/* ENGINE: on a client, the last NEW_TOKEN (tquic_conn_new_token). */
		return tquic_put_bytes(optval, optlen, len, qs->token, qs->token_len);
	case QUIC_SOCKOPT_ALPN:
		if (len < 0 || len > TQUIC_ALPN_MAX)
			return -EINVAL;
		return tquic_put_bytes(optval, optlen, len, qs->alpn, qs->alpn_len);
	case QUIC_SOCKOPT_SESSION_TICKET:
		if (len < 0 || len > TQUIC_TICKET_MAX)
			return -EINVAL;
		return tquic_put_bytes(optval, optlen, len, qs->ticket, qs->ticket_len);
	case QUIC_SOCKOPT_TRANSPORT_PARAM_EXT:
		if (len <= 0 || len > TQUIC_TP_EXT_MAX)
			return -EINVAL;
		if (!tquic_connecting(sk))
			return -ENOTCONN;
		return tquic_engine_local_tparams(sk, optval, optlen, len);

	/* ---- TQUIC extensions ---- */
	case TQUIC_SOCKOPT_CONGESTION:
		if (len != TQUIC_CC_NAME_MAX)
			return -EINVAL;
		return copy_to_user(optval, qs->opts.cc, sizeof(qs->opts.cc)) ? -EFAULT : 0;
	case TQUIC_SOCKOPT_QLOG:
	case TQUIC_SOCKOPT_WIDE_ERRCODES: {
		int v;

		if (len != sizeof(v))
			return -EINVAL;
		v = optname == TQUIC_SOCKOPT_QLOG ? tquic_qlog_get(sk) : qs->opts.wide_errcodes;
		return copy_to_user(optval, &v, sizeof(v)) ? -EFAULT : 0;
	}
	case TQUIC_SOCKOPT_MULTIPATH:
	case TQUIC_SOCKOPT_OFFLOAD:
		if (len != sizeof(int))
			return -EINVAL;
		return -EOPNOTSUPP;
	case TQUIC_SOCKOPT_QUIC_LB:
		if (len != sizeof(struct tquic_lb_config))
			return -EINVAL;
		return -EOPNOTSUPP;
	case TQUIC_SOCKOPT_STATS: {
		struct tquic_sock_stats *st = &qs->opts.stats;

		if (len != sizeof(*st))
			return -EINVAL;
		st->accept_queue = READ_ONCE(sk->sk_ack_backlog);
		return copy_to_user(optval, st, sizeof(*st)) ? -EFAULT : 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

int tquic_getsockopt(struct sock *sk, int level, int optname, char __user *optval,
		     int __user *optlen)
{
	int len, err;

	if (level != SOL_QUIC) {
		if (level == SOL_IPV6 && optname == IPV6_V6ONLY && sk->sk_family == AF_INET6) {
			int v = sk->sk_ipv6only;

			if (get_user(len, optlen))
				return -EFAULT;
			if (len < (int)sizeof(v))
				return -EINVAL;
			if (put_user(sizeof(v), optlen) || copy_to_user(optval, &v, sizeof(v)))
				return -EFAULT;
			return 0;
		}
		return -ENOPROTOOPT;
	}
	if (get_user(len, optlen))
		return -EFAULT;
	lock_sock(sk);
	err = tquic_getsockopt_locked(sk, optname, optval, optlen, len);
	release_sock(sk);
	return err;
}
