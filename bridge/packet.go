package bridge

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// PacketType is the type of a QUIC packet as the engine classifies it.
type PacketType uint8

// Packet types.
const (
	PacketInitial            PacketType = C.TQUIC_PKT_INITIAL
	Packet0RTT               PacketType = C.TQUIC_PKT_0RTT
	PacketHandshake          PacketType = C.TQUIC_PKT_HANDSHAKE
	PacketRetry              PacketType = C.TQUIC_PKT_RETRY
	Packet1RTT               PacketType = C.TQUIC_PKT_1RTT
	PacketVersionNegotiation PacketType = C.TQUIC_PKT_VN
	PacketUnknownVersion     PacketType = C.TQUIC_PKT_UNKNOWN_VERSION
)

func (t PacketType) String() string {
	switch t {
	case PacketInitial:
		return "Initial"
	case Packet0RTT:
		return "0-RTT"
	case PacketHandshake:
		return "Handshake"
	case PacketRetry:
		return "Retry"
	case Packet1RTT:
		return "1-RTT"
	case PacketVersionNegotiation:
		return "VersionNegotiation"
	case PacketUnknownVersion:
		return "UnknownVersion"
	}
	return fmt.Sprintf("PacketType(%d)", uint8(t))
}

// PNNone stands for "no packet number yet" in packet number encoding and
// decoding.
const PNNone = ^uint64(0)

// ParseGreaseQUICBit accepts a cleared QUIC bit (RFC 9287) when parsing.
const ParseGreaseQUICBit = uint(C.TQUIC_PARSE_GREASE_QUIC_BIT)

// Header is a parsed packet header.  Offsets are relative to the start of
// the packet; Offset is the packet's position in its datagram.
type Header struct {
	Type     PacketType
	Version  uint32
	First    byte // first byte; unprotected after RemoveHeaderProtection
	DCID     []byte
	SCID     []byte
	Token    []byte
	PNOffset int
	Len      int // bytes the packet occupies in the datagram
	Offset   int

	// Set by RemoveHeaderProtection.
	PNLen         int
	PN            uint64
	KeyPhase      int
	PayloadOffset int
	// Set by OpenPayload.
	PayloadLen int

	raw C.struct_tqb_hdr
}

func (h *Header) fromRaw(pkt []byte) {
	r := &h.raw
	h.Type = PacketType(r._type)
	h.Version = uint32(r.version)
	h.First = byte(r.first)
	h.DCID = pkt[r.dcid_off : r.dcid_off+C.u64(r.dcid_len)]
	h.SCID = pkt[r.scid_off : r.scid_off+C.u64(r.scid_len)]
	h.Token = pkt[r.token_off : r.token_off+r.token_len]
	h.PNOffset = int(r.pn_offset)
	h.Len = int(r.len)
	h.PNLen = int(r.pn_len)
	h.PN = uint64(r.pn)
	h.KeyPhase = int(r.key_phase)
	h.PayloadOffset = int(r.payload_offset)
	h.PayloadLen = int(r.payload_len)
}

// ParseHeader parses the header of the packet at the start of pkt (which
// may continue with coalesced packets).  Short headers need the length of
// the receiver's connection IDs.
func ParseHeader(pkt []byte, shortDCIDLen int, flags uint) (*Header, error) {
	h := new(Header)
	if err := ParseHeaderInto(h, pkt, shortDCIDLen, flags); err != nil {
		return nil, err
	}
	return h, nil
}

// ParseHeaderInto is ParseHeader without allocating.
func ParseHeaderInto(h *Header, pkt []byte, shortDCIDLen int, flags uint) error {
	*h = Header{}
	rc := C.tqb_parse(bptr(pkt), C.size_t(len(pkt)), C.size_t(shortDCIDLen), C.uint(flags), &h.raw)
	if err := engineErr("parse header", rc); err != nil {
		return err
	}
	h.fromRaw(pkt)
	return nil
}

// maxCoalesced bounds the packets SplitDatagram returns per datagram.
const maxCoalesced = 64

// SplitDatagram splits a datagram into its coalesced packets (RFC 9000
// section 12.2).  Header offsets are relative to each packet; use
// dgram[h.Offset:h.Offset+h.Len] as the packet.
func SplitDatagram(dgram []byte, shortDCIDLen int, flags uint) ([]*Header, error) {
	var raw [maxCoalesced]C.struct_tqb_hdr
	var n C.size_t
	rc := C.tqb_split(bptr(dgram), C.size_t(len(dgram)), C.size_t(shortDCIDLen), C.uint(flags),
		&raw[0], maxCoalesced, &n)
	hs := make([]*Header, 0, int(n))
	for i := 0; i < int(n); i++ {
		h := &Header{raw: raw[i]}
		off := int(raw[i].off)
		h.fromRaw(dgram[off : off+int(raw[i].len)])
		h.Offset = off
		hs = append(hs, h)
	}
	if err := engineErr("split datagram", rc); err != nil {
		return hs, err
	}
	return hs, nil
}

