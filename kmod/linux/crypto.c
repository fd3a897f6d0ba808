// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel implementation of the engine's crypto hooks (kmod/core/platform.h)
 * over the crypto API: gcm(aes), rfc7539(chacha20,poly1305), ecb(aes),
 * chacha20, hmac(sha256) and hmac(sha384).
 *
 * The kernel host calls the engine in process context only (the socket's
 * work item or a system call, socket owned), so the AEADs may be the
 * architecture's SIMD drivers behind their async wrappers (AES-NI GCM with
 * PCLMUL GHASH): a request that the wrapper defers to cryptd is waited for
 * (crypto_wait_req), one that runs at once costs nothing more.  Header
 * protection and HMAC stay synchronous.  Requests are preallocated with
 * their key object: seal, open and mask never allocate.  Key objects are
 * allocated with TQUIC_GFP_KERNEL because transform allocation and GCM
 * setkey may sleep; one context uses a key object at a time (the
 * connection lock serialises them); transforms of freed keys are pooled
 * for the next ones.  The two HMAC transforms are shared, keyed under a
 * BH-safe spinlock per call.
 * Scatterlists are built over the linear heap buffers the engine passes.
 */
#define pr_fmt(fmt) "tquic: " fmt

#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <crypto/aead.h>
#include <crypto/hash.h>
#include <crypto/skcipher.h>

#include "platform.h"
#include "selftest.h"
#include "tquic_crypto.h"

/*
 * Transforms of freed keys wait here for the next key of their algorithm:
 * allocating one (gcm(aes) is a SIMD wrapper over cryptd over the AES-NI
 * driver) costs far more than setting a key, and a handshake needs about a
 * dozen per end.  Pooled transforms hold a zero key.  The pool only smooths
 * bursts (handshakes, idle connections parking and waking): a transform
 * unused for TQUIC_TFM_POOL_AGE is freed by a delayed work.  Bounded, given
 * back under memory pressure (a shrinker, which drop_caches runs too) and
 * at module exit.
 */
#define TQUIC_TFM_POOL_MAX	256
#define TQUIC_TFM_POOL_AGE	HZ

struct tquic_tfm_pool {
	const char *name;
	spinlock_t lock;
	struct list_head free;		/* most recently pooled first */
	unsigned int n;
};

/* A pool entry: the list node and when it was pooled. */
struct tquic_pooled {
	struct list_head node;
	unsigned long since;		/* jiffies */
};

enum {
	TQUIC_POOL_GCM,
	TQUIC_POOL_CHACHAPOLY,
	TQUIC_POOL_ECB_AES,
	TQUIC_POOL_CHACHA20,
	TQUIC_POOL_COUNT,
};

static struct tquic_tfm_pool tquic_pools[TQUIC_POOL_COUNT] = {
	[TQUIC_POOL_GCM] = { .name = "gcm(aes)" },
	[TQUIC_POOL_CHACHAPOLY] = { .name = "rfc7539(chacha20,poly1305)" },
	[TQUIC_POOL_ECB_AES] = { .name = "ecb(aes)" },
	[TQUIC_POOL_CHACHA20] = { .name = "chacha20" },
};

static const u8 tquic_zero_key[32];

struct tquic_aead {
	struct crypto_aead *tfm;
	struct aead_request *req;
	struct tquic_pooled pooled;
	u8 pool;			/* TQUIC_POOL_* */
	u8 key_len;
	u8 iv[TQUIC_AEAD_NONCE_LEN];
};

struct tquic_hp {
	enum tquic_hp_alg alg;
	struct crypto_skcipher *tfm;
	struct skcipher_request *req;
	struct tquic_pooled pooled;
	u8 pool;			/* TQUIC_POOL_* */
	u8 key_len;
	u8 iv[TQUIC_HP_SAMPLE_LEN];
	u8 block[TQUIC_HP_SAMPLE_LEN];	/* heap buffer for the scatterlist */
};

static void tquic_aead_destroy(struct tquic_aead *aead)
{
	aead_request_free(aead->req);
	crypto_free_aead(aead->tfm);
	kfree_sensitive(aead);
}

