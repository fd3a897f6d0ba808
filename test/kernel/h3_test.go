package kernel

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tquic/tquic/test/vm"
)

// goBuild builds a command (go build) or a package's test binary (go test
// -c) into the share as name.
func (e *env) goBuild(name string, test bool, pkg string) {
	e.t.Helper()
	args := []string{"build", "-o", filepath.Join(e.share, name), pkg}
	if test {
		args = []string{"test", "-c", "-o", filepath.Join(e.share, name), pkg}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = e.root
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// interopScript runs the tests matching run of the test binary $S/BIN
// (built from the package in dir) inside the guest with our side over the
// kernel's QUIC sockets; the peers are the same quic-go-based
// implementations as on the host. It leaves the verbose output in
// $S/NAME.out, the exit status in $S/NAME.rc and the module's counters
// before and after in $S/NAME.before and $S/NAME.after.
func interopScript(name, bin, dir, run string, timeout time.Duration) string {
	return fmt.Sprintf(`
echo "== %[1]s: %[2]s -test.run '%[4]s' with TQUIC_INTEROP_TRANSPORT=kernel"
cat /proc/net/tquic_sock >$S/%[1]s.before
(cd %[3]s && TQUIC_INTEROP_TRANSPORT=kernel timeout %[5]d $S/%[2]s -test.run '%[4]s' -test.v -test.count=1 \
	-test.timeout %[6]ds 2>&1; echo $? >$S/%[1]s.rc) | tee $S/%[1]s.out | grep -E '^\s*--- |^(ok|FAIL|PASS)$|^panic|KNOWN KERNEL GAP'
cat /proc/net/tquic_sock >$S/%[1]s.after
echo "== %[1]s: exit $(cat $S/%[1]s.rc)"
`, name, bin, dir, run, int(timeout.Seconds())+30, int(timeout.Seconds()))
}

// stopFunc is the guest shell function stop PID NAME: SIGTERM, then, if
// the process is still there 10 s later, SIGQUIT (a Go program dumps its
// goroutines into its log) and SIGKILL, and NAME goes into $S/stuck.
const stopFunc = `
stop() {
	kill $1
	i=0; while kill -0 $1 2>/dev/null; do
		i=$((i+1))
		if [ $i -ge 100 ]; then
			echo "$2 ignored SIGTERM"; echo $2 >>$S/stuck
			kill -QUIT $1; sleep 2; kill -9 $1 2>/dev/null; break
		fi
		sleep 0.1
	done
	wait $1
}
`

var goTestResult = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)

// goTestResults reads the results of the verbose go test output NAME.out:
// test name to PASS, FAIL or SKIP, and the durations.
func (e *env) goTestResults(name string) (map[string]string, map[string]string) {
	status, took := map[string]string{}, map[string]string{}
	for _, line := range strings.Split(e.read(name+".out"), "\n") {
		if m := goTestResult.FindStringSubmatch(line); m != nil {
			status[m[2]], took[m[2]] = m[1], m[3]+"s"
		}
	}
	return status, took
}

// checkInterop fails t unless the test binary NAME exited 0 and every test
// in want passed (a skipped test fails: over the kernel nothing may be
// left out). It logs the tests' own log lines, which carry their figures.
func (e *env) checkInterop(t *testing.T, name string, want []string) {
	t.Helper()
	out := e.read(name + ".out")
	status, took := e.goTestResults(name)
	for _, w := range want {
		switch status[w] {
		case "PASS":
			t.Logf("%s: PASS (%s) over the kernel", w, took[w])
		case "":
			t.Errorf("%s: did not run", w)
		default:
			t.Errorf("%s: %s", w, status[w])
		}
	}
	for test, s := range status {
		if s != "PASS" && !slices.Contains(want, test) {
			t.Errorf("%s: %s", test, s)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "_test.go:") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if rc := e.read(name + ".rc"); rc != "0" || t.Failed() {
		t.Fatalf("%s.test exit %q; output:\n%s", name, rc, out)
	}
}

// counters parses /proc/net/tquic_sock as saved in the share.
func (e *env) counters(file string) map[string]int64 {
	c := map[string]int64{}
	for _, line := range strings.Split(e.read(file), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			c[f[0]] = v
		}
	}
	return c
}

// kernelDelta returns how much the module's counter key grew while the
// run NAME ran.
func (e *env) kernelDelta(t *testing.T, name, key string) int64 {
	t.Helper()
	before, after := e.counters(name+".before"), e.counters(name+".after")
	if _, ok := after[key]; !ok {
		t.Errorf("%s: no %s in /proc/net/tquic_sock:\n%s", name, key, e.read(name+".after"))
	}
	return after[key] - before[key]
}

// checkKernelUsed fails t unless the kernel module accepted at least
// minConns connections and received datagrams (when dgrams) during NAME.
func (e *env) checkKernelUsed(t *testing.T, name string, minConns int64, dgrams bool) {
	t.Helper()
	conns, dg := e.kernelDelta(t, name, "ChildCreated"), e.kernelDelta(t, name, "RxDatagrams")
	t.Logf("%s: kernel counters: %d server connections created, %d datagrams received", name, conns, dg)
	if conns < minConns {
		t.Errorf("%s: the kernel created %d server connections, want at least %d: is our side really on sockapi?", name, conns, minConns)
	}
	if dgrams && dg == 0 {
		t.Errorf("%s: the kernel received no QUIC datagrams", name)
	}
}

// h3Get is tquic-h3 get's JSON report.
type h3Get struct {
	URL       string  `json:"url"`
	Impl      string  `json:"impl"`
	Proto     string  `json:"proto"`
	Status    int     `json:"status"`
	Bytes     int64   `json:"bytes"`
	SHA256    string  `json:"sha256"`
	ElapsedS  float64 `json:"elapsed_s"`
	MBps      float64 `json:"mb_per_s"`
	LocalAddr string  `json:"local_addr"`
}

// TestKernelHTTP3 runs HTTP/3 and WebTransport over the kernel module in
// one guest:
//   - tquic-h3 (the make demo programs): a file server in namespace srv
//     over the kernel, fetched from namespace cli by the kernel client and,
//     for interop across the veth link, by pkg/h3 over quic-go; and the
//     kernel client against a quic-go server; sha256 checked each time;
//   - the host interop tests of pkg/h3 (GET/POST with bodies up to 8 MB,
//     100 concurrent requests, trailers, extended CONNECT with datagrams,
//     GOAWAY under load) with our client and server on sockapi against
//     quic-go's http3;
//   - the host interop tests of pkg/webtransport with our client and
//     server on sockapi against webtransport-go (sessions, streams both
//     ways, datagrams, resets and closes with application codes, 8
//     sessions on one connection), webtransport-go's client against our
//     server on kernel sockets too (it needs reset_stream_at); stream
//     reset codes above 2^32, as all WebTransport codes are, cross the
//     kernel whole (TQUIC's 62-bit stream error options).
func TestKernelHTTP3(t *testing.T) {
	e := newEnv(t)
	e.goBuild("tquic-h3", false, "./cmd/tquic-h3")
	e.goBuild("h3.test", true, "./pkg/h3")
	e.goBuild("webtransport.test", true, "./pkg/webtransport")
	topo := &vm.Topology{Hosts: []string{"cli", "srv"}, Links: []vm.Link{{A: "cli", B: "srv"}}}
	srv := topo.Addr4(0, "srv")
	const fileSize = 4 << 20
	e.run(topo, 15*time.Minute, fmt.Sprintf(`
H3=$S/tquic-h3
%[5]smkdir -p $S/www
head -c %[2]d /dev/urandom >$S/www/file.bin
sha256sum $S/www/file.bin | cut -d' ' -f1 >$S/file.sha256
# h3serve NAME ARGS...: a tquic-h3 server in srv, waiting until it listens.
h3serve() {
	name=$1; shift
	ip netns exec srv $H3 server --cert $CERT --key $KEY --dir $S/www "$@" >$S/$name.log 2>&1 &
	echo $! >$S/$name.pid
	i=0; until grep -q '^listening' $S/$name.log; do
		i=$((i+1)); [ $i -lt 200 ] || { echo "$name did not start"; cat $S/$name.log; return 1; }
		sleep 0.1
	done
}
# h3get NAME ARGS...: tquic-h3 get from cli; JSON in $S/NAME.json, rc in $S/NAME.rc.
h3get() {
	name=$1; shift
	ip netns exec cli $H3 get --ca $CA --server-name localhost --json "$@" >$S/$name.json 2>$S/$name.err
	echo $? >$S/$name.rc
	echo "== $name: exit $(cat $S/$name.rc) $(cat $S/$name.json) $(cat $S/$name.err)"
}
h3serve h3srv_kernel --listen %[1]s:4433
h3serve h3srv_quicgo --listen %[1]s:4443 --impl quic-go
h3get get_k2k https://%[1]s:4433/file.bin -o $S/got_k2k.bin --want-sha256 $(cat $S/file.sha256)
h3get get_q2k https://%[1]s:4433/file.bin --impl quic-go --want-sha256 $(cat $S/file.sha256)
h3get get_k2q https://%[1]s:4443/file.bin --want-sha256 $(cat $S/file.sha256)
h3get get_404 https://%[1]s:4433/missing.bin
cmp -s $S/www/file.bin $S/got_k2k.bin; echo $? >$S/cmp.rc
# Both servers must exit on SIGTERM.
stop $(cat $S/h3srv_kernel.pid) h3srv_kernel
stop $(cat $S/h3srv_quicgo.pid) h3srv_quicgo
%[3]s
%[4]s
exit 0
`, srv, fileSize,
		interopScript("h3", "h3.test", "pkg/h3", "Interop", 5*time.Minute),
		interopScript("wt_goserver", "webtransport.test", "pkg/webtransport", "TestInteropWebtransportGoServer", 2*time.Minute)+
			interopScript("wt_goclient", "webtransport.test", "pkg/webtransport", "TestInteropWebtransportGoClient", 2*time.Minute),
		stopFunc))

	wantSum := e.read("file.sha256")
	getReport := func(t *testing.T, name string) h3Get {
		t.Helper()
		var r h3Get
		if err := json.Unmarshal([]byte(e.read(name+".json")), &r); err != nil {
			t.Fatalf("%s: %v in %q (stderr %q)", name, err, e.read(name+".json"), e.read(name+".err"))
		}
		t.Logf("%s: %+v", name, r)
		return r
	}
	for _, c := range []struct{ name, impl, server string }{
		{"get_k2k", "kernel", "kernel"},
		{"get_q2k", "quic-go", "kernel"},
		{"get_k2q", "kernel", "quic-go"},
	} {
		t.Run("Demo_"+c.name, func(t *testing.T) {
			if rc := e.read(c.name + ".rc"); rc != "0" {
				t.Fatalf("tquic-h3 get (%s client, %s server): exit %q: %s", c.impl, c.server, rc, e.read(c.name+".err"))
			}
			r := getReport(t, c.name)
			if r.Status != 200 || r.Bytes != fileSize || r.SHA256 != wantSum || r.Proto != "HTTP/3.0" || r.Impl != c.impl {
				t.Fatalf("report %+v, want 200, %d bytes, sha256 %s over HTTP/3.0 with %s", r, fileSize, wantSum, c.impl)
			}
			// quic-go reports its wildcard socket address.
			if c.impl == "kernel" && !strings.HasPrefix(r.LocalAddr, topo.Addr4(0, "cli")+":") {
				t.Errorf("local address %s, want %s (namespace cli)", r.LocalAddr, topo.Addr4(0, "cli"))
			}
			if c.name == "get_k2k" && e.read("cmp.rc") != "0" {
				t.Errorf("the file written by -o differs from the served one")
			}
		})
	}
	t.Run("Demo_NotFound", func(t *testing.T) {
		if rc := e.read("get_404.rc"); rc == "0" {
			t.Fatalf("tquic-h3 get of a missing file succeeded")
		}
		if r := getReport(t, "get_404"); r.Status != 404 {
			t.Fatalf("status %d, want 404", r.Status)
		}
		if log := e.read("h3srv_kernel.log"); !strings.Contains(log, "GET /missing.bin") || !strings.Contains(log, ": 404,") {
			t.Errorf("server log does not show the 404:\n%s", log)
		}
	})
	t.Run("Demo_ServerStops", func(t *testing.T) {
		if stuck := e.read("stuck"); stuck != "" {
			t.Fatalf("servers still running 10 s after SIGTERM: %s\n%s", stuck, e.read(stuck+".log"))
		}
	})
	t.Run("H3Interop", func(t *testing.T) {
		pairs := []string{"tquicClient-quicgoServer", "quicgoClient-tquicServer"}
		var want []string
		for _, test := range []string{"TestInteropGetPost", "TestInteropConcurrentRequests", "TestInteropTrailers", "TestInteropExtendedConnectAndDatagrams"} {
			want = append(want, test)
			for _, p := range pairs {
				want = append(want, test+"/"+p)
			}
		}
		want = append(want, "TestInteropGoAwayQuicGoClient", "TestInteropGoAwayQuicGoServer")
		e.checkInterop(t, "h3", want)
		// GetPost, Concurrent, Trailers, ExtendedConnect: one connection
		// each to our server; GOAWAY after every 25 of 300 requests: 12 more.
		e.checkKernelUsed(t, "h3", 4+12, true)
	})
	wtWant := func(test string) []string {
		return []string{test, test + "/Session", test + "/ServerClose", test + "/ManySessions"}
	}
	t.Run("WebTransport_KernelClient_WebtransportGoServer", func(t *testing.T) {
		e.checkInterop(t, "wt_goserver", wtWant("TestInteropWebtransportGoServer"))
		// Our client dials: the kernel's counters show its datagrams.
		if dg := e.kernelDelta(t, "wt_goserver", "RxDatagrams"); dg == 0 {
			t.Errorf("the kernel received no QUIC datagrams")
		}
	})
	t.Run("WebTransport_WebtransportGoClient_KernelServer", func(t *testing.T) {
		// webtransport-go (v0.13) requires the server's reset_stream_at
		// transport parameter (draft-ietf-quic-reliable-stream-reset):
		// the kernel engine offers it and delivers RESET_STREAM_AT frames.
		e.checkInterop(t, "wt_goclient", wtWant("TestInteropWebtransportGoClient"))
		e.checkKernelUsed(t, "wt_goclient", 1, true)
	})
}
