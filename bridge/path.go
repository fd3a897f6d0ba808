package bridge

/*
#include <stdlib.h>
#include "path.h"

static inline struct tquic_addr tqb_addr(u8 family, const u8 *a, u16 port)
{
	struct tquic_addr x;

	memset(&x, 0, sizeof(x));
	x.family = family;
	x.port = port;
	if (family == TQUIC_ADDR_V4)
		memcpy(x.addr, a, 4);
	else if (family == TQUIC_ADDR_V6)
		memcpy(x.addr, a, 16);
	return x;
}

static inline int tqb_path_frame(struct tquic_path *p, u8 *data, u64 *type)
{
	struct tquic_frame f;

	if (!tquic_path_next_frame(p, &f))
		return 0;
	*type = f.type;
	memcpy(data, f.u.probe.data, TQUIC_PATH_CHALLENGE_LEN);
	tquic_path_frame_sent(p, &f);
	return 1;
}
*/
import "C"

import (
	"net/netip"
	"unsafe"
)

// Path states and events.
const (
	pathValidating = C.TQUIC_PATH_VALIDATING
	pathValidated  = C.TQUIC_PATH_VALIDATED
	pathActive     = C.TQUIC_PATH_ACTIVE
	pathStandby    = C.TQUIC_PATH_STANDBY
	pathAbandoned  = C.TQUIC_PATH_ABANDONED
	pathFailed     = C.TQUIC_PATH_FAILED

	pathEvNone      = C.TQUIC_PATH_EV_NONE
	pathEvValidated = C.TQUIC_PATH_EV_VALIDATED
	pathEvFailed    = C.TQUIC_PATH_EV_FAILED
	pathEvChallenge = C.TQUIC_PATH_EV_CHALLENGE

	addrSame       = C.TQUIC_ADDR_SAME
	addrPortOnly   = C.TQUIC_ADDR_PORT_ONLY
	addrSamePrefix = C.TQUIC_ADDR_SAME_PREFIX
	addrNew        = C.TQUIC_ADDR_NEW

	ftPathChallenge = uint64(C.TQUIC_FT_PATH_CHALLENGE)
	ftPathResponse  = uint64(C.TQUIC_FT_PATH_RESPONSE)
)

func cAddr(ap netip.AddrPort) C.struct_tquic_addr {
	a := ap.Addr()
	if a.Is4() {
		b := a.As4()
		return C.tqb_addr(C.TQUIC_ADDR_V4, (*C.u8)(unsafe.Pointer(&b[0])), C.u16(ap.Port()))
	}
	b := a.As16()
	return C.tqb_addr(C.TQUIC_ADDR_V6, (*C.u8)(unsafe.Pointer(&b[0])), C.u16(ap.Port()))
}

func goAddr(a *C.struct_tquic_addr) netip.AddrPort {
	switch a.family {
	case C.TQUIC_ADDR_V4:
		var b [4]byte
		copy(b[:], C.GoBytes(unsafe.Pointer(&a.addr[0]), 4))
		return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(a.port))
	case C.TQUIC_ADDR_V6:
		var b [16]byte
		copy(b[:], C.GoBytes(unsafe.Pointer(&a.addr[0]), 16))
		return netip.AddrPortFrom(netip.AddrFrom16(b), uint16(a.port))
	}
	return netip.AddrPort{}
}

// addrClassify exposes tquic_addr_classify.
func addrClassify(old, cur netip.AddrPort) int {
	a, b := cAddr(old), cAddr(cur)
	return int(C.tquic_addr_classify(&a, &b))
}

func addrEqual(x, y netip.AddrPort) bool {
	a, b := cAddr(x), cAddr(y)
	return bool(C.tquic_addr_eq(&a, &b))
}

// enginePath is a struct tquic_path in C memory.
type enginePath struct {
	p *C.struct_tquic_path
}

