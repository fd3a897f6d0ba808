// SPDX-License-Identifier: GPL-2.0
/*
 * IPPROTO_QUIC socket-layer checks, run in the VM against the TQUIC
 * module.  Uses only libc and the UAPI header <linux/quic.h>.
 *
 *   sockapi basic            lifecycle, sockopt lengths, poll, accept, cmsgs
 *   sockapi hold FILE        opens sockets, writes FILE, waits for SIGTERM
 *   sockapi flood N          N garbage datagrams to a listener and a client
 *
 * Every check prints "ok ..." or "FAIL ..."; the exit status is the number
 * of failures (capped), so the Go test sees both.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/quic.h>
#include <netinet/udp.h>

static int failures;

static void check(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf(cond ? "ok " : "FAIL ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!cond)
		failures++;
}

/* ret == -1 with errno == want. */
#define EXPECT_ERR(call, want, ...)                                                  \
	do {                                                                         \
		errno = 0;                                                           \
		int r_ = (call);                                                     \
		int e_ = errno;                                                      \
		char m_[160];                                                        \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                               \
		check(r_ == -1 && e_ == (want), "%s: got %d errno %d (%s), want %s", \
		      m_, r_, e_, strerror(e_), strerror(want));                     \
	} while (0)

#define EXPECT_OK(call, ...)                                                   \
	do {                                                                   \
		errno = 0;                                                     \
		int r_ = (call);                                               \
		int e_ = errno;                                                \
		char m_[160];                                                  \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                         \
		check(r_ >= 0, "%s: got %d errno %d (%s)", m_, r_, e_,         \
		      strerror(e_));                                           \
	} while (0)

union addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	struct sockaddr_storage ss;
};

static socklen_t addr_len(const union addr *a)
{
	return a->sa.sa_family == AF_INET ? sizeof(a->v4) : sizeof(a->v6);
}

static void loopback(union addr *a, int family, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sa.sa_family = family;
	if (family == AF_INET) {
		a->v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->v4.sin_port = htons(port);
	} else {
		a->v6.sin6_addr = in6addr_loopback;
		a->v6.sin6_port = htons(port);
	}
}

static uint16_t port_of(const union addr *a)
{
	return ntohs(a->sa.sa_family == AF_INET ? a->v4.sin_port : a->v6.sin6_port);
}

static short poll1(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, timeout_ms) < 0)
		return -1;
	return p.revents;
}

static const char *fam(int f)
{
	return f == AF_INET ? "inet" : "inet6";
}

static const char *typ(int t)
{
	return t == SOCK_STREAM ? "stream" : "dgram";
}

/* ---- socket options: every length the kernel must refuse ---- */

struct fixed_opt {
	int name;
	const char *label;
	size_t len;
	int set, get;
};

