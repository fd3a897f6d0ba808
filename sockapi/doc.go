// Package sockapi is the Go socket API over the TQUIC kernel module: QUIC
// connections on IPPROTO_QUIC sockets (the in-kernel QUIC sockets API of
// draft-lxin-quic-socket-apis, kmod/include/uapi/linux/quic.h), in pure
// Go without cgo.
//
// The kernel carries the data plane; the TLS handshake runs here, in
// crypto/tls through pkg/handshake: the kernel hands over and takes CRYPTO
// bytes as messages with a QUIC_HANDSHAKE_INFO cmsg, and the secrets TLS
// derives are installed with QUIC_SOCKOPT_CRYPTO_SECRET. After the
// handshake one socket carries every stream: stream data travels with a
// QUIC_STREAM_INFO cmsg, datagrams and notifications are flagged messages.
// A reader goroutine per connection demultiplexes them to Stream.Read,
// AcceptStream, ReceiveDatagram and the connection's error.
//
// Sockets are non-blocking and registered with Go's netpoller, so blocked
// calls park goroutines rather than threads. Conn, Stream and Listener
// implement pkg/transport's interfaces, so the HTTP/3, WebTransport and
// MASQUE layers run over the kernel unchanged.
//
// Socket calls fail with an error wrapping ErrNoKernelModule when the
// module is not loaded.
package sockapi

import "github.com/tquic/tquic/pkg/uapi"

// Protocol numbers of the in-kernel QUIC socket API.
const (
	IPProtoQUIC = uapi.IPPROTO_QUIC
	SolQUIC     = uapi.SOL_QUIC
)
