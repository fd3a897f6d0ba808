// Package webtransport implements WebTransport over HTTP/3
// (draft-ietf-webtrans-http3, drafts -13/-14 and the editor's copy, plus
// Chromium's draft-02 compatibility mode) on top of pkg/h3.
//
// A session is an extended CONNECT request (:protocol "webtransport-h3" or
// "webtransport"). Its request stream carries capsules (WT_CLOSE_SESSION,
// WT_DRAIN_SESSION and the session flow-control capsules); bidirectional
// streams start with the signal 0x41 and the session ID, unidirectional
// streams with the stream type 0x54 and the session ID; datagrams are HTTP
// datagrams bound to the CONNECT stream (Quarter Stream ID, no context ID).
//
// Servers wrap an h3.Server with Server.ConfigureH3 and call
// Server.Upgrade from an http.Handler; clients use Dialer.Dial.
package webtransport

// HTTP/3 SETTINGS that announce and configure WebTransport.
const (
	// SettingEnableWebTransportDraft02 is SETTINGS_ENABLE_WEBTRANSPORT of
	// drafts -02 to -06, still sent by Chromium's default mode.
	SettingEnableWebTransportDraft02 = 0x2b603742
	// SettingMaxSessionsDraft07 is SETTINGS_WEBTRANSPORT_MAX_SESSIONS of
	// drafts -07 to -12.
	SettingMaxSessionsDraft07 = 0xc671706a
	// SettingWTMaxSessions is SETTINGS_WT_MAX_SESSIONS of drafts -13/-14.
	SettingWTMaxSessions = 0x14e9cd29
	// SettingWTEnabled is SETTINGS_WT_ENABLED of the editor's copy (-15).
	SettingWTEnabled = 0x2c7cf000
	// SettingWTInitialMaxData is SETTINGS_WT_INITIAL_MAX_DATA.
	SettingWTInitialMaxData = 0x2b61
	// SettingWTInitialMaxStreamsUni is SETTINGS_WT_INITIAL_MAX_STREAMS_UNI.
	SettingWTInitialMaxStreamsUni = 0x2b64
	// SettingWTInitialMaxStreamsBidi is SETTINGS_WT_INITIAL_MAX_STREAMS_BIDI.
	SettingWTInitialMaxStreamsBidi = 0x2b65
	// settingH3DatagramDraft04 is the H3_DATAGRAM codepoint of
	// draft-ietf-masque-h3-datagram-04/-05, which Chromium's draft-02 mode
	// also sends.
	settingH3DatagramDraft04 = 0xffd277
)

// Extended CONNECT :protocol tokens.
const (
	// ProtocolH3 is the token of the editor's copy (-15 and later).
	ProtocolH3 = "webtransport-h3"
	// ProtocolLegacy is the token of drafts up to -14 and of Chromium's
	// draft-02 mode.
	ProtocolLegacy = "webtransport"
)

// Draft-02 compatibility headers (Chromium).
const (
	headerDraft02Request  = "Sec-Webtransport-Http3-Draft02"
	headerDraft02Response = "Sec-Webtransport-Http3-Draft"
	draft02Value          = "draft02"
)

// Stream signals.
const (
	// StreamTypeUni starts a WebTransport unidirectional stream.
	StreamTypeUni = 0x54
	// FrameTypeBidi (WT_STREAM) starts a WebTransport bidirectional stream.
	FrameTypeBidi = 0x41
)

// maxStreamsLimit is the largest stream count WT_MAX_STREAMS may carry.
const maxStreamsLimit = 1 << 60

// maxCloseMessage is the longest WT_CLOSE_SESSION message.
const maxCloseMessage = 1024

// isProtocol reports whether p is a WebTransport :protocol token.
func isProtocol(p string) bool { return p == ProtocolH3 || p == ProtocolLegacy }

// validSessionID reports whether id can be a session ID: the ID of a
// client-initiated bidirectional stream.
func validSessionID(id uint64) bool { return id%4 == 0 }