static void check_sockopt_lengths(int fd, const char *ctx)
{
	static const struct fixed_opt fixed[] = {
		{ QUIC_SOCKOPT_EVENT, "EVENT", sizeof(struct quic_event_option), 1, 1 },
		{ QUIC_SOCKOPT_STREAM_OPEN, "STREAM_OPEN", sizeof(struct quic_stream_info), 0, 1 },
		{ QUIC_SOCKOPT_STREAM_RESET, "STREAM_RESET", sizeof(struct quic_errinfo), 1, 0 },
		{ QUIC_SOCKOPT_STREAM_STOP_SENDING, "STOP_SENDING", sizeof(struct quic_errinfo), 1, 0 },
		{ QUIC_SOCKOPT_CONNECTION_ID, "CONNECTION_ID", sizeof(struct quic_connection_id_info), 1, 1 },
		{ QUIC_SOCKOPT_TRANSPORT_PARAM, "TRANSPORT_PARAM", sizeof(struct quic_transport_param), 1, 1 },
		{ QUIC_SOCKOPT_CONFIG, "CONFIG", sizeof(struct quic_config), 1, 1 },
		{ QUIC_SOCKOPT_CRYPTO_SECRET, "CRYPTO_SECRET", sizeof(struct quic_crypto_secret), 1, 0 },
		{ TQUIC_SOCKOPT_MULTIPATH, "TQUIC_MULTIPATH", sizeof(int), 1, 1 },
		{ TQUIC_SOCKOPT_QUIC_LB, "TQUIC_QUIC_LB", sizeof(struct tquic_lb_config), 1, 1 },
		{ TQUIC_SOCKOPT_OFFLOAD, "TQUIC_OFFLOAD", sizeof(int), 1, 1 },
		{ TQUIC_SOCKOPT_QLOG, "TQUIC_QLOG", sizeof(int), 1, 1 },
		{ TQUIC_SOCKOPT_STATS, "TQUIC_STATS", sizeof(struct tquic_sock_stats), 0, 1 },
		{ TQUIC_SOCKOPT_CONGESTION, "TQUIC_CONGESTION", TQUIC_CC_NAME_MAX, 0, 1 },
		{ TQUIC_SOCKOPT_STREAM_RESET, "TQUIC_STREAM_RESET", sizeof(struct tquic_stream_error), 1, 0 },
		{ TQUIC_SOCKOPT_STREAM_STOP_SENDING, "TQUIC_STOP_SENDING",
		  sizeof(struct tquic_stream_error), 1, 0 },
		{ TQUIC_SOCKOPT_WIDE_ERRCODES, "TQUIC_WIDE_ERRCODES", sizeof(int), 1, 1 },
	};
	unsigned char buf[8192];
	socklen_t len;
	size_t i;

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		const struct fixed_opt *o = &fixed[i];
		size_t bad[] = { 0, 1, o->len - 1, o->len + 1, o->len * 2 };
		size_t j;

		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			if (bad[j] == o->len)
				continue;
			if (o->set)
				EXPECT_ERR(setsockopt(fd, SOL_QUIC, o->name, buf, bad[j]), EINVAL,
					   "%s set %s len %zu", ctx, o->label, bad[j]);
			if (o->get) {
				len = bad[j];
				EXPECT_ERR(getsockopt(fd, SOL_QUIC, o->name, buf, &len), EINVAL,
					   "%s get %s len %zu", ctx, o->label, bad[j]);
			}
		}
	}
	/* Variable-length options: empty or beyond their bound. */
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, buf, 0), EINVAL, "%s set ALPN len 0", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, "h3", 256), EINVAL,
		   "%s set ALPN len 256", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, "h3,,x", 5), EINVAL,
		   "%s set ALPN empty id", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TOKEN, buf, 257), EINVAL,
		   "%s set TOKEN len 257", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_SESSION_TICKET, buf, 0), EINVAL,
		   "%s set SESSION_TICKET len 0", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_SESSION_TICKET, buf, 4097), EINVAL,
		   "%s set SESSION_TICKET len 4097", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, buf, 0), EINVAL,
		   "%s set TRANSPORT_PARAM_EXT len 0", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, buf, 4097), EINVAL,
		   "%s set TRANSPORT_PARAM_EXT len 4097", ctx);
	len = 0;
	EXPECT_ERR(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, buf, &len), EINVAL,
		   "%s get TRANSPORT_PARAM_EXT len 0", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONNECTION_CLOSE, buf, 7), EINVAL,
		   "%s set CONNECTION_CLOSE len 7", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONNECTION_CLOSE, buf, 8 + 81), EINVAL,
		   "%s set CONNECTION_CLOSE len 89", ctx);
	len = 7;
	EXPECT_ERR(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONNECTION_CLOSE, buf, &len), EINVAL,
		   "%s get CONNECTION_CLOSE len 7", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONNECTION_MIGRATION, buf, 15), EINVAL,
		   "%s set CONNECTION_MIGRATION len 15", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONNECTION_MIGRATION, buf, 27), EINVAL,
		   "%s set CONNECTION_MIGRATION len 27", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_KEY_UPDATE, buf, 1), EINVAL,
		   "%s set KEY_UPDATE len 1", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_CONGESTION, "cubic", 0), EINVAL,
		   "%s set TQUIC_CONGESTION len 0", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_CONGESTION, buf, 17), EINVAL,
		   "%s set TQUIC_CONGESTION len 17", ctx);
	/* Unknown options, and directions an option does not have. */
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, 15, buf, 4), ENOPROTOOPT, "%s set option 15", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, 0x0fff, buf, 4), ENOPROTOOPT, "%s set option 0xfff", ctx);
	len = sizeof(struct quic_stream_info);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_STREAM_OPEN, buf, len), ENOPROTOOPT,
		   "%s set STREAM_OPEN", ctx);
	len = sizeof(struct quic_errinfo);
	EXPECT_ERR(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_STREAM_RESET, buf, &len), ENOPROTOOPT,
		   "%s get STREAM_RESET", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_IP, IP_TOS, buf, 4), ENOPROTOOPT, "%s set SOL_IP", ctx);
}

