package bridge

import "testing"

// TestEngineSelftest runs the portable self-test (the same one the kernel
// module runs) over the OpenSSL platform.
func TestEngineSelftest(t *testing.T) {
	failures, checks, failed := Selftest()
	t.Logf("engine selftest: %d checks, %d failures", checks, failures)
	if checks < 40 {
		t.Errorf("only %d checks ran", checks)
	}
	if failures != 0 || len(failed) != 0 {
		t.Fatalf("%d failures: %q", failures, failed)
	}
}
