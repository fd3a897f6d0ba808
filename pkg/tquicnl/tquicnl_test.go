package tquicnl

import (
	"testing"

	"github.com/mdlayher/netlink"

	"github.com/tquic/tquic/pkg/uapi"
)

func encodeInfo(t *testing.T, withVersion bool) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	if withVersion {
		ae.String(uapi.AttrVersion, "1.2.3")
	}
	ae.String(uapi.AttrBuildID, "abc")
	ae.Nested(uapi.AttrCrypto, func(nae *netlink.AttributeEncoder) error {
		for _, d := range []CryptoDriver{{"gcm(aes)", "generic-gcm-aesni"}, {"rfc7539(chacha20,poly1305)", "rfc7539(chacha20-simd,poly1305-simd)"}} {
			nae.Nested(uapi.AttrCryptoAlg, func(a *netlink.AttributeEncoder) error {
				a.String(uapi.AttrCryptoAlgName, d.Algorithm)
				a.String(uapi.AttrCryptoAlgDriver, d.Driver)
				return nil
			})
		}
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseInfo(t *testing.T) {
	info, err := parseInfo(encodeInfo(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "1.2.3" || info.BuildID != "abc" || len(info.Crypto) != 2 ||
		info.Crypto[0].Driver != "generic-gcm-aesni" || info.Crypto[1].Algorithm != "rfc7539(chacha20,poly1305)" {
		t.Fatalf("parsed %+v", info)
	}
}

func TestParseInfoRejectsMissingVersion(t *testing.T) {
	if _, err := parseInfo(encodeInfo(t, false)); err == nil {
		t.Fatal("reply without a version was accepted")
	}
}

func TestParseInfoRejectsGarbage(t *testing.T) {
	if _, err := parseInfo([]byte{0xff, 0xff, 0x01}); err == nil {
		t.Fatal("truncated attributes were accepted")
	}
}
