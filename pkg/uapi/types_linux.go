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
	GenlName    = C.TQUIC_GENL_NAME
	GenlVersion = C.TQUIC_GENL_VERSION
)

// Generic netlink commands.
const (
	CmdGetInfo  = C.TQUIC_CMD_GET_INFO
	CmdSelftest = C.TQUIC_CMD_SELFTEST
)

// Generic netlink attributes.
const (
	AttrVersion        = C.TQUIC_A_VERSION
	AttrBuildID        = C.TQUIC_A_BUILD_ID
	AttrCrypto         = C.TQUIC_A_CRYPTO
	AttrSelftestPassed = C.TQUIC_A_SELFTEST_PASSED
	AttrSelftestFailed = C.TQUIC_A_SELFTEST_FAILED
	AttrMax            = C.TQUIC_A_MAX

	AttrCryptoAlg       = C.TQUIC_A_CRYPTO_ALG
	AttrCryptoAlgName   = C.TQUIC_A_CRYPTO_ALG_NAME
	AttrCryptoAlgDriver = C.TQUIC_A_CRYPTO_ALG_DRIVER
)
