//go:build ignore

// Input to cgo -godefs: generates zuapi_linux.go from the UAPI headers.

package uapi

/*
#include <linux/tquic.h>
#include <linux/quic.h>
*/
import "C"

// Socket API.
const (
	IPPROTO_QUIC = C.TQUIC_IPPROTO_QUIC
	SOL_QUIC     = C.TQUIC_SOL_QUIC
)

// Generic netlink family.
const (
	GenlName        = C.TQUIC_GENL_NAME
	GenlVersion     = C.TQUIC_GENL_VERSION
	GenlMcgrpEvents = C.TQUIC_GENL_MCGRP_EVENTS
	GenlMcgrpQlog   = C.TQUIC_GENL_MCGRP_QLOG
)

// Generic netlink commands.
const (
	CmdGetInfo     = C.TQUIC_CMD_GET_INFO
	CmdSelftest    = C.TQUIC_CMD_SELFTEST
	CmdConfigGet   = C.TQUIC_CMD_CONFIG_GET
	CmdConfigSet   = C.TQUIC_CMD_CONFIG_SET
	CmdEventConfig = C.TQUIC_CMD_EVENT_CONFIG
	CmdConnGet     = C.TQUIC_CMD_CONN_GET
	CmdPathGet     = C.TQUIC_CMD_PATH_GET
	CmdEventConn   = C.TQUIC_CMD_EVENT_CONN
	CmdQlog        = C.TQUIC_CMD_QLOG
)

// Generic netlink attributes.
const (
	AttrVersion        = C.TQUIC_A_VERSION
	AttrBuildID        = C.TQUIC_A_BUILD_ID
	AttrCrypto         = C.TQUIC_A_CRYPTO
	AttrSelftestPassed = C.TQUIC_A_SELFTEST_PASSED
	AttrSelftestFailed = C.TQUIC_A_SELFTEST_FAILED
	AttrConfig         = C.TQUIC_A_CONFIG
	AttrCCAvailable    = C.TQUIC_A_CC_AVAILABLE
	AttrCCName         = C.TQUIC_A_CC_NAME
	AttrPad            = C.TQUIC_A_PAD
	AttrID             = C.TQUIC_A_ID
	AttrConn           = C.TQUIC_A_CONN
	AttrPath           = C.TQUIC_A_PATH
	AttrEvent          = C.TQUIC_A_EVENT
	AttrQlog           = C.TQUIC_A_QLOG
	AttrMax            = C.TQUIC_A_MAX

	AttrCryptoAlg       = C.TQUIC_A_CRYPTO_ALG
	AttrCryptoAlgName   = C.TQUIC_A_CRYPTO_ALG_NAME
	AttrCryptoAlgDriver = C.TQUIC_A_CRYPTO_ALG_DRIVER
)

// Per network namespace configuration attributes (nested in AttrConfig).
const (
	AttrConfigCC            = C.TQUIC_A_CONFIG_CC
	AttrConfigVersions      = C.TQUIC_A_CONFIG_VERSIONS
	AttrConfigPacing        = C.TQUIC_A_CONFIG_PACING
	AttrConfigECN           = C.TQUIC_A_CONFIG_ECN
	AttrConfigAmplification = C.TQUIC_A_CONFIG_AMPLIFICATION
	AttrConfigRetry         = C.TQUIC_A_CONFIG_RETRY
	AttrConfigIdleTimeoutMs = C.TQUIC_A_CONFIG_IDLE_TIMEOUT_MS
	AttrConfigCIDLen        = C.TQUIC_A_CONFIG_CID_LEN
	AttrConfigQlog          = C.TQUIC_A_CONFIG_QLOG

	ConfigMaxVersions = C.TQUIC_CONFIG_MAX_VERSIONS
	ConfigCCNameMax   = C.TQUIC_CONFIG_CC_NAME_MAX
)

