// Package interop chooses the transport our side of the interop tests
// runs on: quic-go on the host, or the kernel's QUIC sockets (sockapi)
// when TQUIC_INTEROP_TRANSPORT=kernel (the VM tests of test/kernel run the
// pkg/h3, pkg/webtransport and pkg/masque test binaries that way, against
// the same quic-go-based peers).
package interop

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/sockapi"
)

// Kernel reports whether our side runs on kernel sockets.
var Kernel = fromEnv()

func fromEnv() bool {
	switch v := os.Getenv("TQUIC_INTEROP_TRANSPORT"); v {
	case "", "quic-go":
		return false
	case "kernel":
		return true
	default:
		panic(fmt.Sprintf("TQUIC_INTEROP_TRANSPORT=%s: want kernel or quic-go", v))
	}
}

// kernelConfig is the sockapi counterpart of the tests' quic-go configuration.
func kernelConfig() *sockapi.Config {
	return &sockapi.Config{EnableDatagrams: true, MaxIdleTimeout: 30 * time.Second,
		MaxIncomingStreams: 1000, MaxIncomingUniStreams: 100}
}

// Listen opens the listener our servers use, on loopback.
func Listen(t testing.TB, tlsConf *tls.Config, qc *quic.Config) transport.Listener {
	t.Helper()
	if Kernel {
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

// Dialer is the dialer our clients use.
func Dialer(qc *quic.Config) transport.Dialer {
	if !Kernel {
		return quicgoadapter.Dialer(qc)
	}
	return func(ctx context.Context, addr string, tlsConf *tls.Config) (transport.Connection, error) {
		c, err := sockapi.Dial(ctx, addr, tlsConf, kernelConfig())
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return c, nil
	}
}
