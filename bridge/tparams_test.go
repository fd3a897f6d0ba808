package bridge

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// serverParamsHex is a server's full parameter set, hand-encoded from RFC
// 9000 section 18.2, RFC 9368 section 3, RFC 9221, the multipath,
// ack-frequency, reliable-reset and accurate-ack-ecn drafts, in ID order.
const serverParamsHex = "" +
	"00 08 8394c8f03e515708" + // original_destination_connection_id
	"01 04 80007530" + // max_idle_timeout 30000
	"02 10 000102030405060708090a0b0c0d0e0f" + // stateless_reset_token
	"03 02 45c0" + // max_udp_payload_size 1472
	"04 04 80100000" + // initial_max_data 1 MiB
	"05 04 80040000" + // initial_max_stream_data_bidi_local 256 KiB
	"06 04 80040000" + // initial_max_stream_data_bidi_remote
	"07 04 80040000" + // initial_max_stream_data_uni
	"08 02 4064" + // initial_max_streams_bidi 100
	"09 01 03" + // initial_max_streams_uni 3
	"0a 01 08" + // ack_delay_exponent 8
	"0b 01 19" + // max_ack_delay 25
	"0c 00" + // disable_active_migration
	"0d 31 c0000201 01bb 20010db8000000000000000000000001 01bb 08 0102030405060708 f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff" + // preferred_address
	"0e 01 04" + // active_connection_id_limit 4
	"0f 04 01020304" + // initial_source_connection_id
	"10 04 05060708" + // retry_source_connection_id
	"11 0c 00000001 00000001 6b3343cf" + // version_information v1; v1, v2
	"1d 00" + // reset_stream_at
	"20 02 4578" + // max_datagram_frame_size 1400
	"3e 01 03" + // initial_max_path_id 3
	"c0000000ff04de1b 02 43e8" + // min_ack_delay 1000 us
	"c02051a5fa8648af 00" + // accurate_ack_ecn
	"3a 02 abcd" // grease 31*1+27

func serverParams() *TransportParams {
	tp := NewTransportParams(true)
	tp.Present = ParamSet(0).With(ParamOriginalDestinationConnectionID, ParamMaxIdleTimeout,
		ParamStatelessResetToken, ParamMaxUDPPayloadSize, ParamInitialMaxData,
		ParamInitialMaxStreamDataBidiLocal, ParamInitialMaxStreamDataBidiRemote,
		ParamInitialMaxStreamDataUni, ParamInitialMaxStreamsBidi, ParamInitialMaxStreamsUni,
		ParamAckDelayExponent, ParamMaxAckDelay, ParamDisableActiveMigration, ParamPreferredAddress,
		ParamActiveConnectionIDLimit, ParamInitialSourceConnectionID, ParamRetrySourceConnectionID,
		ParamVersionInformation, ParamResetStreamAt, ParamMaxDatagramFrameSize, ParamInitialMaxPathID,
		ParamMinAckDelay, ParamAccurateAckECN)
	tp.OriginalDestinationConnectionID = testCID
	tp.MaxIdleTimeout = 30000
	tp.StatelessResetToken = testToken
	tp.MaxUDPPayloadSize = 1472
	tp.InitialMaxData = 1 << 20
	tp.InitialMaxStreamDataBidiLocal = 256 << 10
	tp.InitialMaxStreamDataBidiRemote = 256 << 10
	tp.InitialMaxStreamDataUni = 256 << 10
	tp.InitialMaxStreamsBidi = 100
	tp.InitialMaxStreamsUni = 3
	tp.AckDelayExponent = 8
	tp.MaxAckDelay = 25
	tp.PreferredAddress = PreferredAddress{
		IPv4: [4]byte{192, 0, 2, 1}, IPv4Port: 443,
		IPv6:     [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1},
		IPv6Port: 443, ConnectionID: []byte{1, 2, 3, 4, 5, 6, 7, 8},
		StatelessResetToken: [16]byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff},
	}
	tp.ActiveConnectionIDLimit = 4
	tp.InitialSourceConnectionID = []byte{1, 2, 3, 4}
	tp.RetrySourceConnectionID = []byte{5, 6, 7, 8}
	tp.VersionInformation = VersionInformation{Chosen: 1, Available: []uint32{1, 0x6b3343cf}, AvailableCount: 2}
	tp.MaxDatagramFrameSize = 1400
	tp.InitialMaxPathID = 3
	tp.MinAckDelay = 1000
	return tp
}

