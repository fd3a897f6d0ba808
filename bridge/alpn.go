package bridge

/*
#include "glue.h"
#include "conn.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Results of ClientHelloALPN besides success.
var (
	ErrHelloTruncated = errors.New("ClientHello prefix ends before its ALPN extension")
	ErrHelloNoALPN    = errors.New("ClientHello has no ALPN extension")
	ErrHelloMalformed = errors.New("not a well-formed ClientHello")
)

// ClientHelloALPN returns the ALPN protocols a TLS ClientHello offers, in
// the client's order, read by the engine's parser (which the kernel uses
// to route new connections among the listeners of a port). msg may be a
// prefix of the handshake message.
func ClientHelloALPN(msg []byte) ([]string, error) {
	var list C.struct_tquic_cursor
	switch r := C.tquic_client_hello_alpn(bptr(msg), C.size_t(len(msg)), &list); r {
	case 0:
	case -C.EAGAIN:
		return nil, ErrHelloTruncated
	case -C.ENOENT:
		return nil, ErrHelloNoALPN
	case -C.EINVAL:
		return nil, ErrHelloMalformed
	default:
		return nil, fmt.Errorf("client hello alpn: unexpected result %d", r)
	}
	// The list points into msg: read it from there.
	off := int(uintptr(unsafe.Pointer(list.p)) - uintptr(unsafe.Pointer(bptr(msg))))
	names := msg[off : off+int(list.left)]
	var out []string
	for len(names) > 0 {
		n := int(names[0])
		out = append(out, string(names[1:1+n]))
		names = names[1+n:]
	}
	return out, nil
}
