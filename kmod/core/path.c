// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Network paths.  See path.h.
 */
#include "path.h"

static const u8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* The IPv4 address bytes of @a (plain or IPv4-mapped), or NULL. */
static const u8 *addr_v4(const struct tquic_addr *a)
{
	if (a->family == TQUIC_ADDR_V4)
		return a->addr;
	if (a->family == TQUIC_ADDR_V6 && !memcmp(a->addr, v4mapped, sizeof(v4mapped)))
		return a->addr + 12;
	return NULL;
}

/* Compares the first @bits bits of the IP addresses; false across families. */
static bool addr_prefix_eq(const struct tquic_addr *a, const struct tquic_addr *b,
			   unsigned int bits4, unsigned int bits6)
{
	const u8 *x = addr_v4(a), *y = addr_v4(b);
	unsigned int bytes;

	if (x || y) {
		if (!x || !y)
			return false;
		bytes = bits4 / 8;
		return !memcmp(x, y, bytes);
	}
	if (a->family != TQUIC_ADDR_V6 || b->family != TQUIC_ADDR_V6)
		return a->family == b->family && a->family == TQUIC_ADDR_NONE;
	bytes = bits6 / 8;
	return !memcmp(a->addr, b->addr, bytes);
}

bool tquic_addr_eq(const struct tquic_addr *a, const struct tquic_addr *b)
{
	return a->port == b->port && addr_prefix_eq(a, b, 32, 128);
}

enum tquic_addr_change tquic_addr_classify(const struct tquic_addr *old,
					   const struct tquic_addr *cur)
{
	if (addr_prefix_eq(old, cur, 32, 128))
		return old->port == cur->port ? TQUIC_ADDR_SAME : TQUIC_ADDR_PORT_ONLY;
	if (addr_prefix_eq(old, cur, 24, 64))
		return TQUIC_ADDR_SAME_PREFIX;
	return TQUIC_ADDR_NEW;
}

void tquic_path_init(struct tquic_path *p, u32 id, const struct tquic_addr *local,
		     const struct tquic_addr *peer, bool validated, u32 max_udp_payload)
{
	memset(p, 0, sizeof(*p));
	tquic_list_init(&p->node);
	p->id = id;
	p->local = *local;
	p->peer = *peer;
	p->addr_validated = validated;
	p->amp_factor = 3;
	p->state = validated ? TQUIC_PATH_VALIDATED : TQUIC_PATH_VALIDATING;
	if (max_udp_payload < TQUIC_MIN_UDP_PAYLOAD)
		max_udp_payload = TQUIC_MIN_UDP_PAYLOAD;
	if (max_udp_payload > TQUIC_MAX_UDP_PAYLOAD)
		max_udp_payload = TQUIC_MAX_UDP_PAYLOAD;
	p->mtu_max = max_udp_payload;
	p->mtu = TQUIC_MIN_UDP_PAYLOAD;
}

struct tquic_path *tquic_path_alloc(u32 id, const struct tquic_addr *local,
				    const struct tquic_addr *peer, bool validated,
				    u32 max_udp_payload, unsigned int gfp)
{
	struct tquic_path *p = tquic_obj_alloc(TQUIC_OBJ_PATH, gfp);

	if (p)
		tquic_path_init(p, id, local, peer, validated, max_udp_payload);
	return p;
}

void tquic_path_free(struct tquic_path *p)
{
	if (!p)
		return;
	tquic_list_del(&p->node);
	tquic_obj_free(TQUIC_OBJ_PATH, p);
}

/*
 * Fresh challenge data, outstanding at once (no response can match it
 * before it is sent): the newest entry is the one to send.
 */
static void new_challenge(struct tquic_path *p)
{
	if (p->nchallenges == TQUIC_PATH_CHALLENGES) {
		memmove(p->outstanding[0], p->outstanding[1],
			sizeof(p->outstanding[0]) * (TQUIC_PATH_CHALLENGES - 1));
		p->nchallenges--;
	}
	tquic_random_bytes(p->outstanding[p->nchallenges++], TQUIC_PATH_CHALLENGE_LEN);
	p->challenge_pending = true;
}

void tquic_path_start_validation(struct tquic_path *p, u64 now_us, u64 pto_us)
{
	p->probing = true;
	p->nchallenges = 0;
	p->mtu_probe_size = 0;
	p->pto_us = pto_us ? pto_us : 1;
	p->validation_deadline = now_us + 3 * p->pto_us;
	p->next_challenge = now_us + p->pto_us;
	if (p->state != TQUIC_PATH_ACTIVE && p->state != TQUIC_PATH_STANDBY)
		p->state = TQUIC_PATH_VALIDATING;
	new_challenge(p);
}

