package masque

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule allows targets: addresses in Prefix, UDP ports PortMin..PortMax
// (both 0: any port; CONNECT-UDP only) and IP protocol Protocol (0: any;
// CONNECT-IP only).
type Rule struct {
	Prefix           netip.Prefix
	PortMin, PortMax uint16
	Protocol         uint8
}

// ACL is a proxy's access control: which targets clients may reach.
// Anything no rule allows is refused.
type ACL struct {
	Rules []Rule
}

// ParseRule parses "prefix[:port[-port]]", e.g. "10.0.0.0/8",
// "127.0.0.1/32:53", "::1/128:1000-2000". A bare address is a /32 or /128.
func ParseRule(s string) (Rule, error) {
	addr, ports := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i:], "/") && strings.Contains(s[:i], "/") {
		addr, ports = s[:i], s[i+1:]
	}
	var r Rule
	if strings.Contains(addr, "/") {
		p, err := netip.ParsePrefix(addr)
		if err != nil {
			return Rule{}, fmt.Errorf("masque: rule %q: %w", s, err)
		}
		r.Prefix = p.Masked()
	} else {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return Rule{}, fmt.Errorf("masque: rule %q: %w", s, err)
		}
		r.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	if ports != "" {
		lo, hi, found := strings.Cut(ports, "-")
		if !found {
			hi = lo
		}
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil || a == 0 || a > b {
			return Rule{}, fmt.Errorf("masque: rule %q: bad port range %q", s, ports)
		}
		r.PortMin, r.PortMax = uint16(a), uint16(b)
	}
	return r, nil
}

// ParseACL parses rules (see ParseRule).
func ParseACL(rules ...string) (*ACL, error) {
	a := &ACL{}
	for _, s := range rules {
		r, err := ParseRule(s)
		if err != nil {
			return nil, err
		}
		a.Rules = append(a.Rules, r)
	}
	return a, nil
}

// AllowUDP reports whether a UDP target may be reached.
func (a *ACL) AllowUDP(t netip.AddrPort) bool {
	if a == nil {
		return false
	}
	addr := t.Addr().Unmap()
	for _, r := range a.Rules {
		if r.Prefix.Contains(addr) && (r.PortMin == 0 || r.PortMin <= t.Port() && t.Port() <= r.PortMax) {
			return true
		}
	}
	return false
}

// AllowIP reports whether an IP packet to dst with protocol proto may be
// forwarded.
func (a *ACL) AllowIP(dst netip.Addr, proto uint8) bool {
	if a == nil {
		return false
	}
	dst = dst.Unmap()
	for _, r := range a.Rules {
		if r.Prefix.Contains(dst) && (r.Protocol == 0 || r.Protocol == proto) {
			return true
		}
	}
	return false
}

// Ranges returns the ACL's rules as route advertisement ranges, limited
// to scope (the request's target, invalid for any) and protocol (0 for
// any), in RFC 9484's order.
func (a *ACL) Ranges(scope netip.Prefix, proto uint8) []IPRange {
	var out []IPRange
	if a == nil {
		return nil
	}
	for _, r := range a.Rules {
		p := r.Prefix
		if scope.IsValid() {
			if !p.Overlaps(scope) {
				continue
			}
			if scope.Bits() > p.Bits() {
				p = scope
			}
		}
		rp := r.Protocol
		if proto != 0 {
			if rp != 0 && rp != proto {
				continue
			}
			rp = proto
		}
		out = append(out, PrefixRange(p, rp))
	}
	return SortRanges(out)
}

// SortRanges orders ranges as ROUTE_ADVERTISEMENT requires (IPv4 first,
// then by protocol and start) and merges overlapping ones of the same
// family and protocol.
func SortRanges(rs []IPRange) []IPRange {
	less := func(x, y IPRange) int {
		xv, xp := rangeKey(x)
		yv, yp := rangeKey(y)
		if xv != yv {
			return xv - yv
		}
		if xp != yp {
			return int(xp) - int(yp)
		}
		return x.Start.Compare(y.Start)
	}
	sorted := append([]IPRange(nil), rs...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && less(sorted[j-1], sorted[j]) > 0; j-- {
			sorted[j-1], sorted[j] = sorted[j], sorted[j-1]
		}
	}
	var out []IPRange
	for _, r := range sorted {
		if n := len(out); n > 0 {
			last := &out[n-1]
			lv, lp := rangeKey(*last)
			rv, rp := rangeKey(r)
			if lv == rv && lp == rp && last.End.Compare(r.Start) >= 0 {
				if r.End.Compare(last.End) > 0 {
					last.End = r.End
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}