// ECN modes.
const (
	ECNOff  = C.TQUIC_ECN_OFF
	ECNECT0 = C.TQUIC_ECN_ECT0
	ECNL4S  = C.TQUIC_ECN_L4S
)

// Retry policies.
const (
	RetryNever     = C.TQUIC_RETRY_NEVER
	RetryAlways    = C.TQUIC_RETRY_ALWAYS
	RetryUnderLoad = C.TQUIC_RETRY_UNDER_LOAD
)

// Connection attributes (nested in AttrConn).
const (
	AttrConnPad                = C.TQUIC_A_CONN_PAD
	AttrConnID                 = C.TQUIC_A_CONN_ID
	AttrConnState              = C.TQUIC_A_CONN_STATE
	AttrConnServer             = C.TQUIC_A_CONN_SERVER
	AttrConnVersion            = C.TQUIC_A_CONN_VERSION
	AttrConnLocalAddr          = C.TQUIC_A_CONN_LOCAL_ADDR
	AttrConnLocalPort          = C.TQUIC_A_CONN_LOCAL_PORT
	AttrConnPeerAddr           = C.TQUIC_A_CONN_PEER_ADDR
	AttrConnPeerPort           = C.TQUIC_A_CONN_PEER_PORT
	AttrConnALPN               = C.TQUIC_A_CONN_ALPN
	AttrConnCC                 = C.TQUIC_A_CONN_CC
	AttrConnCCState            = C.TQUIC_A_CONN_CC_STATE
	AttrConnPktsSent           = C.TQUIC_A_CONN_PKTS_SENT
	AttrConnPktsRecv           = C.TQUIC_A_CONN_PKTS_RECV
	AttrConnPktsLost           = C.TQUIC_A_CONN_PKTS_LOST
	AttrConnPktsDropped        = C.TQUIC_A_CONN_PKTS_DROPPED
	AttrConnBytesSent          = C.TQUIC_A_CONN_BYTES_SENT
	AttrConnBytesRecv          = C.TQUIC_A_CONN_BYTES_RECV
	AttrConnBytesLost          = C.TQUIC_A_CONN_BYTES_LOST
	AttrConnRTTMin             = C.TQUIC_A_CONN_RTT_MIN
	AttrConnRTTSmoothed        = C.TQUIC_A_CONN_RTT_SMOOTHED
	AttrConnRTTVar             = C.TQUIC_A_CONN_RTT_VAR
	AttrConnRTTLatest          = C.TQUIC_A_CONN_RTT_LATEST
	AttrConnCwnd               = C.TQUIC_A_CONN_CWND
	AttrConnSsthresh           = C.TQUIC_A_CONN_SSTHRESH
	AttrConnBytesInFlight      = C.TQUIC_A_CONN_BYTES_IN_FLIGHT
	AttrConnPacingRate         = C.TQUIC_A_CONN_PACING_RATE
	AttrConnKeyUpdates         = C.TQUIC_A_CONN_KEY_UPDATES
	AttrConnPTOCount           = C.TQUIC_A_CONN_PTO_COUNT
	AttrConnPaths              = C.TQUIC_A_CONN_PATHS
	AttrConnHandshakeConfirmed = C.TQUIC_A_CONN_HANDSHAKE_CONFIRMED
	AttrConnQlog               = C.TQUIC_A_CONN_QLOG
	AttrConnUDPTxDatagrams     = C.TQUIC_A_CONN_UDP_TX_DATAGRAMS
	AttrConnUDPTxBytes         = C.TQUIC_A_CONN_UDP_TX_BYTES
	AttrConnUDPRxDropped       = C.TQUIC_A_CONN_UDP_RX_DROPPED
	AttrConnMax                = C.TQUIC_A_CONN_MAX
)