static void validation_done(struct tquic_path *p)
{
	p->probing = false;
	p->challenge_pending = false;
	p->nchallenges = 0;
	p->mtu_probe_size = 0;
	p->validation_deadline = 0;
	p->next_challenge = 0;
	p->has_prev_peer = false;
	if (p->state == TQUIC_PATH_VALIDATING)
		p->state = TQUIC_PATH_VALIDATED;
}

void tquic_path_cancel_validation(struct tquic_path *p)
{
	validation_done(p);
}

void tquic_path_set_validated(struct tquic_path *p)
{
	p->addr_validated = true;
	if (p->state == TQUIC_PATH_VALIDATING && !p->probing)
		p->state = TQUIC_PATH_VALIDATED;
}

enum tquic_path_event tquic_path_on_response(struct tquic_path *p, const u8 *data)
{
	unsigned int i;

	if (!p->probing)
		return TQUIC_PATH_EV_NONE;
	for (i = 0; i < p->nchallenges; i++) {
		if (!memcmp(p->outstanding[i], data, TQUIC_PATH_CHALLENGE_LEN)) {
			/* The probe's datagram reached the peer whole. */
			if (p->mtu_probe_size > p->mtu &&
			    !memcmp(p->mtu_probe, data, TQUIC_PATH_CHALLENGE_LEN))
				tquic_path_set_mtu(p, p->mtu_probe_size);
			p->addr_validated = true;
			validation_done(p);
			return TQUIC_PATH_EV_VALIDATED;
		}
	}
	return TQUIC_PATH_EV_NONE;
}

void tquic_path_mtu_probe_sent(struct tquic_path *p, const u8 *data, u32 size)
{
	if (!tquic_path_wants_mtu_probe(p) || size <= p->mtu)
		return;
	memcpy(p->mtu_probe, data, TQUIC_PATH_CHALLENGE_LEN);
	p->mtu_probe_size = size;
}

void tquic_path_on_challenge(struct tquic_path *p, const u8 *data)
{
	if (p->nresponses == TQUIC_PATH_RESPONSES) {
		/* Keep the newest: drop the oldest queued response. */
		memmove(p->responses[0], p->responses[1],
			sizeof(p->responses[0]) * (TQUIC_PATH_RESPONSES - 1));
		p->nresponses--;
	}
	memcpy(p->responses[p->nresponses++], data, TQUIC_PATH_CHALLENGE_LEN);
}

void tquic_path_challenge_lost(struct tquic_path *p)
{
	if (p->probing && !p->challenge_pending)
		new_challenge(p);
}

u64 tquic_path_deadline(const struct tquic_path *p)
{
	if (!p->probing)
		return 0;
	if (p->next_challenge && p->next_challenge < p->validation_deadline)
		return p->next_challenge;
	return p->validation_deadline;
}

enum tquic_path_event tquic_path_on_timer(struct tquic_path *p, u64 now_us)
{
	if (!p->probing)
		return TQUIC_PATH_EV_NONE;
	if (now_us >= p->validation_deadline) {
		p->probing = false;
		p->challenge_pending = false;
		p->nchallenges = 0;
		p->validation_deadline = 0;
		p->next_challenge = 0;
		if (p->state == TQUIC_PATH_VALIDATING)
			p->state = TQUIC_PATH_FAILED;
		return TQUIC_PATH_EV_FAILED;
	}
	if (p->next_challenge && now_us >= p->next_challenge) {
		p->next_challenge = now_us + p->pto_us;
		if (!p->challenge_pending)
			new_challenge(p);
		return TQUIC_PATH_EV_CHALLENGE;
	}
	return TQUIC_PATH_EV_NONE;
}

bool tquic_path_next_frame(struct tquic_path *p, struct tquic_frame *f)
{
	memset(f, 0, sizeof(*f));
	if (p->nresponses) {
		f->type = TQUIC_FT_PATH_RESPONSE;
		f->u.probe.data = p->responses[0];
		return true;
	}
	if (p->challenge_pending) {
		f->type = TQUIC_FT_PATH_CHALLENGE;
		f->u.probe.data = p->outstanding[p->nchallenges - 1];
		return true;
	}
	return false;
}

void tquic_path_frame_sent(struct tquic_path *p, const struct tquic_frame *f)
{
	if (f->type == TQUIC_FT_PATH_RESPONSE && p->nresponses) {
		memmove(p->responses[0], p->responses[1],
			sizeof(p->responses[0]) * (TQUIC_PATH_RESPONSES - 1));
		p->nresponses--;
		return;
	}
	if (f->type == TQUIC_FT_PATH_CHALLENGE)
		p->challenge_pending = false;
}