static void tquic_hp_destroy(struct tquic_hp *hp)
{
	skcipher_request_free(hp->req);
	crypto_free_skcipher(hp->tfm);
	kfree_sensitive(hp);
}

static void tquic_pool_age_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(tquic_pool_age_work, tquic_pool_age_fn);
static bool tquic_pool_closed;	/* module exit: no more aging work */

/*
 * The most recently pooled object of @pool, or with @oldest the least
 * recently pooled one when it is older than TQUIC_TFM_POOL_AGE; NULL if none.
 */
static struct tquic_pooled *tquic_pool_take(unsigned int pool, bool oldest)
{
	struct tquic_tfm_pool *p = &tquic_pools[pool];
	struct tquic_pooled *e = NULL;

	spin_lock_bh(&p->lock);
	if (!list_empty(&p->free)) {
		e = oldest ? list_last_entry(&p->free, struct tquic_pooled, node) :
			     list_first_entry(&p->free, struct tquic_pooled, node);
		if (oldest && time_before(jiffies, e->since + TQUIC_TFM_POOL_AGE)) {
			e = NULL;
		} else {
			list_del(&e->node);
			p->n--;
		}
	}
	spin_unlock_bh(&p->lock);
	return e;
}

static struct tquic_pooled *tquic_pool_get(unsigned int pool)
{
	return tquic_pool_take(pool, false);
}

/* Keeps @e for reuse; false when the pool is full. */
static bool tquic_pool_put(unsigned int pool, struct tquic_pooled *e)
{
	struct tquic_tfm_pool *p = &tquic_pools[pool];
	bool kept = false;

	spin_lock_bh(&p->lock);
	if (p->n < TQUIC_TFM_POOL_MAX) {
		e->since = jiffies;
		list_add(&e->node, &p->free);
		p->n++;
		kept = true;
	}
	spin_unlock_bh(&p->lock);
	if (kept && !READ_ONCE(tquic_pool_closed))
		schedule_delayed_work(&tquic_pool_age_work, TQUIC_TFM_POOL_AGE);
	return kept;
}

struct tquic_hmac_tfm {
	const char *name;
	struct crypto_shash *tfm;
	spinlock_t lock;	/* serialises setkey + digest */
};

static struct tquic_hmac_tfm tquic_hmacs[] = {
	{ .name = "hmac(sha256)" },
	{ .name = "hmac(sha384)" },
};

/* The pool of @alg with a @key_len key, or -1 for a mismatch. */
static int tquic_aead_pool(enum tquic_aead_alg alg, size_t key_len)
{
	switch (alg) {
	case TQUIC_AEAD_AES_128_GCM:
		return key_len == 16 ? TQUIC_POOL_GCM : -1;
	case TQUIC_AEAD_AES_256_GCM:
		return key_len == 32 ? TQUIC_POOL_GCM : -1;
	case TQUIC_AEAD_CHACHA20_POLY1305:
		return key_len == 32 ? TQUIC_POOL_CHACHAPOLY : -1;
	}
	return -1;
}

struct tquic_aead *tquic_aead_alloc(enum tquic_aead_alg alg, const u8 *key,
				    size_t key_len, unsigned int gfp)
{
	int pool = tquic_aead_pool(alg, key_len);
	struct tquic_pooled *e;
	struct tquic_aead *a;

	/* Transform allocation and setkey may sleep. */
	if (pool < 0 || !(gfp & TQUIC_GFP_KERNEL))
		return NULL;
	might_sleep();
	e = tquic_pool_get(pool);
	if (e) {
		a = container_of(e, struct tquic_aead, pooled);
		a->key_len = key_len;
		if (!crypto_aead_setkey(a->tfm, key, key_len))
			return a;
		tquic_aead_destroy(a);
		return NULL;
	}
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return NULL;
	a->pool = pool;
	a->key_len = key_len;
	a->tfm = crypto_alloc_aead(tquic_pools[pool].name, 0, 0);
	if (IS_ERR(a->tfm)) {
		a->tfm = NULL;
		goto err;
	}
	if (crypto_aead_setkey(a->tfm, key, key_len) ||
	    crypto_aead_setauthsize(a->tfm, TQUIC_AEAD_TAG_LEN) ||
	    crypto_aead_ivsize(a->tfm) != TQUIC_AEAD_NONCE_LEN)
		goto err;
	a->req = aead_request_alloc(a->tfm, GFP_KERNEL);
	if (!a->req)
		goto err;
	return a;
err:
	tquic_aead_free(a);
	return NULL;
}

