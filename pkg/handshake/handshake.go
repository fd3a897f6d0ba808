// Package handshake drives Go's crypto/tls QUIC API (tls.QUICConn) for a
// QUIC engine host (ARCHITECTURE decision 2): the engine moves CRYPTO bytes
// per encryption level and installs packet protection secrets, TLS runs
// here. The engine is reached through the small Engine interface, so the
// user-space bridge and the kernel socket API share this driver.
package handshake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
)

// Level is a TLS encryption level as crypto/tls numbers them: Initial,
// Early (0-RTT), Handshake and Application.
type Level = tls.QUICEncryptionLevel

// Engine is what the driver needs from the QUIC engine. Every method is
// called from the goroutine that calls the Driver.
type Engine interface {
	// InstallSecret installs the read (write false) or write secret of a
	// level for the given TLS cipher suite. The slice is only valid
	// during the call.
	InstallSecret(level Level, write bool, suite uint16, secret []byte) error
	// WriteCrypto queues handshake bytes to send in CRYPTO frames.
	WriteCrypto(level Level, data []byte) error
	// LocalTransportParameters returns the encoded transport parameters
	// to send. A server is asked after the client's parameters arrived
	// (compatible version negotiation picks the version from them).
	LocalTransportParameters() ([]byte, error)
	// SetPeerTransportParameters hands over the peer's encoded transport
	// parameters; an error aborts the handshake (the engine has already
	// closed the connection with the right error code).
	SetPeerTransportParameters(params []byte) error
	// HandshakeComplete reports that TLS finished the handshake.
	HandshakeComplete()
	// Alert closes the connection with CRYPTO_ERROR 0x100 + alert.
	Alert(alert uint8)
	// RejectedEarlyData reports that the server rejected 0-RTT.
	RejectedEarlyData()
}

// EarlyDataEngine is implemented by engines that support 0-RTT. The
// driver keeps the engine's 0-RTT transport parameters (RFC 9000 section
// 7.4.1) with session tickets: a client remembers the server's, a server
// puts its own in the tickets it issues.
type EarlyDataEngine interface {
	// ZeroRTTParameters returns the encoded 0-RTT transport parameters: on
	// a client the server's (after they arrived), on a server its own.
	ZeroRTTParameters() ([]byte, error)
	// SetZeroRTTParameters hands over remembered parameters. A client
	// sends its 0-RTT data under them; a server returns an error when its
	// current parameters reduce them, and 0-RTT is then declined.
	SetZeroRTTParameters(params []byte) error
}

// extraTag marks the session state entry (tls.SessionState.Extra) that
// holds 0-RTT transport parameters.
const extraTag = "tquic 0-RTT tp v1:"

func findExtra(extra [][]byte) ([]byte, bool) {
	for _, e := range extra {
		if len(e) >= len(extraTag) && string(e[:len(extraTag)]) == extraTag {
			return e[len(extraTag):], true
		}
	}
	return nil, false
}

func withExtra(extra [][]byte, params []byte) [][]byte {
	e := make([]byte, 0, len(extraTag)+len(params))
	e = append(append(e, extraTag...), params...)
	return append(extra, e)
}

// Config configures a Driver.
type Config struct {
	// TLS is the TLS configuration (certificates, server name, ALPN,
	// session cache). MinVersion is raised to TLS 1.3.
	TLS *tls.Config
	// EnableEarlyData lets a server issue session tickets valid for 0-RTT.
	EnableEarlyData bool
	// DisableSessionTickets stops a server from sending session tickets.
	DisableSessionTickets bool
	// OnSessionState, if set, is called on a client with each session
	// ticket the server issues (tls.QUICStoreSession); the driver then
	// stores it with the TLS session cache itself.
	OnSessionState func(*tls.SessionState)
}

// Driver runs one TLS handshake for one QUIC connection. It is not safe
// for concurrent use: the host serialises calls, usually under its
// connection lock.
type Driver struct {
	qc       *tls.QUICConn
	eng      Engine
	cfg      Config
	isServer bool
	started  bool
	done     bool
	failed   error
	resumed  bool
	early    bool
	rejected bool
}

// tlsConfig returns c when it already requires TLS 1.3, so that every
// connection of a host shares it (and its automatic session ticket keys:
// tickets one connection issues resume on the next), else a copy that
// does.
func tlsConfig(c *tls.Config) *tls.Config {
	if c == nil {
		c = &tls.Config{}
	}
	if c.MinVersion >= tls.VersionTLS13 {
		return c
	}
	c = c.Clone()
	if c.MinVersion < tls.VersionTLS13 {
		c.MinVersion = tls.VersionTLS13
	}
	return c
}

// NewClient returns a client-side driver. localParams are the engine's
// encoded transport parameters.
func NewClient(cfg Config, eng Engine, localParams []byte) *Driver {
	qcfg := &tls.QUICConfig{TLSConfig: tlsConfig(cfg.TLS), EnableSessionEvents: true}
	d := &Driver{qc: tls.QUICClient(qcfg), eng: eng, cfg: cfg}
	d.qc.SetTransportParameters(localParams)
	return d
}

// NewServer returns a server-side driver. The engine's transport
// parameters are requested once the client's arrived.
func NewServer(cfg Config, eng Engine) *Driver {
	qcfg := &tls.QUICConfig{TLSConfig: tlsConfig(cfg.TLS), EnableSessionEvents: true}
	return &Driver{qc: tls.QUICServer(qcfg), eng: eng, cfg: cfg, isServer: true}
}

