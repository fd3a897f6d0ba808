package bridge

/*
#cgo CFLAGS: -I${SRCDIR}/../kmod/core
#include <stdlib.h>
#include "tparams.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Param identifies a transport parameter the engine understands.
type Param uint

// The transport parameters, in the engine's order (enum tquic_tp_bit).
const (
	ParamOriginalDestinationConnectionID Param = C.TQUIC_TPB_ORIGINAL_DCID
	ParamMaxIdleTimeout                  Param = C.TQUIC_TPB_MAX_IDLE_TIMEOUT
	ParamStatelessResetToken             Param = C.TQUIC_TPB_STATELESS_RESET_TOKEN
	ParamMaxUDPPayloadSize               Param = C.TQUIC_TPB_MAX_UDP_PAYLOAD_SIZE
	ParamInitialMaxData                  Param = C.TQUIC_TPB_INITIAL_MAX_DATA
	ParamInitialMaxStreamDataBidiLocal   Param = C.TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL
	ParamInitialMaxStreamDataBidiRemote  Param = C.TQUIC_TPB_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE
	ParamInitialMaxStreamDataUni         Param = C.TQUIC_TPB_INITIAL_MAX_STREAM_DATA_UNI
	ParamInitialMaxStreamsBidi           Param = C.TQUIC_TPB_INITIAL_MAX_STREAMS_BIDI
	ParamInitialMaxStreamsUni            Param = C.TQUIC_TPB_INITIAL_MAX_STREAMS_UNI
	ParamAckDelayExponent                Param = C.TQUIC_TPB_ACK_DELAY_EXPONENT
	ParamMaxAckDelay                     Param = C.TQUIC_TPB_MAX_ACK_DELAY
	ParamDisableActiveMigration          Param = C.TQUIC_TPB_DISABLE_ACTIVE_MIGRATION
	ParamPreferredAddress                Param = C.TQUIC_TPB_PREFERRED_ADDRESS
	ParamActiveConnectionIDLimit         Param = C.TQUIC_TPB_ACTIVE_CONNECTION_ID_LIMIT
	ParamInitialSourceConnectionID       Param = C.TQUIC_TPB_INITIAL_SCID
	ParamRetrySourceConnectionID         Param = C.TQUIC_TPB_RETRY_SCID
	ParamVersionInformation              Param = C.TQUIC_TPB_VERSION_INFORMATION
	ParamResetStreamAt                   Param = C.TQUIC_TPB_RESET_STREAM_AT
	ParamMaxDatagramFrameSize            Param = C.TQUIC_TPB_MAX_DATAGRAM_FRAME_SIZE
	ParamInitialMaxPathID                Param = C.TQUIC_TPB_INITIAL_MAX_PATH_ID
	ParamMinAckDelay                     Param = C.TQUIC_TPB_MIN_ACK_DELAY
	ParamAccurateAckECN                  Param = C.TQUIC_TPB_ACCURATE_ACK_ECN
	paramCount                                 = C.TQUIC_TPB_COUNT
	maxVersions                                = C.TQUIC_TP_MAX_VERSIONS
	tpEncodeBound                              = 4096
	tpDefaultMaxUDPPayloadSize                 = C.TQUIC_TP_DEFAULT_MAX_UDP_PAYLOAD_SIZE
	tpDefaultAckDelayExponent                  = C.TQUIC_TP_DEFAULT_ACK_DELAY_EXPONENT
	tpDefaultMaxAckDelay                       = C.TQUIC_TP_DEFAULT_MAX_ACK_DELAY
	tpDefaultActiveConnectionIDLimit           = C.TQUIC_TP_DEFAULT_ACTIVE_CID_LIMIT
	paramIDMinAckDelay                         = uint64(C.TQUIC_TP_MIN_ACK_DELAY)
	paramIDAccurateAckECN                      = uint64(C.TQUIC_TP_ACCURATE_ACK_ECN)
	paramIDInitialMaxPathID                    = uint64(C.TQUIC_TP_INITIAL_MAX_PATH_ID)
	paramIDVersionInformation                  = uint64(C.TQUIC_TP_VERSION_INFORMATION)
	paramIDMaxDatagramFrameSize                = uint64(C.TQUIC_TP_MAX_DATAGRAM_FRAME_SIZE)
	paramIDResetStreamAt                       = uint64(C.TQUIC_TP_RESET_STREAM_AT)
)

// ParamSet is a set of Params.
type ParamSet uint32

// Has reports whether p is in s.
func (s ParamSet) Has(p Param) bool { return s&(1<<p) != 0 }

// With returns s with the params ps added.
func (s ParamSet) With(ps ...Param) ParamSet {
	for _, p := range ps {
		s |= 1 << p
	}
	return s
}

// PreferredAddress is the preferred_address transport parameter.
type PreferredAddress struct {
	IPv4                [4]byte
	IPv4Port            uint16
	IPv6                [16]byte
	IPv6Port            uint16
	ConnectionID        []byte
	StatelessResetToken [16]byte
}

// VersionInformation is the version_information transport parameter (RFC
// 9368).  Decoding keeps at most 16 Available Versions; AvailableCount is
// the number on the wire.
type VersionInformation struct {
	Chosen         uint32
	Available      []uint32
	AvailableCount int
}

// GreaseParam is a reserved transport parameter (ID 31*N+27) to send.
type GreaseParam struct {
	N     uint64
	Value []byte
}

// TransportParams are QUIC transport parameters.  Present lists the
// parameters sent; fields of absent parameters hold the RFC 9000 defaults
// after decoding and are not encoded.  Times are in milliseconds except
// MinAckDelay (microseconds).
type TransportParams struct {
	// Server is true for the parameters of a server: decoding and
	// encoding apply the server-only rules accordingly.
	Server  bool
	Present ParamSet

	OriginalDestinationConnectionID []byte
	MaxIdleTimeout                  uint64
	StatelessResetToken             [16]byte
	MaxUDPPayloadSize               uint64
	InitialMaxData                  uint64
	InitialMaxStreamDataBidiLocal   uint64
	InitialMaxStreamDataBidiRemote  uint64
	InitialMaxStreamDataUni         uint64
	InitialMaxStreamsBidi           uint64
	InitialMaxStreamsUni            uint64
	AckDelayExponent                uint64
	MaxAckDelay                     uint64
	PreferredAddress                PreferredAddress
	ActiveConnectionIDLimit         uint64
	InitialSourceConnectionID       []byte
	RetrySourceConnectionID         []byte
	VersionInformation              VersionInformation
	MaxDatagramFrameSize            uint64
	InitialMaxPathID                uint64
	MinAckDelay                     uint64

	// Grease, if not nil, is appended by Encode.
	Grease *GreaseParam
}

// DisableActiveMigration reports whether disable_active_migration was sent.
func (tp *TransportParams) DisableActiveMigration() bool {
	return tp.Present.Has(ParamDisableActiveMigration)
}

// NewTransportParams returns parameters with the RFC 9000 defaults and none
// present.
func NewTransportParams(server bool) *TransportParams {
	return &TransportParams{
		Server:                  server,
		MaxUDPPayloadSize:       tpDefaultMaxUDPPayloadSize,
		AckDelayExponent:        tpDefaultAckDelayExponent,
		MaxAckDelay:             tpDefaultMaxAckDelay,
		ActiveConnectionIDLimit: tpDefaultActiveConnectionIDLimit,
	}
}

func cidFromC(c *C.struct_tquic_tp_cid) []byte {
	return C.GoBytes(unsafe.Pointer(&c.id[0]), C.int(c.len))
}

func cidToC(c *C.struct_tquic_tp_cid, b []byte, name string) error {
	if len(b) > len(c.id) {
		return fmt.Errorf("%s of %d bytes", name, len(b))
	}
	c.len = C.u8(len(b))
	for i, x := range b {
		c.id[i] = C.u8(x)
	}
	return nil
}

func bytesFromC(dst []byte, src []C.u8) {
	for i := range dst {
		dst[i] = byte(src[i])
	}
}

func bytesToC(dst []C.u8, src []byte) {
	for i := range src {
		dst[i] = C.u8(src[i])
	}
}

// DecodeTransportParams decodes a quic_transport_parameters extension sent
// by a server (fromServer) or a client, applying the validation rules of
// RFC 9000 section 18.2 and the extensions.  Errors carry the QUIC error
// code TRANSPORT_PARAMETER_ERROR (see ErrorCode).
func DecodeTransportParams(b []byte, fromServer bool) (*TransportParams, error) {
	var ctp C.struct_tquic_transport_params
	var why *C.char
	p := cBytes(b)
	defer C.free(p)
	if rc := C.tquic_tp_decode((*C.u8)(p), C.size_t(len(b)), C.bool(fromServer), &ctp, &why); rc != 0 {
		return nil, fmt.Errorf("decode transport parameters: %w",
			&WireError{Code: uint64(rc), Reason: C.GoString(why)})
	}
	tp := &TransportParams{
		Server:                          fromServer,
		Present:                         ParamSet(ctp.present),
		OriginalDestinationConnectionID: cidFromC(&ctp.original_dcid),
		MaxIdleTimeout:                  uint64(ctp.max_idle_timeout),
		MaxUDPPayloadSize:               uint64(ctp.max_udp_payload_size),
		InitialMaxData:                  uint64(ctp.initial_max_data),
		InitialMaxStreamDataBidiLocal:   uint64(ctp.initial_max_stream_data_bidi_local),
		InitialMaxStreamDataBidiRemote:  uint64(ctp.initial_max_stream_data_bidi_remote),
		InitialMaxStreamDataUni:         uint64(ctp.initial_max_stream_data_uni),
		InitialMaxStreamsBidi:           uint64(ctp.initial_max_streams_bidi),
		InitialMaxStreamsUni:            uint64(ctp.initial_max_streams_uni),
		AckDelayExponent:                uint64(ctp.ack_delay_exponent),
		MaxAckDelay:                     uint64(ctp.max_ack_delay),
		ActiveConnectionIDLimit:         uint64(ctp.active_connection_id_limit),
		InitialSourceConnectionID:       cidFromC(&ctp.initial_scid),
		RetrySourceConnectionID:         cidFromC(&ctp.retry_scid),
		MaxDatagramFrameSize:            uint64(ctp.max_datagram_frame_size),
		InitialMaxPathID:                uint64(ctp.initial_max_path_id),
		MinAckDelay:                     uint64(ctp.min_ack_delay),
	}
	bytesFromC(tp.StatelessResetToken[:], ctp.stateless_reset_token[:])
	if tp.Present.Has(ParamPreferredAddress) {
		pa := &ctp.preferred_address
		bytesFromC(tp.PreferredAddress.IPv4[:], pa.ipv4[:])
		bytesFromC(tp.PreferredAddress.IPv6[:], pa.ipv6[:])
		tp.PreferredAddress.IPv4Port = uint16(pa.ipv4_port)
		tp.PreferredAddress.IPv6Port = uint16(pa.ipv6_port)
		tp.PreferredAddress.ConnectionID = cidFromC(&pa.cid)
		bytesFromC(tp.PreferredAddress.StatelessResetToken[:], pa.reset_token[:])
	}
	if tp.Present.Has(ParamVersionInformation) {
		vi := &ctp.version_info
		tp.VersionInformation.Chosen = uint32(vi.chosen)
		tp.VersionInformation.AvailableCount = int(vi.n_available)
		tp.VersionInformation.Available = []uint32{}
		for i := 0; i < int(vi.n_available) && i < maxVersions; i++ {
			tp.VersionInformation.Available = append(tp.VersionInformation.Available, uint32(vi.available[i]))
		}
	}
	return tp, nil
}

// Encode returns the quic_transport_parameters extension for the present
// parameters, as a server or a client according to tp.Server, followed by
// tp.Grease.  Invalid values and server-only parameters in a client's set
// are refused.
func (tp *TransportParams) Encode() ([]byte, error) {
	var ctp C.struct_tquic_transport_params
	C.tquic_tp_init(&ctp)
	if tp.Present>>paramCount != 0 {
		return nil, fmt.Errorf("encode transport parameters: unknown params in set %#x", uint32(tp.Present))
	}
	ctp.present = C.u32(tp.Present)
	ints := []struct {
		dst *C.u64
		v   uint64
	}{
		{&ctp.max_idle_timeout, tp.MaxIdleTimeout},
		{&ctp.max_udp_payload_size, tp.MaxUDPPayloadSize},
		{&ctp.initial_max_data, tp.InitialMaxData},
		{&ctp.initial_max_stream_data_bidi_local, tp.InitialMaxStreamDataBidiLocal},
		{&ctp.initial_max_stream_data_bidi_remote, tp.InitialMaxStreamDataBidiRemote},
		{&ctp.initial_max_stream_data_uni, tp.InitialMaxStreamDataUni},
		{&ctp.initial_max_streams_bidi, tp.InitialMaxStreamsBidi},
		{&ctp.initial_max_streams_uni, tp.InitialMaxStreamsUni},
		{&ctp.ack_delay_exponent, tp.AckDelayExponent},
		{&ctp.max_ack_delay, tp.MaxAckDelay},
		{&ctp.active_connection_id_limit, tp.ActiveConnectionIDLimit},
		{&ctp.max_datagram_frame_size, tp.MaxDatagramFrameSize},
		{&ctp.initial_max_path_id, tp.InitialMaxPathID},
		{&ctp.min_ack_delay, tp.MinAckDelay},
	}
	for _, x := range ints {
		*x.dst = C.u64(x.v)
	}
	for _, c := range []struct {
		dst  *C.struct_tquic_tp_cid
		b    []byte
		name string
	}{
		{&ctp.original_dcid, tp.OriginalDestinationConnectionID, "original_destination_connection_id"},
		{&ctp.initial_scid, tp.InitialSourceConnectionID, "initial_source_connection_id"},
		{&ctp.retry_scid, tp.RetrySourceConnectionID, "retry_source_connection_id"},
		{&ctp.preferred_address.cid, tp.PreferredAddress.ConnectionID, "preferred_address connection ID"},
	} {
		if err := cidToC(c.dst, c.b, c.name); err != nil {
			return nil, fmt.Errorf("encode transport parameters: %w", err)
		}
	}
	bytesToC(ctp.stateless_reset_token[:], tp.StatelessResetToken[:])
	pa := &ctp.preferred_address
	bytesToC(pa.ipv4[:], tp.PreferredAddress.IPv4[:])
	bytesToC(pa.ipv6[:], tp.PreferredAddress.IPv6[:])
	pa.ipv4_port, pa.ipv6_port = C.u16(tp.PreferredAddress.IPv4Port), C.u16(tp.PreferredAddress.IPv6Port)
	bytesToC(pa.reset_token[:], tp.PreferredAddress.StatelessResetToken[:])
	vi := &tp.VersionInformation
	if len(vi.Available) > maxVersions {
		return nil, fmt.Errorf("encode transport parameters: %d available versions, at most %d",
			len(vi.Available), maxVersions)
	}
	ctp.version_info.chosen = C.u32(vi.Chosen)
	ctp.version_info.n_available = C.u32(len(vi.Available))
	for i, v := range vi.Available {
		ctp.version_info.available[i] = C.u32(v)
	}

	var grease *C.struct_tquic_tp_grease
	if tp.Grease != nil {
		gv := cBytes(tp.Grease.Value)
		defer C.free(gv)
		grease = (*C.struct_tquic_tp_grease)(C.malloc(C.size_t(unsafe.Sizeof(C.struct_tquic_tp_grease{}))))
		defer C.free(unsafe.Pointer(grease))
		grease.n, grease.value, grease.len = C.u64(tp.Grease.N), (*C.u8)(gv), C.size_t(len(tp.Grease.Value))
	}
	bound := tpEncodeBound
	if tp.Grease != nil {
		bound += len(tp.Grease.Value)
	}
	out := C.malloc(C.size_t(bound))
	defer C.free(out)
	var w C.struct_tquic_wbuf
	C.tquic_wbuf_init(&w, (*C.u8)(out), C.size_t(bound))
	rc := C.tquic_tp_encode(&w, &ctp, C.bool(tp.Server), grease)
	if rc < 0 {
		return nil, fmt.Errorf("encode transport parameters: invalid parameter set (engine error %d)", int(rc))
	}
	return C.GoBytes(out, rc), nil
}
