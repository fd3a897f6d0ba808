package sockapi

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

// This file holds everything that crosses the user-kernel boundary as
// bytes: socket option values, control messages, notifications. It does no
// I/O, so all of it is unit-tested without the module.

// Bounds the kernel enforces on variable-length options.
const (
	maxALPNLen        = 255  // QUIC_SOCKOPT_ALPN, "a,b,c" without a NUL
	maxReasonPhrase   = 80   // phrase bytes after struct quic_connection_close
	maxTransportParam = 4096 // QUIC_SOCKOPT_TRANSPORT_PARAM_EXT
)

// TLS_CIPHER_* of <linux/tls.h>, the cipher numbers struct
// quic_crypto_secret carries.
const (
	tlsCipherAESGCM128        = 51
	tlsCipherAESGCM256        = 52
	tlsCipherChaCha20Poly1305 = 54
)

// structBytes views a uapi structure as the bytes the kernel reads. The
// uapi types are generated from the C header, so their layout is the C one.
func structBytes[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

// decodeStruct copies the start of b into a uapi structure.
func decodeStruct[T any](b []byte) (T, bool) {
	var v T
	dst := structBytes(&v)
	if len(b) < len(dst) {
		return v, false
	}
	copy(dst, b)
	return v, true
}

// kernelLevel maps a crypto/tls encryption level to enum quic_crypto_level,
// which numbers the levels differently (Application is 0).
func kernelLevel(l tls.QUICEncryptionLevel) (uint8, error) {
	switch l {
	case tls.QUICEncryptionLevelInitial:
		return uapi.QUIC_CRYPTO_INITIAL, nil
	case tls.QUICEncryptionLevelHandshake:
		return uapi.QUIC_CRYPTO_HANDSHAKE, nil
	case tls.QUICEncryptionLevelApplication:
		return uapi.QUIC_CRYPTO_APP, nil
	case tls.QUICEncryptionLevelEarly:
		return uapi.QUIC_CRYPTO_EARLY, nil
	}
	return 0, fmt.Errorf("sockapi: unknown TLS encryption level %d", l)
}

// tlsLevel is the inverse of kernelLevel.
func tlsLevel(l uint8) (tls.QUICEncryptionLevel, error) {
	switch l {
	case uapi.QUIC_CRYPTO_INITIAL:
		return tls.QUICEncryptionLevelInitial, nil
	case uapi.QUIC_CRYPTO_HANDSHAKE:
		return tls.QUICEncryptionLevelHandshake, nil
	case uapi.QUIC_CRYPTO_APP:
		return tls.QUICEncryptionLevelApplication, nil
	case uapi.QUIC_CRYPTO_EARLY:
		return tls.QUICEncryptionLevelEarly, nil
	}
	return 0, fmt.Errorf("sockapi: kernel reported unknown crypto level %d", l)
}

// kernelCipher maps a TLS 1.3 cipher suite to its TLS_CIPHER_* number.
func kernelCipher(suite uint16) (uint32, error) {
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		return tlsCipherAESGCM128, nil
	case tls.TLS_AES_256_GCM_SHA384:
		return tlsCipherAESGCM256, nil
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return tlsCipherChaCha20Poly1305, nil
	}
	return 0, fmt.Errorf("sockapi: TLS cipher suite %#04x has no kernel cipher", suite)
}

// encodeSecret builds struct quic_crypto_secret.
func encodeSecret(level uint8, write bool, suite uint16, secret []byte) ([]byte, error) {
	cipher, err := kernelCipher(suite)
	if err != nil {
		return nil, err
	}
	var s uapi.QuicCryptoSecret
	if len(secret) == 0 || len(secret) > len(s.Secret) {
		return nil, fmt.Errorf("sockapi: %d-byte secret does not fit the kernel's %d bytes", len(secret), len(s.Secret))
	}
	if write {
		s.Send = 1
	}
	s.Level = level
	s.Type = cipher
	copy(s.Secret[:], secret)
	return structBytes(&s), nil
}

// encodeStreamInfo builds struct quic_stream_info (cmsg and STREAM_OPEN).
func encodeStreamInfo(id int64, flags uint32) []byte {
	si := uapi.QuicStreamInfo{Id: id, Flags: flags}
	return structBytes(&si)
}

