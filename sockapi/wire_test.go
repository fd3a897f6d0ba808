package sockapi

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

func TestLevelMapping(t *testing.T) {
	// The kernel numbers Application 0, unlike crypto/tls.
	want := map[tls.QUICEncryptionLevel]uint8{
		tls.QUICEncryptionLevelInitial:     1,
		tls.QUICEncryptionLevelHandshake:   2,
		tls.QUICEncryptionLevelApplication: 0,
		tls.QUICEncryptionLevelEarly:       3,
	}
	for goLevel, k := range want {
		got, err := kernelLevel(goLevel)
		if err != nil || got != k {
			t.Errorf("kernelLevel(%v) = %d, %v; want %d", goLevel, got, err, k)
		}
		back, err := tlsLevel(k)
		if err != nil || back != goLevel {
			t.Errorf("tlsLevel(%d) = %v, %v; want %v", k, back, err, goLevel)
		}
	}
	if _, err := tlsLevel(uapi.QUIC_CRYPTO_MAX); err == nil {
		t.Error("tlsLevel(QUIC_CRYPTO_MAX) succeeded")
	}
	if _, err := kernelLevel(tls.QUICEncryptionLevel(9)); err == nil {
		t.Error("kernelLevel(9) succeeded")
	}
}

func TestKernelCipher(t *testing.T) {
	for suite, want := range map[uint16]uint32{
		tls.TLS_AES_128_GCM_SHA256:       51,
		tls.TLS_AES_256_GCM_SHA384:       52,
		tls.TLS_CHACHA20_POLY1305_SHA256: 54,
	} {
		if got, err := kernelCipher(suite); err != nil || got != want {
			t.Errorf("kernelCipher(%#x) = %d, %v; want %d", suite, got, err, want)
		}
	}
	if _, err := kernelCipher(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256); err == nil {
		t.Error("a TLS 1.2 suite mapped to a kernel cipher")
	}
}

func TestEncodeSecret(t *testing.T) {
	secret := bytes.Repeat([]byte{0xab}, 48)
	b, err := encodeSecret(uapi.QUIC_CRYPTO_HANDSHAKE, true, tls.TLS_AES_256_GCM_SHA384, secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != uapi.SizeofQuicCryptoSecret {
		t.Fatalf("%d bytes, struct quic_crypto_secret is %d", len(b), uapi.SizeofQuicCryptoSecret)
	}
	// send u8, level u8, reserved u16, type u32, secret[48].
	if b[0] != 1 || b[1] != uapi.QUIC_CRYPTO_HANDSHAKE || b[2] != 0 || b[3] != 0 {
		t.Errorf("header bytes % x", b[:4])
	}
	if got := binary.NativeEndian.Uint32(b[4:]); got != 52 {
		t.Errorf("type %d, want TLS_CIPHER_AES_GCM_256 (52)", got)
	}
	if !bytes.Equal(b[8:], secret) {
		t.Errorf("secret bytes % x", b[8:])
	}
	// A read secret of 32 bytes leaves the rest zero.
	b, err = encodeSecret(uapi.QUIC_CRYPTO_APP, false, tls.TLS_AES_128_GCM_SHA256, secret[:32])
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || b[1] != uapi.QUIC_CRYPTO_APP || !bytes.Equal(b[40:], make([]byte, 16)) {
		t.Errorf("read secret encoded as % x", b)
	}
	if _, err := encodeSecret(1, true, tls.TLS_AES_128_GCM_SHA256, make([]byte, 49)); err == nil {
		t.Error("a 49-byte secret was accepted")
	}
	if _, err := encodeSecret(1, true, 0x1304, secret); err == nil {
		t.Error("TLS_AES_128_CCM_SHA256 was accepted")
	}
}

// cmsgParts splits a built control message into header fields and data.
func cmsgParts(t *testing.T, b []byte) (level, typ int32, data []byte) {
	t.Helper()
	msgs, err := unix.ParseSocketControlMessage(b)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("parse cmsg: %v (%d messages)", err, len(msgs))
	}
	return msgs[0].Header.Level, msgs[0].Header.Type, msgs[0].Data
}

