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
}

func tlsConfig(c *tls.Config) *tls.Config {
	if c == nil {
		c = &tls.Config{}
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
	qcfg := &tls.QUICConfig{TLSConfig: tlsConfig(cfg.TLS), EnableSessionEvents: cfg.OnSessionState != nil}
	d := &Driver{qc: tls.QUICClient(qcfg), eng: eng, cfg: cfg}
	d.qc.SetTransportParameters(localParams)
	return d
}

// NewServer returns a server-side driver. The engine's transport
// parameters are requested once the client's arrived.
func NewServer(cfg Config, eng Engine) *Driver {
	qcfg := &tls.QUICConfig{TLSConfig: tlsConfig(cfg.TLS)}
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

// EarlyData reports whether 0-RTT keys were installed.
func (d *Driver) EarlyData() bool { return d.early }

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
			d.eng.RejectedEarlyData()
		case tls.QUICHandshakeDone:
			d.done = true
			d.resumed = d.qc.ConnectionState().DidResume
			d.eng.HandshakeComplete()
			if d.isServer && !d.cfg.DisableSessionTickets {
				opts := tls.QUICSessionTicketOptions{EarlyData: d.cfg.EnableEarlyData}
				if err := d.qc.SendSessionTicket(opts); err != nil {
					return d.fail(err)
				}
			}
		case tls.QUICResumeSession:
			d.resumed = true
		case tls.QUICStoreSession:
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