// encodeStreamError builds struct tquic_stream_error: a stream and a whole
// 62-bit code for TQUIC_SOCKOPT_STREAM_RESET and _STOP_SENDING.
func encodeStreamError(id int64, code uint64) []byte {
	se := uapi.TquicStreamError{Id: id, Errcode: code}
	return structBytes(&se)
}

// kernelErrorCode fits a 62-bit QUIC error code into the draft's 32-bit
// errcode field of CONNECTION_CLOSE. Codes that do not fit saturate, so
// they stay recognisable instead of aliasing a small code.
func kernelErrorCode(code uint64) uint32 {
	if code > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(code)
}

// encodeClose builds struct quic_connection_close followed by the reason
// phrase, cut to what the kernel accepts.
func encodeClose(code uint64, phrase string) []byte {
	if len(phrase) > maxReasonPhrase {
		phrase = phrase[:maxReasonPhrase]
	}
	cc := uapi.QuicConnectionClose{Errcode: kernelErrorCode(code)}
	b := make([]byte, 0, uapi.SizeofQuicConnectionClose+len(phrase))
	b = append(b, structBytes(&cc)...)
	return append(b, phrase...)
}

// encodeEventOption builds struct quic_event_option.
func encodeEventOption(typ uint8, on bool) []byte {
	ev := uapi.QuicEventOption{Type: typ}
	if on {
		ev.On = 1
	}
	return structBytes(&ev)
}

// alpnOption joins protocol IDs the way QUIC_SOCKOPT_ALPN takes them.
func alpnOption(protos []string) ([]byte, error) {
	for _, p := range protos {
		if p == "" || strings.ContainsAny(p, ",\x00") {
			return nil, fmt.Errorf("sockapi: ALPN %q cannot be passed to the kernel (empty, or contains ',' or NUL)", p)
		}
	}
	s := strings.Join(protos, ",")
	if len(s) > maxALPNLen {
		return nil, fmt.Errorf("sockapi: ALPN list is %d bytes, the kernel takes at most %d", len(s), maxALPNLen)
	}
	return []byte(s), nil
}

// congestionOption builds the NUL-padded char[TQUIC_CC_NAME_MAX] name.
func congestionOption(name string) ([]byte, error) {
	if name == "" || len(name) >= uapi.TQUIC_CC_NAME_MAX || strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("sockapi: congestion controller name %q must be 1 to %d bytes without NUL", name, uapi.TQUIC_CC_NAME_MAX-1)
	}
	b := make([]byte, uapi.TQUIC_CC_NAME_MAX)
	copy(b, name)
	return b, nil
}

// encodeSockaddr builds a struct sockaddr_in or sockaddr_in6 for family, as
// QUIC_SOCKOPT_CONNECTION_MIGRATION takes it. An IPv4 address on an IPv6
// socket becomes v4-mapped.
func encodeSockaddr(ap netip.AddrPort, family int) ([]byte, error) {
	addr := ap.Addr()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], ap.Port())
	switch {
	case family == unix.AF_INET && addr.Unmap().Is4():
		b := make([]byte, unix.SizeofSockaddrInet4)
		binary.NativeEndian.PutUint16(b[0:], unix.AF_INET)
		copy(b[2:4], port[:])
		a4 := addr.Unmap().As4()
		copy(b[4:8], a4[:])
		return b, nil
	case family == unix.AF_INET6:
		b := make([]byte, unix.SizeofSockaddrInet6)
		binary.NativeEndian.PutUint16(b[0:], unix.AF_INET6)
		copy(b[2:4], port[:])
		a16 := addr.As16() // As16 of an IPv4 address is its v4-mapped form
		copy(b[8:24], a16[:])
		if zone := addr.Zone(); zone != "" {
			ifi, err := net.InterfaceByName(zone)
			if err != nil {
				return nil, fmt.Errorf("sockapi: zone of %s: %w", addr, err)
			}
			binary.NativeEndian.PutUint32(b[24:], uint32(ifi.Index))
		}
		return b, nil
	}
	return nil, fmt.Errorf("sockapi: %s does not fit an IPv4 socket", addr)
}

