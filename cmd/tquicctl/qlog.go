package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/pkg/tquicnl"
	"github.com/tquic/tquic/pkg/uapi"
)

func qlogCommand() *cli.Command {
	return &cli.Command{
		Name:  "qlog",
		Usage: "write the kernel's qlog records as one JSON-SEQ .sqlog file per connection (qvis loads them)",
		UsageText: `tquicctl qlog                    # into $QLOGDIR, or the current directory
   tquicctl qlog --dir /tmp/qlog    # until interrupted
   tquicctl qlog --conn 7 -j        # one connection; a JSON line per finished file

Connections emit records when their socket set TQUIC_SOCKOPT_QLOG, or
when 'tquicctl set qlog on' was in force when they started. A file is
named conn-ID-ROLE.sqlog and is complete when the connection closes.
Needs CAP_NET_ADMIN.`,
		Flags: []cli.Flag{
			jsonFlag,
			&cli.StringFlag{Name: "dir", Usage: "write files into `DIR` (default: $QLOGDIR, else .)"},
			&cli.Uint64SliceFlag{Name: "conn", Usage: "only connection `ID` (repeatable)"},
		},
		OnUsageError: usageError,
		Action:       qlogAction,
	}
}

func qlogAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("qlog takes no arguments, got %q", c.Args().First()), exitUsage)
	}
	dir := c.String("dir")
	if dir == "" {
		dir = os.Getenv("QLOGDIR")
	}
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("qlog: %w", err)
	}
	only := map[uint64]bool{}
	for _, id := range c.Uint64Slice("conn") {
		only[id] = true
	}
	nl, err := controller(c)
	if err != nil {
		return err
	}
	defer nl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	w := newQlogWriter(dir, func(f qlogFile) {
		if c.Bool("json") {
			printJSONLine(c.App.Writer, f)
		} else {
			fmt.Fprintf(c.App.Writer, "conn %d: %s (%d events)\n", f.ConnID, f.Path, f.Events)
		}
	})
	defer w.closeAll()
	joined := func() {
		fmt.Fprintf(c.App.ErrWriter, "tquicctl: writing qlog files to %s (interrupt to stop)\n", dir)
	}
	err = nl.WatchQlog(ctx, joined, func(b tquicnl.QlogBatch) error {
		if len(only) > 0 && !only[b.ConnID] {
			return nil
		}
		return w.add(b)
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// qlogFile is what tquicctl qlog reports for a finished file.
type qlogFile struct {
	ConnID uint64 `json:"conn_id"`
	Path   string `json:"path"`
	Events int    `json:"events"`
	Closed bool   `json:"closed"` // the connection closed (else: tquicctl stopped)
}

type qlogConn struct {
	f      *os.File
	buf    *bufio.Writer
	info   qlogFile
	server bool
}

// qlogWriter turns record batches into one JSON-SEQ file per connection.
type qlogWriter struct {
	dir   string
	conns map[uint64]*qlogConn
	// closed remembers finished files: the records of a connection's last
	// packets (its CONNECTION_CLOSE) follow its close record.
	closed map[uint64]*qlogConn
	done   func(qlogFile)
	now    func() time.Time
}

func newQlogWriter(dir string, done func(qlogFile)) *qlogWriter {
	return &qlogWriter{dir: dir, conns: map[uint64]*qlogConn{}, closed: map[uint64]*qlogConn{}, done: done, now: time.Now}
}

func (w *qlogWriter) add(b tquicnl.QlogBatch) error {
	qc := w.conns[b.ConnID]
	if b.Overrun {
		// The socket lost messages: every open file may have a gap.
		for _, c := range w.conns {
			if err := writeSeq(c.buf, map[string]any{"time": 0.0, "name": "tquic:records_lost",
				"data": map[string]any{"overrun": true}}); err != nil {
				return fmt.Errorf("qlog: write %s: %w", c.info.Path, err)
			}
		}
	}
	for i := range b.Records {
		r := &b.Records[i]
		if qc == nil {
			var err error
			if qc, err = w.reopen(b.ConnID); err != nil {
				return err
			}
		}
		if qc == nil {
			var err error
			if qc, err = w.open(b.ConnID, r); err != nil {
				return err
			}
		}
		for _, ev := range qlogEvents(r, qc.server) {
			if err := writeSeq(qc.buf, ev); err != nil {
				return fmt.Errorf("qlog: write %s: %w", qc.info.Path, err)
			}
			qc.info.Events++
		}
		if r.Type == uapi.QlogConnClosed {
			qc.info.Closed = true
			if err := w.finish(b.ConnID, qc); err != nil {
				return err
			}
			qc = nil
		}
	}
	if qc != nil {
		if err := qc.buf.Flush(); err != nil {
			return fmt.Errorf("qlog: write %s: %w", qc.info.Path, err)
		}
	}
	return nil
}

// open starts the file of a connection with the qlog header.
func (w *qlogWriter) open(id uint64, first *tquicnl.QlogRecord) (*qlogConn, error) {
	qc := &qlogConn{info: qlogFile{ConnID: id}}
	// Time 0 on the wall clock: from the kernel when the first record is
	// CONN_STARTED, else estimated from now.
	ref := w.now().Add(-first.Time)
	vantage := "unknown"
	if first.Type == uapi.QlogConnStarted {
		qc.server = first.Server
		ref = time.Unix(0, int64(first.Code))
		vantage = "client"
		if first.Server {
			vantage = "server"
		}
	}
	name := fmt.Sprintf("conn-%d-%s.sqlog", id, vantage)
	qc.info.Path = filepath.Join(w.dir, name)
	f, err := os.Create(qc.info.Path)
	if err != nil {
		return nil, fmt.Errorf("qlog: %w", err)
	}
	qc.f, qc.buf = f, bufio.NewWriter(f)
	header := map[string]any{
		"qlog_version": "0.3",
		"qlog_format":  "JSON-SEQ",
		"title":        fmt.Sprintf("tquic connection %d", id),
		"description":  "recorded in the kernel by the tquic module",
		"trace": map[string]any{
			"title":         name,
			"vantage_point": map[string]any{"name": "tquic", "type": vantage},
			"common_fields": map[string]any{
				"time_format":    "relative",
				"reference_time": float64(ref.UnixNano()) / 1e6,
				"protocol_type":  []string{"QUIC"},
				"group_id":       strconv.FormatUint(id, 10),
			},
		},
	}
	if err := writeSeq(qc.buf, header); err != nil {
		f.Close()
		return nil, fmt.Errorf("qlog: write %s: %w", qc.info.Path, err)
	}
	w.conns[id] = qc
	return qc, nil
}

// reopen appends to the finished file of connection id, if there is one.
func (w *qlogWriter) reopen(id uint64) (*qlogConn, error) {
	qc := w.closed[id]
	if qc == nil {
		return nil, nil
	}
	f, err := os.OpenFile(qc.info.Path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("qlog: %w", err)
	}
	delete(w.closed, id)
	qc.f, qc.buf = f, bufio.NewWriter(f)
	w.conns[id] = qc
	return qc, nil
}

func (w *qlogWriter) finish(id uint64, qc *qlogConn) error {
	delete(w.conns, id)
	w.closed[id] = qc
	err := qc.buf.Flush()
	if cerr := qc.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("qlog: write %s: %w", qc.info.Path, err)
	}
	if w.done != nil {
		w.done(qc.info)
	}
	return nil
}

// closeAll finishes the files of connections still open, in id order.
func (w *qlogWriter) closeAll() error {
	ids := make([]uint64, 0, len(w.conns))
	for id := range w.conns {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var first error
	for _, id := range ids {
		if err := w.finish(id, w.conns[id]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// writeSeq writes one JSON text sequence record (RFC 7464).
func writeSeq(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte{0x1e}); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err = w.Write([]byte{'\n'})
	return err
}

var qlogPacketTypes = map[uint8]string{
	uapi.QlogPktInitial: "initial", uapi.QlogPkt0RTT: "0RTT", uapi.QlogPktHandshake: "handshake",
	uapi.QlogPktRetry: "retry", uapi.QlogPkt1RTT: "1RTT", uapi.QlogPktVN: "version_negotiation",
	uapi.QlogPktUnknown: "unknown",
}

var qlogSpaceTypes = map[uint8]string{0: "initial", 1: "handshake", 2: "1RTT"}

var qlogSpaceNames = map[uint8]string{0: "initial", 1: "handshake", 2: "application_data"}

var qlogDropTriggers = map[uint8]string{
	uapi.QlogDropDecrypt: "decryption_failure", uapi.QlogDropDuplicate: "duplicate",
	uapi.QlogDropUnknownCID: "connection_unknown", uapi.QlogDropResources: "internal_error",
	uapi.QlogDropPath: "rejected",
}

var qlogCloseTriggers = map[uint8]string{
	uapi.QlogCloseLocal: "clean", uapi.QlogCloseRemote: "clean", uapi.QlogCloseIdle: "idle_timeout",
	uapi.QlogCloseReset: "stateless_reset", uapi.QlogCloseHandshake: "handshake_timeout",
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func hexVersion(v tquicnl.Version) string { return fmt.Sprintf("%08x", uint32(v)) }

func alpnInfo(names []string, server, chosen bool) map[string]any {
	data := map[string]any{}
	if server {
		data["server_alpns"] = names
	} else {
		data["client_alpns"] = names
	}
	if chosen && len(names) == 1 {
		data["chosen_alpn"] = map[string]any{"string_value": names[0]}
	}
	return data
}

// qlogEvents turns one kernel record into qlog events (QUIC event
// definitions of the qlog drafts, as qvis reads them).
func qlogEvents(r *tquicnl.QlogRecord, server bool) []map[string]any {
	var out []map[string]any
	ev := func(name string, data map[string]any) {
		out = append(out, map[string]any{"time": ms(r.Time), "name": name, "data": data})
	}
	if r.Lost > 0 {
		ev("tquic:records_lost", map[string]any{"count": r.Lost})
	}
	pkt := func() map[string]any {
		h := map[string]any{"packet_type": qlogPacketTypes[r.PktType]}
		if r.Type != uapi.QlogPacketDropped {
			h["packet_number"] = r.PN
		}
		return map[string]any{"header": h, "raw": map[string]any{"length": r.Len}}
	}
	switch r.Type {
	case uapi.QlogConnStarted:
		ev("connectivity:connection_started", map[string]any{})
		if r.Version != 0 {
			ev("transport:version_information", map[string]any{"chosen_version": hexVersion(r.Version)})
		}
		if len(r.ALPN) > 0 {
			ev("transport:alpn_information", alpnInfo(r.ALPN, server, false))
		}
	case uapi.QlogPacketSent:
		ev("transport:packet_sent", pkt())
	case uapi.QlogPacketReceived:
		ev("transport:packet_received", pkt())
	case uapi.QlogPacketDropped:
		d := pkt()
		d["trigger"] = qlogDropTriggers[r.Trigger]
		ev("transport:packet_dropped", d)
	case uapi.QlogPacketsAcked:
		ev("transport:packets_acked", map[string]any{"packet_number_space": qlogSpaceNames[r.Space],
			"packet_numbers": []uint64{r.PN}})
	case uapi.QlogPacketLost:
		ev("recovery:packet_lost", map[string]any{"header": map[string]any{
			"packet_type": qlogSpaceTypes[r.Space], "packet_number": r.PN}})
	case uapi.QlogMetrics:
		m := map[string]any{
			"smoothed_rtt": ms(r.RTTSmoothed), "latest_rtt": ms(r.RTTLatest), "rtt_variance": ms(r.RTTVar),
			"congestion_window": r.Cwnd, "bytes_in_flight": r.BytesInFlight,
		}
		if r.RTTMin > 0 {
			m["min_rtt"] = ms(r.RTTMin)
		}
		if r.Ssthresh != 0 && r.Ssthresh != ^uint64(0) {
			m["ssthresh"] = r.Ssthresh
		}
		if r.PacingRate > 0 {
			m["pacing_rate"] = r.PacingRate * 8 // qlog counts bits per second
		}
		ev("recovery:metrics_updated", m)
	case uapi.QlogCCState:
		ev("recovery:congestion_state_updated", map[string]any{"new": r.CCState})
	case uapi.QlogKeyUpdate:
		keyType := "client_1rtt_secret"
		if server {
			keyType = "server_1rtt_secret"
		}
		trigger := "local_update"
		if r.Trigger != 0 {
			trigger = "remote_update"
		}
		ev("security:key_updated", map[string]any{"key_type": keyType, "generation": r.Code, "trigger": trigger})
	case uapi.QlogVersion:
		ev("transport:version_information", map[string]any{"chosen_version": hexVersion(r.Version)})
	case uapi.QlogHandshakeDone:
		ev("connectivity:connection_state_updated", map[string]any{"new": "handshake_confirmed"})
	case uapi.QlogALPN:
		ev("transport:alpn_information", alpnInfo(r.ALPN, server, true))
	case uapi.QlogPathValidated:
		ev("tquic:path_validated", map[string]any{})
	case uapi.QlogConnClosed:
		owner := "local"
		if r.Trigger == uapi.QlogCloseRemote {
			owner = "remote"
		}
		ev("connectivity:connection_closed", map[string]any{"owner": owner, "connection_code": r.Code,
			"trigger": qlogCloseTriggers[r.Trigger]})
	default:
		ev("tquic:unknown_record", map[string]any{"type": r.Type})
	}
	return out
}
