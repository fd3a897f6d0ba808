package vm

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// bootModules are what the initramfs loads to mount the host's root over
// virtio-9p; their dependencies come from modules.dep.
var bootModules = []string{"virtio_pci", "9pnet_virtio", "9p"}

const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "tquic-vm init: $*"; echo o >/proc/sysrq-trigger; while :; do :; done; }
for m in $(cat /modules.order); do
	insmod "/modules/$m" || fail "insmod $m"
done
work=$(sed -n 's/.*tquic_vm_work=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose root /newroot || fail "mount root"
mount -t tmpfs tmpfs /newroot/tmp || fail "mount /tmp"
mount -t tmpfs tmpfs /newroot/run || fail "mount /run"
mkdir -p "/newroot$work" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work "/newroot$work" || fail "mount work"
for d in proc sys dev; do mount -o move "/$d" "/newroot/$d" || fail "move /$d"; done
exec switch_root /newroot /bin/sh "$work/guest.sh"
`

var initramfsCache struct {
	sync.Mutex
	paths map[string]string
}

// initramfs builds (once per process and kernel) a busybox initramfs that
// mounts the host's root and switches into it.
func initramfs(kver string) (string, error) {
	initramfsCache.Lock()
	defer initramfsCache.Unlock()
	if p, ok := initramfsCache.paths[kver]; ok {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("vm: busybox not found (install busybox-static: 'make deps'): %w", err)
	}
	modDir := filepath.Join("/lib/modules", kver)
	order, err := moduleLoadOrder(modDir, bootModules)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "tquic-initramfs-")
	if err != nil {
		return "", fmt.Errorf("vm: initramfs dir: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"bin", "modules"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", fmt.Errorf("vm: initramfs: %w", err)
		}
	}
	if err := copyFile(busybox, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		return "", err
	}
	var names []string
	for _, m := range order {
		name := filepath.Base(m)
		if err := copyFile(filepath.Join(modDir, m), filepath.Join(dir, "modules", name), 0o644); err != nil {
			return "", err
		}
		names = append(names, name)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.order"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("vm: initramfs: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "init"), []byte(initScript), 0o755); err != nil {
		return "", fmt.Errorf("vm: initramfs: %w", err)
	}
	out, err := os.CreateTemp("", "tquic-initramfs-*.cpio")
	if err != nil {
		return "", fmt.Errorf("vm: initramfs: %w", err)
	}
	defer out.Close()
	cmd := exec.Command("sh", "-c", "find . | cpio --quiet -o -H newc")
	cmd.Dir = dir
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("vm: cpio (install cpio: 'make deps'): %v: %s", err, stderr.String())
	}
	if initramfsCache.paths == nil {
		initramfsCache.paths = map[string]string{}
	}
	initramfsCache.paths[kver] = out.Name()
	return out.Name(), nil
}

// moduleLoadOrder resolves mods and their dependencies from modules.dep into
// an insmod order (dependencies first), as paths relative to modDir.
func moduleLoadOrder(modDir string, mods []string) ([]string, error) {
	f, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("vm: modules of the guest kernel: %w (run 'make deps')", err)
	}
	defer f.Close()
	deps := map[string][]string{}
	byName := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		path, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[path] = strings.Fields(rest)
		name := strings.TrimSuffix(filepath.Base(path), ".ko")
		byName[strings.ReplaceAll(name, "-", "_")] = path
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("vm: read modules.dep: %w", err)
	}
	var order []string
	seen := map[string]bool{}
	// modules.dep lists every transitive dependency of a module, so loading
	// them before the module itself, deepest first, is an iterative walk.
	for _, m := range mods {
		path, ok := byName[strings.ReplaceAll(m, "-", "_")]
		if !ok {
			return nil, fmt.Errorf("vm: module %s not in %s/modules.dep", m, modDir)
		}
		list := append([]string{}, deps[path]...)
		for i := len(list) - 1; i >= 0; i-- {
			if !seen[list[i]] {
				seen[list[i]] = true
				order = append(order, list[i])
			}
		}
		if !seen[path] {
			seen[path] = true
			order = append(order, path)
		}
	}
	return order, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("vm: %w", err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return fmt.Errorf("vm: %w", err)
	}
	return nil
}
