package sockapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

// fakeSock is an endpoint that plays the kernel's part of the contract for
// one side of a connection, wired to the other side's fakeSock: handshake,
// stream data and datagrams sent on one arrive as the kernel would deliver
// them on the other, resets and closes arrive as notifications. It has no
// packets, loss or flow control; tests that need EAGAIN set the hooks.
type fakeSock struct {
	isServer bool
	peer     *fakeSock
	in       chan fakeMsg
	closed   chan struct{}
	once     sync.Once
	tpExt    []byte // our encoded transport parameters

	mu        sync.Mutex
	log       []string // setsockopt calls, in order
	closeInfo []byte
	peerTP    []byte
	nextID    [2]int64 // next local stream ID: [bidi, uni]
	// openHook, if set, answers STREAM_OPEN (tests of the stream limit).
	openHook func() error
	// sendHook, if set, may refuse a stream send (tests of EAGAIN).
	sendHook func(p []byte) (int, error, bool)
	writable chan struct{}
}

type fakeMsg struct {
	data  []byte
	oob   []byte
	flags int
	err   error // recvmsg fails with it
}

func newFakeSock(isServer bool) *fakeSock {
	f := &fakeSock{isServer: isServer, in: make(chan fakeMsg, 4096), closed: make(chan struct{}),
		writable: make(chan struct{})}
	f.nextID = [2]int64{0, 2}
	if isServer {
		f.nextID = [2]int64{1, 3}
	}
	return f
}

func fakePair() (client, server *fakeSock) {
	client, server = newFakeSock(false), newFakeSock(true)
	client.peer, server.peer = server, client
	return client, server
}

func (f *fakeSock) push(m fakeMsg) {
	select {
	case <-f.closed:
	case f.in <- m:
	}
}

func (f *fakeSock) notify(typ uint8, body []byte) {
	f.push(fakeMsg{data: append([]byte{typ}, body...), flags: uapi.MSG_QUIC_NOTIFICATION})
}

func (f *fakeSock) logf(format string, args ...any) {
	f.mu.Lock()
	f.log = append(f.log, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeSock) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeSock) recv(oob []byte) (*[]byte, int, int, int, error) {
	select {
	case m := <-f.in:
		if m.err != nil {
			return nil, 0, 0, 0, m.err
		}
		p := recvBufs.Get().(*[]byte)
		n := copy(*p, m.data)
		flags := m.flags
		if n == len(m.data) {
			flags |= unix.MSG_EOR
		}
		return p, n, copy(oob, m.oob), flags, nil
	case <-f.closed:
		return nil, 0, 0, 0, net.ErrClosed
	}
}

func (f *fakeSock) send(p, oob []byte, flags int) (int, error) {
	select {
	case <-f.closed:
		return 0, net.ErrClosed
	default:
	}
	msg, err := parseMessage(p, oob, 0, true)
	if flags&uapi.MSG_QUIC_DATAGRAM != 0 {
		if f.peer != nil {
			f.peer.push(fakeMsg{data: append([]byte(nil), p...), flags: uapi.MSG_QUIC_DATAGRAM})
		}
		return len(p), nil
	}
	if err != nil {
		return 0, unix.EINVAL
	}
	switch msg.kind {
	case msgHandshake:
		level, _ := kernelLevel(msg.level)
		f.logf("crypto level=%d", level)
		f.peer.push(fakeMsg{data: append([]byte(nil), p...), oob: handshakeCmsg(level)})
		return len(p), nil
	case msgStream:
		f.mu.Lock()
		hook := f.sendHook
		f.mu.Unlock()
		if hook != nil && len(p) > 0 {
			if n, err, handled := hook(p); handled {
				if n > 0 {
					f.deliverStream(msg.stream, p[:n], false)
				}
				return n, err
			}
		}
		f.deliverStream(msg.stream, p, msg.fin)
		return len(p), nil
	}
	return 0, unix.EINVAL
}

func (f *fakeSock) deliverStream(id int64, p []byte, fin bool) {
	var flags uint32
	if fin {
		flags = uapi.MSG_QUIC_STREAM_FIN
	}
	f.peer.push(fakeMsg{data: append([]byte(nil), p...), oob: streamCmsg(id, flags)})
}

func (f *fakeSock) writeWait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writable
}

