package webtransport

import (
	"context"
	"crypto/tls"
	"os"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/sockapi"
)

// The interop tests run our side over quic-go on the host. With
// TQUIC_INTEROP_TRANSPORT=kernel (the VM tests of test/kernel run this
// package's test binary with the module loaded) our side runs over the
// kernel's QUIC sockets (sockapi) instead, against the same quic-go-based
// peers.

var kernelTransport = interopTransport()

func interopTransport() bool {
	switch v := os.Getenv("TQUIC_INTEROP_TRANSPORT"); v {
	case "", "quic-go":
		return false
	case "kernel":
		return true
	default:
		panic("TQUIC_INTEROP_TRANSPORT=" + v + ": want kernel or quic-go")
	}
}

// kernelConfig is the sockapi counterpart of the tests' quic-go configuration.
func kernelConfig() *sockapi.Config {
	return &sockapi.Config{EnableDatagrams: true, MaxIdleTimeout: 30 * time.Second,
		MaxIncomingStreams: 1000, MaxIncomingUniStreams: 100}
}

// ourListen opens the listener our servers use.
func ourListen(t testing.TB, tlsConf *tls.Config, qc *quic.Config) transport.Listener {
	t.Helper()
	if kernelTransport {
		ln, err := sockapi.Listen("127.0.0.1:0", tlsConf, kernelConfig())
		if err != nil {
			t.Fatalf("kernel listener: %v", err)
		}
		return ln
	}
	ln, err := quicgoadapter.Listen("127.0.0.1:0", tlsConf, qc)
	if err != nil {
		t.Fatalf("quic-go listener: %v", err)
	}
	return ln
}

// ourQUICDialer is the dialer our clients use.
func ourQUICDialer(qc *quic.Config) transport.Dialer {
	if kernelTransport {
		return func(ctx context.Context, addr string, tlsConf *tls.Config) (transport.Connection, error) {
			c, err := sockapi.Dial(ctx, addr, tlsConf, kernelConfig())
			if err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	return quicgoadapter.Dialer(qc)
}