/* Values: what must be refused, what must stick. */
static void check_sockopt_values(int fd, const char *ctx)
{
	struct quic_event_option ev = { .type = QUIC_EVENT_KEY_UPDATE, .on = 1 };
	struct quic_transport_param tp, tp2;
	struct quic_config cfg, cfg2;
	struct quic_crypto_secret cs;
	struct tquic_sock_stats st;
	char cc[TQUIC_CC_NAME_MAX];
	unsigned char buf[512];
	socklen_t len;
	int v = 1;

	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)), "%s set EVENT", ctx);
	ev.on = 0;
	len = sizeof(ev);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, &len), "%s get EVENT", ctx);
	check(ev.on == 1, "%s EVENT KEY_UPDATE stays on", ctx);
	ev.type = QUIC_EVENT_MAX;
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)), EINVAL,
		   "%s set EVENT type MAX", ctx);

	memset(&tp, 0, sizeof(tp));	/* remote = 0: ours */
	len = sizeof(tp);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &tp, &len),
		  "%s get TRANSPORT_PARAM", ctx);
	check(tp.max_streams_bidi == 100 && tp.ack_delay_exponent == 3, "%s TRANSPORT_PARAM defaults", ctx);
	tp.max_data = 1 << 22;
	tp.max_streams_bidi = 7;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &tp, sizeof(tp)),
		  "%s set TRANSPORT_PARAM", ctx);
	memset(&tp2, 0, sizeof(tp2));
	len = sizeof(tp2);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &tp2, &len),
		  "%s get TRANSPORT_PARAM again", ctx);
	check(tp2.max_data == 1 << 22 && tp2.max_streams_bidi == 7, "%s TRANSPORT_PARAM sticks", ctx);
	tp.reserved[2] = 1;
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &tp, sizeof(tp)), EINVAL,
		   "%s TRANSPORT_PARAM reserved", ctx);
	tp.reserved[2] = 0;
	tp.ack_delay_exponent = 21;
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM, &tp, sizeof(tp)), EINVAL,
		   "%s TRANSPORT_PARAM ack_delay_exponent 21", ctx);

	len = sizeof(cfg);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, &len), "%s get CONFIG", ctx);
	check(cfg.version == QUIC_VERSION_V1, "%s CONFIG default version v1", ctx);
	cfg.version = QUIC_VERSION_V2;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, sizeof(cfg)), "%s set CONFIG", ctx);
	len = sizeof(cfg2);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg2, &len), "%s get CONFIG again", ctx);
	check(cfg2.version == QUIC_VERSION_V2, "%s CONFIG version sticks", ctx);
	cfg.version = 7;
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONFIG, &cfg, sizeof(cfg)), EINVAL,
		   "%s CONFIG version 7", ctx);

	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, "h3,hq-interop", 12), "%s set ALPN", ctx);
	len = 2;
	EXPECT_ERR(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, buf, &len), EINVAL,
		   "%s get ALPN into 2 bytes", ctx);
	len = sizeof(buf) > 255 ? 255 : sizeof(buf);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, buf, &len), "%s get ALPN", ctx);
	check(len == 12 && !memcmp(buf, "h3,hq-interop", 12), "%s ALPN sticks", ctx);

	memset(buf, 0, sizeof(buf));
	memcpy(buf + 8, "bye", 3);
	((struct quic_connection_close *)buf)->errcode = 42;
	EXPECT_OK(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONNECTION_CLOSE, buf, 11),
		  "%s set CONNECTION_CLOSE", ctx);
	memset(buf, 0, sizeof(buf));
	len = 8 + 80;
	EXPECT_OK(getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CONNECTION_CLOSE, buf, &len),
		  "%s get CONNECTION_CLOSE", ctx);
	check(len == 11 && ((struct quic_connection_close *)buf)->errcode == 42 &&
	      !memcmp(buf + 8, "bye", 3), "%s CONNECTION_CLOSE sticks", ctx);

	memset(cc, 0, sizeof(cc));
	strcpy(cc, "newreno");
	EXPECT_OK(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_CONGESTION, cc, sizeof(cc)),
		  "%s set TQUIC_CONGESTION newreno", ctx);
	strcpy(cc, "nosuchcc");
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_CONGESTION, cc, sizeof(cc)), EINVAL,
		   "%s set TQUIC_CONGESTION nosuchcc", ctx);
	memset(cc, 0, sizeof(cc));
	len = sizeof(cc);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_CONGESTION, cc, &len),
		  "%s get TQUIC_CONGESTION", ctx);
	check(!strcmp(cc, "newreno"), "%s TQUIC_CONGESTION sticks (%s)", ctx, cc);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_MULTIPATH, &v, sizeof(v)), EOPNOTSUPP,
		   "%s set TQUIC_MULTIPATH (not wired)", ctx);
	len = sizeof(st);
	EXPECT_OK(getsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_STATS, &st, &len), "%s get TQUIC_STATS", ctx);

	/* Needs a connection. */
	memset(&cs, 0, sizeof(cs));
	cs.level = QUIC_CRYPTO_HANDSHAKE;
	cs.type = 51;	/* TLS_CIPHER_AES_GCM_128 */
	cs.send = 1;
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &cs, sizeof(cs)), ENOTCONN,
		   "%s CRYPTO_SECRET unconnected", ctx);
	cs.level = QUIC_CRYPTO_INITIAL;
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &cs, sizeof(cs)), EINVAL,
		   "%s CRYPTO_SECRET at the Initial level", ctx);
	EXPECT_ERR(setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_KEY_UPDATE, NULL, 0), ENOTCONN,
		   "%s KEY_UPDATE unconnected", ctx);

	/* 62-bit stream error codes: below 2^62, a stream, a connection. */
	{
		struct tquic_stream_error se = { .stream_id = 0, .errcode = 1ULL << 62 };
		int w = 2;

		EXPECT_ERR(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_STREAM_RESET, &se, sizeof(se)),
			   EINVAL, "%s TQUIC_STREAM_RESET code 2^62", ctx);
		se.errcode = (1ULL << 62) - 1;
		se.stream_id = -1;
		EXPECT_ERR(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_STREAM_STOP_SENDING, &se, sizeof(se)),
			   EINVAL, "%s TQUIC_STOP_SENDING stream -1", ctx);
		se.stream_id = 4;
		EXPECT_ERR(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_STREAM_RESET, &se, sizeof(se)),
			   ENOTCONN, "%s TQUIC_STREAM_RESET unconnected", ctx);
		EXPECT_ERR(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_WIDE_ERRCODES, &w, sizeof(w)),
			   EINVAL, "%s TQUIC_WIDE_ERRCODES 2", ctx);
		w = 1;
		EXPECT_OK(setsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_WIDE_ERRCODES, &w, sizeof(w)),
			  "%s set TQUIC_WIDE_ERRCODES", ctx);
		w = 0;
		len = sizeof(w);
		EXPECT_OK(getsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_WIDE_ERRCODES, &w, &len),
			  "%s get TQUIC_WIDE_ERRCODES", ctx);
		check(w == 1, "%s TQUIC_WIDE_ERRCODES sticks (%d)", ctx, w);
	}
}

/* ---- cmsgs ---- */

static ssize_t send_hs(int fd, const void *data, size_t len, uint8_t level, size_t cmsg_data_len,
		       int flags)
{
	char cbuf[CMSG_SPACE(sizeof(struct quic_handshake_info)) + 16];
	struct quic_handshake_info hi = { .crypto_level = level };
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	m.msg_control = cbuf;
	m.msg_controllen = CMSG_SPACE(cmsg_data_len);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_QUIC;
	c->cmsg_type = QUIC_HANDSHAKE_INFO;
	c->cmsg_len = CMSG_LEN(cmsg_data_len);
	memcpy(CMSG_DATA(c), &hi, cmsg_data_len < sizeof(hi) ? cmsg_data_len : sizeof(hi));
	return sendmsg(fd, &m, flags);
}