// Connection states (AttrConnState).
const (
	ConnStatusIdle        = C.TQUIC_CONN_STATUS_IDLE
	ConnStatusListen      = C.TQUIC_CONN_STATUS_LISTEN
	ConnStatusHandshake   = C.TQUIC_CONN_STATUS_HANDSHAKE
	ConnStatusEstablished = C.TQUIC_CONN_STATUS_ESTABLISHED
	ConnStatusClosing     = C.TQUIC_CONN_STATUS_CLOSING
	ConnStatusClosed      = C.TQUIC_CONN_STATUS_CLOSED
)

// Path attributes (nested in AttrPath).
const (
	AttrPathPad           = C.TQUIC_A_PATH_PAD
	AttrPathID            = C.TQUIC_A_PATH_ID
	AttrPathStatus        = C.TQUIC_A_PATH_STATUS
	AttrPathLocalAddr     = C.TQUIC_A_PATH_LOCAL_ADDR
	AttrPathLocalPort     = C.TQUIC_A_PATH_LOCAL_PORT
	AttrPathPeerAddr      = C.TQUIC_A_PATH_PEER_ADDR
	AttrPathPeerPort      = C.TQUIC_A_PATH_PEER_PORT
	AttrPathMTU           = C.TQUIC_A_PATH_MTU
	AttrPathRTTMin        = C.TQUIC_A_PATH_RTT_MIN
	AttrPathRTTSmoothed   = C.TQUIC_A_PATH_RTT_SMOOTHED
	AttrPathRTTVar        = C.TQUIC_A_PATH_RTT_VAR
	AttrPathRTTLatest     = C.TQUIC_A_PATH_RTT_LATEST
	AttrPathCwnd          = C.TQUIC_A_PATH_CWND
	AttrPathBytesInFlight = C.TQUIC_A_PATH_BYTES_IN_FLIGHT
	AttrPathPacingRate    = C.TQUIC_A_PATH_PACING_RATE
	AttrPathCCState       = C.TQUIC_A_PATH_CC_STATE
	AttrPathPktsSent      = C.TQUIC_A_PATH_PKTS_SENT
	AttrPathPktsAcked     = C.TQUIC_A_PATH_PKTS_ACKED
	AttrPathPktsLost      = C.TQUIC_A_PATH_PKTS_LOST
	AttrPathBytesSent     = C.TQUIC_A_PATH_BYTES_SENT
	AttrPathBytesLost     = C.TQUIC_A_PATH_BYTES_LOST
	AttrPathECNState      = C.TQUIC_A_PATH_ECN_STATE
	AttrPathECNSentECT0   = C.TQUIC_A_PATH_ECN_SENT_ECT0
	AttrPathECNSentECT1   = C.TQUIC_A_PATH_ECN_SENT_ECT1
	AttrPathECNECT0       = C.TQUIC_A_PATH_ECN_ECT0
	AttrPathECNECT1       = C.TQUIC_A_PATH_ECN_ECT1
	AttrPathECNCE         = C.TQUIC_A_PATH_ECN_CE
	AttrPathMax           = C.TQUIC_A_PATH_MAX
)

// Path status (AttrPathStatus) and ECN validation state (AttrPathECNState).
const (
	PathStatusValidating = C.TQUIC_PATH_STATUS_VALIDATING
	PathStatusActive     = C.TQUIC_PATH_STATUS_ACTIVE
	PathStatusStandby    = C.TQUIC_PATH_STATUS_STANDBY
	PathStatusClosed     = C.TQUIC_PATH_STATUS_CLOSED

	PathECNDisabled = C.TQUIC_PATH_ECN_DISABLED
	PathECNTesting  = C.TQUIC_PATH_ECN_TESTING
	PathECNUnknown  = C.TQUIC_PATH_ECN_UNKNOWN
	PathECNCapable  = C.TQUIC_PATH_ECN_CAPABLE
	PathECNFailed   = C.TQUIC_PATH_ECN_FAILED
)

// Connection events (AttrEvent of CmdEventConn).
const (
	EventConnUp             = C.TQUIC_EVENT_CONN_UP
	EventConnDown           = C.TQUIC_EVENT_CONN_DOWN
	EventKeyUpdate          = C.TQUIC_EVENT_KEY_UPDATE
	EventPathChange         = C.TQUIC_EVENT_PATH_CHANGE
	EventVersionNegotiation = C.TQUIC_EVENT_VERSION_NEGOTIATION
)

