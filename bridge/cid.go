package bridge

/*
#include <stdlib.h>
#include "cid.h"
#include "frame.h"

#define TQB_CID_REG_MAX 512

// A host demux table and CID generator for the tests.
struct tqb_cid_host {
	u32 nreg;
	struct {
		u32 path;
		u64 seq;
		struct tquic_cid cid;
	} reg[TQB_CID_REG_MAX];
	u32 fail_add;		// refuse the next adds with -EEXIST
	u32 counter;
	u8 gen_len;		// 0: engine default generator
	u8 gen_token;		// the generator writes tokens itself
};

struct tqb_cids {
	struct tquic_cids c;
	struct tqb_cid_host h;
};

static int tqb_cid_generate(void *ctx, u32 path_id, u64 seq, struct tquic_cid *cid, u8 *token)
{
	struct tqb_cid_host *h = ctx;
	u32 i;

	cid->len = h->gen_len;
	h->counter++;
	for (i = 0; i < cid->len; i++)
		cid->id[i] = (u8)((h->counter >> (8 * (i % 4))) ^ (path_id * 7) ^ (u8)seq ^ i);
	if (h->gen_token) {
		for (i = 0; i < TQUIC_RESET_TOKEN_LEN; i++)
			token[i] = (u8)(0xa0 + i + h->counter);
		return 1;
	}
	return 0;
}

static int tqb_cid_add(void *ctx, u32 path_id, u64 seq, const struct tquic_cid *cid)
{
	struct tqb_cid_host *h = ctx;

	if (h->fail_add) {
		h->fail_add--;
		return -EEXIST;
	}
	if (h->nreg == TQB_CID_REG_MAX)
		return -ENOSPC;
	h->reg[h->nreg].path = path_id;
	h->reg[h->nreg].seq = seq;
	h->reg[h->nreg].cid = *cid;
	h->nreg++;
	return 0;
}

static void tqb_cid_remove(void *ctx, u32 path_id, u64 seq, const struct tquic_cid *cid)
{
	struct tqb_cid_host *h = ctx;
	u32 i;

	for (i = 0; i < h->nreg; i++) {
		if (h->reg[i].path == path_id && h->reg[i].seq == seq &&
		    tquic_cid_eq(&h->reg[i].cid, cid)) {
			h->reg[i] = h->reg[--h->nreg];
			return;
		}
	}
}

static const struct tquic_cid_ops tqb_cid_ops_gen = {
	.generate = tqb_cid_generate, .add = tqb_cid_add, .remove = tqb_cid_remove,
};

static const struct tquic_cid_ops tqb_cid_ops_default = {
	.add = tqb_cid_add, .remove = tqb_cid_remove,
};

static inline struct tqb_cids *tqb_cids_new(struct tquic_cids_config *cfg, u8 gen_len,
					    u8 gen_token)
{
	struct tqb_cids *x = tquic_mem_alloc(sizeof(*x), TQUIC_GFP_KERNEL);

	if (!x)
		return NULL;
	x->h.gen_len = gen_len;
	x->h.gen_token = gen_token;
	cfg->ops = gen_len ? &tqb_cid_ops_gen : &tqb_cid_ops_default;
	cfg->ctx = &x->h;
	if (tquic_cids_init(&x->c, cfg)) {
		tquic_mem_free(x);
		return NULL;
	}
	return x;
}

static inline void tqb_cids_free(struct tqb_cids *x)
{
	tquic_cids_destroy(&x->c);
	tquic_mem_free(x);
}

static inline struct tquic_cid tqb_cid(const u8 *p, size_t len)
{
	struct tquic_cid c = { .len = (u8)len };

	if (len)
		memcpy(c.id, p, len > TQUIC_MAX_CID_LEN ? TQUIC_MAX_CID_LEN : len);
	return c;
}

static inline int tqb_cids_new_cid(struct tqb_cids *x, int path_frame, u64 path, u64 seq,
				   u64 rpt, const u8 *cid, size_t len, const u8 *token)
{
	struct tquic_frame_new_cid f = {
		.path_id = path, .seq = seq, .retire_prior_to = rpt, .cid = cid,
		.cid_len = (u8)len, .reset_token = token,
	};

	return tquic_cids_on_new_cid(&x->c, &f, path_frame, TQUIC_GFP_ATOMIC);
}

static inline int tqb_cids_retire(struct tqb_cids *x, int path_frame, u64 path, u64 seq,
				  u32 pkt_path, u64 pkt_seq)
{
	struct tquic_frame_path_seq f = { .path_id = path, .seq = seq };

	return tquic_cids_on_retire(&x->c, &f, path_frame, pkt_path, pkt_seq, TQUIC_GFP_ATOMIC);
}

// Encodes the next frame into @out; returns its length (0: none, <0 error).
static inline int tqb_cids_next(struct tqb_cids *x, u8 *out, size_t cap)
{
	struct tquic_frame f;
	struct tquic_wbuf w;
	int err;

	if (!tquic_cids_next_frame(&x->c, &f))
		return 0;
	tquic_wbuf_init(&w, out, cap);
	err = tquic_frame_encode(&w, &f);
	if (err)
		return err;
	return (int)(cap - w.left);
}

// what: 0 sent, 1 acked, 2 lost.
static inline void tqb_cids_outcome(struct tqb_cids *x, u64 type, u64 path, u64 seq, int what)
{
	struct tquic_frame f;

	memset(&f, 0, sizeof(f));
	f.type = type;
	if (type == TQUIC_FT_NEW_CONNECTION_ID || type == TQUIC_FT_PATH_NEW_CONNECTION_ID) {
		f.u.new_cid.path_id = path;
		f.u.new_cid.seq = seq;
	} else {
		f.u.path_seq.path_id = path;
		f.u.path_seq.seq = seq;
	}
	if (what == 0)
		tquic_cids_frame_sent(&x->c, &f);
	else if (what == 1)
		tquic_cids_frame_acked(&x->c, &f);
	else
		tquic_cids_frame_lost(&x->c, &f);
}

static inline u32 tqb_cids_pool_stat(struct tqb_cids *x, u32 path, int what)
{
	struct tquic_cid_pool *p = tquic_cids_pool(&x->c, path, false, 0);

	if (!p)
		return 0;
	switch (what) {
	case 0: return p->peer_count;
	case 1: return p->retire_inflight;
	case 2: return p->local_active;
	case 3: return (u32)p->local_next_seq;
	default: return (u32)p->peer_rpt;
	}
}

static inline const u8 *tqb_lcid_token(struct tqb_cids *x, const u8 *cid, size_t len, u32 *path,
				       u64 *seq)
{
	struct tquic_lcid *l = tquic_cids_local_lookup(&x->c, cid, len, path);

	if (!l)
		return NULL;
	*seq = l->seq;
	return l->token;
}

static inline u32 tqb_cid_reg_count(struct tqb_cids *x) { return x->h.nreg; }
static inline struct tquic_cid tqb_cid_reg_at(struct tqb_cids *x, u32 i, u32 *path, u64 *seq)
{
	*path = x->h.reg[i].path;
	*seq = x->h.reg[i].seq;
	return x->h.reg[i].cid;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// cidsConfig mirrors struct tquic_cids_config plus the test host's generator.
type cidsConfig struct {
	CIDLen      uint8
	ResetKey    []byte
	ActiveLimit uint32
	IssueCap    uint32
	MaxPathID   uint32
	Multipath   bool
	GenLen      uint8 // host generator CID length (0: engine random CIDs)
	GenToken    bool  // the host generator writes reset tokens
}

// cidTable is an engine CID manager with a test demux table.
type cidTable struct {
	x *C.struct_tqb_cids
}

func newCIDTable(cfg cidsConfig) (*cidTable, error) {
	var key *C.u8
	if len(cfg.ResetKey) > 0 {
		key = (*C.u8)(C.CBytes(cfg.ResetKey))
		defer C.free(unsafe.Pointer(key))
	}
	c := C.struct_tquic_cids_config{
		cid_len:          C.u8(cfg.CIDLen),
		reset_key:        key,
		reset_key_len:    C.size_t(len(cfg.ResetKey)),
		active_cid_limit: C.u32(cfg.ActiveLimit),
		issue_cap:        C.u32(cfg.IssueCap),
		max_path_id:      C.u32(cfg.MaxPathID),
		multipath:        C.bool(cfg.Multipath),
	}
	x := C.tqb_cids_new(&c, C.u8(cfg.GenLen), C.u8(stB2I(cfg.GenToken)))
	if x == nil {
		return nil, errors.New("tquic_cids_init failed")
	}
	return &cidTable{x: x}, nil
}

func (t *cidTable) free() { C.tqb_cids_free(t.x) }

func (t *cidTable) setPeerLimit(n uint64) { C.tquic_cids_set_peer_limit(&t.x.c, C.u64(n)) }

func (t *cidTable) setFailAdds(n uint32) { t.x.h.fail_add = C.u32(n) }

func cidArg(b []byte) (C.struct_tquic_cid, error) {
	if len(b) > 20 {
		return C.struct_tquic_cid{}, errors.New("cid too long")
	}
	var p *C.u8
	if len(b) > 0 {
		p = (*C.u8)(unsafe.Pointer(&b[0]))
	}
	return C.tqb_cid(p, C.size_t(len(b))), nil
}

func (t *cidTable) localAdd(path uint32, seq uint64, cid []byte, token []byte) error {
	c, err := cidArg(cid)
	if err != nil {
		return err
	}
	var tok *C.u8
	if token != nil {
		tok = (*C.u8)(unsafe.Pointer(&token[0]))
	}
	return engineResult(C.tquic_cids_local_add(&t.x.c, C.u32(path), C.u64(seq), &c, tok, C.TQUIC_GFP_KERNEL)).err()
}

func (t *cidTable) localIssue(path uint32) (int, error) {
	r := C.tquic_cids_local_issue(&t.x.c, C.u32(path), C.TQUIC_GFP_KERNEL)
	if r < 0 {
		return 0, engineResult(r)
	}
	return int(r), nil
}

func (t *cidTable) localRotate(path uint32) (int, error) {
	r := C.tquic_cids_local_rotate(&t.x.c, C.u32(path), C.TQUIC_GFP_KERNEL)
	if r < 0 {
		return 0, engineResult(r)
	}
	return int(r), nil
}

// localToken returns the reset token, path and sequence of a local CID.
func (t *cidTable) localToken(cid []byte) ([]byte, uint32, uint64, bool) {
	var path C.u32
	var seq C.u64
	var p *C.u8
	if len(cid) > 0 {
		p = (*C.u8)(unsafe.Pointer(&cid[0]))
	}
	tok := C.tqb_lcid_token(t.x, p, C.size_t(len(cid)), &path, &seq)
	if tok == nil {
		return nil, 0, 0, false
	}
	return C.GoBytes(unsafe.Pointer(tok), 16), uint32(path), uint64(seq), true
}

func (t *cidTable) onRetire(pathFrame bool, path, seq uint64, pktPath uint32, pktSeq uint64) engineResult {
	return engineResult(C.tqb_cids_retire(t.x, C.int(stB2I(pathFrame)), C.u64(path), C.u64(seq), C.u32(pktPath), C.u64(pktSeq)))
}

func (t *cidTable) peerSetInitial(cid []byte) error {
	c, err := cidArg(cid)
	if err != nil {
		return err
	}
	return engineResult(C.tquic_cids_peer_set_initial(&t.x.c, &c, C.TQUIC_GFP_KERNEL)).err()
}

func (t *cidTable) peerSetToken(path uint32, seq uint64, token []byte) error {
	return engineResult(C.tquic_cids_peer_set_token(&t.x.c, C.u32(path), C.u64(seq), (*C.u8)(unsafe.Pointer(&token[0])))).err()
}

func (t *cidTable) onNewCID(pathFrame bool, path, seq, rpt uint64, cid []byte, token [16]byte) engineResult {
	var p *C.u8
	if len(cid) > 0 {
		p = (*C.u8)(unsafe.Pointer(&cid[0]))
	}
	return engineResult(C.tqb_cids_new_cid(t.x, C.int(stB2I(pathFrame)), C.u64(path), C.u64(seq), C.u64(rpt),
		p, C.size_t(len(cid)), (*C.u8)(unsafe.Pointer(&token[0]))))
}

// peerPick hands out an unused peer CID of pool path for path forPath.
func (t *cidTable) peerPick(path, forPath uint32) (uint64, []byte, bool) {
	r := C.tquic_cids_peer_pick(&t.x.c, C.u32(path), C.u32(forPath))
	if r == nil {
		return 0, nil, false
	}
	return uint64(r.seq), C.GoBytes(unsafe.Pointer(&r.cid.id[0]), C.int(r.cid.len)), true
}

func (t *cidTable) peerHas(path uint32, seq uint64) bool {
	return C.tquic_cids_peer_find(&t.x.c, C.u32(path), C.u64(seq)) != nil
}

func (t *cidTable) peerRetire(path uint32, seq uint64) error {
	return engineResult(C.tquic_cids_peer_retire(&t.x.c, C.u32(path), C.u64(seq), C.TQUIC_GFP_KERNEL)).err()
}

func (t *cidTable) peerUnused(path uint32) int {
	return int(C.tquic_cids_peer_unused(&t.x.c, C.u32(path)))
}

func (t *cidTable) isStatelessReset(token [16]byte) bool {
	return bool(C.tquic_cids_is_stateless_reset(&t.x.c, (*C.u8)(unsafe.Pointer(&token[0]))))
}

func (t *cidTable) events() uint32 { return uint32(C.tquic_cids_take_events(&t.x.c)) }

const (
	cidEvDCIDRetired = uint32(C.TQUIC_CID_EV_DCID_RETIRED)
	cidEvNewPeerCID  = uint32(C.TQUIC_CID_EV_NEW_PEER_CID)
)

// nextFrame returns the next CID frame the engine wants to send, decoded
// from its wire encoding.
func (t *cidTable) nextFrame() (*Frame, error) {
	buf := C.malloc(128)
	defer C.free(buf)
	n := C.tqb_cids_next(t.x, (*C.u8)(buf), 128)
	if n < 0 {
		return nil, engineResult(n)
	}
	if n == 0 {
		return nil, nil
	}
	fs, err := DecodeFrames(C.GoBytes(buf, n))
	if err != nil {
		return nil, err
	}
	if len(fs) != 1 {
		return nil, errors.New("more than one frame encoded")
	}
	return &fs[0], nil
}

func (t *cidTable) outcome(f *Frame, what int) {
	path := f.PathID
	C.tqb_cids_outcome(t.x, C.u64(f.Type), C.u64(path), C.u64(f.Sequence), C.int(what))
}

func (t *cidTable) sent(f *Frame)  { t.outcome(f, 0) }
func (t *cidTable) acked(f *Frame) { t.outcome(f, 1) }
func (t *cidTable) lost(f *Frame)  { t.outcome(f, 2) }

// poolStat: 0 peer CIDs, 1 retirements in flight, 2 local active, 3 next local seq, 4 peer rpt.
func (t *cidTable) poolStat(path uint32, what int) uint32 {
	return uint32(C.tqb_cids_pool_stat(t.x, C.u32(path), C.int(what)))
}

type cidReg struct {
	Path uint32
	Seq  uint64
	CID  string
}

// registered lists the test demux table.
func (t *cidTable) registered() []cidReg {
	var out []cidReg
	n := uint32(C.tqb_cid_reg_count(t.x))
	for i := uint32(0); i < n; i++ {
		var path C.u32
		var seq C.u64
		c := C.tqb_cid_reg_at(t.x, C.u32(i), &path, &seq)
		out = append(out, cidReg{uint32(path), uint64(seq), string(C.GoBytes(unsafe.Pointer(&c.id[0]), C.int(c.len)))})
	}
	return out
}

// releasePool forgets an abandoned path's CIDs.
func (t *cidTable) releasePool(path uint32) { C.tquic_cids_pool_release(&t.x.c, C.u32(path)) }