static ssize_t send_stream(int fd, const void *data, size_t len, int64_t sid, uint32_t sflags)
{
	char cbuf[CMSG_SPACE(sizeof(struct quic_stream_info))];
	struct quic_stream_info si = { .stream_id = sid, .stream_flags = sflags };
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_QUIC;
	c->cmsg_type = QUIC_STREAM_INFO;
	c->cmsg_len = CMSG_LEN(sizeof(si));
	memcpy(CMSG_DATA(c), &si, sizeof(si));
	return sendmsg(fd, &m, 0);
}

/* ---- a client Initial, as the demux sees it ---- */

static size_t make_initial(unsigned char *b, size_t cap, const unsigned char *dcid, int dcil)
{
	size_t i, n = 1200;
	int scil = 8;

	if (cap < n)
		return 0;
	for (i = 0; i < n; i++)
		b[i] = rand();
	b[0] = 0xc0 | (b[0] & 0x0f);	/* long header, fixed bit, Initial */
	b[1] = 0;
	b[2] = 0;
	b[3] = 0;
	b[4] = 1;			/* version 1 */
	b[5] = dcil;
	memcpy(b + 6, dcid, dcil);
	b[6 + dcil] = scil;
	return n;
}

/*
 * A real client Initial: a QUIC socket connected to @port on loopback
 * whose "ClientHello" (@len bytes) the engine sends in a protected
 * Initial.  Returns the socket (kept open by the caller), its address in
 * @from.
 */
static int quic_initial(int family, uint16_t port, const void *hello, size_t len,
			union addr *from)
{
	union addr to;
	socklen_t fl = sizeof(*from);
	int fd = socket(family, SOCK_DGRAM, IPPROTO_QUIC);

