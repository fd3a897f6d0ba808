// Command tquicctl configures and inspects the TQUIC kernel module over its
// generic netlink family.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/pkg/tquicnl"
)

// Exit codes a script can rely on.
const (
	exitFailure         = 1
	exitUsage           = 2
	exitModuleNotLoaded = 3
)

func main() {
	app := newApp(os.Stdout)
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "tquicctl:", err)
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var ec cli.ExitCoder
	switch {
	case errors.Is(err, tquicnl.ErrModuleNotLoaded):
		return exitModuleNotLoaded
	case errors.As(err, &ec):
		return ec.ExitCode()
	default:
		return exitFailure
	}
}

func newApp(out io.Writer) *cli.App {
	return &cli.App{
		Name:                 "tquicctl",
		Usage:                "configure and inspect the TQUIC kernel QUIC stack",
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
		Commands: []*cli.Command{showCommand(), selftestCommand()},
	}
}

var jsonFlag = &cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "print JSON"}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "show the module's version, build id and crypto drivers",
		UsageText: `tquicctl show        # human-readable
   tquicctl show -j     # JSON`,
		Flags:        []cli.Flag{jsonFlag},
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("show takes no arguments, got %q", c.Args().First()), exitUsage)
			}
			nl, err := tquicnl.Dial()
			if err != nil {
				return err
			}
			defer nl.Close()
			info, err := nl.Info()
			if err != nil {
				return err
			}
			return printInfo(c.App.Writer, info, c.Bool("json"))
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
			nl, err := tquicnl.Dial()
			if err != nil {
				return err
			}
			defer nl.Close()
			res, err := nl.Selftest()
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

func usageError(c *cli.Context, err error, _ bool) error {
	return cli.Exit(fmt.Sprintf("%s: %v (see 'tquicctl %s --help')", c.Command.Name, err, c.Command.Name), exitUsage)
}

func printInfo(w io.Writer, info *tquicnl.Info, asJSON bool) error {
	if asJSON {
		return printJSON(w, info)
	}
	fmt.Fprintf(w, "version:  %s\nbuild id: %s\ncrypto:\n", info.Version, info.BuildID)
	for _, d := range info.Crypto {
		fmt.Fprintf(w, "  %-28s %s\n", d.Algorithm, d.Driver)
	}
	return nil
}