func TestTransportParamsServerVector(t *testing.T) {
	want := hx(t, serverParamsHex)
	tp := serverParams()
	tp.Grease = &GreaseParam{N: 1, Value: []byte{0xab, 0xcd}}
	enc, err := tp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, want) {
		t.Fatalf("encode:\n got %x\nwant %x", enc, want)
	}
	got, err := DecodeTransportParams(want, true)
	if err != nil {
		t.Fatal(err)
	}
	tp.Grease = nil
	if !reflect.DeepEqual(got, tp) {
		t.Fatalf("decode:\n got %+v\nwant %+v", got, tp)
	}
	if !got.DisableActiveMigration() {
		t.Fatal("disable_active_migration lost")
	}
	// The same set is refused from a client (server-only parameters).
	if _, err := DecodeTransportParams(want, false); err == nil {
		t.Fatal("client accepted with server-only parameters")
	}
	tp.Server = false
	if _, err := tp.Encode(); err == nil {
		t.Fatal("client encoded server-only parameters")
	}
}

func TestTransportParamsDefaults(t *testing.T) {
	tp, err := DecodeTransportParams(hx(t, "0f 00"), false)
	if err != nil {
		t.Fatal(err)
	}
	want := NewTransportParams(false)
	want.Present = ParamSet(0).With(ParamInitialSourceConnectionID)
	want.InitialSourceConnectionID = []byte{}
	want.OriginalDestinationConnectionID = []byte{}
	want.RetrySourceConnectionID = []byte{}
	if !reflect.DeepEqual(tp, want) {
		t.Fatalf("got %+v\nwant %+v", tp, want)
	}
	if tp.MaxUDPPayloadSize != 65527 || tp.AckDelayExponent != 3 || tp.MaxAckDelay != 25 ||
		tp.ActiveConnectionIDLimit != 2 || tp.MaxIdleTimeout != 0 || tp.InitialMaxData != 0 {
		t.Fatalf("defaults: %+v", tp)
	}
}

// Unknown and reserved parameters are skipped, even when repeated.
func TestTransportParamsIgnored(t *testing.T) {
	b := hx(t, "0f 00 1b 00 3a 03 010203 3a 00 7fff 01 00 4abc 02 0102 4abc 00 80007a3b 00"+
		" c000000000000027 00") // grease 27, 58 twice; unknown 16383, 0xabc twice, 31291, 39
	tp, err := DecodeTransportParams(b, false)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Present != ParamSet(0).With(ParamInitialSourceConnectionID) {
		t.Fatalf("present %#x", tp.Present)
	}
}

// Version information keeps 16 Available Versions and counts the rest.
func TestTransportParamsManyVersions(t *testing.T) {
	var b []byte
	b = append(b, 0x11, 0x40, 4*21)
	for i := 1; i <= 21; i++ {
		b = append(b, 0, 0, 0, byte(i))
	}
	b = append(b, 0x0f, 0)
	tp, err := DecodeTransportParams(b, false)
	if err != nil {
		t.Fatal(err)
	}
	vi := tp.VersionInformation
	if vi.Chosen != 1 || vi.AvailableCount != 20 || len(vi.Available) != 16 || vi.Available[15] != 17 {
		t.Fatalf("version information %+v", vi)
	}
}

const (
	client, server = false, true
	cbase          = "0f 00 "                // a valid client set
	sbase          = "00 04 01020304 0f 00 " // a valid server set
)

