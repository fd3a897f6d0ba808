// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Connection ID management.  See cid.h.
 */
#include "cid.h"

#define PV	TQUIC_ERR_PROTOCOL_VIOLATION
/* Hard caps whatever the configuration says. */
#define TQUIC_CID_LIMIT_MAX	64U
#define TQUIC_CID_POOLS_MAX	1024U
/* Acknowledged retirements remembered to ignore replayed NEW_CONNECTION_IDs. */
#define TQUIC_RETIRE_DONE_MAX	16U
#define TQUIC_CID_GEN_TRIES	4

int tquic_cids_init(struct tquic_cids *c, const struct tquic_cids_config *cfg)
{
	memset(c, 0, sizeof(*c));
	tquic_list_init(&c->pools);
	if (cfg->cid_len > TQUIC_MAX_CID_LEN || cfg->reset_key_len > sizeof(c->reset_key))
		return -EINVAL;
	c->ops = cfg->ops;
	c->ctx = cfg->ctx;
	c->cid_len = cfg->cid_len;
	if (cfg->reset_key && cfg->reset_key_len) {
		memcpy(c->reset_key, cfg->reset_key, cfg->reset_key_len);
		c->reset_key_len = (u8)cfg->reset_key_len;
	}
	c->local_limit = cfg->active_cid_limit < 2 ? 2 : cfg->active_cid_limit;
	if (c->local_limit > TQUIC_CID_LIMIT_MAX)
		c->local_limit = TQUIC_CID_LIMIT_MAX;
	c->issue_cap = cfg->issue_cap ? cfg->issue_cap : 2;
	if (c->issue_cap > TQUIC_CID_LIMIT_MAX)
		c->issue_cap = TQUIC_CID_LIMIT_MAX;
	c->peer_limit = 2;	/* the default of active_connection_id_limit */
	c->multipath = cfg->multipath;
	c->max_path_id = cfg->multipath ? cfg->max_path_id : 0;
	return 0;
}

static void lcid_unregister(struct tquic_cids *c, u32 path_id, struct tquic_lcid *l)
{
	if (l->registered && c->ops && c->ops->remove)
		c->ops->remove(c->ctx, path_id, l->seq, &l->cid);
	l->registered = false;
}

static void pool_free(struct tquic_cids *c, struct tquic_cid_pool *p)
{
	struct tquic_lcid *l, *ln;
	struct tquic_rcid *r, *rn;
	struct tquic_retire *t, *tn;

	tquic_list_for_each_entry_safe(l, ln, &p->local, node) {
		lcid_unregister(c, p->path_id, l);
		tquic_list_del(&l->node);
		tquic_mem_free(l);
	}
	tquic_list_for_each_entry_safe(r, rn, &p->peer, node) {
		tquic_list_del(&r->node);
		tquic_memzero_explicit(r->token, sizeof(r->token));
		tquic_obj_free(TQUIC_OBJ_PEER_CID, r);
	}
	tquic_list_for_each_entry_safe(t, tn, &p->retire, node) {
		tquic_list_del(&t->node);
		tquic_mem_free(t);
	}
	tquic_list_del(&p->node);
	c->npools--;
	tquic_mem_free(p);
}

void tquic_cids_destroy(struct tquic_cids *c)
{
	struct tquic_cid_pool *p, *pn;

	tquic_list_for_each_entry_safe(p, pn, &c->pools, node)
		pool_free(c, p);
	tquic_memzero_explicit(c->reset_key, sizeof(c->reset_key));
}

size_t tquic_cids_mem(const struct tquic_cids *c)
{
	const struct tquic_cid_pool *p;
	const struct tquic_lcid *l;
	const struct tquic_retire *t;
	size_t m = 0;

	tquic_list_for_each_entry(p, &c->pools, node) {
		m += sizeof(*p) + p->peer_count * sizeof(struct tquic_rcid);
		tquic_list_for_each_entry(l, &p->local, node)
			m += sizeof(*l);
		tquic_list_for_each_entry(t, &p->retire, node)
			m += sizeof(*t);
	}
	return m;
}

void tquic_cids_set_peer_limit(struct tquic_cids *c, u64 limit)
{
	if (limit < 2)
		limit = 2;
	c->peer_limit = limit > TQUIC_CID_LIMIT_MAX ? TQUIC_CID_LIMIT_MAX : (u32)limit;
}

