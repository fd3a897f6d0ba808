package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/pkg/tquicd"
	"github.com/tquic/tquic/pkg/tquicnl"
)

// exitNoConn: conn show / path list named a connection that does not exist.
const exitNoConn = 4

func connCommand() *cli.Command {
	return &cli.Command{
		Name:  "conn",
		Usage: "list and inspect QUIC connections (every IPPROTO_QUIC socket of the namespace)",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "one line per connection: id, state, addresses, version, cc, RTT, cwnd, bytes",
				UsageText: `tquicctl conn list             # table
   tquicctl conn list -j          # JSON array, every counter
   tquicctl conn list -i 1s       # a new snapshot every second until interrupted`,
				Flags: []cli.Flag{jsonFlag, &cli.DurationFlag{Name: "interval", Aliases: []string{"i"},
					Usage: "repeat every `DURATION` until interrupted (with -j: one JSON array per line)"}},
				OnUsageError: usageError,
				Action:       connList,
			},
			{
				Name:      "show",
				Usage:     "every counter of one connection",
				ArgsUsage: "ID",
				UsageText: `tquicctl conn show 7
   tquicctl conn show -j 7

Exit status 4 when no connection has that id.`,
				Flags:        []cli.Flag{jsonFlag},
				OnUsageError: usageError,
				Action:       connShow,
			},
		},
	}
}

func pathCommand() *cli.Command {
	return &cli.Command{
		Name:  "path",
		Usage: "network paths of the connections",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "every path (of one connection with an ID): addresses, status, RTT, cwnd, pacing, ECN",
				ArgsUsage: "[CONN-ID]",
				UsageText: `tquicctl path list
   tquicctl path list 7
   tquicctl path list -j 7`,
				Flags:        []cli.Flag{jsonFlag},
				OnUsageError: usageError,
				Action:       pathList,
			},
		},
	}
}

func parseConnID(c *cli.Context, optional bool) (uint64, error) {
	switch {
	case c.NArg() == 0 && optional:
		return 0, nil
	case c.NArg() != 1:
		return 0, cli.Exit(fmt.Sprintf("%s: want one connection ID (see 'tquicctl conn list')", c.Command.FullName()), exitUsage)
	}
	id, err := strconv.ParseUint(c.Args().First(), 10, 64)
	if err != nil || id == 0 {
		return 0, cli.Exit(fmt.Sprintf("%s: connection ID %q: want a number from 'tquicctl conn list'", c.Command.FullName(), c.Args().First()), exitUsage)
	}
	return id, nil
}

// noConn turns "no such connection" into its own exit status.
func noConn(err error) error {
	if errors.Is(err, tquicnl.ErrNoConn) {
		return cli.Exit(err.Error(), exitNoConn)
	}
	return err
}