void tquic_path_on_datagram_recv(struct tquic_path *p, u64 len)
{
	if (p->bytes_recv + len >= p->bytes_recv)
		p->bytes_recv += len;
}

void tquic_path_on_datagram_sent(struct tquic_path *p, u64 len)
{
	if (p->bytes_sent + len >= p->bytes_sent)
		p->bytes_sent += len;
}

u64 tquic_path_send_allowance(const struct tquic_path *p)
{
	u64 budget;

	if (p->addr_validated)
		return ~0ULL;
	budget = p->bytes_recv > ~0ULL / p->amp_factor ? ~0ULL : p->amp_factor * p->bytes_recv;
	return budget > p->bytes_sent ? budget - p->bytes_sent : 0;
}

void tquic_path_set_peer_max_udp_payload(struct tquic_path *p, u64 size)
{
	if (size < TQUIC_MIN_UDP_PAYLOAD)
		size = TQUIC_MIN_UDP_PAYLOAD;
	if (size < p->mtu_max)
		p->mtu_max = (u32)size;
	if (p->mtu > p->mtu_max)
		p->mtu = p->mtu_max;
}

void tquic_path_set_mtu(struct tquic_path *p, u32 mtu)
{
	if (mtu < TQUIC_MIN_UDP_PAYLOAD)
		mtu = TQUIC_MIN_UDP_PAYLOAD;
	if (mtu > p->mtu_max)
		mtu = p->mtu_max;
	p->mtu = mtu;
}

enum tquic_addr_change tquic_path_peer_moved(struct tquic_path *p,
					     const struct tquic_addr *peer,
					     u64 now_us, u64 pto_us)
{
	enum tquic_addr_change ch = tquic_addr_classify(&p->peer, peer);

	if (ch == TQUIC_ADDR_SAME)
		return ch;
	if (p->addr_validated && !p->has_prev_peer) {
		p->prev_peer = p->peer;
		p->prev_mtu = p->mtu;
		p->has_prev_peer = true;
	}
	p->peer = *peer;
	/* The new address is unproven: amplification limits start over. */
	p->addr_validated = false;
	p->bytes_recv = 0;
	p->bytes_sent = 0;
	/* Datagrams on a new network may not fit the old MTU. */
	if (tquic_addr_change_resets_cc(ch))
		p->mtu = TQUIC_MIN_UDP_PAYLOAD;
	tquic_path_start_validation(p, now_us, pto_us);
	return ch;
}

bool tquic_path_revert_peer(struct tquic_path *p)
{
	if (!p->has_prev_peer)
		return false;
	p->peer = p->prev_peer;
	tquic_path_set_mtu(p, p->prev_mtu);
	p->has_prev_peer = false;
	p->addr_validated = true;
	p->probing = false;
	p->challenge_pending = false;
	p->nchallenges = 0;
	p->validation_deadline = 0;
	p->next_challenge = 0;
	if (p->state == TQUIC_PATH_FAILED || p->state == TQUIC_PATH_VALIDATING)
		p->state = TQUIC_PATH_ACTIVE;
	return true;
}

void tquic_path_set_dcid(struct tquic_path *p, const struct tquic_rcid *r)
{
	p->dcid = r->cid;
	p->dcid_seq = r->seq;
	p->has_dcid = true;
}

int tquic_path_set_status(struct tquic_path *p, bool backup)
{
	switch (p->state) {
	case TQUIC_PATH_VALIDATED:
	case TQUIC_PATH_ACTIVE:
	case TQUIC_PATH_STANDBY:
		break;
	case TQUIC_PATH_VALIDATING:
		/* A migrated path carries data while it is being validated. */
		if (p->probing && p->has_prev_peer)
			break;
		return -EINVAL;
	default:
		return -EINVAL;
	}
	p->state = backup ? TQUIC_PATH_STANDBY : TQUIC_PATH_ACTIVE;
	return 0;
}

void tquic_path_abandon(struct tquic_path *p)
{
	p->state = TQUIC_PATH_ABANDONED;
	p->probing = false;
	p->challenge_pending = false;
	p->nchallenges = 0;
	p->validation_deadline = 0;
	p->next_challenge = 0;
}

bool tquic_path_on_status(struct tquic_path *p, u64 seq, bool backup)
{
	if (p->status_recv_any && seq <= p->status_seq_recv)
		return false;
	p->status_recv_any = true;
	p->status_seq_recv = seq;
	p->peer_backup = backup;
	return true;
}