	if (fd < 0)
		return -1;
	loopback(&to, family, port);
	if (connect(fd, &to.sa, addr_len(&to)) ||
	    send_hs(fd, hello, len, QUIC_CRYPTO_INITIAL, sizeof(struct quic_handshake_info),
		    0) != (ssize_t)len ||
	    getsockname(fd, &from->sa, &fl)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Receives handshake bytes; returns their length and level, or -1. */
static ssize_t recv_hs(int fd, void *buf, size_t len, int *level)
{
	char cbuf[CMSG_SPACE(sizeof(struct quic_handshake_info))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);

	*level = -1;
	if (n < 0)
		return n;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_QUIC && c->cmsg_type == QUIC_HANDSHAKE_INFO)
			*level = ((struct quic_handshake_info *)CMSG_DATA(c))->crypto_level;
	return n;
}

struct shut_arg {
	int fd;
};

static void *shut_later(void *p)
{
	struct shut_arg *a = p;

	usleep(200000);
	shutdown(a->fd, SHUT_RD);
	return NULL;
}

static void basic_one(int family, int type)
{
	union addr la, ca, pa, from, got;
	unsigned char data[100], got_data[200];
	int extra[4], lvl;
	char ctx[64];
	socklen_t len;
	int lfd, cfd, fd, child, flags, i;
	short ev;

	snprintf(ctx, sizeof(ctx), "%s/%s", fam(family), typ(type));
	memset(data, 'x', sizeof(data));

	fd = socket(family, type, IPPROTO_QUIC);
	check(fd >= 0, "%s socket(IPPROTO_QUIC): %s", ctx, fd < 0 ? strerror(errno) : "");
	if (fd < 0)
		return;
	ev = poll1(fd, POLLIN | POLLOUT | POLLRDHUP, 0);
	check(ev == POLLHUP, "%s fresh socket polls HUP only (0x%x)", ctx, ev);
	check_sockopt_lengths(fd, ctx);
	check_sockopt_values(fd, ctx);
	EXPECT_ERR(send_hs(fd, data, 10, QUIC_CRYPTO_INITIAL, sizeof(struct quic_handshake_info), 0),
		   ENOTCONN, "%s handshake sendmsg unconnected", ctx);
	EXPECT_ERR(send(fd, data, 10, 0), ENOTCONN, "%s send unconnected", ctx);
	EXPECT_ERR(recv(fd, data, 10, MSG_DONTWAIT), ENOTCONN, "%s recv unconnected", ctx);
	EXPECT_ERR(shutdown(fd, SHUT_RDWR), ENOTCONN, "%s shutdown unconnected", ctx);
	len = sizeof(got);
	EXPECT_ERR(getpeername(fd, &got.sa, &len), ENOTCONN, "%s getpeername unconnected", ctx);
	close(fd);

	/* Listener on loopback (IPv6: the dual-stack wildcard). */
	lfd = socket(family, type, IPPROTO_QUIC);
	loopback(&la, family, 0);
	if (family == AF_INET6)
		la.v6.sin6_addr = in6addr_any;
	EXPECT_OK(bind(lfd, &la.sa, addr_len(&la)), "%s bind", ctx);
	EXPECT_ERR(bind(lfd, &la.sa, addr_len(&la)), EINVAL, "%s bind twice", ctx);
	len = sizeof(la);
	EXPECT_OK(getsockname(lfd, &la.sa, &len), "%s getsockname", ctx);
	check(port_of(&la) != 0, "%s bound to an ephemeral port (%u)", ctx, port_of(&la));
	EXPECT_ERR(listen(lfd, 0) == 0 ? accept(lfd, NULL, NULL) : -2, EINVAL,
		   "%s listen(0) leaves it not listening", ctx);
	EXPECT_OK(listen(lfd, 2), "%s listen", ctx);
	ev = poll1(lfd, POLLIN | POLLOUT, 0);
	check(ev == 0, "%s idle listener polls nothing (0x%x)", ctx, ev);
	flags = fcntl(lfd, F_GETFL);
	fcntl(lfd, F_SETFL, flags | O_NONBLOCK);
	EXPECT_ERR(accept(lfd, NULL, NULL), EAGAIN, "%s non-blocking accept, empty queue", ctx);
	fcntl(lfd, F_SETFL, flags);

	/* A second QUIC socket shares the port; plain UDP cannot take it. */
	fd = socket(family, type, IPPROTO_QUIC);
	EXPECT_OK(bind(fd, &la.sa, addr_len(&la)), "%s second bind to the same port", ctx);
	close(fd);
	fd = socket(family, SOCK_DGRAM, 0);
	EXPECT_ERR(bind(fd, &la.sa, addr_len(&la)), EADDRINUSE, "%s UDP bind to the QUIC port", ctx);
	close(fd);

	/* Client. */
	cfd = socket(family, type, IPPROTO_QUIC);
	loopback(&pa, family, port_of(&la));
	EXPECT_ERR(connect(cfd, &pa.sa, 3), EINVAL, "%s connect with a short address", ctx);
	loopback(&pa, family, 0);
	EXPECT_ERR(connect(cfd, &pa.sa, addr_len(&pa)), EINVAL, "%s connect to port 0", ctx);
	loopback(&pa, family, port_of(&la));
	EXPECT_OK(connect(cfd, &pa.sa, addr_len(&pa)), "%s connect", ctx);
	EXPECT_ERR(connect(cfd, &pa.sa, addr_len(&pa)), EISCONN, "%s connect twice", ctx);
	EXPECT_ERR(listen(cfd, 4), EINVAL, "%s listen on a client", ctx);
	len = sizeof(got);
	EXPECT_OK(getpeername(cfd, &got.sa, &len), "%s getpeername", ctx);
	check(port_of(&got) == port_of(&la), "%s peer port", ctx);
	len = sizeof(ca);
	EXPECT_OK(getsockname(cfd, &ca.sa, &len), "%s client getsockname", ctx);
	check(port_of(&ca) != 0 && port_of(&ca) != port_of(&la), "%s client autobound (%u)", ctx,
	      port_of(&ca));
	ev = poll1(cfd, POLLIN | POLLOUT, 0);
	check(ev == POLLOUT, "%s connecting client polls OUT (0x%x)", ctx, ev);
	EXPECT_OK((int)send_hs(cfd, data, sizeof(data), QUIC_CRYPTO_INITIAL,
			       sizeof(struct quic_handshake_info), 0),
		  "%s handshake bytes queued", ctx);
	EXPECT_ERR(send_hs(cfd, data, 10, QUIC_CRYPTO_EARLY, sizeof(struct quic_handshake_info), 0),
		   EINVAL, "%s handshake at the 0-RTT level", ctx);
	EXPECT_ERR(send_hs(cfd, data, 10, QUIC_CRYPTO_MAX, sizeof(struct quic_handshake_info), 0),
		   EINVAL, "%s handshake level out of range", ctx);
	EXPECT_ERR(send_hs(cfd, data, 10, QUIC_CRYPTO_INITIAL, 1, 0), EINVAL,
		   "%s handshake cmsg of 1 byte", ctx);
	EXPECT_ERR(send_hs(cfd, data, 10, QUIC_CRYPTO_INITIAL, sizeof(struct quic_handshake_info),
			   0x40000000), EINVAL, "%s unknown send flag", ctx);
	EXPECT_ERR(send_stream(cfd, data, 10, 0, MSG_QUIC_STREAM_NEW), ENOTCONN,
		   "%s stream data before the handshake", ctx);
	EXPECT_ERR(send_stream(cfd, data, 10, -2, 0), EINVAL, "%s stream id -2", ctx);
	EXPECT_ERR(send_stream(cfd, data, 10, 0, 0x1), EINVAL, "%s unknown stream flag", ctx);
	EXPECT_ERR(send(cfd, data, 10, MSG_QUIC_DATAGRAM), ENOTCONN, "%s datagram before the handshake",
		   ctx);
	EXPECT_ERR(recv(cfd, data, 10, MSG_DONTWAIT), EAGAIN, "%s nothing to read yet", ctx);
	{
		struct quic_crypto_secret cs = { .send = 1, .level = QUIC_CRYPTO_HANDSHAKE, .type = 51 };

		EXPECT_OK(setsockopt(cfd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &cs, sizeof(cs)),
			  "%s CRYPTO_SECRET at the handshake level", ctx);
		cs.type = 49;	/* AES-CCM: no such suite in the engine */
		EXPECT_ERR(setsockopt(cfd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &cs, sizeof(cs)),
			   EINVAL, "%s CRYPTO_SECRET of an unknown cipher", ctx);
	}
	{
		struct tquic_sock_stats st;

		len = sizeof(st);
		EXPECT_OK(getsockopt(cfd, SOL_QUIC, TQUIC_SOCKOPT_STATS, &st, &len), "%s stats", ctx);
		check(st.crypto_queued == sizeof(data), "%s %u handshake bytes queued", ctx,
		      st.crypto_queued);
	}

	/* The client's Initial (its handshake bytes above) created a connection. */
	ev = poll1(lfd, POLLIN, 2000);
	check(ev == POLLIN, "%s listener readable after an Initial (0x%x)", ctx, ev);
	len = sizeof(got);
	child = accept(lfd, &got.sa, &len);
	check(child >= 0, "%s accept: %s", ctx, child < 0 ? strerror(errno) : "");
	if (child >= 0) {
		check(port_of(&got) == port_of(&ca), "%s accepted peer is the client (%u, %u)", ctx,
		      port_of(&got), port_of(&ca));
		len = sizeof(got);
		EXPECT_OK(getsockname(child, &got.sa, &len), "%s child getsockname", ctx);
		check(port_of(&got) == port_of(&la), "%s child on the listener's port", ctx);
		ev = poll1(child, POLLIN | POLLOUT, 1000);
		check(ev == (POLLIN | POLLOUT), "%s new connection polls IN|OUT (0x%x)", ctx, ev);
		EXPECT_ERR(recv(child, got_data, 10, MSG_DONTWAIT), EINVAL,
			   "%s handshake bytes need the cmsg", ctx);
		check(recv_hs(child, got_data, sizeof(got_data), &lvl) == sizeof(data) &&
		      lvl == QUIC_CRYPTO_INITIAL && !memcmp(got_data, data, sizeof(data)),
		      "%s the client's handshake bytes arrive at the Initial level (level %d)", ctx,
		      lvl);
		EXPECT_ERR(recv(child, data, 10, MSG_DONTWAIT), EAGAIN, "%s child has nothing more",
			   ctx);
	}
	/* The same client again: same connection, nothing new to accept. */
	EXPECT_OK((int)send_hs(cfd, data, 10, QUIC_CRYPTO_INITIAL,
			       sizeof(struct quic_handshake_info), 0) - 10,
		  "%s more handshake bytes", ctx);
	ev = poll1(lfd, POLLIN, 300);
	check(ev == 0, "%s a second Initial of a client creates nothing (0x%x)", ctx, ev);
	if (child >= 0) {
		ev = poll1(child, POLLIN, 1000);
		check(recv_hs(child, got_data, sizeof(got_data), &lvl) == 10,
		      "%s it reaches the same connection (0x%x)", ctx, ev);
	}

	/* Blocking accept wakes for a new Initial. */
	if (fork() == 0) {
		usleep(200000);
		fd = quic_initial(family, port_of(&la), data, sizeof(data), &from);
		usleep(300000);	/* the Initial out before close() */
		_exit(fd < 0 ? 1 : 0);
	}
	fd = accept(lfd, NULL, NULL);
	check(fd >= 0, "%s blocking accept woken by an Initial: %s", ctx, fd < 0 ? strerror(errno) : "");
	wait(NULL);
	if (fd >= 0)
		close(fd);
	/* Backlog 2 queues 3 (backlog + 1, as TCP); the fourth is refused. */
	for (i = 0; i < 4; i++)
		extra[i] = quic_initial(family, port_of(&la), data, sizeof(data), &from);
	{
		struct tquic_sock_stats st;

		usleep(100000);
		len = sizeof(st);
		EXPECT_OK(getsockopt(lfd, SOL_QUIC, TQUIC_SOCKOPT_STATS, &st, &len), "%s listener stats",
			  ctx);
		check(st.accept_queue == 3 && st.accept_overflow >= 1,
		      "%s accept queue bounded by the backlog (queue %u, overflow %u)", ctx,
		      st.accept_queue, st.accept_overflow);
	}

	/* shutdown(SHUT_RD) wakes a blocked accept() with EINVAL. */
	{
		struct shut_arg a = { .fd = lfd };
		pthread_t th;
		int r, drained = 0;

		flags = fcntl(lfd, F_GETFL);
		fcntl(lfd, F_SETFL, flags | O_NONBLOCK);
		while ((r = accept(lfd, NULL, NULL)) >= 0) {
			close(r);
			drained++;
		}
		check(drained == 3 && errno == EAGAIN, "%s drained %d queued connections", ctx, drained);
		fcntl(lfd, F_SETFL, flags);
		pthread_create(&th, NULL, shut_later, &a);
		EXPECT_ERR(accept(lfd, NULL, NULL), EINVAL, "%s accept unblocked by shutdown", ctx);
		pthread_join(th, NULL);
	}

	/* shutdown of a connecting client. */
	EXPECT_OK(shutdown(cfd, SHUT_RDWR), "%s shutdown client", ctx);
	ev = poll1(cfd, POLLIN | POLLOUT | POLLRDHUP, 0);
	check(ev == (POLLIN | POLLHUP | POLLRDHUP), "%s shut down client polls IN|HUP|RDHUP (0x%x)",
	      ctx, ev);
	EXPECT_OK(recv(cfd, data, 10, 0), "%s recv after shutdown returns", ctx);
	EXPECT_ERR(send_hs(cfd, data, 10, QUIC_CRYPTO_INITIAL, sizeof(struct quic_handshake_info),
			   MSG_NOSIGNAL), EPIPE, "%s handshake send after shutdown", ctx);
	if (child >= 0)
		close(child);
	for (i = 0; i < 4; i++)
		if (extra[i] >= 0)
			close(extra[i]);
	close(cfd);
	close(lfd);
}

static int do_basic(void)
{
	static const int fams[] = { AF_INET, AF_INET6 }, types[] = { SOCK_DGRAM, SOCK_STREAM };
	size_t f, t;

	srand(getpid());
	for (f = 0; f < 2; f++)
		for (t = 0; t < 2; t++)
			basic_one(fams[f], types[t]);
	printf("failures %d\n", failures);
	return failures > 100 ? 100 : failures;
}

/* ---- hold sockets open (rmmod test) ---- */

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int do_hold(const char *ready)
{
	union addr la, pa;
	socklen_t len = sizeof(la);
	int lfd, cfd, ufd;
	FILE *f;

	signal(SIGTERM, on_term);
	lfd = socket(AF_INET, SOCK_DGRAM, IPPROTO_QUIC);
	ufd = socket(AF_INET6, SOCK_STREAM, IPPROTO_QUIC);
	cfd = socket(AF_INET, SOCK_STREAM, IPPROTO_QUIC);
	loopback(&la, AF_INET, 0);
	if (lfd < 0 || ufd < 0 || cfd < 0 || bind(lfd, &la.sa, addr_len(&la)) ||
	    listen(lfd, 8) || getsockname(lfd, &la.sa, &len)) {
		perror("hold: setup");
		return 1;
	}
	loopback(&pa, AF_INET, port_of(&la));
	if (connect(cfd, &pa.sa, addr_len(&pa))) {
		perror("hold: connect");
		return 1;
	}
	f = fopen(ready, "w");
	if (!f)
		return 1;
	fprintf(f, "%u\n", port_of(&la));
	fclose(f);
	while (!stop)
		pause();
	close(cfd);
	close(ufd);
	close(lfd);
	return 0;
}

/* ---- garbage flood ---- */

static size_t garbage(unsigned char *b, int kind)
{
	size_t n, i;
	int l;

	switch (kind) {
	case 0:		/* random bytes, random size */
		n = 1 + rand() % 1400;
		for (i = 0; i < n; i++)
			b[i] = rand();
		return n;
	case 1:		/* Initial-looking long header, random DCID */
		l = 8 + rand() % 13;
		for (i = 0; i < (size_t)l; i++)
			b[1000 + i] = rand();
		return make_initial(b, 1400, b + 1000, l);
	case 2:		/* long header, random version and CID lengths */
		n = 7 + rand() % 1300;
		for (i = 0; i < n; i++)
			b[i] = rand();
		b[0] |= 0x80;
		return n;
	default:	/* short header, random DCID */
		n = 21 + rand() % 200;
		for (i = 0; i < n; i++)
			b[i] = rand();
		b[0] = 0x40 | (b[0] & 0x3f);
		return n;
	}
}

/*
 * A full-sized first datagram of an unknown version to the listener on
 * @port (from plain UDP socket @u of @family) must be answered with Version
 * Negotiation (RFC 9000 6.1, RFC 8999 6): the CIDs swapped, versions 1 and 2
 * offered.  Returns 0 when it was.
 */
static int check_vn(int u, int family, uint16_t port)
{
	static const unsigned char dcid[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const unsigned char scid[5] = { 0xa, 0xb, 0xc, 0xd, 0xe };
	unsigned char b[1200], r[1500];
	struct pollfd pfd = { .fd = u, .events = POLLIN };
	int v1 = 0, v2 = 0;
	union addr to;
	ssize_t n, i;

	memset(b, 0, sizeof(b));
	b[0] = 0xc0;
	b[1] = 0x1a; b[2] = 0x2a; b[3] = 0x3a; b[4] = 0x4a;	/* a reserved version */
	b[5] = sizeof(dcid);
	memcpy(b + 6, dcid, sizeof(dcid));
	b[6 + sizeof(dcid)] = sizeof(scid);
	memcpy(b + 7 + sizeof(dcid), scid, sizeof(scid));
	loopback(&to, family, port);
	if (sendto(u, b, sizeof(b), 0, &to.sa, addr_len(&to)) != (ssize_t)sizeof(b)) {
		perror("vn: sendto");
		return 1;
	}
	if (poll(&pfd, 1, 5000) != 1) {
		fprintf(stderr, "vn: no answer within 5 s\n");
		return 1;
	}
	n = recv(u, r, sizeof(r), 0);
	if (n < 7 + (ssize_t)sizeof(dcid) + (ssize_t)sizeof(scid) + 8 || !(r[0] & 0x80) ||
	    r[1] || r[2] || r[3] || r[4] || r[5] != sizeof(scid) ||
	    memcmp(r + 6, scid, sizeof(scid)) || r[6 + sizeof(scid)] != sizeof(dcid) ||
	    memcmp(r + 7 + sizeof(scid), dcid, sizeof(dcid))) {
		fprintf(stderr, "vn: malformed answer (%zd bytes)\n", n);
		return 1;
	}
	for (i = 7 + sizeof(scid) + sizeof(dcid); i + 4 <= n; i += 4) {
		uint32_t v = (uint32_t)r[i] << 24 | r[i + 1] << 16 | r[i + 2] << 8 | r[i + 3];

		v1 |= v == 1;
		v2 |= v == 0x6b3343cf;
	}
	if (!v1 || !v2) {
		fprintf(stderr, "vn: versions offered lack v1 (%d) or v2 (%d)\n", v1, v2);
		return 1;
	}
	printf("vn ok %s\n", family == AF_INET ? "ipv4" : "ipv6");
	return 0;
}

/*
 * A short-header datagram to a CID no connection owns, on the listener's
 * @port, must draw a stateless reset (RFC 9000 10.3): a short header, at
 * least 21 bytes, shorter than its trigger (one byte shorter for a short
 * trigger).  Returns 0 when both triggers were answered so.
 */
static int check_reset(int u, int family, uint16_t port)
{
	static const size_t triggers[2] = { 200, 30 };
	unsigned char b[200], r[1500];
	struct pollfd pfd = { .fd = u, .events = POLLIN };
	union addr to;
	ssize_t n;
	size_t i, k;

	loopback(&to, family, port);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < triggers[k]; i++)
			b[i] = rand();
		b[0] = 0x40 | (b[0] & 0x3f);
		if (sendto(u, b, triggers[k], 0, &to.sa, addr_len(&to)) != (ssize_t)triggers[k]) {
			perror("reset: sendto");
			return 1;
		}
		if (poll(&pfd, 1, 5000) != 1) {
			fprintf(stderr, "reset: no answer to %zu bytes within 5 s\n", triggers[k]);
			return 1;
		}
		n = recv(u, r, sizeof(r), 0);
		if (n < 21 || n >= (ssize_t)triggers[k] || (triggers[k] <= 44 && n != (ssize_t)triggers[k] - 1) ||
		    (r[0] & 0xc0) != 0x40) {
			fprintf(stderr, "reset: answer of %zd bytes (first 0x%02x) to %zu bytes\n",
				n, n > 0 ? r[0] : 0, triggers[k]);
			return 1;
		}
	}
	printf("reset ok %s\n", family == AF_INET ? "ipv4" : "ipv6");
	return 0;
}

