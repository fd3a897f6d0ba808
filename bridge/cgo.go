// Package bridge compiles the portable TQUIC engine (kmod/core) for user
// space, on a platform layer over OpenSSL libcrypto, and exposes it to Go:
// key derivation, packet protection, headers, Retry, Version Negotiation
// and the engine self-test.  The same C files build into tquic.ko.
package bridge

// #cgo CFLAGS: -I${SRCDIR}/../kmod/core -I${SRCDIR} -O2 -Wall -Wextra -Werror
// #cgo LDFLAGS: -lcrypto
import "C"
