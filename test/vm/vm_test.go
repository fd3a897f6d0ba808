package vm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testWriter streams the guest console into the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func run(t *testing.T, cfg Config, script string) (*Result, error) {
	t.Helper()
	cfg.Console = testWriter{t}
	res, err := Run(context.Background(), cfg, script)
	if res != nil {
		t.Logf("guest ran under %s for %v", res.Accel, res.Elapsed.Round(time.Millisecond))
	}
	return res, err
}

func TestGuestRunsHostKernelAndRoot(t *testing.T) {
	kver, err := KernelVersion()
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t, Config{}, `uname -r; test -f go.mod && echo repo-visible`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Console, kver) || !strings.Contains(res.Console, "repo-visible") {
		t.Fatalf("guest did not run kernel %s in the repository root", kver)
	}
}

func TestGuestExitStatusIsReported(t *testing.T) {
	res, err := run(t, Config{}, "echo failing on purpose; exit 3")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Status != 3 || res.ExitStatus != 3 {
		t.Fatalf("err = %v, want ExitError with status 3", err)
	}
}

func TestKernelWarnFailsRun(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"Kbuild", "tquic_warn_test.c"} {
		if err := copyFile(filepath.Join("testdata", "warnmod", f), filepath.Join(dir, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command(filepath.Join(root, "ci", "kbuild.sh"), dir)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build warn module: %v\n%s", err, out)
	}
	_, err = run(t, Config{Shares: []string{dir}}, "insmod "+filepath.Join(dir, "tquic_warn_test.ko")+" && echo loaded")
	var kp *KernelProblemError
	if !errors.As(err, &kp) {
		t.Fatalf("err = %v, want KernelProblemError", err)
	}
	if !strings.Contains(strings.Join(kp.Lines, "\n"), "deliberate warning") &&
		!strings.Contains(strings.Join(kp.Lines, "\n"), "WARNING:") {
		t.Fatalf("problem lines do not show the WARN: %q", kp.Lines)
	}
}

func TestHungGuestIsKilled(t *testing.T) {
	const timeout = 25 * time.Second
	start := time.Now()
	_, err := run(t, Config{Timeout: timeout}, "echo hanging; sleep 3600")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > timeout+15*time.Second {
		t.Fatalf("hung guest took %v to be killed, timeout %v", d, timeout)
	}
}

var pingRTT = regexp.MustCompile(`round-trip min/avg/max = ([0-9.]+)/`)

func TestTopologyWithNetem(t *testing.T) {
	topo := &Topology{
		Hosts: []string{"client", "server"},
		Links: []Link{{A: "client", B: "server", Netem: &Netem{Delay: 40 * time.Millisecond}}},
	}
	script := "ip netns exec client busybox ping -c 3 -W 5 " + topo.Addr4(0, "server") +
		" && ip netns exec server busybox ping -c 1 -W 5 " + topo.Addr6(0, "client")
	res, err := run(t, Config{Topology: topo}, script)
	if err != nil {
		t.Fatal(err)
	}
	m := pingRTT.FindStringSubmatch(res.Console)
	if m == nil {
		t.Fatal("no ping summary in the console")
	}
	rtt, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	// netem delays each direction by 40 ms.
	if rtt < 80 {
		t.Fatalf("min RTT %.1f ms over a link with 2x40 ms netem delay", rtt)
	}
}

func TestKernelProblemsMatchesKernelWording(t *testing.T) {
	log := "ok line\n[   1.0] WARNING: CPU: 0 PID: 1 at foo.c:1 bar+0x1\n[ 2.0] refcount_t: underflow; use-after-free.\nfine"
	if got := KernelProblems(log); len(got) != 2 {
		t.Fatalf("KernelProblems found %q", got)
	}
}

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		// A missing tool fails the package: 'make test' installs it first.
		os.Stderr.WriteString("qemu-system-x86_64 not found: run 'make deps'\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}