// qlog record attributes (AttrQlog nests AttrQlogEv nests of these).
const (
	AttrQlogPad           = C.TQUIC_A_QLOG_PAD
	AttrQlogEv            = C.TQUIC_A_QLOG_EV
	AttrQlogType          = C.TQUIC_A_QLOG_TYPE
	AttrQlogTime          = C.TQUIC_A_QLOG_TIME
	AttrQlogPktType       = C.TQUIC_A_QLOG_PKT_TYPE
	AttrQlogPN            = C.TQUIC_A_QLOG_PN
	AttrQlogLen           = C.TQUIC_A_QLOG_LEN
	AttrQlogTrigger       = C.TQUIC_A_QLOG_TRIGGER
	AttrQlogRTTMin        = C.TQUIC_A_QLOG_RTT_MIN
	AttrQlogRTTSmoothed   = C.TQUIC_A_QLOG_RTT_SMOOTHED
	AttrQlogRTTVar        = C.TQUIC_A_QLOG_RTT_VAR
	AttrQlogRTTLatest     = C.TQUIC_A_QLOG_RTT_LATEST
	AttrQlogCwnd          = C.TQUIC_A_QLOG_CWND
	AttrQlogBytesInFlight = C.TQUIC_A_QLOG_BYTES_IN_FLIGHT
	AttrQlogSsthresh      = C.TQUIC_A_QLOG_SSTHRESH
	AttrQlogPacingRate    = C.TQUIC_A_QLOG_PACING_RATE
	AttrQlogCCState       = C.TQUIC_A_QLOG_CC_STATE
	AttrQlogVersion       = C.TQUIC_A_QLOG_VERSION
	AttrQlogALPN          = C.TQUIC_A_QLOG_ALPN
	AttrQlogServer        = C.TQUIC_A_QLOG_SERVER
	AttrQlogCode          = C.TQUIC_A_QLOG_CODE
	AttrQlogSpace         = C.TQUIC_A_QLOG_SPACE
	AttrQlogLost          = C.TQUIC_A_QLOG_LOST
)

// qlog record types (AttrQlogType).
const (
	QlogConnStarted    = C.TQUIC_QLOG_CONN_STARTED
	QlogPacketSent     = C.TQUIC_QLOG_PACKET_SENT
	QlogPacketReceived = C.TQUIC_QLOG_PACKET_RECEIVED
	QlogPacketDropped  = C.TQUIC_QLOG_PACKET_DROPPED
	QlogPacketsAcked   = C.TQUIC_QLOG_PACKETS_ACKED
	QlogPacketLost     = C.TQUIC_QLOG_PACKET_LOST
	QlogMetrics        = C.TQUIC_QLOG_METRICS
	QlogCCState        = C.TQUIC_QLOG_CC_STATE
	QlogKeyUpdate      = C.TQUIC_QLOG_KEY_UPDATE
	QlogVersion        = C.TQUIC_QLOG_VERSION
	QlogHandshakeDone  = C.TQUIC_QLOG_HANDSHAKE_DONE
	QlogConnClosed     = C.TQUIC_QLOG_CONN_CLOSED
	QlogPathValidated  = C.TQUIC_QLOG_PATH_VALIDATED
	QlogALPN           = C.TQUIC_QLOG_ALPN
)

// qlog packet types (AttrQlogPktType).
const (
	QlogPktInitial   = C.TQUIC_QLOG_PKT_INITIAL
	QlogPkt0RTT      = C.TQUIC_QLOG_PKT_0RTT
	QlogPktHandshake = C.TQUIC_QLOG_PKT_HANDSHAKE
	QlogPktRetry     = C.TQUIC_QLOG_PKT_RETRY
	QlogPkt1RTT      = C.TQUIC_QLOG_PKT_1RTT
	QlogPktVN        = C.TQUIC_QLOG_PKT_VN
	QlogPktUnknown   = C.TQUIC_QLOG_PKT_UNKNOWN
)

