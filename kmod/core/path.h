/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Network paths (RFC 9000 sections 8 and 9, draft-ietf-quic-multipath).
 *
 * A path has a 32-bit path ID, host-neutral local and peer addresses, a
 * lifecycle state, path validation (PATH_CHALLENGE/PATH_RESPONSE with a
 * 3x PTO timer, RFC 9000 8.2.4), anti-amplification accounting (3x the
 * bytes received until the peer's address is validated), its MTU, the
 * peer CID it sends with, the multipath status sequence numbers, and the
 * slots where the connection hangs the path's loss recovery, congestion
 * controller and pacer.  Single-path QUIC is one path with ID 0.
 *
 * Time is in microseconds, given by the caller; the engine has no clock.
 */
#ifndef _TQUIC_CORE_PATH_H
#define _TQUIC_CORE_PATH_H

#include "platform.h"
#include "list.h"
#include "frame.h"
#include "cid.h"

#define TQUIC_ADDR_NONE		0
#define TQUIC_ADDR_V4		4
#define TQUIC_ADDR_V6		6

/* A UDP endpoint: family, address (IPv4 in the first 4 bytes), port (host order). */
struct tquic_addr {
	u8 family;
	u8 reserved;
	u16 port;
	u8 addr[16];
};

/* How a peer address changed (RFC 9000 9.3). */
enum tquic_addr_change {
	TQUIC_ADDR_SAME = 0,
	TQUIC_ADDR_PORT_ONLY,		/* same IP, new port: likely NAT rebinding */
	TQUIC_ADDR_SAME_PREFIX,		/* same /24 (IPv4) or /64 (IPv6): likely NAT */
	TQUIC_ADDR_NEW,			/* another network: a migration */
};

enum tquic_path_state {
	TQUIC_PATH_VALIDATING = 0,	/* probing: PATH_CHALLENGE outstanding */
	TQUIC_PATH_VALIDATED,		/* validated, not carrying data yet */
	TQUIC_PATH_ACTIVE,		/* carrying data */
	TQUIC_PATH_STANDBY,		/* validated backup (PATH_STATUS_BACKUP) */
	TQUIC_PATH_ABANDONED,		/* PATH_ABANDON sent or received */
	TQUIC_PATH_FAILED,		/* validation failed */
};

/* Results of tquic_path_on_response() and tquic_path_on_timer(). */
enum tquic_path_event {
	TQUIC_PATH_EV_NONE = 0,
	TQUIC_PATH_EV_VALIDATED,
	TQUIC_PATH_EV_FAILED,
	TQUIC_PATH_EV_CHALLENGE,	/* a new PATH_CHALLENGE is due */
};

#define TQUIC_PATH_CHALLENGES	4	/* outstanding challenge values kept */
#define TQUIC_PATH_RESPONSES	4	/* PATH_RESPONSEs queued */
#define TQUIC_MIN_UDP_PAYLOAD	1200U
#define TQUIC_MAX_UDP_PAYLOAD	65527U

/*
 * A path's transmission machinery: packet-number spaces, RTT, congestion
 * controller, pacer, loss recovery and ACK state.  The connection defines
 * it (conn_internal.h); path.c never looks inside.
 */
struct tquic_path_xmit;

struct tquic_path {
	struct tquic_list node;		/* the connection's path list */
	u32 id;
	u8 state;			/* enum tquic_path_state */
	bool addr_validated;		/* amplification limit lifted */
	u8 amp_factor;			/* send at most this times what was received */
	bool probing;			/* validation in progress */
	bool challenge_pending;		/* the newest of @outstanding must be sent */
	u8 nchallenges;			/* valid entries in @outstanding */
	u8 nresponses;
	bool has_prev_peer;
	bool has_dcid;
	/* Multipath PATH_STATUS_*: the peer's sequence number, highest seen. */
	bool status_recv_any;
	bool peer_backup;
	u8 outstanding[TQUIC_PATH_CHALLENGES][TQUIC_PATH_CHALLENGE_LEN];
	u8 responses[TQUIC_PATH_RESPONSES][TQUIC_PATH_CHALLENGE_LEN];
	u64 status_seq_recv;
	u64 validation_deadline;	/* fail after this (0: none) */
	u64 next_challenge;		/* re-probe at this time (0: none) */
	u64 pto_us;			/* PTO the timers were armed with */

	struct tquic_addr local;
	struct tquic_addr peer;
	struct tquic_addr prev_peer;	/* last validated peer address */

	u32 mtu;			/* max UDP payload sent now */
	u32 mtu_max;			/* min(our limit, peer's max_udp_payload_size) */
	u32 mtu_probe_size;		/* datagram that carried @mtu_probe (0: none) */
	u32 prev_mtu;			/* @mtu at @prev_peer */
	u8 mtu_probe[TQUIC_PATH_CHALLENGE_LEN];
	u64 bytes_recv;			/* since the address became unvalidated */
	u64 bytes_sent;

	struct tquic_cid dcid;		/* peer CID used on this path */
	u64 dcid_seq;

	/*
	 * The path's own machinery, NULL while it only probes: without
	 * multipath, probes share the active path's packet-number space.
	 */
	struct tquic_path_xmit *x;
};

/* ---- addresses ---- */

/* IPv4-mapped IPv6 addresses compare equal to their IPv4 form. */
bool tquic_addr_eq(const struct tquic_addr *a, const struct tquic_addr *b);
enum tquic_addr_change tquic_addr_classify(const struct tquic_addr *old,
					   const struct tquic_addr *cur);
/*
 * RFC 9000 9.4: congestion control and RTT start over on a new path unless
 * only the peer's port changed.
 */
static inline bool tquic_addr_change_resets_cc(enum tquic_addr_change ch)
{
	return ch != TQUIC_ADDR_SAME && ch != TQUIC_ADDR_PORT_ONLY;
}

/* ---- paths ---- */

/*
 * Sets up @p.  @validated: the peer's address needs no validation (the
 * client's path to the server, an address proven by a token).  The path
 * starts VALIDATED when @validated, else VALIDATING (without a challenge:
 * the handshake validates the first path; call start_validation for new
 * ones).  @max_udp_payload is our own limit.
 */
void tquic_path_init(struct tquic_path *p, u32 id, const struct tquic_addr *local,
		     const struct tquic_addr *peer, bool validated, u32 max_udp_payload);
struct tquic_path *tquic_path_alloc(u32 id, const struct tquic_addr *local,
				    const struct tquic_addr *peer, bool validated,
				    u32 max_udp_payload, unsigned int gfp);
void tquic_path_free(struct tquic_path *p);

/* Starts path validation: fresh challenge data, deadline now + 3 x @pto_us. */
void tquic_path_start_validation(struct tquic_path *p, u64 now_us, u64 pto_us);
/* The peer's address is validated by other means (handshake, token). */
void tquic_path_set_validated(struct tquic_path *p);
/*
 * Ends a validation in progress as if it succeeded, without touching
 * addr_validated: the address was proven on another path object.
 */
void tquic_path_cancel_validation(struct tquic_path *p);
/*
 * A PATH_RESPONSE arrived (on any path).  Returns TQUIC_PATH_EV_VALIDATED
 * when it answers one of @p's challenges, else TQUIC_PATH_EV_NONE.  An
 * answer to the challenge of tquic_path_mtu_probe_sent() also raises the
 * MTU to the size of the datagram that carried it.
 */
enum tquic_path_event tquic_path_on_response(struct tquic_path *p, const u8 *data);
/*
 * While @p validates an address with an MTU below @mtu_max (a peer that
 * moved to a new network starts at 1200 bytes): challenge @data left in a
 * datagram of @size bytes, larger than the MTU (RFC 9000 14.3: the
 * challenge doubles as a PMTU probe).
 */
void tquic_path_mtu_probe_sent(struct tquic_path *p, const u8 *data, u32 size);
/*
 * Whether the next PATH_CHALLENGE of @p should also probe a larger MTU:
 * only the first one of a validation, so that the retries still validate
 * a path whose MTU is smaller.
 */
static inline bool tquic_path_wants_mtu_probe(const struct tquic_path *p)
{
	return p->probing && p->mtu < p->mtu_max && !p->mtu_probe_size;
}
/* A PATH_CHALLENGE arrived on @p: queue the PATH_RESPONSE (on @p). */
void tquic_path_on_challenge(struct tquic_path *p, const u8 *data);
/* A packet carrying a PATH_CHALLENGE was lost: send a new one. */
void tquic_path_challenge_lost(struct tquic_path *p);
/* Earliest timer of @p (0: none). */
u64 tquic_path_deadline(const struct tquic_path *p);
/* Timer expiry: EV_FAILED after 3 PTO, EV_CHALLENGE when re-probing. */
enum tquic_path_event tquic_path_on_timer(struct tquic_path *p, u64 now_us);

/*
 * Frames @p wants to send: PATH_RESPONSE first, then PATH_CHALLENGE.  A
 * datagram carrying a PATH_CHALLENGE is expanded to 1200 bytes (RFC 9000
 * 8.2.1) within the amplification limit.  @f points into @p.
 */
bool tquic_path_next_frame(struct tquic_path *p, struct tquic_frame *f);
void tquic_path_frame_sent(struct tquic_path *p, const struct tquic_frame *f);

/* Anti-amplification (RFC 9000 8.1): @amp_factor (3) times the bytes received. */
void tquic_path_on_datagram_recv(struct tquic_path *p, u64 len);
void tquic_path_on_datagram_sent(struct tquic_path *p, u64 len);
/* Bytes that may still be sent (~0ULL when unlimited). */
u64 tquic_path_send_allowance(const struct tquic_path *p);

/* MTU: peer's max_udp_payload_size; a probed size (clamped). */
void tquic_path_set_peer_max_udp_payload(struct tquic_path *p, u64 size);
void tquic_path_set_mtu(struct tquic_path *p, u32 mtu);

/*
 * A non-probing packet arrived from @peer on @p (RFC 9000 9.3): the peer
 * moved.  The previous address is kept for reverting; the new one is
 * unvalidated (amplification limited) and validation starts.  Returns how
 * the address changed; the caller resets CC/RTT when
 * tquic_addr_change_resets_cc() says so, and may pick a new peer CID.
 */
enum tquic_addr_change tquic_path_peer_moved(struct tquic_path *p,
					     const struct tquic_addr *peer,
					     u64 now_us, u64 pto_us);
/*
 * Validation of a moved peer failed: go back to the last validated address
 * and the MTU it had.
 */
bool tquic_path_revert_peer(struct tquic_path *p);

/* Uses peer CID @r on @p (copied). */
void tquic_path_set_dcid(struct tquic_path *p, const struct tquic_rcid *r);

/* Lifecycle. */
/* Validated paths only: ACTIVE (@backup false) or STANDBY.  -EINVAL otherwise. */
int tquic_path_set_status(struct tquic_path *p, bool backup);
void tquic_path_abandon(struct tquic_path *p);
/* PATH_STATUS_BACKUP/AVAILABLE received: false when stale (older sequence). */
bool tquic_path_on_status(struct tquic_path *p, u64 seq, bool backup);

static inline bool tquic_path_usable(const struct tquic_path *p)
{
	return p->state == TQUIC_PATH_ACTIVE || p->state == TQUIC_PATH_STANDBY ||
	       p->state == TQUIC_PATH_VALIDATED;
}

#endif /* _TQUIC_CORE_PATH_H */
