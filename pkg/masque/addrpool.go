package masque

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// ErrPoolExhausted reports an address pool with no free address.
var ErrPoolExhausted = errors.New("masque: address pool exhausted")

// AddrPool hands out single addresses (/32 or /128) from a prefix, one per
// client session, and takes them back when the session ends. The
// prefix's first address is kept for the proxy itself (its TUN address).
type AddrPool struct {
	prefix netip.Prefix
	mu     sync.Mutex
	used   map[netip.Addr]string // address -> owner
	next   netip.Addr
}

// NewAddrPool returns a pool over prefix.
func NewAddrPool(prefix netip.Prefix) (*AddrPool, error) {
	prefix = prefix.Masked()
	if !prefix.IsValid() || prefix.Bits() > prefix.Addr().BitLen()-2 {
		return nil, fmt.Errorf("masque: address pool %s is too small", prefix)
	}
	return &AddrPool{prefix: prefix, used: map[netip.Addr]string{}, next: prefix.Addr().Next().Next()}, nil
}

// Prefix returns the pool's prefix.
func (p *AddrPool) Prefix() netip.Prefix { return p.prefix }

// Gateway returns the address kept for the proxy.
func (p *AddrPool) Gateway() netip.Addr { return p.prefix.Addr().Next() }

// Allocate returns a free address for owner. When want is a valid address
// inside the pool and free, that address is returned.
func (p *AddrPool) Allocate(owner string, want netip.Addr) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if want.IsValid() && !want.IsUnspecified() && p.prefix.Contains(want) && want != p.Gateway() && want != p.prefix.Addr() {
		if _, taken := p.used[want]; !taken && !p.isBroadcast(want) {
			p.used[want] = owner
			return want, nil
		}
	}
	first := p.prefix.Addr().Next().Next()
	usable := func(a netip.Addr) bool { return p.prefix.Contains(a) && !p.isBroadcast(a) }
	start := p.next
	if !usable(start) {
		start = first
	}
	a := start
	for {
		if _, taken := p.used[a]; !taken {
			p.used[a] = owner
			p.next = a.Next()
			return a, nil
		}
		a = a.Next()
		if !usable(a) {
			a = first
		}
		if a == start {
			return netip.Addr{}, fmt.Errorf("%w: %s", ErrPoolExhausted, p.prefix)
		}
	}
}

// isBroadcast reports the IPv4 broadcast address of the prefix.
func (p *AddrPool) isBroadcast(a netip.Addr) bool {
	return a.Is4() && PrefixRange(p.prefix, 0).End == a
}

// Release returns an address to the pool.
func (p *AddrPool) Release(a netip.Addr) {
	p.mu.Lock()
	delete(p.used, a)
	p.mu.Unlock()
}

// InUse returns the number of allocated addresses.
func (p *AddrPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}
