// Package sockapi is the Go socket API over the TQUIC kernel module
// (IPPROTO_QUIC sockets). It lands with the kernel host; this package holds
// only the protocol numbers it will use, from pkg/uapi.
package sockapi

import "github.com/tquic/tquic/pkg/uapi"

// Protocol numbers of the in-kernel QUIC socket API.
const (
	IPProtoQUIC = uapi.IPPROTO_QUIC
	SolQUIC     = uapi.SOL_QUIC
)