void tquic_aead_free(struct tquic_aead *aead)
{
	if (!aead)
		return;
	/* A complete object whose key can be wiped goes back to the pool. */
	if (aead->req && !crypto_aead_setkey(aead->tfm, tquic_zero_key, aead->key_len)) {
		memzero_explicit(aead->iv, sizeof(aead->iv));
		if (tquic_pool_put(aead->pool, &aead->pooled))
			return;
	}
	tquic_aead_destroy(aead);
}

/* AAD || data scatterlist over linear buffers; @sg has two entries. */
static struct scatterlist *tquic_sg_ad(struct scatterlist *sg, const u8 *aad,
				       size_t aad_len, const u8 *data,
				       size_t len)
{
	if (!aad_len) {
		sg_init_one(sg, data, len);
		return sg;
	}
	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], aad, aad_len);
	sg_set_buf(&sg[1], data, len);
	return sg;
}

/* Runs @req, waiting when an async driver deferred it (process context). */
static int tquic_aead_run(struct aead_request *req, bool enc)
{
	DECLARE_CRYPTO_WAIT(wait);

	might_sleep();
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_SLEEP | CRYPTO_TFM_REQ_MAY_BACKLOG,
				  crypto_req_done, &wait);
	return crypto_wait_req(enc ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req), &wait);
}

/* Runs @aead over the lists @s into @d, both starting with @aad_len bytes of AAD. */
static int tquic_aead_req(struct tquic_aead *aead, bool enc, const u8 *nonce,
			  struct scatterlist *s, struct scatterlist *d, size_t aad_len,
			  size_t cryptlen)
{
	struct aead_request *req = aead->req;

	memcpy(aead->iv, nonce, TQUIC_AEAD_NONCE_LEN);
	/* cryptlen: plaintext for encryption, ciphertext + tag for decryption */
	aead_request_set_crypt(req, s, d, cryptlen, aead->iv);
	aead_request_set_ad(req, aad_len);
	return tquic_aead_run(req, enc);
}

static bool tquic_aead_lens_ok(size_t aad_len, size_t len)
{
	return aad_len <= UINT_MAX && len <= UINT_MAX - TQUIC_AEAD_TAG_LEN;
}

/*
 * Seals with part of the plaintext elsewhere (@g): the source list is the
 * AAD, @src up to @g, @g's bytes and the rest of @src; the destination is
 * the AAD and @dst with room for the tag.
 */
static int tquic_aead_seal_gather(struct tquic_aead *aead, const u8 *nonce,
				  const u8 *aad, size_t aad_len, const u8 *src, u8 *dst,
				  size_t len, const struct tquic_aead_gather *g)
{
	struct scatterlist sgs[4], sgd[2];
	size_t tail = len - g->off - g->len;
	unsigned int n = 0;

	sg_init_table(sgs, !!aad_len + !!g->off + 1 + !!tail);
	if (aad_len)
		sg_set_buf(&sgs[n++], aad, aad_len);
	if (g->off)
		sg_set_buf(&sgs[n++], src, g->off);
	sg_set_buf(&sgs[n++], g->src, g->len);
	if (tail)
		sg_set_buf(&sgs[n++], src + g->off + g->len, tail);
	return tquic_aead_req(aead, true, nonce, sgs,
			      tquic_sg_ad(sgd, aad, aad_len, dst, len + TQUIC_AEAD_TAG_LEN),
			      aad_len, len);
}