// qlog drop and close triggers (AttrQlogTrigger).
const (
	QlogDropDecrypt    = C.TQUIC_QLOG_DROP_DECRYPT
	QlogDropDuplicate  = C.TQUIC_QLOG_DROP_DUPLICATE
	QlogDropUnknownCID = C.TQUIC_QLOG_DROP_UNKNOWN_CID
	QlogDropResources  = C.TQUIC_QLOG_DROP_RESOURCES
	QlogDropPath       = C.TQUIC_QLOG_DROP_PATH

	QlogCloseLocal     = C.TQUIC_QLOG_CLOSE_LOCAL
	QlogCloseRemote    = C.TQUIC_QLOG_CLOSE_REMOTE
	QlogCloseIdle      = C.TQUIC_QLOG_CLOSE_IDLE
	QlogCloseReset     = C.TQUIC_QLOG_CLOSE_RESET
	QlogCloseHandshake = C.TQUIC_QLOG_CLOSE_HANDSHAKE
)

// ---- <linux/quic.h>: the sockets API for in-kernel QUIC ----
//
// These keep the header's C names (as golang.org/x/sys/unix does), so Go
// and C users of the API grep alike.

// Control message types (cmsg_level SOL_QUIC).
const (
	QUIC_STREAM_INFO    = C.QUIC_STREAM_INFO
	QUIC_HANDSHAKE_INFO = C.QUIC_HANDSHAKE_INFO
)

// The two low bits of a stream ID.
const (
	QUIC_STREAM_TYPE_SERVER_MASK = C.QUIC_STREAM_TYPE_SERVER_MASK
	QUIC_STREAM_TYPE_UNI_MASK    = C.QUIC_STREAM_TYPE_UNI_MASK
	QUIC_STREAM_TYPE_MASK        = C.QUIC_STREAM_TYPE_MASK
)

// Stream flags, message flags.
const (
	MSG_QUIC_STREAM_NEW      = C.MSG_QUIC_STREAM_NEW
	MSG_QUIC_STREAM_FIN      = C.MSG_QUIC_STREAM_FIN
	MSG_QUIC_STREAM_UNI      = C.MSG_QUIC_STREAM_UNI
	MSG_QUIC_STREAM_DONTWAIT = C.MSG_QUIC_STREAM_DONTWAIT
	MSG_QUIC_STREAM_SNDBLOCK = C.MSG_QUIC_STREAM_SNDBLOCK
	MSG_QUIC_DATAGRAM        = C.MSG_QUIC_DATAGRAM
	MSG_QUIC_NOTIFICATION    = C.MSG_QUIC_NOTIFICATION
)

// Encryption levels (enum quic_crypto_level).
const (
	QUIC_CRYPTO_APP       = C.QUIC_CRYPTO_APP
	QUIC_CRYPTO_INITIAL   = C.QUIC_CRYPTO_INITIAL
	QUIC_CRYPTO_HANDSHAKE = C.QUIC_CRYPTO_HANDSHAKE
	QUIC_CRYPTO_EARLY     = C.QUIC_CRYPTO_EARLY
	QUIC_CRYPTO_MAX       = C.QUIC_CRYPTO_MAX
)

