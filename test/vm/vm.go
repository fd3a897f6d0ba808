// Package vm boots the distribution's own kernel in QEMU and runs a shell
// script inside it, with the host's root file system exported read-only
// over 9p. Tests use it to load the TQUIC module into a real kernel: it
// returns the guest script's exit status, streams the console, enforces a
// timeout and fails a run whose kernel log shows a WARN, BUG, Oops, panic,
// refcount or list corruption. Hosts for network tests are network
// namespaces inside the guest joined by veth pairs with optional netem.
package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds a run when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// Config describes one guest run.
type Config struct {
	// Kernel is the kernel version to boot (as in /boot/vmlinuz-<Kernel>);
	// empty means KernelVersion().
	Kernel string
	// MemoryMiB and CPUs size the guest; zero means 1024 MiB and 2 CPUs.
	MemoryMiB int
	CPUs      int
	// Timeout kills the guest when it is still running; zero means DefaultTimeout.
	Timeout time.Duration
	// Dir is the guest script's working directory; empty means the repository root.
	Dir string
	// Shares are host directories the guest mounts writable at the same
	// paths (the rest of the host's root is read-only and /tmp is a fresh
	// tmpfs in the guest).
	Shares []string
	// Topology, when set, is created before the script runs.
	Topology *Topology
	// Console receives the guest console as it arrives; may be nil.
	Console io.Writer
	// Interactive connects the guest console to this process's stdin and
	// stdout instead of capturing it (make vm-shell).
	Interactive bool
}

// Result is what a finished guest run left behind.
type Result struct {
	// ExitStatus is the guest script's exit status.
	ExitStatus int
	// Console is everything the guest wrote to its serial console.
	Console string
	// KernelLog is the guest's dmesg after the script finished.
	KernelLog string
	// Accel is the QEMU accelerator that ran the guest ("tcg" or "kvm").
	Accel string
	// Elapsed is the wall time from QEMU start to exit.
	Elapsed time.Duration
}

// ExitError reports a guest script that exited with a non-zero status.
type ExitError struct{ Status int }

func (e *ExitError) Error() string {
	return fmt.Sprintf("vm: guest command exited with status %d", e.Status)
}

// KernelProblemError reports kernel log lines showing a WARN, BUG, Oops,
// panic or corruption.
type KernelProblemError struct{ Lines []string }

func (e *KernelProblemError) Error() string {
	return "vm: kernel reported problems:\n\t" + strings.Join(e.Lines, "\n\t")
}

// ErrTimeout reports a guest that was still running at its timeout and was killed.
var ErrTimeout = errors.New("vm: guest timed out and was killed")

// kernelProblemMarkers are the kernel's own words for things that must fail a test.
var kernelProblemMarkers = []string{
	"WARNING:", "------------[ cut here ]", "BUG:", "kernel BUG", "Oops", "Kernel panic",
	"refcount_t:", "list_add corruption", "list_del corruption", "general protection fault",
	"UBSAN:", "KASAN:", "stack-protector", "hung_task", "soft lockup", "rcu_sched detected stalls",
}

// KernelProblems returns the lines of log that show a kernel problem.
func KernelProblems(log string) []string {
	var found []string
	for _, line := range strings.Split(log, "\n") {
		for _, m := range kernelProblemMarkers {
			if strings.Contains(line, m) {
				found = append(found, strings.TrimSpace(line))
				break
			}
		}
	}
	return found
}

