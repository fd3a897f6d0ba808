package tquicnl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

// Config is a network namespace's defaults for new connections.
type Config struct {
	CongestionControl string        `json:"congestion_control"`
	Versions          []Version     `json:"versions"`
	Pacing            bool          `json:"pacing"`
	ECN               ECNMode       `json:"ecn"`
	Amplification     uint8         `json:"amplification_factor"`
	Retry             RetryPolicy   `json:"retry"`
	IdleTimeout       time.Duration `json:"idle_timeout_ns"`
	CIDLen            uint8         `json:"cid_len"`
	// Qlog: every new connection emits qlog records (tquicctl qlog).
	Qlog bool `json:"qlog"`
}

// ConfigUpdate names the settings to change; nil fields stay as they are.
type ConfigUpdate struct {
	CongestionControl *string
	Versions          []Version
	Pacing            *bool
	ECN               *ECNMode
	Amplification     *uint8
	Retry             *RetryPolicy
	IdleTimeout       *time.Duration
	CIDLen            *uint8
	Qlog              *bool
}

// Version is a QUIC version number.
type Version uint32

// QUIC versions the module speaks.
const (
	Version1 Version = 0x00000001
	Version2 Version = 0x6b3343cf
)

func (v Version) String() string {
	switch v {
	case Version1:
		return "v1"
	case Version2:
		return "v2"
	}
	return fmt.Sprintf("0x%08x", uint32(v))
}

// MarshalText names v1 and v2, other versions in hex.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText accepts what MarshalText writes.
func (v *Version) UnmarshalText(b []byte) error {
	p, err := ParseVersion(string(b))
	*v = p
	return err
}

// ParseVersion accepts "v1", "v2" or a hex number such as 0x6b3343cf.
func ParseVersion(s string) (Version, error) {
	switch strings.ToLower(s) {
	case "v1", "1":
		return Version1, nil
	case "v2", "2":
		return Version2, nil
	}
	var n uint32
	if _, err := fmt.Sscanf(s, "0x%x", &n); err != nil || n == 0 {
		return 0, fmt.Errorf("unknown QUIC version %q (want v1, v2 or 0x...)", s)
	}
	return Version(n), nil
}

// ECNMode is what a connection marks its packets with.
type ECNMode uint8

// ECN modes.
const (
	ECNOff  ECNMode = uapi.ECNOff
	ECNECT0 ECNMode = uapi.ECNECT0
	ECNL4S  ECNMode = uapi.ECNL4S
)

var ecnNames = map[ECNMode]string{ECNOff: "off", ECNECT0: "ect0", ECNL4S: "l4s"}

func (m ECNMode) String() string { return enumName(ecnNames, m) }

// MarshalText uses the names tquicctl accepts.
func (m ECNMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// ParseECNMode accepts off, ect0 or l4s.
func ParseECNMode(s string) (ECNMode, error) { return parseEnum(ecnNames, s, "ECN mode") }

// RetryPolicy says when a server answers an Initial with Retry.
type RetryPolicy uint8

// Retry policies.
const (
	RetryNever     RetryPolicy = uapi.RetryNever
	RetryAlways    RetryPolicy = uapi.RetryAlways
	RetryUnderLoad RetryPolicy = uapi.RetryUnderLoad
)

var retryNames = map[RetryPolicy]string{RetryNever: "never", RetryAlways: "always", RetryUnderLoad: "under-load"}

func (p RetryPolicy) String() string { return enumName(retryNames, p) }

// MarshalText uses the names tquicctl accepts.
func (p RetryPolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// ParseRetryPolicy accepts never, always or under-load.
func ParseRetryPolicy(s string) (RetryPolicy, error) { return parseEnum(retryNames, s, "retry policy") }

func enumName[T ~uint8](names map[T]string, v T) string {
	if n, ok := names[v]; ok {
		return n
	}
	return fmt.Sprintf("unknown(%d)", uint8(v))
}

func parseEnum[T ~uint8](names map[T]string, s, what string) (T, error) {
	var valid []string
	for v, n := range names {
		if n == s {
			return v, nil
		}
		valid = append(valid, n)
	}
	return 0, fmt.Errorf("unknown %s %q (want one of %s)", what, s, strings.Join(sortedStrings(valid), ", "))
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// Config reads the defaults of the caller's network namespace.
func (c *Client) Config(ctx context.Context) (*Config, error) {
	msgs, err := c.execute(ctx, uapi.CmdConfigGet, nil)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: get config: %w", err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("tquicnl: get config: %d replies, want 1", len(msgs))
	}
	cfg, err := parseConfigMessage(msgs[0].Data)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: get config: %w", err)
	}
	return cfg, nil
}

// SetConfig changes the defaults of the caller's network namespace (needs
// CAP_NET_ADMIN there). The kernel validates every value; its reason for a
// refusal is in the error.
func (c *Client) SetConfig(ctx context.Context, u ConfigUpdate) error {
	attrs, err := encodeConfigUpdate(u)
	if err != nil {
		return fmt.Errorf("tquicnl: set config: %w", err)
	}
	if err := c.executeAck(ctx, uapi.CmdConfigSet, attrs); err != nil {
		return kernelError("set config", err)
	}
	return nil
}

// Kinds of kernel refusal, for errors.Is.
var (
	// ErrInvalidConfig: the kernel rejected a value (range, unknown name).
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrPermission: the caller lacks CAP_NET_ADMIN in the namespace.
	ErrPermission = errors.New("permission denied")
)

// KernelError is a refused request with the kernel's own explanation.
type KernelError struct {
	Op      string
	Message string // the kernel's extended-ack text, if any
	Kind    error  // ErrInvalidConfig, ErrPermission or nil
	Err     error  // the netlink error (errno)
}

func (e *KernelError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("tquicnl: %s: %s (%v)", e.Op, e.Message, e.Err)
	}
	return fmt.Sprintf("tquicnl: %s: %v", e.Op, e.Err)
}

