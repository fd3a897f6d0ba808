package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tquic/tquic/internal/testpki"
	"github.com/tquic/tquic/pkg/tquicnl"
)

// mgmtScript runs every management-plane check in one boot; each part
// records its results in the share ($S) and the test reads them after.
const mgmtScript = `
set -u
ctl=$S/tquicctl
peer=$S/mgmtpeer
test/vm/load-tquic.sh $KO || { echo "load failed"; exit 1; }
waitfile() { i=0; until [ -s "$1" ]; do i=$((i+1)); [ $i -lt 600 ] || return 1; sleep 0.1; done; }

# 1. Thousands of malformed requests: EINVAL with a message, no WARN.
$S/nlfuzz -n 5000 >$S/nlfuzz.json 2>$S/nlfuzz.err; echo $? >$S/nlfuzz.rc

# 2. The events monitor sees what follows.
$ctl monitor -j >$S/events.json 2>$S/monitor.err &
mon=$!
waitfile $S/monitor.err

# 3. Default congestion control: an unknown name fails, a known one is
#    what new connections use.
$ctl set cc reno 2>$S/cc-unknown.err; echo $? >$S/cc-unknown.rc
$ctl set cc newreno
$peer initial -port 4433 -n 2 -ready $S/a.ready -done $S/a.done 2>$S/a.err &
pa=$!
waitfile $S/a.ready || cat $S/a.err
$ctl set cc cubic
$peer initial -port 4434 -n 1 -ready $S/b.ready -done $S/b.done 2>$S/b.err &
pb=$!
waitfile $S/b.ready || cat $S/b.err
$ctl conn list
$ctl conn list -j >$S/conns.json; echo $? >$S/conns.rc
$ctl path list -j >$S/paths.json; echo $? >$S/paths.rc
$ctl path list
$ctl conn show 999999 2>$S/noconn.err; echo $? >$S/noconn.rc
$ctl conn show 1
$ctl conn show -j 1 >$S/show1.json 2>&1; echo $? >$S/show1.rc
touch $S/a.done $S/b.done
wait $pa $pb

# 4. qlog: a connection with TQUIC_SOCKOPT_QLOG emits records, one without
#    emits nothing.
mkdir -p $S/qlog
QLOGDIR=$S/qlog $ctl qlog -j >$S/qlog.json 2>$S/qlog.err &
ql=$!
waitfile $S/qlog.err
( $peer initial -port 4435 -n 1 -qlog -ready $S/q.ready -done $S/q.done 2>$S/q.err; echo $? >$S/q.rc ) &
q1=$!
$peer initial -port 4436 -n 1 -ready $S/nq.ready -done $S/nq.done 2>$S/nq.err &
q2=$!
waitfile $S/nq.ready
waitfile $S/q.ready || cat $S/q.err
$ctl conn list -j >$S/qconns.json
touch $S/q.done $S/nq.done
wait $q1 $q2
sleep 1

# 5. A 10 MB transfer with a full handshake (sockapi), counted by the
#    module, with qlog on for every connection through the global switch.
$ctl set qlog on
$peer transfer -port 4437 -bytes 10485760 -ca $CA -cert $CERT -key $KEY -ready $S/t.ready -done $S/t.done 2>$S/t.err &
tp=$!
waitfile $S/t.ready || cat $S/t.err
$ctl conn list -j >$S/tconns.json
$ctl conn list
$ctl path list -j >$S/tpaths.json
touch $S/t.done
wait $tp; echo $? >$S/t.rc
$ctl set qlog off
sleep 1
kill -INT $ql; wait $ql
kill -INT $mon; wait $mon
ls -l $S/qlog
rmmod tquic
exit 0
`

func (e env) buildHelpers(t *testing.T) {
	t.Helper()
	for _, name := range []string{"mgmtpeer", "nlfuzz"} {
		build := exec.Command("go", "build", "-o", filepath.Join(e.share, name), "./test/integration/testdata/"+name)
		build.Dir = e.root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
}

func (e env) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(e.share, name))
	return strings.TrimSpace(string(b))
}

func (e env) conns(t *testing.T, name string) []tquicnl.Conn {
	t.Helper()
	var cs []tquicnl.Conn
	if err := json.Unmarshal([]byte(e.file(name)), &cs); err != nil {
		t.Fatalf("%s: %v in %q", name, err, e.file(name))
	}
	return cs
}