// HeaderSpec describes a header to write.
type HeaderSpec struct {
	Type       PacketType // Initial, 0-RTT, Handshake or 1-RTT
	Version    uint32     // long headers
	DCID, SCID []byte
	Token      []byte // Initial
	PN         uint64
	PNLen      int // 1..4
	KeyPhase   bool
	Spin       bool
	PayloadLen int // plaintext bytes that will follow the header
}

// AppendHeader appends the unprotected header described by s to b.  The
// Length field of long headers covers packet number, payload and tag.
func AppendHeader(b []byte, s *HeaderSpec) ([]byte, error) {
	if len(s.DCID) > 255 || len(s.SCID) > 255 || s.PNLen < 0 || s.PNLen > 255 || s.PayloadLen < 0 {
		return b, errors.New("append header: field out of range")
	}
	var cs C.struct_tquic_hdr_out
	cs.version = C.u32(s.Version)
	cs._type = C.u8(s.Type)
	cs.dcid_len = C.u8(len(s.DCID))
	cs.scid_len = C.u8(len(s.SCID))
	cs.pn_len = C.u8(s.PNLen)
	cs.key_phase = C.bool(s.KeyPhase)
	cs.spin = C.bool(s.Spin)
	cs.token_len = C.size_t(len(s.Token))
	cs.pn = C.u64(s.PN)
	cs.payload_len = C.size_t(s.PayloadLen)
	// The engine reads the CIDs and token during the call; copy them to C
	// memory since the struct itself cannot hold Go pointers.
	arena := C.malloc(C.size_t(len(s.DCID) + len(s.SCID) + len(s.Token) + 1))
	defer C.free(arena)
	a := unsafe.Slice((*byte)(arena), len(s.DCID)+len(s.SCID)+len(s.Token)+1)
	copy(a, s.DCID)
	copy(a[len(s.DCID):], s.SCID)
	copy(a[len(s.DCID)+len(s.SCID):], s.Token)
	cs.dcid = (*C.u8)(arena)
	cs.scid = (*C.u8)(unsafe.Add(arena, len(s.DCID)))
	cs.token = (*C.u8)(unsafe.Add(arena, len(s.DCID)+len(s.SCID)))
	var out [2048]byte
	var n C.size_t
	rc := C.tquic_write_header((*C.u8)(unsafe.Pointer(&out[0])), C.size_t(len(out)), &cs, &n)
	if err := engineErr("write header", rc); err != nil {
		return b, err
	}
	return append(b, out[:n]...), nil
}

// Protect seals and header-protects the packet in pkt: pkt[:hdrLen] is the
// header written by AppendHeader (ending with the pnLen-byte packet number
// pn) and the rest is the plaintext payload.  The result (pkt with the tag
// appended) reuses pkt's array when its capacity allows.
func (ks *Keys) Protect(pkt []byte, hdrLen, pnLen int, pn uint64, multipath bool, pathID uint32) ([]byte, error) {
	if hdrLen < 0 || hdrLen > len(pkt) || pnLen < 1 || pnLen > 4 {
		return nil, fmt.Errorf("protect: header length %d / pn length %d out of range", hdrLen, pnLen)
	}
	payloadLen := len(pkt) - hdrLen
	if cap(pkt)-len(pkt) < C.TQUIC_AEAD_TAG_LEN {
		grown := make([]byte, len(pkt), len(pkt)+C.TQUIC_AEAD_TAG_LEN)
		copy(grown, pkt)
		pkt = grown
	}
	pkt = pkt[:len(pkt)+C.TQUIC_AEAD_TAG_LEN]
	rc := C.tquic_packet_protect(ks.k, bptr(pkt), C.size_t(hdrLen), C.u8(pnLen), C.u64(pn),
		C.size_t(payloadLen), C.bool(multipath), C.u32(pathID), nil)
	if err := engineErr("protect", rc); err != nil {
		return nil, err
	}
	return pkt, nil
}

// RemoveHeaderProtection unmasks the first byte and packet number of pkt
// (the packet h was parsed from) in place and decodes the packet number
// against largestPN (PNNone when none).
func (ks *Keys) RemoveHeaderProtection(pkt []byte, h *Header, largestPN uint64) error {
	rc := C.tqb_hp_remove(ks.k, bptr(pkt), C.size_t(len(pkt)), &h.raw, C.u64(largestPN))
	if err := engineErr("remove header protection", rc); err != nil {
		return err
	}
	h.fromRaw(pkt)
	return nil
}

// OpenPayload decrypts the payload of pkt in place after
// RemoveHeaderProtection and returns the plaintext (a slice of pkt).
func (ks *Keys) OpenPayload(pkt []byte, h *Header, multipath bool, pathID uint32) ([]byte, error) {
	rc := C.tqb_payload_open(ks.k, bptr(pkt), C.size_t(len(pkt)), &h.raw, boolInt(multipath), C.u32(pathID))
	h.fromRaw(pkt)
	if err := engineErr("open payload", rc); err != nil {
		return nil, err
	}
	return pkt[h.PayloadOffset : h.PayloadOffset+h.PayloadLen], nil
}