// tpValidationVectors are parameter sets, valid or not; every invalid one
// must fail with TRANSPORT_PARAMETER_ERROR.
var tpValidationVectors = []struct {
	name   string
	server bool
	wire   string
	ok     bool
}{
	{"minimal-client", client, cbase, true},
	{"minimal-server", server, sbase, true},
	{"empty", client, "", false},
	{"missing-initial-scid", client, "01 01 05", false},
	{"server-missing-original-dcid", server, "0f 00", false},
	{"truncated-id", client, cbase + "40", false},
	{"truncated-length", client, cbase + "01", false},
	{"value-beyond-end", client, cbase + "01 04 0102", false},
	{"duplicate", client, cbase + "01 01 05 01 01 05", false},
	{"duplicate-non-minimal-id", client, cbase + "01 01 05 4001 01 05", false},
	{"duplicate-cid", client, cbase + "0f 00", false},
	{"int-empty", client, cbase + "01 00", false},
	{"int-trailing-byte", client, cbase + "01 02 05 00", false},
	{"int-truncated-varint", client, cbase + "01 01 40", false},
	{"max-udp-payload-1199", client, cbase + "03 02 44af", false},
	{"max-udp-payload-1200", client, cbase + "03 02 44b0", true},
	{"ack-delay-exponent-21", client, cbase + "0a 01 15", false},
	{"ack-delay-exponent-20", client, cbase + "0a 01 14", true},
	{"max-ack-delay-2^14", client, cbase + "0b 04 80004000", false},
	{"max-ack-delay-2^14-1", client, cbase + "0b 02 7fff", true},
	{"active-cid-limit-0", client, cbase + "0e 01 00", false},
	{"active-cid-limit-1", client, cbase + "0e 01 01", false},
	{"active-cid-limit-2", client, cbase + "0e 01 02", true},
	{"max-streams-bidi-2^60+1", client, cbase + "08 08 d000000000000001", false},
	{"max-streams-uni-2^60+1", client, cbase + "09 08 d000000000000001", false},
	{"max-streams-bidi-2^60", client, cbase + "08 08 d000000000000000", true},
	{"client-original-dcid", client, cbase + "00 04 01020304", false},
	{"client-stateless-reset-token", client, cbase + "02 10 " + testTokenHex, false},
	{"client-preferred-address", client, cbase + "0d 31 c0000201 01bb 20010db8000000000000000000000001 01bb 08 0102030405060708 " + testTokenHex, false},
	{"client-retry-scid", client, cbase + "10 04 01020304", false},
	{"server-stateless-reset-token", server, sbase + "02 10 " + testTokenHex, true},
	{"server-stateless-reset-token-15", server, sbase + "02 0f " + testTokenHex[:30], false},
	{"server-stateless-reset-token-17", server, sbase + "02 11 " + testTokenHex + "00", false},
	{"server-retry-scid", server, sbase + "10 00", true},
	{"preferred-address", server, sbase + "0d 31 c0000201 01bb 20010db8000000000000000000000001 01bb 08 0102030405060708 " + testTokenHex, true},
	{"preferred-address-zero-cid", server, sbase + "0d 29 c0000201 01bb 20010db8000000000000000000000001 01bb 00 " + testTokenHex, false},
	{"preferred-address-cid-21", server, sbase + "0d 3e c0000201 01bb 20010db8000000000000000000000001 01bb 15 " + strings.Repeat("aa", 21) + testTokenHex, false},
	{"preferred-address-extra-byte", server, sbase + "0d 32 c0000201 01bb 20010db8000000000000000000000001 01bb 08 0102030405060708 " + testTokenHex + "00", false},
	{"preferred-address-short", server, sbase + "0d 30 c0000201 01bb 20010db8000000000000000000000001 01bb 08 0102030405060708 " + testTokenHex[:30], false},
	{"preferred-address-truncated-fixed", server, sbase + "0d 05 c0000201 01", false},
	{"original-dcid-21", server, "00 15 " + strings.Repeat("aa", 21) + " 0f 00", false},
	{"initial-scid-21", client, "0f 15 " + strings.Repeat("aa", 21), false},
	{"initial-scid-20", client, "0f 14 " + strings.Repeat("aa", 20), true},
	{"retry-scid-21", server, sbase + "10 15 " + strings.Repeat("aa", 21), false},
	{"disable-active-migration-non-empty", client, cbase + "0c 01 00", false},
	{"reset-stream-at-non-empty", client, cbase + "1d 01 00", false},
	{"accurate-ack-ecn-non-empty", client, cbase + "c02051a5fa8648af 01 00", false},
	{"version-info-empty", client, cbase + "11 00", false},
	{"version-info-len-5", client, cbase + "11 05 0000000100", false},
	{"version-info-len-6", client, cbase + "11 06 000000010000", false},
	{"version-info-chosen-0", client, cbase + "11 04 00000000", false},
	{"version-info-available-0", client, cbase + "11 0c 00000001 00000001 00000000", false},
	{"version-info-chosen-only", server, sbase + "11 04 6b3343cf", true},
	{"initial-max-path-id-2^32", client, cbase + "3e 08 c000000100000000", false},
	{"initial-max-path-id-2^32-1", client, cbase + "3e 08 c0000000ffffffff", true},
	{"min-ack-delay-above-default-max", client, cbase + "c0000000ff04de1b 04 800061a9", false},
	{"min-ack-delay-equal-default-max", client, cbase + "c0000000ff04de1b 04 800061a8", true},
	{"min-ack-delay-above-max", client, cbase + "0b 01 0a c0000000ff04de1b 04 80002711", false},
	{"min-ack-delay-above-max-after", client, cbase + "c0000000ff04de1b 04 80002711 0b 01 0a", false},
	{"min-ack-delay-equal-max", client, cbase + "c0000000ff04de1b 04 80002710 0b 01 0a", true},
	{"max-datagram-frame-size", client, cbase + "20 01 00", true},
}