void tquic_cids_set_multipath(struct tquic_cids *c, bool on, u32 max_path_id)
{
	c->multipath = on;
	c->max_path_id = on ? max_path_id : 0;
}

struct tquic_cid_pool *tquic_cids_pool(struct tquic_cids *c, u32 path_id, bool create,
				       unsigned int gfp)
{
	struct tquic_cid_pool *p;

	tquic_list_for_each_entry(p, &c->pools, node)
		if (p->path_id == path_id)
			return p;
	if (!create || path_id > c->max_path_id || c->npools >= TQUIC_CID_POOLS_MAX)
		return NULL;
	p = tquic_mem_alloc(sizeof(*p), gfp);
	if (!p)
		return NULL;
	p->path_id = path_id;
	tquic_list_init(&p->local);
	tquic_list_init(&p->peer);
	tquic_list_init(&p->retire);
	tquic_list_add_tail(&p->node, &c->pools);
	c->npools++;
	return p;
}

void tquic_cids_pool_release(struct tquic_cids *c, u32 path_id)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, false, 0);

	if (p)
		pool_free(c, p);
}

/* ---- local CIDs ---- */

static struct tquic_lcid *local_find_cid(struct tquic_cids *c, const u8 *id, size_t len,
					 u32 *path_id)
{
	struct tquic_cid_pool *p;
	struct tquic_lcid *l;

	tquic_list_for_each_entry(p, &c->pools, node) {
		tquic_list_for_each_entry(l, &p->local, node) {
			if (l->cid.len == len && !memcmp(l->cid.id, id, len)) {
				if (path_id)
					*path_id = p->path_id;
				return l;
			}
		}
	}
	return NULL;
}

struct tquic_lcid *tquic_cids_local_lookup(struct tquic_cids *c, const u8 *cid, size_t len,
					   u32 *path_id)
{
	if (len > TQUIC_MAX_CID_LEN)
		return NULL;
	return local_find_cid(c, cid, len, path_id);
}

int tquic_cid_reset_token(const u8 *key, size_t key_len, const u8 *cid, size_t cid_len,
			  u8 *token)
{
	static const u8 label[] = "tquic reset";
	struct tquic_iov iov[2];
	u8 mac[TQUIC_HASH_MAX_LEN];
	int err;

	iov[0].base = label;
	iov[0].len = sizeof(label) - 1;
	iov[1].base = cid;
	iov[1].len = cid_len;
	err = tquic_hmac(TQUIC_HASH_SHA256, key, key_len, iov, 2, mac);
	if (!err)
		memcpy(token, mac, TQUIC_RESET_TOKEN_LEN);
	tquic_memzero_explicit(mac, sizeof(mac));
	return err;
}

/* Stateless reset token under the key (what a stateless server derives too), else random. */
static int derive_token(struct tquic_cids *c, const struct tquic_cid *cid, u8 *token)
{
	if (!c->reset_key_len) {
		tquic_random_bytes(token, TQUIC_RESET_TOKEN_LEN);
		return 0;
	}
	return tquic_cid_reset_token(c->reset_key, c->reset_key_len, cid->id, cid->len, token);
}

static void local_insert(struct tquic_cid_pool *p, struct tquic_lcid *l)
{
	struct tquic_lcid *pos;

	tquic_list_for_each_entry(pos, &p->local, node) {
		if (pos->seq > l->seq) {
			tquic_list_add_tail(&l->node, &pos->node);
			return;
		}
	}
	tquic_list_add_tail(&l->node, &p->local);
}

static int local_register(struct tquic_cids *c, struct tquic_cid_pool *p,
			  struct tquic_lcid *l)
{
	int err = 0;

	if (c->ops && c->ops->add)
		err = c->ops->add(c->ctx, p->path_id, l->seq, &l->cid);
	l->registered = !err;
	return err;
}

