package bridge

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"math/rand/v2"
	"testing"
)

// TestAESMatchesGo checks the engine's AES-GCM and AES header protection
// against Go's, on the VAES code and on OpenSSL: every length up to a few
// blocks past a full 8-block round, then random ones up to a jumbo packet.
func TestAESMatchesGo(t *testing.T) {
	suites := []struct {
		name   string
		suite  Suite
		hash   func() hash.Hash
		secret int
		keyLen int
	}{
		{"AES-128", SuiteAES128GCMSHA256, sha256.New, 32, 16},
		{"AES-256", SuiteAES256GCMSHA384, sha512.New384, 48, 32},
	}
	for _, fast := range []bool{true, false} {
		for _, s := range suites {
			name := s.name + "/openssl"
			if fast {
				name = s.name + "/fast"
			}
			t.Run(name, func(t *testing.T) {
				defer setFastAES(setFastAES(fast))
				rng := rand.New(rand.NewPCG(uint64(s.keyLen), 1))
				secret := make([]byte, s.secret)
				for i := range secret {
					secret[i] = byte(rng.Uint32())
				}
				k, err := NewKeys(Version1, s.suite, secret)
				if err != nil {
					t.Fatal(err)
				}
				defer k.Close()
				blk, err := aes.NewCipher(goExpandLabel(s.hash, secret, "quic key", s.keyLen))
				if err != nil {
					t.Fatal(err)
				}
				gcm, err := cipher.NewGCM(blk)
				if err != nil {
					t.Fatal(err)
				}
				hp, err := aes.NewCipher(goExpandLabel(s.hash, secret, "quic hp", s.keyLen))
				if err != nil {
					t.Fatal(err)
				}
				for n := range 600 {
					size := n
					if n >= 300 {
						size = rng.IntN(9000)
					}
					checkAEADWithGo(t, k, gcm, rng, size, rng.IntN(70))
				}
				for range 200 {
					sample := make([]byte, 16)
					for i := range sample {
						sample[i] = byte(rng.Uint32())
					}
					mask, err := k.HeaderMask(sample)
					if err != nil {
						t.Fatal(err)
					}
					want := make([]byte, 16)
					hp.Encrypt(want, sample)
					if !bytes.Equal(mask, want[:len(mask)]) {
						t.Fatalf("header mask %x, want %x", mask, want[:len(mask)])
					}
				}
			})
		}
	}
}

// checkAEADWithGo seals size random bytes with aadLen bytes of AAD both
// ways, expects the same bytes, opens them, and expects a flipped bit
// anywhere to fail.
func checkAEADWithGo(t *testing.T, k *Keys, gcm cipher.AEAD, rng *rand.Rand, size, aadLen int) {
	t.Helper()
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	nonce, aad, pt := rnd(12), rnd(aadLen), rnd(size)
	ct, err := k.Seal(nil, nonce, aad, pt)
	if err != nil {
		t.Fatal(err)
	}
	if want := gcm.Seal(nil, nonce, pt, aad); !bytes.Equal(ct, want) {
		t.Fatalf("seal of %d bytes with %d of AAD differs from Go's", size, aadLen)
	}
	if size > 0 {
		// Part of the plaintext from elsewhere, as stream data sealed
		// from the send buffer: any range, across block boundaries.
		goff := rng.IntN(size)
		glen := 1 + rng.IntN(size-goff)
		if got, err := k.sealGather(nonce, aad, pt, goff, glen); err != nil || !bytes.Equal(got, ct) {
			t.Fatalf("seal of %d bytes with [%d, %d) apart differs: %v", size, goff, goff+glen, err)
		}
	}
	got, err := k.Open(nil, nonce, aad, ct)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open of %d bytes with %d of AAD: %v", size, aadLen, err)
	}
	ct[rng.IntN(len(ct))] ^= 1 << rng.IntN(8)
	if _, err := k.Open(nil, nonce, aad, ct); err == nil {
		t.Fatalf("open of %d bytes accepted a flipped bit", size)
	}
	if aadLen > 0 {
		ct = gcm.Seal(nil, nonce, pt, aad)
		aad[rng.IntN(aadLen)] ^= 1
		if _, err := k.Open(nil, nonce, aad, ct); err == nil {
			t.Fatalf("open of %d bytes accepted a changed AAD", size)
		}
	}
}