// Socket options (level SOL_QUIC).
const (
	QUIC_SOCKOPT_EVENT                = C.QUIC_SOCKOPT_EVENT
	QUIC_SOCKOPT_STREAM_OPEN          = C.QUIC_SOCKOPT_STREAM_OPEN
	QUIC_SOCKOPT_STREAM_RESET         = C.QUIC_SOCKOPT_STREAM_RESET
	QUIC_SOCKOPT_STREAM_STOP_SENDING  = C.QUIC_SOCKOPT_STREAM_STOP_SENDING
	QUIC_SOCKOPT_CONNECTION_ID        = C.QUIC_SOCKOPT_CONNECTION_ID
	QUIC_SOCKOPT_CONNECTION_CLOSE     = C.QUIC_SOCKOPT_CONNECTION_CLOSE
	QUIC_SOCKOPT_CONNECTION_MIGRATION = C.QUIC_SOCKOPT_CONNECTION_MIGRATION
	QUIC_SOCKOPT_KEY_UPDATE           = C.QUIC_SOCKOPT_KEY_UPDATE
	QUIC_SOCKOPT_TRANSPORT_PARAM      = C.QUIC_SOCKOPT_TRANSPORT_PARAM
	QUIC_SOCKOPT_CONFIG               = C.QUIC_SOCKOPT_CONFIG
	QUIC_SOCKOPT_TOKEN                = C.QUIC_SOCKOPT_TOKEN
	QUIC_SOCKOPT_ALPN                 = C.QUIC_SOCKOPT_ALPN
	QUIC_SOCKOPT_SESSION_TICKET       = C.QUIC_SOCKOPT_SESSION_TICKET
	QUIC_SOCKOPT_CRYPTO_SECRET        = C.QUIC_SOCKOPT_CRYPTO_SECRET
	QUIC_SOCKOPT_TRANSPORT_PARAM_EXT  = C.QUIC_SOCKOPT_TRANSPORT_PARAM_EXT
)

// QUIC versions.
const (
	QUIC_VERSION_V1 = C.QUIC_VERSION_V1
	QUIC_VERSION_V2 = C.QUIC_VERSION_V2
)

const QUIC_CRYPTO_SECRET_BUFFER_SIZE = C.QUIC_CRYPTO_SECRET_BUFFER_SIZE

// Congestion control algorithms of struct quic_config.
const (
	QUIC_CONG_ALG_RENO = C.QUIC_CONG_ALG_RENO
	QUIC_CONG_ALG_MAX  = C.QUIC_CONG_ALG_MAX
)

// Notification types (enum quic_event_type).
const (
	QUIC_EVENT_NONE                 = C.QUIC_EVENT_NONE
	QUIC_EVENT_STREAM_UPDATE        = C.QUIC_EVENT_STREAM_UPDATE
	QUIC_EVENT_STREAM_MAX_DATA      = C.QUIC_EVENT_STREAM_MAX_DATA
	QUIC_EVENT_STREAM_MAX_STREAM    = C.QUIC_EVENT_STREAM_MAX_STREAM
	QUIC_EVENT_CONNECTION_ID        = C.QUIC_EVENT_CONNECTION_ID
	QUIC_EVENT_CONNECTION_CLOSE     = C.QUIC_EVENT_CONNECTION_CLOSE
	QUIC_EVENT_CONNECTION_MIGRATION = C.QUIC_EVENT_CONNECTION_MIGRATION
	QUIC_EVENT_KEY_UPDATE           = C.QUIC_EVENT_KEY_UPDATE
	QUIC_EVENT_NEW_TOKEN            = C.QUIC_EVENT_NEW_TOKEN
	QUIC_EVENT_NEW_SESSION_TICKET   = C.QUIC_EVENT_NEW_SESSION_TICKET
	QUIC_EVENT_MAX                  = C.QUIC_EVENT_MAX
)

