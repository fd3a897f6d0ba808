package qpack

import (
	"testing"

	"github.com/tquic/tquic/internal/benchreport"
)

// BenchmarkReportQPACKCompression prints the dynamic-vs-static compression
// ratio for a browser-like page load (ten requests).
func BenchmarkReportQPACKCompression(b *testing.B) {
	reqs := browserRequests()
	var static, dynamic int
	for b.Loop() {
		static = compress(b, reqs, false)
		dynamic = compress(b, reqs, true)
	}
	benchreport.Bench("qpack_static_only_bytes", float64(static), "bytes")
	benchreport.Bench("qpack_dynamic_bytes", float64(dynamic), "bytes")
	benchreport.Bench("qpack_dynamic_vs_static_compression", float64(static)/float64(dynamic), "ratio")
}

func BenchmarkEncodeDynamic(b *testing.B) {
	reqs := browserRequests()
	for b.Loop() {
		compress(b, reqs, true)
	}
}
