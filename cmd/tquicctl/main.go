// Command tquicctl configures and inspects the TQUIC kernel module over its
// generic netlink family.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/pkg/tquicd"
	"github.com/tquic/tquic/pkg/tquicnl"
)

// Exit codes a script can rely on (4, no such connection, is in conn.go).
const (
	exitFailure         = 1
	exitUsage           = 2
	exitModuleNotLoaded = 3
	exitPermission      = 5
)

// requestTimeout bounds each command's wait for the kernel.
const requestTimeout = 30 * time.Second

func main() {
	app := newApp(os.Stdout)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	err := app.RunContext(ctx, os.Args)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tquicctl:", err)
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var ec cli.ExitCoder
	switch {
	case errors.Is(err, tquicnl.ErrModuleNotLoaded):
		return exitModuleNotLoaded
	case errors.Is(err, tquicnl.ErrNoConn):
		return exitNoConn
	case errors.Is(err, tquicnl.ErrPermission):
		return exitPermission
	case errors.As(err, &ec):
		return ec.ExitCode()
	default:
		return exitFailure
	}
}

func newApp(out io.Writer) *cli.App {
	return &cli.App{
		Name:  "tquicctl",
		Usage: "configure and inspect the TQUIC kernel QUIC stack",
		Description: `Exit status: 0 success, 1 failure, 2 usage error, 3 module not loaded,
4 no such connection, 5 permission denied (CAP_NET_ADMIN needed).

Examples:
   tquicctl show
   tquicctl set cc cubic qlog on
   tquicctl conn list -j
   tquicctl conn show 7
   tquicctl path list 7
   tquicctl monitor
   QLOGDIR=/tmp/qlog tquicctl qlog
   tquicctl --remote host:7443 --tls-ca ca.pem --tls-cert me.pem --tls-key me.key conn list
   source <(tquicctl completion bash)`,
		Writer:               out,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return cli.Exit(fmt.Sprintf("%v (see 'tquicctl help')", err), exitUsage)
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(os.Stderr, "tquicctl: unknown command %q (see 'tquicctl help')\n", name)
			os.Exit(exitUsage)
		},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "remote", Usage: "manage the module through tquicd at `HOST:PORT` instead of locally"},
			&cli.StringFlag{Name: "tls-ca", Usage: "CA that signed tquicd's certificate (PEM; default: system roots)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "client certificate for mutual TLS (PEM)"},
			&cli.StringFlag{Name: "tls-key", Usage: "client key for mutual TLS (PEM)"},
			&cli.StringFlag{Name: "tls-server-name", Usage: "name to verify in tquicd's certificate (default: the remote host)"},
		},
		Commands: []*cli.Command{showCommand(), setCommand(), connCommand(), pathCommand(), monitorCommand(),
			qlogCommand(), selftestCommand(), completionCommand()},
	}
}

var jsonFlag = &cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "print JSON"}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "show the module's version, build id, crypto drivers and this namespace's config",
		UsageText: `tquicctl show        # human-readable
   tquicctl show -j     # JSON`,
		Flags:        []cli.Flag{jsonFlag},
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("show takes no arguments, got %q", c.Args().First()), exitUsage)
			}
			nl, err := controller(c)
			if err != nil {
				return err
			}
			defer nl.Close()
			info, err := nl.Info(c.Context)
			if err != nil {
				return err
			}
			cfg, err := nl.Config(c.Context)
			if err != nil {
				return err
			}
			return printShow(c.App.Writer, showOutput{Info: info, Config: cfg}, c.Bool("json"))
		},
	}
}