// Unprotect removes header protection and decrypts pkt in place with one
// key set and returns the payload.
func (ks *Keys) Unprotect(pkt []byte, h *Header, largestPN uint64) ([]byte, error) {
	if err := ks.RemoveHeaderProtection(pkt, h, largestPN); err != nil {
		return nil, err
	}
	return ks.OpenPayload(pkt, h, false, 0)
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// PNLen is the packet number length for sending pn when largestAcked
// (PNNone when none) is the largest acknowledged (RFC 9000 appendix A.2).
func PNLen(pn, largestAcked uint64) int {
	return int(C.tquic_pn_len(C.u64(pn), C.u64(largestAcked)))
}

// DecodePN recovers a full packet number (RFC 9000 appendix A.3).
func DecodePN(largestPN, truncated uint64, pnLen int) uint64 {
	return uint64(C.tquic_pn_decode(C.u64(largestPN), C.u64(truncated), C.u8(pnLen)))
}

// BuildRetry builds a Retry packet with its integrity tag (RFC 9001 5.8).
// unused gives the four low bits of the first byte.
func BuildRetry(version uint32, unused byte, odcid, dcid, scid, token []byte) ([]byte, error) {
	out := make([]byte, 1+4+2+len(dcid)+len(scid)+len(token)+C.TQUIC_RETRY_TAG_LEN)
	var n C.size_t
	rc := C.tqb_retry_build(C.u32(version), C.u8(unused), bptr(odcid), C.size_t(len(odcid)),
		bptr(dcid), C.size_t(len(dcid)), bptr(scid), C.size_t(len(scid)),
		bptr(token), C.size_t(len(token)), bptr(out), C.size_t(len(out)), &n)
	if err := engineErr("build retry", rc); err != nil {
		return nil, err
	}
	return out[:n], nil
}

// VerifyRetry checks a Retry packet's integrity tag against the client's
// original Destination Connection ID.
func VerifyRetry(pkt, odcid []byte) error {
	return engineErr("verify retry", C.tqb_retry_verify(bptr(pkt), C.size_t(len(pkt)), bptr(odcid), C.size_t(len(odcid))))
}

// VersionNegotiation is a parsed Version Negotiation packet.
type VersionNegotiation struct {
	DCID, SCID []byte
	Versions   []uint32
}

// BuildVersionNegotiation builds a Version Negotiation packet; unused gives
// the seven low bits of the first byte.
func BuildVersionNegotiation(unused byte, dcid, scid []byte, versions []uint32) ([]byte, error) {
	out := make([]byte, 7+len(dcid)+len(scid)+4*len(versions))
	var cv *C.u32
	if len(versions) > 0 {
		vs := C.malloc(C.size_t(4 * len(versions)))
		defer C.free(vs)
		copy(unsafe.Slice((*uint32)(vs), len(versions)), versions)
		cv = (*C.u32)(vs)
	}
	var n C.size_t
	rc := C.tquic_vn_build(bptr(out), C.size_t(len(out)), C.u8(unused), bptr(dcid), C.size_t(len(dcid)),
		bptr(scid), C.size_t(len(scid)), cv, C.size_t(len(versions)), &n)
	if err := engineErr("build version negotiation", rc); err != nil {
		return nil, err
	}
	return out[:n], nil
}

// ParseVersionNegotiation parses a Version Negotiation packet.
func ParseVersionNegotiation(pkt []byte) (*VersionNegotiation, error) {
	var vn C.struct_tquic_vn
	if err := engineErr("parse version negotiation", C.tquic_vn_parse(bptr(pkt), C.size_t(len(pkt)), &vn)); err != nil {
		return nil, err
	}
	base := uintptr(unsafe.Pointer(&pkt[0]))
	dOff := int(uintptr(unsafe.Pointer(vn.dcid)) - base)
	sOff := int(uintptr(unsafe.Pointer(vn.scid)) - base)
	vOff := int(uintptr(unsafe.Pointer(vn.versions)) - base)
	r := &VersionNegotiation{
		DCID: pkt[dOff : dOff+int(vn.dcid_len)],
		SCID: pkt[sOff : sOff+int(vn.scid_len)],
	}
	for i := 0; i < int(vn.n_versions); i++ {
		r.Versions = append(r.Versions, binary.BigEndian.Uint32(pkt[vOff+4*i:]))
	}
	return r, nil
}

// IsStatelessReset reports whether the datagram ends with one of the
// stateless reset tokens (constant-time comparison, RFC 9000 10.3.1).
func IsStatelessReset(dgram []byte, tokens [][16]byte) bool {
	if len(tokens) == 0 {
		return false
	}
	flat := make([]byte, 16*len(tokens))
	for i := range tokens {
		copy(flat[16*i:], tokens[i][:])
	}
	return bool(C.tquic_is_stateless_reset(bptr(dgram), C.size_t(len(dgram)), bptr(flat), C.size_t(len(tokens))))
}
