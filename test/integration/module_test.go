package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tquic/tquic/pkg/tquicnl"
	"github.com/tquic/tquic/test/vm"
)

type consoleLog struct{ t *testing.T }

func (w consoleLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// env is what a module test needs on the host: the repository, the built
// module, and a shared directory holding freshly built tools.
type env struct {
	root, module, share, tquicctl, tquicd string
}

func setup(t *testing.T) env {
	t.Helper()
	root, err := vm.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	e := env{root: root, module: filepath.Join(root, "kmod", "tquic.ko"), share: t.TempDir()}
	if _, err := os.Stat(e.module); err != nil {
		t.Fatalf("%v: build the module first ('make build')", err)
	}
	e.tquicctl, e.tquicd = filepath.Join(e.share, "tquicctl"), filepath.Join(e.share, "tquicd")
	build := exec.Command("go", "build", "-o", e.share+"/", "./cmd/tquicctl", "./cmd/tquicd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tquicctl and tquicd: %v\n%s", err, out)
	}
	return e
}

func (e env) run(t *testing.T, script string) *vm.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := vm.Run(ctx, vm.Config{Shares: []string{e.share}, Console: consoleLog{t}}, script)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e env) readInfo(t *testing.T, name string) tquicnl.Info {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.share, name))
	if err != nil {
		t.Fatal(err)
	}
	var info tquicnl.Info
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("tquicctl show -j printed %q: %v", b, err)
	}
	return info
}

func TestModuleLoadShowUnload(t *testing.T) {
	e := setup(t)
	script := `set -e
# Before the module is loaded, tquicctl must say so and exit 3. The family
# alias would auto-load an installed (DKMS) module: turn auto-loading off.
modprobe_path=$(cat /proc/sys/kernel/modprobe)
echo /bin/false >/proc/sys/kernel/modprobe
set +e
` + e.tquicctl + ` show 2>` + e.share + `/unloaded.err
rc=$?
set -e
echo "$modprobe_path" >/proc/sys/kernel/modprobe
[ "$rc" = 3 ] || { echo "tquicctl without module exited $rc, want 3"; exit 1; }
test/vm/load-tquic.sh ` + e.module + `
` + e.tquicctl + ` show
` + e.tquicctl + ` show -j >` + e.share + `/info.json
# The engine's RFC vectors through the kernel crypto API (also run at load).
` + e.tquicctl + ` selftest -j >` + e.share + `/selftest.json
dmesg | grep -q 'tquic: selftest: [0-9]* checks passed'
rmmod tquic
if lsmod | grep -q '^tquic '; then echo "tquic still loaded"; exit 1; fi
# Reload once more: init and exit must both be repeatable.
test/vm/load-tquic.sh ` + e.module + `
rmmod tquic
`
	e.run(t, script)

	unloaded, err := os.ReadFile(filepath.Join(e.share, "unloaded.err"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unloaded), "module not loaded") {
		t.Fatalf("tquicctl without the module said %q", unloaded)
	}
	info := e.readInfo(t, "info.json")
	version, err := os.ReadFile(filepath.Join(e.root, "kmod", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != strings.TrimSpace(string(version)) {
		t.Fatalf("module version %q, kmod/VERSION %q", info.Version, version)
	}
	if len(info.BuildID) != 16 {
		t.Fatalf("build id %q", info.BuildID)
	}
	drivers := map[string]string{}
	for _, d := range info.Crypto {
		drivers[d.Algorithm] = d.Driver
	}
	// -cpu max exposes AES-NI, so the kernel must pick the AES-NI GCM driver.
	if d := drivers["gcm(aes)"]; !strings.Contains(d, "aesni") {
		t.Fatalf("gcm(aes) driver %q, want the AES-NI one", d)
	}
	for _, alg := range []string{"rfc7539(chacha20,poly1305)", "ecb(aes)", "chacha20", "hmac(sha256)", "hmac(sha384)"} {
		if d := drivers[alg]; d == "" || d == "unavailable" {
			t.Fatalf("%s driver %q", alg, d)
		}
	}

	b, err := os.ReadFile(filepath.Join(e.share, "selftest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st tquicnl.SelftestResult
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("selftest -j printed %q: %v", b, err)
	}
	if st.Failed != 0 || st.Passed < 40 {
		t.Fatalf("kernel selftest: %d passed, %d failed", st.Passed, st.Failed)
	}
	t.Logf("kernel selftest: %d vector checks passed on kernel crypto", st.Passed)
}

// TestDKMSModuleLoads loads the module that 'make dkms' built and installed
// for the guest kernel, through modprobe, as a user's host would.
func TestDKMSModuleLoads(t *testing.T) {
	e := setup(t)
	kver, err := vm.KernelVersion()
	if err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join("/lib/modules", kver, "updates", "dkms", "tquic.ko")
	if _, err := os.Stat(installed); err != nil {
		t.Fatalf("%v: run 'make dkms' first", err)
	}
	script := `set -e
# The generic netlink family alias loads the module on first use.
` + e.tquicctl + ` show
lsmod | grep -q '^tquic '
modprobe tquic
modinfo -F filename tquic >` + e.share + `/filename
` + e.tquicctl + ` show -j >` + e.share + `/info.json
modprobe -r tquic
`
	e.run(t, script)
	filename, err := os.ReadFile(filepath.Join(e.share, "filename"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(filename)) != installed {
		t.Fatalf("modprobe found %q, want the DKMS module %s", filename, installed)
	}
	if info := e.readInfo(t, "info.json"); info.Version == "" {
		t.Fatal("DKMS module reported no version")
	}
}