int tquic_cids_local_add(struct tquic_cids *c, u32 path_id, u64 seq,
			 const struct tquic_cid *cid, const u8 *token, unsigned int gfp)
{
	struct tquic_cid_pool *p;
	struct tquic_lcid *l;
	int err;

	if (cid->len > TQUIC_MAX_CID_LEN || seq > TQUIC_VARINT_MAX)
		return -EINVAL;
	p = tquic_cids_pool(c, path_id, true, gfp);
	if (!p)
		return -ENOMEM;
	if (local_find_cid(c, cid->id, cid->len, NULL))
		return -EEXIST;
	l = tquic_mem_alloc(sizeof(*l), gfp);
	if (!l)
		return -ENOMEM;
	l->seq = seq;
	l->cid = *cid;
	if (token)
		memcpy(l->token, token, TQUIC_RESET_TOKEN_LEN);
	else if (cid->len && derive_token(c, cid, l->token))
		goto fail;
	err = local_register(c, p, l);
	if (err) {
		tquic_mem_free(l);
		return err;
	}
	local_insert(p, l);
	if (seq >= p->local_next_seq)
		p->local_next_seq = seq + 1;
	if (seq >= p->local_rpt)
		p->local_active++;
	return 0;
fail:
	tquic_mem_free(l);
	return -EIO;
}

/* Creates one new local CID on @p, registered and, when @advertise, queued for NEW_CONNECTION_ID. */
static struct tquic_lcid *local_new(struct tquic_cids *c, struct tquic_cid_pool *p,
				    bool advertise, unsigned int gfp, int *err)
{
	struct tquic_lcid *l;
	int tries, r = -EIO;

	l = tquic_mem_alloc(sizeof(*l), gfp);
	if (!l) {
		*err = -ENOMEM;
		return NULL;
	}
	l->seq = p->local_next_seq;
	for (tries = 0; tries < TQUIC_CID_GEN_TRIES; tries++) {
		if (c->ops && c->ops->generate) {
			r = c->ops->generate(c->ctx, p->path_id, l->seq, &l->cid, l->token);
			if (r < 0)
				break;
			if (!l->cid.len || l->cid.len > TQUIC_MAX_CID_LEN) {
				r = -EINVAL;
				break;
			}
		} else {
			if (!c->cid_len) {
				r = -EINVAL;
				break;
			}
			l->cid.len = c->cid_len;
			tquic_random_bytes(l->cid.id, c->cid_len);
			r = 0;
		}
		if (local_find_cid(c, l->cid.id, l->cid.len, NULL)) {
			r = -EEXIST;
			continue;
		}
		if (r == 0 && derive_token(c, &l->cid, l->token)) {
			r = -EIO;
			break;
		}
		/* The host refuses CIDs that collide in its table: try another. */
		r = local_register(c, p, l);
		if (r != -EEXIST)
			break;
	}
	if (r < 0) {
		tquic_mem_free(l);
		*err = r;
		return NULL;
	}
	l->pending = advertise;
	c->frames_due |= advertise;
	local_insert(p, l);
	p->local_next_seq++;
	p->local_active++;
	*err = 0;
	return l;
}

int tquic_cids_local_issue(struct tquic_cids *c, u32 path_id, unsigned int gfp)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, true, gfp);
	u32 target = c->peer_limit < c->issue_cap ? c->peer_limit : c->issue_cap;
	int n = 0, err;

	if (!p)
		return -ENOMEM;
	while (p->local_active < target) {
		if (!local_new(c, p, true, gfp, &err))
			return n ? n : err;
		n++;
	}
	return n;
}

struct tquic_lcid *tquic_cids_local_reserve(struct tquic_cids *c, u32 path_id, unsigned int gfp)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, true, gfp);
	int err;

	if (!p)
		return NULL;
	return local_new(c, p, false, gfp, &err);
}

struct tquic_lcid *tquic_cids_local_find(struct tquic_cids *c, u32 path_id, u64 seq)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, false, 0);
	struct tquic_lcid *l;

	if (!p)
		return NULL;
	tquic_list_for_each_entry(l, &p->local, node)
		if (l->seq == seq)
			return l;
	return NULL;
}

int tquic_cids_local_rotate(struct tquic_cids *c, u32 path_id, unsigned int gfp)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, false, gfp);
	struct tquic_lcid *l;

	if (!p)
		return -ENOENT;
	p->local_rpt = p->local_next_seq;
	p->local_active = 0;
	/* Old CIDs stay registered until the peer retires them. */
	tquic_list_for_each_entry(l, &p->local, node)
		l->pending = false;
	return tquic_cids_local_issue(c, path_id, gfp);
}

