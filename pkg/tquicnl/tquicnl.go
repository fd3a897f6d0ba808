// Package tquicnl is the generic netlink client of the TQUIC kernel module
// (family "tquic"). tquicctl and tquicd are thin layers over it.
package tquicnl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"github.com/tquic/tquic/pkg/uapi"
)

// ErrModuleNotLoaded reports that the kernel has no "tquic" generic netlink
// family, i.e. the module is not loaded in this network namespace's kernel.
var ErrModuleNotLoaded = errors.New(`tquic kernel module not loaded (generic netlink family "tquic" not found); load it with "modprobe tquic"`)

// Client talks to the module over one generic netlink socket.
type Client struct {
	conn   *genetlink.Conn
	family genetlink.Family
}

// Dial opens a generic netlink socket and resolves the tquic family.
func Dial() (*Client, error) {
	conn, err := genetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: open generic netlink socket: %w", err)
	}
	// The kernel explains refusals (bad attribute values) in extended acks.
	if err := conn.SetOption(netlink.ExtendedAcknowledge, true); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tquicnl: enable extended acks: %w", err)
	}
	family, err := conn.GetFamily(uapi.GenlName)
	if err != nil {
		conn.Close()
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrModuleNotLoaded
		}
		return nil, fmt.Errorf("tquicnl: resolve family %q: %w", uapi.GenlName, err)
	}
	return &Client{conn: conn, family: family}, nil
}

// Close releases the netlink socket.
func (c *Client) Close() error {
	return c.conn.Close()
}

// CryptoDriver names the kernel crypto driver picked for an algorithm.
type CryptoDriver struct {
	Algorithm string `json:"algorithm"`
	Driver    string `json:"driver"`
}

// Info describes the loaded module.
type Info struct {
	Version string         `json:"version"`
	BuildID string         `json:"build_id"`
	Crypto  []CryptoDriver `json:"crypto"`
	// CongestionControls are the controllers `set cc` accepts.
	CongestionControls []string `json:"congestion_controls"`
}

// Info asks the module for its version, build id and crypto drivers.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	msgs, err := c.execute(ctx, uapi.CmdGetInfo, nil)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: get info: %w", err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("tquicnl: get info: %d replies, want 1", len(msgs))
	}
	info, err := parseInfo(msgs[0].Data)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: get info: %w", err)
	}
	return info, nil
}

// SelftestResult counts the engine's vector checks run on kernel crypto.
type SelftestResult struct {
	Passed uint32 `json:"passed"`
	Failed uint32 `json:"failed"`
}

// Selftest makes the module run the engine's test vectors (RFC 9001,
// RFC 9369, multipath nonce, key update) through the kernel crypto API.
func (c *Client) Selftest(ctx context.Context) (*SelftestResult, error) {
	msgs, err := c.execute(ctx, uapi.CmdSelftest, nil)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: selftest: %w", err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("tquicnl: selftest: %d replies, want 1", len(msgs))
	}
	res, err := parseSelftest(msgs[0].Data)
	if err != nil {
		return nil, fmt.Errorf("tquicnl: selftest: %w", err)
	}
	return res, nil
}

func parseSelftest(b []byte) (*SelftestResult, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	var res SelftestResult
	seen := 0
	for ad.Next() {
		switch ad.Type() {
		case uapi.AttrSelftestPassed:
			res.Passed = ad.Uint32()
			seen++
		case uapi.AttrSelftestFailed:
			res.Failed = ad.Uint32()
			seen++
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	if seen != 2 {
		return nil, errors.New("reply lacks the passed/failed counts")
	}
	return &res, nil
}

// execute sends one request and waits for its reply; ctx bounds the wait (a
// module that never answers must not hang a caller).
func (c *Client) execute(ctx context.Context, cmd uint8, attrs []byte) ([]genetlink.Message, error) {
	return c.executeFlags(ctx, cmd, attrs, netlink.Request)
}

// executeAck is execute for commands that answer with an acknowledgement only.
func (c *Client) executeAck(ctx context.Context, cmd uint8, attrs []byte) error {
	_, err := c.executeFlags(ctx, cmd, attrs, netlink.Request|netlink.Acknowledge)
	return err
}

func (c *Client) executeFlags(ctx context.Context, cmd uint8, attrs []byte, flags netlink.HeaderFlags) ([]genetlink.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	if err := c.conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: c.family.Version},
		Data:   attrs,
	}
	msgs, err := c.conn.Execute(req, c.family.ID, flags)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return msgs, err
}

func parseInfo(b []byte) (*Info, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	var info Info
	for ad.Next() {
		switch ad.Type() {
		case uapi.AttrVersion:
			info.Version = ad.String()
		case uapi.AttrBuildID:
			info.BuildID = ad.String()
		case uapi.AttrCCAvailable:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == uapi.AttrCCName {
						info.CongestionControls = append(info.CongestionControls, nad.String())
					}
				}
				return nad.Err()
			})
		case uapi.AttrCrypto:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() != uapi.AttrCryptoAlg {
						continue
					}
					var d CryptoDriver
					nad.Nested(func(alg *netlink.AttributeDecoder) error {
						for alg.Next() {
							switch alg.Type() {
							case uapi.AttrCryptoAlgName:
								d.Algorithm = alg.String()
							case uapi.AttrCryptoAlgDriver:
								d.Driver = alg.String()
							}
						}
						return alg.Err()
					})
					info.Crypto = append(info.Crypto, d)
				}
				return nad.Err()
			})
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	if info.Version == "" {
		return nil, errors.New("reply has no version attribute")
	}
	return &info, nil
}

// Controller is what tquicctl drives: the module over generic netlink
// (*Client) or a tquicd daemon over gRPC (tquicd.RemoteClient).
type Controller interface {
	Info(ctx context.Context) (*Info, error)
	Config(ctx context.Context) (*Config, error)
	SetConfig(ctx context.Context, u ConfigUpdate) error
	Selftest(ctx context.Context) (*SelftestResult, error)
	Watch(ctx context.Context, joined func(), fn func(Event) error) error
	Conns(ctx context.Context) ([]Conn, error)
	Conn(ctx context.Context, id uint64) (*Conn, error)
	Paths(ctx context.Context, id uint64) ([]Path, error)
	WatchQlog(ctx context.Context, joined func(), fn func(QlogBatch) error) error
	Close() error
}

var _ Controller = (*Client)(nil)
