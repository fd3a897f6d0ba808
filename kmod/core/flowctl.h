/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * QUIC flow control (RFC 9000 section 4), one instance per direction and
 * per level: a stream or the connection.
 *
 * Receive side (struct tquic_fc_rx): credit is consumed by the highest
 * offset received; the limit advertised to the peer moves forward as the
 * application reads.  The window auto-tunes like Linux TCP receive buffer
 * auto-tuning: when the application drains a window's worth of data in
 * less than a few round trips, the window doubles, up to a maximum.
 *
 * Send side (struct tquic_fc_tx): the peer's limit and the bytes sent, and
 * the *_BLOCKED signal queued once per limit when the sender runs out.
 */
#ifndef _TQUIC_CORE_FLOWCTL_H
#define _TQUIC_CORE_FLOWCTL_H

#include "platform.h"
#include "varint.h"

struct tquic_fc_rx {
	u64 limit;		/* highest offset the peer may send (advertised) */
	u64 highest;		/* highest offset received (credit consumed) */
	u64 read;		/* bytes consumed by the application */
	u64 window;		/* current window */
	u64 max_window;		/* auto-tuning cap */
	u64 epoch_time;		/* start of the auto-tuning epoch (us) */
	u64 epoch_read;		/* @read at @epoch_time */
	bool epoch_valid;
	bool pending;		/* a MAX_DATA/MAX_STREAM_DATA must be sent */
	bool stopped;		/* no more updates (final size known) */
};

struct tquic_fc_tx {
	u64 limit;		/* the peer's limit */
	u64 used;		/* credit used: highest offset sent */
	u64 blocked_at;		/* limit last signalled blocked, or U64_MAX */
	bool blocked_pending;	/* a *_BLOCKED frame must be sent */
};

/*
 * @window is the initial limit advertised (the transport parameter);
 * @max_window caps auto-tuning (raised to @window when lower).
 */
void tquic_fc_rx_init(struct tquic_fc_rx *fc, u64 window, u64 max_window);

/*
 * Stream level: data up to offset @end arrived.  Returns 0 and the credit
 * newly consumed in @delta (end - previous highest, or 0), or
 * TQUIC_ERR_FLOW_CONTROL_ERROR when @end is above the limit (nothing
 * changes then).
 */
int tquic_fc_rx_on_data(struct tquic_fc_rx *fc, u64 end, u64 *delta);

/* Connection level: @delta more bytes of credit consumed.  0 or FLOW_CONTROL_ERROR. */
int tquic_fc_rx_charge(struct tquic_fc_rx *fc, u64 delta);

/*
 * The application consumed @n bytes (read them or they were discarded).
 * @now_us and @rtt_us drive auto-tuning (@rtt_us, the minimum RTT; 0: no sample yet).
 * Sets @pending when enough credit accumulated for an update.
 */
void tquic_fc_rx_consume(struct tquic_fc_rx *fc, u64 n, u64 now_us, u64 rtt_us);

/* Grows the window to at least @window (capped by the maximum). */
void tquic_fc_rx_ensure_window(struct tquic_fc_rx *fc, u64 window);

/* The limit an update sent now carries. */
static inline u64 tquic_fc_rx_next_limit(const struct tquic_fc_rx *fc)
{
	u64 l = fc->read + fc->window;

	if (l > TQUIC_VARINT_MAX || l < fc->read)
		l = TQUIC_VARINT_MAX;
	return l > fc->limit ? l : fc->limit;
}

/* An update carrying @limit was sent: it is the new advertised limit. */
void tquic_fc_rx_update_sent(struct tquic_fc_rx *fc, u64 limit);

/* An update carrying @limit was lost: send again if it is still current. */
void tquic_fc_rx_update_lost(struct tquic_fc_rx *fc, u64 limit);

/* No updates are needed any more (final size known, stream reset). */
static inline void tquic_fc_rx_stop(struct tquic_fc_rx *fc)
{
	fc->stopped = true;
	fc->pending = false;
}

void tquic_fc_tx_init(struct tquic_fc_tx *fc, u64 limit);

static inline u64 tquic_fc_tx_avail(const struct tquic_fc_tx *fc)
{
	return fc->limit > fc->used ? fc->limit - fc->used : 0;
}

/* @n more bytes of credit used (callers never exceed tquic_fc_tx_avail()). */
static inline void tquic_fc_tx_consume(struct tquic_fc_tx *fc, u64 n)
{
	fc->used += n;
}

/* A MAX_DATA/MAX_STREAM_DATA with @limit arrived.  True when the limit grew. */
bool tquic_fc_tx_update(struct tquic_fc_tx *fc, u64 limit);

/*
 * The sender has data but no credit: queue one *_BLOCKED frame for the
 * current limit (once per limit).
 */
void tquic_fc_tx_blocked(struct tquic_fc_tx *fc);

/* A *_BLOCKED frame carrying @limit was sent / lost. */
void tquic_fc_tx_blocked_sent(struct tquic_fc_tx *fc, u64 limit);
void tquic_fc_tx_blocked_lost(struct tquic_fc_tx *fc, u64 limit);

#endif /* _TQUIC_CORE_FLOWCTL_H */
