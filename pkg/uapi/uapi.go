// Package uapi mirrors kmod/include/uapi/linux/tquic.h, the one contract
// between the TQUIC kernel module and user space. zuapi_linux.go is
// generated from the header with cgo -godefs; TestGeneratedIsCurrent fails
// when it is stale.
package uapi

//go:generate sh gen.sh zuapi_linux.go
