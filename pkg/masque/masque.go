// Package masque implements MASQUE proxying over HTTP/3 (pkg/h3):
// CONNECT-UDP (RFC 9298) and CONNECT-IP (RFC 9484), clients and proxies.
//
// Proxies are http.Handlers for an h3.Server configured with ConfigureH3.
// Both carry payloads in HTTP datagrams (RFC 9297) prefixed by a context
// ID (0 for UDP payloads and IP packets) or, in capsule mode, in DATAGRAM
// capsules on the request stream. Access control (ACL) decides which
// targets a client may reach; everything else is refused with 403. The
// CONNECT-IP proxy assigns client addresses from per-client address pools
// and forwards packets through a TUN device.
package masque

import (
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
)

// :protocol tokens.
const (
	ProtocolUDP = "connect-udp"
	ProtocolIP  = "connect-ip"
)

// capsuleProtocolHeader announces the Capsule Protocol (RFC 9297).
const (
	capsuleProtocolHeader = "Capsule-Protocol"
	capsuleProtocolTrue   = "?1"
)

// maxUDPPayload is the largest UDP payload (IPv4: 65535 - 20 - 8).
const maxUDPPayload = 65527

// maxCapsule bounds capsules read from a request stream: a DATAGRAM
// capsule with a maximal UDP payload, or address/route capsules.
const maxCapsule = maxUDPPayload + 16

// ConfigureH3 enables what MASQUE needs on an h3.Server: extended CONNECT
// and HTTP datagrams. The transport must have QUIC datagrams enabled.
func ConfigureH3(srv *h3.Server) {
	srv.Config.EnableConnectProtocol = true
	srv.Config.EnableDatagrams = true
}

// Stats counts what a proxy dropped; all fields are updated atomically.
type Stats struct {
	// UnknownContext counts datagrams with a context ID the proxy did not
	// register (they are dropped, RFC 9298 section 4).
	UnknownContext atomic.Uint64
	// Oversized counts payloads over the configured maximum (dropped).
	Oversized atomic.Uint64
	// Malformed counts datagrams without a valid context ID or packets
	// that are not valid IP (dropped).
	Malformed atomic.Uint64
	// Denied counts packets to targets outside the allowed set (dropped).
	Denied atomic.Uint64
	// Forwarded counts payloads sent on to the target.
	Forwarded atomic.Uint64
}

// refuse answers a request that will not be proxied.
func refuse(w http.ResponseWriter, status int, proxyStatus string) {
	if proxyStatus != "" {
		w.Header().Set("Proxy-Status", "tquic-masque; error="+proxyStatus)
	}
	w.WriteHeader(status)
}

// splitContext splits an HTTP datagram payload into context ID and data.
func splitContext(b []byte) (uint64, []byte, error) {
	id, n, err := capsule.ParseVarint(b)
	if err != nil {
		return 0, nil, errors.New("masque: datagram without context ID")
	}
	return id, b[n:], nil
}

// appendContext prefixes data with context ID 0.
func appendContext0(b, data []byte) []byte {
	return append(append(b, 0), data...)
}

// isExtendedConnect checks method and :protocol.
func isExtendedConnect(r *http.Request, proto string) bool {
	return r.Method == http.MethodConnect && r.Proto == proto
}
