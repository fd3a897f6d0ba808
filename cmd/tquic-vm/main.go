// Command tquic-vm boots the Debian kernel the module was built for in QEMU
// and runs a script in it (make demo) or opens a shell there (make vm-shell),
// with the host's root file system visible read-only.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/test/vm"
)

func main() {
	app := &cli.App{
		Name:  "tquic-vm",
		Usage: "run commands in a QEMU guest of the kernel TQUIC is built for",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "kill the guest after this long"},
			&cli.IntFlag{Name: "memory", Value: 1024, Usage: "guest memory in MiB"},
		},
		Commands: []*cli.Command{
			{
				Name:      "run",
				Usage:     "run a shell script in the guest and exit with its status",
				ArgsUsage: "SCRIPT",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cli.Exit("run takes exactly one argument, the script", 2)
					}
					return runGuest(c, c.Args().First(), false)
				},
			},
			{
				Name:      "shell",
				Usage:     "open an interactive shell in the guest after running an optional setup script",
				ArgsUsage: "[SETUP-SCRIPT]",
				Action: func(c *cli.Context) error {
					return runGuest(c, c.Args().First(), true)
				},
			},
		},
	}
	if err := app.Run(os.Args); err != nil {
		var ee *vm.ExitError
		if errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "tquic-vm:", err)
			os.Exit(ee.Status)
		}
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			fmt.Fprintln(os.Stderr, "tquic-vm:", err)
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "tquic-vm:", err)
		os.Exit(1)
	}
}

func runGuest(c *cli.Context, script string, interactive bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := vm.Config{
		Timeout:     c.Duration("timeout"),
		MemoryMiB:   c.Int("memory"),
		Interactive: interactive,
		Console:     os.Stdout,
	}
	if interactive {
		cfg.Console = nil
	}
	res, err := vm.Run(ctx, cfg, script)
	if res != nil && !interactive {
		fmt.Printf("tquic-vm: guest ran under %s in %v\n", strings.ToUpper(res.Accel), res.Elapsed.Round(time.Millisecond))
	}
	return err
}
