package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/pkg/tquicnl"
)

func setCommand() *cli.Command {
	return &cli.Command{
		Name:      "set",
		Usage:     "change this network namespace's defaults for new connections",
		ArgsUsage: "KEY VALUE [KEY VALUE]...",
		UsageText: `tquicctl set cc newreno
   tquicctl set versions v2,v1 ecn l4s
   tquicctl set pacing off retry under-load idle-timeout 10s cid-len 12

Keys: cc (newreno|cubic), versions (v1,v2 most preferred first), pacing (on|off),
ecn (off|ect0|l4s), amplification (1-10), retry (never|always|under-load),
idle-timeout (a duration; 0 = none), cid-len (0-20), qlog (on|off: qlog records
for every new connection, see 'tquicctl qlog').`,
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			u, err := parseSetArgs(c.Args().Slice())
			if err != nil {
				return cli.Exit(fmt.Sprintf("set: %v (see 'tquicctl set --help')", err), exitUsage)
			}
			nl, err := controller(c)
			if err != nil {
				return err
			}
			defer nl.Close()
			return nl.SetConfig(c.Context, u)
		},
	}
}

// parseSetArgs turns KEY VALUE pairs into a config update; a key may appear once.
func parseSetArgs(args []string) (tquicnl.ConfigUpdate, error) {
	var u tquicnl.ConfigUpdate
	if len(args) == 0 || len(args)%2 != 0 {
		return u, fmt.Errorf("want KEY VALUE pairs, got %d arguments", len(args))
	}
	seen := map[string]bool{}
	for i := 0; i < len(args); i += 2 {
		key, val := args[i], args[i+1]
		if seen[key] {
			return u, fmt.Errorf("%s given twice", key)
		}
		seen[key] = true
		if err := setKey(&u, key, val); err != nil {
			return u, err
		}
	}
	return u, nil
}

func setKey(u *tquicnl.ConfigUpdate, key, val string) error {
	switch key {
	case "cc":
		u.CongestionControl = &val
	case "versions":
		for _, s := range strings.Split(val, ",") {
			v, err := tquicnl.ParseVersion(s)
			if err != nil {
				return fmt.Errorf("versions: %w", err)
			}
			u.Versions = append(u.Versions, v)
		}
	case "pacing":
		b, err := parseOnOff(val)
		if err != nil {
			return fmt.Errorf("pacing: %w", err)
		}
		u.Pacing = &b
	case "ecn":
		m, err := tquicnl.ParseECNMode(val)
		if err != nil {
			return err
		}
		u.ECN = &m
	case "amplification":
		n, err := strconv.ParseUint(val, 10, 8)
		if err != nil {
			return fmt.Errorf("amplification %q: want a small whole number", val)
		}
		a := uint8(n)
		u.Amplification = &a
	case "retry":
		p, err := tquicnl.ParseRetryPolicy(val)
		if err != nil {
			return err
		}
		u.Retry = &p
	case "idle-timeout":
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("idle-timeout %q: want a duration such as 30s", val)
		}
		u.IdleTimeout = &d
	case "qlog":
		b, err := parseOnOff(val)
		if err != nil {
			return fmt.Errorf("qlog: %w", err)
		}
		u.Qlog = &b
	case "cid-len":
		n, err := strconv.ParseUint(val, 10, 8)
		if err != nil {
			return fmt.Errorf("cid-len %q: want 0-20", val)
		}
		l := uint8(n)
		u.CIDLen = &l
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	return nil
}

func parseOnOff(s string) (bool, error) {
	switch s {
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q: want on or off", s)
}