int tquic_aead_seal(struct tquic_aead *aead, const u8 *nonce,
		    const u8 *aad, size_t aad_len,
		    const u8 *src, u8 *dst, size_t len,
		    const struct tquic_aead_gather *g)
{
	struct scatterlist sgs[2], sgd[2];

	if (!tquic_aead_lens_ok(aad_len, len) || (g && (g->off > len || g->len > len - g->off)))
		return -EINVAL;
	if (g && g->len)
		return tquic_aead_seal_gather(aead, nonce, aad, aad_len, src, dst, len, g);
	/* In place, the source entry must cover the room for the tag too. */
	if (src == dst) {
		tquic_sg_ad(sgs, aad, aad_len, dst, len + TQUIC_AEAD_TAG_LEN);
		return tquic_aead_req(aead, true, nonce, sgs, sgs, aad_len, len);
	}
	return tquic_aead_req(aead, true, nonce, tquic_sg_ad(sgs, aad, aad_len, src, len),
			      tquic_sg_ad(sgd, aad, aad_len, dst, len + TQUIC_AEAD_TAG_LEN),
			      aad_len, len);
}

int tquic_aead_open(struct tquic_aead *aead, const u8 *nonce,
		    const u8 *aad, size_t aad_len,
		    const u8 *src, u8 *dst, size_t len)
{
	struct scatterlist sgs[2], sgd[2], *s;

	if (len < TQUIC_AEAD_TAG_LEN)
		return -EBADMSG;
	if (!tquic_aead_lens_ok(aad_len, len))
		return -EINVAL;
	s = tquic_sg_ad(sgs, aad, aad_len, src, len);
	return tquic_aead_req(aead, false, nonce, s,
			      src == dst ? s : tquic_sg_ad(sgd, aad, aad_len, dst,
							   len - TQUIC_AEAD_TAG_LEN),
			      aad_len, len);
}

struct tquic_hp *tquic_hp_alloc(enum tquic_hp_alg alg, const u8 *key,
				size_t key_len, unsigned int gfp)
{
	struct tquic_pooled *e;
	struct tquic_hp *hp;
	int pool;

	switch (alg) {
	case TQUIC_HP_AES_128:
		pool = key_len == 16 ? TQUIC_POOL_ECB_AES : -1;
		break;
	case TQUIC_HP_AES_256:
		pool = key_len == 32 ? TQUIC_POOL_ECB_AES : -1;
		break;
	case TQUIC_HP_CHACHA20:
		pool = key_len == 32 ? TQUIC_POOL_CHACHA20 : -1;
		break;
	default:
		pool = -1;
	}
	if (pool < 0 || !(gfp & TQUIC_GFP_KERNEL))
		return NULL;
	might_sleep();
	e = tquic_pool_get(pool);
	if (e) {
		hp = container_of(e, struct tquic_hp, pooled);
		hp->alg = alg;
		hp->key_len = key_len;
		if (!crypto_skcipher_setkey(hp->tfm, key, key_len))
			return hp;
		tquic_hp_destroy(hp);
		return NULL;
	}
	hp = kzalloc(sizeof(*hp), GFP_KERNEL);
	if (!hp)
		return NULL;
	hp->alg = alg;
	hp->pool = pool;
	hp->key_len = key_len;
	hp->tfm = crypto_alloc_skcipher(tquic_pools[pool].name, 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(hp->tfm)) {
		hp->tfm = NULL;
		goto err;
	}
	if (crypto_skcipher_setkey(hp->tfm, key, key_len))
		goto err;
	hp->req = skcipher_request_alloc(hp->tfm, GFP_KERNEL);
	if (!hp->req)
		goto err;
	skcipher_request_set_callback(hp->req, 0, NULL, NULL);
	return hp;
err:
	tquic_hp_free(hp);
	return NULL;
}

void tquic_hp_free(struct tquic_hp *hp)
{
	if (!hp)
		return;
	/* A complete object whose key can be wiped goes back to the pool. */
	if (hp->req && !crypto_skcipher_setkey(hp->tfm, tquic_zero_key, hp->key_len)) {
		memzero_explicit(hp->iv, sizeof(hp->iv));
		memzero_explicit(hp->block, sizeof(hp->block));
		if (tquic_pool_put(hp->pool, &hp->pooled))
			return;
	}
	tquic_hp_destroy(hp);
}

