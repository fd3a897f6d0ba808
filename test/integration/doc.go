// Package integration holds the tests that load the TQUIC module into a real
// kernel in a QEMU guest (see test/vm) and drive it from user space.
package integration