int tquic_cids_on_retire(struct tquic_cids *c, const struct tquic_frame_path_seq *f,
			 bool path_frame, u32 pkt_path, u64 pkt_dcid_seq, unsigned int gfp)
{
	u32 path_id = path_frame ? (u32)f->path_id : 0;
	struct tquic_cid_pool *p;
	struct tquic_lcid *l;

	if (path_frame && (!c->multipath || f->path_id > c->max_path_id))
		return PV;
	p = tquic_cids_pool(c, path_id, false, gfp);
	if (!p || f->seq >= p->local_next_seq)
		return PV;	/* never issued */
	if (pkt_path == path_id && pkt_dcid_seq == f->seq)
		return PV;	/* the CID this very packet was sent to */
	tquic_list_for_each_entry(l, &p->local, node) {
		if (l->seq != f->seq)
			continue;
		lcid_unregister(c, path_id, l);
		if (l->seq >= p->local_rpt)
			p->local_active--;
		tquic_list_del(&l->node);
		tquic_mem_free(l);
		/* A replacement failing now is retried on the next issue call. */
		tquic_cids_local_issue(c, path_id, gfp);
		return 0;
	}
	return 0;	/* already retired */
}

/* ---- peer CIDs ---- */

struct tquic_rcid *tquic_cids_peer_find(struct tquic_cids *c, u32 path_id, u64 seq)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, false, 0);
	struct tquic_rcid *r;

	if (!p)
		return NULL;
	tquic_list_for_each_entry(r, &p->peer, node)
		if (r->seq == seq)
			return r;
	return NULL;
}

static struct tquic_rcid *peer_find_cid(struct tquic_cids *c, const struct tquic_cid *cid)
{
	struct tquic_cid_pool *p;
	struct tquic_rcid *r;

	tquic_list_for_each_entry(p, &c->pools, node)
		tquic_list_for_each_entry(r, &p->peer, node)
			if (tquic_cid_eq(&r->cid, cid))
				return r;
	return NULL;
}

static void peer_insert(struct tquic_cid_pool *p, struct tquic_rcid *r)
{
	struct tquic_rcid *pos;

	tquic_list_for_each_entry(pos, &p->peer, node) {
		if (pos->seq > r->seq) {
			tquic_list_add_tail(&r->node, &pos->node);
			p->peer_count++;
			return;
		}
	}
	tquic_list_add_tail(&r->node, &p->peer);
	p->peer_count++;
}

static struct tquic_retire *retire_find(struct tquic_cid_pool *p, u64 seq)
{
	struct tquic_retire *t;

	tquic_list_for_each_entry(t, &p->retire, node)
		if (t->seq == seq)
			return t;
	return NULL;
}

/* Drops the oldest acknowledged retirement records beyond the cap. */
static void retire_prune(struct tquic_cid_pool *p)
{
	struct tquic_retire *t, *tn;

	tquic_list_for_each_entry_safe(t, tn, &p->retire, node) {
		if (p->retire_done <= TQUIC_RETIRE_DONE_MAX && t->seq >= p->peer_rpt)
			break;
		if (t->state == TQUIC_RETIRE_DONE) {
			tquic_list_del(&t->node);
			tquic_mem_free(t);
			p->retire_done--;
		}
	}
}

/* Queues RETIRE_CONNECTION_ID for @seq (once).  0 or -ENOMEM. */
static int retire_queue(struct tquic_cids *c, struct tquic_cid_pool *p, u64 seq, unsigned int gfp)
{
	struct tquic_retire *t, *pos;

	if (retire_find(p, seq))
		return 0;
	t = tquic_mem_alloc(sizeof(*t), gfp);
	if (!t)
		return -ENOMEM;
	t->seq = seq;
	t->state = TQUIC_RETIRE_PENDING;
	c->frames_due = true;
	tquic_list_for_each_entry(pos, &p->retire, node) {
		if (pos->seq > seq) {
			tquic_list_add_tail(&t->node, &pos->node);
			goto out;
		}
	}
	tquic_list_add_tail(&t->node, &p->retire);
out:
	p->retire_inflight++;
	return 0;
}