/*
 * A train of garbage datagrams in one UDP GSO send (as GRO hands a
 * receiver): 2-16 segments of one size, each of a random kind.  The
 * module must judge each datagram as if it came alone.  Returns the
 * datagrams sent.
 */
static long send_train(int u, int family, uint16_t port, unsigned char *tmp)
{
	static unsigned char train[16 * 1400];
	char ctl[CMSG_SPACE(sizeof(uint16_t))] = { 0 };
	size_t seg = 100 + rand() % 1300, n, j;
	int segs = 2 + rand() % 15;
	struct iovec iov = { .iov_base = train, .iov_len = segs * seg };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	union addr to;

	for (j = 0; j < (size_t)segs; j++) {
		unsigned char *p = train + j * seg;

		n = garbage(tmp, rand() % 4);
		memcpy(p, tmp, n < seg ? n : seg);
		for (; n < seg; n++)
			p[n] = rand();
	}
	/* A shorter last segment, as GSO allows. */
	iov.iov_len -= rand() % (seg / 2);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	*(uint16_t *)CMSG_DATA(cm) = seg;
	loopback(&to, family, port);
	msg.msg_name = &to.sa;
	msg.msg_namelen = addr_len(&to);
	return sendmsg(u, &msg, 0) == (ssize_t)iov.iov_len ? segs : 0;
}

