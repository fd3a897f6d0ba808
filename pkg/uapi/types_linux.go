//go:build ignore

// Input to cgo -godefs: generates zuapi_linux.go from the UAPI header.

package uapi

/*
#include <linux/tquic.h>
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
)

// Generic netlink commands.
const (
	CmdGetInfo     = C.TQUIC_CMD_GET_INFO
	CmdSelftest    = C.TQUIC_CMD_SELFTEST
	CmdConfigGet   = C.TQUIC_CMD_CONFIG_GET
	CmdConfigSet   = C.TQUIC_CMD_CONFIG_SET
	CmdEventConfig = C.TQUIC_CMD_EVENT_CONFIG
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