static void rcid_free(struct tquic_cids *c, struct tquic_cid_pool *p, struct tquic_rcid *r)
{
	if (r->in_use)
		c->events |= TQUIC_CID_EV_DCID_RETIRED;
	tquic_list_del(&r->node);
	p->peer_count--;
	tquic_memzero_explicit(r->token, sizeof(r->token));
	tquic_obj_free(TQUIC_OBJ_PEER_CID, r);
}

int tquic_cids_peer_set_initial(struct tquic_cids *c, const struct tquic_cid *cid,
				unsigned int gfp)
{
	struct tquic_cid_pool *p;
	struct tquic_rcid *r;

	if (cid->len > TQUIC_MAX_CID_LEN)
		return -EINVAL;
	p = tquic_cids_pool(c, 0, true, gfp);
	if (!p)
		return -ENOMEM;
	c->peer_zero_len = !cid->len;
	r = tquic_cids_peer_find(c, 0, 0);
	if (r) {
		r->cid = *cid;
		return 0;
	}
	r = tquic_obj_alloc(TQUIC_OBJ_PEER_CID, gfp);
	if (!r)
		return -ENOMEM;
	r->seq = 0;
	r->cid = *cid;
	r->in_use = true;
	r->used_by = 0;
	peer_insert(p, r);
	return 0;
}

int tquic_cids_peer_set_token(struct tquic_cids *c, u32 path_id, u64 seq, const u8 *token)
{
	struct tquic_rcid *r = tquic_cids_peer_find(c, path_id, seq);

	if (!r)
		return -ENOENT;
	memcpy(r->token, token, TQUIC_RESET_TOKEN_LEN);
	r->has_token = true;
	return 0;
}

/*
 * Validates and stores one peer CID.  @from_frame: NEW_CONNECTION_ID rules
 * apply (limits, retire_prior_to); otherwise a transport parameter.
 */
static int peer_add(struct tquic_cids *c, struct tquic_cid_pool *p, u64 seq, u64 rpt,
		    const struct tquic_cid *cid, const u8 *token, unsigned int gfp)
{
	struct tquic_rcid *r, *rn, *same;
	int err;

	same = peer_find_cid(c, cid);
	tquic_list_for_each_entry(r, &p->peer, node) {
		if (r->seq != seq)
			continue;
		/* A repeat must be identical. */
		if (!tquic_cid_eq(&r->cid, cid) ||
		    (token && r->has_token && memcmp(r->token, token, TQUIC_RESET_TOKEN_LEN)))
			return PV;
		goto retire;
	}
	if (same)
		return PV;	/* one CID, two sequence numbers */
	if (seq < p->peer_rpt || retire_find(p, seq)) {
		/* Already retired: retire this copy too (unless done before). */
		err = retire_queue(c, p, seq, gfp);
		if (err)
			return err;
		goto retire;
	}
	r = tquic_obj_alloc(TQUIC_OBJ_PEER_CID, gfp);
	if (!r)
		return -ENOMEM;
	r->seq = seq;
	r->cid = *cid;
	if (token) {
		memcpy(r->token, token, TQUIC_RESET_TOKEN_LEN);
		r->has_token = true;
	}
	peer_insert(p, r);
	c->events |= TQUIC_CID_EV_NEW_PEER_CID;
retire:
	if (rpt > p->peer_rpt) {
		p->peer_rpt = rpt;
		tquic_list_for_each_entry_safe(r, rn, &p->peer, node) {
			if (r->seq >= rpt)
				break;
			/* Retire first so that a failing allocation loses nothing. */
			err = retire_queue(c, p, r->seq, gfp);
			if (err)
				return err;
			rcid_free(c, p, r);
		}
		retire_prune(p);
	}
	if (p->peer_count > c->local_limit)
		return TQUIC_ERR_CONNECTION_ID_LIMIT_ERROR;
	/* RFC 9000 5.1.2: bound the retirements in flight (2x our limit). */
	if (p->retire_inflight > 2 * c->local_limit)
		return TQUIC_ERR_CONNECTION_ID_LIMIT_ERROR;
	return 0;
}