int tquic_hp_mask(struct tquic_hp *hp, const u8 *sample, u8 *mask)
{
	struct scatterlist sg;
	int err;

	if (hp->alg == TQUIC_HP_CHACHA20) {
		/* IV = 32-bit LE block counter || 96-bit nonce = the sample. */
		memcpy(hp->iv, sample, TQUIC_HP_SAMPLE_LEN);
		memset(hp->block, 0, TQUIC_HP_MASK_LEN);
		sg_init_one(&sg, hp->block, TQUIC_HP_MASK_LEN);
		skcipher_request_set_crypt(hp->req, &sg, &sg, TQUIC_HP_MASK_LEN,
					   hp->iv);
	} else {
		memcpy(hp->block, sample, TQUIC_HP_SAMPLE_LEN);
		sg_init_one(&sg, hp->block, TQUIC_HP_SAMPLE_LEN);
		skcipher_request_set_crypt(hp->req, &sg, &sg,
					   TQUIC_HP_SAMPLE_LEN, NULL);
	}
	err = crypto_skcipher_encrypt(hp->req);
	if (!err)
		memcpy(mask, hp->block, TQUIC_HP_MASK_LEN);
	return err;
}

int tquic_hmac(enum tquic_hash_alg alg, const u8 *key, size_t key_len,
	       const struct tquic_iov *iov, unsigned int n, u8 *out)
{
	struct tquic_hmac_tfm *h;
	unsigned int i;
	int err;

	switch (alg) {
	case TQUIC_HASH_SHA256:
		h = &tquic_hmacs[0];
		break;
	case TQUIC_HASH_SHA384:
		h = &tquic_hmacs[1];
		break;
	default:
		return -EINVAL;
	}
	if (!h->tfm)
		return -ENOENT;
	spin_lock_bh(&h->lock);
	{
		SHASH_DESC_ON_STACK(desc, h->tfm);

		desc->tfm = h->tfm;
		err = crypto_shash_setkey(h->tfm, key, key_len);
		if (!err)
			err = crypto_shash_init(desc);
		for (i = 0; !err && i < n; i++)
			if (iov[i].len)
				err = crypto_shash_update(desc, iov[i].base,
							  iov[i].len);
		if (!err)
			err = crypto_shash_final(desc, out);
		shash_desc_zero(desc);
	}
	spin_unlock_bh(&h->lock);
	return err;
}

/*
 * Frees one pooled object of @pool (with @aged only one unused for
 * TQUIC_TFM_POOL_AGE); false when there is none.
 */
static bool tquic_pool_release_one(unsigned int pool, bool aged)
{
	struct tquic_pooled *e = tquic_pool_take(pool, aged);

	if (!e)
		return false;
	if (pool == TQUIC_POOL_GCM || pool == TQUIC_POOL_CHACHAPOLY)
		tquic_aead_destroy(container_of(e, struct tquic_aead, pooled));
	else
		tquic_hp_destroy(container_of(e, struct tquic_hp, pooled));
	return true;
}

static void tquic_pool_age_fn(struct work_struct *work)
{
	bool left = false;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tquic_pools); i++) {
		while (tquic_pool_release_one(i, true))
			cond_resched();
		left |= READ_ONCE(tquic_pools[i].n) != 0;
	}
	/* Younger entries: look again when they may have aged. */
	if (left && !READ_ONCE(tquic_pool_closed))
		schedule_delayed_work(&tquic_pool_age_work, TQUIC_TFM_POOL_AGE);
}

static unsigned long tquic_pool_count(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tquic_pools); i++)
		n += READ_ONCE(tquic_pools[i].n);
	return n ?: SHRINK_EMPTY;
}

static unsigned long tquic_pool_scan(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long freed = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tquic_pools) && freed < sc->nr_to_scan; i++)
		while (freed < sc->nr_to_scan && tquic_pool_release_one(i, false))
			freed++;
	return freed ?: SHRINK_STOP;
}

static struct shrinker tquic_pool_shrinker = {
	.count_objects = tquic_pool_count,
	.scan_objects = tquic_pool_scan,
	.seeks = DEFAULT_SEEKS,
};
static bool tquic_pool_shrinker_on;