func TestTransportParamsValidation(t *testing.T) {
	for _, tc := range tpValidationVectors {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := DecodeTransportParams(hx(t, tc.wire), tc.server)
			if tc.ok {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				// Valid sets survive an encode/decode round trip.
				enc, err := tp.Encode()
				if err != nil {
					t.Fatalf("re-encode: %v", err)
				}
				again, err := DecodeTransportParams(enc, tc.server)
				if err != nil || !reflect.DeepEqual(again, tp) {
					t.Fatalf("round trip: %+v, %v\nwant %+v", again, err, tp)
				}
				return
			}
			if code, ok := ErrorCode(err); !ok || code != CodeTransportParameterError {
				t.Fatalf("err %v, want TRANSPORT_PARAMETER_ERROR", err)
			}
		})
	}
}

func TestTransportParamsEncodeInvalid(t *testing.T) {
	tests := []struct {
		name string
		mod  func(tp *TransportParams)
	}{
		{"max-udp-payload", func(tp *TransportParams) { tp.MaxUDPPayloadSize = 1000 }},
		{"ack-delay-exponent", func(tp *TransportParams) { tp.AckDelayExponent = 21 }},
		{"max-ack-delay", func(tp *TransportParams) { tp.MaxAckDelay = 1 << 14 }},
		{"active-cid-limit", func(tp *TransportParams) { tp.ActiveConnectionIDLimit = 1 }},
		{"max-streams", func(tp *TransportParams) { tp.InitialMaxStreamsUni = 1<<60 + 1 }},
		{"max-data-above-2^62", func(tp *TransportParams) { tp.InitialMaxData = 1 << 62 }},
		{"path-id", func(tp *TransportParams) { tp.InitialMaxPathID = 1 << 32 }},
		{"min-ack-delay", func(tp *TransportParams) { tp.MinAckDelay = 25001 }},
		{"preferred-address-zero-cid", func(tp *TransportParams) { tp.PreferredAddress.ConnectionID = nil }},
		{"preferred-address-cid-21", func(tp *TransportParams) { tp.PreferredAddress.ConnectionID = make([]byte, 21) }},
		{"original-dcid-21", func(tp *TransportParams) { tp.OriginalDestinationConnectionID = make([]byte, 21) }},
		{"version-chosen-0", func(tp *TransportParams) { tp.VersionInformation.Chosen = 0 }},
		{"version-available-0", func(tp *TransportParams) { tp.VersionInformation.Available = []uint32{1, 0} }},
		{"version-available-17", func(tp *TransportParams) { tp.VersionInformation.Available = make([]uint32, 17) }},
		{"grease-id-above-2^62", func(tp *TransportParams) { tp.Grease = &GreaseParam{N: 1 << 58} }},
		{"unknown-param-bit", func(tp *TransportParams) { tp.Present |= 1 << 31 }},
	}
	if _, err := serverParams().Encode(); err != nil {
		t.Fatalf("base set: %v", err)
	}
	for _, tc := range tests {
		tp := serverParams()
		tc.mod(tp)
		if b, err := tp.Encode(); err == nil {
			t.Errorf("%s: encoded %x", tc.name, b)
		}
	}
	// Absent parameters are not checked: their defaults apply.
	tp := NewTransportParams(false)
	tp.Present = ParamSet(0).With(ParamInitialSourceConnectionID)
	tp.MaxUDPPayloadSize = 1
	if _, err := tp.Encode(); err != nil {
		t.Fatalf("absent invalid value was checked: %v", err)
	}
}
