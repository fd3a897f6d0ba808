// Package sockets tests the IPPROTO_QUIC socket layer of the kernel module
// inside a VM: the socket API from C (only libc and the UAPI header), rmmod
// with sockets open, and a flood of garbage datagrams to listening and
// connected ports with the module's counters and slab caches checked.
package sockets

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tquic/tquic/test/vm"
)

type consoleLog struct{ t *testing.T }

func (w consoleLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// floodCount is how many garbage datagrams the flood sends.
const floodCount = 1000000

// The guest script records each part's result in the share instead of
// stopping at the first failure, so one boot covers every part.
const script = `
set -u
S=$SHARE
ko=$KO
# The module's own caches: sockets and the engine's objects (an engine
# cache merged into another of its size has no line here; counting 0).
caches="TQUIC TQUICv6 tquic_conn tquic_path tquic_path_xmit tquic_peer_cid"
shrink() { for c in $caches; do [ -w /sys/kernel/slab/$c/shrink ] && echo 1 >/sys/kernel/slab/$c/shrink; done; true; }
slab() { awk -v caches="$caches" 'BEGIN{split(caches, l, " "); for (i in l) want[l[i]]=1} ($1 in want){n+=$2} END{print n+0}' /proc/slabinfo; }
settle() {
	# Sockets are RCU-freed: wait for the module's live counts to reach 0.
	i=0
	until grep -q '^Sockets 0$' /proc/net/tquic_sock && grep -q '^Tunnels 0$' /proc/net/tquic_sock &&
	      grep -q '^Cids 0$' /proc/net/tquic_sock; do
		i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.1
	done
	sleep 0.5; shrink
}

test/vm/load-tquic.sh $ko || { echo "load failed" >$S/load.err; exit 0; }
grep -q '^tquic ' /proc/modules && echo loaded >$S/load.ok
cat /proc/net/protocols | grep -E '^TQUIC' >$S/protocols

# 1. The socket API.
timeout 240 $S/sockapi basic >$S/basic.out 2>&1; echo $? >$S/basic.rc
grep -E '^FAIL' $S/basic.out | head -20
[ "$(cat $S/basic.rc)" = 0 ] || tail -5 $S/basic.out

# 2. rmmod refused while sockets are open, accepted after they close.
$S/sockapi hold $S/hold.ready >$S/hold.out 2>&1 &
hold=$!
i=0; until [ -s $S/hold.ready ]; do i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.1; done
rmmod tquic 2>$S/rmmod-busy.err; echo $? >$S/rmmod-busy.rc
grep -q '^tquic ' /proc/modules && echo yes >$S/loaded-while-busy
kill -TERM $hold; wait $hold; echo $? >$S/hold.rc
cat $S/rmmod-busy.err
settle
rmmod tquic 2>$S/rmmod.err; echo $? >$S/rmmod.rc
grep -q '^tquic ' /proc/modules && echo yes >$S/loaded-after-rmmod

# 3. Garbage to a listener and to a connected socket.
test/vm/load-tquic.sh $ko || exit 0
shrink
slab >$S/slab.before
timeout 480 $S/sockapi flood ` + "FLOOD" + ` >$S/flood.out 2>&1; echo $? >$S/flood.rc
cat $S/flood.out
cat /proc/net/tquic_sock >$S/stats.flood
settle
cat /proc/net/tquic_sock >$S/stats.after
slab >$S/slab.after
rmmod tquic 2>$S/rmmod2.err; echo $? >$S/rmmod2.rc
exit 0
`

func TestSocketLayer(t *testing.T) {
	root, err := vm.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	module := os.Getenv("TQUIC_KO")
	if module == "" {
		module = filepath.Join(root, "kmod", "tquic.ko")
	}
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("%v: build the module first ('make build')", err)
	}
	share := t.TempDir()
	build := exec.Command("gcc", "-O2", "-Wall", "-Wextra", "-Werror",
		"-I", filepath.Join(root, "kmod", "include", "uapi"),
		"-o", filepath.Join(share, "sockapi"), filepath.Join("testdata", "sockapi.c"), "-lpthread")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build sockapi: %v\n%s", err, out)
	}
	shares := []string{share}
	if !strings.HasPrefix(module, root+"/") {
		shares = append(shares, filepath.Dir(module))
	}
	s := strings.ReplaceAll(script, "FLOOD", strconv.Itoa(floodCount))
	s = "SHARE=" + share + "\nKO=" + module + "\n" + s
	ctx, cancel := context.WithTimeout(context.Background(), 13*time.Minute)
	defer cancel()
	if _, err := vm.Run(ctx, vm.Config{Shares: shares, Console: consoleLog{t}, Timeout: 12 * time.Minute}, s); err != nil {
		t.Fatal(err) // includes WARN/BUG/oops in the kernel log
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(share, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	if read("load.ok") != "loaded" {
		t.Fatalf("module did not load: %s", read("load.err"))
	}
	if p := read("protocols"); !strings.Contains(p, "TQUICv6") || !strings.Contains(p, "TQUIC ") {
		t.Errorf("/proc/net/protocols lists %q, want TQUIC and TQUICv6", p)
	}

	t.Run("API", func(t *testing.T) {
		out := read("basic.out")
		oks, fails := 0, 0
		for _, line := range strings.Split(out, "\n") {
			switch {
			case strings.HasPrefix(line, "ok "):
				oks++
			case strings.HasPrefix(line, "FAIL "):
				fails++
				t.Error(line)
			}
		}
		if rc := read("basic.rc"); rc != "0" || fails > 0 {
			t.Errorf("sockapi basic exited %s with %d failures", rc, fails)
		}
		// Four socket kinds, each with well over a hundred checks.
		if oks < 4*150 {
			t.Errorf("only %d checks passed:\n%s", oks, out)
		}
		t.Logf("%d socket API checks passed", oks)
	})

	t.Run("RmmodWithOpenSockets", func(t *testing.T) {
		if read("hold.ready") == "" {
			t.Fatalf("holder did not start: %s", read("hold.out"))
		}
		if read("rmmod-busy.rc") == "0" || read("loaded-while-busy") != "yes" {
			t.Errorf("rmmod with open sockets: exit %s (%s), want a refusal", read("rmmod-busy.rc"), read("rmmod-busy.err"))
		}
		if e := read("rmmod-busy.err"); !strings.Contains(e, "in use") {
			t.Errorf("rmmod with open sockets said %q, want EBUSY (in use)", e)
		}
		if read("hold.rc") != "0" {
			t.Errorf("holder exited %s: %s", read("hold.rc"), read("hold.out"))
		}
		if read("rmmod.rc") != "0" || read("loaded-after-rmmod") != "" {
			t.Errorf("rmmod after close: exit %s (%s)", read("rmmod.rc"), read("rmmod.err"))
		}
	})

	t.Run("GarbageFlood", func(t *testing.T) {
		if rc := read("flood.rc"); rc != "0" {
			t.Fatalf("flood exited %s: %s", rc, read("flood.out"))
		}
		// Before the flood: Version Negotiation from the listener and
		// stateless resets for unknown CIDs, both families.
		for _, fam := range []string{"ipv4", "ipv6"} {
			if !strings.Contains(read("flood.out"), "vn ok "+fam) {
				t.Errorf("no Version Negotiation answer over %s: %s", fam, read("flood.out"))
			}
			if !strings.Contains(read("flood.out"), "reset ok "+fam) {
				t.Errorf("no stateless reset answer over %s: %s", fam, read("flood.out"))
			}
		}
		sent := 0
		for _, line := range strings.Split(read("flood.out"), "\n") {
			if v, ok := strings.CutPrefix(line, "sent "); ok {
				sent, _ = strconv.Atoi(v)
			}
		}
		if sent < floodCount*99/100 {
			t.Fatalf("only %d of %d datagrams sent", sent, floodCount)
		}
		st := parseStats(t, read("stats.flood"))
		t.Logf("after %d datagrams: %v", sent, st)
		rx := st["RxDatagrams"]
		if rx < uint64(sent)*95/100 || rx > uint64(sent) {
			t.Errorf("RxDatagrams %d for %d sent", rx, sent)
		}
		var terminal uint64
		for _, k := range []string{"RxConsumed", "DropMalformed", "DropNoConn", "DropVersion",
			"DropBacklog", "DropClosed", "DropNoEngine", "DropAcceptOverflow", "DropChildFailed",
			"VersionNegotiation", "Retry", "StatelessReset", "DropRoute"} {
			terminal += st[k]
		}
		if terminal != rx {
			t.Errorf("datagrams accounted %d, received %d: every one must end in one counter", terminal, rx)
		}
		// Initials to the listener reach the engine (RxConsumed), which
		// cannot open them: garbage never creates a connection.
		// Full-sized ones of unknown versions get Version Negotiation,
		// short headers of unknown CIDs stateless resets (within a budget).
		for _, k := range []string{"DropMalformed", "DropNoConn", "DropVersion", "RxConsumed",
			"VersionNegotiation", "StatelessReset"} {
			if st[k] == 0 {
				t.Errorf("%s is 0: that kind of garbage was not seen", k)
			}
		}
		if c := st["ChildCreated"]; c != 0 {
			t.Errorf("ChildCreated %d: garbage Initials created connections", c)
		}
		after := parseStats(t, read("stats.after"))
		for _, k := range []string{"Sockets", "Tunnels", "Cids"} {
			if v, ok := after[k]; !ok || v != 0 {
				t.Errorf("%s = %d (present %v) after every socket closed, want 0", k, v, ok)
			}
		}
		if b, a := read("slab.before"), read("slab.after"); a != b {
			t.Errorf("TQUIC slab objects %s after close, %s before", a, b)
		}
		if rc := read("rmmod2.rc"); rc != "0" {
			t.Errorf("rmmod after the flood: exit %s (%s)", rc, read("rmmod2.err"))
		}
	})
}

func parseStats(t *testing.T, s string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		m[f[0]] = v
	}
	if len(m) == 0 {
		t.Fatalf("no counters in %q", s)
	}
	return m
}