func selftestCommand() *cli.Command {
	return &cli.Command{
		Name:  "selftest",
		Usage: "run the engine's test vectors on the kernel's crypto drivers",
		UsageText: `tquicctl selftest      # exit status 1 when a vector fails
   tquicctl selftest -j   # JSON`,
		Flags:        []cli.Flag{jsonFlag},
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("selftest takes no arguments, got %q", c.Args().First()), exitUsage)
			}
			nl, err := controller(c)
			if err != nil {
				return err
			}
			defer nl.Close()
			res, err := nl.Selftest(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := printJSON(c.App.Writer, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(c.App.Writer, "selftest: %d checks passed, %d failed\n", res.Passed, res.Failed)
			}
			if res.Failed > 0 {
				return cli.Exit(fmt.Sprintf("selftest: %d checks failed (see the kernel log)", res.Failed), exitFailure)
			}
			return nil
		},
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// controller opens the module locally, or through tquicd with --remote.
func controller(c *cli.Context) (tquicnl.Controller, error) {
	addr := c.String("remote")
	if addr == "" {
		return tquicnl.Dial()
	}
	serverName := c.String("tls-server-name")
	if serverName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("--remote %q: want HOST:PORT", addr), exitUsage)
		}
		serverName = host
	}
	tlsConfig, err := tquicd.ClientTLS(c.String("tls-ca"), c.String("tls-cert"), c.String("tls-key"), serverName)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitUsage)
	}
	return tquicd.DialRemote(addr, tlsConfig)
}

func usageError(c *cli.Context, err error, _ bool) error {
	return cli.Exit(fmt.Sprintf("%s: %v (see 'tquicctl %s --help')", c.Command.Name, err, c.Command.Name), exitUsage)
}

// showOutput is what `tquicctl show` prints: the module, then the config.
type showOutput struct {
	*tquicnl.Info
	Config *tquicnl.Config `json:"config"`
}

func printShow(w io.Writer, out showOutput, asJSON bool) error {
	if asJSON {
		return printJSON(w, out)
	}
	info := out.Info
	fmt.Fprintf(w, "version:  %s\nbuild id: %s\ncrypto:\n", info.Version, info.BuildID)
	for _, d := range info.Crypto {
		fmt.Fprintf(w, "  %-28s %s\n", d.Algorithm, d.Driver)
	}
	fmt.Fprintf(w, "congestion controls: %s\n", strings.Join(info.CongestionControls, ", "))
	fmt.Fprintf(w, "config:\n")
	printConfig(w, out.Config, "  ")
	return nil
}

// printJSONLine prints v as one line of JSON, for streams of records.
func printJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

func printEvent(w io.Writer, ev tquicnl.Event) error {
	if c := ev.Conn; c != nil {
		fmt.Fprintf(w, "event %s conn %d %s %s -> %s version %s cc %s\n", ev.Kind, c.ID, c.State,
			dash(c.Local), dash(c.Peer), versionString(c.Version), c.CongestionControl)
		return nil
	}
	fmt.Fprintf(w, "event %s\n", ev.Kind)
	if ev.Config != nil {
		printConfig(w, ev.Config, "  ")
	}
	return nil
}

func printConfig(w io.Writer, cfg *tquicnl.Config, indent string) {
	versions := make([]string, len(cfg.Versions))
	for i, v := range cfg.Versions {
		versions[i] = v.String()
	}
	fmt.Fprintf(w, "%scc             %s\n", indent, cfg.CongestionControl)
	fmt.Fprintf(w, "%sversions       %s\n", indent, strings.Join(versions, ","))
	fmt.Fprintf(w, "%spacing         %s\n", indent, onOff(cfg.Pacing))
	fmt.Fprintf(w, "%secn            %s\n", indent, cfg.ECN)
	fmt.Fprintf(w, "%samplification  %d\n", indent, cfg.Amplification)
	fmt.Fprintf(w, "%sretry          %s\n", indent, cfg.Retry)
	fmt.Fprintf(w, "%sidle-timeout   %s\n", indent, cfg.IdleTimeout)
	fmt.Fprintf(w, "%scid-len        %d\n", indent, cfg.CIDLen)
	fmt.Fprintf(w, "%sqlog           %s\n", indent, onOff(cfg.Qlog))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