// buildCmsg builds one SOL_QUIC control message.
func buildCmsg(typ int, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = uapi.SOL_QUIC
	h.Type = int32(typ)
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

// streamCmsg is the QUIC_STREAM_INFO cmsg that sends data on stream id.
func streamCmsg(id int64, flags uint32) []byte {
	return buildCmsg(uapi.QUIC_STREAM_INFO, encodeStreamInfo(id, flags))
}

// handshakeCmsg is the QUIC_HANDSHAKE_INFO cmsg that sends TLS bytes at level.
func handshakeCmsg(level uint8) []byte {
	hi := uapi.QuicHandshakeInfo{Level: level}
	return buildCmsg(uapi.QUIC_HANDSHAKE_INFO, structBytes(&hi))
}

// recvOOBSize is room for the one QUIC cmsg a message carries, with slack
// so an unexpected extra item shows up as such rather than as MSG_CTRUNC.
var recvOOBSize = 2 * unix.CmsgSpace(uapi.SizeofQuicStreamInfo)

type msgKind int

const (
	msgStream msgKind = iota
	msgHandshake
	msgDatagram
	msgNotification
	msgEOF
)

// message is one recvmsg result, classified.
type message struct {
	kind   msgKind
	data   []byte
	level  tls.QUICEncryptionLevel // msgHandshake
	stream int64                   // msgStream
	fin    bool                    // msgStream: the stream ends after data
}

// parseMessage classifies what recvmsg returned: data, the control bytes
// and msg_flags. complete is false when the data may be only the first
// part of the kernel's message (the buffer filled up without MSG_EOR); a
// FIN is then left for the last part, which carries it again.
func parseMessage(data, oob []byte, flags int, complete bool) (message, error) {
	if flags&unix.MSG_CTRUNC != 0 {
		return message{}, errors.New("sockapi: recvmsg control data truncated")
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return message{}, fmt.Errorf("sockapi: recvmsg control data: %w", err)
	}
	for _, cm := range cmsgs {
		if cm.Header.Level != uapi.SOL_QUIC {
			continue
		}
		switch cm.Header.Type {
		case uapi.QUIC_HANDSHAKE_INFO:
			hi, ok := decodeStruct[uapi.QuicHandshakeInfo](cm.Data)
			if !ok {
				return message{}, fmt.Errorf("sockapi: short QUIC_HANDSHAKE_INFO (%d bytes)", len(cm.Data))
			}
			level, err := tlsLevel(hi.Level)
			if err != nil {
				return message{}, err
			}
			return message{kind: msgHandshake, data: data, level: level}, nil
		case uapi.QUIC_STREAM_INFO:
			si, ok := decodeStruct[uapi.QuicStreamInfo](cm.Data)
			if !ok {
				return message{}, fmt.Errorf("sockapi: short QUIC_STREAM_INFO (%d bytes)", len(cm.Data))
			}
			if si.Id < 0 {
				return message{}, fmt.Errorf("sockapi: kernel reported stream id %d", si.Id)
			}
			fin := si.Flags&uapi.MSG_QUIC_STREAM_FIN != 0 && complete
			return message{kind: msgStream, data: data, stream: si.Id, fin: fin}, nil
		default:
			return message{}, fmt.Errorf("sockapi: unknown SOL_QUIC cmsg type %d", cm.Header.Type)
		}
	}
	switch {
	case flags&uapi.MSG_QUIC_NOTIFICATION != 0:
		return message{kind: msgNotification, data: data}, nil
	case flags&uapi.MSG_QUIC_DATAGRAM != 0:
		return message{kind: msgDatagram, data: data}, nil
	case len(data) == 0:
		// Zero bytes, no cmsg, no flags: the connection is over.
		return message{kind: msgEOF}, nil
	}
	return message{}, fmt.Errorf("sockapi: %d bytes without stream info, datagram or notification flag", len(data))
}

// closeInfo is a struct quic_connection_close and its phrase.
type closeInfo struct {
	code   uint32
	frame  uint8
	phrase string
}

func decodeClose(b []byte) (closeInfo, error) {
	cc, ok := decodeStruct[uapi.QuicConnectionClose](b)
	if !ok {
		return closeInfo{}, fmt.Errorf("sockapi: short connection close info (%d bytes)", len(b))
	}
	phrase := b[uapi.SizeofQuicConnectionClose:]
	if i := strings.IndexByte(string(phrase), 0); i >= 0 {
		phrase = phrase[:i] // some writers NUL-terminate
	}
	return closeInfo{code: cc.Errcode, frame: cc.Frame, phrase: string(phrase)}, nil
}

// event is a notification the connection acts on.
type event struct {
	typ    uint8
	update uapi.TquicStreamUpdate // QUIC_EVENT_STREAM_UPDATE (wide error codes)
	close  closeInfo              // QUIC_EVENT_CONNECTION_CLOSE
}

// parseEvent decodes a notification: the event type byte, then its
// structure. Types the connection does not act on come back with only typ.
func parseEvent(b []byte) (event, error) {
	if len(b) == 0 {
		return event{}, errors.New("sockapi: empty notification")
	}
	ev := event{typ: b[0]}
	body := b[1:]
	switch ev.typ {
	case uapi.QUIC_EVENT_STREAM_UPDATE:
		u, ok := decodeStruct[uapi.TquicStreamUpdate](body)
		if !ok {
			return event{}, fmt.Errorf("sockapi: short stream update notification (%d bytes)", len(body))
		}
		ev.update = u
	case uapi.QUIC_EVENT_CONNECTION_CLOSE:
		ci, err := decodeClose(body)
		if err != nil {
			return event{}, err
		}
		ev.close = ci
	}
	return ev, nil
}

// transportParamMaxDatagramFrameSize is RFC 9221's transport parameter.
const transportParamMaxDatagramFrameSize = 0x20

// peerMaxDatagramFrameSize reads max_datagram_frame_size out of the peer's
// encoded transport parameters (RFC 9000 section 18); 0 when absent, which
// means the peer does not accept datagrams.
func peerMaxDatagramFrameSize(params []byte) (uint64, error) {
	for b := params; len(b) > 0; {
		id, n := readVarint(b)
		if n == 0 {
			return 0, errors.New("sockapi: malformed transport parameter id")
		}
		b = b[n:]
		l, n := readVarint(b)
		if n == 0 || uint64(len(b)-n) < l {
			return 0, fmt.Errorf("sockapi: malformed transport parameter %#x", id)
		}
		val := b[n : n+int(l)]
		b = b[n+int(l):]
		if id == transportParamMaxDatagramFrameSize {
			v, vn := readVarint(val)
			if vn == 0 || vn != len(val) {
				return 0, errors.New("sockapi: malformed max_datagram_frame_size")
			}
			return v, nil
		}
	}
	return 0, nil
}

// readVarint decodes a QUIC variable-length integer; n is 0 when b is too
// short.
func readVarint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0
	}
	v = uint64(b[0] & 0x3f)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n
}

