package perf

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The comparisons over TCP: TLS 1.3 in Go (crypto/tls) and the kernel's
// TLS (kTLS) with the keys of a Go handshake. One request per connection,
// the same protocol as a QUIC stream.

// Linux kTLS numbers (linux/tls.h).
const (
	solTLS            = 282
	tlsTX             = 1
	tlsRX             = 2
	tls13Version      = 0x0304
	tlsCipherAESGCM   = 51
	tlsCipherAES256   = 52
	tlsCipherChaCha20 = 54
)

// ready is the byte a kTLS server sends once both ends switched: the
// client must not send records Go's TLS stack could have read ahead.
const ready = 0x2a

// keyLog captures the TLS 1.3 application traffic secrets.
type keyLog struct {
	mu     sync.Mutex
	client []byte
	server []byte
}

func (k *keyLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		secret, err := hex.DecodeString(f[2])
		if err != nil {
			return 0, fmt.Errorf("key log: %w", err)
		}
		k.mu.Lock()
		switch f[0] {
		case "CLIENT_TRAFFIC_SECRET_0":
			k.client = secret
		case "SERVER_TRAFFIC_SECRET_0":
			k.server = secret
		}
		k.mu.Unlock()
	}
	return len(p), nil
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) ([]byte, error) {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	return hkdf.Expand(h, secret, string(info), n)
}

// cryptoInfo builds struct tls12_crypto_info_* for one direction of a
// TLS 1.3 connection at record sequence 0.
func cryptoInfo(suite uint16, secret []byte) ([]byte, error) {
	var (
		h      func() hash.Hash = sha256.New
		keyLen                  = 16
		cipher uint16           = tlsCipherAESGCM
	)
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
	case tls.TLS_AES_256_GCM_SHA384:
		h, keyLen, cipher = sha512.New384, 32, tlsCipherAES256
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		keyLen, cipher = 32, tlsCipherChaCha20
	default:
		return nil, fmt.Errorf("ktls: cipher suite %#x not supported", suite)
	}
	key, err := expandLabel(h, secret, "key", keyLen)
	if err != nil {
		return nil, err
	}
	iv, err := expandLabel(h, secret, "iv", 12)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_ = binary.Write(&b, binary.NativeEndian, uint16(tls13Version))
	_ = binary.Write(&b, binary.NativeEndian, cipher)
	if cipher == tlsCipherChaCha20 {
		// struct tls12_crypto_info_chacha20_poly1305: iv[12], key[32], salt[0], rec_seq[8].
		b.Write(iv)
		b.Write(key)
	} else {
		// AES-GCM: iv[8] (the explicit part), key, salt[4], rec_seq[8].
		b.Write(iv[4:])
		b.Write(key)
		b.Write(iv[:4])
	}
	b.Write(make([]byte, 8))
	return b.Bytes(), nil
}

// enableKTLS moves a finished TLS 1.3 connection's record layer into the
// kernel: from here on plain reads and writes on tcp are TLS records.
func enableKTLS(tcp *net.TCPConn, suite uint16, txSecret, rxSecret []byte) error {
	tx, err := cryptoInfo(suite, txSecret)
	if err != nil {
		return err
	}
	rx, err := cryptoInfo(suite, rxSecret)
	if err != nil {
		return err
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return fmt.Errorf("ktls: %w", err)
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptString(int(fd), unix.SOL_TCP, unix.TCP_ULP, "tls"); serr != nil {
			serr = fmt.Errorf("ktls: TCP_ULP tls (is the tls module loaded?): %w", serr)
			return
		}
		if serr = unix.SetsockoptString(int(fd), solTLS, tlsTX, string(tx)); serr != nil {
			serr = fmt.Errorf("ktls: TLS_TX: %w", serr)
			return
		}
		if serr = unix.SetsockoptString(int(fd), solTLS, tlsRX, string(rx)); serr != nil {
			serr = fmt.Errorf("ktls: TLS_RX: %w", serr)
		}
	})
	if err != nil {
		return fmt.Errorf("ktls: %w", err)
	}
	return serr
}

// tcpDuplex is a TCP connection with its write side closable.
type tcpDuplex struct{ *net.TCPConn }

// tlsDuplex is a Go TLS connection.
type tlsDuplex struct{ *tls.Conn }

// TCPServe serves one request per accepted connection on ln: TLS in Go,
// or, with ktls, TLS in the kernel after a Go handshake.
func TCPServe(ctx context.Context, ln net.Listener, tlsConf *tls.Config, ktls bool) error {
	conf := tlsConf.Clone()
	conf.MinVersion = tls.VersionTLS13
	if ktls {
		conf.SessionTicketsDisabled = true // no records after the handshake
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		go func() {
			defer c.Close()
			cc, keys := conf, &keyLog{}
			if ktls {
				cc = conf.Clone()
				cc.KeyLogWriter = keys
			}
			tc := tls.Server(c, cc)
			if err := tc.HandshakeContext(ctx); err != nil {
				return
			}
			if !ktls {
				if ServeDuplex(tlsDuplex{tc}) == nil {
					drain(c, tc)
				}
				return
			}
			keys.mu.Lock()
			err := enableKTLS(c.(*net.TCPConn), tc.ConnectionState().CipherSuite, keys.server, keys.client)
			keys.mu.Unlock()
			if err != nil {
				return
			}
			if _, err := c.Write([]byte{ready}); err != nil {
				return
			}
			if ServeDuplex(tcpDuplex{c.(*net.TCPConn)}) == nil {
				drain(c, c)
			}
		}()
	}
}

// drain reads r to the peer's end before the connection closes: closing
// with unread bytes (the client's close_notify or FIN) would send a RST
// that can destroy the response still in flight to the client.
func drain(c net.Conn, r io.Reader) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.Copy(io.Discard, r)
}

// TCPRun performs one request over a new TCP connection to addr.
func TCPRun(ctx context.Context, addr string, tlsConf *tls.Config, ktls bool, upload, download uint64) (up, down uint64, err error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, 0, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	conf := tlsConf.Clone()
	conf.MinVersion = tls.VersionTLS13
	keys := &keyLog{}
	if ktls {
		conf.KeyLogWriter = keys
	}
	tc := tls.Client(c, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return 0, 0, fmt.Errorf("tls handshake: %w", err)
	}
	if !ktls {
		return RunDuplex(tlsDuplex{tc}, upload, download)
	}
	keys.mu.Lock()
	err = enableKTLS(c.(*net.TCPConn), tc.ConnectionState().CipherSuite, keys.client, keys.server)
	keys.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	r := bufio.NewReader(c)
	b, err := r.ReadByte()
	if err != nil || b != ready {
		return 0, 0, fmt.Errorf("ktls: no ready byte from the server (%v)", err)
	}
	if r.Buffered() > 0 {
		return 0, 0, errors.New("ktls: data before the request")
	}
	return RunDuplex(tcpDuplex{c.(*net.TCPConn)}, upload, download)
}

var _ io.ReadWriter = tcpDuplex{}
