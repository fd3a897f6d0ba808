package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/pkg/tquicnl"
)

func monitorCommand() *cli.Command {
	return &cli.Command{
		Name:  "monitor",
		Usage: "print the module's events as they happen, until interrupted",
		UsageText: `tquicctl monitor      # one line per event
   tquicctl monitor -j   # one JSON object per line`,
		Flags:        []cli.Flag{jsonFlag},
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("monitor takes no arguments, got %q", c.Args().First()), exitUsage)
			}
			nl, err := controller(c)
			if err != nil {
				return err
			}
			defer nl.Close()
			// Monitoring runs until a signal, not for the request timeout.
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			joined := func() { fmt.Fprintln(c.App.ErrWriter, "tquicctl: monitoring events (interrupt to stop)") }
			err = nl.Watch(ctx, joined, func(ev tquicnl.Event) error {
				if c.Bool("json") {
					return printJSONLine(c.App.Writer, ev)
				}
				return printEvent(c.App.Writer, ev)
			})
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
}
