/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Batched I/O between the Go host and the engine: one cgo call builds many
 * datagrams (for one UDP GSO send) or feeds many received ones (one UDP GRO
 * read), instead of one call per datagram.
 */
#ifndef _TQUIC_BRIDGE_BATCH_H
#define _TQUIC_BRIDGE_BATCH_H

#include "conn.h"

/* One datagram built by tqb_conn_send_batch(). */
struct tqb_sent {
	u32 off;			/* where it starts in the batch buffer */
	u32 len;
	u32 path_id;
	u8 ecn;				/* IP ECN codepoint to set */
	struct tquic_addr peer;		/* where it goes */
	struct tquic_addr local;	/* where it leaves from (family NONE: any) */
};

/*
 * Builds datagrams back to back into @buf (@cap bytes), each up to @slot
 * bytes (the largest datagram the connection sends), and describes them in
 * @out (at most @max).  Stops when the engine has nothing more to send now
 * (*@full = 0) or when the next datagram might not fit (*@full = 1).
 * Returns the number of datagrams built, or -errno when the engine failed
 * before building any.
 */
long tqb_conn_send_batch(struct tquic_conn *c, u8 *buf, size_t cap, size_t slot,
			 u64 now, struct tqb_sent *out, size_t max, int *full);

/*
 * Feeds the engine the datagrams of @data (@len bytes) cut every @seg bytes
 * (the last one may be shorter; @seg 0 or >= @len: one datagram), all from
 * @peer to @local (NULL when the host does not know it: a client's socket)
 * with the ECN codepoint @ecn.  Returns how many the engine dropped for a
 * local reason (allocation failures included).
 */
long tqb_conn_recv_batch(struct tquic_conn *c, const u8 *data, size_t len, size_t seg,
			 const struct tquic_addr *local, const struct tquic_addr *peer, u8 ecn,
			 u64 now);

/* Stream data handed out by tqb_stream_take(): a referenced buffer's bytes. */
struct tqb_frag {
	struct tquic_buf *buf;
	const u8 *data;
	u32 len;
};

/*
 * Takes the next in-order bytes of stream @id, up to @max fragments, for a
 * writer that runs without the connection lock: each fragment's buffer is
 * referenced and its bytes are consumed (flow-control credit returns as
 * for a read).  Returns the number of fragments (0 with *@fin set at the
 * end of the stream), -EAGAIN when nothing is readable, -ECONNRESET after
 * a peer reset (*@code set) or -ENOENT for a stream that no longer exists.
 * The caller drops the references with tqb_frags_put().
 */
long tqb_stream_take(struct tquic_conn *c, u64 id, struct tqb_frag *out, size_t max,
		     bool *fin, u64 *code);
void tqb_frags_put(struct tqb_frag *f, size_t n);

#endif /* _TQUIC_BRIDGE_BATCH_H */