func TestStreamCmsg(t *testing.T) {
	b := streamCmsg(0x1234567890, uapi.MSG_QUIC_STREAM_FIN)
	if len(b) != unix.CmsgSpace(16) {
		t.Fatalf("cmsg of %d bytes, want CMSG_SPACE(16) = %d", len(b), unix.CmsgSpace(16))
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	if int(h.Len) != unix.CmsgLen(16) {
		t.Errorf("cmsg_len %d, the kernel wants exactly CMSG_LEN(16) = %d", h.Len, unix.CmsgLen(16))
	}
	level, typ, data := cmsgParts(t, b)
	if level != 288 || typ != uapi.QUIC_STREAM_INFO {
		t.Errorf("level %d type %d", level, typ)
	}
	// stream_id s64, stream_flags u32, reserved u32.
	if id := int64(binary.NativeEndian.Uint64(data)); id != 0x1234567890 {
		t.Errorf("stream_id %#x", id)
	}
	if f := binary.NativeEndian.Uint32(data[8:]); f != 0x200 {
		t.Errorf("stream_flags %#x, want MSG_FIN 0x200", f)
	}
	if r := binary.NativeEndian.Uint32(data[12:]); r != 0 {
		t.Errorf("reserved %#x", r)
	}
	// STREAM_OPEN's "next stream" input.
	open := encodeStreamInfo(-1, uapi.MSG_QUIC_STREAM_UNI|uapi.MSG_QUIC_STREAM_DONTWAIT)
	if int64(binary.NativeEndian.Uint64(open)) != -1 || binary.NativeEndian.Uint32(open[8:]) != 0x800|0x10000 {
		t.Errorf("STREAM_OPEN input % x", open)
	}
}

func TestHandshakeCmsg(t *testing.T) {
	level, typ, data := cmsgParts(t, handshakeCmsg(uapi.QUIC_CRYPTO_HANDSHAKE))
	if level != uapi.SOL_QUIC || typ != uapi.QUIC_HANDSHAKE_INFO {
		t.Errorf("level %d type %d", level, typ)
	}
	if !bytes.Equal(data, []byte{2, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("quic_handshake_info % x", data)
	}
}

func TestParseMessage(t *testing.T) {
	payload := []byte("hello")
	foreign := make([]byte, unix.CmsgSpace(4)) // an SOL_SOCKET item, to be skipped
	h := (*unix.Cmsghdr)(unsafe.Pointer(&foreign[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMP
	h.SetLen(unix.CmsgLen(4))
	tests := []struct {
		name     string
		data     []byte
		oob      []byte
		flags    int
		complete bool
		want     message
		wantErr  string
	}{
		{name: "stream data", data: payload, oob: streamCmsg(4, 0), complete: true,
			want: message{kind: msgStream, data: payload, stream: 4}},
		{name: "stream FIN", data: payload, oob: streamCmsg(7, uapi.MSG_QUIC_STREAM_FIN), complete: true,
			want: message{kind: msgStream, data: payload, stream: 7, fin: true}},
		{name: "empty FIN", oob: streamCmsg(3, uapi.MSG_QUIC_STREAM_FIN), complete: true,
			want: message{kind: msgStream, stream: 3, fin: true}},
		{name: "FIN of a part-read message waits for the last part", data: payload,
			oob: streamCmsg(7, uapi.MSG_QUIC_STREAM_FIN), complete: false,
			want: message{kind: msgStream, data: payload, stream: 7}},
		{name: "handshake", data: payload, oob: handshakeCmsg(uapi.QUIC_CRYPTO_INITIAL),
			want: message{kind: msgHandshake, data: payload, level: tls.QUICEncryptionLevelInitial}},
		{name: "handshake at the application level", data: payload, oob: handshakeCmsg(uapi.QUIC_CRYPTO_APP),
			want: message{kind: msgHandshake, data: payload, level: tls.QUICEncryptionLevelApplication}},
		{name: "datagram", data: payload, flags: uapi.MSG_QUIC_DATAGRAM,
			want: message{kind: msgDatagram, data: payload}},
		{name: "datagram after a foreign cmsg", data: payload, oob: foreign, flags: uapi.MSG_QUIC_DATAGRAM,
			want: message{kind: msgDatagram, data: payload}},
		{name: "notification", data: payload, flags: uapi.MSG_QUIC_NOTIFICATION | unix.MSG_EOR,
			want: message{kind: msgNotification, data: payload}},
		{name: "EOF", want: message{kind: msgEOF}},
		{name: "EOR alone is still EOF", flags: unix.MSG_EOR, want: message{kind: msgEOF}},
		{name: "bare data", data: payload, wantErr: "without stream info"},
		{name: "truncated control", data: payload, oob: streamCmsg(0, 0), flags: unix.MSG_CTRUNC, wantErr: "truncated"},
		{name: "unknown QUIC cmsg", data: payload, oob: buildCmsg(7, make([]byte, 16)), wantErr: "unknown SOL_QUIC"},
		{name: "short stream info", data: payload, oob: buildCmsg(uapi.QUIC_STREAM_INFO, make([]byte, 8)), wantErr: "short"},
		{name: "negative stream id", data: payload, oob: streamCmsg(-1, 0), wantErr: "stream id -1"},
		{name: "bad level", data: payload, oob: handshakeCmsg(9), wantErr: "crypto level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMessage(tc.data, tc.oob, tc.flags, tc.complete)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.kind != tc.want.kind || !bytes.Equal(got.data, tc.want.data) || got.level != tc.want.level ||
				got.stream != tc.want.stream || got.fin != tc.want.fin {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseEvent(t *testing.T) {
	// A WebTransport-mapped code: above 2^32, below 2^62.
	u := uapi.TquicStreamUpdate{Id: 6, State: uapi.QUIC_STREAM_RECV_STATE_RESET_RECVD, Errcode: 0x52e4a40fa8f9, Finalsz: 99}
	// The structure starts right after the type byte, unaligned.
	ev, err := parseEvent(append([]byte{uapi.QUIC_EVENT_STREAM_UPDATE}, structBytes(&u)...))
	if err != nil {
		t.Fatal(err)
	}
	if ev.typ != uapi.QUIC_EVENT_STREAM_UPDATE || ev.update != u {
		t.Errorf("stream update decoded as %+v", ev)
	}
	// By hand: id 6 at 1, state at 9, errcode at 17, finalsz at 25.
	raw := make([]byte, 33)
	raw[0] = uapi.QUIC_EVENT_STREAM_UPDATE
	binary.NativeEndian.PutUint64(raw[1:], 6)
	raw[9] = uapi.QUIC_STREAM_RECV_STATE_RESET_RECVD
	binary.NativeEndian.PutUint64(raw[17:], 0x52e4a40fa8f9)
	binary.NativeEndian.PutUint64(raw[25:], 99)
	if ev, err := parseEvent(raw); err != nil || ev.update != u {
		t.Errorf("hand-built stream update: %+v, %v", ev.update, err)
	}
	if _, err := parseEvent(raw[:28]); err == nil {
		t.Error("a short stream update parsed")
	}

	closeEv := append([]byte{uapi.QUIC_EVENT_CONNECTION_CLOSE}, encodeClose(0x42, "bye")...)
	closeEv[5] = 0x08 // frame
	ev, err = parseEvent(closeEv)
	if err != nil {
		t.Fatal(err)
	}
	if ev.close != (closeInfo{code: 0x42, frame: 0x08, phrase: "bye"}) {
		t.Errorf("connection close decoded as %+v", ev.close)
	}
	if _, err := parseEvent([]byte{uapi.QUIC_EVENT_CONNECTION_CLOSE, 1, 2}); err == nil {
		t.Error("a short connection close parsed")
	}
	if ev, err := parseEvent([]byte{uapi.QUIC_EVENT_KEY_UPDATE, 1}); err != nil || ev.typ != uapi.QUIC_EVENT_KEY_UPDATE {
		t.Errorf("key update event: %+v, %v", ev, err)
	}
	if _, err := parseEvent(nil); err == nil {
		t.Error("an empty notification parsed")
	}
}

func TestEncodeClose(t *testing.T) {
	b := encodeClose(0x10c, "reason")
	if len(b) != 8+6 || binary.NativeEndian.Uint32(b) != 0x10c || b[4] != 0 || string(b[8:]) != "reason" {
		t.Errorf("close encoded as % x", b)
	}
	if b := encodeClose(1, strings.Repeat("x", 200)); len(b) != 8+80 {
		t.Errorf("a long phrase gave %d bytes, the kernel takes at most 88", len(b))
	}
	if b := encodeClose(1<<40, ""); binary.NativeEndian.Uint32(b) != math.MaxUint32 {
		t.Errorf("a 41-bit code became %#x, want saturation", binary.NativeEndian.Uint32(b))
	}
	ci, err := decodeClose(append(encodeClose(7, "ab"), 0, 0))
	if err != nil || ci.code != 7 || ci.phrase != "ab" {
		t.Errorf("decodeClose of a NUL-padded phrase: %+v, %v", ci, err)
	}
}

func TestEncodeStreamError(t *testing.T) {
	b := encodeStreamError(9, 0x52e4a40fa8f9)
	if len(b) != uapi.SizeofTquicStreamError || binary.NativeEndian.Uint64(b) != 9 ||
		binary.NativeEndian.Uint64(b[8:]) != 0x52e4a40fa8f9 {
		t.Errorf("stream error % x", b)
	}
}

func TestEncodeEventOption(t *testing.T) {
	if b := encodeEventOption(uapi.QUIC_EVENT_STREAM_UPDATE, true); !bytes.Equal(b, []byte{1, 1}) {
		t.Errorf("event option % x", b)
	}
}

func TestALPNOption(t *testing.T) {
	b, err := alpnOption([]string{"h3", "hq-interop"})
	if err != nil || string(b) != "h3,hq-interop" {
		t.Errorf("got %q, %v", b, err)
	}
	for _, bad := range [][]string{{""}, {"a,b"}, {"a\x00"}, {strings.Repeat("x", 200), strings.Repeat("y", 60)}} {
		if _, err := alpnOption(bad); err == nil {
			t.Errorf("alpnOption(%q) succeeded", bad)
		}
	}
}

func TestCongestionOption(t *testing.T) {
	b, err := congestionOption("cubic")
	if err != nil || len(b) != 16 || string(b[:6]) != "cubic\x00" || !bytes.Equal(b[5:], make([]byte, 11)) {
		t.Errorf("got %q, %v", b, err)
	}
	for _, bad := range []string{"", "sixteen-bytes-xx", "a\x00b"} {
		if _, err := congestionOption(bad); err == nil {
			t.Errorf("congestionOption(%q) succeeded", bad)
		}
	}
}

func TestEncodeSockaddr(t *testing.T) {
	b, err := encodeSockaddr(netip.MustParseAddrPort("10.1.2.3:4433"), unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 16)
	binary.NativeEndian.PutUint16(want, unix.AF_INET)
	copy(want[2:], []byte{0x11, 0x51, 10, 1, 2, 3})
	if !bytes.Equal(b, want) {
		t.Errorf("sockaddr_in % x, want % x", b, want)
	}

	b, err = encodeSockaddr(netip.MustParseAddrPort("[2001:db8::1]:443"), unix.AF_INET6)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 28 || binary.NativeEndian.Uint16(b) != unix.AF_INET6 || b[2] != 0x01 || b[3] != 0xbb ||
		b[8] != 0x20 || b[9] != 0x01 || b[23] != 1 {
		t.Errorf("sockaddr_in6 % x", b)
	}
	// IPv4 on an IPv6 socket: v4-mapped.
	b, err = encodeSockaddr(netip.MustParseAddrPort("127.0.0.1:80"), unix.AF_INET6)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[8:24], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}) {
		t.Errorf("v4-mapped address % x", b[8:24])
	}
	if _, err := encodeSockaddr(netip.MustParseAddrPort("[::1]:80"), unix.AF_INET); err == nil {
		t.Error("an IPv6 address was accepted for an IPv4 socket")
	}
}

func TestPeerMaxDatagramFrameSize(t *testing.T) {
	// initial_max_data (0x04) = 1 MiB, then max_datagram_frame_size
	// (0x20) = 65535 as a 4-byte varint.
	params := []byte{0x04, 0x04, 0x80, 0x10, 0x00, 0x00, 0x20, 0x04, 0x80, 0x00, 0xff, 0xff}
	if v, err := peerMaxDatagramFrameSize(params); err != nil || v != 65535 {
		t.Errorf("got %d, %v; want 65535", v, err)
	}
	if v, err := peerMaxDatagramFrameSize(params[:6]); err != nil || v != 0 {
		t.Errorf("without the parameter: %d, %v; want 0", v, err)
	}
	// IDs are varints: 0x40 0x20 is 0x20 in two bytes, 0x40 0x21 another one.
	if v, err := peerMaxDatagramFrameSize([]byte{0x40, 0x21, 0x01, 0x07, 0x40, 0x20, 0x01, 0x05}); err != nil || v != 5 {
		t.Errorf("two-byte parameter IDs: %d, %v; want 5", v, err)
	}
	for _, bad := range [][]byte{{0x20, 0x05, 1}, {0x20, 0x02, 0x05, 0x00}, {0x40}} {
		if _, err := peerMaxDatagramFrameSize(bad); err == nil {
			t.Errorf("malformed % x parsed", bad)
		}
	}
}

func TestDecodeStats(t *testing.T) {
	st := uapi.TquicSockStats{Rx_datagrams: 1, Tx_bytes: 6, Accept_queue: 9, Crypto_queued: 11}
	got, err := decodeStats(structBytes(&st))
	if err != nil {
		t.Fatal(err)
	}
	if got.RxDatagrams != 1 || got.TxBytes != 6 || got.AcceptQueue != 9 || got.CryptoQueued != 11 {
		t.Errorf("decoded %+v", got)
	}
	if _, err := decodeStats(make([]byte, 40)); err == nil {
		t.Error("short statistics decoded")
	}
}

func TestConfigTransportParams(t *testing.T) {
	tp := uapi.QuicTransportParam{Max_streams_bidi: 100, Max_data: 1 << 20}
	cfg := Config{EnableDatagrams: true, MaxIdleTimeout: 5 * time.Second, MaxIncomingUniStreams: 3}
	if err := cfg.transportParams(&tp); err != nil {
		t.Fatal(err)
	}
	if tp.Max_datagram_frame_size != 65535 || tp.Max_idle_timeout != 5000000 || tp.Max_streams_uni != 3 ||
		tp.Max_streams_bidi != 100 || tp.Max_data != 1<<20 {
		t.Errorf("transport parameters %+v", tp)
	}
	for _, bad := range []Config{{MaxIdleTimeout: 2 * time.Hour}, {MaxIncomingStreams: 70000}, {MaxIncomingStreams: -1}} {
		if err := bad.transportParams(&tp); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