func newEnginePath(id uint32, local, peer netip.AddrPort, validated bool, maxUDP uint32) *enginePath {
	l, r := cAddr(local), cAddr(peer)
	p := C.tquic_path_alloc(C.u32(id), &l, &r, C.bool(validated), C.u32(maxUDP), C.TQUIC_GFP_KERNEL)
	if p == nil {
		panic("tquic_path_alloc failed")
	}
	return &enginePath{p: p}
}

func (p *enginePath) free()                  { C.tquic_path_free(p.p) }
func (p *enginePath) state() int             { return int(p.p.state) }
func (p *enginePath) validated() bool        { return bool(p.p.addr_validated) }
func (p *enginePath) probing() bool          { return bool(p.p.probing) }
func (p *enginePath) peer() netip.AddrPort   { return goAddr(&p.p.peer) }
func (p *enginePath) mtu() uint32            { return uint32(p.p.mtu) }
func (p *enginePath) deadline() uint64       { return uint64(C.tquic_path_deadline(p.p)) }
func (p *enginePath) allowance() uint64      { return uint64(C.tquic_path_send_allowance(p.p)) }
func (p *enginePath) recvBytes(n uint64)     { C.tquic_path_on_datagram_recv(p.p, C.u64(n)) }
func (p *enginePath) sentBytes(n uint64)     { C.tquic_path_on_datagram_sent(p.p, C.u64(n)) }
func (p *enginePath) setValidated()          { C.tquic_path_set_validated(p.p) }
func (p *enginePath) challengeLost()         { C.tquic_path_challenge_lost(p.p) }
func (p *enginePath) setPeerMaxUDP(n uint64) { C.tquic_path_set_peer_max_udp_payload(p.p, C.u64(n)) }
func (p *enginePath) setMTU(n uint32)        { C.tquic_path_set_mtu(p.p, C.u32(n)) }
func (p *enginePath) abandon()               { C.tquic_path_abandon(p.p) }
func (p *enginePath) revert() bool           { return bool(C.tquic_path_revert_peer(p.p)) }
func (p *enginePath) onTimer(now uint64) int { return int(C.tquic_path_on_timer(p.p, C.u64(now))) }
func (p *enginePath) setStatus(backup bool) bool {
	return C.tquic_path_set_status(p.p, C.bool(backup)) == 0
}

func (p *enginePath) onStatus(seq uint64, backup bool) bool {
	return bool(C.tquic_path_on_status(p.p, C.u64(seq), C.bool(backup)))
}

func (p *enginePath) startValidation(now, pto uint64) {
	C.tquic_path_start_validation(p.p, C.u64(now), C.u64(pto))
}

func (p *enginePath) onChallenge(data [8]byte) {
	C.tquic_path_on_challenge(p.p, (*C.u8)(unsafe.Pointer(&data[0])))
}

func (p *enginePath) onResponse(data [8]byte) int {
	return int(C.tquic_path_on_response(p.p, (*C.u8)(unsafe.Pointer(&data[0]))))
}

// mtuProbeSent says challenge data left in a datagram of size bytes.
func (p *enginePath) mtuProbeSent(data [8]byte, size uint32) {
	C.tquic_path_mtu_probe_sent(p.p, (*C.u8)(unsafe.Pointer(&data[0])), C.u32(size))
}

// nextFrame takes the next PATH_CHALLENGE/PATH_RESPONSE (marked sent).
func (p *enginePath) nextFrame() (uint64, [8]byte, bool) {
	var data [8]byte
	var typ C.u64
	buf := C.malloc(8)
	defer C.free(buf)
	if C.tqb_path_frame(p.p, (*C.u8)(buf), &typ) == 0 {
		return 0, data, false
	}
	copy(data[:], C.GoBytes(buf, 8))
	return uint64(typ), data, true
}

func (p *enginePath) peerMoved(peer netip.AddrPort, now, pto uint64) int {
	a := cAddr(peer)
	return int(C.tquic_path_peer_moved(p.p, &a, C.u64(now), C.u64(pto)))
}