// Start begins the handshake: a client produces its first flight. ctx
// bounds the handshake (crypto/tls watches it while it runs).
func (d *Driver) Start(ctx context.Context) error {
	if d.started {
		return errors.New("handshake: already started")
	}
	d.started = true
	if err := d.qc.Start(ctx); err != nil {
		return d.fail(err)
	}
	return d.process()
}

// HandleData feeds CRYPTO bytes received at level to TLS and processes
// the resulting events.
func (d *Driver) HandleData(level Level, data []byte) error {
	if d.failed != nil {
		return d.failed
	}
	if err := d.qc.HandleData(level, data); err != nil {
		return d.fail(err)
	}
	return d.process()
}

// Done reports whether TLS completed the handshake.
func (d *Driver) Done() bool { return d.done }

// Err returns the error that ended the handshake, if any.
func (d *Driver) Err() error { return d.failed }

// Resumed reports whether a client resumed a session; EarlyData whether a
// client had 0-RTT keys.
func (d *Driver) Resumed() bool { return d.resumed }

// EarlyData reports whether 0-RTT keys were installed: on a server, that
// it accepted 0-RTT; on a client, that it could send 0-RTT.
func (d *Driver) EarlyData() bool { return d.early }

// EarlyDataRejected reports whether the server rejected a client's 0-RTT.
func (d *Driver) EarlyDataRejected() bool { return d.rejected }

// ConnectionState returns TLS's view of the connection.
func (d *Driver) ConnectionState() tls.ConnectionState { return d.qc.ConnectionState() }

// Close releases TLS resources.
func (d *Driver) Close() error { return d.qc.Close() }

// fail maps a TLS error to a TLS alert, closes the connection with it and
// remembers the error.
func (d *Driver) fail(err error) error {
	if d.failed != nil {
		return d.failed
	}
	var alert tls.AlertError
	if !errors.As(err, &alert) {
		alert = tls.AlertError(80) // internal_error
	}
	d.eng.Alert(uint8(alert))
	d.failed = fmt.Errorf("handshake: %w", err)
	return d.failed
}

func (d *Driver) process() error {
	for {
		ev := d.qc.NextEvent()
		switch ev.Kind {
		case tls.QUICNoEvent:
			return nil
		case tls.QUICSetReadSecret, tls.QUICSetWriteSecret:
			write := ev.Kind == tls.QUICSetWriteSecret
			if ev.Level == tls.QUICEncryptionLevelEarly {
				d.early = true
			}
			if err := d.eng.InstallSecret(ev.Level, write, ev.Suite, ev.Data); err != nil {
				d.eng.Alert(80)
				d.failed = fmt.Errorf("handshake: install %v secret: %w", ev.Level, err)
				return d.failed
			}
		case tls.QUICWriteData:
			if err := d.eng.WriteCrypto(ev.Level, ev.Data); err != nil {
				d.eng.Alert(80)
				d.failed = fmt.Errorf("handshake: queue %v CRYPTO data: %w", ev.Level, err)
				return d.failed
			}
		case tls.QUICTransportParameters:
			if err := d.eng.SetPeerTransportParameters(ev.Data); err != nil {
				d.failed = fmt.Errorf("handshake: peer transport parameters: %w", err)
				return d.failed
			}
		case tls.QUICTransportParametersRequired:
			p, err := d.eng.LocalTransportParameters()
			if err != nil {
				d.eng.Alert(80)
				d.failed = fmt.Errorf("handshake: local transport parameters: %w", err)
				return d.failed
			}
			d.qc.SetTransportParameters(p)
		case tls.QUICRejectedEarlyData:
			d.rejected = true
			d.eng.RejectedEarlyData()
		case tls.QUICHandshakeDone:
			d.done = true
			d.resumed = d.qc.ConnectionState().DidResume
			d.eng.HandshakeComplete()
			if d.isServer && !d.cfg.DisableSessionTickets {
				opts := tls.QUICSessionTicketOptions{}
				if ee, ok := d.eng.(EarlyDataEngine); ok && d.cfg.EnableEarlyData {
					if p, err := ee.ZeroRTTParameters(); err == nil {
						opts.EarlyData = true
						opts.Extra = withExtra(nil, p)
					}
				}
				if err := d.qc.SendSessionTicket(opts); err != nil {
					return d.fail(err)
				}
			}
		case tls.QUICResumeSession:
			d.resumed = true
			if ev.SessionState.EarlyData && !d.zeroRTTAllowed(ev.SessionState) {
				ev.SessionState.EarlyData = false
			}
		case tls.QUICStoreSession:
			if ee, ok := d.eng.(EarlyDataEngine); ok && ev.SessionState.EarlyData {
				if p, err := ee.ZeroRTTParameters(); err == nil {
					ev.SessionState.Extra = withExtra(ev.SessionState.Extra, p)
				} else {
					ev.SessionState.EarlyData = false
				}
			}
			if d.cfg.OnSessionState != nil {
				d.cfg.OnSessionState(ev.SessionState)
			}
			if err := d.qc.StoreSession(ev.SessionState); err != nil {
				return d.fail(err)
			}
		case tls.QUICErrorEvent:
			return d.fail(ev.Err)
		}
	}
}

// zeroRTTAllowed decides whether a resumed session may use 0-RTT: the
// engine must take the transport parameters remembered with it (a client
// sends under them, a server checks it still honours them).
func (d *Driver) zeroRTTAllowed(ss *tls.SessionState) bool {
	if d.isServer && !d.cfg.EnableEarlyData {
		return false
	}
	ee, ok := d.eng.(EarlyDataEngine)
	if !ok {
		return false
	}
	p, ok := findExtra(ss.Extra)
	if !ok {
		return false
	}
	return ee.SetZeroRTTParameters(p) == nil
}