int tquic_crypto_init(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tquic_pools); i++) {
		spin_lock_init(&tquic_pools[i].lock);
		INIT_LIST_HEAD(&tquic_pools[i].free);
		tquic_pools[i].n = 0;
	}
	WRITE_ONCE(tquic_pool_closed, false);
	if (register_shrinker(&tquic_pool_shrinker, "tquic-tfm-pool"))
		return -ENOMEM;
	tquic_pool_shrinker_on = true;
	for (i = 0; i < ARRAY_SIZE(tquic_hmacs); i++) {
		struct crypto_shash *tfm;

		spin_lock_init(&tquic_hmacs[i].lock);
		tfm = crypto_alloc_shash(tquic_hmacs[i].name, 0, CRYPTO_ALG_ASYNC);
		if (IS_ERR(tfm)) {
			pr_err("cannot allocate %s: %ld\n", tquic_hmacs[i].name,
			       PTR_ERR(tfm));
			tquic_crypto_exit();
			return PTR_ERR(tfm);
		}
		tquic_hmacs[i].tfm = tfm;
	}
	return 0;
}

void tquic_crypto_exit(void)
{
	size_t i;

	if (tquic_pool_shrinker_on)
		unregister_shrinker(&tquic_pool_shrinker);
	tquic_pool_shrinker_on = false;
	WRITE_ONCE(tquic_pool_closed, true);
	cancel_delayed_work_sync(&tquic_pool_age_work);
	for (i = 0; i < ARRAY_SIZE(tquic_pools); i++)
		while (tquic_pool_release_one(i, false))
			;
	for (i = 0; i < ARRAY_SIZE(tquic_hmacs); i++) {
		crypto_free_shash(tquic_hmacs[i].tfm);
		tquic_hmacs[i].tfm = NULL;
	}
}

int tquic_crypto_selftest(u32 *passed, u32 *failed)
{
	unsigned int checks = 0;
	int failures;

	might_sleep();
	failures = tquic_selftest(&checks);
	if (failures < 0 || (unsigned int)failures > checks)
		failures = checks;
	*failed = failures;
	*passed = checks - failures;
	if (failures)
		pr_warn("selftest: %u of %u checks failed\n", failures, checks);
	else
		pr_info("selftest: %u checks passed\n", checks);
	return failures ? -EBADMSG : 0;
}

int tquic_crypto_driver_name(const char *alg, char *buf, size_t len)
{
	const char *driver;
	int err = 0;

	if (!strcmp(alg, "gcm(aes)") || !strcmp(alg, "rfc7539(chacha20,poly1305)")) {
		struct crypto_aead *tfm = crypto_alloc_aead(alg, 0, 0);

		if (IS_ERR(tfm))
			return PTR_ERR(tfm);
		driver = crypto_tfm_alg_driver_name(crypto_aead_tfm(tfm));
		if (strscpy(buf, driver, len) < 0)
			err = -E2BIG;
		crypto_free_aead(tfm);
	} else if (!strcmp(alg, "ecb(aes)") || !strcmp(alg, "chacha20")) {
		struct crypto_skcipher *tfm;

		tfm = crypto_alloc_skcipher(alg, 0, CRYPTO_ALG_ASYNC);
		if (IS_ERR(tfm))
			return PTR_ERR(tfm);
		driver = crypto_tfm_alg_driver_name(crypto_skcipher_tfm(tfm));
		if (strscpy(buf, driver, len) < 0)
			err = -E2BIG;
		crypto_free_skcipher(tfm);
	} else if (!strcmp(alg, "hmac(sha256)") || !strcmp(alg, "hmac(sha384)")) {
		struct crypto_shash *tfm = crypto_alloc_shash(alg, 0, CRYPTO_ALG_ASYNC);

		if (IS_ERR(tfm))
			return PTR_ERR(tfm);
		driver = crypto_tfm_alg_driver_name(crypto_shash_tfm(tfm));
		if (strscpy(buf, driver, len) < 0)
			err = -E2BIG;
		crypto_free_shash(tfm);
	} else {
		err = -ENOENT;
	}
	return err;
}
