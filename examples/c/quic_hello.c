// SPDX-License-Identifier: MIT
/*
 * quic_hello: the kernel QUIC socket API from C, with nothing but libc and
 * <linux/quic.h>.
 *
 *   quic_hello server PORT        echo one stream per connection, once
 *   quic_hello client PORT        send a message, print the echo and stats
 *
 * A real application runs TLS 1.3 in user space (Go programs use the
 * sockapi package): it moves the TLS handshake messages through sendmsg()
 * and recvmsg() with a QUIC_HANDSHAKE_INFO control message, installs the
 * secrets TLS derives with QUIC_SOCKOPT_CRYPTO_SECRET and exchanges the
 * transport parameters (QUIC_SOCKOPT_TRANSPORT_PARAM_EXT).  To stay free of
 * a TLS library this example does the same steps with fixed demo secrets
 * and the transport parameters as the only "handshake" messages.  That is
 * NOT secure; it shows the calls and their order, nothing more.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/quic.h>

#define TLS_CIPHER_AES_GCM_128 51	/* <linux/tls.h> */

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void send_handshake(int fd, const void *data, size_t len, uint8_t level)
{
	char cbuf[CMSG_SPACE(sizeof(struct quic_handshake_info))] = { 0 };
	struct quic_handshake_info hi = { .crypto_level = level };
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_QUIC;
	c->cmsg_type = QUIC_HANDSHAKE_INFO;
	c->cmsg_len = CMSG_LEN(sizeof(hi));
	memcpy(CMSG_DATA(c), &hi, sizeof(hi));
	if (sendmsg(fd, &m, 0) != (ssize_t)len)
		die("sendmsg handshake");
}

/* One handshake message (here: the peer's transport parameters). */
static size_t recv_handshake(int fd, void *buf, size_t cap)
{
	char cbuf[CMSG_SPACE(sizeof(struct quic_handshake_info))];
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(fd, &m, 0);
	struct cmsghdr *c;

	if (n < 0)
		die("recvmsg handshake");
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_QUIC && c->cmsg_type == QUIC_HANDSHAKE_INFO)
			return n;
	fprintf(stderr, "expected handshake bytes\n");
	exit(1);
}

static void install(int fd, int send, uint8_t level, uint8_t fill)
{
	struct quic_crypto_secret s = { .send = send, .level = level,
					.type = TLS_CIPHER_AES_GCM_128 };

	memset(s.secret, fill, 32);	/* demo secrets: TLS would derive these */
	if (setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &s, sizeof(s)))
		die("setsockopt CRYPTO_SECRET");
}

/*
 * The handshake's socket side: swap transport parameters, then install
 * the Handshake and Application secrets of both directions.  With both
 * Application secrets the socket is established.
 */
static void handshake(int fd, int server)
{
	unsigned char ours[4096], theirs[4096];
	socklen_t len = sizeof(ours);
	size_t n;
	uint8_t cl = server ? 0x5a : 0xa5, sv = server ? 0xa5 : 0x5a;

	if (getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, ours, &len))
		die("getsockopt TRANSPORT_PARAM_EXT");
	if (!server)
		send_handshake(fd, ours, len, QUIC_CRYPTO_INITIAL);
	n = recv_handshake(fd, theirs, sizeof(theirs));
	if (setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, theirs, n))
		die("setsockopt TRANSPORT_PARAM_EXT (peer)");
	if (server)
		send_handshake(fd, ours, len, QUIC_CRYPTO_INITIAL);
	install(fd, 1, QUIC_CRYPTO_HANDSHAKE, cl);
	install(fd, 0, QUIC_CRYPTO_HANDSHAKE, sv);
	install(fd, 0, QUIC_CRYPTO_APP, sv + 1);
	install(fd, 1, QUIC_CRYPTO_APP, cl + 1);
}

static ssize_t send_stream(int fd, int64_t id, uint32_t flags, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(struct quic_stream_info))] = { 0 };
	struct quic_stream_info si = { .stream_id = id, .stream_flags = flags };
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_QUIC;
	c->cmsg_type = QUIC_STREAM_INFO;
	c->cmsg_len = CMSG_LEN(sizeof(si));
	memcpy(CMSG_DATA(c), &si, sizeof(si));
	return sendmsg(fd, &m, 0);
}

/* Reads one stream to its FIN; returns the length and the stream's id. */
static size_t recv_stream(int fd, char *buf, size_t cap, int64_t *id)
{
	size_t got = 0;

	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(struct quic_stream_info))];
		struct iovec iov = { .iov_base = buf + got, .iov_len = cap - got };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct quic_stream_info si = { 0 };
		struct cmsghdr *c;
		ssize_t n = recvmsg(fd, &m, 0);

		if (n < 0)
			die("recvmsg stream");
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_QUIC && c->cmsg_type == QUIC_STREAM_INFO)
				memcpy(&si, CMSG_DATA(c), sizeof(si));
		got += n;
		*id = si.stream_id;
		if (si.stream_flags & MSG_QUIC_STREAM_FIN)
			return got;
		if (got == cap) {
			fprintf(stderr, "stream larger than %zu bytes\n", cap);
			exit(1);
		}
	}
}

static int quic_socket(void)
{
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_QUIC);

	if (fd < 0)
		die("socket(IPPROTO_QUIC) (is the tquic module loaded?)");
	/* A lost peer fails the example instead of hanging it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, "hello", 5))
		die("setsockopt ALPN");
	return fd;
}

static int run_server(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char buf[4096];
	int64_t id;
	size_t n;
	int lfd = quic_socket(), fd;

	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 8))
		die("bind/listen");
	printf("listening on 127.0.0.1:%u\n", port);
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	handshake(fd, 1);
	n = recv_stream(fd, buf, sizeof(buf), &id);
	if (send_stream(fd, id, MSG_QUIC_STREAM_FIN, buf, n) != (ssize_t)n)
		die("sendmsg echo");
	/* The client closes once it has the echo. */
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	close(fd);
	close(lfd);
	return 0;
}

static int run_client(uint16_t port)
{
	static const char msg[] = "hello over kernel QUIC";
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct quic_stream_info si = { .stream_id = -1 };
	struct tquic_sock_stats st;
	socklen_t len = sizeof(si);
	char buf[4096];
	int64_t id;
	size_t n;
	int fd = quic_socket();

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	handshake(fd, 0);
	if (getsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_STREAM_OPEN, &si, &len))
		die("getsockopt STREAM_OPEN");
	if (send_stream(fd, si.stream_id, MSG_QUIC_STREAM_FIN, msg, sizeof(msg) - 1) !=
	    (ssize_t)sizeof(msg) - 1)
		die("sendmsg");
	n = recv_stream(fd, buf, sizeof(buf), &id);
	printf("stream %lld echoed: %.*s\n", (long long)id, (int)n, buf);
	len = sizeof(st);
	if (getsockopt(fd, SOL_QUIC, TQUIC_SOCKOPT_STATS, &st, &len))
		die("getsockopt STATS");
	printf("datagrams: %llu sent, %llu received\n", (unsigned long long)st.tx_datagrams,
	       (unsigned long long)st.rx_datagrams);
	close(fd);
	return n == sizeof(msg) - 1 && !memcmp(buf, msg, n) ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return run_server(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "client"))
		return run_client(atoi(argv[2]));
	fprintf(stderr, "usage: quic_hello server PORT | client PORT\n");
	return 2;
}
