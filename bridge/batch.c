// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Batched engine I/O for the Go host (see batch.h). */
#include "batch.h"
#include "buf.h"

long tqb_conn_send_batch(struct tquic_conn *c, u8 *buf, size_t cap, size_t slot,
			 u64 now, struct tqb_sent *out, size_t max, int *full)
{
	struct tquic_send_info info;
	size_t used = 0, n = 0;
	long r;

	*full = 0;
	/* The engine wants room for a full Initial whatever it builds. */
	if (slot < TQUIC_MIN_INITIAL_SIZE)
		slot = TQUIC_MIN_INITIAL_SIZE;
	while (n < max) {
		if (cap - used < slot) {
			*full = 1;
			break;
		}
		r = tquic_conn_send(c, buf + used, slot, now, &info, TQUIC_GFP_KERNEL);
		if (r < 0 && n == 0)
			return r;
		if (r <= 0)
			break;
		out[n].off = (u32)used;
		out[n].len = (u32)r;
		out[n].path_id = info.path_id;
		out[n].ecn = info.ecn;
		out[n].peer = *info.peer;
		out[n].local = *info.local;
		used += (size_t)r;
		n++;
	}
	if (n == max)
		*full = 1;
	return (long)n;
}

long tqb_conn_recv_batch(struct tquic_conn *c, const u8 *data, size_t len, size_t seg,
			 const struct tquic_addr *local, const struct tquic_addr *peer, u8 ecn,
			 u64 now)
{
	long dropped = 0;
	size_t off, n;

	if (seg == 0 || seg > len)
		seg = len;
	for (off = 0; off < len; off += n) {
		struct tquic_buf *b;

		n = len - off < seg ? len - off : seg;
		b = tquic_buf_alloc(n, TQUIC_GFP_KERNEL);
		if (!b) {
			dropped++;
			continue;
		}
		/* Packets are decrypted from @data straight into @b. */
		if (tquic_conn_recv(c, b, data + off, local, peer, ecn, now, TQUIC_GFP_KERNEL))
			dropped++;
		tquic_buf_put(b);
	}
	return dropped;
}

long tqb_stream_take(struct tquic_conn *c, u64 id, struct tqb_frag *out, size_t max,
		     bool *fin, u64 *code)
{
	struct tquic_rbuf_iov iov;
	size_t n = 0;
	u64 reset;
	int r;

	*fin = false;
	while (n < max) {
		/* Before the peek: reporting a reset may retire the stream. */
		reset = tquic_conn_stream_reset_code(c, id);
		r = tquic_conn_stream_peek(c, id, &iov);
		if (r < 0) {
			if (n)
				break;	/* the next call reports it */
			if (r == -ECONNRESET)
				*code = reset;
			return r;
		}
		if (r == 1) {
			*fin = true;
			break;
		}
		if (!iov.len)
			break;
		tquic_buf_get(iov.buf);
		out[n].buf = iov.buf;
		out[n].data = iov.data;
		out[n].len = iov.len;
		n++;
		tquic_conn_stream_consume(c, id, iov.len);
	}
	if (!n && !*fin)
		return -EAGAIN;
	return (long)n;
}

void tqb_frags_put(struct tqb_frag *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tquic_buf_put(f[i].buf);
}