int tquic_cids_peer_add(struct tquic_cids *c, u32 path_id, u64 seq,
			const struct tquic_cid *cid, const u8 *token, unsigned int gfp)
{
	struct tquic_cid_pool *p;

	if (!cid->len || cid->len > TQUIC_MAX_CID_LEN || seq > TQUIC_VARINT_MAX)
		return -EINVAL;
	p = tquic_cids_pool(c, path_id, true, gfp);
	if (!p)
		return -ENOMEM;
	return peer_add(c, p, seq, 0, cid, token, gfp);
}

int tquic_cids_on_new_cid(struct tquic_cids *c, const struct tquic_frame_new_cid *f,
			  bool path_frame, unsigned int gfp)
{
	struct tquic_cid_pool *p;
	struct tquic_cid cid;

	if (path_frame && (!c->multipath || f->path_id > c->max_path_id))
		return PV;
	if (c->peer_zero_len)
		return PV;	/* a peer using zero-length CIDs cannot issue more */
	if (!f->cid_len || f->cid_len > TQUIC_MAX_CID_LEN || f->retire_prior_to > f->seq ||
	    f->seq > TQUIC_VARINT_MAX)
		return TQUIC_ERR_FRAME_ENCODING_ERROR;
	p = tquic_cids_pool(c, path_frame ? (u32)f->path_id : 0, true, gfp);
	if (!p)
		return c->npools >= TQUIC_CID_POOLS_MAX ? TQUIC_ERR_CONNECTION_ID_LIMIT_ERROR :
		       -ENOMEM;
	cid.len = f->cid_len;
	memcpy(cid.id, f->cid, f->cid_len);
	return peer_add(c, p, f->seq, f->retire_prior_to, &cid, f->reset_token, gfp);
}

struct tquic_rcid *tquic_cids_peer_pick(struct tquic_cids *c, u32 path_id, u32 for_path)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, false, 0);
	struct tquic_rcid *r;

	if (!p)
		return NULL;
	tquic_list_for_each_entry(r, &p->peer, node) {
		if (!r->in_use) {
			r->in_use = true;
			r->used_by = for_path;
			return r;
		}
	}
	return NULL;
}

u32 tquic_cids_peer_unused(struct tquic_cids *c, u32 path_id)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, false, 0);
	struct tquic_rcid *r;
	u32 n = 0;

	if (!p)
		return 0;
	tquic_list_for_each_entry(r, &p->peer, node)
		n += !r->in_use;
	return n;
}

int tquic_cids_peer_retire(struct tquic_cids *c, u32 path_id, u64 seq, unsigned int gfp)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, path_id, false, 0);
	struct tquic_rcid *r = tquic_cids_peer_find(c, path_id, seq);
	int err;

	if (!p || !r)
		return -ENOENT;
	err = retire_queue(c, p, seq, gfp);
	if (err)
		return err;
	r->in_use = false;	/* our own choice: no event */
	rcid_free(c, p, r);
	return 0;
}

bool tquic_cids_is_stateless_reset(const struct tquic_cids *c, const u8 *token)
{
	const struct tquic_cid_pool *p;
	const struct tquic_rcid *r;
	bool hit = false;
	u8 diff;
	int i;

	tquic_list_for_each_entry(p, &c->pools, node) {
		tquic_list_for_each_entry(r, &p->peer, node) {
			if (!r->has_token || !r->in_use)
				continue;
			diff = 0;
			for (i = 0; i < TQUIC_RESET_TOKEN_LEN; i++)
				diff |= r->token[i] ^ token[i];
			hit |= !diff;
		}
	}
	return hit;
}

/* ---- frames ---- */

static bool use_path_frame(const struct tquic_cids *c, u32 path_id)
{
	return c->multipath && path_id != 0;
}

