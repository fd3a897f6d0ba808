package bridge

/*
#include <stdlib.h>
#include "glue.h"
#include "aesgcm.h"
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// QUIC versions the engine speaks.
const (
	Version1 uint32 = C.TQUIC_VERSION_1
	Version2 uint32 = C.TQUIC_VERSION_2
)

// Suite is a TLS 1.3 cipher suite usable with QUIC (RFC 9001 section 5.3).
type Suite uint16

// Cipher suites, with their TLS code points.
const (
	SuiteAES128GCMSHA256        Suite = C.TQUIC_SUITE_AES_128_GCM_SHA256
	SuiteAES256GCMSHA384        Suite = C.TQUIC_SUITE_AES_256_GCM_SHA384
	SuiteChaCha20Poly1305SHA256 Suite = C.TQUIC_SUITE_CHACHA20_POLY1305_SHA256
)

// Hash selects the hash function of HKDF.
type Hash int

// Hash functions.
const (
	SHA256 Hash = C.TQUIC_HASH_SHA256
	SHA384 Hash = C.TQUIC_HASH_SHA384
)

// ErrAuthentication reports a packet (or Retry tag) that failed AEAD
// authentication; such packets are dropped.
var ErrAuthentication = errors.New("bridge: authentication failed")

// ErrShortBuffer reports an output buffer too small for the result.
var ErrShortBuffer = errors.New("bridge: buffer too small")

// engineErr turns an engine return code into an error: positive codes are
// QUIC transport errors (*WireError), negative ones errno values.
func engineErr(op string, rc C.int) error {
	switch {
	case rc == 0:
		return nil
	case rc > 0:
		return fmt.Errorf("%s: %w", op, &WireError{Code: uint64(rc), Reason: "malformed packet"})
	case rc == -C.EBADMSG:
		return fmt.Errorf("%s: %w", op, ErrAuthentication)
	case rc == -C.ENOBUFS:
		return fmt.Errorf("%s: %w", op, ErrShortBuffer)
	}
	return fmt.Errorf("%s: %w", op, syscall.Errno(-rc))
}

// bptr returns a C pointer to b's first byte, or nil for an empty slice.
func bptr(b []byte) *C.u8 {
	if len(b) == 0 {
		return nil
	}
	return (*C.u8)(unsafe.Pointer(&b[0]))
}

// HKDFExtract is HKDF-Extract (RFC 5869) with hash h.
func HKDFExtract(h Hash, salt, ikm []byte) ([]byte, error) {
	out := make([]byte, C.TQUIC_HASH_MAX_LEN)
	n := int(C.tquic_hash_len(C.enum_tquic_hash_alg(h)))
	rc := C.tquic_hkdf_extract(C.enum_tquic_hash_alg(h), bptr(salt), C.size_t(len(salt)),
		bptr(ikm), C.size_t(len(ikm)), bptr(out))
	if err := engineErr("hkdf extract", rc); err != nil {
		return nil, err
	}
	return out[:n], nil
}

// HKDFExpandLabel is the TLS 1.3 HKDF-Expand-Label (RFC 8446 section 7.1);
// label is given without the "tls13 " prefix.
func HKDFExpandLabel(h Hash, secret []byte, label string, context []byte, length int) ([]byte, error) {
	if length < 0 || length > 0xffff {
		return nil, fmt.Errorf("hkdf expand label: length %d out of range", length)
	}
	out := make([]byte, length)
	cl := C.CString(label)
	defer C.free(unsafe.Pointer(cl))
	rc := C.tquic_hkdf_expand_label(C.enum_tquic_hash_alg(h), bptr(secret), C.size_t(len(secret)),
		cl, bptr(context), C.size_t(len(context)), bptr(out), C.size_t(length))
	if err := engineErr("hkdf expand label", rc); err != nil {
		return nil, err
	}
	return out, nil
}

// InitialSecrets derives the client and server Initial secrets of version
// from the client's first Destination Connection ID (RFC 9001 section 5.2).
func InitialSecrets(version uint32, dcid []byte) (client, server []byte, err error) {
	client = make([]byte, C.TQUIC_INITIAL_SECRET_LEN)
	server = make([]byte, C.TQUIC_INITIAL_SECRET_LEN)
	rc := C.tquic_initial_secrets(C.u32(version), bptr(dcid), C.size_t(len(dcid)), bptr(client), bptr(server))
	if err := engineErr("initial secrets", rc); err != nil {
		return nil, nil, err
	}
	return client, server, nil
}

// NextSecret derives the traffic secret that follows secret after a key
// update ("quic ku" / "quicv2 ku", RFC 9001 section 6.1).
func NextSecret(version uint32, suite Suite, secret []byte) ([]byte, error) {
	var k C.struct_tquic_aead_keys
	if len(secret) > len(k.secret) {
		return nil, fmt.Errorf("next secret: secret of %d bytes is too long", len(secret))
	}
	k.version = C.u32(version)
	k.suite = C.u16(suite)
	k.secret_len = C.u8(len(secret))
	for i, b := range secret {
		k.secret[i] = C.u8(b)
	}
	out := make([]byte, len(secret))
	if err := engineErr("next secret", C.tquic_next_secret(&k, bptr(out))); err != nil {
		return nil, err
	}
	return out, nil
}

// Nonce computes the AEAD nonce for packet number pn from a 12-byte IV;
// with multipath the nonce carries the path ID (draft-ietf-quic-multipath).
func Nonce(iv []byte, pn uint64, multipath bool, pathID uint32) ([]byte, error) {
	if len(iv) != C.TQUIC_IV_LEN {
		return nil, fmt.Errorf("nonce: IV of %d bytes, want %d", len(iv), C.TQUIC_IV_LEN)
	}
	out := make([]byte, C.TQUIC_AEAD_NONCE_LEN)
	C.tquic_make_nonce(bptr(iv), C.u64(pn), C.bool(multipath), C.u32(pathID), bptr(out))
	return out, nil
}

// Keys protects packets of one direction at one encryption level: header
// protection plus the current packet keys.  A Keys value must not be used by
// two goroutines at once.  Close releases it.
type Keys struct {
	bk      *C.struct_tqb_keys
	k       *C.struct_tquic_keys // &bk.k
	cleanup runtime.Cleanup
}

func newKeys(bk *C.struct_tqb_keys) *Keys {
	ks := &Keys{bk: bk, k: &bk.k}
	ks.cleanup = runtime.AddCleanup(ks, func(p *C.struct_tqb_keys) { C.tqb_keys_free(p) }, bk)
	return ks
}

// NewKeys derives packet and header protection keys of suite for version
// from a traffic secret.
func NewKeys(version uint32, suite Suite, secret []byte) (*Keys, error) {
	var rc C.int
	k := C.tqb_keys_new(C.u32(version), C.int(suite), bptr(secret), C.size_t(len(secret)), &rc)
	if k == nil {
		return nil, engineErr("new keys", rc)
	}
	return newKeys(k), nil
}

// InitialKeys returns the Initial keys for packets sent by the client and by
// the server, from the client's first Destination Connection ID.
func InitialKeys(version uint32, dcid []byte) (client, server *Keys, err error) {
	cs, ss, err := InitialSecrets(version, dcid)
	if err != nil {
		return nil, nil, err
	}
	if client, err = NewKeys(version, SuiteAES128GCMSHA256, cs); err != nil {
		return nil, nil, err
	}
	if server, err = NewKeys(version, SuiteAES128GCMSHA256, ss); err != nil {
		client.Close()
		return nil, nil, err
	}
	return client, server, nil
}

// Next returns the keys of the next key phase (RFC 9001 section 6): new
// packet keys from the next secret, the same header protection key.
func (ks *Keys) Next() (*Keys, error) {
	var rc C.int
	k := C.tqb_keys_next(ks.bk, &rc)
	if k == nil {
		return nil, engineErr("key update", rc)
	}
	return newKeys(k), nil
}

// Close frees the key objects.
func (ks *Keys) Close() {
	if ks.k == nil {
		return
	}
	ks.cleanup.Stop()
	C.tqb_keys_free(ks.bk)
	ks.bk, ks.k = nil, nil
}

// IV returns the packet protection IV.
func (ks *Keys) IV() []byte {
	return C.GoBytes(unsafe.Pointer(&ks.k.pkt.iv[0]), C.TQUIC_IV_LEN)
}

// Secret returns the traffic secret the packet keys came from.
func (ks *Keys) Secret() []byte {
	return C.GoBytes(unsafe.Pointer(&ks.k.pkt.secret[0]), C.int(ks.k.pkt.secret_len))
}

// HeaderMask computes the 5-byte header protection mask of a 16-byte sample.
func (ks *Keys) HeaderMask(sample []byte) ([]byte, error) {
	if len(sample) != C.TQUIC_HP_SAMPLE_LEN {
		return nil, fmt.Errorf("header mask: sample of %d bytes, want %d", len(sample), C.TQUIC_HP_SAMPLE_LEN)
	}
	mask := make([]byte, C.TQUIC_HP_MASK_LEN)
	if err := engineErr("header mask", C.tquic_hp_mask(ks.k.hp, bptr(sample), bptr(mask))); err != nil {
		return nil, err
	}
	return mask, nil
}

// Seal seals plaintext with the raw AEAD of these keys (no QUIC framing):
// it returns plaintext's ciphertext and tag appended to dst.  It exists to
// compare packet protection with the bare AEAD on the same platform.
func (ks *Keys) Seal(dst, nonce, aad, plaintext []byte) ([]byte, error) {
	if len(nonce) != C.TQUIC_AEAD_NONCE_LEN {
		return nil, fmt.Errorf("seal: nonce of %d bytes", len(nonce))
	}
	out := make([]byte, len(plaintext)+C.TQUIC_AEAD_TAG_LEN)
	rc := C.tquic_aead_seal(ks.k.pkt.aead, bptr(nonce), bptr(aad), C.size_t(len(aad)),
		bptr(plaintext), bptr(out), C.size_t(len(plaintext)), nil)
	if err := engineErr("seal", rc); err != nil {
		return nil, err
	}
	return append(dst, out...), nil
}

// sealGather is Seal with plaintext[goff:goff+glen] handed to the AEAD
// apart (tquic_aead_gather, as stream data sealed from the send buffer)
// and garbage in its place in the main source.
func (ks *Keys) sealGather(nonce, aad, plaintext []byte, goff, glen int) ([]byte, error) {
	if len(nonce) != C.TQUIC_AEAD_NONCE_LEN || goff < 0 || glen <= 0 || goff+glen > len(plaintext) {
		return nil, fmt.Errorf("seal: bad arguments")
	}
	src := bytes.Clone(plaintext)
	for i := goff; i < goff+glen; i++ {
		src[i] ^= 0x5a
	}
	// In C memory: cgo refuses a Go pointer inside the struct passed.
	part := C.CBytes(plaintext[goff : goff+glen])
	defer C.free(part)
	g := C.struct_tquic_aead_gather{off: C.size_t(goff), len: C.size_t(glen), src: (*C.u8)(part)}
	out := make([]byte, len(plaintext)+C.TQUIC_AEAD_TAG_LEN)
	rc := C.tquic_aead_seal(ks.k.pkt.aead, bptr(nonce), bptr(aad), C.size_t(len(aad)),
		bptr(src), bptr(out), C.size_t(len(plaintext)), &g)
	if err := engineErr("seal", rc); err != nil {
		return nil, err
	}
	return out, nil
}

// Open opens ciphertext (with its tag) with the raw AEAD of these keys, the
// counterpart of Seal: it returns the plaintext appended to dst.
func (ks *Keys) Open(dst, nonce, aad, ciphertext []byte) ([]byte, error) {
	if len(nonce) != C.TQUIC_AEAD_NONCE_LEN {
		return nil, fmt.Errorf("open: nonce of %d bytes", len(nonce))
	}
	if len(ciphertext) < C.TQUIC_AEAD_TAG_LEN {
		return nil, fmt.Errorf("open: %d bytes, shorter than a tag", len(ciphertext))
	}
	out := make([]byte, len(ciphertext)-C.TQUIC_AEAD_TAG_LEN)
	rc := C.tquic_aead_open(ks.k.pkt.aead, bptr(nonce), bptr(aad), C.size_t(len(aad)),
		bptr(ciphertext), bptr(out), C.size_t(len(ciphertext)))
	if err := engineErr("open", rc); err != nil {
		return nil, err
	}
	return append(dst, out...), nil
}

// setFastAES makes the keys made from now on use the VAES AES-GCM (where
// the CPU has it) or OpenSSL's, and returns the previous choice: tests
// cover both.
func setFastAES(on bool) bool {
	prev := !bool(C.tqb_gcm_off)
	C.tqb_gcm_off = C.bool(!on)
	return prev
}