func connList(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("conn list takes no arguments, got %q", c.Args().First()), exitUsage)
	}
	interval := c.Duration("interval")
	if interval < 0 || (interval > 0 && interval < 10*time.Millisecond) {
		return cli.Exit("conn list: --interval must be at least 10ms", exitUsage)
	}
	nl, err := controller(c)
	if err != nil {
		return err
	}
	defer nl.Close()
	show := func(conns []tquicnl.Conn) error {
		if c.Bool("json") {
			if interval > 0 {
				return printJSONLine(c.App.Writer, conns)
			}
			return printJSON(c.App.Writer, conns)
		}
		if interval > 0 {
			fmt.Fprintf(c.App.Writer, "--- %s\n", time.Now().Format(time.RFC3339))
		}
		printConnTable(c.App.Writer, conns)
		return nil
	}
	if interval == 0 {
		conns, err := nl.Conns(c.Context)
		if err != nil {
			return err
		}
		return show(conns)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// tquicd streams the snapshots; locally they are polled.
	if rc, ok := nl.(*tquicd.RemoteClient); ok {
		err = rc.WatchStats(ctx, interval, show)
	} else {
		err = pollConns(ctx, nl, interval, show)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func pollConns(ctx context.Context, nl tquicnl.Controller, interval time.Duration, fn func([]tquicnl.Conn) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		conns, err := nl.Conns(rctx)
		cancel()
		if err != nil {
			return err
		}
		if err := fn(conns); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func connShow(c *cli.Context) error {
	id, err := parseConnID(c, false)
	if err != nil {
		return err
	}
	nl, err := controller(c)
	if err != nil {
		return err
	}
	defer nl.Close()
	conn, err := nl.Conn(c.Context, id)
	if err != nil {
		return noConn(err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, conn)
	}
	printConn(c.App.Writer, conn)
	return nil
}

func pathList(c *cli.Context) error {
	id, err := parseConnID(c, true)
	if err != nil {
		return err
	}
	nl, err := controller(c)
	if err != nil {
		return err
	}
	defer nl.Close()
	paths, err := nl.Paths(c.Context, id)
	if err != nil {
		return noConn(err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, paths)
	}
	printPathTable(c.App.Writer, paths)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func rtt(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(time.Microsecond).String()
}

func versionString(v tquicnl.Version) string {
	if v == 0 {
		return "-"
	}
	return v.String()
}

func printConnTable(w io.Writer, conns []tquicnl.Conn) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tROLE\tLOCAL\tPEER\tVER\tALPN\tCC\tSRTT\tCWND\tINFLIGHT\tSENT\tRECV\tLOST")
	for i := range conns {
		c := &conns[i]
		role := "-"
		if c.Engine {
			role = "client"
			if c.Server {
				role = "server"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", c.ID, c.State, role,
			dash(c.Local), dash(c.Peer), versionString(c.Version), dash(strings.Join(c.ALPN, ",")),
			c.CongestionControl, rtt(c.RTTSmoothed), c.Cwnd, c.BytesInFlight, c.BytesSent, c.BytesReceived,
			c.PacketsLost)
	}
	tw.Flush()
}

func printConn(w io.Writer, c *tquicnl.Conn) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	role := "client"
	if c.Server {
		role = "server"
	}
	row("id", c.ID)
	row("state", c.State)
	row("local", dash(c.Local))
	row("peer", dash(c.Peer))
	row("alpn", dash(strings.Join(c.ALPN, ",")))
	row("congestion control", c.CongestionControl)
	row("qlog", onOff(c.Qlog))
	if !c.Engine {
		tw.Flush()
		fmt.Fprintln(w, "(no engine connection: no counters)")
		return
	}
	row("role", role)
	row("version", versionString(c.Version))
	row("handshake confirmed", c.HandshakeConfirmed)
	row("cc state", dash(c.CCState))
	row("paths", c.Paths)
	row("packets sent/recv", fmt.Sprintf("%d / %d", c.PacketsSent, c.PacketsReceived))
	row("packets lost/dropped", fmt.Sprintf("%d / %d", c.PacketsLost, c.PacketsDropped))
	row("bytes sent/recv", fmt.Sprintf("%d / %d", c.BytesSent, c.BytesReceived))
	row("bytes retransmitted", c.BytesLost)
	row("rtt min/smoothed/var/latest", fmt.Sprintf("%s / %s / %s / %s", rtt(c.RTTMin), rtt(c.RTTSmoothed), rtt(c.RTTVar), rtt(c.RTTLatest)))
	row("cwnd", c.Cwnd)
	ss := "-"
	if c.Ssthresh != 0 && c.Ssthresh != ^uint64(0) {
		ss = strconv.FormatUint(c.Ssthresh, 10)
	}
	row("ssthresh", ss)
	row("bytes in flight", c.BytesInFlight)
	row("pacing rate (B/s)", c.PacingRate)
	row("key updates", c.KeyUpdates)
	row("probe timeouts", c.PTOCount)
	row("udp datagrams/bytes out", fmt.Sprintf("%d / %d", c.UDPTxDatagrams, c.UDPTxBytes))
	row("udp drops", c.UDPRxDropped)
	tw.Flush()
}

func printPathTable(w io.Writer, paths []tquicnl.Path) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONN\tPATH\tSTATUS\tLOCAL\tPEER\tMTU\tSRTT\tMINRTT\tCWND\tINFLIGHT\tPACING(B/s)\tCC-STATE\tLOST\tECN\tECT0/ECT1/CE")
	for i := range paths {
		p := &paths[i]
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\t%d/%d/%d\n", p.ConnID, p.ID, p.Status,
			dash(p.Local), dash(p.Peer), p.MTU, rtt(p.RTTSmoothed), rtt(p.RTTMin), p.Cwnd, p.BytesInFlight,
			p.PacingRate, dash(p.CCState), p.PacketsLost, dash(p.ECNState), p.ECNECT0, p.ECNECT1, p.ECNCE)
	}
	tw.Flush()
}