// Unwrap exposes both the kind and the errno.
func (e *KernelError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

func kernelError(op string, err error) error {
	ke := &KernelError{Op: op, Err: err}
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		ke.Message = oe.Message
		ke.Err = oe.Err
	}
	switch {
	case errors.Is(err, unix.EPERM):
		ke.Kind = ErrPermission
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ERANGE), errors.Is(err, unix.ENOENT):
		ke.Kind = ErrInvalidConfig
	}
	return ke
}

func encodeConfigUpdate(u ConfigUpdate) ([]byte, error) {
	if len(u.Versions) > uapi.ConfigMaxVersions {
		return nil, fmt.Errorf("at most %d versions", uapi.ConfigMaxVersions)
	}
	if u.IdleTimeout != nil && (*u.IdleTimeout < 0 || *u.IdleTimeout%time.Millisecond != 0) {
		return nil, fmt.Errorf("idle timeout %v: want a non-negative whole number of milliseconds", *u.IdleTimeout)
	}
	ae := netlink.NewAttributeEncoder()
	ae.Nested(uapi.AttrConfig, func(n *netlink.AttributeEncoder) error {
		if u.CongestionControl != nil {
			n.String(uapi.AttrConfigCC, *u.CongestionControl)
		}
		if u.Versions != nil {
			b := make([]byte, 4*len(u.Versions))
			for i, v := range u.Versions {
				binary.BigEndian.PutUint32(b[4*i:], uint32(v))
			}
			n.Bytes(uapi.AttrConfigVersions, b)
		}
		if u.Pacing != nil {
			var v uint8
			if *u.Pacing {
				v = 1
			}
			n.Uint8(uapi.AttrConfigPacing, v)
		}
		if u.ECN != nil {
			n.Uint8(uapi.AttrConfigECN, uint8(*u.ECN))
		}
		if u.Amplification != nil {
			n.Uint8(uapi.AttrConfigAmplification, *u.Amplification)
		}
		if u.Retry != nil {
			n.Uint8(uapi.AttrConfigRetry, uint8(*u.Retry))
		}
		if u.IdleTimeout != nil {
			ms := *u.IdleTimeout / time.Millisecond
			if ms > 1<<32-1 {
				return fmt.Errorf("idle timeout %v too large", *u.IdleTimeout)
			}
			n.Uint32(uapi.AttrConfigIdleTimeoutMs, uint32(ms))
		}
		if u.CIDLen != nil {
			n.Uint8(uapi.AttrConfigCIDLen, *u.CIDLen)
		}
		if u.Qlog != nil {
			var v uint8
			if *u.Qlog {
				v = 1
			}
			n.Uint8(uapi.AttrConfigQlog, v)
		}
		return nil
	})
	return ae.Encode()
}

// parseConfigMessage finds the config nest in a reply or event.
func parseConfigMessage(b []byte) (*Config, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	var cfg *Config
	for ad.Next() {
		if ad.Type() == uapi.AttrConfig {
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				c, err := decodeConfig(n)
				cfg = c
				return err
			})
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	if cfg == nil {
		return nil, errors.New("reply has no config")
	}
	return cfg, nil
}

func decodeConfig(n *netlink.AttributeDecoder) (*Config, error) {
	var cfg Config
	for n.Next() {
		switch n.Type() {
		case uapi.AttrConfigCC:
			cfg.CongestionControl = n.String()
		case uapi.AttrConfigVersions:
			b := n.Bytes()
			if len(b)%4 != 0 {
				return nil, fmt.Errorf("versions attribute of %d bytes", len(b))
			}
			for i := 0; i < len(b); i += 4 {
				cfg.Versions = append(cfg.Versions, Version(binary.BigEndian.Uint32(b[i:])))
			}
		case uapi.AttrConfigPacing:
			cfg.Pacing = n.Uint8() != 0
		case uapi.AttrConfigECN:
			cfg.ECN = ECNMode(n.Uint8())
		case uapi.AttrConfigAmplification:
			cfg.Amplification = n.Uint8()
		case uapi.AttrConfigRetry:
			cfg.Retry = RetryPolicy(n.Uint8())
		case uapi.AttrConfigIdleTimeoutMs:
			cfg.IdleTimeout = time.Duration(n.Uint32()) * time.Millisecond
		case uapi.AttrConfigCIDLen:
			cfg.CIDLen = n.Uint8()
		case uapi.AttrConfigQlog:
			cfg.Qlog = n.Uint8() != 0
		}
	}
	return &cfg, n.Err()
}
