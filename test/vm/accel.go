package vm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// kvmProbeTimeout bounds the probe boot: a working KVM guest finishes in a
// second or two; a nested hypervisor that cannot run the kernel hangs.
const kvmProbeTimeout = 15 * time.Second

var accelOnce struct {
	sync.Mutex
	byKernel map[string]string
}

// pickAccel returns "kvm" only where a short probe boot proved that KVM runs
// this kernel, "tcg" otherwise. $TQUIC_VM_ACCEL forces a choice. The probe's
// answer is cached per kernel on disk, so a machine pays for it once.
func pickAccel(ctx context.Context, kver string) (string, error) {
	switch a := os.Getenv("TQUIC_VM_ACCEL"); a {
	case "":
	case "tcg", "kvm":
		return a, nil
	default:
		return "", fmt.Errorf("vm: TQUIC_VM_ACCEL=%q: want tcg or kvm", a)
	}
	accelOnce.Lock()
	defer accelOnce.Unlock()
	if a, ok := accelOnce.byKernel[kver]; ok {
		return a, nil
	}
	if accelOnce.byKernel == nil {
		accelOnce.byKernel = map[string]string{}
	}
	cache := filepath.Join(os.TempDir(), "tquic-kvm-probe-"+kver)
	if b, err := os.ReadFile(cache); err == nil {
		a := strings.TrimSpace(string(b))
		if a == "kvm" || a == "tcg" {
			accelOnce.byKernel[kver] = a
			return a, nil
		}
	}
	accel := "tcg"
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		cfg := Config{Kernel: kver, Timeout: kvmProbeTimeout, Dir: "/"}
		if res, err := boot(ctx, cfg, "kvm", "true"); err == nil && res.ExitStatus == 0 {
			accel = "kvm"
		}
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("vm: kvm probe: %w", ctx.Err())
	}
	os.WriteFile(cache, []byte(accel+"\n"), 0o644)
	accelOnce.byKernel[kver] = accel
	return accel, nil
}