bool tquic_cids_next_frame(struct tquic_cids *c, struct tquic_frame *f)
{
	struct tquic_cid_pool *p;
	struct tquic_retire *t;
	struct tquic_lcid *l;

	if (!c->frames_due)
		return false;
	tquic_list_for_each_entry(p, &c->pools, node) {
		tquic_list_for_each_entry(t, &p->retire, node) {
			if (t->state != TQUIC_RETIRE_PENDING)
				continue;
			memset(f, 0, sizeof(*f));
			f->type = use_path_frame(c, p->path_id) ?
				  TQUIC_FT_PATH_RETIRE_CONNECTION_ID :
				  TQUIC_FT_RETIRE_CONNECTION_ID;
			f->u.path_seq.path_id = p->path_id;
			f->u.path_seq.seq = t->seq;
			return true;
		}
		tquic_list_for_each_entry(l, &p->local, node) {
			if (!l->pending)
				continue;
			memset(f, 0, sizeof(*f));
			f->type = use_path_frame(c, p->path_id) ?
				  TQUIC_FT_PATH_NEW_CONNECTION_ID :
				  TQUIC_FT_NEW_CONNECTION_ID;
			f->u.new_cid.path_id = p->path_id;
			f->u.new_cid.seq = l->seq;
			f->u.new_cid.retire_prior_to = p->local_rpt;
			f->u.new_cid.cid = l->cid.id;
			f->u.new_cid.cid_len = l->cid.len;
			f->u.new_cid.reset_token = l->token;
			return true;
		}
	}
	c->frames_due = false;
	return false;
}

static struct tquic_lcid *frame_lcid(struct tquic_cids *c, const struct tquic_frame *f)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, (u32)f->u.new_cid.path_id, false, 0);
	struct tquic_lcid *l;

	if (!p)
		return NULL;
	tquic_list_for_each_entry(l, &p->local, node)
		if (l->seq == f->u.new_cid.seq)
			return l;
	return NULL;
}

static struct tquic_retire *frame_retire(struct tquic_cids *c, const struct tquic_frame *f,
					 struct tquic_cid_pool **pp)
{
	struct tquic_cid_pool *p = tquic_cids_pool(c, (u32)f->u.path_seq.path_id, false, 0);

	*pp = p;
	return p ? retire_find(p, f->u.path_seq.seq) : NULL;
}

void tquic_cids_frame_sent(struct tquic_cids *c, const struct tquic_frame *f)
{
	struct tquic_cid_pool *p;
	struct tquic_retire *t;
	struct tquic_lcid *l;

	switch (f->type) {
	case TQUIC_FT_NEW_CONNECTION_ID:
	case TQUIC_FT_PATH_NEW_CONNECTION_ID:
		l = frame_lcid(c, f);
		if (l)
			l->pending = false;
		return;
	case TQUIC_FT_RETIRE_CONNECTION_ID:
	case TQUIC_FT_PATH_RETIRE_CONNECTION_ID:
		t = frame_retire(c, f, &p);
		if (t && t->state == TQUIC_RETIRE_PENDING)
			t->state = TQUIC_RETIRE_SENT;
		return;
	}
}

void tquic_cids_frame_acked(struct tquic_cids *c, const struct tquic_frame *f)
{
	struct tquic_cid_pool *p;
	struct tquic_retire *t;

	if (f->type != TQUIC_FT_RETIRE_CONNECTION_ID &&
	    f->type != TQUIC_FT_PATH_RETIRE_CONNECTION_ID)
		return;
	t = frame_retire(c, f, &p);
	if (!t || t->state == TQUIC_RETIRE_DONE)
		return;
	t->state = TQUIC_RETIRE_DONE;
	p->retire_inflight--;
	p->retire_done++;
	retire_prune(p);
}

void tquic_cids_frame_lost(struct tquic_cids *c, const struct tquic_frame *f)
{
	struct tquic_cid_pool *p;
	struct tquic_retire *t;
	struct tquic_lcid *l;

	switch (f->type) {
	case TQUIC_FT_NEW_CONNECTION_ID:
	case TQUIC_FT_PATH_NEW_CONNECTION_ID:
		l = frame_lcid(c, f);
		/* Still outstanding (not retired by the peer, not rotated out). */
		p = tquic_cids_pool(c, (u32)f->u.new_cid.path_id, false, 0);
		if (l && p && l->seq >= p->local_rpt) {
			l->pending = true;
			c->frames_due = true;
		}
		return;
	case TQUIC_FT_RETIRE_CONNECTION_ID:
	case TQUIC_FT_PATH_RETIRE_CONNECTION_ID:
		t = frame_retire(c, f, &p);
		if (t && t->state == TQUIC_RETIRE_SENT) {
			t->state = TQUIC_RETIRE_PENDING;
			c->frames_due = true;
		}
		return;
	}
}
