package bridge

import (
	"bytes"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/benchreport"
)

const benchPacketLen = 1200

// benchLoop times fn (a C loop of n packet round trips), growing n until a
// run lasts at least 100 ms, and returns nanoseconds per round trip.  (A
// nested testing.Benchmark would deadlock inside a running benchmark.)
func benchLoop(tb testing.TB, k *Keys, fn func(*Keys, []byte, int) error) float64 {
	buf := make([]byte, benchPacketLen)
	for n := 1000; ; n *= 4 {
		start := time.Now()
		if err := fn(k, buf, n); err != nil {
			tb.Fatal(err)
		}
		if d := time.Since(start); d >= 100*time.Millisecond {
			return float64(d.Nanoseconds()) / float64(n)
		}
	}
}

// BenchmarkReportPacketProtect measures, in one run, a 1200-byte 1-RTT
// packet's round trip through the engine (write header, seal, apply header
// protection; parse, remove header protection, open) against the raw AEAD
// seal + open of the same header and payload bytes on the same platform.
func BenchmarkReportPacketProtect(b *testing.B) {
	suites := []struct {
		name  string
		suite Suite
	}{
		{"aes128gcm", SuiteAES128GCMSHA256},
		{"chacha20poly1305", SuiteChaCha20Poly1305SHA256},
	}
	ours := make([]float64, len(suites))
	raw := make([]float64, len(suites))
	for b.Loop() {
		for i, s := range suites {
			k, err := NewKeys(Version1, s.suite, bytes.Repeat([]byte{0x42}, 32))
			if err != nil {
				b.Fatal(err)
			}
			// Alternate and keep the best of seven: the machine is shared.
			for range 7 {
				if ns := benchLoop(b, k, benchRawRoundTrips); raw[i] == 0 || ns < raw[i] {
					raw[i] = ns
				}
				if ns := benchLoop(b, k, benchPacketRoundTrips); ours[i] == 0 || ns < ours[i] {
					ours[i] = ns
				}
			}
			k.Close()
		}
	}
	for i, s := range suites {
		benchreport.Bench("packet_roundtrip_"+s.name+"_tquic", ours[i], "ns/packet")
		benchreport.Bench("packet_roundtrip_"+s.name+"_raw_aead", raw[i], "ns/packet")
	}
	// The headline ratio is AES-128-GCM, the suite TLS picks with AES-NI.
	benchreport.Ratio("packet_protect", "raw_aead", "tquic", raw[0]/ours[0])
	benchreport.Ratio("packet_protect_chacha20poly1305", "raw_aead", "tquic", raw[1]/ours[1])
}
