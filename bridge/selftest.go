package bridge

/*
#include "glue.h"
#include "selftest.h"
*/
import "C"

import (
	"strings"
	"unsafe"
)

// Selftest runs the engine self-test (the RFC 9001 / RFC 9369 vectors and
// more) over the OpenSSL platform.  It returns the number of failures, the
// number of checks and the names of the failed checks.
func Selftest() (failures, checks int, failed []string) {
	var n C.uint
	buf := make([]byte, 16384)
	C.tqb_log_take((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	f := C.tquic_selftest(&n)
	got := int(C.tqb_log_take((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
	for _, l := range strings.Split(string(buf[:got]), "\n") {
		if l != "" {
			failed = append(failed, l)
		}
	}
	return int(f), int(n), failed
}