static int do_flood(long count)
{
	union addr la, pa, ca;
	socklen_t len = sizeof(la);
	unsigned char b[1500];
	int lfd, lfd2, cfd, u, u6;
	long i, sent = 0;

	srand(1);
	lfd = socket(AF_INET6, SOCK_DGRAM, IPPROTO_QUIC);
	cfd = socket(AF_INET, SOCK_DGRAM, IPPROTO_QUIC);
	loopback(&la, AF_INET6, 0);
	la.v6.sin6_addr = in6addr_any;
	if (lfd < 0 || cfd < 0 || bind(lfd, &la.sa, addr_len(&la)) || listen(lfd, 64) ||
	    getsockname(lfd, &la.sa, &len)) {
		perror("flood: listener");
		return 1;
	}
	/*
	 * A second listener on the port, with an ALPN list: the first then
	 * routes every new client by its ClientHello, garbage included.
	 */
	lfd2 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_QUIC);
	if (lfd2 < 0 || setsockopt(lfd2, SOL_QUIC, QUIC_SOCKOPT_ALPN, "flood2", 6) ||
	    bind(lfd2, &la.sa, addr_len(&la)) || listen(lfd2, 64)) {
		perror("flood: second listener");
		return 1;
	}
	loopback(&pa, AF_INET, port_of(&la));
	len = sizeof(ca);
	if (connect(cfd, &pa.sa, addr_len(&pa)) || getsockname(cfd, &ca.sa, &len)) {
		perror("flood: client");
		return 1;
	}
	u = socket(AF_INET, SOCK_DGRAM, 0);
	u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	if (check_vn(u, AF_INET, port_of(&la)) || check_vn(u6, AF_INET6, port_of(&la)) ||
	    check_reset(u, AF_INET, port_of(&la)) || check_reset(u6, AF_INET6, port_of(&la)))
		return 1;
	sent = 6;	/* the module counts those as well */
	for (i = 0; i < count; i++) {
		size_t n = garbage(b, (i / 2) % 4);
		union addr to;

		/* Every kind, half to the listener (IPv4 and IPv6), half to the client. */
		if (i % 2) {
			loopback(&to, AF_INET, port_of(&ca));
			sent += sendto(u, b, n, 0, &to.sa, addr_len(&to)) == (ssize_t)n;
		} else if ((i / 2) % 3) {
			loopback(&to, AF_INET, port_of(&la));
			sent += sendto(u, b, n, 0, &to.sa, addr_len(&to)) == (ssize_t)n;
		} else {
			loopback(&to, AF_INET6, port_of(&la));
			sent += sendto(u6, b, n, 0, &to.sa, addr_len(&to)) == (ssize_t)n;
		}
	}
	for (i = 0; i < count / 100; i++)
		sent += send_train(i % 2 ? u : u6, i % 2 ? AF_INET : AF_INET6,
				   port_of(i % 4 == 1 ? &ca : &la), b);
	printf("sent %ld\n", sent);
	/* Connections the Initials created: accept some, leave the rest queued. */
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	for (i = 0; i < 10; i++) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			break;
		close(c);
	}
	close(u);
	close(u6);
	close(cfd);
	close(lfd2);
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(600);	/* a hang fails the run instead of the VM timeout */
	if (argc >= 2 && !strcmp(argv[1], "basic"))
		return do_basic();
	if (argc >= 3 && !strcmp(argv[1], "hold"))
		return do_hold(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "flood"))
		return do_flood(atol(argv[2]));
	fprintf(stderr, "usage: sockapi basic | hold FILE | flood N\n");
	return 2;
}