// Stats are the socket-layer counters of one TQUIC socket
// (TQUIC_SOCKOPT_STATS).
type Stats struct {
	RxDatagrams   uint64 // UDP datagrams demultiplexed to the socket
	RxBytes       uint64
	RxBacklogged  uint64 // of which queued to the backlog (socket owned)
	RxDropped     uint64 // dropped: backlog full, socket closing, no engine
	TxDatagrams   uint64
	TxBytes       uint64
	TimerFired    uint64
	TimerDeferred uint64 // timer expirations run from release_sock()
	// AcceptQueue and AcceptOverflow count, on a listener, connections
	// waiting for accept() and Initials dropped because the queue was full.
	AcceptQueue    uint32
	AcceptOverflow uint32
	CryptoQueued   uint32 // handshake bytes queued by sendmsg()
}

func decodeStats(b []byte) (Stats, error) {
	s, ok := decodeStruct[uapi.TquicSockStats](b)
	if !ok {
		return Stats{}, fmt.Errorf("sockapi: short socket statistics (%d bytes)", len(b))
	}
	return Stats{
		RxDatagrams: s.Rx_datagrams, RxBytes: s.Rx_bytes, RxBacklogged: s.Rx_backlogged,
		RxDropped: s.Rx_dropped, TxDatagrams: s.Tx_datagrams, TxBytes: s.Tx_bytes,
		TimerFired: s.Timer_fired, TimerDeferred: s.Timer_deferred,
		AcceptQueue: s.Accept_queue, AcceptOverflow: s.Accept_overflow, CryptoQueued: s.Crypto_queued,
	}, nil
}
