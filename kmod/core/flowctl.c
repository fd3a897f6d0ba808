// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QUIC flow control.  See flowctl.h.
 */
#include "flowctl.h"
#include "proto.h"

/* Saturating multiplication: no 128-bit arithmetic on every host. */
static u64 mul_sat(u64 a, u64 b)
{
	if (a && b > ~0ULL / a)
		return ~0ULL;
	return a * b;
}

static u64 min_u64(u64 a, u64 b)
{
	return a < b ? a : b;
}

void tquic_fc_rx_init(struct tquic_fc_rx *fc, u64 window, u64 max_window)
{
	memset(fc, 0, sizeof(*fc));
	window = min_u64(window, TQUIC_VARINT_MAX);
	fc->limit = window;
	fc->window = window;
	fc->max_window = min_u64(max_window < window ? window : max_window,
				 TQUIC_VARINT_MAX);
}

int tquic_fc_rx_on_data(struct tquic_fc_rx *fc, u64 end, u64 *delta)
{
	*delta = 0;
	if (end > fc->limit)
		return TQUIC_ERR_FLOW_CONTROL_ERROR;
	if (end > fc->highest) {
		*delta = end - fc->highest;
		fc->highest = end;
	}
	return 0;
}

int tquic_fc_rx_charge(struct tquic_fc_rx *fc, u64 delta)
{
	if (delta > fc->limit - fc->highest)
		return TQUIC_ERR_FLOW_CONTROL_ERROR;
	fc->highest += delta;
	return 0;
}

/*
 * Doubles the window when the application read @read - @epoch_read bytes
 * in less than 4 * rtt * (bytes / window): at that pace the window, not
 * the application, limits the transfer (the sender can only send a window
 * per round trip).  @rtt_us is the path's minimum RTT: queueing in front
 * of a reader that lags inflates the smoothed RTT, and growing the window
 * for it only lets more data wait, out of the CPU caches, for the reader.  Called when an update becomes due, which also starts a
 * new epoch; the first update only starts one (a single read of a whole
 * window says nothing about the pace).
 */
static void fc_autotune(struct tquic_fc_rx *fc, u64 now_us, u64 rtt_us)
{
	u64 bytes, elapsed;

	if (fc->epoch_valid && rtt_us && fc->window < fc->max_window &&
	    now_us >= fc->epoch_time) {
		bytes = fc->read - fc->epoch_read;
		elapsed = now_us - fc->epoch_time;
		if (mul_sat(elapsed, fc->window) <
		    mul_sat(mul_sat(4, rtt_us), bytes))
			fc->window = min_u64(mul_sat(fc->window, 2),
					     fc->max_window);
	}
	fc->epoch_time = now_us;
	fc->epoch_read = fc->read;
	fc->epoch_valid = true;
}

void tquic_fc_rx_consume(struct tquic_fc_rx *fc, u64 n, u64 now_us, u64 rtt_us)
{
	fc->read += n;
	if (fc->stopped)
		return;
	/* Update once at least half a window of new credit is available. */
	if (fc->read + fc->window > fc->limit + fc->window / 2) {
		fc_autotune(fc, now_us, rtt_us);
		if (tquic_fc_rx_next_limit(fc) > fc->limit)
			fc->pending = true;
	}
}

void tquic_fc_rx_ensure_window(struct tquic_fc_rx *fc, u64 window)
{
	window = min_u64(window, fc->max_window);
	if (window > fc->window)
		fc->window = window;
}

void tquic_fc_rx_update_sent(struct tquic_fc_rx *fc, u64 limit)
{
	if (limit > fc->limit)
		fc->limit = limit;
	fc->pending = false;
}

void tquic_fc_rx_update_lost(struct tquic_fc_rx *fc, u64 limit)
{
	if (!fc->stopped && limit == fc->limit)
		fc->pending = true;
}

void tquic_fc_tx_init(struct tquic_fc_tx *fc, u64 limit)
{
	fc->limit = limit;
	fc->used = 0;
	fc->blocked_at = ~0ULL;
	fc->blocked_pending = false;
}

bool tquic_fc_tx_update(struct tquic_fc_tx *fc, u64 limit)
{
	if (limit <= fc->limit)
		return false;
	fc->limit = limit;
	fc->blocked_pending = false;
	return true;
}

void tquic_fc_tx_blocked(struct tquic_fc_tx *fc)
{
	if (fc->used >= fc->limit && fc->blocked_at != fc->limit)
		fc->blocked_pending = true;
}

void tquic_fc_tx_blocked_sent(struct tquic_fc_tx *fc, u64 limit)
{
	fc->blocked_at = limit;
	if (limit == fc->limit)
		fc->blocked_pending = false;
}

void tquic_fc_tx_blocked_lost(struct tquic_fc_tx *fc, u64 limit)
{
	if (limit == fc->limit && fc->used >= fc->limit)
		fc->blocked_pending = true;
}
