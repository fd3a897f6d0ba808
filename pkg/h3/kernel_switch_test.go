package h3_test

import "github.com/tquic/tquic/internal/interop"

func init() {
	if interop.Kernel {
		// Emulated AES in the VM moves about 15 MB/s: the largest body
		// shrinks from 100 MB to 8 MB.
		for i, n := range bodySizes {
			bodySizes[i] = min(n, 8<<20)
		}
	}
}