// makeWritable fires the pending writeWait channels.
func (f *fakeSock) makeWritable() {
	f.mu.Lock()
	close(f.writable)
	f.writable = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeSock) setsockopt(opt int, val []byte) error {
	select {
	case <-f.closed:
		return net.ErrClosed
	default:
	}
	switch opt {
	case uapi.QUIC_SOCKOPT_CRYPTO_SECRET:
		s, ok := decodeStruct[uapi.QuicCryptoSecret](val)
		if !ok || len(val) != uapi.SizeofQuicCryptoSecret {
			return unix.EINVAL
		}
		if s.Level == uapi.QUIC_CRYPTO_INITIAL {
			return unix.EINVAL // as the kernel: Initial keys are its own
		}
		f.logf("secret level=%d send=%d type=%d", s.Level, s.Send, s.Type)
	case uapi.QUIC_SOCKOPT_TRANSPORT_PARAM_EXT:
		f.mu.Lock()
		f.peerTP = append([]byte(nil), val...)
		f.mu.Unlock()
		f.logf("peer transport parameters")
	case uapi.QUIC_SOCKOPT_CONNECTION_CLOSE:
		f.mu.Lock()
		f.closeInfo = append([]byte(nil), val...)
		f.mu.Unlock()
		ci, _ := decodeClose(val)
		f.logf("close %#x %q", ci.code, ci.phrase)
	case uapi.TQUIC_SOCKOPT_WIDE_ERRCODES:
		if len(val) != 4 || binary.NativeEndian.Uint32(val) > 1 {
			return unix.EINVAL
		}
		f.logf("wide error codes %d", binary.NativeEndian.Uint32(val))
	case uapi.TQUIC_SOCKOPT_STREAM_RESET, uapi.TQUIC_SOCKOPT_STREAM_STOP_SENDING:
		se, ok := decodeStruct[uapi.TquicStreamError](val)
		if !ok || len(val) != uapi.SizeofTquicStreamError || se.Errcode >= 1<<62 {
			return unix.EINVAL
		}
		// The peer's kernel answers STOP_SENDING with RESET_STREAM.
		u := uapi.TquicStreamUpdate{Id: se.Id, State: uapi.QUIC_STREAM_RECV_STATE_RESET_RECVD, Errcode: se.Errcode}
		what := "reset"
		if opt == uapi.TQUIC_SOCKOPT_STREAM_STOP_SENDING {
			u.State, what = uapi.QUIC_STREAM_SEND_STATE_RESET_SENT, "stop sending"
		}
		f.logf("%s %d %#x", what, se.Id, se.Errcode)
		f.peer.notify(uapi.QUIC_EVENT_STREAM_UPDATE, structBytes(&u))
	case uapi.QUIC_SOCKOPT_KEY_UPDATE:
		if len(val) != 0 {
			return unix.EINVAL
		}
		f.logf("key update")
	default:
		f.logf("setsockopt %d % x", opt, val)
	}
	return nil
}

func (f *fakeSock) getsockopt(opt int, val []byte) (int, error) {
	select {
	case <-f.closed:
		return 0, net.ErrClosed
	default:
	}
	switch opt {
	case uapi.QUIC_SOCKOPT_TRANSPORT_PARAM_EXT:
		return copy(val, f.tpExt), nil
	case uapi.QUIC_SOCKOPT_STREAM_OPEN:
		si, ok := decodeStruct[uapi.QuicStreamInfo](val)
		if !ok || si.Id != -1 || si.Flags&uapi.MSG_QUIC_STREAM_DONTWAIT == 0 {
			return 0, unix.EINVAL
		}
		f.mu.Lock()
		hook := f.openHook
		f.mu.Unlock()
		if hook != nil {
			if err := hook(); err != nil {
				return 0, err
			}
		}
		f.mu.Lock()
		t := streamType(si.Flags&uapi.MSG_QUIC_STREAM_UNI != 0)
		si.Id = f.nextID[t]
		f.nextID[t] += 4
		f.mu.Unlock()
		return copy(val, structBytes(&si)), nil
	case uapi.QUIC_SOCKOPT_CONFIG:
		qc := uapi.QuicConfig{Version: Version1}
		return copy(val, structBytes(&qc)), nil
	case uapi.QUIC_SOCKOPT_CONNECTION_CLOSE:
		return copy(val, make([]byte, uapi.SizeofQuicConnectionClose)), nil
	case uapi.TQUIC_SOCKOPT_STATS:
		st := uapi.TquicSockStats{Tx_datagrams: 3}
		return copy(val, structBytes(&st)), nil
	}
	return 0, unix.ENOPROTOOPT
}

func (f *fakeSock) localAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *fakeSock) remoteAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }

// close sends the close reason to the peer, as the kernel does at
// close(): a CONNECTION_CLOSE notification, then the end of the stream.
func (f *fakeSock) close() error {
	f.once.Do(func() {
		f.mu.Lock()
		info := f.closeInfo
		f.mu.Unlock()
		if f.peer != nil {
			if info == nil {
				info = encodeClose(0, "")
			}
			f.peer.notify(uapi.QUIC_EVENT_CONNECTION_CLOSE, info)
			f.peer.push(fakeMsg{}) // EOF
		}
		close(f.closed)
	})
	return nil
}

// ---- TLS material ----

var (
	certOnce sync.Once
	testCert tls.Certificate
	testPool *x509.CertPool
)

func testCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "localhost"},
			DNSNames:     []string{"localhost"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		testPool = x509.NewCertPool()
		testPool.AddCert(leaf)
	})
	return testCert, testPool
}

func testServerTLS(t *testing.T) *tls.Config {
	cert, _ := testCertificate(t)
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"test"}}
}

func testClientTLS(t *testing.T) *tls.Config {
	_, pool := testCertificate(t)
	return &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"test"}}
}
