package uapi

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unsafe"
)

// TestGeneratedIsCurrent regenerates the mirror and compares it with the
// checked-in file, so a header change without `go generate` fails CI.
func TestGeneratedIsCurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "zuapi_linux.go")
	cmd := exec.Command("sh", "gen.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("zuapi_linux.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, have) {
		t.Fatalf("pkg/uapi/zuapi_linux.go is stale: run `go generate ./pkg/uapi`")
	}
}

// TestSocketStructLayout pins the Go structures that travel through
// setsockopt, getsockopt and cmsgs to the C sizes, and the fields readers
// decode by offset to the header's layout, so a generator or header slip
// shows up here rather than as a kernel EINVAL.
func TestSocketStructLayout(t *testing.T) {
	sizes := []struct {
		name    string
		goSize  uintptr
		cSize   uintptr
		written uintptr // the size the header's comments imply
	}{
		{"quic_handshake_info", unsafe.Sizeof(QuicHandshakeInfo{}), SizeofQuicHandshakeInfo, 8},
		{"quic_stream_info", unsafe.Sizeof(QuicStreamInfo{}), SizeofQuicStreamInfo, 16},
		{"quic_transport_param", unsafe.Sizeof(QuicTransportParam{}), SizeofQuicTransportParam, 88},
		{"quic_config", unsafe.Sizeof(QuicConfig{}), SizeofQuicConfig, 64},
		{"quic_crypto_secret", unsafe.Sizeof(QuicCryptoSecret{}), SizeofQuicCryptoSecret, 56},
		{"quic_errinfo", unsafe.Sizeof(QuicErrinfo{}), SizeofQuicErrinfo, 16},
		{"quic_connection_id_info", unsafe.Sizeof(QuicConnectionIDInfo{}), SizeofQuicConnectionIDInfo, 12},
		{"quic_event_option", unsafe.Sizeof(QuicEventOption{}), SizeofQuicEventOption, 2},
		{"quic_stream_update", unsafe.Sizeof(QuicStreamUpdate{}), SizeofQuicStreamUpdate, 24},
		{"quic_stream_max_data", unsafe.Sizeof(QuicStreamMaxData{}), SizeofQuicStreamMaxData, 16},
		{"quic_connection_close", unsafe.Sizeof(QuicConnectionClose{}), SizeofQuicConnectionClose, 8},
		{"tquic_lb_config", unsafe.Sizeof(TquicLBConfig{}), SizeofTquicLBConfig, 40},
		{"tquic_sock_stats", unsafe.Sizeof(TquicSockStats{}), SizeofTquicSockStats, 80},
	}
	for _, s := range sizes {
		if s.goSize != s.cSize || s.cSize != s.written {
			t.Errorf("struct %s: Go size %d, C size %d, header layout %d", s.name, s.goSize, s.cSize, s.written)
		}
	}
	var tp QuicTransportParam
	var cs QuicCryptoSecret
	var su QuicStreamUpdate
	var st TquicSockStats
	offsets := []struct {
		field     string
		got, want uintptr
	}{
		{"quic_stream_info.stream_flags", unsafe.Offsetof(QuicStreamInfo{}.Flags), 8},
		{"quic_transport_param.max_datagram_frame_size", unsafe.Offsetof(tp.Max_datagram_frame_size), 8},
		{"quic_transport_param.max_idle_timeout", unsafe.Offsetof(tp.Max_idle_timeout), 12},
		{"quic_transport_param.max_data", unsafe.Offsetof(tp.Max_data), 24},
		{"quic_crypto_secret.type", unsafe.Offsetof(cs.Type), 4},
		{"quic_crypto_secret.secret", unsafe.Offsetof(cs.Secret), 8},
		{"quic_errinfo.errcode", unsafe.Offsetof(QuicErrinfo{}.Errcode), 8},
		{"quic_stream_update.state", unsafe.Offsetof(su.State), 8},
		{"quic_stream_update.errcode", unsafe.Offsetof(su.Errcode), 12},
		{"quic_stream_update.finalsz", unsafe.Offsetof(su.Finalsz), 16},
		{"quic_connection_close.frame", unsafe.Offsetof(QuicConnectionClose{}.Frame), 4},
		{"tquic_sock_stats.accept_queue", unsafe.Offsetof(st.Accept_queue), 64},
	}
	for _, o := range offsets {
		if o.got != o.want {
			t.Errorf("%s at offset %d, the header has it at %d", o.field, o.got, o.want)
		}
	}
	if IPPROTO_QUIC != 261 || SOL_QUIC != 288 {
		t.Errorf("IPPROTO_QUIC %d, SOL_QUIC %d: the draft's numbers are 261 and 288", IPPROTO_QUIC, SOL_QUIC)
	}
}
