// Package benchreport prints benchmark results in the form `make bench`
// collects: one "BENCH <name> <value> <unit>" line per figure and one
// "RATIO <name> <ours>/<peer> <value>" line per comparison, oriented so
// that a higher ratio is better for TQUIC.
package benchreport

import (
	"fmt"
	"os"
	"testing"
)

// Bench prints one measured figure.
func Bench(name string, value float64, unit string) {
	fmt.Fprintf(os.Stdout, "BENCH %s %.4g %s\n", name, value, unit)
}

// Ratio prints one comparison between two programs measured in the same run.
// value must already be oriented so that higher is better for ours.
func Ratio(name, ours, peer string, value float64) {
	fmt.Fprintf(os.Stdout, "RATIO %s %s/%s %.3f\n", name, ours, peer, value)
}

// NsPerOp runs fn as a benchmark and returns its nanoseconds per operation.
func NsPerOp(fn func(b *testing.B)) float64 {
	r := testing.Benchmark(fn)
	if r.N == 0 {
		return 0
	}
	return float64(r.T.Nanoseconds()) / float64(r.N)
}
