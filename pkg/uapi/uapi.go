// Package uapi mirrors the two UAPI headers of the TQUIC kernel module:
// kmod/include/uapi/linux/tquic.h (generic netlink family, protocol
// numbers) and kmod/include/uapi/linux/quic.h (the in-kernel QUIC socket
// API: socket options, control messages, notifications and their
// structures). zuapi_linux.go is generated from the headers with cgo
// -godefs; TestGeneratedIsCurrent fails when it is stale.
package uapi

//go:generate sh gen.sh zuapi_linux.go