// Stream states reported by QUIC_EVENT_STREAM_UPDATE.
const (
	QUIC_STREAM_SEND_STATE_READY       = C.QUIC_STREAM_SEND_STATE_READY
	QUIC_STREAM_SEND_STATE_SEND        = C.QUIC_STREAM_SEND_STATE_SEND
	QUIC_STREAM_SEND_STATE_SENT        = C.QUIC_STREAM_SEND_STATE_SENT
	QUIC_STREAM_SEND_STATE_RECVD       = C.QUIC_STREAM_SEND_STATE_RECVD
	QUIC_STREAM_SEND_STATE_RESET_SENT  = C.QUIC_STREAM_SEND_STATE_RESET_SENT
	QUIC_STREAM_SEND_STATE_RESET_RECVD = C.QUIC_STREAM_SEND_STATE_RESET_RECVD
	QUIC_STREAM_RECV_STATE_RECV        = C.QUIC_STREAM_RECV_STATE_RECV
	QUIC_STREAM_RECV_STATE_SIZE_KNOWN  = C.QUIC_STREAM_RECV_STATE_SIZE_KNOWN
	QUIC_STREAM_RECV_STATE_RECVD       = C.QUIC_STREAM_RECV_STATE_RECVD
	QUIC_STREAM_RECV_STATE_READ        = C.QUIC_STREAM_RECV_STATE_READ
	QUIC_STREAM_RECV_STATE_RESET_RECVD = C.QUIC_STREAM_RECV_STATE_RESET_RECVD
	QUIC_STREAM_RECV_STATE_RESET_READ  = C.QUIC_STREAM_RECV_STATE_RESET_READ
)

// Transport error codes (RFC 9000 section 20.1).
const (
	QUIC_TRANSPORT_ERROR_NONE                = C.QUIC_TRANSPORT_ERROR_NONE
	QUIC_TRANSPORT_ERROR_INTERNAL            = C.QUIC_TRANSPORT_ERROR_INTERNAL
	QUIC_TRANSPORT_ERROR_CONNECTION_REFUSED  = C.QUIC_TRANSPORT_ERROR_CONNECTION_REFUSED
	QUIC_TRANSPORT_ERROR_FLOW_CONTROL        = C.QUIC_TRANSPORT_ERROR_FLOW_CONTROL
	QUIC_TRANSPORT_ERROR_STREAM_LIMIT        = C.QUIC_TRANSPORT_ERROR_STREAM_LIMIT
	QUIC_TRANSPORT_ERROR_STREAM_STATE        = C.QUIC_TRANSPORT_ERROR_STREAM_STATE
	QUIC_TRANSPORT_ERROR_FINAL_SIZE          = C.QUIC_TRANSPORT_ERROR_FINAL_SIZE
	QUIC_TRANSPORT_ERROR_FRAME_ENCODING      = C.QUIC_TRANSPORT_ERROR_FRAME_ENCODING
	QUIC_TRANSPORT_ERROR_TRANSPORT_PARAM     = C.QUIC_TRANSPORT_ERROR_TRANSPORT_PARAM
	QUIC_TRANSPORT_ERROR_CONNECTION_ID_LIMIT = C.QUIC_TRANSPORT_ERROR_CONNECTION_ID_LIMIT
	QUIC_TRANSPORT_ERROR_PROTOCOL_VIOLATION  = C.QUIC_TRANSPORT_ERROR_PROTOCOL_VIOLATION
	QUIC_TRANSPORT_ERROR_INVALID_TOKEN       = C.QUIC_TRANSPORT_ERROR_INVALID_TOKEN
	QUIC_TRANSPORT_ERROR_APPLICATION         = C.QUIC_TRANSPORT_ERROR_APPLICATION
	QUIC_TRANSPORT_ERROR_CRYPTO_BUF_EXCEEDED = C.QUIC_TRANSPORT_ERROR_CRYPTO_BUF_EXCEEDED
	QUIC_TRANSPORT_ERROR_KEY_UPDATE          = C.QUIC_TRANSPORT_ERROR_KEY_UPDATE
	QUIC_TRANSPORT_ERROR_AEAD_LIMIT_REACHED  = C.QUIC_TRANSPORT_ERROR_AEAD_LIMIT_REACHED
	QUIC_TRANSPORT_ERROR_NO_VIABLE_PATH      = C.QUIC_TRANSPORT_ERROR_NO_VIABLE_PATH
	QUIC_TRANSPORT_ERROR_CRYPTO              = C.QUIC_TRANSPORT_ERROR_CRYPTO
)

