package bridge

/*
#include "glue.h"
*/
import "C"

// benchPacketRoundTrips runs n round trips of one len(buf)-byte 1-RTT packet
// through the engine (write header, protect; parse, unprotect) in C.
func benchPacketRoundTrips(k *Keys, buf []byte, n int) error {
	return engineErr("bench packet", C.tqb_bench_packet(k.k, bptr(buf), C.size_t(len(buf)), C.u64(n)))
}

// benchRawRoundTrips runs n raw AEAD seal + open round trips over the same
// header and payload bytes in C.
func benchRawRoundTrips(k *Keys, buf []byte, n int) error {
	return engineErr("bench raw aead", C.tqb_bench_raw(k.k, bptr(buf), C.size_t(len(buf)), C.u64(n)))
}