// TestManagementPlane boots one guest and drives the management plane
// against live kernel connections: malformed netlink requests, the default
// congestion control, conn list/show, path list, events, qlog files and
// the byte counts of a 10 MB transfer.
func TestManagementPlane(t *testing.T) {
	e := setup(t)
	if ko := os.Getenv("TQUIC_KO"); ko != "" {
		// e.g. a build with the socket layer's qlog wiring; the guest's
		// /tmp is its own, so the module travels in the share.
		b, err := os.ReadFile(ko)
		if err != nil {
			t.Fatal(err)
		}
		e.module = filepath.Join(e.share, "tquic.ko")
		if err := os.WriteFile(e.module, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.buildHelpers(t)
	pki, err := testpki.Write(e.share)
	if err != nil {
		t.Fatal(err)
	}
	script := "S=" + e.share + "\nKO=" + e.module + "\nCA=" + pki.CA + "\nCERT=" + pki.ServerCert + "\nKEY=" + pki.ServerKey + "\n" + mgmtScript
	e.run(t, script) // fails on WARN/BUG/oops in the kernel log

	t.Run("MalformedNetlink", func(t *testing.T) {
		if rc := e.file("nlfuzz.rc"); rc != "0" {
			t.Fatalf("nlfuzz exit %s: %s %s", rc, e.file("nlfuzz.json"), e.file("nlfuzz.err"))
		}
		var sum struct {
			Sent   int            `json:"sent"`
			Errnos map[string]int `json:"errnos"`
		}
		if err := json.Unmarshal([]byte(e.file("nlfuzz.json")), &sum); err != nil || sum.Sent < 5000 {
			t.Fatalf("summary %q: %v", e.file("nlfuzz.json"), err)
		}
		t.Logf("%d malformed requests: %v", sum.Sent, sum.Errnos)
	})

	t.Run("DefaultCongestionControl", func(t *testing.T) {
		if rc := e.file("cc-unknown.rc"); rc == "0" {
			t.Fatal("set cc reno accepted")
		}
		if msg := e.file("cc-unknown.err"); !strings.Contains(msg, "unknown congestion control") {
			t.Fatalf("set cc reno said %q", msg)
		}
		cc := map[uint16]string{}
		for _, c := range e.conns(t, "conns.json") {
			if c.Engine && !c.Server {
				cc[portOf(c.Peer)] = c.CongestionControl
			}
		}
		if cc[4433] != "newreno" || cc[4434] != "cubic" {
			t.Fatalf("client connections' congestion control by server port: %v (want 4433 newreno, 4434 cubic)", cc)
		}
	})

	t.Run("ConnListShowPathList", func(t *testing.T) {
		conns := e.conns(t, "conns.json")
		var listeners, clients, servers int
		for _, c := range conns {
			switch {
			case c.State == tquicnl.ConnListen:
				listeners++
			case c.Engine && c.Server:
				servers++
				if c.PacketsReceived == 0 || c.BytesReceived < 1200 {
					t.Errorf("server connection %d received nothing: %+v", c.ID, c)
				}
			case c.Engine:
				clients++
				if c.PacketsSent == 0 || c.BytesSent < 1200 || c.Version != tquicnl.Version1 || c.Cwnd == 0 || c.Local == "" || c.Peer == "" {
					t.Errorf("client connection %d: %+v", c.ID, c)
				}
			}
		}
		if listeners != 2 || clients != 3 || servers != 3 {
			t.Fatalf("%d listeners, %d clients, %d servers in %s", listeners, clients, servers, e.file("conns.json"))
		}
		var paths []tquicnl.Path
		if err := json.Unmarshal([]byte(e.file("paths.json")), &paths); err != nil || len(paths) != 6 {
			t.Fatalf("paths %s: %v", e.file("paths.json"), err)
		}
		for _, p := range paths {
			if p.Peer == "" || p.Local == "" || p.MTU < 1200 || p.Cwnd == 0 {
				t.Errorf("path %+v", p)
			}
		}
		if rc := e.file("noconn.rc"); rc != "4" {
			t.Errorf("conn show of an unknown id: exit %s (%s), want 4", rc, e.file("noconn.err"))
		}
		var one tquicnl.Conn
		if err := json.Unmarshal([]byte(e.file("show1.json")), &one); err != nil || one.ID != 1 {
			t.Errorf("conn show -j 1: %s (%v)", e.file("show1.json"), err)
		}
	})

	t.Run("Qlog", func(t *testing.T) {
		if rc := e.file("q.rc"); rc != "0" {
			t.Fatalf("qlog peer: exit %s: %s", rc, e.file("q.err"))
		}
		var withQlog, without int
		for _, c := range e.conns(t, "qconns.json") {
			if !c.Engine || c.Server {
				continue
			}
			switch portOf(c.Peer) {
			case 4435:
				if !c.Qlog {
					t.Errorf("connection with TQUIC_SOCKOPT_QLOG reports qlog off: %+v", c)
				}
				withQlog = int(c.ID)
			case 4436:
				if c.Qlog {
					t.Errorf("connection without qlog reports it on: %+v", c)
				}
				without = int(c.ID)
			}
		}
		if withQlog == 0 || without == 0 {
			t.Fatalf("connections not found in %s", e.file("qconns.json"))
		}
		files, _ := filepath.Glob(filepath.Join(e.share, "qlog", "*.sqlog"))
		names := map[string]bool{}
		for _, f := range files {
			names[filepath.Base(f)] = true
		}
		if !names[sqlogName(withQlog, "client")] {
			t.Fatalf("no qlog file for connection %d: %v (%s)", withQlog, names, e.file("qlog.err"))
		}
		if names[sqlogName(without, "client")] {
			t.Fatalf("connection %d without qlog has a file", without)
		}
		checkSqlog(t, filepath.Join(e.share, "qlog", sqlogName(withQlog, "client")), false)
	})

	t.Run("Transfer10MB", func(t *testing.T) {
		if rc := e.file("t.rc"); rc != "0" {
			t.Fatalf("transfer: exit %s: %s", rc, e.file("t.err"))
		}
		var client, server *tquicnl.Conn
		for _, c := range e.conns(t, "tconns.json") {
			c := c
			if !c.Engine || portOf(c.Peer) != 4437 && portOf(c.Local) != 4437 {
				continue
			}
			if c.Server {
				server = &c
			} else {
				client = &c
			}
		}
		if client == nil || server == nil {
			t.Fatalf("transfer connections not in %s", e.file("tconns.json"))
		}
		const size = 10 << 20
		// UDP payload bytes: the stream bytes plus QUIC overhead (short
		// header, AEAD tag, STREAM frame header: about 35 bytes per
		// 1200-1450 byte packet, under 4%), the handshake (a few KB) and
		// retransmissions (counted again).
		if client.BytesSent < size || client.BytesSent > size+size*6/100+client.BytesLost {
			t.Errorf("client sent %d UDP payload bytes for %d stream bytes (lost %d)", client.BytesSent, size, client.BytesLost)
		}
		if server.BytesReceived < size || server.BytesReceived > size+size*6/100+client.BytesLost {
			t.Errorf("server received %d bytes for %d stream bytes", server.BytesReceived, size)
		}
		if client.UDPTxBytes != client.BytesSent {
			t.Errorf("socket layer handed %d bytes to UDP, engine counted %d", client.UDPTxBytes, client.BytesSent)
		}
		if client.RTTSmoothed == 0 || client.RTTMin == 0 || client.Cwnd == 0 || client.State != tquicnl.ConnEstablished ||
			!client.HandshakeConfirmed || len(client.ALPN) == 0 {
			t.Errorf("client stats %+v", client)
		}
		t.Logf("10 MiB: client sent %d bytes in %d packets (%.2f%% overhead), %d lost; server received %d bytes; srtt %v cwnd %d",
			client.BytesSent, client.PacketsSent, 100*float64(client.BytesSent-size)/size, client.PacketsLost,
			server.BytesReceived, client.RTTSmoothed, client.Cwnd)
		seen := checkSqlog(t, filepath.Join(e.share, "qlog", sqlogName(int(client.ID), "client")), true)
		// Every packet, plus the CONNECTION_CLOSE sent after the snapshot.
		if n := uint64(seen["transport:packet_sent"]); n < client.PacketsSent || n > client.PacketsSent+4 {
			t.Errorf("qlog has %d packet_sent events, the connection had sent %d packets", n, client.PacketsSent)
		}
		ev := e.file("events.json")
		if !strings.Contains(ev, `"kind":"conn_up"`) || !strings.Contains(ev, `"kind":"conn_down"`) {
			t.Errorf("events: %s", ev)
		}
	})
}

func sqlogName(id int, role string) string {
	return "conn-" + itoa(id) + "-" + role + ".sqlog"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func portOf(addr string) uint16 {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0
	}
	var p uint16
	for _, c := range addr[i+1:] {
		p = p*10 + uint16(c-'0')
	}
	return p
}

// checkSqlog parses a JSON-SEQ qlog file and checks its events are in time
// order and include packets sent and received and, when full, recovery
// metrics.
func checkSqlog(t *testing.T, path string, full bool) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := strings.Split(string(b), "\x1e")
	if len(recs) < 3 || recs[0] != "" {
		t.Fatalf("%s: not JSON-SEQ (%d records)", path, len(recs))
	}
	if strings.Contains(string(b), "tquic:records_lost") {
		t.Errorf("%s: records were lost", path)
	}
	seen := map[string]int{}
	last := -1.0
	for i, r := range recs[1:] {
		if !strings.HasSuffix(r, "\n") {
			t.Fatalf("%s: record %d does not end in LF", path, i)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			t.Fatalf("%s: record %d: %v", path, i, err)
		}
		if i == 0 {
			if m["qlog_format"] != "JSON-SEQ" {
				t.Fatalf("%s: header %v", path, m)
			}
			continue
		}
		tm, _ := m["time"].(float64)
		if tm < last {
			t.Fatalf("%s: record %d at %v after %v", path, i, tm, last)
		}
		last = tm
		seen[m["name"].(string)]++
	}
	need := []string{"transport:packet_sent", "connectivity:connection_started", "transport:version_information"}
	if full {
		need = append(need, "transport:packet_received", "recovery:metrics_updated", "transport:packets_acked")
	}
	for _, n := range need {
		if seen[n] == 0 {
			t.Errorf("%s: no %s event (%v)", path, n, seen)
		}
	}
	t.Logf("%s: %v", filepath.Base(path), seen)
	return seen
}
