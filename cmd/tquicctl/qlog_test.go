package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tquic/tquic/pkg/tquicnl"
	"github.com/tquic/tquic/pkg/uapi"
)

// readSeq splits a JSON-SEQ file (RFC 7464) into its records.
func readSeq(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, rec := range bytes.Split(b, []byte{0x1e}) {
		if len(rec) == 0 {
			continue
		}
		if rec[len(rec)-1] != '\n' {
			t.Fatalf("record %q does not end in a newline", rec)
		}
		var m map[string]any
		if err := json.Unmarshal(rec, &m); err != nil {
			t.Fatalf("record %q: %v", rec, err)
		}
		out = append(out, m)
	}
	return out
}

func TestQlogWriterJSONSeq(t *testing.T) {
	dir := t.TempDir()
	var done []qlogFile
	w := newQlogWriter(dir, func(f qlogFile) { done = append(done, f) })
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := time.Millisecond
	batches := []tquicnl.QlogBatch{
		{ConnID: 7, Records: []tquicnl.QlogRecord{
			{Type: uapi.QlogConnStarted, Server: true, Version: tquicnl.Version1, Code: uint64(start.UnixNano()), ALPN: []string{"h3"}},
			{Type: uapi.QlogPacketReceived, Time: 1 * ms, PktType: uapi.QlogPktInitial, PN: 0, Len: 1200},
			{Type: uapi.QlogPacketSent, Time: 2 * ms, PktType: uapi.QlogPktInitial, PN: 0, Len: 1200},
		}},
		{ConnID: 8, Records: []tquicnl.QlogRecord{{Type: uapi.QlogPacketSent, Time: 5 * ms, PktType: uapi.QlogPkt1RTT, PN: 3, Len: 50}}},
		{ConnID: 7, Records: []tquicnl.QlogRecord{
			{Type: uapi.QlogMetrics, Time: 3 * ms, RTTSmoothed: 2 * ms, RTTMin: ms, Cwnd: 14720, PacingRate: 1000, Ssthresh: ^uint64(0)},
			{Type: uapi.QlogCCState, Time: 3 * ms, CCState: "slow_start"},
			{Type: uapi.QlogPacketsAcked, Time: 3 * ms, Space: 0, PN: 0},
			{Type: uapi.QlogPacketLost, Time: 4 * ms, Space: 2, PN: 9},
			{Type: uapi.QlogKeyUpdate, Time: 5 * ms, Code: 1, Trigger: 1},
			{Type: uapi.QlogPacketDropped, Time: 5 * ms, PktType: uapi.QlogPkt1RTT, Len: 40, Trigger: uapi.QlogDropDecrypt, Lost: 2},
			{Type: uapi.QlogConnClosed, Time: 6 * ms, Trigger: uapi.QlogCloseRemote},
		}},
	}
	for _, b := range batches {
		if err := w.add(b); err != nil {
			t.Fatal(err)
		}
	}
	if len(done) != 1 || done[0].ConnID != 7 || !done[0].Closed {
		t.Fatalf("finished files %+v, want connection 7 closed", done)
	}
	if err := w.closeAll(); err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[1].ConnID != 8 || done[1].Closed {
		t.Fatalf("finished files %+v", done)
	}

	recs := readSeq(t, filepath.Join(dir, "conn-7-server.sqlog"))
	if recs[0]["qlog_format"] != "JSON-SEQ" || recs[0]["qlog_version"] != "0.3" {
		t.Fatalf("header %v", recs[0])
	}
	trace := recs[0]["trace"].(map[string]any)
	if trace["vantage_point"].(map[string]any)["type"] != "server" ||
		trace["common_fields"].(map[string]any)["reference_time"].(float64) != float64(start.UnixNano())/1e6 {
		t.Fatalf("trace %v", trace)
	}
	var names []string
	last := -1.0
	for _, r := range recs[1:] {
		names = append(names, r["name"].(string))
		tm := r["time"].(float64)
		if tm < last {
			t.Fatalf("time went back: %v", recs)
		}
		last = tm
	}
	want := []string{"connectivity:connection_started", "transport:version_information", "transport:alpn_information",
		"transport:packet_received", "transport:packet_sent", "recovery:metrics_updated",
		"recovery:congestion_state_updated", "transport:packets_acked", "recovery:packet_lost", "security:key_updated",
		"tquic:records_lost", "transport:packet_dropped", "connectivity:connection_closed"}
	if len(names) != len(want) {
		t.Fatalf("events %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("events %v, want %v", names, want)
		}
	}
	sent := recs[5]["data"].(map[string]any)
	if sent["header"].(map[string]any)["packet_type"] != "initial" || sent["raw"].(map[string]any)["length"].(float64) != 1200 {
		t.Fatalf("packet_sent %v", sent)
	}
	m := recs[6]["data"].(map[string]any)
	if m["smoothed_rtt"].(float64) != 2 || m["pacing_rate"].(float64) != 8000 || m["ssthresh"] != nil {
		t.Fatalf("metrics %v", m)
	}
	if r := readSeq(t, filepath.Join(dir, "conn-8-unknown.sqlog")); len(r) != 2 {
		t.Fatalf("connection 8: %v", r)
	}
}