// TQUIC extension options (level SOL_QUIC).
const (
	TQUIC_SOCKOPT_BASE       = C.TQUIC_SOCKOPT_BASE
	TQUIC_SOCKOPT_MULTIPATH  = C.TQUIC_SOCKOPT_MULTIPATH
	TQUIC_SOCKOPT_CONGESTION = C.TQUIC_SOCKOPT_CONGESTION
	TQUIC_SOCKOPT_QUIC_LB    = C.TQUIC_SOCKOPT_QUIC_LB
	TQUIC_SOCKOPT_OFFLOAD    = C.TQUIC_SOCKOPT_OFFLOAD
	TQUIC_SOCKOPT_QLOG       = C.TQUIC_SOCKOPT_QLOG
	TQUIC_SOCKOPT_STATS      = C.TQUIC_SOCKOPT_STATS

	TQUIC_SOCKOPT_STREAM_RESET        = C.TQUIC_SOCKOPT_STREAM_RESET
	TQUIC_SOCKOPT_STREAM_STOP_SENDING = C.TQUIC_SOCKOPT_STREAM_STOP_SENDING
	TQUIC_SOCKOPT_WIDE_ERRCODES       = C.TQUIC_SOCKOPT_WIDE_ERRCODES

	TQUIC_CC_NAME_MAX = C.TQUIC_CC_NAME_MAX

	TQUIC_OFFLOAD_OFF  = C.TQUIC_OFFLOAD_OFF
	TQUIC_OFFLOAD_AUTO = C.TQUIC_OFFLOAD_AUTO
)

// Structures of the socket API, laid out as the kernel reads them.
type (
	QuicHandshakeInfo    C.struct_quic_handshake_info
	QuicStreamInfo       C.struct_quic_stream_info
	QuicTransportParam   C.struct_quic_transport_param
	QuicConfig           C.struct_quic_config
	QuicCryptoSecret     C.struct_quic_crypto_secret
	QuicErrinfo          C.struct_quic_errinfo
	QuicConnectionIDInfo C.struct_quic_connection_id_info
	QuicEventOption      C.struct_quic_event_option
	QuicStreamUpdate     C.struct_quic_stream_update
	QuicStreamMaxData    C.struct_quic_stream_max_data
	QuicConnectionClose  C.struct_quic_connection_close
	TquicLBConfig        C.struct_tquic_lb_config
	TquicSockStats       C.struct_tquic_sock_stats
	TquicStreamError     C.struct_tquic_stream_error
	TquicStreamUpdate    C.struct_tquic_stream_update
)

// The C sizes of those structures, for checks against the Go layouts.
const (
	SizeofQuicHandshakeInfo    = C.sizeof_struct_quic_handshake_info
	SizeofQuicStreamInfo       = C.sizeof_struct_quic_stream_info
	SizeofQuicTransportParam   = C.sizeof_struct_quic_transport_param
	SizeofQuicConfig           = C.sizeof_struct_quic_config
	SizeofQuicCryptoSecret     = C.sizeof_struct_quic_crypto_secret
	SizeofQuicErrinfo          = C.sizeof_struct_quic_errinfo
	SizeofQuicConnectionIDInfo = C.sizeof_struct_quic_connection_id_info
	SizeofQuicEventOption      = C.sizeof_struct_quic_event_option
	SizeofQuicStreamUpdate     = C.sizeof_struct_quic_stream_update
	SizeofQuicStreamMaxData    = C.sizeof_struct_quic_stream_max_data
	SizeofQuicConnectionClose  = C.sizeof_struct_quic_connection_close
	SizeofTquicLBConfig        = C.sizeof_struct_tquic_lb_config
	SizeofTquicSockStats       = C.sizeof_struct_tquic_sock_stats
	SizeofTquicStreamError     = C.sizeof_struct_tquic_stream_error
	SizeofTquicStreamUpdate    = C.sizeof_struct_tquic_stream_update
)