// RepoRoot finds the repository root by walking up from the working
// directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("vm: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("vm: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// KernelVersion is the kernel the module is built against and the VM boots:
// $KVER when set, else what ci/kver.sh picks.
func KernelVersion() (string, error) {
	if v := os.Getenv("KVER"); v != "" {
		return v, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(filepath.Join(root, "ci", "kver.sh")).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("vm: ci/kver.sh: %s", bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("vm: ci/kver.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Run boots a guest, runs script in it with /bin/sh and returns the result.
// The error is an *ExitError for a non-zero status, a *KernelProblemError
// when the kernel log shows a problem, ErrTimeout when the guest hung, or
// another error when the guest could not be started or did not report.
func Run(ctx context.Context, cfg Config, script string) (*Result, error) {
	if cfg.Kernel == "" {
		k, err := KernelVersion()
		if err != nil {
			return nil, err
		}
		cfg.Kernel = k
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 1024
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 2
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		cfg.Dir = root
	}
	// The guest mounts fresh tmpfs on /tmp and /run: a working directory
	// there (a clone in /tmp, say) has to be shared explicitly.
	for _, hidden := range []string{"/tmp", "/run"} {
		if cfg.Dir == hidden || strings.HasPrefix(cfg.Dir, hidden+"/") {
			cfg.Shares = append([]string{cfg.Dir}, cfg.Shares...)
			break
		}
	}
	accel, err := pickAccel(ctx, cfg.Kernel)
	if err != nil {
		return nil, err
	}
	return boot(ctx, cfg, accel, script)
}

func boot(ctx context.Context, cfg Config, accel, script string) (*Result, error) {
	kernel := "/boot/vmlinuz-" + cfg.Kernel
	if _, err := os.Stat(kernel); err != nil {
		return nil, fmt.Errorf("vm: kernel image: %w (run 'make deps')", err)
	}
	initrd, err := initramfs(cfg.Kernel)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "tquic-vm-")
	if err != nil {
		return nil, fmt.Errorf("vm: work directory: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.WriteFile(filepath.Join(work, "guest.sh"), []byte(guestScript(cfg, work)), 0o755); err != nil {
		return nil, fmt.Errorf("vm: write guest script: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, "user.sh"), []byte(script), 0o755); err != nil {
		return nil, fmt.Errorf("vm: write user script: %w", err)
	}

	args := []string{
		"-nodefaults", "-display", "none", "-no-reboot",
		"-m", strconv.Itoa(cfg.MemoryMiB), "-smp", strconv.Itoa(cfg.CPUs),
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 loglevel=5 panic=-1 rdinit=/init tquic_vm_work=" + work,
		"-virtfs", "local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap",
		"-virtfs", "local,path=" + work + ",mount_tag=work,security_model=none,multidevs=remap",
		"-serial", "stdio",
	}
	for i, dir := range cfg.Shares {
		if strings.ContainsAny(dir, ", ") || !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("vm: share %q: need an absolute path without commas or spaces", dir)
		}
		args = append(args, "-virtfs", fmt.Sprintf("local,path=%s,mount_tag=share%d,security_model=none,multidevs=remap", dir, i))
	}
	if accel == "kvm" {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg", "-cpu", "max")
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "qemu-system-x86_64", args...)
	cmd.WaitDelay = 5 * time.Second
	var console bytes.Buffer
	var consoleMu sync.Mutex
	var copyDone chan struct{}
	if cfg.Interactive {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	} else {
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("vm: console pipe: %w", err)
		}
		cmd.Stderr = cmd.Stdout
		copyDone = make(chan struct{})
		go func() {
			defer close(copyDone)
			sc := bufio.NewScanner(pipe)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := strings.TrimRight(sc.Text(), "\r") + "\n"
				consoleMu.Lock()
				console.WriteString(line)
				consoleMu.Unlock()
				if cfg.Console != nil {
					io.WriteString(cfg.Console, line)
				}
			}
			io.Copy(io.Discard, pipe)
		}()
	}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("vm: start qemu: %w (run 'make deps')", err)
	}
	if copyDone != nil {
		<-copyDone
	}
	waitErr := cmd.Wait()
	res := &Result{Accel: accel, Elapsed: time.Since(start)}
	consoleMu.Lock()
	res.Console = console.String()
	consoleMu.Unlock()
	if dmesg, err := os.ReadFile(filepath.Join(work, "dmesg")); err == nil {
		res.KernelLog = string(dmesg)
	}

	if problems := KernelProblems(res.Console + "\n" + res.KernelLog); len(problems) > 0 {
		return res, &KernelProblemError{Lines: dedupe(problems)}
	}
	if runCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		return res, fmt.Errorf("%w (after %v)", ErrTimeout, cfg.Timeout)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("vm: %w", ctx.Err())
	}
	rc, err := os.ReadFile(filepath.Join(work, "rc"))
	if err != nil {
		return res, fmt.Errorf("vm: guest did not report an exit status (qemu: %v)", waitErr)
	}
	res.ExitStatus, err = strconv.Atoi(strings.TrimSpace(string(rc)))
	if err != nil {
		return res, fmt.Errorf("vm: bad exit status %q from guest", rc)
	}
	if res.ExitStatus != 0 {
		return res, &ExitError{Status: res.ExitStatus}
	}
	return res, nil
}

func dedupe(lines []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// guestScript is what PID 1 runs after switch_root into the host's root.
func guestScript(cfg Config, work string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin
export HOME=/tmp TMPDIR=/tmp TERM=${TERM:-vt100}
mkdir -p /dev/pts /dev/shm /run/netns
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
hostname tquic-vm
ip link set lo up
guest_status() {
	dmesg >%[1]s/dmesg 2>&1
	echo "$1" >%[1]s/rc
	sync
	echo o >/proc/sysrq-trigger
	while :; do :; done
}
`, work)
	for i, dir := range cfg.Shares {
		fmt.Fprintf(&b, "mkdir -p %[2]q 2>/dev/null; mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 share%[1]d %[2]q || guest_status 125\n", i, dir)
	}
	fmt.Fprintf(&b, "cd %q || guest_status 125\n", cfg.Dir)
	if cfg.Topology != nil {
		fmt.Fprintf(&b, "(\nset -e\n%s) || { echo 'vm: topology setup failed'; guest_status 124; }\n", cfg.Topology.script())
	}
	if cfg.Interactive {
		fmt.Fprintf(&b, ". %s/user.sh\n", work)
		b.WriteString("echo 'tquic-vm: interactive shell; exit to power off'\n")
		b.WriteString("setsid -c /bin/bash -i </dev/ttyS0 >/dev/ttyS0 2>&1\n")
		b.WriteString("guest_status $?\n")
		return b.String()
	}
	fmt.Fprintf(&b, "/bin/sh %s/user.sh </dev/null\nguest_status $?\n", work)
	return b.String()
}
